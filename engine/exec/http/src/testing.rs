//! Test support (feature `moto`): `capstan-aws`'s real `moto_server`, and
//! plans applied to it as `capstan apply` applies them. Used by the tests of
//! capstan-http and of the AWS plugins.

pub use capstan_aws::testing::*;
use capstan_core::{ComponentPlan, EffectResult};

use crate::HttpExecutor;

/// Applies every effect of `plan` in order, returning the results; an effect
/// that fails panics with its id and summary.
pub fn apply_all(exec: &HttpExecutor, plan: &ComponentPlan) -> Vec<EffectResult> {
    plan.effects
        .iter()
        .map(|e| EffectResult {
            id: e.id.clone(),
            body: exec.apply(e).unwrap_or_else(|err| panic!("{} ({}): {err}", e.id, e.summary)),
        })
        .collect()
}
