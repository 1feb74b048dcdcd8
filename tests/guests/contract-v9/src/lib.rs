//! A plugin built for a contract this engine does not host
//! (`capstan:plugin@9.0.0`, a copy of the WIT with only the version changed).

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use exports::capstan::plugin::handler::*;

struct Future;

impl Guest for Future {
    fn describe() -> Metadata {
        Metadata {
            name: "test/contract-v9".to_owned(),
            version: "9.0.0".to_owned(),
            component_type: "test".to_owned(),
            backend: "future".to_owned(),
            description: "Built for a contract from the future.".to_owned(),
            input_schema: "{}".to_owned(),
            defaults: String::new(),
            capabilities: vec![],
        }
    }
    fn validate(_inputs: String) -> Vec<Diagnostic> {
        Vec::new()
    }
    fn plan(_req: PlanRequest) -> Result<ComponentPlan, PlanError> {
        Err(PlanError::Failed("should never run".to_owned()))
    }
    fn health(_object: String) -> HealthStatus {
        HealthStatus::Ready
    }
}

export!(Future);
