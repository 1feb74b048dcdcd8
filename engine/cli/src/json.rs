//! The documents `--json` prints: one per command, on stdout, each opening
//! with the same [`FORMAT_VERSION`] and the command's name. The shapes are
//! documented in docs/json-output.md; a CI job reads them, so a field is
//! never renamed or removed under the same version (adding one is fine).
//!
//! Only data the human output already shows goes in: sensitive values are
//! redacted by the engine before they reach this module, and nothing here
//! reads a secret.

use serde::Serialize;

/// The version of every document's shape. Bumped only when a field changes
/// meaning or goes away; new fields do not bump it.
pub const FORMAT_VERSION: &str = "1";

/// `{"format_version": "1", "command": "...", ...body}`.
#[derive(Serialize)]
struct Document<'a, T> {
    format_version: &'static str,
    command: &'a str,
    #[serde(flatten)]
    body: T,
}

/// Prints `body` as the one document of `command` (`"apply"`, `"state list"`).
pub fn print(command: &str, body: impl Serialize) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut text = serde_json::to_vec_pretty(&Document { format_version: FORMAT_VERSION, command, body })?;
    text.push(b'\n');
    // Written, not `println!`ed: a reader that closed the pipe early is an
    // error to report, not a panic.
    let mut out = std::io::stdout().lock();
    out.write_all(&text)?;
    out.flush()?;
    Ok(())
}

/// A plugin, by name and (when known) the exact version that ran.
#[derive(Debug, Clone, Serialize)]
pub struct PluginId {
    pub name: String,
    pub version: Option<String>,
}

/// A problem that is not one component's outcome, or a component's failure
/// with the plugin it ran.
#[derive(Debug, Serialize)]
pub struct Error {
    pub component: Option<String>,
    pub plugin: Option<String>,
    pub message: String,
}

impl Error {
    /// An error of the whole run (a lock held, a saved plan out of date).
    pub fn run(error: &anyhow::Error) -> Self {
        Self { component: None, plugin: None, message: format!("{error:#}") }
    }
}

/// What happened to one component in an apply or a destroy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied for the first time (nothing recorded before).
    Created,
    /// Recorded before, and changed.
    Updated,
    /// Removed: destroyed, or gone from the tree.
    Deleted,
    /// Nothing to change (it may have been recorded again).
    Unchanged,
    Failed,
    /// Not run: a dependency failed, or nothing was applied at all.
    Skipped,
}

/// The object and effect counts of one component's change.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Changes {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub effects: usize,
}

/// One component of an apply or destroy.
#[derive(Debug, Serialize)]
pub struct ComponentResult {
    pub component: String,
    pub plugin: Option<PluginId>,
    pub outcome: Outcome,
    /// What was changed; `None` when nothing ran (failed, skipped).
    pub changes: Option<Changes>,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// The plugin's warnings (of `validate` and of its plan).
    pub warnings: Vec<capstan_plan::InputProblem>,
}

/// How many components ended each way.
#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// The whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every component ended well and something was changed or recorded.
    Complete,
    /// Nothing needed doing.
    NoChanges,
    /// A component failed or was skipped, or the run stopped with an error.
    Failed,
}

/// The document of `apply --json` and `destroy --json`. It is filled in as
/// the run goes, so that a run that stops half-way still reports what it did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub components: Vec<ComponentResult>,
    pub errors: Vec<Error>,
    /// Set when the run had nothing to do.
    pub nothing_to_do: bool,
    /// The revisions an apply recorded: `{ "environment", "number" }`.
    pub revisions: Vec<RevisionId>,
}

/// A revision an apply recorded.
#[derive(Debug, Serialize)]
pub struct RevisionId {
    pub environment: String,
    pub number: u64,
}

impl RunReport {
    /// Adds a component's result; a failure also goes to `errors`, naming
    /// the component and its plugin.
    pub fn push(&mut self, result: ComponentResult) {
        if result.outcome == Outcome::Failed {
            self.errors.push(Error {
                component: Some(result.component.clone()),
                plugin: result.plugin.as_ref().map(|p| p.name.clone()),
                message: result.error.clone().unwrap_or_default(),
            });
        }
        self.components.push(result);
    }

    /// Prints the document, `error` (what ended the run, if anything) among
    /// its errors.
    pub fn print(mut self, command: &str, error: Option<&anyhow::Error>) -> anyhow::Result<()> {
        self.errors.extend(error.map(Error::run));
        let mut counts = Counts::default();
        for c in &self.components {
            *match c.outcome {
                Outcome::Created => &mut counts.created,
                Outcome::Updated => &mut counts.updated,
                Outcome::Deleted => &mut counts.deleted,
                Outcome::Unchanged => &mut counts.unchanged,
                Outcome::Failed => &mut counts.failed,
                Outcome::Skipped => &mut counts.skipped,
            } += 1;
        }
        let changed = counts.created + counts.updated + counts.deleted > 0
            || self.components.iter().any(|c| c.changes.is_some_and(|ch| ch.effects > 0));
        let status = if !self.errors.is_empty() || counts.failed + counts.skipped > 0 {
            Status::Failed
        } else if self.nothing_to_do || !changed {
            Status::NoChanges
        } else {
            Status::Complete
        };
        #[derive(Serialize)]
        struct Body {
            status: Status,
            counts: Counts,
            components: Vec<ComponentResult>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            revisions: Vec<RevisionId>,
            errors: Vec<Error>,
        }
        let body = Body {
            status,
            counts,
            components: self.components,
            revisions: self.revisions,
            errors: self.errors,
        };
        print(command, body)
    }
}

/// One problem `validate` found.
#[derive(Debug, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Relative to the stack root.
    pub file: Option<String>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub component: Option<String>,
    pub plugin: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

impl Diagnostic {
    /// A configuration problem, where it points; `component` is the
    /// component whose directory holds the file, if one does.
    pub fn config(d: &capstan_config::Diagnostic, component: Option<String>) -> Self {
        let file = d.location.as_ref().map(|l| l.file.to_string_lossy().replace('\\', "/"));
        Self {
            severity: Severity::Error,
            message: d.message(),
            file,
            line: d.location.as_ref().map(|l| l.line),
            column: d.location.as_ref().map(|l| l.col),
            component,
            plugin: None,
            notes: d.notes.clone(),
        }
    }

    /// A problem with no place in a file (no age key, no plugin host).
    pub fn general(message: String) -> Self {
        Self {
            severity: Severity::Error,
            message,
            file: None,
            line: None,
            column: None,
            component: None,
            plugin: None,
            notes: Vec::new(),
        }
    }

    /// The diagnostics of one component's failure or warnings, each where
    /// it points: an input's problem at the file and line the input was set
    /// at, a configuration error at its file, line and column; anything
    /// else at the component's component.hcl, with no line.
    pub fn component(
        severity: Severity,
        component: &capstan_config::Component,
        problem: Problem<'_>,
    ) -> Vec<Self> {
        let mut found = match problem {
            Problem::Input(p) => {
                let placed =
                    p.set_at.as_ref().filter(|o| o.source != capstan_config::OriginSource::PluginDefaults);
                let file = placed.map(|o| o.file.to_string_lossy().replace('\\', "/"));
                let line = placed.map(|o| o.line).filter(|&l| l > 0);
                vec![Self { file, line, ..Self::general(p.to_string()) }]
            }
            Problem::Config(found) => found.iter().map(|d| Self::config(d, None)).collect(),
            Problem::Plain(text) => vec![Self::general(text)],
        };
        for d in &mut found {
            d.severity = severity;
            d.component = Some(component.key.clone());
            d.plugin = Some(component.plugin.clone());
            if d.file.is_none() {
                d.file = Some(component.dir.join("component.hcl").to_string_lossy().replace('\\', "/"));
            }
        }
        found
    }
}

/// What the planner found wrong with one component.
pub enum Problem<'a> {
    /// A plugin's diagnostic about one input (an error of its `validate`,
    /// or a warning).
    Input(&'a capstan_plan::InputProblem),
    /// The inputs could not be built (configuration diagnostics).
    Config(&'a capstan_config::Diagnostics),
    /// Anything else.
    Plain(String),
}
