//! Reading the few fields every rule needs from a Kubernetes object.

use serde_json::Value;

/// The object's `kind`, or `""`.
pub(crate) fn kind(object: &Value) -> &str {
    object.get("kind").and_then(Value::as_str).unwrap_or_default()
}

/// The API group of the object's `apiVersion`: `apps` of `apps/v1`, `""`
/// (the core group) of `v1`.
pub(crate) fn group(object: &Value) -> &str {
    group_of(object.get("apiVersion").and_then(Value::as_str).unwrap_or_default())
}

/// The API group of an `apiVersion`.
pub(crate) fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// Whether the object is a `kind` of API group `group`.
pub(crate) fn is(object: &Value, group: &str, kind: &str) -> bool {
    self::kind(object) == kind && self::group(object) == group
}

/// The object's `metadata.name`, or `""`.
pub(crate) fn name(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

/// Whether a field is set: present, not null, not an empty string.
pub(crate) fn is_set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// `spec.kafka.resources` for `/spec/kafka/resources`: how a message names
/// a field (pointers here never hold escaped tokens).
pub(crate) fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// `a`, `a or b`, `a, b or c` (with `word` for "or").
pub(crate) fn list(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_kinds_and_lists() {
        assert_eq!(group(&json!({"apiVersion": "apps/v1"})), "apps");
        assert_eq!(group(&json!({"apiVersion": "v1"})), "");
        assert!(is(
            &json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster"}),
            "postgresql.cnpg.io",
            "Cluster"
        ));
        assert_eq!(list(&["a".into(), "b".into(), "c".into()], "or"), "a, b or c");
        assert_eq!(list(&["a".into()], "and"), "a");
        assert_eq!(dotted("/spec/kafka/resources"), "spec.kafka.resources");
        assert!(!is_set(Some(&json!(""))) && is_set(Some(&json!(1))) && !is_set(None));
    }
}
