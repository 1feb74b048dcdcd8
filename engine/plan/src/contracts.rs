//! The outputs contracts of the component types Capstan ships, as data: the
//! JSON Schemas of `wit/contracts/`, embedded in the engine, and the check
//! every plugin's outputs pass before a dependent may read them.
//!
//! A dependent reads a dependency's outputs through its type's contract (the
//! SDK's `contracts::read`); checking them here, once, at the producer means
//! a broken backend fails as itself, naming the plugin, the output and the
//! rule, instead of surfacing in every consumer as an unreadable dependency.
//!
//! A type Capstan ships no contract for (a third party's `cache`, say) is
//! checked against the contract its plugin publishes in its metadata
//! ([`check_declared`]); with none published, its outputs pass unchecked,
//! and [`contract_for`] says so by returning `None`. This module does not check
//! a plugin's inputs (capstan-config does, against the plugin's own schema).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::{Map, Value};

use capstan_core::{Output, OutputsContract};

/// One built-in contract: a component type, its version and its schema text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuiltInContract {
    /// The component type it covers, e.g. `postgres`.
    pub component_type: &'static str,
    /// The contract's version: the `N` of `<type>.vN.json`.
    pub version: u32,
    /// The JSON Schema (draft 2020-12), as text.
    pub schema: &'static str,
}

/// Every outputs contract Capstan ships, one version per type. The shared
/// input shapes (`postgres.apps`, `messaging.queues`) are not here: they are
/// checked as part of each backend's own input schema.
pub const BUILT_IN: &[BuiltInContract] = &[
    contract("app", include_str!("../../../wit/contracts/app.v1.json")),
    contract("cert-manager", include_str!("../../../wit/contracts/cert-manager.v1.json")),
    contract("dapr", include_str!("../../../wit/contracts/dapr.v1.json")),
    contract("external-secrets", include_str!("../../../wit/contracts/external-secrets.v1.json")),
    contract("logs", include_str!("../../../wit/contracts/logs.v1.json")),
    contract("messaging", include_str!("../../../wit/contracts/messaging.v1.json")),
    contract("postgres", include_str!("../../../wit/contracts/postgres.v1.json")),
    contract("spire", include_str!("../../../wit/contracts/spire.v1.json")),
    contract("vault", include_str!("../../../wit/contracts/vault.v1.json")),
    contract("waf", include_str!("../../../wit/contracts/waf.v1.json")),
];

const fn contract(component_type: &'static str, schema: &'static str) -> BuiltInContract {
    BuiltInContract { component_type, version: 1, schema }
}

/// One way a plugin's outputs break their contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The output (top-level name) at fault.
    pub output: String,
    /// A JSON pointer into the outputs object, e.g. `/password_secret/key`.
    pub path: String,
    /// The schema keyword that failed (`required`, `type`, `maximum`, …).
    pub rule: String,
    /// What the rule wanted. Never repeats the value, which may be a secret.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "output `{}` at {} breaks `{}`: {}", self.output, self.path, self.rule, self.message)
    }
}

/// The contract of `component_type`, or `None` when Capstan ships none.
pub fn contract_for(component_type: &str) -> Option<&'static BuiltInContract> {
    BUILT_IN.iter().find(|c| c.component_type == component_type)
}

/// The compiled validators, built once per process: every plan checks
/// outputs, and compiling a schema costs far more than checking a value.
fn validators() -> &'static [(&'static str, jsonschema::Validator)] {
    static VALIDATORS: OnceLock<Vec<(&'static str, jsonschema::Validator)>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        BUILT_IN
            .iter()
            .map(|c| {
                let schema: Value = serde_json::from_str(c.schema).unwrap_or_else(|e| {
                    panic!("the embedded {} contract is not JSON: {e}", c.component_type)
                });
                let validator = jsonschema::draft202012::new(&schema).unwrap_or_else(|e| {
                    panic!("the embedded {} contract does not compile: {e}", c.component_type)
                });
                (c.component_type, validator)
            })
            .collect()
    })
}

/// Checks `outputs` against the contract of `component_type`. Every
/// violation is returned, so one run shows them all. A type with no
/// built-in contract passes unchecked.
pub fn check_outputs(component_type: &str, outputs: &[Output]) -> Result<(), Vec<Violation>> {
    let Some((_, validator)) = validators().iter().find(|(t, _)| *t == component_type) else {
        return Ok(());
    };
    check_with(validator, outputs)
}

/// Checks `outputs` against the contract a plugin published for a type
/// Capstan does not ship. Its schema is compiled once per process; one that
/// does not compile is itself the violation (rule `schema`).
pub fn check_declared(contract: &OutputsContract, outputs: &[Output]) -> Result<(), Vec<Violation>> {
    static COMPILED: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let key = capstan_core::json_text(&contract.schema);
    let cache = COMPILED.get_or_init(Mutex::default);
    let cached = cache.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
    let validator = match cached {
        Some(v) => v,
        None => {
            let compiled = jsonschema::draft202012::new(&contract.schema).map_err(|e| {
                vec![Violation {
                    output: String::new(),
                    path: "/".into(),
                    rule: "schema".into(),
                    message: format!("the published contract is not a valid JSON Schema: {}", e.masked()),
                }]
            })?;
            let compiled = Arc::new(compiled);
            cache.lock().unwrap_or_else(PoisonError::into_inner).insert(key, Arc::clone(&compiled));
            compiled
        }
    };
    check_with(&validator, outputs)
}

fn check_with(validator: &jsonschema::Validator, outputs: &[Output]) -> Result<(), Vec<Violation>> {
    let object: Map<String, Value> = outputs.iter().map(|o| (o.name.clone(), o.value.clone())).collect();
    let object = Value::Object(object);
    let violations: Vec<Violation> = validator
        .iter_errors(&object)
        .map(|e| {
            let path = e.instance_path().to_string();
            let rule = e.kind().keyword().to_string();
            let output = match e.kind() {
                // A missing output is reported at the root; name the output itself.
                jsonschema::error::ValidationErrorKind::Required { property } if path.is_empty() => {
                    property.as_str().map(str::to_string).unwrap_or_default()
                }
                _ => path
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .replace("~1", "/")
                    .replace("~0", "~"),
            };
            let path = if path.is_empty() { format!("/{output}") } else { path };
            Violation { output, path, rule, message: e.masked().to_string() }
        })
        .collect();
    if violations.is_empty() { Ok(()) } else { Err(violations) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]
    use super::*;
    use serde_json::json;

    fn outputs(value: Value) -> Vec<Output> {
        let Value::Object(fields) = value else { panic!("not an object") };
        fields.into_iter().map(|(name, value)| Output { name, value, sensitive: false }).collect()
    }

    #[test]
    fn every_shipped_contract_compiles() {
        assert_eq!(validators().len(), BUILT_IN.len());
        for c in BUILT_IN {
            let schema: Value = serde_json::from_str(c.schema).unwrap_or(Value::Null);
            let id = schema["$id"].as_str().unwrap_or_default();
            assert!(id.ends_with(&format!("/{}.v{}.json", c.component_type, c.version)), "{id}");
        }
    }

    #[test]
    fn a_missing_output_is_named_with_the_rule() {
        let v = check_outputs("postgres", &outputs(json!({ "port": 5432 }))).unwrap_err();
        let host = v.iter().find(|v| v.output == "host").unwrap_or_else(|| panic!("{v:?}"));
        assert_eq!((host.path.as_str(), host.rule.as_str()), ("/host", "required"));
        assert!(v.iter().any(|v| v.output == "password_secret"), "{v:?}");
    }

    #[test]
    fn a_nested_violation_names_its_path_and_never_the_value() {
        let v = check_outputs(
            "postgres",
            &outputs(json!({
                "host": "db", "port": 5432, "database": "d", "user": "u",
                "password_secret": { "name": "s", "key": "k" },
                "databases": { "a": { "database": "a", "user": "a", "password_secret": "hunter2" } },
            })),
        )
        .unwrap_err();
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].output, "databases");
        assert_eq!(v[0].path, "/databases/a/password_secret");
        assert_eq!(v[0].rule, "type");
        assert!(!v[0].to_string().contains("hunter2"), "{}", v[0]);
    }

    #[test]
    fn a_type_without_a_shipped_contract_passes_unchecked() {
        assert!(contract_for("cache").is_none());
        assert_eq!(check_outputs("cache", &outputs(json!({ "anything": [1, 2] }))), Ok(()));
    }

    #[test]
    fn outputs_beyond_the_contract_are_the_backends_own() {
        let ok = outputs(json!({ "ingress_class": "alb", "web_acl_arn": null }));
        assert_eq!(check_outputs("waf", &ok), Ok(()));
    }
}
