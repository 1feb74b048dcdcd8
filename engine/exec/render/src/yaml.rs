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
    let ordered = order(object, &TOP, true);
    let mut out = String::new();
    match &ordered {
        Value::Object(map) if !map.is_empty() => emit_map(map, 0, false, &mut out),
        Value::Array(items) if !items.is_empty() => emit_seq(items, 0, &mut out),
        other => {
            out.push_str(&inline(other).unwrap_or_else(|| double_quoted("")));
            out.push('\n');
        }
    }
    Ok(out)
}

/// A copy of `value` with map keys in the documented order: `first` keys in
/// that order, then the rest sorted. Relies on serde_json's `preserve_order`
/// (enabled in the workspace) to keep insertion order.
fn order(value: &Value, first: &[&str], top: bool) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for key in first {
                if let Some(v) = map.get(*key) {
                    let nested: &[&str] = if top && *key == "metadata" { &METADATA } else { &[] };
                    out.insert((*key).to_string(), order(v, nested, false));
                }
            }
            let mut rest: Vec<_> = map.iter().filter(|(k, _)| !first.contains(&k.as_str())).collect();
            rest.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in rest {
                out.insert(k.clone(), order(v, &[], false));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| order(v, &[], false)).collect()),
        other => other.clone(),
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A block mapping at `indent`. With `inline_first`, the first key follows a
/// `- ` the caller already wrote.
fn emit_map(map: &Map<String, Value>, indent: usize, inline_first: bool, out: &mut String) {
    for (i, (key, value)) in map.iter().enumerate() {
        if !(inline_first && i == 0) {
            pad(out, indent);
        }
        out.push_str(&scalar_string(key));
        out.push(':');
        emit_after_key(value, indent, out);
    }
}

fn emit_after_key(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(m, indent + 2, false, out);
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
            out.push_str(&inline(other).unwrap_or_default());
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
                emit_map(m, indent + 2, true, out);
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
                out.push_str(&inline(other).unwrap_or_default());
                out.push('\n');
            }
        }
    }
}

/// Scalars and empty collections on one line.
fn inline(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar_string(s),
        Value::Object(m) if m.is_empty() => "{}".to_string(),
        Value::Array(a) if a.is_empty() => "[]".to_string(),
        Value::Object(_) | Value::Array(_) => return None,
    })
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
fn scalar_string(s: &str) -> String {
    if s.chars().any(|c| c.is_control() && c != '\t') || s.contains('\t') {
        return double_quoted(s);
    }
    if is_plain_safe(s) { s.to_string() } else { format!("'{}'", s.replace('\'', "''")) }
}

fn double_quoted(s: &str) -> String {
    // A JSON string literal is a valid YAML double-quoted scalar.
    let mut out = String::with_capacity(s.len() + 2);
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
    out
}

/// Words that YAML 1.1 or 1.2 read as booleans or null.
const RESERVED: [&str; 12] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null", "~", "nan", "inf"];

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if RESERVED.contains(&s.to_ascii_lowercase().as_str()) {
        return false;
    }
    // Anything that starts like a number (or .inf/.nan, or a sign) is quoted:
    // YAML 1.1 reads 0777, 1_000, 1:20 and 1e3 as numbers.
    // A leading `-` is fine when a letter or another `-` follows (`--port`).
    let second = s.chars().nth(1);
    let dash_word = first == '-' && second.is_some_and(|c| c.is_ascii_alphabetic() || c == '-');
    if first.is_ascii_digit() || matches!(first, '.' | '+') || (first == '-' && !dash_word) {
        return false;
    }
    // Indicators that mean something at the start of a scalar.
    if "?:,[]{}#&*!|>'\"%@` ".contains(first) || s.ends_with(' ') || s == "-" {
        return false;
    }
    // Only characters that are never special inside a plain scalar, with
    // `:` and ` ` allowed unless they form `: ` / ` #` / a trailing `:`.
    if !s.chars().all(|c| c.is_alphanumeric() || "-_./:@ =+~^$()<>?".contains(c) || !c.is_ascii()) {
        return false;
    }
    !(s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.contains("<<"))
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
