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
    /// wasmtime could not be configured, the host's imports linked or the
    /// epoch ticker started ([`PluginHost::new`](crate::PluginHost::new)).
    /// Not the plugin's doing.
    #[error("could not set up the plugin engine: {reason}")]
    Engine {
        /// The step that failed and wasmtime's error.
        reason: String,
    },
    /// The plugin's `.wasm` file could not be read.
    #[error("could not read plugin {}: {source}", path.display())]
    Read {
        /// The file, as given to [`PluginHost::load_file`](crate::PluginHost::load_file).
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// wasmtime could not compile the bytes as a component: a core module,
    /// say, or a corrupt file.
    #[error("plugin {plugin} is not a valid WebAssembly component: {reason}")]
    Compile {
        /// The name hint it was loaded under, such as its file's path.
        plugin: String,
        /// wasmtime's error, with its causes.
        reason: String,
    },
    /// The component exports no `capstan:plugin/handler` of any version:
    /// it is some other component.
    #[error(
        "plugin {plugin} exports neither Capstan plugin interface ({package}/handler for a component plugin, {package}/policy for a policy); is it a Capstan plugin?"
    )]
    NotAPlugin {
        /// The name hint it was loaded under, such as its file's path.
        plugin: String,
        /// The WIT package looked for, [`capstan_core::CONTRACT_PACKAGE`].
        package: &'static str,
    },
    /// The component speaks a version of the contract this engine does not
    /// host: rebuild it against the current one, or use an engine that
    /// hosts its version.
    #[error(
        "plugin {plugin} was built for contract {package}@{found}, but this engine hosts {package} {hosted}; rebuild the plugin against {package}@{current} or use an engine that hosts {found}",
        current = capstan_core::CONTRACT_VERSION
    )]
    IncompatibleContract {
        /// The name hint it was loaded under, such as its file's path.
        plugin: String,
        /// The WIT package, [`capstan_core::CONTRACT_PACKAGE`].
        package: &'static str,
        /// The version the plugin exports, such as `0.3.0` (as written, even
        /// when it is not semver).
        found: String,
        /// The versions this engine hosts, such as `0.2.0 and 0.1.0`.
        hosted: String,
    },
    /// The component imports something the host does not provide (it
    /// provides WASI 0.2 and the contract's `log`).
    #[error("plugin {plugin} needs imports this engine does not provide: {reason}")]
    Link {
        /// The name hint it was loaded under, such as its file's path.
        plugin: String,
        /// wasmtime's error, naming the import.
        reason: String,
    },
    /// The plugin's `describe` call failed, or its metadata breaks the
    /// contract (an empty name, a version that is not semver, a schema that
    /// is not JSON).
    #[error("plugin {plugin} failed to describe itself: {cause}")]
    Describe {
        /// The name hint it was loaded under, such as its file's path.
        plugin: String,
        /// Why the call failed.
        cause: CallFailure,
    },
    /// [`Plugin::with_limits`](crate::Plugin::with_limits) asked for more
    /// memory than the pooling allocator sized every instance slot for:
    /// raise the host's memory limit or lower the plugin's.
    #[error(
        "plugin {plugin}: a memory limit of {} is above the {} every call's instance slot is sized for",
        human_bytes(*asked),
        human_bytes(*pool)
    )]
    MemoryAbovePool {
        /// The plugin's name and version.
        plugin: String,
        /// The memory limit asked for, in bytes.
        asked: u64,
        /// [`HostConfig::memory_limit`](crate::HostConfig::memory_limit), in
        /// bytes.
        pool: u64,
    },
}

/// A call into a loaded plugin failed. The engine keeps running; only the
/// component the call was for is affected.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin} failed{}: {cause}", for_component(component.as_ref()))]
pub struct CallError {
    /// The plugin's name and version, such as `capstan/app 0.1.0`.
    pub plugin: Arc<str>,
    /// The component the call was for, if the caller named one.
    pub component: Option<ComponentId>,
    /// What went wrong.
    pub cause: CallFailure,
}

fn for_component(component: Option<&ComponentId>) -> String {
    component.map(|c| format!(" for component {c}")).unwrap_or_default()
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    /// The call ran past its wall-clock limit and was interrupted: a loop,
    /// or more work than the limit allows.
    #[error("exceeded its time limit of {limit:?}")]
    Timeout {
        /// [`Limits::timeout`](crate::Limits::timeout).
        limit: Duration,
    },
    /// The plugin tried to grow its memory past the limit.
    #[error("exceeded its memory limit of {}", human_bytes(*limit))]
    OutOfMemory {
        /// [`Limits::memory`](crate::Limits::memory), in bytes.
        limit: u64,
    },
    /// The plugin handed back more bytes than the limit allows, as an
    /// export's result or a host call's arguments.
    #[error("returned more than its output limit of {} from `{export}`", human_bytes(*limit as u64))]
    OutputTooLarge {
        /// The export called, such as `plan`.
        export: &'static str,
        /// [`Limits::output`](crate::Limits::output), in bytes.
        limit: usize,
    },
    /// The plugin ran out of stack.
    #[error("overflowed its stack (unbounded recursion?)")]
    StackOverflow,
    /// A Rust plugin panicked (its panic message was on its stderr).
    #[error("panicked: {message}")]
    Panic {
        /// The panic message and where, such as
        /// `out of frobs (at src/lib.rs:4:5)`.
        message: String,
    },
    /// The plugin trapped for any other reason (`unreachable`, an
    /// out-of-bounds access, an instantiation that failed).
    #[error("trapped: {message}")]
    Trap {
        /// wasmtime's description of the trap or error.
        message: String,
    },
    /// The plugin answered, but the answer breaks the contract.
    #[error("returned output that breaks the contract: {reason}")]
    BadOutput {
        /// What is wrong, such as `object #2 is not valid JSON: …`.
        reason: String,
    },
    /// The sandbox could not be set up: the granted component directory
    /// could not be opened.
    #[error("could not be instantiated: {reason}")]
    Instantiate {
        /// What failed, naming the directory.
        reason: String,
    },
    /// The engine asked a policy plugin to plan, or a component plugin to
    /// check a plan: the plugin was used in the wrong place.
    #[error("has no `{export}` export: it is a {} plugin", if *policy { "policy" } else { "component" })]
    WrongKind {
        /// The export asked for.
        export: &'static str,
        /// Whether the plugin is a policy (else a component plugin).
        policy: bool,
    },
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
