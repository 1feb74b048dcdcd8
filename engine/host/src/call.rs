//! One call into a plugin: a fresh `Store` with a deny-by-default WASI
//! context, the memory and time limits, captured output, and the mapping from
//! whatever went wrong to a [`CallFailure`].

use std::sync::Arc;

use capstan_core::ComponentId;
use capstan_core::leaks::{Leak, LogStream, Place, Secrets};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime::{Store, Trap};
use wasmtime_wasi::p2::{DynPollable, Pollable};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::{effects, log, types, v0_1};
use crate::limits::{MemoryLimiter, deadline_ticks};
use crate::output::Capture;
use crate::{CallContext, CallFailure, HostConfig, Limits, LogSink, convert};

/// What wasmtime says when a copy out of the guest runs out of hostcall fuel.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// Where the granted component directory appears inside the guest.
pub const COMPONENT_DIR_GUEST_PATH: &str = "/component";

/// The data of one call's `Store`. Only this crate knows its layout.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) capture: Capture,
    sink: Arc<dyn LogSink>,
    plugin: Arc<str>,
    component: Option<ComponentId>,
    limits: Limits,
    /// The export being called, for a limit error.
    pub(crate) export: &'static str,
    /// The sensitive values the call was handed: redacted from everything
    /// the plugin logs or prints before it reaches the sink.
    secrets: Arc<Secrets>,
    /// The first sensitive value the plugin logged; it fails the call.
    leak: Option<Leak>,
}

impl CallState {
    /// A sandbox with nothing in it: no env, no args, no network, no
    /// filesystem (unless `cx` grants the component directory, read-only), stdio
    /// captured, and randomness and clocks that depend only on the plugin
    /// (`plugin_digest`) and the component, so a plan cannot depend on when
    /// or where it ran.
    pub(crate) fn new(
        config: &HostConfig,
        limits: Limits,
        export: &'static str,
        plugin: Arc<str>,
        plugin_digest: &str,
        cx: &CallContext,
    ) -> Result<Self, CallFailure> {
        let capture = Capture::new(config.log_cap);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(capture.stdout())
            .stderr(capture.stderr())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        crate::determinism::make_deterministic(&mut wasi, plugin_digest, cx.component.as_ref());
        if let Some(dir) = &cx.component_dir {
            wasi.preopened_dir(dir, COMPONENT_DIR_GUEST_PATH, FsPerms::ReadOnly).map_err(|err| {
                CallFailure::Instantiate {
                    reason: format!("cannot open the component directory {}: {err}", dir.display()),
                }
            })?;
        }
        Ok(Self {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits.memory),
            capture,
            sink: config.log_sink.clone(),
            plugin,
            component: cx.component.clone(),
            limits,
            export,
            secrets: cx.secrets.clone(),
            leak: None,
        })
    }

    pub(crate) fn into_store(self, engine: &wasmtime::Engine) -> Store<Self> {
        let limits = self.limits;
        let mut store = Store::new(engine, self);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(deadline_ticks(limits.timeout));
        store.epoch_deadline_trap();
        // Bounds every copy out of the guest: an export's result before it
        // is allocated on the host, and each host call's arguments.
        store.set_hostcall_fuel(limits.output);
        store
    }

    /// Sends the call's captured stdout/stderr to the log sink, redacted;
    /// gives the first sensitive value the plugin logged or printed.
    pub(crate) fn flush_output(&self) -> Option<Leak> {
        let printed =
            self.capture.flush_to(self.sink.as_ref(), &self.plugin, self.component.as_ref(), &self.secrets);
        self.leak.clone().or(printed)
    }

    /// A panic message holding a sensitive value, as a leak.
    pub(crate) fn leak_in(&self, failure: &CallFailure) -> Option<Leak> {
        match failure {
            CallFailure::Panic { message } => self.secrets.in_text(message, Place::Panic),
            _ => None,
        }
    }

    /// Why a call failed, from the error and what the store saw.
    pub(crate) fn classify(&self, err: &wasmtime::Error) -> CallFailure {
        if self.limiter.exceeded {
            return CallFailure::OutOfMemory { limit: self.limits.memory };
        }
        // wasmtime's error type for it is private; its message is not.
        if err.chain().any(|cause| cause.to_string().contains(HOSTCALL_FUEL_EXHAUSTED)) {
            return CallFailure::OutputTooLarge { export: self.export, limit: self.limits.output };
        }
        let trap = err.downcast_ref::<Trap>();
        match trap {
            Some(Trap::Interrupt) => return CallFailure::Timeout { limit: self.limits.timeout },
            Some(Trap::StackOverflow) => return CallFailure::StackOverflow,
            _ => {}
        }
        if let Some(message) = self.capture.panic_message() {
            return CallFailure::Panic { message };
        }
        match trap {
            Some(trap) => CallFailure::Trap { message: trap.to_string() },
            None => CallFailure::Trap { message: format!("{err:#}") },
        }
    }
}

impl CallState {
    /// A pollable that is always ready (see `timers_fire_at_once`).
    pub(crate) fn ready_pollable(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let ready = self.table.push(Ready)?;
        wasmtime_wasi::p2::subscribe(&mut self.table, ready)
    }
}

struct Ready;

#[wasmtime_wasi::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) {
        // Redacted before it is cut to the budget, which could split a value.
        if self.leak.is_none() {
            self.leak = self.secrets.in_text(&message, Place::Log(LogStream::Log));
        }
        let message = self.secrets.scrub(&message);
        if let Some(message) = self.capture.admit_log(&message) {
            self.sink.log(&self.plugin, self.component.as_ref(), convert::log_level(level), message);
        }
    }
}

impl types::Host for CallState {}
impl effects::Host for CallState {}

impl v0_1::log::Host for CallState {
    fn log(&mut self, level: v0_1::log::Level, message: String) {
        let level = match level {
            v0_1::log::Level::Trace => log::Level::Trace,
            v0_1::log::Level::Debug => log::Level::Debug,
            v0_1::log::Level::Info => log::Level::Info,
            v0_1::log::Level::Warn => log::Level::Warn,
            v0_1::log::Level::Error => log::Level::Error,
        };
        log::Host::log(self, level, message);
    }
}

impl v0_1::types::Host for CallState {}
impl v0_1::effects::Host for CallState {}
