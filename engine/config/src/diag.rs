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
    /// The source line, and how many characters to underline from `col`
    /// (to the end of the line when the span goes on to the next).
    pub snippet: Option<(String, usize)>,
    /// The rest of a span that goes on past its first line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rest: Option<SpanRest>,
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

    pub fn file_only(file: &Path) -> Self {
        Self { file: file.to_path_buf(), line: 1, col: 1, snippet: None, rest: None }
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
            ConfigError::Type { message: "`inputs` must be an object".to_owned() },
            &file,
            start..end,
        )
    }

    #[test]
    fn a_span_over_several_lines_is_bracketed_from_its_start_to_its_end() {
        let d = object_error("inputs = [\n  1,\n  2,\n]\n", "[", "]");
        assert_eq!(
            d.to_string(),
            "error: `inputs` must be an object\n \
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
            coloured.starts_with("\x1b[1;31merror\x1b[0m\x1b[1m: `inputs` must be an object\x1b[0m\n"),
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
