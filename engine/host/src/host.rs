//! The plugin host: one wasmtime engine per process, its linker, the epoch
//! ticker, the compiled-plugin cache, and loading plugins.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::time::Instant;

use sha2::{Digest, Sha256};
use wasmtime::StoreContextMut;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache::Cache;
use crate::call::CallState;
use crate::guest::GuestPre;
use crate::plugin::{LoadInfo, Plugin};
use crate::{HostConfig, HostError, bindings, contract};

/// Core instances one plugin instance may create. A Rust component has its
/// module plus a few adapter shims; other toolchains (Python) use more.
const CORE_INSTANCES_PER_PLUGIN: u32 = 20;
/// Linear memories one plugin instance may have (a Rust component has one).
const MEMORIES_PER_PLUGIN: u32 = 2;
/// Tables one plugin instance may have (shims add a couple to the module's).
const TABLES_PER_PLUGIN: u32 = 8;
/// How much of a slot's memory and tables stays mapped between calls.
/// Where the kernel lists the pages a call wrote (PAGEMAP_SCAN, Linux
/// 6.7+), only those are zeroed again and the next call does not fault them
/// back in (a third fewer page faults planning 1,000 components; 4 MiB
/// saved no more than 1). Elsewhere wasmtime zeroes the whole MiB.
const KEEP_RESIDENT: usize = 1 << 20;

/// Runs plugins. Create one per process and share it (it is `Send + Sync`);
/// loaded [`Plugin`]s keep what they need of it alive.
#[derive(Clone)]
pub struct PluginHost {
    pub(crate) inner: Arc<HostInner>,
}

pub(crate) struct HostInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
    pub(crate) config: HostConfig,
    cache: Option<Cache>,
    pub(crate) slots: Slots,
    /// Dropping this stops the epoch ticker.
    _ticker: mpsc::Sender<()>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl PluginHost {
    /// Sets up wasmtime for `config`: the pooling allocator (when on), the
    /// linker for both hosted contracts, the compiled-plugin cache (one that
    /// cannot be opened is logged and skipped) and the epoch ticker.
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        let engine_err =
            |what: &str, err: &dyn std::fmt::Display| HostError::Engine { reason: format!("{what}: {err}") };
        let mut wasm = wasmtime::Config::new();
        wasm.wasm_component_model(true).epoch_interruption(true);
        if config.pooling {
            // Sized for what the host runs at once, not wasmtime's default of
            // a thousand of everything (which reserves far more address space).
            let n = config.max_concurrent_calls.max(1);
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(n)
                .total_core_instances(n * CORE_INSTANCES_PER_PLUGIN)
                .max_core_instances_per_component(CORE_INSTANCES_PER_PLUGIN)
                .total_memories(n * MEMORIES_PER_PLUGIN)
                .max_memories_per_component(MEMORIES_PER_PLUGIN)
                .total_tables(n * TABLES_PER_PLUGIN)
                .max_tables_per_component(TABLES_PER_PLUGIN)
                .max_memory_size(usize::try_from(config.memory_limit).unwrap_or(usize::MAX))
                .linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(KEEP_RESIDENT)
                .pagemap_scan(wasmtime::Enabled::Auto)
                // Stacks are for async calls, which the host does not make;
                // a thousand of them cost a thousand guard-page mprotects at start.
                .total_stacks(n);
            wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&wasm).map_err(|e| engine_err("wasmtime configuration", &e))?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| engine_err("linking WASI", &e))?;
        timers_fire_at_once(&mut linker).map_err(|e| engine_err("linking WASI clocks", &e))?;
        bindings::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| engine_err("linking the plugin imports", &e))?;
        bindings::v0_1::Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(|e| engine_err("linking the 0.1 plugin imports", &e))?;

        let cache = config.cache_dir.clone().and_then(|dir| {
            Cache::open(dir, &engine)
                .inspect_err(|why| tracing::warn!("compiled plugins are not cached: {why}"))
                .ok()
        });
        let ticker =
            crate::limits::start_ticker(&engine).map_err(|e| engine_err("starting the epoch ticker", &e))?;
        let slots = Slots::new(config.max_concurrent_calls.max(1));
        Ok(Self { inner: Arc::new(HostInner { engine, linker, config, cache, slots, _ticker: ticker }) })
    }

    /// The configuration it was created with.
    pub fn config(&self) -> &HostConfig {
        &self.inner.config
    }

    /// Loads the plugin in a `.wasm` file (see [`PluginHost::load_bytes`]).
    pub fn load_file(&self, path: &Path) -> Result<Plugin, HostError> {
        let wasm = std::fs::read(path).map_err(|source| HostError::Read { path: path.to_owned(), source })?;
        self.load_bytes(&path.display().to_string(), &wasm)
    }

    /// Loads a plugin: from the compiled-plugin cache when it holds this exact
    /// wasm for this exact engine, else by compiling (and caching) it; then
    /// checks its contract version and asks it to describe itself.
    /// `name_hint` names the plugin in errors until it has said its name.
    pub fn load_bytes(&self, name_hint: &str, wasm: &[u8]) -> Result<Plugin, HostError> {
        let started = Instant::now();
        let digest = hex::encode(Sha256::digest(wasm));
        let (component, from_cache) = self.component(name_hint, &digest, wasm)?;
        let contract = contract::check(&self.inner.engine, &component, name_hint)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| HostError::Link { plugin: name_hint.to_owned(), reason: format!("{e:#}") })?;
        let pre = GuestPre::new(contract, pre)
            .map_err(|e| HostError::Link { plugin: name_hint.to_owned(), reason: format!("{e:#}") })?;
        let load = LoadInfo { from_cache, elapsed: started.elapsed() };
        Plugin::describe(self.inner.clone(), contract, pre, digest, name_hint, load)
    }

    fn component(&self, name_hint: &str, digest: &str, wasm: &[u8]) -> Result<(Component, bool), HostError> {
        let engine = &self.inner.engine;
        if let Some(cache) = &self.inner.cache {
            match cache.load(engine, digest) {
                Ok(Some(component)) => return Ok((component, true)),
                Ok(None) => {}
                Err(why) => tracing::warn!(plugin = name_hint, "ignoring the cached compiled plugin: {why}"),
            }
        }
        let component = Component::new(engine, wasm)
            .map_err(|e| HostError::Compile { plugin: name_hint.to_owned(), reason: format!("{e:#}") })?;
        if let Some(cache) = &self.inner.cache
            && let Err(why) = cache.store(digest, &component)
        {
            tracing::warn!(plugin = name_hint, "could not cache the compiled plugin: {why}");
        }
        Ok((component, false))
    }
}

/// The version of `wasi:clocks` that wasmtime-wasi 48 links (semver-compatible
/// imports of older 0.2.x versions resolve to it).
const WASI_CLOCKS: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Replaces WASI's timers with ones that are ready at once. A sleeping guest
/// blocks inside host code, where epoch interruption cannot reach it, so a
/// real timer would let a plugin hold a thread past its time limit; and a pure
/// plugin has nothing to wait for. A guest that waits in a loop instead spins,
/// and the time limit stops it.
fn timers_fire_at_once(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(WASI_CLOCKS)?;
    clock.func_wrap("subscribe-duration", |mut store: StoreContextMut<'_, CallState>, (_,): (u64,)| {
        Ok((store.data_mut().ready_pollable()?,))
    })?;
    clock.func_wrap("subscribe-instant", |mut store: StoreContextMut<'_, CallState>, (_,): (u64,)| {
        Ok((store.data_mut().ready_pollable()?,))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A counting semaphore: at most as many calls run as the pool has slots, so
/// a burst of parallel calls waits instead of failing to instantiate.
pub(crate) struct Slots {
    free: Mutex<u32>,
    freed: Condvar,
}

impl Slots {
    fn new(n: u32) -> Self {
        Self { free: Mutex::new(n), freed: Condvar::new() }
    }

    pub(crate) fn acquire(&self) -> SlotGuard<'_> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
        *free -= 1;
        SlotGuard(self)
    }
}

pub(crate) struct SlotGuard<'a>(&'a Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.0.freed.notify_one();
    }
}
