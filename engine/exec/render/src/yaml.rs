//! One object → deterministic YAML text.
//!
//! A small emitter for JSON values rather than a YAML library's serializer:
//! Kubernetes tools read YAML 1.1, where plain `yes`, `on`, `n`, `0777` or
//! `1:20` are not strings, while YAML 1.2 serializers write them unquoted.
//! Here a string is written plain only when it cannot be read as anything
//! else in either version; otherwise it is single-quoted, double-quoted (when
//! it has control characters) or a literal block (when it has several lines).

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::RenderError;

const TOP: [&str; 3] = ["apiVersion", "kind", "metadata"];
const METADATA: [&str; 4] = ["name", "namespace", "labels", "annotations"];

/// The YAML text of one object, as written to its file (without the header
/// comment). Pure; the planner's diff uses it too.
pub fn to_yaml(object: &Value) -> Result<String, RenderError> {
    let mut out = String::with_capacity(1024);
    match object {
        Value::Object(map) if !map.is_empty() => emit_map(map, &TOP, 0, false, &mut out),
        Value::Array(items) if !items.is_empty() => emit_seq(items, 0, &mut out),
        other => {
            if !push_inline(other, &mut out) {
                push_double_quoted("", &mut out);
            }
            out.push('\n');
        }
    }
    Ok(out)
}

/// The entries of `map` in the documented order: `first` keys in that
/// order, then the rest sorted. Borrowed, so emitting copies nothing.
fn ordered<'a>(map: &'a Map<String, Value>, first: &[&str]) -> Vec<(&'a str, &'a Value)> {
    let mut entries: Vec<(&str, &Value)> =
        first.iter().filter_map(|k| map.get_key_value(*k)).map(|(k, v)| (k.as_str(), v)).collect();
    let leading = entries.len();
    entries.extend(map.iter().filter(|(k, _)| !first.contains(&k.as_str())).map(|(k, v)| (k.as_str(), v)));
    entries[leading..].sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries
}

fn pad(out: &mut String, indent: usize) {
    const SPACES: &str = "                                ";
    let mut left = indent;
    while left > 0 {
        let n = left.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        left -= n;
    }
}

/// A block mapping at `indent`, `first` keys first (the top level and its
/// `metadata` have a documented order; everything else is sorted). With
/// `inline_first`, the first key follows a `- ` the caller already wrote.
fn emit_map(map: &Map<String, Value>, first: &[&str], indent: usize, inline_first: bool, out: &mut String) {
    for (i, (key, value)) in ordered(map, first).into_iter().enumerate() {
        if !(inline_first && i == 0) {
            pad(out, indent);
        }
        push_scalar_string(key, out);
        out.push(':');
        let nested: &[&str] = if key == "metadata" && first == TOP { &METADATA } else { &[] };
        emit_after_key(value, nested, indent, out);
    }
}

fn emit_after_key(value: &Value, first: &[&str], indent: usize, out: &mut String) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(m, first, indent + 2, false, out);
        }
        // Sequences sit at the key's indentation, as kubectl writes them.
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit_seq(a, indent, out);
        }
        Value::String(s) if is_block(s) => {
            out.push(' ');
            emit_block(s, indent + 2, out);
        }
        other => {
            out.push(' ');
            push_inline(other, out);
            out.push('\n');
        }
    }
}

fn emit_seq(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        pad(out, indent);
        out.push('-');
        match item {
            Value::Object(m) if !m.is_empty() => {
                out.push(' ');
                emit_map(m, &[], indent + 2, true, out);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                emit_seq(a, indent + 2, out);
            }
            Value::String(s) if is_block(s) => {
                out.push(' ');
                emit_block(s, indent + 2, out);
            }
            other => {
                out.push(' ');
                push_inline(other, out);
                out.push('\n');
            }
        }
    }
}

/// Scalars and empty collections on one line; false (nothing written) for
/// a non-empty collection.
fn push_inline(value: &Value, out: &mut String) -> bool {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => push_scalar_string(s, out),
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Object(_) | Value::Array(_) => return false,
    }
    true
}

/// Multi-line text without other control characters reads best as a block.
fn is_block(s: &str) -> bool {
    s.contains('\n')
        && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
        // A block's indentation is taken from its first non-empty line: text
        // whose first non-empty line starts with a space is quoted instead.
        && !s.split('\n').find(|l| !l.is_empty()).is_some_and(|l| l.starts_with([' ', '\t']))
}

/// `|`, `|-` or `|+` and the lines, indented.
fn emit_block(s: &str, indent: usize, out: &mut String) {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    out.push_str(match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    out.push('\n');
    for line in body.split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

/// A string as a one-line YAML scalar: plain when unambiguous in YAML 1.1
/// and 1.2, otherwise quoted.
fn push_scalar_string(s: &str, out: &mut String) {
    if has_control(s) {
        push_double_quoted(s, out);
    } else if is_plain_safe(s) {
        out.push_str(s);
    } else {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    }
}

/// Whether `s` has a control character (tab included), which only a
/// double-quoted scalar can carry.
fn has_control(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 || b == 0x7f) || (!s.is_ascii() && s.chars().any(char::is_control))
}

fn push_double_quoted(s: &str, out: &mut String) {
    // A JSON string literal is a valid YAML double-quoted scalar.
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Words that YAML 1.1 or 1.2 read as booleans or null.
const RESERVED: [&str; 12] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null", "~", "nan", "inf"];

fn is_plain_safe(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else { return false };
    if s.len() <= 5 && RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s)) {
        return false;
    }
    // Anything that starts like a number (or .inf/.nan, or a sign) is quoted:
    // YAML 1.1 reads 0777, 1_000, 1:20 and 1e3 as numbers.
    // A leading `-` is fine when a letter or another `-` follows (`--port`).
    let second = bytes.get(1).copied();
    let dash_word = first == b'-' && second.is_some_and(|c| c.is_ascii_alphabetic() || c == b'-');
    if first.is_ascii_digit() || matches!(first, b'.' | b'+') || (first == b'-' && !dash_word) {
        return false;
    }
    // Indicators that mean something at the start of a scalar.
    if b"?:,[]{}#&*!|>'\"%@` ".contains(&first) || s.ends_with(' ') || s == "-" {
        return false;
    }
    // Only characters that are never special inside a plain scalar (any
    // non-ASCII character is a letter or a symbol here: controls were
    // quoted already), with `:` and ` ` allowed unless they form `: ` /
    // ` #` / a trailing `:`.
    let mut previous = 0u8;
    for &b in bytes {
        let allowed = !b.is_ascii() || b.is_ascii_alphanumeric() || b"-_./:@ =+~^$()<>?".contains(&b);
        let pair = matches!((previous, b), (b':', b' ') | (b' ', b'#') | (b'<', b'<'));
        if !allowed || pair {
            return false;
        }
        previous = b;
    }
    !s.ends_with(':')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_ordered_the_same_whatever_the_input_order() {
        let a = json!({"spec": {"b": 1, "a": [ {"y": 1, "x": 2} ]}, "metadata": {"labels": {"z": "1", "a": "2"}, "name": "n"},
                       "kind": "ConfigMap", "apiVersion": "v1", "data": {"k": "v"}});
        let b = json!({"apiVersion": "v1", "data": {"k": "v"}, "kind": "ConfigMap",
                       "metadata": {"name": "n", "labels": {"a": "2", "z": "1"}}, "spec": {"a": [ {"x": 2, "y": 1} ], "b": 1}});
        let text = to_yaml(&a).unwrap();
        assert_eq!(text, to_yaml(&b).unwrap());
        assert_eq!(
            text,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: 'n'\n  labels:\n    a: '2'\n    z: '1'\ndata:\n  k: v\nspec:\n  a:\n  - x: 2\n    'y': 1\n  b: 1\n"
        );
    }

    #[test]
    fn yaml_1_1_lookalikes_are_quoted() {
        let scalar_string = |s: &str| {
            let mut out = String::new();
            push_scalar_string(s, &mut out);
            out
        };
        for s in [
            "yes", "On", "n", "0777", "1:20", "1_000", "-1", ".5", ".inf", "~", "", " x", "a: b", "x #y",
            "@x",
        ] {
            assert_ne!(scalar_string(s), s, "{s:?} must be quoted");
        }
        for s in ["api", "registry.example/api:1.4.2", "a b", "http://x/y?q=1", "app.kubernetes.io/name"] {
            assert_eq!(scalar_string(s), s, "{s:?} stays plain");
        }
    }
}
