//! Hostile: `describe` returns metadata that breaks the contract: a version
//! that is not semver and an input schema that is not JSON.
use guest_common::*;

struct Bad;

impl Guest for Bad {
    fn describe() -> Metadata {
        let mut m = metadata("bad-metadata");
        m.version = "version one".to_owned();
        m.input_schema = "{not json".to_owned();
        m
    }
    fn validate(_inputs: String) -> Vec<Diagnostic> {
        Vec::new()
    }
    fn plan(_req: PlanRequest) -> Result<ComponentPlan, PlanError> {
        Err(PlanError::Failed("unreachable: never loads".to_owned()))
    }
    fn health(_object: String) -> HealthStatus {
        HealthStatus::Ready
    }
}

guest_common::export!(Bad with_types_in guest_common);
