//! What the planner needs from the outside, as traits: the plugin runtime,
//! the place objects go (a target) and the drivers that run effects. The CLI
//! wires the real ones (capstan-host, capstan-render, capstan-sql); tests
//! can use plugins written natively against the SDK.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use capstan_core::{
    CheckRequest, CheckedPlan, ComponentId, ComponentPlan, Diagnostic, Effect, Health, Metadata, PlanRequest,
    Severity, Violation,
};

/// A failure outside the plugin's own answer: a trap, a limit, a driver
/// error. Its text names what failed and never holds a secret value.
pub type SeamError = Box<dyn std::error::Error + Send + Sync>;

/// A loaded plugin.
pub trait PluginHandle: Send + Sync {
    /// Name, version, component type, input schema and defaults.
    fn metadata(&self) -> &Metadata;
    /// The sha256 of its code, recorded in state.
    fn digest(&self) -> &str;
    /// The plugin's own checks of `inputs`, beyond the schema.
    fn validate(&self, component: &ComponentId, inputs: &Value) -> Result<Vec<Diagnostic>, SeamError>;
    /// `component_dir` is given only when the operator granted `read-component-dir`.
    fn plan(
        &self,
        component_dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<Result<ComponentPlan, capstan_core::PlanError>, SeamError>;
    /// `validate` on the request's inputs, then `plan` if it found no error.
    /// A runtime that can ask both of one instance overrides this.
    fn validate_and_plan(
        &self,
        component_dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<CheckedPlan, SeamError> {
        let diagnostics = self.validate(&request.component, &request.inputs)?;
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            return Ok(CheckedPlan::Invalid(diagnostics));
        }
        let answer = self.plan(component_dir, request)?;
        Ok(CheckedPlan::Planned { answer, warnings: diagnostics })
    }
    /// How one live object this plugin planned is doing (its `health` export).
    fn health(&self, component: &ComponentId, object: &Value) -> Result<Health, SeamError>;
}

/// A loaded policy plugin (see [`crate::policy`]).
pub trait PolicyHandle: Send + Sync {
    /// Name, version, rules, params schema and defaults.
    fn metadata(&self) -> &Metadata;
    /// The policy's check of one component's plan. The outer error is the
    /// plugin failing; the inner one its own refusal (params it cannot use).
    fn check(
        &self,
        component: &ComponentId,
        request: &CheckRequest,
    ) -> Result<Result<Vec<Violation>, String>, SeamError>;
}

/// Finds the plugin a component, or a `policy` block, asks for.
pub trait PluginResolver: Send + Sync {
    /// Loads plugin `name` at a version matching `version`, as the component
    /// asks; which one when several match is the resolver's choice.
    fn resolve(&self, name: &str, version: &semver::VersionReq) -> Result<Arc<dyn PluginHandle>, SeamError>;

    /// Loads policy plugin `name` at a version matching `version`, as a
    /// `policy` block asks, by the same rules. A resolver that loads no
    /// policy plugins (a test's) says so.
    fn resolve_policy(
        &self,
        name: &str,
        version: &semver::VersionReq,
    ) -> Result<Arc<dyn PolicyHandle>, SeamError> {
        Err(format!("policy plugin {name} {version}: this runtime loads no policy plugins").into())
    }
}

/// Answers plugins gave before, kept to be given again when the same
/// plugin build is asked the same question: plugins are deterministic (no
/// clock, seeded randomness, no I/O but what the request holds), so the
/// answer is the one the plugin would give. An optimisation only: a cache
/// that cannot read or write an entry behaves as if it had none.
pub trait AnswerCache: Send + Sync {
    /// What the plugin whose code has digest `plugin` answered to `request`
    /// (its `validate` and `plan`), if kept and intact.
    fn get(&self, plugin: &str, request: &PlanRequest) -> Option<CheckedPlan>;
    /// Keeps `answer` as the plugin's to `request`.
    fn put(&self, plugin: &str, request: &PlanRequest, answer: &CheckedPlan);
}

pub use capstan_core::ObjectRef;

/// The component a target acts for, with what a target needs of it.
#[derive(Clone, Copy, Debug)]
pub struct ComponentRef<'a> {
    /// Its key in the tree and in state (`envs/dev/web/api`): the kube
    /// target marks the objects it applies with it.
    pub key: &'a str,
    /// Its environment, namespace and name.
    pub id: &'a ComponentId,
    /// How long its objects may take to be ready, when its component.hcl
    /// says (`ready_timeout`); otherwise the target's default.
    pub ready_timeout: Option<Duration>,
}

/// Where objects are applied: the render directory, or a cluster.
pub trait ObjectTarget: Send + Sync {
    /// What the target holds now for this object, if anything.
    fn current(&self, component: ComponentRef<'_>, object: &ObjectRef) -> Result<Option<Value>, SeamError>;
    /// Whether the target holds `desired` (a normalised object of the
    /// component) exactly, known without reading it back: the render
    /// target's record of the files it wrote. False when it cannot tell;
    /// the planner then reads the object with [`ObjectTarget::current`].
    fn holds(&self, component: ComponentRef<'_>, desired: &Value) -> bool {
        let _ = (component, desired);
        false
    }
    /// Makes the component's objects exactly `objects`; removes `prune`
    /// (objects it had before that left the plan).
    fn apply(
        &self,
        component: ComponentRef<'_>,
        objects: &[Value],
        prune: &[ObjectRef],
    ) -> Result<(), SeamError>;
    /// Waits until `health` (the plugin's own rules) calls every object
    /// ready, within the component's timeout. A target with nothing live
    /// (render) has nothing to wait for.
    fn wait_ready(
        &self,
        component: ComponentRef<'_>,
        objects: &[ObjectRef],
        health: &(dyn Fn(&Value) -> Result<Health, SeamError> + Sync),
    ) -> Result<(), SeamError> {
        let _ = (component, objects, health);
        Ok(())
    }
    /// Removes everything the component applied (`objects`, as state
    /// recorded them): on destroy, or once the component left the tree.
    fn remove(&self, component: ComponentRef<'_>, objects: &[ObjectRef]) -> Result<(), SeamError>;
}

/// Runs declared effects on the connections the operator configured.
pub trait EffectRunner: Send + Sync {
    /// Runs one effect and returns its result body (a JSON summary or the
    /// API's response), which is handed back to the plugin.
    fn run(&self, component: &ComponentId, effect: &Effect) -> Result<Value, SeamError>;

    /// What on the effect's server differs from what the effect declares,
    /// one line each, read without changing anything: asked at plan time
    /// about effects state shows already ran, so a change made by hand
    /// (a policy edited in Vault's UI) shows and is put back by apply. A
    /// kind whose driver cannot look (SQL statements, AWS calls) has
    /// nothing to say.
    fn drift(&self, component: &ComponentId, effect: &Effect) -> Result<Vec<String>, SeamError> {
        let _ = (component, effect);
        Ok(Vec::new())
    }
}
