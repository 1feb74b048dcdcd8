//! Digests of what the engine applied, with sensitive parts hashed under the
//! [`StateKey`] so that neither state nor plans carry them.
//!
//! Every digest is SHA-256 over canonical JSON (object keys sorted, no
//! whitespace): the workspace builds serde_json with `preserve_order`, so the
//! same object built in a different order must still hash the same.

use capstan_core::{Effect, Sensitive};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::StateKey;
pub(crate) use capstan_core::leaks::is_secret;

/// Canonical JSON text: keys sorted at every level, no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Digest of one Kubernetes object. For a `v1/Secret`, each value of `data`
/// and `stringData` is replaced by its keyed hash first, so the digest changes
/// when a password changes but cannot be used to guess it.
pub fn object_digest(key: &StateKey, object: &Value) -> String {
    sha256_digest(canonical_json(&crate::redact_secret_values(key, object)).as_bytes())
}

/// Digest of a component's inputs; the values at `sensitive_paths` (JSON
/// Pointers, as in `PlanRequest::sensitive_paths`) are keyed-hashed first.
pub fn inputs_digest(key: &StateKey, inputs: &Value, sensitive_paths: &[String]) -> String {
    if sensitive_paths.is_empty() {
        return sha256_digest(canonical_json(inputs).as_bytes());
    }
    let mut redacted = inputs.clone();
    for path in sensitive_paths {
        if let Some(v) = redacted.pointer_mut(path) {
            let hashed = key.hash(canonical_json(v).as_bytes());
            *v = Value::String(hashed);
        }
    }
    sha256_digest(canonical_json(&redacted).as_bytes())
}

/// A copy of `effect` with every [`Sensitive`] replaced by its keyed hash: safe
/// to serialise into state or a saved plan, still different when a password
/// changes.
pub fn redact_effect(key: &StateKey, effect: &Effect) -> Effect {
    effect.map_sensitive(|s| Sensitive::new(key.hash(s.expose().as_bytes())))
}

/// Digest of an effect with its sensitive parts keyed-hashed: equal digests
/// mean the same effect with the same passwords.
pub fn effect_digest(key: &StateKey, effect: &Effect) -> String {
    match serde_json::to_value(redact_effect(key, effect)) {
        Ok(v) => sha256_digest(canonical_json(&v).as_bytes()),
        // Effects are plain data; serialising them cannot fail. Should it ever,
        // a digest that never matches makes the effect run again (safe side).
        Err(_) => "sha256:unencodable".to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use capstan_core::{EffectKind, SqlOp, SqlRole, SqlStatement, Text};
    use serde_json::json;

    fn key() -> StateKey {
        StateKey::from_bytes([7; 32])
    }

    #[test]
    fn canonical_json_ignores_key_order() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 1, "c": 2}], "x": "s"}});
        let b = json!({"a": {"x": "s", "y": [1, {"c": 2, "d": 1}]}, "b": 1});
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(canonical_json(&a), r#"{"a":{"x":"s","y":[1,{"c":2,"d":1}]},"b":1}"#);
    }

    #[test]
    fn secret_digest_changes_with_the_password_but_hides_it() {
        let s1 = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                        "stringData": {"password": "hunter2"}});
        let s2 = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
                        "stringData": {"password": "hunter3"}});
        assert_ne!(object_digest(&key(), &s1), object_digest(&key(), &s2));
        // Without the key, the digest is not the plain hash of the object.
        assert_ne!(object_digest(&key(), &s1), sha256_digest(canonical_json(&s1).as_bytes()));
    }

    #[test]
    fn effect_redaction_removes_every_password() {
        let effect = Effect {
            id: "roles".into(),
            target: "main".into(),
            summary: "CREATE ROLE app".into(),
            kind: EffectKind::Sql(vec![
                SqlOp::EnsureRole(SqlRole {
                    name: "app".into(),
                    password: Some(Sensitive::new("hunter2")),
                    login: true,
                }),
                SqlOp::Statement(SqlStatement {
                    database: None,
                    sql: Text::Sensitive(Sensitive::new("ALTER ROLE app PASSWORD 'hunter2'")),
                }),
            ]),
        };
        let text = serde_json::to_string(&redact_effect(&key(), &effect)).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        let mut rotated = effect.clone();
        if let EffectKind::Sql(ops) = &mut rotated.kind
            && let SqlOp::EnsureRole(r) = &mut ops[0]
        {
            r.password = Some(Sensitive::new("hunter3"));
        }
        assert_ne!(effect_digest(&key(), &effect), effect_digest(&key(), &rotated));
        assert_eq!(effect_digest(&key(), &effect), effect_digest(&key(), &effect.clone()));
    }

    #[test]
    fn inputs_digest_hashes_sensitive_paths() {
        let a = json!({"db": {"password": "p1"}, "size": 1});
        let b = json!({"db": {"password": "p2"}, "size": 1});
        let paths = vec!["/db/password".to_string()];
        assert_ne!(inputs_digest(&key(), &a, &paths), inputs_digest(&key(), &b, &paths));
        assert_ne!(inputs_digest(&key(), &a, &paths), inputs_digest(&key(), &a, &[]));
    }
}
