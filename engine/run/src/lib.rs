//! One run of Capstan as a library: load a stack, resolve its plugins by one
//! rule ([`plugins`]), plan, apply with state recorded per component, remove
//! what left the tree, check saved plans, destroy, and change state by hand
//! (`state mv|rm|import`: [`Session::plan_move`] and its neighbours).
//!
//! A front end makes an [`Engine`] (the plugin host, the built-in plugins as
//! data, the operator's [`Surroundings`] and its [`Events`]), opens a
//! [`Session`] and calls it between its own prompts. This crate never prints,
//! prompts or reads the process environment, and it holds no planning or
//! executor logic of its own: that is capstan-plan and the executors; this
//! crate wires them and keeps the order of a run.

// A run's errors are rare and end the command; a large error value costs nothing measurable.
#![allow(clippy::result_large_err, reason = "RegistryError is large, and run errors are rare")]

mod binding;
mod check;
mod drivers;
mod engine;
mod error;
pub mod events;
mod outputs;
mod plan_cache;
pub mod plugins;
pub mod report;
mod revisions;
mod rollback;
mod saved_plan;
mod session;
mod setup;
mod surgery;
mod targets;

pub use check::{Stream, check_policies, resolved_inputs, stream, validate};
pub use drivers::Drivers;
pub use engine::{Engine, LockfileMode, RunOptions, TargetChoice};
pub use error::{RunError, chain};
pub use events::{Events, Notice, Phase, Silent};
pub use plan_cache::{PLAN_CACHE_DIR, PlanCache};
pub use revisions::{environments_in_scope, parse_revision};
pub use rollback::{Rollback, RollbackStep, RolledBack, RolledObject, StepChange};
pub use session::{Applied, Plan, Seams, Session, Settings};
pub use setup::{Surroundings, load_stack, state_backend};
pub use surgery::{Forget, Import, Move, Operated};
pub use targets::{Kube, Relocated, Render, Target};
