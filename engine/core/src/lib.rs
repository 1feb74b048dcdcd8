//! Capstan's shared vocabulary: the `capstan:plugin` WIT contract as plain,
//! serde-friendly Rust types.
//!
//! Both sides of the sandbox use these types: the engine (which converts the
//! host bindings into them) and the SDK (which converts them into the guest
//! bindings). Keeping one definition means a field added to the contract is
//! added once, and engine crates never see wasmtime's generated types.
//!
//! This crate does no I/O, knows nothing of wasmtime or wit-bindgen, and
//! builds for `wasm32-wasip2` as well as for the host.

mod effects;
pub mod inventory;
pub mod leaks;
mod object;
mod outcome;
mod plugin;
mod policy;
mod secrets;
mod sensitive;

pub use effects::*;
pub use object::{MissingField, ObjectRef};
pub use outcome::{EffectSummary, OpOutcome, Outcome};
pub use plugin::*;
pub use policy::*;
pub use secrets::{SecretProvider, SecretSourceError};
pub use sensitive::{REDACTED, Sensitive, Text};

/// The version of the `capstan:plugin` WIT package plugins are built against
/// today (`wit/capstan-plugin.wit`).
pub const CONTRACT_VERSION: semver::Version = semver::Version::new(0, 2, 0);

/// Every version of the package this engine hosts, newest first: the current
/// one and the frozen 0.1 (`wit/v0.1/`), whose plugins keep running.
pub const HOSTED_CONTRACTS: [semver::Version; 2] = [CONTRACT_VERSION, semver::Version::new(0, 1, 0)];

/// The WIT package name, without version.
pub const CONTRACT_PACKAGE: &str = "capstan:plugin";

/// A JSON value as the text that crosses the plugin boundary (the WIT
/// contract carries JSON as strings). Written straight into a buffer: the
/// `Display` impl would pass every fragment through a formatter, which
/// showed in the profile of a plan.
pub fn json_text(value: &serde_json::Value) -> String {
    // Serialising a `Value` into memory cannot fail (its keys are strings);
    // the fallback only keeps this free of panics.
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}
