//! A bracket check run before the HCL parser: every `(`, `[` and `{` of an
//! expression closed by its own closer, strings closed on their line.
//!
//! hcl-edit's parser backtracks over unclosed brackets: operators and
//! conditionals among them (`a[b ? c[d …`) kept it busy for 18 s on 1.7 KB
//! (the fuzz seed `fuzz/seeds/hcl_loader/7-backtracking-unclosed-brackets`),
//! and a repository hands the loader any text it likes. Such text is refused
//! here in one pass, at the bracket at fault. Strings, comments and heredocs
//! are skipped except for the `${ … }` and `%{ … }` inside them, which are
//! expressions again.

/// Why the text cannot be HCL, and the byte offset to point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unbalanced {
    /// Byte offset of the bracket (or quote) at fault.
    pub offset: usize,
    /// What is wrong, for the syntax error.
    pub message: String,
}

enum Frame {
    /// An open bracket and the closer it wants.
    Bracket { closer: u8, at: usize },
    /// A quoted template, opened at `at`.
    Quoted { at: usize },
    /// A heredoc's body, ended by a line holding only `marker`.
    Heredoc { marker: String, at: usize },
    /// `${` or `%{` inside a template: an expression up to its `}`.
    Interpolation { at: usize },
}

/// The first bracket that is not closed, or closed by the wrong closer.
pub(crate) fn check(text: &str) -> Result<(), Unbalanced> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match stack.last() {
            Some(Frame::Quoted { at }) => {
                let at = *at;
                match c {
                    b'\\' => i += 1,
                    b'"' => {
                        stack.pop();
                    }
                    b'\n' => return Err(unbalanced(at, "this string is not closed on its line")),
                    _ => i = template_escape(bytes, i, &mut stack),
                }
            }
            Some(Frame::Heredoc { marker, .. }) => {
                if at_line_start(bytes, i) && line_at(text, i).trim() == marker {
                    stack.pop();
                    i += line_at(text, i).len();
                    continue;
                }
                i = template_escape(bytes, i, &mut stack);
            }
            // An expression: top level, inside brackets or an interpolation.
            _ => match c {
                b'#' => i = end_of_line(bytes, i),
                b'/' if bytes.get(i + 1) == Some(&b'/') => i = end_of_line(bytes, i),
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    i = text[i + 2..].find("*/").map_or(bytes.len(), |end| i + 2 + end + 1);
                }
                b'"' => stack.push(Frame::Quoted { at: i }),
                b'<' if bytes.get(i + 1) == Some(&b'<') => {
                    if let Some((marker, body)) = heredoc_opening(text, i) {
                        stack.push(Frame::Heredoc { marker, at: i });
                        i = body;
                        continue;
                    }
                    i += 1;
                }
                b'(' => stack.push(Frame::Bracket { closer: b')', at: i }),
                b'[' => stack.push(Frame::Bracket { closer: b']', at: i }),
                b'{' => stack.push(Frame::Bracket { closer: b'}', at: i }),
                b')' | b']' | b'}' => match stack.pop() {
                    Some(Frame::Bracket { closer, .. }) if closer == c => {}
                    Some(Frame::Interpolation { .. }) if c == b'}' => {}
                    Some(Frame::Bracket { closer, at }) => {
                        let (opened, wanted) = (bytes[at] as char, closer as char);
                        let (line, column) = line_column(text, at);
                        let why = format!(
                            "`{}` closes the `{opened}` opened at line {line}, column {column}, which wants `{wanted}`",
                            c as char
                        );
                        return Err(unbalanced(i, &why));
                    }
                    _ => return Err(unbalanced(i, &format!("`{}` closes nothing", c as char))),
                },
                _ => {}
            },
        }
        i += 1;
    }
    match stack.pop() {
        None => Ok(()),
        Some(Frame::Bracket { at, .. }) => {
            Err(unbalanced(at, &format!("`{}` is never closed", bytes[at] as char)))
        }
        Some(Frame::Interpolation { at }) => Err(unbalanced(at, "this `${` is never closed by a `}`")),
        Some(Frame::Quoted { at }) => Err(unbalanced(at, "this string is never closed")),
        Some(Frame::Heredoc { marker, at }) => {
            Err(unbalanced(at, &format!("this heredoc is never ended by a line holding `{marker}`")))
        }
    }
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

fn unbalanced(offset: usize, message: &str) -> Unbalanced {
    Unbalanced { offset, message: message.to_string() }
}

/// Inside a template at `i`: `$${` and `%%{` are literal, `${` and `%{`
/// open an interpolation. Returns the index of the last byte consumed.
fn template_escape(bytes: &[u8], i: usize, stack: &mut Vec<Frame>) -> usize {
    let c = bytes[i];
    if !matches!(c, b'$' | b'%') {
        return i;
    }
    match (bytes.get(i + 1), bytes.get(i + 2)) {
        (Some(next), Some(b'{')) if *next == c => i + 2,
        (Some(b'{'), _) => {
            stack.push(Frame::Interpolation { at: i });
            i + 1
        }
        _ => i,
    }
}

fn end_of_line(bytes: &[u8], i: usize) -> usize {
    bytes[i..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |n| i + n)
}

fn at_line_start(bytes: &[u8], i: usize) -> bool {
    i == 0 || bytes[i - 1] == b'\n'
}

/// The line starting at `i`, without its newline.
fn line_at(text: &str, i: usize) -> &str {
    let rest = &text[i..];
    rest.split('\n').next().unwrap_or(rest)
}

/// `<<MARKER` or `<<-MARKER` at `i` up to the end of its line: the marker
/// and where the body starts.
fn heredoc_opening(text: &str, i: usize) -> Option<(String, usize)> {
    let rest = &text[i + 2..];
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let marker: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let after = &rest[marker.len()..];
    let line_end = after.find('\n')?;
    if marker.is_empty() || !after[..line_end].trim().is_empty() {
        return None;
    }
    let body = text.len() - after.len() + line_end + 1;
    Some((marker, body))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn balanced_hcl_with_strings_comments_heredocs_and_templates_passes() {
        let text = r#"# a comment with ( and [
locals {
  a = [1, (2 + 3), { b = "}" }]   // ] in a comment
  /* { unclosed in a block comment */
  s = "x ${var.y[0]} and $${literal} and %{ if true }yes%{ endif } \" ] "
  h = <<-EOT
    a [ line ${upper("}")} with brackets (
    EOT
  t = { for k, v in local.m : k => v if v != "{" }
}
"#;
        assert_eq!(check(text), Ok(()));
    }

    #[test]
    fn an_unclosed_or_mismatched_bracket_is_found_where_it_is() {
        let open = "a = [1, (2\n";
        let err = check(open).unwrap_err();
        assert_eq!((err.offset, err.message.as_str()), (8, "`(` is never closed"));
        let wrong = check("a = [1, 2)").unwrap_err();
        assert_eq!(wrong.offset, 9);
        assert_eq!(wrong.message, "`)` closes the `[` opened at line 1, column 5, which wants `]`");
        assert_eq!(check("a = 1 }").unwrap_err().message, "`}` closes nothing");
        assert!(check("a = \"open\nb = 1\n").unwrap_err().message.contains("not closed on its line"));
        assert!(check("a = \"${b\"\n").is_err());
        assert!(check("h = <<EOT\nno end\n").unwrap_err().message.contains("`EOT`"));
    }

    #[test]
    fn the_fuzz_finding_is_refused_at_once() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fuzz/seeds/hcl_loader/7-backtracking-unclosed-brackets"
        );
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(check(&text).is_err());
    }
}
