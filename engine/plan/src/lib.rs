//! From a loaded stack to a plan a person can review, and the order and
//! parallelism both plan and apply run in.
//!
//! This crate knows the component graph, the scheduler and how to compare
//! desired objects with what is there. It does not parse HCL (capstan-config),
//! run wasm (capstan-host) or touch a cluster, a database or the disk
//! (the executors and capstan-state).

pub mod diff;
pub mod graph;
pub mod schedule;

pub use diff::{FieldChange, diff_objects};
pub use graph::ComponentGraph;
pub use schedule::{DepResults, Outcome};

/// Problems with the shape of the component graph.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    #[error("dependency cycle: {}", path.join(" -> "))]
    Cycle { path: Vec<String> },
    #[error("component {component} depends on {dependency}, which is not in the stack")]
    UnknownDependency { component: String, dependency: String },
}
