//! The kit's words for the leaks `capstan_core::leaks` finds: the engine's
//! own rule of where a secret may be (a Secret's `data`/`stringData`, an
//! effect's sensitive fields, a sensitive output), reported one line each
//! for a plugin author instead of failing a component.

use capstan_core::leaks::{Leak, Place, Secrets};
use capstan_core::{ComponentPlan, Diagnostic};

/// Every place in `plan` and `diagnostics` a secret should not be: one line each.
pub(crate) fn leaks(secrets: &Secrets, plan: &ComponentPlan, diagnostics: &[Diagnostic]) -> Vec<String> {
    secrets.in_plan(plan, diagnostics).iter().map(describe).collect()
}

/// Every diagnostic that repeats a secret: one line each, naming its path.
pub(crate) fn diagnostic_leaks(secrets: &Secrets, diagnostics: &[Diagnostic]) -> Vec<String> {
    secrets.in_diagnostics(diagnostics).iter().map(describe).collect()
}

fn describe(leak: &Leak) -> String {
    let secret = &leak.secret;
    match &leak.place {
        Place::Object { object, path } => format!("the value of {secret} appears in {object} at {path}"),
        Place::Effect { id, path } => {
            format!("the value of {secret} appears in effect `{id}` at {path}, a field not marked sensitive")
        }
        Place::Output { name, path } => format!(
            "the value of {secret} appears in output `{name}` at /{name}{path}, which is not marked sensitive"
        ),
        Place::Diagnostic { path } => format!("the value of {secret} appears in a diagnostic at {path}"),
        other => format!("the value of {secret} appears in {other}"),
    }
}
