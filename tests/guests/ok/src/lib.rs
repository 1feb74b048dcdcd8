//! A well-behaved plugin: one ConfigMap named after the component, holding the
//! `greeting` input, and one output. Validation and health are real enough for
//! the host's tests to check that every export round-trips.

use guest_common::*;
use serde_json::json;

struct Good;

impl Guest for Good {
    fn describe() -> Metadata {
        let mut m = metadata("ok");
        m.input_schema = json!({
            "type": "object",
            "properties": {"greeting": {"type": "string"}},
        })
        .to_string();
        m.defaults = "greeting: hello\n".to_owned();
        m.capabilities = vec![Capability::Sql("main".to_owned()), Capability::ReadComponentDir];
        // `test` is no type Capstan ships: the guest publishes its contract.
        m.outputs_contract = Some(OutputsContract {
            version: 2,
            schema: json!({"type": "object", "required": ["config-map"]}).to_string(),
            kit: Some(
                json!({
                    "component_type": "test", "version": 1,
                    "cases": [{"name": "a greeting", "inputs": {"greeting": "hi"}}],
                    "bad_inputs": [{"name": "an empty greeting", "inputs": {"greeting": ""}, "path": "/greeting"}]
                })
                .to_string(),
            ),
        });
        m
    }

    fn validate(inputs: String) -> Vec<Diagnostic> {
        let v: serde_json::Value = serde_json::from_str(&inputs).unwrap_or_default();
        match v.get("greeting") {
            Some(serde_json::Value::String(g)) if g.is_empty() => vec![Diagnostic {
                path: "/greeting".to_owned(),
                severity: Severity::Error,
                message: "greeting must not be empty".to_owned(),
            }],
            _ => Vec::new(),
        }
    }

    fn plan(req: PlanRequest) -> Result<ComponentPlan, PlanError> {
        log(Level::Info, &format!("planning {}", req.component.name));
        let inputs = inputs(&req);
        let Some(greeting) = inputs.get("greeting").and_then(|g| g.as_str()) else {
            return Err(PlanError::InvalidInputs(vec![Diagnostic {
                path: "/greeting".to_owned(),
                severity: Severity::Error,
                message: "greeting is required".to_owned(),
            }]));
        };
        let name = format!("{}-config", req.component.name);
        let config_map = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": req.component.namespace},
            "data": {"greeting": greeting, "files": req.files.len().to_string()},
        });
        Ok(ComponentPlan {
            objects: vec![config_map.to_string()],
            effects: vec![],
            outputs: vec![Output {
                name: "config-map".to_owned(),
                value: json!(name).to_string(),
                sensitive: false,
            }],
            // A greeting in capitals plans, with a warning (contract 0.2).
            warnings: if greeting.chars().any(char::is_uppercase) {
                vec![Diagnostic {
                    path: "/greeting".to_owned(),
                    severity: Severity::Warning,
                    message: "shouted".to_owned(),
                }]
            } else {
                vec![]
            },
        })
    }

    fn health(object: String) -> HealthStatus {
        let v: serde_json::Value = serde_json::from_str(&object).unwrap_or_default();
        match v.pointer("/status/phase").and_then(|p| p.as_str()) {
            Some("Ready") => HealthStatus::Ready,
            Some(other) => HealthStatus::Progressing(format!("phase is {other}")),
            None => HealthStatus::Degraded("no status".to_owned()),
        }
    }
}

guest_common::export!(Good with_types_in guest_common);
