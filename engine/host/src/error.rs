//! What can go wrong loading a plugin or calling it, each naming the plugin
//! (and, for calls, the component) so an operator knows where to look.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use capstan_core::ComponentId;

/// Loading a plugin failed: the engine could not set itself up, or the plugin
/// file could not be read, compiled, or does not speak our contract.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("could not set up the plugin engine: {reason}")]
    Engine { reason: String },
    #[error("could not read plugin {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("plugin {plugin} is not a valid WebAssembly component: {reason}")]
    Compile { plugin: String, reason: String },
    #[error(
        "plugin {plugin} does not export the Capstan plugin interface ({package}/handler); is it a Capstan plugin?"
    )]
    NotAPlugin { plugin: String, package: &'static str },
    #[error(
        "plugin {plugin} was built for contract {package}@{found}, but this engine hosts {package} {hosted}; rebuild the plugin against {package}@{current} or use an engine that hosts {found}",
        current = capstan_core::CONTRACT_VERSION
    )]
    IncompatibleContract { plugin: String, package: &'static str, found: String, hosted: String },
    #[error("plugin {plugin} needs imports this engine does not provide: {reason}")]
    Link { plugin: String, reason: String },
    #[error("plugin {plugin} failed to describe itself: {cause}")]
    Describe { plugin: String, cause: CallFailure },
    #[error(
        "plugin {plugin}: a memory limit of {} is above the {} every call's instance slot is sized for",
        human_bytes(*asked),
        human_bytes(*pool)
    )]
    MemoryAbovePool { plugin: String, asked: u64, pool: u64 },
}

/// A call into a loaded plugin failed. The engine keeps running; only the
/// component the call was for is affected.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} failed{}: {cause}", for_component(component.as_ref()))]
pub struct CallError {
    /// The plugin's name and version, such as `capstan/app 0.1.0`.
    pub plugin: Arc<str>,
    pub component: Option<ComponentId>,
    pub cause: CallFailure,
}

fn for_component(component: Option<&ComponentId>) -> String {
    component.map(|c| format!(" for component {c}")).unwrap_or_default()
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    #[error("exceeded its time limit of {limit:?}")]
    Timeout { limit: Duration },
    #[error("exceeded its memory limit of {}", human_bytes(*limit))]
    OutOfMemory { limit: u64 },
    #[error("returned more than its output limit of {} from `{export}`", human_bytes(*limit as u64))]
    OutputTooLarge { export: &'static str, limit: usize },
    #[error("overflowed its stack (unbounded recursion?)")]
    StackOverflow,
    #[error("panicked: {message}")]
    Panic { message: String },
    #[error("trapped: {message}")]
    Trap { message: String },
    #[error("returned output that breaks the contract: {reason}")]
    BadOutput { reason: String },
    #[error("could not be instantiated: {reason}")]
    Instantiate { reason: String },
    /// The plugin logged, printed or panicked with a sensitive value of the
    /// call. The line reached the log redacted; the answer is dropped.
    /// (Boxed: the largest variant would otherwise size every result.)
    #[error("{0}")]
    Leaked(Box<capstan_core::leaks::Leak>),
}

pub(crate) fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) { format!("{} MiB", n / MIB) } else { format!("{n} bytes") }
}
