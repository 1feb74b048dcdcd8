//! Hostile: returns far more than the output limit from the export its
//! input names — `validate` (inputs `{"huge": "validate"}`), `plan`
//! (`{"huge": "plan"}`) or `health` (an object with `"huge": true`) — and
//! behaves otherwise.
use guest_common::*;

/// 12 MiB: one and a half times the output limit, built once in the
/// guest's 64 MiB.
const HUGE: usize = 12 * 1024 * 1024;

fn huge_text() -> String {
    "x".repeat(HUGE)
}

struct Big;

impl Guest for Big {
    fn describe() -> Metadata {
        metadata("big-output")
    }
    fn validate(inputs: String) -> Vec<Diagnostic> {
        if !inputs.contains(r#""huge":"validate""#) {
            return Vec::new();
        }
        // Many small diagnostics: the limit counts the whole result.
        (0..HUGE / 64)
            .map(|i| Diagnostic {
                path: format!("/x/{i}"),
                severity: Severity::Warning,
                message: "w".repeat(16),
            })
            .collect()
    }
    fn plan(req: PlanRequest) -> Result<ComponentPlan, PlanError> {
        let objects = if req.inputs.contains(r#""huge":"plan""#) {
            let mut object = String::with_capacity(HUGE + 128);
            object
                .push_str(r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"x":""#);
            object.extend(std::iter::repeat_n('x', HUGE));
            object.push_str(r#""}}"#);
            vec![object]
        } else {
            vec![r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"small"}}"#.to_owned()]
        };
        Ok(ComponentPlan { objects, effects: vec![], outputs: vec![], warnings: vec![] })
    }
    fn health(object: String) -> HealthStatus {
        if object.contains(r#""huge":true"#) {
            HealthStatus::Degraded(huge_text())
        } else {
            HealthStatus::Ready
        }
    }
}

guest_common::export!(Big with_types_in guest_common);
