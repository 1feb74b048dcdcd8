//! State surgery: `capstan state mv`, `rm` and `import` change what state
//! records without applying anything, for what a plan cannot express.
//!
//! - A component whose directory moved is a new component to the planner,
//!   and the old one an orphan: its objects would be deleted and created
//!   again. [`Session::plan_move`] gives the old record to the new key (with
//!   the new component's identity), and the target follows: the render
//!   target moves the component's files, the kube target re-marks the live
//!   objects with the new key. The next plan finds them where the component
//!   now is and deletes nothing.
//! - [`Session::plan_forget`] drops a record and leaves everything it
//!   applied in place: no later run deletes those objects (a component
//!   still in the tree is recorded again by its next apply).
//! - [`Session::plan_import`] records a component that is not recorded yet
//!   from its plan, when every object the plugin plans already exists in
//!   the target (made by hand, by Helm, or forgotten by `rm`), as Helm's
//!   `--take-ownership` adopts them. Nothing is applied: the next plan shows
//!   how the live objects differ from the plan, as updates. Effects are not
//!   recorded as run, so the next apply runs them; they ensure (a database
//!   that exists is kept), so adopting one is running it once.
//!
//! Each is checked against the state read under the lock, shown by the
//! front end, then carried out: the whole state is first saved as a backup
//! ([`capstan_state::save_backup`]) that `capstan state push <backup>
//! --force` restores, then the target follows (for a move), then the new
//! state is written in one write.

use std::path::PathBuf;

use capstan_core::inventory::COMPONENT_ANNOTATION;
use capstan_plan::{Action, ComponentRef, ObjectTarget as _, Outcome};
use capstan_state::{ComponentState, LockGuard, ObjectRecord, OutputRecord, State, StateBackend as _};

use crate::RunError;
use crate::session::{Plan, Session};
use crate::targets::Relocated;

/// `state mv`: a recorded component handed to the component its directory
/// moved to.
#[derive(Debug)]
pub struct Move {
    /// The key state records it under now.
    pub from: String,
    /// The key it is recorded under after the move.
    pub to: String,
    /// Its record as it will be stored: the same objects, effects and
    /// outputs, with the new component's identity.
    pub record: ComponentState,
}

/// `state rm`: a record to forget, everything it applied left in place.
#[derive(Debug)]
pub struct Forget {
    /// The component's key.
    pub key: String,
    /// What state records for it now.
    pub record: ComponentState,
    /// Whether the component is still in the tree (its next apply records
    /// it again) or gone (nothing will remove its objects).
    pub in_tree: bool,
}

/// `state import`: a component recorded from its plan, its objects adopted
/// as the target holds them.
#[derive(Debug)]
pub struct Import {
    /// The component's key.
    pub key: String,
    /// What will be recorded: the plan's plugin, inputs and outputs; every
    /// object as the target holds it; no effect.
    pub record: ComponentState,
    /// The effects the plugin declares, as `target: summary`: not recorded
    /// as run, so the next apply runs them.
    pub effects: Vec<String>,
}

/// What a surgery did.
#[derive(Debug)]
pub struct Operated {
    /// The whole state as it was before, for `capstan state push --force`.
    pub backup: PathBuf,
    /// Where the state is: a file path, or `postgres host/db table stack`.
    pub location: String,
    /// The serial the new state was stored under.
    pub serial: u64,
    /// What the target did, for a move.
    pub relocated: Option<Relocated>,
}

impl Session {
    /// Checks a move of the record of `from` to `to`: `from` must be
    /// recorded and no longer in the tree, `to` a component of the tree
    /// (the session opened at a directory holding it) with no record.
    pub fn plan_move(&self, from: &str, to: &str) -> Result<Move, RunError> {
        let state = self.state();
        let recorded =
            state.components.get(from).ok_or_else(|| RunError::NotRecorded { key: from.into() })?;
        if state.components.contains_key(to) {
            return Err(RunError::AlreadyRecorded {
                key: to.into(),
                hint: "a move would replace its record: `capstan state rm` it first if it is to go",
            });
        }
        let component = self.stack().component(to).ok_or_else(|| RunError::NotInTree {
            key: to.into(),
            hint: "move the component's directory there first, then its state",
        })?;
        if self.stack().root.join(from).join("component.hcl").is_file() {
            return Err(RunError::StillInTree { key: from.into() });
        }
        let record = ComponentState { id: component.id.clone(), ..recorded.clone() };
        Ok(Move { from: from.into(), to: to.into(), record })
    }

    /// Carries out `change` under `guard`: the backup, then the target (the
    /// render target's files, the kube target's live objects), then state.
    pub fn move_recorded(&self, change: Move, guard: &LockGuard) -> Result<Operated, RunError> {
        let Some(was) = self.state().components.get(&change.from) else {
            return Err(RunError::NotRecorded { key: change.from });
        };
        let objects: Vec<_> = was.objects.iter().map(|o| o.object.clone()).collect();
        let ready_timeout = None;
        let from = ComponentRef { key: &change.from, id: &was.id, ready_timeout };
        let to = ComponentRef { key: &change.to, id: &change.record.id, ready_timeout };
        self.operate(guard, |state| {
            let relocated = self.target().relocate(from, to, &objects)?;
            self.target().flush()?;
            state.components.remove(&change.from);
            state.components.insert(change.to.clone(), change.record.clone());
            Ok(Some(relocated))
        })
    }

    /// Checks forgetting `key`: it must be recorded.
    pub fn plan_forget(&self, key: &str) -> Result<Forget, RunError> {
        let record =
            self.state().components.get(key).ok_or_else(|| RunError::NotRecorded { key: key.into() })?;
        let in_tree = self.stack().root.join(key).join("component.hcl").is_file();
        Ok(Forget { key: key.into(), record: record.clone(), in_tree })
    }

    /// Drops the record of `change.key` under `guard`, after the backup;
    /// the target is not touched.
    pub fn forget(&self, change: Forget, guard: &LockGuard) -> Result<Operated, RunError> {
        self.operate(guard, |state| {
            state.components.remove(&change.key);
            Ok(None)
        })
    }

    /// Checks importing `key` from `plan` (made by this session, for the
    /// command `apply`, so no output comes from `mock_outputs`): the
    /// component must have planned, have no record, and every object it
    /// plans must be in the target and belong to no other component, by
    /// state and by the inventory annotation the target holds.
    pub fn plan_import(&self, plan: &Plan, key: &str) -> Result<Import, RunError> {
        let planned = match plan.outcomes.get(key) {
            Some(Outcome::Done(p)) if p.in_target => p,
            Some(Outcome::Done(_)) | None => {
                return Err(RunError::NotInTree {
                    key: key.into(),
                    hint: "give the directory holding its component.hcl",
                });
            }
            Some(Outcome::Failed(e)) => {
                return Err(RunError::ImportNotPlanned { key: key.into(), why: e.to_string() });
            }
            Some(Outcome::Skipped { because }) => {
                return Err(RunError::ImportNotPlanned { key: key.into(), why: because.clone() });
            }
        };
        if self.state().components.contains_key(key) {
            return Err(RunError::AlreadyRecorded {
                key: key.into(),
                hint: "its objects are Capstan's already (`capstan state rm` it first to import it again)",
            });
        }
        let component = self.stack().component(key).ok_or_else(|| RunError::NotInTree {
            key: key.into(),
            hint: "give the directory holding its component.hcl",
        })?;
        let at = ComponentRef { key, id: &planned.id, ready_timeout: component.ready_timeout };
        let mut missing = Vec::new();
        let mut taken = Vec::new();
        let mut objects = Vec::new();
        for change in planned.objects.iter().filter(|o| o.action != Action::Delete) {
            let object = &change.object;
            let live = match self.target().current(at, object) {
                Ok(Some(live)) => live,
                Ok(None) => {
                    missing.push(object.to_string());
                    continue;
                }
                Err(source) => {
                    return Err(RunError::ImportRead { key: key.into(), object: object.to_string(), source });
                }
            };
            let by_state = self
                .state()
                .components
                .iter()
                .find(|(_, c)| c.objects.iter().any(|o| &o.object == object))
                .map(|(k, _)| k.as_str());
            let by_mark = live
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(COMPONENT_ANNOTATION))
                .and_then(serde_json::Value::as_str)
                .filter(|owner| *owner != key);
            if let Some(owner) = by_state.or(by_mark) {
                taken.push((object.to_string(), owner.to_string()));
                continue;
            }
            objects.push(ObjectRecord {
                object: object.clone(),
                digest: capstan_state::object_digest(self.state_key(), &live),
            });
        }
        if !missing.is_empty() {
            return Err(RunError::NotLive { key: key.into(), objects: missing });
        }
        if !taken.is_empty() {
            return Err(RunError::OwnedElsewhere { key: key.into(), objects: taken });
        }
        let record = ComponentState {
            id: planned.id.clone(),
            plugin: planned.plugin.clone(),
            inputs_digest: planned.inputs_digest.clone(),
            objects,
            effects: Vec::new(),
            outputs: planned.outputs.iter().map(|o| OutputRecord::from_output(self.state_key(), o)).collect(),
            applied_at: capstan_state::now_rfc3339(),
        };
        let effects = planned.effects.iter().map(|e| format!("{}: {}", e.target, e.summary)).collect();
        Ok(Import { key: key.into(), record, effects })
    }

    /// Records `change` under `guard`, after the backup; nothing is applied.
    pub fn import(&self, change: Import, guard: &LockGuard) -> Result<Operated, RunError> {
        self.operate(guard, |state| {
            state.components.insert(change.key.clone(), change.record.clone());
            Ok(None)
        })
    }

    /// Saves the state as read under the lock to a backup, lets `change`
    /// act and edit a copy of it, and stores the copy. A failure after the
    /// backup names it.
    fn operate(
        &self,
        guard: &LockGuard,
        change: impl FnOnce(&mut State) -> Result<Option<Relocated>, RunError>,
    ) -> Result<Operated, RunError> {
        let before = self.state();
        let backup = capstan_state::save_backup(before, &self.stack().root).map_err(RunError::Backup)?;
        let mut after = before.clone();
        let stored = change(&mut after).and_then(|relocated| {
            let serial = self.block_on(self.backend().write(&after, guard))?;
            Ok((serial, relocated))
        });
        match stored {
            Ok((serial, relocated)) => {
                Ok(Operated { backup, location: self.backend().location(), serial, relocated })
            }
            Err(source) => Err(RunError::SurgeryFailed { backup, source: Box::new(source) }),
        }
    }
}
