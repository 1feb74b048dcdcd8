//! The run loop end to end with native test plugins: no wasm, no binary.
//! A stack is written to a temporary directory, planned and applied to the
//! render target, with state in the local backend.
//!
//! Modules:
//! - `support`: the stack on disk, the native plugins, the effect runner.
//! - `apply`: state recorded per component, failures skipping dependents.
//! - `orphans`: components that left the tree are removed.
//! - `saved_plan`: a plan saved earlier is refused when it went stale.

#![allow(clippy::unwrap_used, reason = "a panic in the test support is the failure report")]

mod apply;
mod orphans;
mod saved_plan;
mod support;
