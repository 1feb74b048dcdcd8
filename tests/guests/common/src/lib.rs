//! What every test guest shares: the raw `capstan:plugin` bindings (no SDK on
//! purpose, so these guests test the host alone) and a `guest!` macro that
//! exports a plugin whose `plan` is the one thing a guest varies.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "plugin",
    pub_export_macro: true,
    default_bindings_module: "guest_common",
});

pub use capstan::plugin::effects::{EffectKind, SqlOp, SqlStatement};
pub use capstan::plugin::log::{Level, log};
pub use capstan::plugin::types::{Sensitive, Severity, Text};
pub use exports::capstan::plugin::handler::*;

/// Metadata that satisfies the contract, named `test/<name>`.
pub fn metadata(name: &str) -> Metadata {
    Metadata {
        name: format!("test/{name}"),
        version: "0.1.0".to_owned(),
        component_type: "test".to_owned(),
        backend: name.to_owned(),
        description: format!("Test guest {name}."),
        input_schema: r#"{"type":"object"}"#.to_owned(),
        defaults: "{}\n".to_owned(),
        capabilities: vec![],
        outputs_contract: None,
    }
}

/// The request's inputs, parsed (an empty object if they are not JSON).
pub fn inputs(req: &PlanRequest) -> serde_json::Value {
    serde_json::from_str(&req.inputs).unwrap_or_else(|_| serde_json::json!({}))
}

/// Exports a test plugin named `$name` whose `plan` is `$plan`.
#[macro_export]
macro_rules! guest {
    ($name:literal, $plan:expr) => {
        struct Guest;
        impl $crate::Guest for Guest {
            fn describe() -> $crate::Metadata {
                $crate::metadata($name)
            }
            fn validate(_inputs: String) -> Vec<$crate::Diagnostic> {
                Vec::new()
            }
            fn plan(req: $crate::PlanRequest) -> Result<$crate::ComponentPlan, $crate::PlanError> {
                let plan: fn($crate::PlanRequest) -> Result<$crate::ComponentPlan, $crate::PlanError> = $plan;
                plan(req)
            }
            fn health(_object: String) -> $crate::HealthStatus {
                $crate::HealthStatus::Ready
            }
        }
        $crate::export!(Guest with_types_in $crate);
    };
}
