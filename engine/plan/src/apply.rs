//! Applying one planned component: effects first (their results go back to
//! the plugin, whose outputs may depend on them), then objects, then what
//! state records. Every step is idempotent, so a run killed half-way is
//! finished by the next one without doing anything twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use capstan_core::{EffectResult, Output};
use capstan_state::{ComponentState, EffectRecord, ObjectRecord, OutputRecord};

use crate::objects;
use crate::planner::{
    Action, ComponentError, ComponentPlanned, Guard, PlanContext, call_plan, check_contract,
};
use crate::seams::{ComponentRef, EffectRunner, ObjectRef};
use crate::secrets_digest;

/// The outcome of applying one component.
pub struct Applied {
    /// What to record in state under the component's key.
    pub state: ComponentState,
    /// Its outputs after effects ran: what dependents are planned with.
    pub outputs: Arc<[Output]>,
    /// The objects applied, in full (a revision keeps them).
    pub objects: Vec<serde_json::Value>,
}

/// A step of applying one component, told as it starts (the run report
/// times each one and names the one a failure happened in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyStep {
    /// Running the effects marked to run.
    Effects,
    /// Asking the plugin again with the effects' results.
    Replan,
    /// Applying and pruning objects through the target.
    Objects,
    /// Waiting until the objects are ready.
    Readiness,
    /// Turning what was applied into its state record (the caller then
    /// stores it).
    Record,
}

/// Applies one planned component: runs the effects marked to run, plans
/// again with their results if any ran (its new objects checked by the
/// policies again), applies and prunes objects through
/// `cx.target` and waits until they are ready, then returns what to record.
pub fn apply_component(
    cx: &PlanContext<'_>,
    planned: &ComponentPlanned,
    runner: &dyn EffectRunner,
) -> Result<Applied, ComponentError> {
    apply_component_observed(cx, planned, runner, &|_| {})
}

/// [`apply_component`], telling `on_step` as each step it takes starts
/// (steps with nothing to do are not taken).
pub fn apply_component_observed(
    cx: &PlanContext<'_>,
    planned: &ComponentPlanned,
    runner: &dyn EffectRunner,
    on_step: &dyn Fn(ApplyStep),
) -> Result<Applied, ComponentError> {
    let plugin = format!("{} {}", planned.plugin.name, planned.plugin.version);
    let recorded = cx.state.components.get(&planned.key);
    let guard = Guard {
        secrets: capstan_core::leaks::Secrets::of_request(&planned.request),
        plugin: &plugin,
        component: &planned.key,
        // The inputs were checked when this plan was made: a plugin that
        // refuses them now is pointed at by its JSON paths alone.
        origins: &BTreeMap::new(),
    };

    let mut results: Vec<EffectResult> = planned.request.effect_results.clone();
    let mut effect_records = Vec::with_capacity(planned.effects.len());
    let mut ran_any = false;
    if planned.effects.iter().any(|e| e.run) {
        on_step(ApplyStep::Effects);
    }
    for change in &planned.effects {
        if !change.run {
            if let Some(was) = recorded.and_then(|r| r.effects.iter().find(|e| e.id == change.id)) {
                effect_records.push(was.clone());
            }
            continue;
        }
        let body = runner.run(&planned.id, &change.effect).map_err(|source| ComponentError::Effect {
            id: change.id.clone(),
            summary: change.summary.clone(),
            source,
        })?;
        // A result is kept in state in clear and handed to the plugin, which
        // may put it in an output: a server echoing a password back is a leak
        // like any other. (The effect has run; only its record is refused.)
        guard.check(guard.secrets.in_result(&change.id, &body))?;
        results.retain(|r| r.id != change.id);
        results.push(EffectResult { id: change.id.clone(), body: body.clone() });
        effect_records.push(EffectRecord::new(cx.state_key, &change.effect, Some(body)));
        ran_any = true;
    }

    // Effects returned something new: ask the plugin again, so outputs (and
    // any object that carries, say, a queue URL) reflect it.
    let (objects, outputs) = if ran_any {
        on_step(ApplyStep::Replan);
        let mut request = planned.request.clone();
        request.effect_results = results;
        let answer = call_plan(&planned.handle, &guard, planned.component_dir.as_deref(), &request)?;
        // The outputs dependents are planned with after this apply: checked
        // like those of the plan itself.
        if let Some(component) = cx.stack.component(&planned.key) {
            check_contract(component, &plugin, planned.handle.metadata(), &answer.outputs)?;
        }
        let mut objects = answer
            .objects
            .into_iter()
            .enumerate()
            .map(|(i, o)| objects::normalise(&planned.id, &planned.key, i, o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| ComponentError::Contract { plugin: plugin.clone(), reason })?;
        // Annotated as the plan was, with the Secrets as they are now: its
        // own as the plugin answered this time, its dependencies' as planned.
        let dependencies = planned.secrets.dependencies.clone();
        secrets_digest::annotate_workloads(cx.secrets_digest_key, &mut objects, dependencies);
        // The objects changed with the effects' results: the policies see
        // what is applied, not only what was planned.
        if let Some(component) = cx.stack.component(&planned.key) {
            let inputs = crate::policy::Inputs {
                value: &planned.request.inputs,
                sensitive_paths: &planned.request.sensitive_paths,
                // As for the guard: the plan showed where inputs were set.
                origins: &BTreeMap::new(),
                secrets: &guard.secrets,
                component_at: crate::planner::component_origin(component),
            };
            cx.policies.gate(cx.stack, component, &planned.plugin.name, &objects, &inputs)?;
        }
        (objects, answer.outputs.into())
    } else {
        (planned.desired_objects(), Arc::clone(&planned.outputs))
    };

    let desired: Vec<ObjectRef> = objects.iter().filter_map(|o| ObjectRef::of(o).ok()).collect();
    let mut prune = planned.pruned();
    prune.retain(|p| !desired.contains(p));
    let objects_change =
        ran_any || !prune.is_empty() || planned.objects.iter().any(|o| o.action != Action::Unchanged);
    if objects_change {
        let at = ComponentRef {
            key: &planned.key,
            id: &planned.id,
            ready_timeout: cx.stack.component(&planned.key).and_then(|c| c.ready_timeout),
        };
        on_step(ApplyStep::Objects);
        cx.target.apply(at, &objects, &prune).map_err(ComponentError::Target)?;
        on_step(ApplyStep::Readiness);
        let health = |object: &serde_json::Value| planned.handle.health(&planned.id, object);
        cx.target.wait_ready(at, &desired, &health).map_err(ComponentError::Target)?;
    }

    on_step(ApplyStep::Record);
    let object_records = if ran_any {
        objects
            .iter()
            .enumerate()
            .map(|(i, o)| ObjectRecord::from_manifest(cx.state_key, i, o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ComponentError::State(e.to_string()))?
    } else {
        // The objects as planned: their digests were made for the plan's
        // digest already.
        planned
            .objects
            .iter()
            .filter_map(|o| {
                let digest = o.digest(cx.state_key)?.to_owned();
                Some(ObjectRecord { object: o.object.clone(), digest })
            })
            .collect()
    };
    let state = ComponentState {
        id: planned.id.clone(),
        plugin: planned.plugin.clone(),
        inputs_digest: planned.inputs_digest.clone(),
        objects: object_records,
        effects: effect_records,
        outputs: outputs.iter().map(|o| OutputRecord::from_output(cx.state_key, o)).collect(),
        applied_at: capstan_state::now_rfc3339(),
    };
    Ok(Applied { state, outputs, objects })
}
