//! `capstan rollback`: the return of an environment to one of its
//! revisions. The revision's objects are written back as they were applied,
//! without the plugins or the tree of the time; what cannot be restored that
//! way refuses the whole rollback, each reason named:
//! - an effect that ran since (Capstan never undoes an effect: a created
//!   database stays) or that changed since (a rotated password: state keeps
//!   only a keyed hash of the old one);
//! - a Secret value that changed since and that no plan of today's tree
//!   holds any more (only its keyed hash was kept);
//! - a plugin build that planned a component then and is no longer to be
//!   had (the next plan of that tree would need it).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use capstan_config::Command;
use capstan_plan::{Action, ComponentRef, ObjectRef, ObjectTarget as _, PluginHandle, diff_objects};
use capstan_state::{
    ComponentState, LockGuard, Revision, RevisionComponent, RevisionHead, State, StateBackend as _, StateKey,
    secret_value_hash,
};

use crate::RunError;
use crate::events::Phase;
use crate::revisions::{Made, RunRecord, environment_of};
use crate::session::Session;
use capstan_core::leaks::is_secret;

/// What a rollback would do, for the operator to review.
#[derive(Serialize)]
pub struct Rollback {
    /// The revision gone back to.
    pub to: RevisionHead,
    /// Every component of the environment now or then, in the order the
    /// rollback handles them: removals first, then restores.
    pub components: Vec<RollbackStep>,
    /// Why the rollback cannot be done, if it cannot.
    pub refused: Vec<String>,
    #[serde(skip)]
    restores: BTreeMap<String, Restore>,
}

/// One component in a rollback.
#[derive(Serialize)]
pub struct RollbackStep {
    /// The component key.
    pub component: String,
    /// What happens to it.
    pub change: StepChange,
    /// Its objects and what happens to each.
    pub objects: Vec<RolledObject>,
}

/// What a rollback does to one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepChange {
    /// Its objects and state record go back to the revision's.
    Restore,
    /// It was added after the revision: its objects are removed.
    Remove,
    /// It is as the revision left it.
    Unchanged,
}

/// One object in a rollback.
#[derive(Serialize)]
pub struct RolledObject {
    /// Which object.
    pub object: ObjectRef,
    /// What the rollback does to it.
    #[serde(flatten)]
    pub action: Action,
    /// Whether what is live differs from what the last apply left: someone
    /// changed it outside Capstan, and the rollback overwrites that too.
    pub drifted: bool,
}

/// What a restore writes for one component.
struct Restore {
    /// The revision's objects, Secret values taken from today's plan.
    objects: Vec<Value>,
    /// Objects applied now that the revision did not have.
    prune: Vec<ObjectRef>,
    record: ComponentState,
    effects: BTreeMap<String, String>,
    /// The plugin build of the time, for readiness.
    handle: Option<Arc<dyn PluginHandle>>,
}

impl Rollback {
    /// Whether the rollback changes anything.
    pub fn has_changes(&self) -> bool {
        self.components.iter().any(|c| c.change != StepChange::Unchanged)
    }
}

/// What a rollback did.
pub struct RolledBack {
    /// The revision it recorded, if it changed anything.
    pub revision: Option<u64>,
    /// Why that revision could not be recorded, if so.
    pub revision_failed: Option<RunError>,
}

impl Session {
    /// Plans the return of `environment` to revision `number`: nothing is
    /// changed. Under the lock, so that what is shown is what
    /// [`Session::rollback`] does.
    pub fn plan_rollback(&self, environment: &str, number: u64) -> Result<Rollback, RunError> {
        let revision = self.revision(environment, number)?;
        let latest = self.latest_revision(environment)?;
        // Secret values are kept only as keyed hashes: the values come from
        // what today's tree plans, where they are still the same.
        // A tree whose policies cannot load still rolls back; its Secrets
        // are then not at hand.
        let today = self.plan(Command::Plan).ok();
        let secrets: BTreeMap<ObjectRef, Value> = today
            .iter()
            .flat_map(|plan| plan.planned())
            .flat_map(|p| p.desired_objects())
            .filter(is_secret)
            .filter_map(|o| Some((ObjectRef::of(&o).ok()?, o)))
            .collect();

        let mut refused = Vec::new();
        let mut steps = Vec::new();
        let mut restores = BTreeMap::new();
        let now: Vec<(&String, &ComponentState)> =
            self.state().components.iter().filter(|(k, _)| environment_of(k) == Some(environment)).collect();
        for (key, was) in &now {
            if revision.components.contains_key(*key) {
                continue;
            }
            if !was.effects.is_empty() {
                let ids: Vec<&str> = was.effects.iter().map(|e| e.id.as_str()).collect();
                refused.push(format!(
                    "{key} was added after revision {number} and ran effects ({}); Capstan does not undo effects, so what they made would stay",
                    ids.join(", ")
                ));
            }
            let objects = was
                .objects
                .iter()
                .map(|o| RolledObject { object: o.object.clone(), action: Action::Delete, drifted: false })
                .collect();
            steps.push(RollbackStep { component: (*key).clone(), change: StepChange::Remove, objects });
        }
        for (key, then) in self.restore_order(&revision) {
            let latest_objects =
                latest.as_ref().and_then(|l| l.components.get(key)).and_then(|c| c.objects.as_ref());
            let mut why = Vec::new();
            let step = self.plan_restore(key, then, &revision.head, &secrets, latest_objects, &mut why)?;
            refused.extend(why);
            if let Some((step, restore)) = step {
                if step.change == StepChange::Restore {
                    restores.insert(key.clone(), restore);
                }
                steps.push(step);
            }
        }
        Ok(Rollback { to: revision.head, components: steps, refused, restores })
    }

    /// The revision's components, those of today's graph in its order first.
    fn restore_order<'r>(&self, revision: &'r Revision) -> Vec<(&'r String, &'r RevisionComponent)> {
        let mut ordered: Vec<(&String, &RevisionComponent)> =
            self.graph().order().iter().filter_map(|k| revision.components.get_key_value(k)).collect();
        for (k, c) in &revision.components {
            if !ordered.iter().any(|(o, _)| *o == k) {
                ordered.push((k, c));
            }
        }
        ordered
    }

    fn latest_revision(&self, environment: &str) -> Result<Option<Revision>, RunError> {
        self.block_on(self.backend().latest_revision(environment)).map_err(RunError::State)
    }

    /// One component of the revision: its objects with their Secret values,
    /// what happens to each, and why it cannot be restored (into `why`).
    fn plan_restore(
        &self,
        key: &str,
        then: &RevisionComponent,
        head: &RevisionHead,
        secrets: &BTreeMap<ObjectRef, Value>,
        latest_objects: Option<&Vec<Value>>,
        why: &mut Vec<String>,
    ) -> Result<Option<(RollbackStep, Restore)>, RunError> {
        let number = head.number;
        let Some(kept) = &then.objects else {
            why.push(format!("{key}: revision {number} does not hold its objects"));
            return Ok(None);
        };
        let now = self.state().components.get(key);
        if let Some(now) = now {
            for effect in &now.effects {
                let summary = |id: &str| then.effects.get(id).map(|s| format!(" ({s})")).unwrap_or_default();
                match then.state.effects.iter().find(|e| e.id == effect.id) {
                    None => why.push(format!(
                        "{key}: effect `{}` ran after revision {number}; Capstan does not undo effects, so what it made would stay",
                        effect.id
                    )),
                    Some(old) if old.digest != effect.digest => why.push(format!(
                        "{key}: effect `{}`{} changed after revision {number} (a rotated password or another setting); state keeps only a keyed hash of what it set then, so it cannot be set back: put the old value back in the secrets file (its Git history has it) and apply that tree instead",
                        effect.id,
                        summary(&effect.id)
                    )),
                    Some(_) => {}
                }
            }
        }
        let mut objects = Vec::with_capacity(kept.len());
        for object in kept {
            match restore_secret(self.state_key(), object, secrets) {
                Ok(o) => objects.push(o),
                Err(field) => {
                    let name = ObjectRef::of(object).map(|r| r.to_string()).unwrap_or_default();
                    why.push(format!(
                        "{key}: {name} key `{field}` held another value at revision {number}; state keeps only a keyed hash of it, so it cannot be written back: put the old value back in the secrets file (its Git history has it) and apply that tree instead"
                    ));
                }
            }
        }
        let handle = match now.map(|n| &n.plugin) {
            Some(p) if *p == then.state.plugin => self.plugin_build(&then.state.plugin).ok(),
            _ => match self.plugin_build(&then.state.plugin) {
                Ok(h) => Some(h),
                Err(reason) => {
                    why.push(format!(
                        "{key}: plugin {} {} ({}) planned it at revision {number} and is no longer to be had: {reason}",
                        then.state.plugin.name, then.state.plugin.version, then.state.plugin.digest
                    ));
                    None
                }
            },
        };

        let at = ComponentRef { key, id: &then.state.id, ready_timeout: None };
        let mut rolled = Vec::with_capacity(objects.len());
        for object in &objects {
            let Ok(reference) = ObjectRef::of(object) else { continue };
            let live = self
                .target()
                .current(at, &reference)
                .map_err(|source| RunError::RollbackTarget { key: key.to_string(), source })?;
            let action = match &live {
                None => Action::Create,
                Some(live) => {
                    let fields = diff_objects(live, object);
                    if fields.is_empty() { Action::Unchanged } else { Action::Update(fields) }
                }
            };
            let drifted = match (&live, latest_objects) {
                (Some(live), Some(last)) if !is_secret(live) => last
                    .iter()
                    .find(|o| ObjectRef::of(o).ok().as_ref() == Some(&reference))
                    .is_some_and(|o| !diff_objects(live, o).is_empty()),
                _ => false,
            };
            rolled.push(RolledObject { object: reference, action, drifted });
        }
        let prune: Vec<ObjectRef> = now
            .map(|n| {
                n.objects
                    .iter()
                    .map(|o| o.object.clone())
                    .filter(|o| !rolled.iter().any(|r| &r.object == o))
                    .collect()
            })
            .unwrap_or_default();
        rolled.extend(prune.iter().map(|o| RolledObject {
            object: o.clone(),
            action: Action::Delete,
            drifted: false,
        }));
        let same_record = now.is_some_and(|n| {
            n.objects == then.state.objects
                && n.effects == then.state.effects
                && n.plugin == then.state.plugin
        });
        let change = if same_record && rolled.iter().all(|r| r.action == Action::Unchanged) {
            StepChange::Unchanged
        } else {
            StepChange::Restore
        };
        let step = RollbackStep { component: key.to_string(), change, objects: rolled };
        let restore =
            Restore { objects, prune, record: then.state.clone(), effects: then.effects.clone(), handle };
        Ok(Some((step, restore)))
    }

    /// The plugin build `plugin` names, from the catalog (its cache and
    /// registries); an error when it is gone or another build answers.
    fn plugin_build(&self, plugin: &capstan_state::PluginRef) -> Result<Arc<dyn PluginHandle>, String> {
        let exact = semver::VersionReq::parse(&format!("={}", plugin.version)).map_err(|e| e.to_string())?;
        let handle = self.plugins().resolve(&plugin.name, &exact).map_err(|e| e.to_string())?;
        if handle.digest() != plugin.digest {
            return Err(format!("version {} is now the build {}", plugin.version, handle.digest()));
        }
        Ok(handle)
    }

    /// Carries out `rollback` under the lock: removes the components added
    /// since, writes the revision's objects back and its records into state,
    /// then records a revision of its own. Refused when the plan said why.
    pub fn rollback(&self, rollback: Rollback, guard: &LockGuard) -> Result<RolledBack, RunError> {
        let environment = rollback.to.environment.clone();
        let number = rollback.to.number;
        if !rollback.refused.is_empty() {
            return Err(RunError::RollbackRefused { environment, number, reasons: rollback.refused });
        }
        let mut recorded: State = self.state().clone();
        let run = RunRecord::default();
        let mut removed = Vec::new();
        for step in rollback.components.iter().filter(|s| s.change == StepChange::Remove) {
            let Some(was) = self.state().components.get(&step.component) else { continue };
            self.events().phase(&step.component, Phase::Applying, Some("removing"));
            self.remove(&step.component, was)?;
            self.block_on(self.backend().write_component(&step.component, None, guard))?;
            recorded.components.remove(&step.component);
            run.removed(&step.component);
            removed.push(step.component.clone());
            self.events().phase(&step.component, Phase::Ready, Some("removed"));
        }
        let mut restores = rollback.restores;
        for step in rollback.components.iter().filter(|s| s.change == StepChange::Restore) {
            let Some(restore) = restores.remove(&step.component) else { continue };
            let key = step.component.as_str();
            self.events().phase(key, Phase::Applying, Some("rolling back"));
            let ready_timeout = self.stack().component(key).and_then(|c| c.ready_timeout);
            let at = ComponentRef { key, id: &restore.record.id, ready_timeout };
            let target_failed = |source| RunError::RollbackTarget { key: key.to_string(), source };
            self.target().apply(at, &restore.objects, &restore.prune).map_err(target_failed)?;
            if let Some(handle) = &restore.handle {
                let desired: Vec<ObjectRef> =
                    restore.objects.iter().filter_map(|o| ObjectRef::of(o).ok()).collect();
                let health = |object: &Value| handle.health(&restore.record.id, object);
                self.target().wait_ready(at, &desired, &health).map_err(target_failed)?;
            }
            let mut record = restore.record;
            record.applied_at = capstan_state::now_rfc3339();
            self.block_on(self.backend().write_component(key, Some(&record), guard))?;
            run.keep_objects(self.state_key(), key, &restore.objects, restore.effects, true);
            recorded.components.insert(key.to_string(), record);
            self.events().phase(key, Phase::Ready, Some("rolled back"));
        }
        self.target().flush()?;
        self.block_on(self.backend().write(&recorded, guard))?;
        let digest = capstan_state::sha256_digest(serde_json::to_string(&rollback.components)?.as_bytes());
        let made = Made {
            operation: format!("rollback to {number}"),
            plan_digest: digest,
            guard,
            removed: &removed,
        };
        Ok(match self.record_revisions(&recorded, run, made) {
            Ok(numbers) => RolledBack { revision: numbers.first().map(|(_, n)| *n), revision_failed: None },
            Err(e) => RolledBack { revision: None, revision_failed: Some(e) },
        })
    }
}

/// `kept` (a Secret whose values are keyed hashes) with each value taken
/// from today's plan of the same Secret where its hash matches; the first
/// key whose value cannot be found otherwise. Other objects pass as they are.
fn restore_secret(key: &StateKey, kept: &Value, today: &BTreeMap<ObjectRef, Value>) -> Result<Value, String> {
    if !is_secret(kept) {
        return Ok(kept.clone());
    }
    let now = ObjectRef::of(kept).ok().and_then(|r| today.get(&r));
    let mut restored = kept.clone();
    for field in ["data", "stringData"] {
        let Some(Value::Object(values)) = restored.get_mut(field) else { continue };
        for (name, value) in values.iter_mut() {
            let hashed = value.as_str().unwrap_or_default().to_string();
            // The value today may sit under the other field (data vs stringData).
            let found = ["data", "stringData"].iter().find_map(|f| {
                let candidate = now?.get(*f)?.get(name.as_str())?;
                (secret_value_hash(key, candidate) == hashed).then(|| (*f, candidate.clone()))
            });
            match found {
                Some((f, v)) if f == field => *value = v,
                _ => return Err(name.clone()),
            }
        }
    }
    Ok(restored)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    fn secret(password: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "n"},
               "stringData": {"password": password}})
    }

    #[test]
    fn a_secret_comes_back_only_while_today_holds_the_same_value() {
        let key = StateKey::from_bytes([9; 32]);
        let kept = capstan_state::redact_secret_values(&key, &secret("old"));
        let today = |p: &str| BTreeMap::from([(ObjectRef::of(&secret(p)).unwrap(), secret(p))]);
        assert_eq!(restore_secret(&key, &kept, &today("old")).unwrap(), secret("old"));
        assert_eq!(restore_secret(&key, &kept, &today("new")).unwrap_err(), "password");
        assert_eq!(restore_secret(&key, &kept, &BTreeMap::new()).unwrap_err(), "password");
    }
}
