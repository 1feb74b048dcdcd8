//! What the planner's tests share: native plugins behind the engine's seam,
//! a resolver over them, a target that holds nothing, and a stack loaded
//! from a temporary directory with empty state.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use capstan_config::{Command, Stack};
use capstan_plan::{
    ComponentError, ComponentPlanned, ComponentRef, ObjectRef, ObjectTarget, Outcome, PlanContext,
    PluginHandle, PluginResolver, SeamError, plan_component, schedule, stack_graph,
};
use capstan_sdk::prelude::*;
use capstan_state::{State, StateKey};
use serde_json::Value;

/// A [`PluginHandle`] over a plugin written against the SDK and called
/// natively, as the wasm host would call its guest.
pub struct Native<P> {
    metadata: Metadata,
    _plugin: std::marker::PhantomData<fn() -> P>,
}

impl<P: Plugin + 'static> Native<P> {
    pub fn handle() -> Arc<dyn PluginHandle> {
        Arc::new(Self { metadata: P::metadata(), _plugin: std::marker::PhantomData })
    }
}

impl<P: Plugin + 'static> PluginHandle for Native<P> {
    fn metadata(&self) -> &Metadata {
        &self.metadata
    }
    fn digest(&self) -> &str {
        "native"
    }
    fn validate(&self, _: &ComponentId, inputs: &Value) -> Result<Vec<Diagnostic>, SeamError> {
        Ok(P::validate(inputs))
    }
    fn plan(
        &self,
        _: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<Result<ComponentPlan, PlanError>, SeamError> {
        Ok(P::plan(request))
    }
    fn health(&self, _: &ComponentId, object: &Value) -> Result<Health, SeamError> {
        Ok(P::health(object))
    }
}

/// Plugins by name, whatever version is asked for.
pub struct Plugins(pub BTreeMap<&'static str, Arc<dyn PluginHandle>>);

impl PluginResolver for Plugins {
    fn resolve(&self, name: &str, _: &semver::VersionReq) -> Result<Arc<dyn PluginHandle>, SeamError> {
        self.0.get(name).cloned().ok_or_else(|| format!("no plugin named {name}").into())
    }
}

/// A target that holds nothing and accepts everything.
pub struct Empty;

impl ObjectTarget for Empty {
    fn current(&self, _: ComponentRef<'_>, _: &ObjectRef) -> Result<Option<Value>, SeamError> {
        Ok(None)
    }
    fn apply(&self, _: ComponentRef<'_>, _: &[Value], _: &[ObjectRef]) -> Result<(), SeamError> {
        Ok(())
    }
    fn remove(&self, _: ComponentRef<'_>, _: &[ObjectRef]) -> Result<(), SeamError> {
        Ok(())
    }
}

/// A stack in a temporary directory, its plugins, and empty state.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub stack: Stack,
    pub plugins: Plugins,
    pub state: State,
    pub key: StateKey,
}

impl Fixture {
    /// `stack`, loaded from `dir` (kept until the fixture is dropped).
    pub fn new(dir: tempfile::TempDir, stack: Stack, plugins: Plugins) -> Self {
        Self { _dir: dir, stack, plugins, state: State::new().unwrap(), key: StateKey::generate().unwrap() }
    }

    /// What planning and applying a component of the stack need.
    pub fn cx(&self) -> PlanContext<'_> {
        static NO_POLICIES: std::sync::LazyLock<capstan_plan::Policies> =
            std::sync::LazyLock::new(capstan_plan::Policies::none);
        PlanContext {
            stack: &self.stack,
            plugins: &self.plugins,
            target: &Empty,
            state: &self.state,
            state_key: &self.key,
            secrets_digest_key: Some(&self.key),
            command: Command::Plan,
            policies: &NO_POLICIES,
            effects: None,
            answers: None,
        }
    }

    /// Every component planned, dependencies first.
    pub fn plan(&self) -> BTreeMap<String, Outcome<ComponentPlanned, ComponentError>> {
        let cx = self.cx();
        schedule::run(&stack_graph(&self.stack).unwrap(), 2, |key, deps| plan_component(&cx, key, deps))
    }
}
