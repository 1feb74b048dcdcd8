//! What a policy plugin is asked and answers (the `policy` interface of the
//! WIT contract, since 0.2).
//!
//! A policy plugin describes itself with the same [`Metadata`](crate::Metadata)
//! as a component plugin, its component type [`POLICY_TYPE`], its params'
//! schema and defaults in `input_schema` and `defaults`, and its rules in
//! `rules`: so it is signed, bundled, locked and resolved like any plugin.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Severity;

/// The component type in a policy plugin's metadata. No component may
/// declare it: a policy plans nothing, it checks what others plan.
pub const POLICY_TYPE: &str = "policy";

/// One rule a policy checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRule {
    /// Stable and kebab-case, such as `run-as-non-root`: what violations
    /// and exceptions name.
    pub id: String,
    /// One line for `capstan plugin inspect`.
    pub description: String,
}

/// The component whose plan a policy checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySubject {
    /// The component's directory name.
    pub name: String,
    /// Its environment.
    pub environment: String,
    /// The namespace its objects go in.
    pub namespace: String,
    /// Its `type` in component.hcl.
    pub component_type: String,
    /// The plugin that planned it, such as `capstan/app`.
    pub plugin: String,
}

/// What a policy is asked about one component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckRequest {
    /// The component.
    pub subject: PolicySubject,
    /// Its planned objects, Secrets' values replaced by
    /// [`REDACTED`](crate::REDACTED) (see [`without_secret_values`]).
    pub objects: Vec<Value>,
    /// The policy block's params over the plugin's defaults.
    pub params: Value,
}

/// One place where a plan breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The rule's id.
    pub rule: String,
    /// The index of the object in the request's `objects`.
    pub object: u32,
    /// A JSON pointer into that object.
    pub path: String,
    /// What is wrong and what would be right.
    pub message: String,
    /// Only an error fails an enforcing policy's component.
    pub severity: Severity,
}

impl Violation {
    /// An error of `rule` at `path` in object `object`.
    pub fn error(rule: &str, object: usize, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            rule: rule.to_owned(),
            object: u32::try_from(object).unwrap_or(u32::MAX),
            path: path.into(),
            message: message.into(),
            severity: Severity::Error,
        }
    }
}

/// `objects` as a policy may see them: the values of every Secret's `data`
/// and `stringData` replaced by [`REDACTED`](crate::REDACTED), its keys kept.
/// A policy judges the shape of a plan, never a secret.
pub fn without_secret_values(objects: &[Value]) -> Vec<Value> {
    objects
        .iter()
        .map(|object| {
            let mut object = object.clone();
            if crate::leaks::is_secret(&object) {
                for field in ["data", "stringData"] {
                    if let Some(Value::Object(values)) = object.get_mut(field) {
                        for value in values.values_mut() {
                            *value = Value::String(crate::REDACTED.to_owned());
                        }
                    }
                }
            }
            object
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_sees_a_secrets_keys_never_its_values() {
        let secret = serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMg=="}, "stringData": {"user": "app"}
        });
        let config = serde_json::json!({"kind": "ConfigMap", "data": {"password": "not a secret"}});
        let seen = without_secret_values(&[secret, config.clone()]);
        assert_eq!(seen[0]["data"]["password"], crate::REDACTED);
        assert_eq!(seen[0]["stringData"]["user"], crate::REDACTED);
        assert_eq!(seen[1], config, "only Secrets are redacted");
    }
}
