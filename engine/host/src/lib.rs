//! The plugin host: runs Capstan plugins (WASI 0.2 components speaking the
//! `capstan:plugin` contract: component plugins, and since 0.2 policy
//! plugins) on wasmtime, sandboxed and under limits.
//!
//! - No ambient authority: a plugin gets no env vars, args, network or
//!   filesystem; its clocks read zero and its randomness is a stream fixed
//!   by the plugin and the component (plans are pure); its stdout/stderr and `log` calls go
//!   to a [`LogSink`], tagged with plugin and component and capped in size,
//!   with the call's sensitive values (a request's sensitive inputs and its
//!   dependencies' sensitive outputs, a live Secret's data) redacted first;
//!   a line or panic that held one fails the call with
//!   [`CallFailure::Leaked`]. The one grant is a read-only view of the
//!   component's own directory.
//! - Every call gets a fresh `Store` from a cached `InstancePre`, under a
//!   memory limit and a wall-clock limit (epoch interruption), so a plugin
//!   that loops, allocates without bound, overflows its stack, panics or
//!   breaks the contract fails that call with a [`CallError`] naming the
//!   plugin, the component and the cause; the host carries on.
//! - Compiled plugins are cached on disk, keyed by the wasm's digest and the
//!   engine's version and settings, and loaded only when their HMAC under
//!   the user's private key verifies (else compiled again).
//!
//! This is the only crate that knows wasmtime's `Store` layout and the
//! generated bindings; it exposes `capstan_core` types only. It does not find
//! plugins, check signatures, or decide which capabilities are granted: the
//! caller passes what the operator granted in a [`CallContext`].

mod bindings;
mod cache;
mod call;
mod config;
mod contract;
mod convert;
mod determinism;
mod error;
mod guest;
mod host;
mod limits;
mod output;
mod plugin;

pub use call::COMPONENT_DIR_GUEST_PATH;
pub use config::{HostConfig, Limits, LogSink, TracingSink};
pub use error::{CallError, CallFailure, HostError};
pub use host::PluginHost;
pub use output::TRUNCATION_MARKER;
pub use plugin::{CallContext, LoadInfo, Plugin};
