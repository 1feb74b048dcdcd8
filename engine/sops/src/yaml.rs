//! Block YAML in the layout SOPS writes: four-space indentation, list items
//! indented under their key, strings plain unless YAML would read them as
//! something else.
//!
//! Only what a document needs is here: mappings, lists and scalars. Strings
//! that cannot be plain are double-quoted (where SOPS would sometimes choose
//! a literal block for a multi-line clear value; both read back the same).
//! Reading YAML is serde_norway's job, not this module's.

use std::fmt::Write as _;

use crate::tree::Node;

/// Spaces per nesting level, as SOPS indents YAML by default.
const INDENT: usize = 4;

/// Writes the top-level mapping `entries`, one `key: value` per line.
pub(crate) fn write_mapping(out: &mut String, entries: &[(String, Node)]) {
    mapping(out, entries, 0, 0, false);
}

/// `entries` with keys at column `key_col` and their nested content at
/// `base + INDENT`. A mapping that opens a list item (`- key: …`, first key
/// already after the `- ` when `inline`) has its keys two columns right of
/// `base`, the list's column, as SOPS's encoder lays it out.
fn mapping(out: &mut String, entries: &[(String, Node)], key_col: usize, base: usize, inline: bool) {
    for (i, (key, value)) in entries.iter().enumerate() {
        if !(inline && i == 0) {
            pad(out, key_col);
        }
        out.push_str(&scalar_text(key));
        out.push(':');
        match value {
            Node::Map(children) if !children.is_empty() => {
                out.push('\n');
                mapping(out, children, base + INDENT, base + INDENT, false);
            }
            Node::Seq(items) if !items.is_empty() => {
                out.push('\n');
                sequence(out, items, base + INDENT, false);
            }
            // An indentation indicator counts from the key's column, which
            // is where the content sits only when the keys are at `base`.
            Node::Str(s) if literal_ok(s, key_col == base) => {
                out.push(' ');
                literal(out, s, base + INDENT);
            }
            leaf => {
                out.push(' ');
                out.push_str(&leaf_text(leaf));
                out.push('\n');
            }
        }
    }
}

/// `items` as `- item` lines at column `col`.
fn sequence(out: &mut String, items: &[Node], col: usize, inline: bool) {
    for (i, item) in items.iter().enumerate() {
        if !(inline && i == 0) {
            pad(out, col);
        }
        out.push_str("- ");
        match item {
            Node::Map(children) if !children.is_empty() => mapping(out, children, col + 2, col, true),
            Node::Seq(nested) if !nested.is_empty() => sequence(out, nested, col + 2, true),
            Node::Str(s) if literal_ok(s, false) => literal(out, s, col + 2),
            leaf => {
                out.push_str(&leaf_text(leaf));
                out.push('\n');
            }
        }
    }
}

/// Whether a multi-line string goes in a literal block (`|`), as SOPS
/// writes multi-line strings, and reads back unchanged from one. Not when a
/// line ends in a space or a character needs an escape; a string starting
/// with a space or a line break needs an indentation indicator, written
/// only where `indicator_ok`.
fn literal_ok(s: &str, indicator_ok: bool) -> bool {
    s.contains('\n')
        && !s.ends_with(' ')
        && !s.contains(" \n")
        && !s.chars().any(|c| c != '\n' && c != '\t' && needs_escape(c))
        && (indicator_ok || !s.starts_with([' ', '\n']))
}

/// `s` as a literal block whose lines sit at column `content_col`: the
/// header (indentation indicator, chomping) then the lines, empty lines bare.
fn literal(out: &mut String, s: &str, content_col: usize) {
    out.push('|');
    if s.starts_with([' ', '\n']) {
        let _ = write!(out, "{INDENT}");
    }
    let body = match s.strip_suffix('\n') {
        // More than one final line break: keep them all.
        Some(rest) if rest.is_empty() || rest.ends_with('\n') => {
            out.push('+');
            rest
        }
        Some(rest) => rest,
        None => {
            out.push('-');
            s
        }
    };
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, content_col);
            out.push_str(line);
        }
        out.push('\n');
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar (or an empty collection) as it stands after `key: `.
fn leaf_text(node: &Node) -> String {
    match node {
        Node::Null => "null".to_owned(),
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.clone(),
        Node::Float(f) => float_text(*f),
        Node::Str(s) => scalar_text(s),
        Node::Seq(_) => "[]".to_owned(),
        Node::Map(_) => "{}".to_owned(),
    }
}

/// A float that YAML reads back as a float with the same value.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        ".nan".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { ".inf".to_owned() } else { "-.inf".to_owned() }
    } else {
        // `{:?}` keeps a `.0` on whole numbers, so YAML reads a float, not an int.
        format!("{f:?}")
    }
}

/// A string as SOPS's YAML encoder writes it: plain when YAML reads it back
/// as that same string; double-quoted when it would read as another type or
/// needs escapes; single-quoted otherwise (indicators, `: `, edge spaces).
pub(crate) fn scalar_text(s: &str) -> String {
    if plain_ok(s) {
        s.to_owned()
    } else if s.is_empty() || resolves_to_non_string(s) || s.chars().any(needs_escape) {
        double_quoted(s)
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// Whether `s` reads back as the string `s` when written plain in block
/// context. Errs towards quoting.
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let last = s.chars().next_back().unwrap_or(first);
    if ",[]{}#&*!|>'\"%@`".contains(first) || first.is_whitespace() || last.is_whitespace() {
        return false;
    }
    // `-`, `?` and `:` start a plain scalar only when glued to what follows.
    if "-?:".contains(first) && s.chars().nth(1).is_none_or(char::is_whitespace) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if s.chars().any(needs_escape) {
        return false;
    }
    !resolves_to_non_string(s)
}

/// Words and numbers that a YAML reader (1.1 or 1.2) would not read as a
/// string when plain.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes", "Yes", "YES",
        "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N", "<<", "=",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut chars = unsigned.chars();
    match chars.next() {
        // A version or an address (`3.11.0`, `10.0.0.1`) is no number to
        // any reader; anything else starting with a digit may be one, or a
        // timestamp.
        Some(c) if c.is_ascii_digit() => !is_dotted_digits(s),
        Some('.') => {
            chars.next().is_some_and(|c| c.is_ascii_digit())
                || matches!(unsigned.to_ascii_lowercase().as_str(), ".inf" | ".nan")
        }
        _ => false,
    }
}

/// `1.2.3`: digit runs joined by two or more dots.
fn is_dotted_digits(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Characters that only a double-quoted scalar can carry.
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_a_reader_would_retype_are_quoted() {
        for s in [
            "",
            "true",
            "n",
            "Yes",
            "1",
            "1.5",
            "1.5.",
            "1..2.3",
            "-3",
            ".5",
            ".inf",
            "2026-12-06T13:41:51Z",
            "null",
            "~",
        ] {
            assert!(scalar_text(s).starts_with('"'), "{s:?} must be quoted");
        }
        for s in [
            "app",
            "3.11.0",
            "10.0.0.1",
            ".dockerconfigjson",
            "^(data|stringData)$",
            "tls.crt",
            "ENC[AES256_GCM,data:a,iv:b]",
        ] {
            assert_eq!(scalar_text(s), s, "{s:?} can be plain");
        }
        assert_eq!(scalar_text("a: b"), "'a: b'");
        assert_eq!(scalar_text(" it's"), "' it''s'");
        assert_eq!(scalar_text("line\n\"two\"\\"), "\"line\\n\\\"two\\\"\\\\\"");
        assert_eq!(scalar_text("héllo ✓"), "héllo ✓");
        assert_eq!(scalar_text("-a"), "-a");
        assert_eq!(scalar_text("- a"), "'- a'");
        assert_eq!(scalar_text("-"), "'-'");
    }

    #[test]
    fn multi_line_strings_are_literal_blocks_with_sops_chomping() {
        let doc = vec![
            ("clip".to_owned(), Node::Str("a\nb\n".to_owned())),
            ("strip".to_owned(), Node::Str("a\n\n  b".to_owned())),
            ("keep".to_owned(), Node::Str("a\n\n".to_owned())),
            ("lead".to_owned(), Node::Str(" a\nb\n".to_owned())),
            ("trailing-space".to_owned(), Node::Str("a \nb\n".to_owned())),
            ("l".to_owned(), Node::Seq(vec![Node::Str(" a\n".to_owned()), Node::Str("c\nd".to_owned())])),
        ];
        let mut out = String::new();
        write_mapping(&mut out, &doc);
        assert_eq!(
            out,
            "clip: |\n    a\n    b\nstrip: |-\n    a\n\n      b\nkeep: |+\n    a\n\nlead: |4\n     a\n    b\n\
             trailing-space: \"a \\nb\\n\"\nl:\n    - \" a\\n\"\n    - |-\n      c\n      d\n"
        );
        let back: serde_norway::Value = serde_norway::from_str(&out).expect("yaml");
        for (key, value) in &doc {
            if let Node::Str(s) = value {
                assert_eq!(back[key.as_str()].as_str(), Some(s.as_str()), "{key}");
            }
        }
    }

    #[test]
    fn lists_and_mappings_nest_as_sops_writes_them() {
        let doc = vec![
            ("a".to_owned(), Node::Map(vec![("b".to_owned(), Node::Str("c".to_owned()))])),
            (
                "l".to_owned(),
                Node::Seq(vec![
                    Node::Str("x".to_owned()),
                    Node::Map(vec![
                        ("k".to_owned(), Node::Int("1".to_owned())),
                        ("m".to_owned(), Node::Bool(true)),
                    ]),
                ]),
            ),
            ("e".to_owned(), Node::Map(vec![])),
            ("f".to_owned(), Node::Float(2.0)),
        ];
        let mut out = String::new();
        write_mapping(&mut out, &doc);
        assert_eq!(out, "a:\n    b: c\nl:\n    - x\n    - k: 1\n      m: true\ne: {}\nf: 2.0\n");
    }
}
