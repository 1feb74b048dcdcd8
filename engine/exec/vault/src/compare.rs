//! Comparing what an op declares with what the server reads back.
//!
//! Vault accepts a field in several spellings and reads it back in one:
//! a duration given as `"1h"` reads back as `3600`, a list given as
//! `"a,b"` (or a single `"a"`) reads back as `["a", "b"]`, a boolean given
//! as `"true"` reads back as `true`. [`same`] takes each pair of spellings
//! as equal, so a configuration written once compares equal to itself
//! read back, and nothing is rewritten on the next run.

use serde_json::{Number, Value};

/// Whether the server's `have` holds what `want` declares.
///
/// - durations: a string parsed as a Go/Vault duration (`90s`, `1h30m`,
///   `7d`, or plain seconds `"3600"`) equals its number of seconds;
/// - lists: compared as sets (the server sorts or dedups some of them); a
///   comma-separated string is the list of its trimmed items, a single
///   value a list of one;
/// - booleans: `"true"`, `"1"`, `"t"` … as Go's `ParseBool` reads them;
/// - numbers: by value, also when one side is a string of digits;
/// - objects: each declared key must be there and the same (keys the
///   server adds are not compared);
/// - null, `""`, `[]`, `{}` and `0` are all "nothing".
pub(crate) fn same(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Null, other) | (other, Value::Null) => is_nothing(other),
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Bool(b), Value::String(s)) | (Value::String(s), Value::Bool(b)) => parse_bool(s) == Some(*b),
        (Value::Number(a), Value::Number(b)) => same_number(a, b),
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => string_is_number(s, n),
        (Value::String(a), Value::String(b)) => {
            a == b || matches!((parse_duration(a), parse_duration(b)), (Some(x), Some(y)) if x == y)
        }
        (Value::String(s), Value::Array(items)) | (Value::Array(items), Value::String(s)) => {
            same_set(&split_list(s), items)
        }
        (Value::Array(a), Value::Array(b)) => same_set(a, b),
        (scalar @ (Value::Number(_) | Value::Bool(_)), Value::Array(items))
        | (Value::Array(items), scalar @ (Value::Number(_) | Value::Bool(_))) => {
            same_set(std::slice::from_ref(scalar), items)
        }
        (Value::Object(w), Value::Object(h)) => {
            w.iter().all(|(k, v)| h.get(k).map_or_else(|| is_nothing(v), |have| same(v, have)))
        }
        (Value::Object(o), other) | (other, Value::Object(o)) => o.is_empty() && is_nothing(other),
        (Value::Bool(_), Value::Number(_)) | (Value::Number(_), Value::Bool(_)) => false,
    }
}

fn is_nothing(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(_) => false,
    }
}

fn same_number(a: &Number, b: &Number) -> bool {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x == y,
        _ => matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if (x - y).abs() < f64::EPSILON),
    }
}

/// `"3600"` or `"1h"` against 3600; `"1.5"` against 1.5.
fn string_is_number(s: &str, n: &Number) -> bool {
    let s = s.trim();
    if s.is_empty() {
        return is_nothing(&Value::Number(n.clone()));
    }
    if let Ok(f) = s.parse::<f64>() {
        return n.as_f64().is_some_and(|x| (x - f).abs() < f64::EPSILON);
    }
    matches!((parse_duration(s), n.as_u64()), (Some(d), Some(x)) if d == x)
}

/// Every item of each side has an equal on the other.
fn same_set(a: &[Value], b: &[Value]) -> bool {
    a.iter().all(|x| b.iter().any(|y| same(x, y))) && b.iter().all(|y| a.iter().any(|x| same(x, y)))
}

/// `"a, b,,c"` as `["a", "b", "c"]`, as Vault splits comma strings.
fn split_list(s: &str) -> Vec<Value> {
    s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(|x| Value::String(x.to_string())).collect()
}

/// Go's `strconv.ParseBool`, which Vault uses for booleans given as strings.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Whole seconds of a duration as Vault parses one
/// ([`capstan_core::vault_duration_seconds`]), spaces around it allowed;
/// sub-second remainders are dropped, as the server drops them. `None` when
/// `s` is not a duration.
pub(crate) fn parse_duration(s: &str) -> Option<u64> {
    let seconds = capstan_core::vault_duration_seconds(s.trim())?;
    // Finite, not negative and in range, checked before the cast.
    (seconds.is_finite() && (0.0..=u64::MAX as f64).contains(&seconds)).then(|| seconds.floor() as u64)
}

/// Seconds as the shortest unit that divides them: `72h`, `30m`, `45s`.
pub(crate) fn show_seconds(s: u64) -> String {
    if s == 0 {
        "0s".to_string()
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A value as a change shows it, or `None` when it is too long to be
/// useful on one line. A number read back for a declared duration shows
/// as a duration, so both sides read alike (`max_ttl 24h → declared "72h"`).
pub(crate) fn show(value: &Value, declared: Option<&Value>) -> Option<String> {
    const LONGEST: usize = 60;
    let text = match (value, declared) {
        // A unit says it is a duration; plain digits may be anything.
        (Value::Number(n), Some(Value::String(d)))
            if parse_duration(d).is_some() && d.bytes().any(|b| b.is_ascii_alphabetic()) =>
        {
            n.as_u64().map_or_else(|| n.to_string(), show_seconds)
        }
        _ => value.to_string(),
    };
    (text.chars().count() <= LONGEST).then_some(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn durations_parse_as_vault_parses_them() {
        assert_eq!(parse_duration("3600"), Some(3600));
        assert_eq!(parse_duration("1h"), Some(3600));
        assert_eq!(parse_duration("87600h"), Some(315_360_000));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("1.5h"), Some(5400));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("1500ms"), Some(1));
        assert_eq!(parse_duration(" 90s "), Some(90));
        for not in ["", "h", "1x", "rsa", "1h-", "-1h", "a,b"] {
            assert_eq!(parse_duration(not), None, "{not}");
        }
        assert_eq!(
            [0, 45, 90, 1800, 259_200].map(show_seconds),
            ["0s", "45s", "90s", "30m", "72h"].map(String::from)
        );
    }

    #[test]
    fn values_compare_as_the_server_reads_them_back() {
        // Durations read back as seconds.
        assert!(same(&json!("1h"), &json!(3600)));
        assert!(same(&json!("72h"), &json!(259_200)));
        assert!(same(&json!(3600), &json!(3600)));
        assert!(same(&json!("3600"), &json!(3600)));
        assert!(!same(&json!("2h"), &json!(3600)));
        assert!(same(&json!("60m"), &json!("1h")));
        assert!(same(&json!(""), &json!(0)));
        // Comma strings and single values read back as lists, in any order.
        assert!(same(&json!("a,b"), &json!(["a", "b"])));
        assert!(same(&json!("b, a"), &json!(["a", "b"])));
        assert!(same(&json!("consent"), &json!(["consent"])));
        assert!(same(&json!(["b", "a"]), &json!(["a", "b"])));
        assert!(!same(&json!("a,b"), &json!(["a"])));
        assert!(!same(&json!(["x"]), &json!(["consent"])));
        assert!(same(&json!(""), &json!([])));
        assert!(same(&json!(443), &json!([443])));
        // Booleans and numbers.
        assert!(same(&json!(true), &json!(true)));
        assert!(same(&json!("true"), &json!(true)));
        assert!(!same(&json!("false"), &json!(true)));
        assert!(!same(&json!(false), &json!(0)));
        assert!(same(&json!("2048"), &json!(2048)));
        assert!(same(&json!(1.5), &json!("1.5")));
        assert!(!same(&json!(2048), &json!(4096)));
        // Plain strings.
        assert!(same(&json!("rsa"), &json!("rsa")));
        assert!(!same(&json!("rsa"), &json!("ec")));
        assert!(!same(&json!("rsa"), &json!(0)));
        // Nothing is nothing; objects compare the declared keys.
        assert!(same(&json!(null), &json!([])));
        assert!(!same(&json!(null), &json!("x")));
        assert!(same(&json!({"a": "1h"}), &json!({"a": 3600, "b": 1})));
        assert!(!same(&json!({"a": "1h", "c": "x"}), &json!({"a": 3600})));
        assert!(same(&json!({"a": ""}), &json!({})));
        assert!(!same(&json!({}), &json!("x")));
    }

    #[test]
    fn values_show_short_and_durations_as_durations() {
        assert_eq!(show(&json!(259_200), Some(&json!("72h"))).as_deref(), Some("72h"));
        assert_eq!(show(&json!(259_200), Some(&json!(1))).as_deref(), Some("259200"));
        assert_eq!(show(&json!(4096), Some(&json!("2048"))).as_deref(), Some("4096"));
        assert_eq!(show(&json!(["x"]), None).as_deref(), Some("[\"x\"]"));
        assert_eq!(show(&json!("x".repeat(100)), None), None);
    }
}
