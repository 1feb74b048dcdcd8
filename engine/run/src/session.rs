//! One run over a loaded stack: plan every component in dependency order
//! (independent ones in parallel), apply a plan with state recorded after
//! each component, remove what left the tree, destroy. The front end asks
//! and shows; it decides nothing here.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use capstan_config::{Command, Stack};
use capstan_plan::{
    AnswerCache, ComponentError, ComponentGraph, ComponentPlanned, ComponentRef, EffectRunner, ObjectRef,
    ObjectTarget as _, Outcome, PlanContext, PluginResolver, Policies, apply_component_observed,
    plan_component, schedule,
};
use capstan_state::{AnyBackend, ComponentState, LockGuard, LockInfo, State, StateBackend, StateKey};

use crate::RunError;
use crate::events::{Events, Phase};
use crate::plan_cache::{PLAN_CACHE_DIR, PlanCache};
use crate::revisions::{Made, RunRecord};
use crate::targets::Target;

/// Every component's plan (or why it has none), by key.
pub struct Plan {
    /// By component key: planned, failed, or skipped because a dependency failed.
    pub outcomes: BTreeMap<String, Outcome<ComponentPlanned, ComponentError>>,
}

impl Plan {
    /// The components that were planned, in key order.
    pub fn planned(&self) -> Vec<&ComponentPlanned> {
        self.outcomes
            .values()
            .filter_map(|o| match o {
                Outcome::Done(p) => Some(p.as_ref()),
                _ => None,
            })
            .collect()
    }

    /// Whether some component failed or was skipped.
    pub fn has_failures(&self) -> bool {
        self.outcomes.values().any(|o| !matches!(o, Outcome::Done(_)))
    }
}

/// What an apply did: components removed because they left the tree (in
/// the order removed), then each component's outcome.
pub struct Applied {
    /// Keys of the components removed, in the order removed.
    pub removed: Vec<String>,
    /// By component key: applied (or unchanged), failed, or skipped because
    /// a dependency failed.
    pub outcomes: BTreeMap<String, Outcome<ComponentPlanned, ComponentError>>,
    /// Why the target could not write what it writes at the end (the
    /// render target's kustomizations and marker), if it could not; the
    /// next apply writes it.
    pub not_flushed: Option<RunError>,
    /// Why the state could not be stored at the end, if it could not
    /// ([`RunError::StateNotStored`] names the file it was saved to instead).
    pub not_stored: Option<RunError>,
    /// The revisions recorded, as (environment, number): one per
    /// environment the apply changed.
    pub revisions: Vec<(String, u64)>,
    /// Why no revision could be recorded, if so (the apply itself stands).
    pub revision_failed: Option<RunError>,
}

/// The seams a session drives: plugins, the target, effect drivers.
pub struct Seams {
    /// Resolves each component's plugin (a [`crate::plugins::Catalog`]).
    pub plugins: Arc<dyn PluginResolver>,
    /// Where objects go.
    pub target: Target,
    /// Runs effects (a [`crate::Drivers`]).
    pub effects: Arc<dyn EffectRunner>,
}

/// How a session runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Components planned or applied at once.
    pub parallelism: usize,
    /// Who holds the state lock, as its record shows.
    pub holder: String,
    /// Where state the backend would not take is saved (the working directory).
    pub work_dir: PathBuf,
    /// Whether a plan reads the servers of effects that already ran for
    /// changes made outside Capstan (Vault's); off, effects are compared
    /// with state alone, as for a CI job holding no Vault token.
    pub refresh: bool,
}

/// Everything one run works with.
pub struct Session {
    stack: Stack,
    graph: ComponentGraph,
    seams: Seams,
    backend: AnyBackend,
    state: State,
    key: StateKey,
    /// The run's directory relative to the stack root (`envs/staging`, or empty).
    scope: PathBuf,
    settings: Settings,
    events: Arc<dyn Events>,
    runtime: tokio::runtime::Handle,
    /// The policies of the stack, their plugins loaded once for the run,
    /// on the first plan: a destroy or a rollback's removals need none.
    policies: OnceLock<Policies>,
    /// Plugins' answers kept from earlier runs; `None` asks every plugin.
    answers: Option<PlanCache>,
}

impl Session {
    /// A session over `stack` for the run started in `dir`, reading state
    /// from `backend`.
    pub fn new(
        stack: Stack,
        dir: &Path,
        seams: Seams,
        backend: AnyBackend,
        settings: Settings,
        events: Arc<dyn Events>,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, RunError> {
        let graph = capstan_plan::stack_graph(&stack)?;
        let state = runtime.block_on(backend.read()).map_err(RunError::ReadState)?;
        Self::with_state(stack, graph, dir, seams, backend, state, settings, events, runtime)
    }

    /// A session whose state was already read (the kube target needs it
    /// before the session exists).
    #[expect(clippy::too_many_arguments, reason = "each part is a different seam or setting")]
    pub(crate) fn with_state(
        stack: Stack,
        graph: ComponentGraph,
        dir: &Path,
        seams: Seams,
        backend: AnyBackend,
        state: State,
        settings: Settings,
        events: Arc<dyn Events>,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, RunError> {
        let key = runtime.block_on(backend.state_key()).map_err(RunError::StateKey)?;
        let dir = std::path::absolute(dir)?;
        let scope = dir.strip_prefix(&stack.root).map(Path::to_path_buf).unwrap_or_default();
        let policies = OnceLock::new();
        let answers = Some(PlanCache::new(stack.root.join(PLAN_CACHE_DIR), &key));
        Ok(Self {
            stack,
            graph,
            seams,
            backend,
            state,
            key,
            scope,
            settings,
            events,
            runtime,
            policies,
            answers,
        })
    }

    /// The loaded stack.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// State as last read.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The key that digests recorded in state are made with.
    pub fn state_key(&self) -> &StateKey {
        &self.key
    }

    /// The state backend.
    pub(crate) fn backend(&self) -> &AnyBackend {
        &self.backend
    }

    /// The component graph of the stack.
    pub(crate) fn graph(&self) -> &ComponentGraph {
        &self.graph
    }

    /// Where objects go.
    pub(crate) fn target(&self) -> &Target {
        &self.seams.target
    }

    /// Resolves plugins.
    pub(crate) fn plugins(&self) -> &dyn PluginResolver {
        self.seams.plugins.as_ref()
    }

    /// The front end's events.
    pub(crate) fn events(&self) -> &dyn Events {
        self.events.as_ref()
    }

    /// Runs `future` on the session's runtime.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// The stack's policies, bound on first use.
    fn policies(&self) -> Result<&Policies, RunError> {
        if let Some(bound) = self.policies.get() {
            return Ok(bound);
        }
        let bound = Policies::bind(&self.stack, self.seams.plugins.as_ref())?;
        Ok(self.policies.get_or_init(|| bound))
    }

    fn context<'a>(&'a self, command: Command, policies: &'a Policies) -> PlanContext<'a> {
        PlanContext {
            stack: &self.stack,
            plugins: self.seams.plugins.as_ref(),
            target: &self.seams.target,
            state: &self.state,
            state_key: &self.key,
            secrets_digest_key: Some(&self.key),
            command,
            policies,
            effects: self.settings.refresh.then(|| self.seams.effects.as_ref()),
            answers: self.answers.as_ref().map(|c| c as &dyn AnswerCache),
        }
    }

    /// Recorded components in this run's scope that are no longer in the
    /// tree: everything they applied is to be removed.
    pub fn orphans(&self) -> Vec<(&String, &ComponentState)> {
        self.state
            .components
            .iter()
            .filter(|(k, _)| !self.stack.components.contains_key(*k) && Path::new(k).starts_with(&self.scope))
            .collect()
    }

    /// Plans every component in dependency order, independent ones in
    /// parallel; nothing is changed. Fails only when a policy of the stack
    /// cannot be loaded.
    pub fn plan(&self, command: Command) -> Result<Plan, RunError> {
        let cx = self.context(command, self.policies()?);
        let events = self.events.as_ref();
        let outcomes = schedule::run(&self.graph, self.settings.parallelism, |key, deps| {
            events.phase(key, Phase::Planning, None);
            let result = plan_component(&cx, key, deps);
            match &result {
                Ok(p) if !p.in_target => {}
                Ok(p) => {
                    events.phase(key, if p.has_changes() { Phase::Planned } else { Phase::Unchanged }, None)
                }
                Err(_) => events.phase(key, Phase::Failed, None),
            }
            result
        });
        if let Some(answers) = &self.answers {
            answers.prune();
        }
        Ok(Plan { outcomes })
    }

    /// Whether applying `plan` changes anything (components that left the
    /// tree included, and what a stopped run left the target to write).
    pub fn has_changes(&self, plan: &Plan) -> bool {
        plan.planned().iter().any(|p| p.has_changes()) || !self.orphans().is_empty() || self.target_behind()
    }

    /// Whether plans read the servers of effects that already ran for
    /// changes made outside Capstan (on by default; `--refresh=false`).
    pub fn set_refresh(&mut self, refresh: bool) {
        self.settings.refresh = refresh;
    }

    /// Whether plans reuse what earlier runs kept: the answers plugins gave
    /// to the same requests, and the render target's record of the files
    /// it wrote (on by default; `--plan-cache=false` asks every plugin and
    /// reads every rendered file back).
    pub fn set_plan_cache(&mut self, on: bool) {
        self.answers = on.then(|| PlanCache::new(self.stack.root.join(PLAN_CACHE_DIR), &self.key));
        if let Target::Render(render) = &self.seams.target {
            render.set_trust_record(on);
        }
    }

    /// Whether a run stopped before the target wrote what it writes at the
    /// end (the render target's kustomizations): an apply writes it.
    pub fn target_behind(&self) -> bool {
        self.seams.target.needs_repair()
    }

    /// Whether some target component is planned with nothing to change but
    /// is missing from state, or recorded stale (a first apply onto an
    /// identical render, say): an apply records it.
    pub fn has_unrecorded(&self, plan: &Plan) -> bool {
        plan.planned().iter().any(|p| p.in_target && self.needs_record(p))
    }

    fn needs_record(&self, p: &ComponentPlanned) -> bool {
        match self.state.components.get(&p.key) {
            None => true,
            Some(r) => r.inputs_digest != p.inputs_digest || r.plugin != p.plugin,
        }
    }

    /// Takes the state lock for `operation`, waiting up to `timeout`, then
    /// reads state again: another run may have changed it while this one
    /// waited, and everything decided under the lock (the plan, the destroy
    /// order) must start from what is recorded now.
    pub fn lock(&mut self, operation: &str, timeout: Duration) -> Result<LockGuard, RunError> {
        let info = LockInfo::new(self.settings.holder.clone(), operation)?;
        let guard = self.runtime.block_on(self.backend.lock(&info, timeout))?;
        match self.runtime.block_on(self.backend.read()) {
            Ok(state) => {
                self.state = state;
                Ok(guard)
            }
            Err(e) => {
                // The lock goes back before the error does.
                let _ = self.runtime.block_on(self.backend.unlock(guard));
                Err(RunError::ReadState(e))
            }
        }
    }

    /// Releases the state lock.
    pub fn unlock(&self, guard: LockGuard) -> Result<(), RunError> {
        self.runtime.block_on(self.backend.unlock(guard)).map_err(RunError::Unlock)
    }

    /// Carries out `shown` under the lock: removes the components that left
    /// the tree, then applies every component in dependency order, recording
    /// each one in state as soon as it is applied. A failed component skips
    /// its dependents; other branches finish. At the end what each component
    /// recorded is stored as one snapshot; if the backend will not take it,
    /// it is saved to an errored-state file instead ([`Applied::not_stored`]).
    pub fn apply(&self, shown: &Plan, guard: &LockGuard) -> Result<Applied, RunError> {
        // What this run records, kept here as well as in the backend: if the
        // backend stops taking writes, this is what the errored-state file
        // holds, applied work included. Under the lock no one else writes, so
        // it is what the backend would hold.
        let recorded = Mutex::new(self.state.clone());
        let plan_digest = crate::saved_plan::plan_digest(&self.key, &shown.planned(), &self.orphans());
        let run = RunRecord::default();
        let mut removed = Vec::new();
        for (key, was) in self.orphans() {
            self.remove(key, was)?;
            run.removed(key);
            if let Err(e) = self.record(&recorded, key, None, guard) {
                // The objects are gone; stop here, and store what is known.
                self.store(&into_state(recorded), guard)?;
                return Err(RunError::State(e));
            }
            removed.push(key.clone());
        }

        let cx = self.context(Command::Apply, self.policies()?);
        let events = self.events.as_ref();
        let outcomes = schedule::run(&self.graph, self.settings.parallelism, |key, deps| {
            let mut planned = match self.plan_still_valid(shown, key, deps) {
                Some(p) => p.clone(),
                None => plan_component(&cx, key, deps)?,
            };
            if !planned.in_target {
                return Ok::<_, ComponentError>(planned);
            }
            if !(planned.has_changes() || self.needs_record(&planned)) {
                run.keep(&self.key, &planned, None, false);
                return Ok(planned);
            }
            events.phase(key, Phase::Applying, None);
            let on_step = |step| events.step(key, step);
            let applied = apply_component_observed(&cx, &planned, self.seams.effects.as_ref(), &on_step)
                .inspect_err(|_| events.phase(key, Phase::Failed, None))?;
            // A component the backend did not record fails, so its dependents
            // do not build on it; it stays in `recorded` all the same.
            self.record(&recorded, key, Some(&applied.state), guard)
                .map_err(|e| ComponentError::State(e.to_string()))?;
            run.keep(&self.key, &planned, Some(&applied.objects), true);
            planned.outputs = applied.outputs;
            events.phase(key, Phase::Ready, None);
            Ok(planned)
        });
        // What the components applied is stored whether or not the target
        // could finish: the next run repairs the target, not the state.
        let not_flushed = self.seams.target.flush().err();
        let recorded = into_state(recorded);
        let not_stored = self.store(&recorded, guard).err();
        let made = Made { operation: "apply".into(), plan_digest, guard, removed: &removed };
        let (revisions, revision_failed) = match self.record_revisions(&recorded, run, made) {
            Ok(numbers) => (numbers, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        Ok(Applied { removed, outcomes, not_flushed, not_stored, revisions, revision_failed })
    }

    /// Records one component in `recorded`, then in the backend.
    fn record(
        &self,
        recorded: &Mutex<State>,
        key: &str,
        component: Option<&ComponentState>,
        guard: &LockGuard,
    ) -> Result<(), capstan_state::StateError> {
        {
            // A panic elsewhere cannot leave the map half-changed: each change is one insert or remove.
            let mut state = recorded.lock().unwrap_or_else(PoisonError::into_inner);
            match component {
                Some(c) => state.components.insert(key.to_string(), c.clone()),
                None => state.components.remove(key),
            };
        }
        self.runtime.block_on(self.backend.write_component(key, component, guard)).map(|_| ())
    }

    /// Stores `recorded` as the whole state. If the backend will not take it,
    /// it is saved to an errored-state file in the working directory, and the
    /// error says where and how to store it back: what ran is never forgotten.
    fn store(&self, recorded: &State, guard: &LockGuard) -> Result<(), RunError> {
        let Err(source) = self.runtime.block_on(self.backend.write(recorded, guard)) else { return Ok(()) };
        let mut recorded = recorded.clone();
        // The serial the failed write would have had: newer than anything
        // stored so far, so `state push` takes it without --force.
        recorded.serial = self.runtime.block_on(guard.stored()).serial + 1;
        match capstan_state::save_errored(&recorded, &self.settings.work_dir) {
            Ok(file) => Err(RunError::StateNotStored {
                location: self.backend.location(),
                file,
                stack_root: self.stack.root.clone(),
                source,
            }),
            Err(save) => {
                Err(RunError::StateLost { location: self.backend.location(), save: Box::new(save), source })
            }
        }
    }

    /// The plan shown before asking, when it still holds for the apply: every
    /// dependency now answers with the outputs it was planned with (no effect
    /// changed them), and none may fall back on mock outputs, which a plan uses
    /// and an apply never does. Planning again would give the same answer:
    /// plugins are pure, state is as it was read, and no other component touches
    /// this one's objects.
    fn plan_still_valid<'p>(
        &self,
        shown: &'p Plan,
        key: &str,
        deps: &schedule::DepResults<ComponentPlanned>,
    ) -> Option<&'p ComponentPlanned> {
        let Outcome::Done(planned) = shown.outcomes.get(key)? else { return None };
        let component = self.stack.component(key)?;
        for decl in component.dependencies.values() {
            let Outcome::Done(before) = shown.outcomes.get(&decl.target)? else { return None };
            let now = deps.get(&decl.target)?;
            if decl.mocks_allowed(Command::Plan) || before.outputs != now.outputs {
                return None;
            }
        }
        Some(planned)
    }

    /// What a destroy removes, in order: recorded target components in
    /// reverse dependency order, then recorded components that left the tree.
    pub fn destroy_order(&self) -> Vec<String> {
        self.graph
            .reversed()
            .order()
            .iter()
            .filter(|k| {
                self.stack.component(k).is_some_and(|c| c.in_target) && self.state.components.contains_key(*k)
            })
            .cloned()
            .chain(self.orphans().into_iter().map(|(k, _)| k.clone()))
            .collect()
    }

    /// Removes everything `was` records the component `key` applied.
    pub(crate) fn remove(&self, key: &str, was: &ComponentState) -> Result<(), RunError> {
        let objects: Vec<ObjectRef> = was.objects.iter().map(|o| o.object.clone()).collect();
        let at = ComponentRef { key, id: &was.id, ready_timeout: None };
        self.seams
            .target
            .remove(at, &objects)
            .map_err(|source| RunError::Remove { key: key.to_string(), source })
    }

    /// Removes everything the components in `order` applied, recording each
    /// removal in state. If the backend will not record one, the state is
    /// stored whole or, failing that, saved to an errored-state file.
    pub fn destroy(&self, order: &[String], guard: &LockGuard) -> Result<(), RunError> {
        let recorded = Mutex::new(self.state.clone());
        for key in order {
            let Some(was) = self.state.components.get(key) else { continue };
            self.events.phase(key, Phase::Applying, Some("removing"));
            self.remove(key, was)?;
            if let Err(e) = self.record(&recorded, key, None, guard) {
                self.store(&into_state(recorded), guard)?;
                return Err(RunError::State(e));
            }
            self.events.phase(key, Phase::Ready, Some("removed"));
        }
        self.seams.target.flush()
    }
}

fn into_state(recorded: Mutex<State>) -> State {
    recorded.into_inner().unwrap_or_else(PoisonError::into_inner)
}
