//! Field-level differences between two Kubernetes manifests, for the plan.

use serde_json::Value;

use capstan_core::REDACTED;

/// One changed field, by JSON Pointer. Values are already safe to show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldChange {
    /// JSON Pointer of the field, e.g. `/spec/replicas`; an array whose
    /// length changed is one change at the array's path.
    pub path: String,
    /// The old value as compact JSON (strings quoted); `None` when the field is added.
    pub before: Option<String>,
    /// The new value, likewise; `None` when the field is removed.
    pub after: Option<String>,
}

/// The fields that differ between `before` and `after`, in document order.
/// The `data` and `stringData` of a `Secret` are shown as `(sensitive)`: the
/// plan says that a secret value changed, never what it is.
pub fn diff_objects(before: &Value, after: &Value) -> Vec<FieldChange> {
    let secret = after.get("kind").and_then(Value::as_str) == Some("Secret");
    let mut out = Vec::new();
    walk("", before, after, secret, &mut out);
    out
}

fn walk(path: &str, before: &Value, after: &Value, secret: bool, out: &mut Vec<FieldChange>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (k, bv) in b {
                let p = format!("{path}/{}", escape(k));
                match a.get(k) {
                    Some(av) => walk(&p, bv, av, secret, out),
                    None => out.push(change(&p, Some(bv), None, secret)),
                }
            }
            for (k, av) in a {
                if !b.contains_key(k) {
                    out.push(change(&format!("{path}/{}", escape(k)), None, Some(av), secret));
                }
            }
        }
        (Value::Array(b), Value::Array(a)) if b.len() == a.len() => {
            for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                walk(&format!("{path}/{i}"), bv, av, secret, out);
            }
        }
        _ => out.push(change(path, Some(before), Some(after), secret)),
    }
}

fn change(path: &str, before: Option<&Value>, after: Option<&Value>, secret: bool) -> FieldChange {
    let hidden = secret && (path.starts_with("/data") || path.starts_with("/stringData"));
    let show = |v: &Value| if hidden { REDACTED.to_string() } else { compact(v) };
    FieldChange { path: path.to_string(), before: before.map(show), after: after.map(show) }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// RFC 6901 escaping of one path segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reports_changed_added_and_removed_fields() {
        let before = json!({"kind": "Deployment", "spec": {"replicas": 1, "paused": false,
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": "api"}}}}});
        let after = json!({"kind": "Deployment", "spec": {"replicas": 3,
            "template": {"metadata": {"labels": {"app.kubernetes.io/name": "api", "tier": "web"}}}}});
        let changes = diff_objects(&before, &after);
        let paths: Vec<_> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["/spec/replicas", "/spec/paused", "/spec/template/metadata/labels/tier"]);
        assert_eq!(changes[0].before.as_deref(), Some("1"));
        assert_eq!(changes[0].after.as_deref(), Some("3"));
        assert_eq!(changes[1].after, None);
        assert!(paths.iter().all(|p| !p.contains("app.kubernetes.io~1name")));
    }

    #[test]
    fn secret_values_are_never_shown() {
        let before = json!({"kind": "Secret", "data": {"password": "b2xk"}});
        let after = json!({"kind": "Secret", "data": {"password": "bmV3"}});
        let changes = diff_objects(&before, &after);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].before.as_deref(), Some(REDACTED));
        assert_eq!(changes[0].after.as_deref(), Some(REDACTED));
    }
}
