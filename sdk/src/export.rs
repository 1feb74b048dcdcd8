//! The glue between the generated WIT exports and a [`Plugin`] or a
//! [`Policy`]: what [`export_plugin!`](crate::export_plugin) and
//! [`export_policy!`](crate::export_policy) plug in. Nothing here panics;
//! every failure becomes a value the engine can report.

use std::marker::PhantomData;

use crate::bindings::capstan::plugin::types as wty;
use crate::bindings::exports::capstan::plugin::handler as wh;
use crate::bindings::policy::exports::capstan::plugin::policy as wp;
use crate::convert;
use crate::{Plugin, Policy};

/// Implements the generated `handler` interface for a plugin type.
/// Not for direct use: `export_plugin!(MyPlugin)` names it for you.
#[doc(hidden)]
pub struct Adapter<P>(PhantomData<P>);

impl<P: Plugin + 'static> wh::Guest for Adapter<P> {
    fn describe() -> wh::Metadata {
        convert::metadata(P::metadata())
    }

    fn validate(inputs: String) -> Vec<wty::Diagnostic> {
        match serde_json::from_str::<serde_json::Value>(&inputs) {
            Ok(value) => P::validate(&value).into_iter().map(convert::diagnostic).collect(),
            Err(e) => vec![convert::diagnostic(capstan_core::Diagnostic::error(
                "",
                format!("the inputs are not valid JSON: {e}"),
            ))],
        }
    }

    fn plan(request: wh::PlanRequest) -> Result<wh::ComponentPlan, wh::PlanError> {
        let request = convert::plan_request_from_wit(request).map_err(convert::plan_error)?;
        P::plan(&request).map(convert::component_plan).map_err(convert::plan_error)
    }

    fn health(object: String) -> wh::HealthStatus {
        let health = match serde_json::from_str::<serde_json::Value>(&object) {
            Ok(value) => P::health(&value),
            Err(e) => capstan_core::Health::Degraded(format!(
                "the engine sent an object that is not valid JSON: {e}"
            )),
        };
        convert::health(health)
    }
}

/// Implements the generated `policy` interface for a policy type.
/// Not for direct use: `export_policy!(MyPolicy)` names it for you.
#[doc(hidden)]
pub struct PolicyAdapter<P>(PhantomData<P>);

impl<P: Policy + 'static> wp::Guest for PolicyAdapter<P> {
    fn describe() -> wp::PolicyMetadata {
        convert::policy_metadata(P::metadata())
    }

    fn check(request: wp::CheckRequest) -> Result<Vec<wp::Violation>, String> {
        let request = convert::check_request_from_wit(request)?;
        P::check(&request).map(|violations| violations.into_iter().map(convert::violation).collect())
    }
}
