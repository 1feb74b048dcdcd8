//! Planning one component: its inputs resolved with its dependencies'
//! outputs, checked, handed to its plugin, and the answer compared with what
//! the target holds and what state recorded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::Value;

use capstan_config::{Command, Component, DependencyOutputs, Origin, Stack};
use capstan_core::leaks::{Leak, Place, Secrets};
use capstan_core::{
    Capability, CheckedPlan, ComponentId, Dependency, Diagnostic, Effect, EffectResult, Metadata, Output,
    PlanRequest, Severity,
};
use capstan_state::{ComponentState, PluginRef, State, StateKey};

use crate::diff::{FieldChange, diff_objects};
use crate::objects;
use crate::policy::{self, PolicyFinding};
use crate::schedule::DepResults;
use crate::seams::{
    AnswerCache, ComponentRef, EffectRunner, ObjectRef, ObjectTarget, PluginHandle, PluginResolver, SeamError,
};
use crate::secrets_digest::{self, RenderedSecrets};

/// Everything planning reads. Nothing here is written while planning.
pub struct PlanContext<'a> {
    /// The loaded stack: every component, its HCL and its dependencies.
    pub stack: &'a Stack,
    /// Loads the plugin each component names.
    pub plugins: &'a dyn PluginResolver,
    /// Where objects go; asked what it holds now, to diff against.
    pub target: &'a dyn ObjectTarget,
    /// What the last apply recorded, for deletions, effects already run and
    /// changed outputs.
    pub state: &'a State,
    /// The key state digests are made with, so they can be compared with
    /// those recorded.
    pub state_key: &'a StateKey,
    /// The key of the pod templates' [`secrets_digest::ANNOTATION`]: the
    /// state key when the objects are applied, a key derived from the
    /// operator's identity for a stream (stable from one render to the
    /// next, so a sync does not roll every pod), `None` for a check whose
    /// objects go nowhere (the annotation is left out).
    pub secrets_digest_key: Option<&'a StateKey>,
    /// The command being run: it decides whether a missing dependency output
    /// may fall back to `mock_outputs` (never for apply).
    pub command: Command,
    /// The policies each component's objects are checked against
    /// ([`Policies::none`] for none).
    pub policies: &'a policy::Policies,
    /// Where effects run, asked whether effects that already ran still
    /// hold on their servers ([`EffectRunner::drift`]); `None` where the
    /// plan is only checked and nothing is to be read (`capstan validate`).
    pub effects: Option<&'a dyn EffectRunner>,
    /// Answers plugins gave before to the same requests, asked before the
    /// plugin is; `None` to ask every plugin.
    pub answers: Option<&'a dyn AnswerCache>,
}

/// What happens to one object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", content = "changes", rename_all = "kebab-case")]
pub enum Action {
    /// The target does not hold it yet.
    Create,
    /// The target holds it with these fields different.
    Update(Vec<FieldChange>),
    /// The target holds it as planned.
    Unchanged,
    /// State recorded it, but the plugin no longer plans it: it is pruned.
    Delete,
}

/// One object of a component's plan and what happens to it.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectChange {
    /// Which object: API version, kind, namespace and name.
    pub object: ObjectRef,
    /// What applying the plan does to it.
    #[serde(flatten)]
    pub action: Action,
    /// In clear (Secrets included): for the target only, never shown.
    #[serde(skip)]
    pub manifest: Option<Value>,
    /// [`ObjectChange::digest`], made on first use.
    #[serde(skip)]
    digest: OnceLock<String>,
}

impl ObjectChange {
    fn new(object: ObjectRef, action: Action, manifest: Option<Value>) -> Self {
        Self { object, action, manifest, digest: OnceLock::new() }
    }

    /// The planned object's digest as state records it
    /// ([`capstan_state::object_digest`]: Secret values keyed-hashed under
    /// `key`), made once for the plan's digest, the state record and
    /// whatever else asks; `None` for a deletion. Every call of one plan
    /// passes the same key: the session's state key.
    pub fn digest(&self, key: &StateKey) -> Option<&str> {
        let manifest = self.manifest.as_ref()?;
        Some(self.digest.get_or_init(|| capstan_state::object_digest(key, manifest)))
    }
}

/// One effect a component's plugin declared, and whether apply runs it.
#[derive(Debug, Clone, Serialize)]
pub struct EffectChange {
    /// The effect's id, stable within the component.
    pub id: String,
    /// The connection (sql, amqp, jetstream, vault) or service (http) it runs on.
    pub target: String,
    /// The plugin's one-line description, shown in the plan.
    pub summary: String,
    /// False when state shows the same effect already ran and its server
    /// still holds what it declares.
    pub run: bool,
    /// What changed on the server since the effect ran (by hand, by
    /// another tool), one line each; apply runs the effect again to put
    /// it back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    /// In clear (passwords included): for the driver only, never shown.
    #[serde(skip)]
    pub effect: Effect,
}

/// One component's plan.
#[derive(Clone, Serialize)]
pub struct ComponentPlanned {
    /// The component's key: its directory relative to the stack root.
    pub key: String,
    /// Its environment, namespace and name.
    pub id: ComponentId,
    /// The plugin that planned it: name, version and code digest, as state
    /// records them.
    pub plugin: PluginRef,
    /// False for components loaded only because a target depends on them:
    /// they are planned for their outputs and never applied.
    pub in_target: bool,
    /// Digest of the resolved inputs (sensitive values keyed-hashed), as
    /// state records it.
    pub inputs_digest: String,
    /// Every object the plugin planned, in its order, then those to delete.
    pub objects: Vec<ObjectChange>,
    /// Every effect the plugin declared, in its order.
    pub effects: Vec<EffectChange>,
    /// Sensitive values stay inside; `Output`'s Debug redacts them and the
    /// plan's text and JSON show them as "(sensitive)".
    #[serde(serialize_with = "serialize_outputs")]
    pub outputs: Arc<[Output]>,
    /// Names of outputs whose value differs from what state recorded.
    pub changed_outputs: Vec<String>,
    /// What the plugin warned about (not errors), in `validate` and in its
    /// plan.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<InputProblem>,
    /// What the policies found that does not block it: violations of
    /// `audit` policies, warnings, and errors a named exception waives.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policy_findings: Vec<PolicyFinding>,
    /// Whether the plugin's answer came from [`PlanContext::answers`]
    /// rather than from a call (for the run report; a plan is the same
    /// either way).
    #[serde(skip)]
    pub answer_cached: bool,
    #[serde(skip)]
    pub(crate) handle: Arc<dyn PluginHandle>,
    #[serde(skip)]
    pub(crate) request: PlanRequest,
    #[serde(skip)]
    pub(crate) component_dir: Option<PathBuf>,
    /// The Secrets it and its dependencies render (keyed hashes only), for
    /// its dependents' pod templates (see [`secrets_digest`]).
    #[serde(skip)]
    pub(crate) secrets: Arc<RenderedSecrets>,
}

impl std::fmt::Debug for ComponentPlanned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentPlanned")
            .field("key", &self.key)
            .field("plugin", &self.plugin)
            .field("objects", &self.objects.iter().map(|o| (&o.object, &o.action)).collect::<Vec<_>>())
            .field("effects", &self.effects.iter().map(|e| (&e.id, e.run)).collect::<Vec<_>>())
            .field("outputs", &self.outputs)
            .finish()
    }
}

fn serialize_outputs<S: serde::Serializer>(outputs: &[Output], s: S) -> Result<S::Ok, S::Error> {
    let shown: BTreeMap<&str, Value> = outputs
        .iter()
        .map(|o| {
            let v = if o.sensitive { Value::String(capstan_core::REDACTED.into()) } else { o.value.clone() };
            (o.name.as_str(), v)
        })
        .collect();
    shown.serialize(s)
}

impl ComponentPlanned {
    /// Whether applying it would change anything.
    pub fn has_changes(&self) -> bool {
        self.in_target
            && (self.objects.iter().any(|o| o.action != Action::Unchanged)
                || self.effects.iter().any(|e| e.run)
                || !self.changed_outputs.is_empty())
    }

    /// The objects to apply, in plan order, in clear.
    pub fn desired_objects(&self) -> Vec<Value> {
        self.objects.iter().filter_map(|o| o.manifest.clone()).collect()
    }

    /// The objects to delete: recorded in state, no longer planned.
    pub fn pruned(&self) -> Vec<ObjectRef> {
        self.objects.iter().filter(|o| o.action == Action::Delete).map(|o| o.object.clone()).collect()
    }
}

/// Why one component could not be planned or applied.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// No plugin matching the component's `plugin` and `version` could be
    /// found, verified or loaded.
    #[error("plugin {plugin} {version} could not be loaded: {source}")]
    Resolve {
        /// The plugin name as component.hcl gives it, e.g. `capstan/app`.
        plugin: String,
        /// The version requirement as component.hcl gives it, e.g. `^1.2`.
        version: String,
        /// The resolver's reason.
        source: SeamError,
    },
    /// The key asked for is not a component of the loaded stack (a caller's
    /// mistake, not the operator's).
    #[error("component {0} is not in the stack")]
    NotInStack(String),
    /// The inputs could not be built or do not match the plugin's schema.
    #[error("{0}")]
    Inputs(capstan_config::Diagnostics),
    /// The plugin's `validate`, or its `plan`, found errors in the inputs.
    #[error("plugin {plugin} refused the inputs:{}", list(.problems))]
    Invalid {
        /// The plugin as `name version`, e.g. `capstan/app 1.2.0`.
        plugin: String,
        /// Each error, with where the input was set.
        problems: Vec<InputProblem>,
    },
    /// The plugin declared an effect whose capability the component does
    /// not grant; nothing runs.
    #[error(
        "plugin {plugin} needs capability `{capability}`, which component.hcl does not grant \
         (add it to `grants` in the component block if the plugin should have it)"
    )]
    NotGranted {
        /// The plugin as `name version`.
        plugin: String,
        /// The capability an effect needs, e.g. `sql:main`.
        capability: String,
    },
    /// The call into the plugin failed outside its answer: a trap, a limit,
    /// a runtime error.
    #[error("plugin {plugin} failed: {source}")]
    Call {
        /// The plugin as `name version`.
        plugin: String,
        /// What the runtime reported; checked to hold no secret.
        source: SeamError,
    },
    /// The plugin declined to plan for a reason other than its inputs (a
    /// dependency's outputs it cannot use, say).
    #[error("plugin {plugin} could not plan: {reason}")]
    Refused {
        /// The plugin as `name version`.
        plugin: String,
        /// The plugin's own message.
        reason: String,
    },
    /// The plugin's answer breaks the engine's rules: an object without a
    /// kind or name, the same object twice, its own outputs contract for a
    /// type Capstan ships. A bug in the plugin.
    #[error("plugin {plugin} broke the contract: {reason}")]
    Contract {
        /// The plugin as `name version`.
        plugin: String,
        /// Which rule, and which object.
        reason: String,
    },
    /// The component's HCL `type` is not the type its plugin plans: refused
    /// before the plugin is called, since dependents would read the wrong
    /// contract.
    #[error(
        "component {component} ({at}) declares type `{declared}`, but its plugin {plugin} plans \
         `{plugin_type}` components: use a `{declared}` plugin or change the type"
    )]
    TypeMismatch {
        /// The component's key.
        component: String,
        /// Where its `component` block is, as `file:line:col`.
        at: String,
        /// The `type` the component declares.
        declared: String,
        /// The plugin as `name version`.
        plugin: String,
        /// The component type the plugin plans.
        plugin_type: String,
    },
    /// The plugin's outputs do not satisfy the contract of its type.
    #[error(
        "plugin {plugin} broke the `{component_type}` outputs contract (v{version}):{}",
        list(violations)
    )]
    OutputsContract {
        /// The plugin as `name version`.
        plugin: String,
        /// The component type whose contract was checked.
        component_type: String,
        /// The version of that contract.
        version: u32,
        /// Every rule the outputs break.
        violations: Vec<crate::contracts::Violation>,
    },
    /// An enforcing policy found errors no exception waives: nothing of the
    /// component is applied. `findings` holds every violation found, the
    /// blocking ones first.
    #[error("refused by policy:{}", list(.findings.iter().filter(|f| f.blocks()).collect::<Vec<_>>().as_slice()))]
    Policy {
        /// Every finding of every policy that checked it.
        findings: Vec<PolicyFinding>,
    },
    /// A policy plugin failed, refused to check or misbehaved: a gate that
    /// cannot answer lets nothing through.
    #[error("policy {policy} (plugin {plugin}) could not check it: {reason}")]
    PolicyFailed {
        /// The `policy` block's name.
        policy: String,
        /// The policy plugin as `name version`.
        plugin: String,
        /// What went wrong.
        reason: String,
    },
    /// The target failed to read, apply or wait for the component's objects.
    #[error("target: {0}")]
    Target(SeamError),
    /// An effect that already ran could not be checked against its server
    /// (unreachable, refused): the plan cannot say whether it still holds.
    #[error("effect {id} ({summary}) could not be checked for changes made outside Capstan: {source}")]
    EffectCheck {
        /// The effect's id.
        id: String,
        /// The effect's one-line description.
        summary: String,
        /// The driver's error.
        source: SeamError,
    },
    /// An effect's driver failed (a SQL error, an API refusal, a lost
    /// connection).
    #[error("effect {id} ({summary}) failed: {source}")]
    Effect {
        /// The effect's id.
        id: String,
        /// The effect's one-line description.
        summary: String,
        /// The driver's error.
        source: SeamError,
    },
    /// An applied object could not be turned into its state record.
    #[error("state: {0}")]
    State(String),
    /// A sensitive value of the run was found where it may be shown, logged
    /// or stored. The answer is dropped; `leak` names the place and the
    /// input, never the value.
    #[error(
        "plugin {plugin} leaked a sensitive value at {} (component {component}, the value of {}); \
         it was redacted and the component's plan dropped",
        leak.place,
        leak.secret
    )]
    /// (Boxed: the largest variant would otherwise size every result.)
    Leaked {
        /// The plugin as `name version`.
        plugin: String,
        /// The component's key.
        component: String,
        /// Where the value was found and which input it is.
        leak: Box<Leak>,
    },
}

fn list(items: &[impl std::fmt::Display]) -> String {
    items.iter().map(|i| format!("\n  {i}")).collect()
}

/// A plugin's diagnostic about its inputs, with where the input it is about
/// was set; shown as `path: message (set at file:line (inputs))`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputProblem {
    /// A JSON pointer into the inputs; empty for the component as a whole.
    pub path: String,
    /// What is wrong, as the plugin says it.
    pub message: String,
    /// Where the top-level input at `path` was set, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_at: Option<Origin>,
}

impl InputProblem {
    /// `d`, placed by the origins of the component's inputs.
    fn located(d: &Diagnostic, origins: &BTreeMap<String, Origin>) -> Self {
        let top = d.path.trim_start_matches('/').split('/').next().unwrap_or_default();
        let set_at = if d.path.is_empty() { None } else { origins.get(top).cloned() };
        Self { path: d.path.clone(), message: d.message.clone(), set_at }
    }
}

impl std::fmt::Display for InputProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            return f.write_str(&self.message);
        }
        write!(f, "{}: {}", self.path, self.message)?;
        match &self.set_at {
            Some(origin) => write!(f, " (set at {origin})"),
            None => Ok(()),
        }
    }
}

/// Plans one component; `deps` holds its dependencies' plans by key.
pub fn plan_component(
    cx: &PlanContext<'_>,
    key: &str,
    deps: &DepResults<ComponentPlanned>,
) -> Result<ComponentPlanned, ComponentError> {
    let component = cx.stack.component(key).ok_or_else(|| ComponentError::NotInStack(key.to_string()))?;
    let handle = cx.plugins.resolve(&component.plugin, &component.version).map_err(|source| {
        ComponentError::Resolve {
            plugin: component.plugin.clone(),
            version: component.version.to_string(),
            source,
        }
    })?;
    let meta = handle.metadata();
    let plugin = format!("{} {}", meta.name, meta.version);
    if meta.component_type != component.component_type {
        return Err(ComponentError::TypeMismatch {
            component: key.to_string(),
            at: declared_at(component),
            declared: component.component_type.clone(),
            plugin,
            plugin_type: meta.component_type.clone(),
        });
    }

    let by_name = dependency_plans(component, deps);
    let dep_outputs: BTreeMap<String, DependencyOutputs<'_>> =
        by_name.iter().map(|(name, p)| (name.clone(), DependencyOutputs::new(&*p.outputs))).collect();
    let inputs = component
        .resolve_inputs(&dep_outputs, cx.command, &meta.defaults, &meta.input_schema)
        .map_err(ComponentError::Inputs)?;

    let component_dir =
        grant(component, &Capability::ReadComponentDir).then(|| cx.stack.root.join(&component.dir));
    let recorded = cx.state.components.get(key);
    let request = PlanRequest {
        component: component.id.clone(),
        inputs: inputs.value.clone(),
        sensitive_paths: inputs.sensitive_paths.clone(),
        dependencies: by_name
            .iter()
            .map(|(name, p)| Dependency {
                name: name.clone(),
                component_type: cx
                    .stack
                    .component(&p.key)
                    .map(|c| c.component_type.clone())
                    .unwrap_or_default(),
                outputs: Arc::clone(&p.outputs),
            })
            .collect(),
        files: component.files.clone(),
        effect_results: recorded.map(recorded_results).unwrap_or_default(),
    };
    let inputs_digest = capstan_state::inputs_digest(cx.state_key, &inputs.value, &inputs.sensitive_paths);
    let guard = Guard {
        secrets: Secrets::of_request(&request),
        plugin: &plugin,
        component: key,
        origins: &inputs.origins,
    };
    let (checked, answer_cached) = ask(cx.answers, handle.as_ref(), component_dir.as_deref(), &request)
        .map_err(|source| guard.call_failed(source))?;
    let answer = match checked {
        CheckedPlan::Invalid(diagnostics) => {
            guard.check(guard.secrets.in_diagnostics(&diagnostics))?;
            let problems = diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| InputProblem::located(d, &inputs.origins))
                .collect();
            return Err(ComponentError::Invalid { plugin, problems });
        }
        CheckedPlan::Planned { answer, warnings } => {
            guard.check(guard.secrets.in_diagnostics(&warnings))?;
            let mut answer = guard.answer(answer)?;
            // validate's warnings, then plan's (checked for leaks with the plan).
            let warnings = warnings
                .iter()
                .chain(&std::mem::take(&mut answer.warnings))
                .map(|d| InputProblem::located(d, &inputs.origins))
                .collect();
            (answer, warnings)
        }
    };
    let (answer, warnings) = answer;
    // Every dependency's, each holding its own dependencies': a Secret
    // rendered anywhere upstream is planned by now, whatever runs beside.
    let dependency_secrets = deps.values().map(|p| Arc::clone(&p.secrets)).collect();
    let policy_inputs = policy::Inputs {
        value: &inputs.value,
        sensitive_paths: &inputs.sensitive_paths,
        origins: &inputs.origins,
        secrets: &guard.secrets,
        component_at: component_origin(component),
    };
    let planned = Planned {
        cx,
        key,
        component,
        handle,
        plugin,
        request,
        component_dir,
        recorded,
        inputs_digest,
        dependency_secrets,
    };
    let mut planned = planned.finish(answer, &policy_inputs)?;
    planned.warnings = warnings;
    planned.answer_cached = answer_cached;
    Ok(planned)
}

/// The plugin's `validate` and `plan` of `request`: kept from an earlier
/// run when `answers` has it (then `true`), else asked and kept. A plugin
/// that reads its component's directory is always asked: the request does
/// not hold what it reads.
fn ask(
    answers: Option<&dyn AnswerCache>,
    handle: &dyn PluginHandle,
    component_dir: Option<&std::path::Path>,
    request: &PlanRequest,
) -> Result<(CheckedPlan, bool), SeamError> {
    let Some(answers) = answers.filter(|_| component_dir.is_none()) else {
        return Ok((handle.validate_and_plan(component_dir, request)?, false));
    };
    if let Some(kept) = answers.get(handle.digest(), request) {
        return Ok((kept, true));
    }
    let checked = handle.validate_and_plan(component_dir, request)?;
    answers.put(handle.digest(), request, &checked);
    Ok((checked, false))
}

/// Checks what one component's plugin produced against the sensitive values
/// it was handed, before anything of it is shown, logged, stored or applied.
///
/// Only this component's secrets are looked for (its sensitive inputs and
/// its dependencies' sensitive outputs): another component's secret never
/// reached this plugin. The cost is the strings of the answer times the
/// forms of these few values, so a plan of 10,000 components stays linear.
pub(crate) struct Guard<'a> {
    pub(crate) secrets: Secrets,
    pub(crate) plugin: &'a str,
    pub(crate) component: &'a str,
    /// Where each top-level input was set, so a diagnostic the plugin gives
    /// from `plan` points at HCL as one from `validate` does.
    pub(crate) origins: &'a BTreeMap<String, Origin>,
}

impl Guard<'_> {
    /// Fails the component on the first leak found.
    pub(crate) fn check(&self, leaks: Vec<Leak>) -> Result<(), ComponentError> {
        match leaks.into_iter().next() {
            None => Ok(()),
            Some(leak) => Err(self.leaked(leak)),
        }
    }

    fn leaked(&self, leak: Leak) -> ComponentError {
        ComponentError::Leaked {
            plugin: self.plugin.to_string(),
            component: self.component.to_string(),
            leak: Box::new(leak),
        }
    }

    /// A plan, or the plugin's refusal to plan, checked for leaks.
    pub(crate) fn answer(
        &self,
        answer: Result<capstan_core::ComponentPlan, capstan_core::PlanError>,
    ) -> Result<capstan_core::ComponentPlan, ComponentError> {
        match answer {
            Ok(plan) => {
                self.check(self.secrets.in_plan(&plan, &[]))?;
                Ok(plan)
            }
            Err(capstan_core::PlanError::InvalidInputs(diagnostics)) => {
                self.check(self.secrets.in_diagnostics(&diagnostics))?;
                let problems = diagnostics.iter().map(|d| InputProblem::located(d, self.origins)).collect();
                Err(ComponentError::Invalid { plugin: self.plugin.to_string(), problems })
            }
            Err(e) => {
                let reason = e.to_string();
                if let Some(leak) = self.secrets.in_text(&reason, Place::ErrorMessage) {
                    return Err(self.leaked(leak));
                }
                Err(ComponentError::Refused { plugin: self.plugin.to_string(), reason })
            }
        }
    }

    /// A failed call: a leak the plugin runtime caught (a log line, a
    /// panic message) arrives as a [`Leak`]; any other error's text is
    /// checked too, since it may quote the plugin.
    pub(crate) fn call_failed(&self, source: SeamError) -> ComponentError {
        if let Some(leak) = source.downcast_ref::<Leak>() {
            return self.leaked(leak.clone());
        }
        if let Some(leak) = self.secrets.in_text(&source.to_string(), Place::ErrorMessage) {
            return self.leaked(leak);
        }
        ComponentError::Call { plugin: self.plugin.to_string(), source }
    }
}

/// Where the component's `component` block is: file and line.
pub(crate) fn component_origin(component: &Component) -> (PathBuf, usize) {
    match component.spans.get("component") {
        Some(at) => (at.file.clone(), at.line),
        None => (component.dir.join("component.hcl"), 1),
    }
}

/// Where the component's `component` block is, as `file:line:col`.
fn declared_at(component: &Component) -> String {
    match component.spans.get("component") {
        Some(at) => format!("{}:{}:{}", at.file.display(), at.line, at.col),
        None => component.dir.join("component.hcl").display().to_string(),
    }
}

/// Checks a plugin's outputs against the contract of the component's type:
/// the one Capstan ships, else the one the plugin publishes for its own new
/// type, else none (see [`crate::contracts`]). Called on every answer a
/// dependent may read.
pub(crate) fn check_contract(
    component: &Component,
    plugin: &str,
    meta: &Metadata,
    outputs: &[Output],
) -> Result<(), ComponentError> {
    let failed = |version: u32, violations| ComponentError::OutputsContract {
        plugin: plugin.to_string(),
        component_type: component.component_type.clone(),
        version,
        violations,
    };
    match (crate::contracts::contract_for(&component.component_type), &meta.outputs_contract) {
        (Some(_), Some(_)) => Err(ComponentError::Contract {
            plugin: plugin.to_string(),
            reason: format!(
                "it publishes its own outputs contract for `{}`, a type whose contract Capstan ships \
                 (docs/contracts/{}.md); a plugin may publish one only for a type of its own",
                component.component_type, component.component_type
            ),
        }),
        (Some(shipped), None) => crate::contracts::check_outputs(shipped.component_type, outputs)
            .map_err(|violations| failed(shipped.version, violations)),
        (None, Some(declared)) => crate::contracts::check_declared(declared, outputs)
            .map_err(|violations| failed(declared.version, violations)),
        (None, None) => Ok(()),
    }
}

/// The dependencies' plans by dependency name (the name in `dependency "…"`).
fn dependency_plans<'d>(
    component: &Component,
    deps: &'d DepResults<ComponentPlanned>,
) -> BTreeMap<String, &'d ComponentPlanned> {
    component
        .dependencies
        .iter()
        .filter_map(|(name, decl)| deps.get(&decl.target).map(|p| (name.clone(), p.as_ref())))
        .collect()
}

fn recorded_results(state: &ComponentState) -> Vec<EffectResult> {
    state
        .effects
        .iter()
        .filter_map(|e| e.result.clone().map(|body| EffectResult { id: e.id.clone(), body }))
        .collect()
}

fn grant(component: &Component, capability: &Capability) -> bool {
    component.grants.contains(capability)
}

/// A component between its inputs being ready and its plan being compared.
struct Planned<'a> {
    cx: &'a PlanContext<'a>,
    key: &'a str,
    component: &'a Component,
    handle: Arc<dyn PluginHandle>,
    plugin: String,
    request: PlanRequest,
    component_dir: Option<PathBuf>,
    recorded: Option<&'a ComponentState>,
    inputs_digest: String,
    dependency_secrets: Vec<Arc<RenderedSecrets>>,
}

impl Planned<'_> {
    fn finish(
        self,
        answer: capstan_core::ComponentPlan,
        policy_inputs: &policy::Inputs<'_>,
    ) -> Result<ComponentPlanned, ComponentError> {
        check_contract(self.component, &self.plugin, self.handle.metadata(), &answer.outputs)?;
        for effect in &answer.effects {
            let needed = effect.capability();
            if !grant(self.component, &needed) {
                return Err(ComponentError::NotGranted {
                    plugin: self.plugin.clone(),
                    capability: needed.to_string(),
                });
            }
        }
        let mut desired = normalise_objects(self.component, self.key, answer.objects, &self.plugin)?;
        // Before anything is compared or applied: a refused component
        // reaches neither the target nor its dependents.
        let policy_findings = self.cx.policies.gate(
            self.cx.stack,
            self.component,
            &self.handle.metadata().name,
            &desired,
            policy_inputs,
        )?;
        // Before the diff, so a changed Secret shows as its readers changing.
        let secrets = secrets_digest::annotate_workloads(
            self.cx.secrets_digest_key,
            &mut desired,
            self.dependency_secrets,
        );
        let objects =
            compare_objects(self.cx, self.key, self.component, self.recorded, desired, &self.plugin)?;
        let effects = answer
            .effects
            .into_iter()
            .map(|effect| {
                let digest = capstan_state::effect_digest(self.cx.state_key, &effect);
                let ran = self
                    .recorded
                    .is_some_and(|r| r.effects.iter().any(|e| e.id == effect.id && e.digest == digest));
                let drift = match (ran, self.cx.effects) {
                    (true, Some(runner)) => runner.drift(&self.component.id, &effect).map_err(|source| {
                        ComponentError::EffectCheck {
                            id: effect.id.clone(),
                            summary: effect.summary.clone(),
                            source,
                        }
                    })?,
                    _ => Vec::new(),
                };
                Ok(EffectChange {
                    id: effect.id.clone(),
                    target: effect.target.clone(),
                    summary: effect.summary.clone(),
                    run: !ran || !drift.is_empty(),
                    drift,
                    effect,
                })
            })
            .collect::<Result<_, ComponentError>>()?;
        let changed_outputs = answer
            .outputs
            .iter()
            .filter(|o| {
                let now = capstan_state::OutputRecord::from_output(self.cx.state_key, o);
                !self.recorded.is_some_and(|r| {
                    r.outputs.iter().any(|was| was.name == o.name && was.digest == now.digest)
                })
            })
            .map(|o| o.name.clone())
            .collect();
        let meta = self.handle.metadata();
        Ok(ComponentPlanned {
            key: self.key.to_string(),
            id: self.component.id.clone(),
            plugin: PluginRef {
                name: meta.name.clone(),
                version: meta.version.to_string(),
                digest: self.handle.digest().to_string(),
            },
            in_target: self.component.in_target,
            inputs_digest: self.inputs_digest,
            objects,
            effects,
            outputs: answer.outputs.into(),
            changed_outputs,
            warnings: Vec::new(),
            policy_findings,
            answer_cached: false,
            handle: self.handle,
            request: self.request,
            component_dir: self.component_dir,
            secrets,
        })
    }
}

/// Asks a plugin to plan again (after effects ran), its answer checked for
/// leaks like the first one.
pub(crate) fn call_plan(
    handle: &Arc<dyn PluginHandle>,
    guard: &Guard<'_>,
    component_dir: Option<&std::path::Path>,
    request: &PlanRequest,
) -> Result<capstan_core::ComponentPlan, ComponentError> {
    let answer = handle.plan(component_dir, request).map_err(|source| guard.call_failed(source))?;
    guard.answer(answer)
}

/// The plugin's objects normalised (see [`objects::normalise`]), each one
/// planned once.
fn normalise_objects(
    component: &Component,
    key: &str,
    desired: Vec<Value>,
    plugin: &str,
) -> Result<Vec<Value>, ComponentError> {
    let contract = |reason: String| ComponentError::Contract { plugin: plugin.to_string(), reason };
    let desired: Vec<Value> = desired
        .into_iter()
        .enumerate()
        .map(|(i, o)| objects::normalise(&component.id, key, i, o))
        .collect::<Result<_, _>>()
        .map_err(contract)?;
    objects::check_unique(&desired).map_err(contract)?;
    Ok(desired)
}

/// Compares each desired (normalised) object with the target; objects state
/// recorded that are no longer desired become deletions.
fn compare_objects(
    cx: &PlanContext<'_>,
    key: &str,
    component: &Component,
    recorded: Option<&ComponentState>,
    desired: Vec<Value>,
    plugin: &str,
) -> Result<Vec<ObjectChange>, ComponentError> {
    let contract = |reason: String| ComponentError::Contract { plugin: plugin.to_string(), reason };
    let mut changes = Vec::with_capacity(desired.len());
    for manifest in desired {
        let object = ObjectRef::of(&manifest)
            .map_err(|missing| contract(format!("an object lost its name: {missing}")))?;
        let at = ComponentRef { key, id: &component.id, ready_timeout: component.ready_timeout };
        if cx.target.holds(at, &manifest) {
            changes.push(ObjectChange::new(object, Action::Unchanged, Some(manifest)));
            continue;
        }
        let action = match cx.target.current(at, &object).map_err(ComponentError::Target)? {
            None => Action::Create,
            Some(current) => {
                let fields = diff_objects(&current, &manifest);
                if fields.is_empty() { Action::Unchanged } else { Action::Update(fields) }
            }
        };
        changes.push(ObjectChange::new(object, action, Some(manifest)));
    }
    for was in recorded.map(|r| r.objects.as_slice()).unwrap_or_default() {
        let object = was.object.clone();
        if !changes.iter().any(|c| c.object == object) {
            changes.push(ObjectChange::new(object, Action::Delete, None));
        }
    }
    Ok(changes)
}
