//! From a loaded stack to a plan a person can review, and from a reviewed
//! plan to applied changes, in dependency order and in parallel.
//!
//! This crate knows the component graph, the scheduler, how to compare
//! desired objects with what is there and what to record. It does not parse
//! HCL (capstan-config), run wasm (capstan-host), or talk to a cluster, a
//! database or the state store: those come in through the traits in
//! [`seams`] and as values, so the planner is tested with native plugins.

pub mod apply;
pub mod contracts;
pub mod diff;
pub mod objects;
pub mod planner;
pub mod policy;
pub mod schedule;
pub mod seams;
pub mod secrets_digest;

pub use apply::{Applied, ApplyStep, apply_component, apply_component_observed};
pub use capstan_config::{ComponentGraph, GraphError};
pub use diff::{FieldChange, diff_objects};
pub use planner::{
    Action, ComponentError, ComponentPlanned, EffectChange, InputProblem, ObjectChange, PlanContext,
    plan_component,
};
pub use policy::{Cause, Policies, PolicyError, PolicyFinding, Waiver, params_over_defaults};
pub use schedule::{DepResults, Outcome};
pub use seams::{
    AnswerCache, ComponentRef, EffectRunner, ObjectRef, ObjectTarget, PluginHandle, PluginResolver,
    PolicyHandle, SeamError,
};

/// The graph of every component a loaded stack holds (the loader built it
/// and refused cycles, so this only hands over a copy).
pub fn stack_graph(stack: &capstan_config::Stack) -> Result<ComponentGraph, GraphError> {
    Ok(stack.graph().clone())
}
