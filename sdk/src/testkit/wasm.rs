//! Runs a built plugin through the real engine host (feature `host`): the
//! same wasmtime sandbox, limits and WIT conversions `capstan plan` uses, so
//! a test here proves the `.wasm` works, not only the Rust code behind it.
//! A policy runs the same way, through [`CheckCall::run_wasm`].
//!
//! ```no_run
//! # use capstan_sdk::testkit::{PlanCall, wasm};
//! # use serde_json::json;
//! let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
//! let wasm_file = wasm::build(std::path::Path::new(manifest), "my-plugin").unwrap();
//! let plan = PlanCall::new(json!({"image": "nginx"})).run_wasm(&wasm_file).unwrap().unwrap();
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use capstan_core::{ComponentId, ComponentPlan, PlanError, PlanRequest, Violation};
use capstan_host::{CallContext, CallError, HostConfig, HostError, Plugin, PluginHost};

use super::{CheckCall, CheckError, PlanCall};

/// The host could not load the plugin, or a call into it failed (a trap, a
/// limit, output that breaks the contract). A plugin's own refusal to plan
/// is not this: it is the inner `Result` of [`run_plan`].
#[derive(Debug)]
pub enum WasmError {
    /// [`build`] failed: cargo failed or built no `.wasm` for the package.
    Build(String),
    /// The host could not start or could not load the `.wasm`.
    Load(HostError),
    /// A call into the plugin failed: a trap, a limit, or output that breaks the contract.
    Call(CallError),
}

impl fmt::Display for WasmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasmError::Build(e) => write!(f, "building the plugin failed: {e}"),
            WasmError::Load(e) => e.fmt(f),
            WasmError::Call(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for WasmError {}

/// Builds `package` of the workspace at `manifest` for `wasm32-wasip2` with
/// the `plugin` profile (into `<workspace>/target/wasm`) and returns its `.wasm`.
pub fn build(manifest: &Path, package: &str) -> Result<PathBuf, WasmError> {
    let spec = capstan_wasm_build::Spec::new(manifest, [package]);
    let mut built = capstan_wasm_build::build(&spec).map_err(|e| WasmError::Build(e.to_string()))?;
    built.remove(package).ok_or_else(|| WasmError::Build(format!("no .wasm was built for `{package}`")))
}

/// Loads a plugin with the engine's default limits. Pooling is off: a test
/// loads a few plugins and should not reserve address space for many.
pub fn load(wasm: &Path) -> Result<Plugin, WasmError> {
    load_with(wasm, HostConfig { pooling: false, ..HostConfig::default() })
}

/// Loads a plugin with a host configured by the test: another `log_sink` to
/// check what the plugin logs, tighter limits, a cache directory.
pub fn load_with(wasm: &Path, config: HostConfig) -> Result<Plugin, WasmError> {
    let host = PluginHost::new(config).map_err(WasmError::Load)?;
    host.load_file(wasm).map_err(WasmError::Load)
}

/// Calls `plan` of the plugin in `wasm` with `request` as it is (no defaults
/// merged, no schema check; see [`PlanCall::run_wasm`] for those).
pub fn run_plan(wasm: &Path, request: &PlanRequest) -> Result<Result<ComponentPlan, PlanError>, WasmError> {
    let plugin = load(wasm)?;
    plugin.plan(&CallContext::for_component(request.component.clone()), request).map_err(WasmError::Call)
}

impl PlanCall {
    /// Like [`PlanCall::run`], with every call (describe, validate, plan)
    /// going into the built plugin through the real host.
    pub fn run_wasm(&self, wasm: &Path) -> Result<Result<ComponentPlan, PlanError>, WasmError> {
        let plugin = load(wasm)?;
        let cx = CallContext::for_component(self.request.component.clone());
        self.pipeline(
            || Ok(plugin.metadata().clone()),
            |inputs| plugin.validate(&cx, inputs).map_err(WasmError::Call),
            |request| plugin.plan(&cx, request).map_err(WasmError::Call),
        )
    }
}

impl CheckCall {
    /// Like [`CheckCall::run`], with `describe` and `check` going into the
    /// built policy through the real host.
    pub fn run_wasm(&self, wasm: &Path) -> Result<Result<Vec<Violation>, CheckError>, WasmError> {
        let plugin = load(wasm)?;
        let subject = &self.request.subject;
        let cx = CallContext::for_component(ComponentId {
            name: subject.name.clone(),
            environment: subject.environment.clone(),
            namespace: subject.namespace.clone(),
        });
        self.pipeline(
            || Ok(plugin.metadata().clone()),
            |request| plugin.check(&cx, request).map_err(WasmError::Call),
        )
    }
}
