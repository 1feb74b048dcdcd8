//! Problems found in a stack, pointing into the source the way rustc does.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What went wrong. One variant per kind of problem a user can make; the
/// [`Diagnostic`] around it says where. A test checks that some broken tree
/// under `tests/fixtures/errors/` shows each variant (by its kebab-case name).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
#[strum(serialize_all = "kebab-case")]
pub enum ConfigError {
    /// `capstan` was pointed at a directory with no client.hcl at or above it.
    #[error(
        "no client.hcl in {start} or any directory above it: the stack root is the directory holding client.hcl"
    )]
    NoStackRoot {
        /// The directory the search started from.
        start: PathBuf,
    },
    /// A file of the stack exists but could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// Relative to the stack root.
        path: PathBuf,
        /// The operating system's words.
        reason: String,
    },
    /// The file is not HCL.
    #[error("HCL syntax error: {message}")]
    Syntax {
        /// The parser's words.
        message: String,
    },
    /// A call to a function Capstan does not provide.
    #[error("unknown function `{name}`")]
    UnknownFunction {
        /// The name as written.
        name: String,
    },
    /// A name that no level, local, include or dependency defines.
    #[error("undefined variable `{name}`{hint}")]
    UndefinedVariable {
        /// The name as written.
        name: String,
        /// The closest defined name, as ` (did you mean …?)`, or empty.
        hint: String,
    },
    /// An attribute read from an object that does not have it.
    #[error("`{name}` has no attribute `{attribute}`{hint}")]
    NoSuchAttribute {
        /// The path of the object, such as `local.db`.
        name: String,
        /// The attribute asked for.
        attribute: String,
        /// The attributes it does have, or the closest one; may be empty.
        hint: String,
    },
    /// A function called with an argument it cannot take.
    #[error("{function}(): {message}")]
    WrongArgument {
        /// The function's name.
        function: String,
        /// What is wrong with the argument.
        message: String,
    },
    /// A value of one type where another is needed.
    #[error("{what} must be {expected}, not {found}")]
    WrongType {
        /// The value in question, such as "a condition".
        what: String,
        /// The type it needs, with an example where one helps.
        expected: String,
        /// The HCL type it has.
        found: &'static str,
    },
    /// An operator applied to values it does not take.
    #[error("`{operator}` needs {expected}, got {found}")]
    Operands {
        /// The operator as written.
        operator: String,
        /// "numbers", "bools", "a number"…
        expected: &'static str,
        /// The HCL types of the operands.
        found: String,
    },
    /// `a.b` where `a` is not an object.
    #[error("cannot read attribute `{attribute}` of `{path}`: it is {found}, not an object")]
    NotAnObject {
        /// The attribute asked for.
        attribute: String,
        /// The expression read so far, such as `local.ports`.
        path: String,
        /// The HCL type it has.
        found: &'static str,
    },
    /// `list[i]` past the end of the list.
    #[error("index {index} is out of range for `{path}` ({len} elements)")]
    IndexOutOfRange {
        /// The index as evaluated.
        index: String,
        /// The expression indexed.
        path: String,
        /// How many elements the list has.
        len: usize,
    },
    /// `x[i]` where `x` is not a list indexed by a number or an object by a string.
    #[error("cannot index {found} `{path}` with {index}")]
    BadIndex {
        /// The HCL type of what was indexed.
        found: &'static str,
        /// The expression indexed.
        path: String,
        /// The HCL type of the index.
        index: &'static str,
    },
    /// `/` or `%` by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// `${…}` around a value that has no text form.
    #[error("cannot interpolate {found} into a string (use jsonencode or yamlencode)")]
    Interpolation {
        /// The HCL type of the value.
        found: &'static str,
    },
    /// A `for` expression building an object gave two elements one key.
    #[error("duplicate key `{key}` in `for` expression (use `...` to group)")]
    DuplicateForKey {
        /// The key given twice.
        key: String,
    },
    /// An `include` whose file does not exist.
    #[error("include path `{path}` not found: {reason}")]
    IncludeNotFound {
        /// The path as written.
        path: String,
        /// Where it was looked for.
        reason: String,
    },
    /// A path that leaves the stack root.
    #[error(
        "`{path}` is outside the stack root: Capstan reads only files inside the directory holding client.hcl"
    )]
    OutsideRoot {
        /// The path as written.
        path: String,
    },
    /// Components that depend on each other in a circle.
    #[error("dependency cycle: {}", cycle.join(" -> "))]
    DependencyCycle {
        /// The components of the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// A dependency's output read before the dependency was applied, with no mock for it.
    #[error(
        "dependency `{dependency}` ({target}) has no output `{output}` and no mock_outputs for it{mock_hint}"
    )]
    MissingOutput {
        /// The dependency's name in this component.
        dependency: String,
        /// The component it points at.
        target: String,
        /// The output read.
        output: String,
        /// How to add a mock for this command, or empty.
        mock_hint: String,
    },
    /// A dependency whose `config_path` holds no component.hcl.
    #[error("dependency `{dependency}`: `{target}` is not a component (no component.hcl there)")]
    DependencyNotAComponent {
        /// The dependency's name in this component.
        dependency: String,
        /// The directory it points at.
        target: String,
    },
    /// A value meant to be YAML that does not parse.
    #[error("`{attribute}` is not valid YAML: {message}")]
    InvalidYaml {
        /// Which value: `values_custom`, a plugin's defaults…
        attribute: String,
        /// The parser's words.
        message: String,
    },
    /// Inputs that the plugin's JSON Schema refuses.
    #[error("input {pointer} does not match the plugin's schema: {message}")]
    Schema {
        /// JSON pointer to the input.
        pointer: String,
        /// The schema's words.
        message: String,
    },
    /// A plugin's input schema that is not a valid JSON Schema.
    #[error("plugin {plugin} has an invalid input schema: {reason}")]
    InvalidPluginSchema {
        /// The plugin, as `publisher/name`.
        plugin: String,
        /// The validator's words.
        reason: String,
    },
    /// `values_template` set in a component.
    #[error(
        "`values_template` is reserved for a plugin's defaults; set `values_custom` in a component (a YAML heredoc merged over the plugin's defaults)"
    )]
    ValuesTemplate,
    /// A block that needs a label was written without one.
    #[error("a `{block}` block needs a name: {example}")]
    UnnamedBlock {
        /// The block's keyword.
        block: String,
        /// The block written correctly.
        example: String,
    },
    /// A block without an attribute it cannot do without.
    #[error("{block} needs `{attribute}`{hint}")]
    MissingAttribute {
        /// The block, as users know it: "the `component` block", "dependency `db`".
        block: String,
        /// The attribute missing.
        attribute: String,
        /// The values it takes, as ` (…)`, or empty.
        hint: String,
    },
    /// An attribute a block does not take.
    #[error("unknown attribute `{attribute}` in {block} (expected {expected})")]
    UnknownAttribute {
        /// The attribute as written.
        attribute: String,
        /// The block or file it is in.
        block: String,
        /// The attributes it takes.
        expected: String,
    },
    /// A block a file does not take.
    #[error("unknown block `{block}` in {place} (expected {expected})")]
    UnknownBlock {
        /// The block's keyword.
        block: String,
        /// The kind of file: "component.hcl", "an env.hcl"…
        place: String,
        /// The blocks it takes.
        expected: String,
    },
    /// An attribute written as a block.
    #[error("`{name}` is an attribute, not a block: {example}")]
    NotABlock {
        /// The keyword.
        name: String,
        /// The attribute written correctly.
        example: String,
    },
    /// A setting that takes one of a few words, given another.
    #[error("unknown {setting} `{value}` (expected {expected})")]
    UnknownValue {
        /// What the word chooses: "merge_strategy", "plugin_source type"…
        setting: String,
        /// The word as written.
        value: String,
        /// The words it takes.
        expected: String,
    },
    /// A setting of the wrong shape.
    #[error("`{attribute}` is {expected}")]
    SettingShape {
        /// The attribute as written.
        attribute: String,
        /// What it must be.
        expected: String,
    },
    /// A setting of the right shape that does not parse.
    #[error("`{attribute}`: {reason}")]
    SettingValue {
        /// The attribute as written.
        attribute: String,
        /// Why the value does not parse.
        reason: String,
    },
    /// A component's `version` that is not a semver range.
    #[error("`{range}` is not a semver range: {reason}")]
    NotAVersionRange {
        /// The range as written.
        range: String,
        /// The parser's words.
        reason: String,
    },
    /// A key of `plugins` that is not `publisher/name`.
    #[error("`{name}` is not a plugin name (publisher/name)")]
    NotAPluginName {
        /// The key as written.
        name: String,
    },
    /// A pin in `plugins` that is neither an exact version nor "local".
    #[error(
        "`{pin}` is not a version to pin `{name}` to: {reason}; write an exact version like \"1.4.2\", or \"local\"{hint}"
    )]
    BadPin {
        /// The plugin pinned.
        name: String,
        /// The pin as written.
        pin: String,
        /// The parser's words.
        reason: String,
        /// An exact version near a range that was written, or empty.
        hint: String,
    },
    /// A plugin pinned to "local" without `plugins_local_dir`.
    #[error(
        "`{name}` = \"local\" needs `plugins_local_dir = \"<dir>\"` in this env.hcl: the directory, from the stack root, holding the plugin's built .wasm"
    )]
    LocalPinWithoutDir {
        /// The plugin pinned.
        name: String,
    },
    /// `plugins_local_dir` that is absolute or leaves the stack root.
    #[error("plugins_local_dir `{dir}` must be a relative path inside the stack root")]
    LocalDirOutsideRoot {
        /// The directory as written.
        dir: String,
    },
    /// An environment's pin that a component's version range does not allow.
    #[error(
        "{pin_file} pins {plugin} to {version}, outside the range {range} that {component_file} asks for"
    )]
    PinOutsideRange {
        /// The env.hcl holding the pin.
        pin_file: String,
        /// The plugin pinned.
        plugin: String,
        /// The pinned version.
        version: String,
        /// The component's range.
        range: String,
        /// The component.hcl asking for it.
        component_file: String,
    },
    /// A component.hcl without its `component` block.
    #[error("component.hcl has no `component {{ type = … plugin = … version = … }}` block")]
    NoComponentBlock,
    /// An `include` inside an included file.
    #[error("an included file cannot include another file")]
    NestedInclude,
    /// `expose = true` on an include with no name to expose it under.
    #[error("`expose = true` needs a named include: include \"name\" {{ … }}")]
    UnnamedExpose,
    /// `apply` listed in `mock_outputs_allowed_commands`.
    #[error("`apply` never uses mock outputs: it would deploy made-up values")]
    MocksInApply,
    /// A component.hcl with no env.hcl and namespace.hcl above it.
    #[error(
        "component {component} is not inside an environment and a namespace: it needs an env.hcl and, below it, a namespace.hcl in the directories above it"
    )]
    NotInEnvironment {
        /// The component's directory.
        component: String,
    },
    /// A namespace.hcl that is not below its env.hcl.
    #[error("{namespace} must be in a directory below {env} (client → env → namespace → component)")]
    NamespaceOutsideEnvironment {
        /// The namespace.hcl.
        namespace: String,
        /// The env.hcl above the component.
        env: String,
    },
    /// A local named after a level, whose values `local.<level>` holds.
    #[error("local `{name}` is reserved: `local.{name}` holds the values of {name}.hcl")]
    ReservedLocal {
        /// The level's name.
        name: String,
    },
    /// A local defined twice in one file.
    #[error("local `{name}` is defined twice")]
    DuplicateLocal {
        /// The local's name.
        name: String,
    },
    /// Locals whose values depend on each other in a circle.
    #[error("locals refer to each other in a cycle: {}", cycle.join(" -> "))]
    LocalCycle {
        /// `local.<name>` for each, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// An `oci` plugin source with a user name and no password, or the reverse.
    #[error("an `oci` plugin_source login needs both `username` and `password`")]
    HalfALogin,
    /// A password written in clear text where it would sit in the repository.
    #[error(
        "the `{attribute}` of {block} comes from a secrets file ({attribute} = secrets.<name>), not clear text"
    )]
    ClearTextSecret {
        /// The attribute.
        attribute: String,
        /// The block it is in.
        block: String,
    },
    /// Two blocks or entries of one kind under one name, where names are unique.
    #[error("{what} `{name}` is defined twice{hint}")]
    DuplicateName {
        /// The kind of thing: "policy", "exception".
        what: String,
        /// The name given twice.
        name: String,
        /// Where names must be unique, as ` in …`.
        hint: String,
    },
    /// A policy exception with no selector: it would exempt every component.
    #[error(
        "exception `{exception}` of policy `{policy}` names no `types`, `components` or `namespaces`, so it would exempt every component: disable the policy or narrow the exception"
    )]
    ExceptionCoversEverything {
        /// The policy.
        policy: String,
        /// The exception's name.
        exception: String,
    },
    /// An env.hcl setting one of client.hcl's enforcing policies to audit.
    #[error(
        "policy `{policy}` is enforced by client.hcl and an env.hcl cannot set it to audit: an environment relaxes a policy only through a named exception with a reason"
    )]
    PolicyRelaxed {
        /// The policy.
        policy: String,
    },
    /// An env.hcl changing what one of client.hcl's policies checks.
    #[error(
        "an env.hcl cannot set `{attribute}` of policy `{policy}`, which client.hcl defines: an environment may only tighten it (mode = \"enforce\", more exceptions), or define a policy of its own under another name"
    )]
    PolicyOverride {
        /// The policy.
        policy: String,
        /// The attribute the env.hcl set.
        attribute: String,
    },
    /// A secrets file or reference that cannot be used.
    #[error("secrets: {message}")]
    Secret {
        /// What is wrong, without the secret's value.
        message: String,
    },
    /// A problem of another kind whose text held a sensitive value, which is
    /// shown as "(sensitive)".
    #[error("{message}")]
    Redacted {
        /// The problem's text, scrubbed.
        message: String,
    },
}

/// A source file, kept so diagnostics can show the offending line.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the stack root, as shown to users.
    pub path: PathBuf,
    /// The whole file, as read.
    pub text: String,
    line_starts: Vec<usize>,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceFile({})", self.path.display())
    }
}

impl SourceFile {
    /// Indexes the line starts of `text`, read from `path` (relative to the stack root).
    pub fn new(path: PathBuf, text: String) -> Arc<Self> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Arc::new(Self { path, text, line_starts })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let col = self.text.get(start..offset).map_or(0, |s| s.chars().count());
        (line + 1, col + 1)
    }

    /// The text of a 1-based line, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return "";
        };
        let end = self.line_starts.get(line).map_or(self.text.len(), |&e| e.saturating_sub(1));
        self.text.get(start..end).unwrap_or("").trim_end_matches('\r')
    }

    /// The byte offset where a 1-based line starts.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts.get(line.saturating_sub(1)).copied().unwrap_or(self.text.len())
    }
}

/// Where a diagnostic points.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// Relative to the stack root.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// The source line, and how many characters to underline from `col`
    /// (to the end of the line when the span goes on to the next).
    pub snippet: Option<(String, usize)>,
    /// The rest of a span that goes on past its first line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rest: Option<SpanRest>,
}

/// `file:line:col`, as a diagnostic's `-->` line shows it.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.to_string_lossy().replace('\\', "/"), self.line, self.col)
    }
}

/// The lines of a span after its first, as a diagnostic shows them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SpanRest {
    /// The source lines after the first, up to the one the span ends on.
    pub lines: Vec<String>,
    /// The column of the span's last character on its last line.
    pub end_col: usize,
}

impl Location {
    /// The byte range `span` of `file`, with its source lines for the snippet.
    pub fn at(file: &SourceFile, span: Range<usize>) -> Self {
        let (line, col) = file.line_col(span.start);
        let text = file.line_text(line).to_owned();
        // The last character, not the offset after it: a span ending with
        // its line's newline ends on that line.
        let last = if span.end > span.start { span.end - 1 } else { span.start };
        let (end_line, end_col) = file.line_col(last);
        let to_line_end = text.chars().count().saturating_sub(col - 1).max(1);
        let (width, rest) = if end_line == line {
            ((end_col + 1).saturating_sub(col).clamp(1, to_line_end), None)
        } else {
            let lines = (line + 1..=end_line).map(|l| file.line_text(l).to_owned()).collect();
            (to_line_end, Some(SpanRest { lines, end_col }))
        };
        Self { file: file.path.clone(), line, col, snippet: Some((text, width)), rest }
    }

    /// A whole file, for problems with no place in it: line 1, column 1, no snippet.
    pub fn file_only(file: &Path) -> Self {
        Self { file: file.to_path_buf(), line: 1, col: 1, snippet: None, rest: None }
    }
}

/// One problem, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong; its `Display` is the message.
    pub error: ConfigError,
    /// Where; `None` when the problem is in no file (no stack root found, say).
    pub location: Option<Location>,
    /// Extra lines shown after the snippet (`= note: ...`).
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A problem without notes.
    pub fn new(error: ConfigError, location: Option<Location>) -> Self {
        Self { error, location, notes: Vec::new() }
    }

    /// A problem at the byte range `span` of `file`.
    pub fn at(error: ConfigError, file: &SourceFile, span: Range<usize>) -> Self {
        Self::new(error, Some(Location::at(file, span)))
    }

    /// Adds a line shown after the snippet as `= note: …`.
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// The error's message alone, without location or notes.
    pub fn message(&self) -> String {
        self.error.to_string()
    }

    /// The file it points into, relative to the stack root.
    pub fn file(&self) -> Option<&Path> {
        self.location.as_ref().map(|l| l.file.as_path())
    }

    /// The 1-based line it points at.
    pub fn line(&self) -> Option<usize> {
        self.location.as_ref().map(|l| l.line)
    }
}

impl Diagnostic {
    /// The diagnostic as a person reads it, drawn as rustc draws its own:
    /// the message, where it is, the source with the span underlined (a
    /// span over several lines is bracketed down its left side), the notes.
    /// With `colour`, in ANSI colour (red for the error and its underline,
    /// blue for the gutter); [`fmt::Display`] is the same without.
    pub fn render(&self, colour: bool) -> String {
        let paint = Paint(colour);
        let mut out = String::new();
        out.push_str(&format!("{}{}\n", paint.error("error"), paint.bold(&format!(": {}", self.error))));
        if let Some(loc) = &self.location {
            let file = loc.file.to_string_lossy().replace('\\', "/");
            out.push_str(&format!(" {} {file}:{}:{}\n", paint.gutter("-->"), loc.line, loc.col));
            if let Some((text, width)) = &loc.snippet {
                let last_line = loc.line + loc.rest.as_ref().map_or(0, |r| r.lines.len());
                let num_width = last_line.to_string().len();
                let gutter = |num: Option<usize>| {
                    let num = num.map_or_else(|| " ".repeat(num_width), |n| format!("{n:>num_width$}"));
                    paint.gutter(&format!("{num} |"))
                };
                out.push_str(&format!("{}\n", gutter(None)));
                match &loc.rest {
                    None => {
                        let lead: String = text
                            .chars()
                            .take(loc.col.saturating_sub(1))
                            .map(|c| if c == '\t' { '\t' } else { ' ' })
                            .collect();
                        out.push_str(&format!("{} {text}\n", gutter(Some(loc.line))));
                        out.push_str(&format!(
                            "{} {lead}{}\n",
                            gutter(None),
                            paint.error(&"^".repeat(*width))
                        ));
                    }
                    Some(rest) => multi_line(&mut out, &paint, &gutter, loc.line, loc.col, text, rest),
                }
            }
        }
        for note in &self.notes {
            out.push_str(&format!("  {} {note}\n", paint.bold("= note:")));
        }
        out
    }
}

/// A span over several lines, between the gutter and the text: its first
/// line underlined up to where it starts, a bar down its lines, and its
/// last line underlined up to where it ends. Long spans keep their first
/// two and last two lines.
fn multi_line(
    out: &mut String,
    paint: &Paint,
    gutter: &dyn Fn(Option<usize>) -> String,
    line: usize,
    col: usize,
    first: &str,
    rest: &SpanRest,
) {
    const KEEP: usize = 2;
    out.push_str(&format!("{}   {first}\n", gutter(Some(line))));
    out.push_str(&format!("{}  {}\n", gutter(None), paint.error(&format!("{}^", "_".repeat(col)))));
    let count = rest.lines.len();
    for (i, text) in rest.lines.iter().enumerate() {
        if count > 2 * KEEP + 1 && i == KEEP {
            out.push_str(&format!("{}\n", paint.gutter("...")));
        }
        if count > 2 * KEEP + 1 && (KEEP..count - KEEP).contains(&i) {
            continue;
        }
        out.push_str(&format!("{} {} {text}\n", gutter(Some(line + 1 + i)), paint.error("|")));
    }
    let end = format!("|{}^", "_".repeat(rest.end_col));
    out.push_str(&format!("{} {}\n", gutter(None), paint.error(&end)));
}

/// ANSI colour, or none.
struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    fn error(&self, text: &str) -> String {
        self.wrap("1;31", text)
    }

    fn gutter(&self, text: &str) -> String {
        self.wrap("1;34", text)
    }

    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// Every problem found. A bad file never hides another file's problems.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one problem; [`sort`](Self::sort) puts them in order.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// Adds every problem of `other`, such as another file's.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// True when nothing is wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The problems, in the order pushed (or sorted).
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Ok if empty.
    pub fn into_result(self) -> Result<(), Diagnostics> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Sorted by file, line, column, so output is stable whatever order files were read in.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            let key = |d: &Diagnostic| d.location.as_ref().map(|l| (l.file.clone(), l.line, l.col));
            key(a).cmp(&key(b))
        });
        self.0.dedup();
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Self(vec![d])
    }
}

impl Diagnostics {
    /// Every diagnostic, [rendered](Diagnostic::render), and their count.
    pub fn render(&self, colour: bool) -> String {
        let mut out = String::new();
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&d.render(colour));
        }
        if self.0.len() > 1 {
            out.push_str(&format!("\n{} errors\n", self.0.len()));
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    fn object_error(text: &str, from: &str, to: &str) -> Diagnostic {
        let file = SourceFile::new(PathBuf::from("envs/dev/api/component.hcl"), text.to_owned());
        let start = text.find(from).unwrap_or_default();
        let end = text.rfind(to).unwrap_or_default() + to.len();
        Diagnostic::at(
            ConfigError::WrongType {
                what: "`inputs`".to_owned(),
                expected: "an object".to_owned(),
                found: "list",
            },
            &file,
            start..end,
        )
    }

    #[test]
    fn a_span_over_several_lines_is_bracketed_from_its_start_to_its_end() {
        let d = object_error("inputs = [\n  1,\n  2,\n]\n", "[", "]");
        assert_eq!(
            d.to_string(),
            "error: `inputs` must be an object, not list\n \
             --> envs/dev/api/component.hcl:1:10\n  \
             |\n\
             1 |   inputs = [\n  \
             |  __________^\n\
             2 | |   1,\n\
             3 | |   2,\n\
             4 | | ]\n  \
             | |_^\n"
        );
    }

    #[test]
    fn a_long_span_keeps_its_first_and_last_lines() {
        let body: String = (1..=20).map(|i| format!("  k{i} = {i}\n")).collect();
        let d = object_error(&format!("x = [\n{body}]\n"), "[", "]");
        let text = d.to_string();
        assert!(
            text.contains("\n 2 | |   k1 = 1\n 3 | |   k2 = 2\n...\n21 | |   k20 = 20\n22 | | ]\n   | |_^\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 11, "{text}");
    }

    #[test]
    fn colour_is_drawn_only_when_asked_for() {
        let d = object_error("inputs = 3\n", "3", "3").with_note("an object literal: { name = value }");
        let plain = d.render(false);
        assert_eq!(plain, d.to_string());
        assert!(!plain.contains('\x1b'), "{plain}");
        let coloured = d.render(true);
        assert!(
            coloured
                .starts_with("\x1b[1;31merror\x1b[0m\x1b[1m: `inputs` must be an object, not list\x1b[0m\n"),
            "{coloured:?}"
        );
        assert!(coloured.contains("\x1b[1;31m^\x1b[0m"), "{coloured:?}");
        assert!(coloured.contains("\x1b[1;34m-->\x1b[0m"), "{coloured:?}");
        // Without its escapes, the coloured text is the plain one.
        let stripped = coloured
            .replace("\x1b[1;31m", "")
            .replace("\x1b[1;34m", "")
            .replace("\x1b[1m", "")
            .replace("\x1b[0m", "");
        assert_eq!(stripped, plain);
    }
}
