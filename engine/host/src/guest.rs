//! The handler a plugin exports, whichever hosted contract it was built
//! against. Calls take and give the current contract's types; a 0.1 plugin's
//! are carried across by name (see `bindings`), so the rest of the host knows
//! one contract.

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasmtime::Store;
use wasmtime::component::InstancePre;

use crate::bindings::{self, handler, policy, types, v0_1};
use crate::call::CallState;
use crate::contract::Contract;

/// A plugin linked and ready to instantiate, per contract.
pub(crate) enum GuestPre {
    Current(bindings::PluginPre<CallState>),
    V0_1(v0_1::PluginPre<CallState>),
    Policy(policy::PolicyPluginPre<CallState>),
}

/// One instance's exports.
pub(crate) enum Guest {
    Current(bindings::Plugin),
    V0_1(v0_1::Plugin),
    Policy(policy::PolicyPlugin),
}

/// What a plugin says of itself, in the words of its world.
pub(crate) enum Described {
    Component(handler::Metadata),
    Policy(policy::policy::PolicyMetadata),
}

impl GuestPre {
    pub(crate) fn new(contract: Contract, pre: InstancePre<CallState>) -> wasmtime::Result<Self> {
        Ok(match contract {
            Contract::Current => Self::Current(bindings::PluginPre::new(pre)?),
            Contract::V0_1 => Self::V0_1(v0_1::PluginPre::new(pre)?),
            Contract::Policy => Self::Policy(policy::PolicyPluginPre::new(pre)?),
        })
    }

    pub(crate) fn instantiate(&self, store: &mut Store<CallState>) -> wasmtime::Result<Guest> {
        Ok(match self {
            Self::Current(pre) => Guest::Current(pre.instantiate(store)?),
            Self::V0_1(pre) => Guest::V0_1(pre.instantiate(store)?),
            Self::Policy(pre) => Guest::Policy(pre.instantiate(store)?),
        })
    }
}

impl Guest {
    pub(crate) fn call_describe(&self, store: &mut Store<CallState>) -> wasmtime::Result<Described> {
        Ok(match self {
            Self::Current(g) => Described::Component(g.capstan_plugin_handler().call_describe(store)?),
            Self::V0_1(g) => {
                Described::Component(upgrade(&g.capstan_plugin_handler().call_describe(store)?)?)
            }
            Self::Policy(g) => Described::Policy(g.capstan_plugin_policy().call_describe(store)?),
        })
    }

    /// A policy's check of one component's plan. Only a policy plugin is
    /// asked (the caller checks the kind first).
    pub(crate) fn call_check(
        &self,
        store: &mut Store<CallState>,
        request: &policy::policy::CheckRequest,
    ) -> wasmtime::Result<Result<Vec<policy::policy::Violation>, String>> {
        match self {
            Self::Policy(g) => g.capstan_plugin_policy().call_check(store, request),
            Self::Current(_) | Self::V0_1(_) => Err(wrong_kind("check")),
        }
    }

    pub(crate) fn call_validate(
        &self,
        store: &mut Store<CallState>,
        inputs: &String,
    ) -> wasmtime::Result<Vec<types::Diagnostic>> {
        match self {
            Self::Current(g) => g.capstan_plugin_handler().call_validate(store, inputs),
            Self::V0_1(g) => upgrade(&g.capstan_plugin_handler().call_validate(store, inputs)?),
            Self::Policy(_) => Err(wrong_kind("validate")),
        }
    }

    pub(crate) fn call_plan(
        &self,
        store: &mut Store<CallState>,
        request: &handler::PlanRequest,
    ) -> wasmtime::Result<Result<handler::ComponentPlan, handler::PlanError>> {
        match self {
            Self::Current(g) => g.capstan_plugin_handler().call_plan(store, request),
            Self::V0_1(g) => {
                let request: v0_1::handler::PlanRequest = upgrade(request)?;
                upgrade_plan(&g.capstan_plugin_handler().call_plan(store, &request)?)
            }
            Self::Policy(_) => Err(wrong_kind("plan")),
        }
    }

    pub(crate) fn call_health(
        &self,
        store: &mut Store<CallState>,
        object: &String,
    ) -> wasmtime::Result<handler::HealthStatus> {
        match self {
            Self::Current(g) => g.capstan_plugin_handler().call_health(store, object),
            Self::V0_1(g) => upgrade(&g.capstan_plugin_handler().call_health(store, object)?),
            Self::Policy(_) => Err(wrong_kind("health")),
        }
    }
}

/// A call the plugin's world does not export. `Plugin` checks the kind
/// before calling, so this is reached only through an engine bug.
fn wrong_kind(export: &str) -> wasmtime::Error {
    wasmtime::Error::msg(format!("the engine called `{export}` on a plugin that does not export it"))
}

/// A 0.1 plan answer as a 0.2 one: the same, with no `warnings` (0.2 added
/// the list, and an absent list is not an empty one to serde).
fn upgrade_plan(
    answer: &Result<v0_1::handler::ComponentPlan, v0_1::handler::PlanError>,
) -> wasmtime::Result<Result<handler::ComponentPlan, handler::PlanError>> {
    match answer {
        Ok(plan) => {
            let v0_1::handler::ComponentPlan { objects, effects, outputs } = plan;
            Ok(Ok(handler::ComponentPlan {
                objects: objects.clone(),
                effects: upgrade(&effects)?,
                outputs: upgrade(&outputs)?,
                warnings: Vec::new(),
            }))
        }
        Err(e) => Ok(Err(upgrade(e)?)),
    }
}

/// A value of one contract version as the same value of another: every name
/// a 0.1 value uses means the same in 0.2, and a 0.2 request holds nothing
/// 0.1 lacks. The error names no value (a request may hold secrets).
fn upgrade<A: Serialize, B: DeserializeOwned>(value: &A) -> wasmtime::Result<B> {
    serde_json::to_value(value).and_then(serde_json::from_value).map_err(|err| {
        wasmtime::Error::msg(format!(
            "the engine's 0.1 and current contract bindings disagree ({:?} error); this is an engine bug",
            err.classify()
        ))
    })
}
