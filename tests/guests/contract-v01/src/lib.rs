//! A plugin built against the frozen 0.1 contract (`wit/v0.1/`), as every
//! plugin was before 0.2: it uses each part of 0.1 — capabilities, a
//! sensitive effect, outputs, a warning, a log line, health — so the host's
//! test can check that all of it still crosses the boundary unchanged.

wit_bindgen::generate!({ path: "../../../wit/v0.1", world: "plugin" });

use capstan::plugin::effects::{Effect, EffectKind, SqlOp, SqlRole};
use capstan::plugin::log::{Level, log};
use capstan::plugin::types::{Capability, Diagnostic, Sensitive, Severity};
use exports::capstan::plugin::handler::*;
use serde_json::json;

struct Old;

impl Guest for Old {
    fn describe() -> Metadata {
        Metadata {
            name: "test/contract-v01".to_owned(),
            version: "0.1.7".to_owned(),
            component_type: "test".to_owned(),
            backend: "old".to_owned(),
            description: "Built against capstan:plugin@0.1.0.".to_owned(),
            input_schema: r#"{"type":"object"}"#.to_owned(),
            defaults: "role: app\n".to_owned(),
            capabilities: vec![Capability::Sql("main".to_owned()), Capability::Amqp("broker".to_owned())],
        }
    }

    fn validate(_inputs: String) -> Vec<Diagnostic> {
        vec![Diagnostic {
            path: "/role".to_owned(),
            severity: Severity::Warning,
            message: "roles are old-fashioned".to_owned(),
        }]
    }

    fn plan(req: PlanRequest) -> Result<ComponentPlan, PlanError> {
        log(Level::Warn, &format!("planning {} the 0.1 way", req.component.name));
        let inputs: serde_json::Value = serde_json::from_str(&req.inputs).unwrap_or_default();
        let role = inputs["role"].as_str().unwrap_or("app").to_owned();
        let password = inputs["password"].as_str().unwrap_or_default().to_owned();
        Ok(ComponentPlan {
            objects: vec![
                json!({
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": req.component.name},
                    "data": {"dependencies": req.dependencies.len().to_string()},
                })
                .to_string(),
            ],
            effects: vec![Effect {
                id: "role".to_owned(),
                target: "main".to_owned(),
                summary: format!("CREATE ROLE {role}"),
                kind: EffectKind::Sql(vec![SqlOp::EnsureRole(SqlRole {
                    name: role.clone(),
                    password: Some(Sensitive { value: password }),
                    login: true,
                })]),
            }],
            outputs: vec![Output { name: "role".to_owned(), value: json!(role).to_string(), sensitive: false }],
        })
    }

    fn health(object: String) -> HealthStatus {
        HealthStatus::Progressing(format!("{} bytes looked at", object.len()))
    }
}

export!(Old);
