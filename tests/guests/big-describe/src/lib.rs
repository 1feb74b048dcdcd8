//! Hostile: `describe` returns a 12 MiB input schema, one and a half times
//! the output limit (a 48 MB schema once took the engine to 3.4 GiB).
use guest_common::*;

struct Big;

impl Guest for Big {
    fn describe() -> Metadata {
        let mut m = metadata("big-describe");
        let mut schema = String::with_capacity(13 * 1024 * 1024);
        schema.push_str(r#"{"type":"object","properties":{"#);
        for i in 0..200_000 {
            if i > 0 {
                schema.push(',');
            }
            schema.push_str(&format!(r#""p{i:06}":{{"type":"string","description":"{}"}}"#, "d".repeat(20)));
        }
        schema.push_str("}}");
        m.input_schema = schema;
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

guest_common::export!(Big with_types_in guest_common);
