//! A loaded plugin and the calls the engine makes into it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use capstan_core::leaks::Secrets;
use capstan_core::{
    CheckRequest, CheckedPlan, ComponentId, ComponentPlan, Diagnostic, Health, Metadata, PlanError,
    PlanRequest, Severity, Violation,
};

use crate::call::CallState;
use crate::contract::Contract;
use crate::guest::{Guest, GuestPre};
use crate::host::HostInner;
use crate::{CallError, CallFailure, HostError, Limits, convert};

/// Who a call is for and what it may see.
#[derive(Clone, Debug, Default)]
pub struct CallContext {
    /// The component the call is for; names it in logs and errors.
    pub component: Option<ComponentId>,
    /// The component's directory, mounted read-only at
    /// [`COMPONENT_DIR_GUEST_PATH`](crate::COMPONENT_DIR_GUEST_PATH). `Some`
    /// only where the operator granted the `read-component-dir` capability.
    pub component_dir: Option<PathBuf>,
    /// The sensitive values of the call, redacted from what the plugin logs
    /// or prints (a hit fails the call with [`CallFailure::Leaked`]). Calls
    /// handed a request or a live object find them there; these are added.
    pub secrets: Arc<Secrets>,
}

impl CallContext {
    /// A call for `component`, with no directory and no further secrets.
    pub fn for_component(component: ComponentId) -> Self {
        Self { component: Some(component), ..Self::default() }
    }

    /// This context, naming the request's component when it names none,
    /// guarding the request's sensitive values.
    fn for_request(&self, req: &PlanRequest) -> Self {
        let mut secrets = Secrets::of_request(req);
        secrets.extend(&self.secrets);
        Self {
            component: Some(self.component.clone().unwrap_or_else(|| req.component.clone())),
            component_dir: self.component_dir.clone(),
            secrets: Arc::new(secrets),
        }
    }

    /// This context guarding a live Secret's values (`health` is handed the
    /// object as the cluster holds it).
    fn for_object(&self, object: &serde_json::Value) -> Self {
        let mut secrets = Secrets::of_object(object);
        if secrets.is_empty() {
            return self.clone();
        }
        secrets.extend(&self.secrets);
        Self { secrets: Arc::new(secrets), ..self.clone() }
    }
}

/// How a plugin was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadInfo {
    /// The compiled code came from the cache (no compilation).
    pub from_cache: bool,
    /// Time to get compiled code and pre-instantiate it (without `describe`).
    pub elapsed: Duration,
}

/// A loaded plugin, cheap to clone and to share between threads. Every call
/// runs in a fresh instance, so nothing leaks from one call to the next
/// (`validate_and_plan` asks both questions of one instance: they are about
/// the same component and the same inputs).
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
    limits: Limits,
}

struct PluginInner {
    host: Arc<HostInner>,
    pre: GuestPre,
    contract: Contract,
    metadata: Metadata,
    digest: String,
    /// `name version`, as errors and logs show it.
    label: Arc<str>,
    load: LoadInfo,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("plugin", &self.inner.label)
            .field("digest", &self.inner.digest)
            .finish()
    }
}

impl Plugin {
    pub(crate) fn describe(
        host: Arc<HostInner>,
        contract: Contract,
        pre: GuestPre,
        digest: String,
        name_hint: &str,
        load: LoadInfo,
    ) -> Result<Self, HostError> {
        let label: Arc<str> = Arc::from(name_hint);
        let limits = host.config.limits();
        let call = Call { host: &host, pre: &pre, label: &label, digest: &digest, limits };
        let metadata = call
            .run(&CallContext::default(), "describe", |store, h| h.call_describe(store))
            .and_then(|m| convert::metadata(m).map_err(|reason| CallFailure::BadOutput { reason }))
            .map_err(|cause| HostError::Describe { plugin: name_hint.to_owned(), cause })?;
        let label = Arc::from(format!("{} {}", metadata.name, metadata.version));
        Ok(Self {
            inner: Arc::new(PluginInner { host, pre, contract, metadata, digest, label, load }),
            limits,
        })
    }

    /// This plugin under its own limits instead of the host's (client.hcl's
    /// `plugin_limits`). Memory cannot exceed what the host sizes every
    /// instance slot for.
    pub fn with_limits(&self, limits: Limits) -> Result<Self, HostError> {
        let pool = self.inner.host.config.memory_limit;
        if limits.memory > pool && self.inner.host.config.pooling {
            return Err(HostError::MemoryAbovePool {
                plugin: self.inner.label.to_string(),
                asked: limits.memory,
                pool,
            });
        }
        Ok(Self { inner: self.inner.clone(), limits })
    }

    /// The limits its calls run under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// What it said of itself when it was loaded (`describe`).
    pub fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    /// `name version`, as logs and errors name the plugin.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// The version of the `capstan:plugin` contract it was built against.
    pub fn contract(&self) -> semver::Version {
        self.inner.contract.version()
    }

    /// The SHA-256 of the plugin's wasm, in hex.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// Whether it came from the compiled-plugin cache, and how long loading
    /// took.
    pub fn load_info(&self) -> LoadInfo {
        self.inner.load
    }

    /// Checks inputs beyond what the plugin's JSON Schema can say.
    pub fn validate(
        &self,
        cx: &CallContext,
        inputs: &serde_json::Value,
    ) -> Result<Vec<Diagnostic>, CallError> {
        let inputs = capstan_core::json_text(inputs);
        self.component_call(
            cx,
            "validate",
            |store, h| h.call_validate(store, &inputs),
            |ds| Ok(convert::diagnostics(ds)),
        )
    }

    /// Plans a component. The outer error is the plugin failing (a trap, a
    /// limit, broken output); the inner one is the plugin's own answer that
    /// it cannot plan these inputs.
    pub fn plan(
        &self,
        cx: &CallContext,
        req: &PlanRequest,
    ) -> Result<Result<ComponentPlan, PlanError>, CallError> {
        let cx = cx.for_request(req);
        let request = convert::plan_request(req);
        self.component_call(&cx, "plan", |store, h| h.call_plan(store, &request), convert::plan_result)
    }

    /// `validate`, then `plan` when no error was found, in one instance under
    /// one call's limits: a component's plan costs one instantiation, not two.
    pub fn validate_and_plan(&self, cx: &CallContext, req: &PlanRequest) -> Result<CheckedPlan, CallError> {
        let cx = cx.for_request(req);
        let request = convert::plan_request(req);
        self.component_call(
            &cx,
            "validate",
            |store, h| {
                // The same JSON text as the plan request's: serialised once.
                let diagnostics = convert::diagnostics(h.call_validate(&mut *store, &request.inputs)?);
                if diagnostics.iter().any(|d| d.severity == Severity::Error) {
                    return Ok(Err(diagnostics));
                }
                store.data_mut().export = "plan";
                h.call_plan(store, &request).map(|plan| Ok((plan, diagnostics)))
            },
            |answer| match answer {
                Err(diagnostics) => Ok(CheckedPlan::Invalid(diagnostics)),
                Ok((plan, warnings)) => {
                    convert::plan_result(plan).map(|answer| CheckedPlan::Planned { answer, warnings })
                }
            },
        )
    }

    /// How a live object this plugin planned is doing.
    pub fn health(&self, cx: &CallContext, object: &serde_json::Value) -> Result<Health, CallError> {
        let cx = cx.for_object(object);
        let object = capstan_core::json_text(object);
        self.component_call(
            &cx,
            "health",
            |store, h| h.call_health(store, &object),
            |h| Ok(convert::health(h)),
        )
    }

    /// Whether it is a policy plugin (contract 0.2's `policy-plugin`
    /// world): it checks plans and plans nothing.
    pub fn is_policy(&self) -> bool {
        matches!(self.inner.pre, GuestPre::Policy(_))
    }

    /// A policy's check of one component's plan. The outer error is the
    /// plugin failing (a trap, a limit, broken output, or not a policy);
    /// the inner one is the policy's own answer that it cannot check (params
    /// it cannot use). The request's objects should come through
    /// [`capstan_core::without_secret_values`]: a policy has no need of a
    /// secret, and this call guards only `cx`'s.
    pub fn check(
        &self,
        cx: &CallContext,
        req: &CheckRequest,
    ) -> Result<Result<Vec<Violation>, String>, CallError> {
        if !self.is_policy() {
            return Err(self.wrong_kind(cx, "check"));
        }
        let request = convert::check_request(req);
        let objects = req.objects.len();
        self.call(
            cx,
            "check",
            |store, g| g.call_check(store, &request),
            |r| convert::check_result(r, objects),
        )
    }

    fn wrong_kind(&self, cx: &CallContext, export: &'static str) -> CallError {
        CallError {
            plugin: self.inner.label.clone(),
            component: cx.component.clone(),
            cause: CallFailure::WrongKind { export, policy: self.is_policy() },
        }
    }

    /// A call only a component plugin answers.
    fn component_call<R, T>(
        &self,
        cx: &CallContext,
        export: &'static str,
        f: impl FnOnce(&mut wasmtime::Store<CallState>, &Guest) -> wasmtime::Result<R>,
        convert: impl FnOnce(R) -> Result<T, convert::Reason>,
    ) -> Result<T, CallError> {
        if self.is_policy() {
            return Err(self.wrong_kind(cx, export));
        }
        self.call(cx, export, f, convert)
    }

    fn call<R, T>(
        &self,
        cx: &CallContext,
        export: &'static str,
        f: impl FnOnce(&mut wasmtime::Store<CallState>, &Guest) -> wasmtime::Result<R>,
        convert: impl FnOnce(R) -> Result<T, convert::Reason>,
    ) -> Result<T, CallError> {
        let inner = &self.inner;
        let call = Call {
            host: &inner.host,
            pre: &inner.pre,
            label: &inner.label,
            digest: &inner.digest,
            limits: self.limits,
        };
        call.run(cx, export, f)
            .and_then(|r| convert(r).map_err(|reason| CallFailure::BadOutput { reason }))
            .map_err(|cause| CallError {
                plugin: inner.label.clone(),
                component: cx.component.clone(),
                cause,
            })
    }
}

/// What one call needs of a plugin.
struct Call<'a> {
    host: &'a HostInner,
    pre: &'a GuestPre,
    label: &'a Arc<str>,
    digest: &'a str,
    limits: Limits,
}

impl Call<'_> {
    /// Runs `f` on a fresh instance under the call's limits, then forwards
    /// the guest's captured output to the log sink.
    fn run<R>(
        &self,
        cx: &CallContext,
        export: &'static str,
        f: impl FnOnce(&mut wasmtime::Store<CallState>, &Guest) -> wasmtime::Result<R>,
    ) -> Result<R, CallFailure> {
        let config = &self.host.config;
        let _slot = self.host.slots.acquire();
        let state = CallState::new(config, self.limits, export, self.label.clone(), self.digest, cx)?;
        let mut store = state.into_store(&self.host.engine);
        let result = self.pre.instantiate(&mut store).and_then(|guest| f(&mut store, &guest));
        let state = store.data();
        // A leak fails the call whatever it answered: the answer of a
        // plugin that mishandles secrets is not trusted further.
        if let Some(leak) = state.flush_output() {
            return Err(CallFailure::Leaked(Box::new(leak)));
        }
        result.map_err(|err| {
            let failure = state.classify(&err);
            state.leak_in(&failure).map_or(failure, |leak| CallFailure::Leaked(Box::new(leak)))
        })
    }
}
