//! Reading a tree without changing anything: every component checked
//! against its plugin, and one component's inputs as they resolve. Nothing
//! here reads or writes state or touches a target beyond looking.

use std::collections::BTreeMap;
use std::sync::Arc;

use capstan_config::{Command, DependencyOutputs, ResolvedInputs, Stack};
use capstan_plan::{
    ComponentError, ComponentPlanned, Outcome, PlanContext, PluginHandle, PluginResolver, Policies,
};

use crate::RunError;

/// A target that holds nothing and takes nothing: a check plans as if
/// nothing were deployed yet.
struct Nowhere;

impl capstan_plan::ObjectTarget for Nowhere {
    fn current(
        &self,
        _component: capstan_plan::ComponentRef<'_>,
        _object: &capstan_plan::ObjectRef,
    ) -> Result<Option<serde_json::Value>, capstan_plan::SeamError> {
        Ok(None)
    }

    fn apply(
        &self,
        component: capstan_plan::ComponentRef<'_>,
        _objects: &[serde_json::Value],
        _prune: &[capstan_plan::ObjectRef],
    ) -> Result<(), capstan_plan::SeamError> {
        Err(format!("{}: a check applies nothing", component.key).into())
    }

    fn remove(
        &self,
        component: capstan_plan::ComponentRef<'_>,
        _objects: &[capstan_plan::ObjectRef],
    ) -> Result<(), capstan_plan::SeamError> {
        Err(format!("{}: a check removes nothing", component.key).into())
    }
}

/// Planning threads used by these checks.
const PARALLELISM: usize = 4;

/// Plans `stack` as `command` against a fresh, empty state and a target
/// that holds nothing, with `plugins`, checked by `policies`: nothing on
/// disk or in a cluster is read. Pod templates get the secrets-digest
/// annotation under `secrets_digest_key`, or none.
fn plan_fresh<T>(
    stack: &Stack,
    plugins: &dyn PluginResolver,
    policies: &Policies,
    command: Command,
    secrets_digest_key: Option<&capstan_state::StateKey>,
    each: impl Fn(
        &PlanContext<'_>,
        &str,
        &capstan_plan::DepResults<ComponentPlanned>,
    ) -> Result<ComponentPlanned, T>
    + Sync,
) -> Result<BTreeMap<String, Outcome<ComponentPlanned, T>>, RunError>
where
    T: Send,
{
    let graph = capstan_plan::stack_graph(stack)?;
    let nowhere = Nowhere;
    let state = capstan_state::State::new()?;
    let key = capstan_state::StateKey::generate()?;
    let cx = PlanContext {
        stack,
        plugins,
        target: &nowhere,
        state: &state,
        state_key: &key,
        secrets_digest_key,
        command,
        policies,
        effects: None,
        answers: None,
    };
    Ok(capstan_plan::schedule::run(&graph, PARALLELISM, |k, deps| each(&cx, k, deps)))
}

/// Every component's inputs checked against its plugin (with mock outputs
/// where allowed), and its plan against its policies: the outcome of each,
/// by key.
pub fn validate(
    stack: &Stack,
    plugins: &dyn PluginResolver,
) -> Result<BTreeMap<String, Outcome<ComponentPlanned, ComponentError>>, RunError> {
    let policies = Policies::bind(stack, plugins)?;
    plan_fresh(stack, plugins, &policies, Command::Validate, None, capstan_plan::plan_component)
}

/// Every component planned as `plan` would, against nothing, and checked by
/// the policies that match it (`capstan policy test`): the outcome of each,
/// by key. A component an enforcing policy refuses fails with
/// [`ComponentError::Policy`]; what does not block is in each plan's
/// `policy_findings`. Nothing is read from state or a target.
pub fn check_policies(
    stack: &Stack,
    plugins: &dyn PluginResolver,
) -> Result<BTreeMap<String, Outcome<ComponentPlanned, ComponentError>>, RunError> {
    let policies = Policies::bind(stack, plugins)?;
    plan_fresh(stack, plugins, &policies, Command::Plan, None, capstan_plan::plan_component)
}

/// The inputs of the component at `key` as they resolve for a plan, its
/// dependencies planned (pure, cheap) for their outputs, with its plugin.
pub fn resolved_inputs(
    stack: &Stack,
    plugins: &dyn PluginResolver,
    key: &str,
) -> Result<(Arc<dyn PluginHandle>, ResolvedInputs), RunError> {
    let component = stack.component(key).ok_or_else(|| RunError::NotAComponent { key: key.to_string() })?;
    let outcomes = plan_fresh(stack, plugins, &Policies::none(), Command::Plan, None, |cx, k, deps| {
        if k == key { Err(None) } else { capstan_plan::plan_component(cx, k, deps).map_err(Some) }
    })?;
    let mut deps = BTreeMap::new();
    for (name, decl) in &component.dependencies {
        if let Some(Outcome::Done(p)) = outcomes.get(&decl.target) {
            deps.insert(name.clone(), DependencyOutputs::new(&*p.outputs));
        }
    }
    let plugin = plugins
        .resolve(&component.plugin, &component.version)
        .map_err(|e| RunError::PluginUnavailable { reason: e.to_string() })?;
    let meta = plugin.metadata();
    let inputs = component
        .resolve_inputs(&deps, Command::Plan, &meta.defaults, &meta.input_schema)
        .map_err(RunError::Inputs)?;
    Ok((plugin, inputs))
}

/// What [`stream`] gives: the stream, or the components that failed to plan.
pub enum Stream {
    /// Every object as multi-document YAML, ready for `kubectl apply -f -`.
    Ready(String),
    /// The components that failed to plan, by key, each with why; nothing
    /// is rendered.
    Failed(BTreeMap<String, ComponentError>),
}

/// The objects of every component at or below the load directory as one
/// multi-document YAML stream (`capstan render --stdout`), in dependency
/// order: planned against nothing, so no state is read or written, no
/// effect runs and no target is touched. Secrets go as the environments'
/// `target "render"` blocks say, or as `secrets` says for every one;
/// `plain` needs no Git check here, since a stream is applied, not committed.
pub fn stream(
    stack: &Stack,
    plugins: &dyn PluginResolver,
    secrets: Option<capstan_config::SecretsDelivery>,
    surroundings: &crate::Surroundings,
    events: &dyn crate::Events,
) -> Result<Stream, RunError> {
    let flags = crate::outputs::OutputFlags { secrets, stream: true, ..Default::default() };
    let outputs = crate::outputs::environment_outputs(stack, flags, surroundings, events)?;
    let mut policy = capstan_render::SecretsPolicy::none();
    for (env, output) in outputs {
        if let Some(delivery) = output.delivery {
            policy.set(env, delivery);
        }
    }
    let digest_key = stream_digest_key(surroundings);
    let policies = Policies::bind(stack, plugins)?;
    let mut outcomes = plan_fresh(
        stack,
        plugins,
        &policies,
        Command::Plan,
        digest_key.as_ref(),
        capstan_plan::plan_component,
    )?;
    let mut failed = BTreeMap::new();
    let mut components = Vec::new();
    for key in stack.order() {
        match outcomes.remove(key) {
            Some(Outcome::Done(planned)) if planned.in_target => {
                let objects = planned.objects.iter().filter_map(|o| o.manifest.clone()).collect();
                components.push(capstan_render::RenderedComponent { id: planned.id.clone(), objects });
            }
            Some(Outcome::Failed(e)) => {
                failed.insert(key.to_owned(), e);
            }
            _ => {}
        }
    }
    if !failed.is_empty() {
        return Ok(Stream::Failed(failed));
    }
    capstan_render::stream(&components, &policy).map(Stream::Ready).map_err(RunError::Stream)
}

/// The key of a stream's secrets-digest annotation. A stream has no state
/// (and so no state key), and a key made afresh would change the annotation
/// at every render: Argo CD would roll every pod at every sync. So it is
/// derived from the operator's age identity, the same at every render by
/// the same operator. Without an identity nothing can be keyed, and a
/// plain digest of a short password could be brute-forced from the stream:
/// the annotation is left out.
fn stream_digest_key(surroundings: &crate::Surroundings) -> Option<capstan_state::StateKey> {
    let path = capstan_secrets::identity_path(&surroundings.env()).ok()?;
    let identities = capstan_secrets::Identities::load(&path).ok()?;
    Some(capstan_state::StateKey::from_bytes(identities.derive_key("capstan.dev/secrets-digest stream key")))
}
