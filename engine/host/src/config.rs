//! The operator-facing knobs of the host and where guest output goes.
//!
//! Every limit is chosen here, with the reason, so there is one place to read
//! what a plugin may use.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use capstan_core::{ComponentId, LogLevel};

/// How the plugin host runs plugins.
#[derive(Clone)]
pub struct HostConfig {
    /// Linear memory one call may use, across all of the plugin's memories.
    /// 64 MiB is far more than a plugin building a few dozen manifests needs,
    /// and small enough that many calls can run side by side.
    pub memory_limit: u64,
    /// Wall-clock time one call may take. Planning is pure computation over a
    /// small request; two seconds is generous and still stops a loop quickly.
    pub call_timeout: Duration,
    /// Bytes one call may hand back to the host (an export's result, or one
    /// host call's arguments), counted by wasmtime's hostcall fuel as it
    /// copies them out of the guest, so nothing larger is ever allocated on
    /// the host. 8 MiB is hundreds of manifests; the host's own work on the
    /// result (parsing, schema compilation) stays a small multiple of it.
    pub output_limit: usize,
    /// Where compiled plugins are cached; `None` compiles on every load. The
    /// directory is created 0700 and holds the user's cache key (`key`,
    /// 0600); a directory another user owns is not used.
    pub cache_dir: Option<PathBuf>,
    /// Bytes of guest output (stdout, stderr and `log` messages together)
    /// kept per call; the rest is dropped and a truncation marker logged, so a
    /// chatty or hostile plugin cannot fill the engine's memory or logs.
    pub log_cap: usize,
    /// Where guest output goes.
    pub log_sink: Arc<dyn LogSink>,
    /// How many calls may run at once; further calls wait for a free slot.
    /// The pooling allocator reserves instance slots for this many up front.
    pub max_concurrent_calls: u32,
    /// Use wasmtime's pooling allocator (faster instantiation, memory reserved
    /// up front). Turn off where virtual address space is scarce.
    pub pooling: bool,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            memory_limit: 64 * 1024 * 1024,
            call_timeout: Duration::from_secs(2),
            output_limit: 8 * 1024 * 1024,
            cache_dir: None,
            log_cap: 64 * 1024,
            log_sink: Arc::new(TracingSink),
            max_concurrent_calls: 16,
            pooling: true,
        }
    }
}

impl HostConfig {
    /// The limits every plugin runs under unless it is given its own.
    pub fn limits(&self) -> Limits {
        Limits { memory: self.memory_limit, timeout: self.call_timeout, output: self.output_limit }
    }
}

/// What one call into a plugin may use. A plugin gets the host's
/// ([`HostConfig::limits`]) or its own ([`crate::Plugin::with_limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory, across all of the plugin's memories.
    pub memory: u64,
    /// Wall-clock time.
    pub timeout: Duration,
    /// Bytes handed back to the host at once.
    pub output: usize,
}

impl std::fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostConfig")
            .field("memory_limit", &self.memory_limit)
            .field("call_timeout", &self.call_timeout)
            .field("output_limit", &self.output_limit)
            .field("cache_dir", &self.cache_dir)
            .field("log_cap", &self.log_cap)
            .field("max_concurrent_calls", &self.max_concurrent_calls)
            .field("pooling", &self.pooling)
            .finish_non_exhaustive()
    }
}

/// Receives what plugins print or log, tagged with who said it.
pub trait LogSink: Send + Sync {
    /// `plugin` is the plugin's name and version (or its file while loading);
    /// `component` is the component the call was for, if any.
    fn log(&self, plugin: &str, component: Option<&ComponentId>, level: LogLevel, message: &str);
}

/// The default sink: `tracing` events with `plugin` and `component` fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingSink;

impl LogSink for TracingSink {
    fn log(&self, plugin: &str, component: Option<&ComponentId>, level: LogLevel, message: &str) {
        let component = component.map(ToString::to_string).unwrap_or_default();
        match level {
            LogLevel::Trace => tracing::trace!(plugin, component, "{message}"),
            LogLevel::Debug => tracing::debug!(plugin, component, "{message}"),
            LogLevel::Info => tracing::info!(plugin, component, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin, component, "{message}"),
            LogLevel::Error => tracing::error!(plugin, component, "{message}"),
        }
    }
}
