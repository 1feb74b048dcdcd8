//! Problems found in a stack, pointing into the source the way rustc does.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What went wrong. One variant per kind of problem a user can make; the
/// [`Diagnostic`] around it says where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no client.hcl in {start} or any directory above it: the stack root is the directory holding client.hcl"
    )]
    NoStackRoot { start: PathBuf },
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("HCL syntax error: {message}")]
    Syntax { message: String },
    #[error("unknown function `{name}`")]
    UnknownFunction { name: String },
    #[error("undefined variable `{name}`{hint}")]
    UndefinedVariable { name: String, hint: String },
    #[error("`{name}` has no attribute `{attribute}`{hint}")]
    NoSuchAttribute { name: String, attribute: String, hint: String },
    #[error("{function}(): {message}")]
    WrongArgument { function: String, message: String },
    #[error("{message}")]
    Type { message: String },
    #[error("include path `{path}` not found: {reason}")]
    IncludeNotFound { path: String, reason: String },
    #[error(
        "`{path}` is outside the stack root: Capstan reads only files inside the directory holding client.hcl"
    )]
    OutsideRoot { path: String },
    #[error("dependency cycle: {}", cycle.join(" -> "))]
    DependencyCycle { cycle: Vec<String> },
    #[error(
        "dependency `{dependency}` ({target}) has no output `{output}` and no mock_outputs for it{mock_hint}"
    )]
    MissingOutput { dependency: String, target: String, output: String, mock_hint: String },
    #[error("dependency `{dependency}`: `{target}` is not a component (no component.hcl there)")]
    DependencyNotAComponent { dependency: String, target: String },
    #[error("`{attribute}` is not valid YAML: {message}")]
    InvalidYaml { attribute: String, message: String },
    #[error("input {pointer} does not match the plugin's schema: {message}")]
    Schema { pointer: String, message: String },
    #[error(
        "`values_template` is reserved for a plugin's defaults; set `values_custom` in a component (a YAML heredoc merged over the plugin's defaults)"
    )]
    ValuesTemplate,
    #[error("{message}")]
    Invalid { message: String },
    #[error("secrets: {message}")]
    Secret { message: String },
}

/// A source file, kept so diagnostics can show the offending line.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path relative to the stack root, as shown to users.
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceFile({})", self.path.display())
    }
}

impl SourceFile {
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
    pub line: usize,
    pub col: usize,
    /// The source line, and how many characters to underline from `col`.
    pub snippet: Option<(String, usize)>,
}

impl Location {
    pub fn at(file: &SourceFile, span: Range<usize>) -> Self {
        let (line, col) = file.line_col(span.start);
        let text = file.line_text(line).to_owned();
        let (end_line, end_col) = file.line_col(span.end.max(span.start));
        let width = if end_line == line {
            end_col.saturating_sub(col).max(1)
        } else {
            text.chars().count().saturating_sub(col - 1).max(1)
        };
        Self { file: file.path.clone(), line, col, snippet: Some((text, width)) }
    }

    pub fn file_only(file: &Path) -> Self {
        Self { file: file.to_path_buf(), line: 1, col: 1, snippet: None }
    }
}

/// One problem, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub error: ConfigError,
    pub location: Option<Location>,
    /// Extra lines shown after the snippet (`= note: ...`).
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn new(error: ConfigError, location: Option<Location>) -> Self {
        Self { error, location, notes: Vec::new() }
    }

    pub fn at(error: ConfigError, file: &SourceFile, span: Range<usize>) -> Self {
        Self::new(error, Some(Location::at(file, span)))
    }

    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn message(&self) -> String {
        self.error.to_string()
    }

    pub fn file(&self) -> Option<&Path> {
        self.location.as_ref().map(|l| l.file.as_path())
    }

    pub fn line(&self) -> Option<usize> {
        self.location.as_ref().map(|l| l.line)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.error)?;
        if let Some(loc) = &self.location {
            let file = loc.file.to_string_lossy().replace('\\', "/");
            writeln!(f, " --> {file}:{}:{}", loc.line, loc.col)?;
            if let Some((text, width)) = &loc.snippet {
                let num = loc.line.to_string();
                let pad = " ".repeat(num.len());
                writeln!(f, "{pad} |")?;
                writeln!(f, "{num} | {text}")?;
                let lead: String = text
                    .chars()
                    .take(loc.col.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                writeln!(f, "{pad} | {lead}{}", "^".repeat(*width))?;
            }
        }
        for note in &self.notes {
            writeln!(f, "  = note: {note}")?;
        }
        Ok(())
    }
}

/// Every problem found. A bad file never hides another file's problems.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

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

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() > 1 {
            writeln!(f, "\n{} errors", self.0.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
