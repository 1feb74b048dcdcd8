//! Plans saved by `plan --out` and applied later: the file records the
//! state it was made against and a digest of every change, so an apply
//! refuses a plan the state or the tree has moved away from. No secret value
//! is saved: objects and effects enter the digest keyed-hashed.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use capstan_plan::ComponentPlanned;
use capstan_state::{ComponentState, StateKey};

use crate::RunError;
use crate::session::{Plan, Session};

/// The saved plan's file format.
const FORMAT: &str = "capstan-plan/v1";

/// What `plan --out` saves: enough to refuse a stale plan, no secret values.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedPlan {
    format: String,
    lineage: String,
    serial: u64,
    digest: String,
    /// The plan as it was shown, for a person reading the file.
    plan: String,
}

/// A digest of everything a plan would do, secrets keyed-hashed: two plans
/// with the same digest make the same changes.
pub(crate) fn plan_digest(
    key: &StateKey,
    plans: &[&ComponentPlanned],
    orphans: &[(&String, &ComponentState)],
) -> String {
    let mut h = Sha256::new();
    for p in plans {
        h.update(serde_json::to_string(p).unwrap_or_default());
        for digest in p.objects.iter().filter_map(|o| o.digest(key)) {
            h.update(digest);
        }
        for e in &p.effects {
            h.update(capstan_state::effect_digest(key, &e.effect));
        }
    }
    for (k, _) in orphans {
        h.update(k.as_bytes());
    }
    hex::encode(h.finalize())
}

impl Session {
    /// Saves `plan` to `file` (replacing it whole), with `text`, the plan as
    /// shown to the operator.
    pub fn save_plan(&self, plan: &Plan, text: String, file: &Path) -> Result<(), RunError> {
        let saved = SavedPlan {
            format: FORMAT.into(),
            lineage: self.state().lineage.clone(),
            serial: self.state().serial,
            digest: plan_digest(self.state_key(), &plan.planned(), &self.orphans()),
            plan: text,
        };
        write_new_file(file, serde_json::to_vec_pretty(&saved)?.as_slice())
    }

    /// Refuses the plan saved in `file` unless `plan`, made now, makes
    /// exactly its changes on the state it was made against.
    pub fn check_saved_plan(&self, file: &Path, plan: &Plan) -> Result<(), RunError> {
        let path = || file.to_path_buf();
        let text = std::fs::read(file).map_err(|source| RunError::ReadSavedPlan { file: path(), source })?;
        let saved: SavedPlan = serde_json::from_slice(&text)
            .map_err(|source| RunError::NotASavedPlan { file: path(), source })?;
        if saved.format != FORMAT {
            return Err(RunError::SavedPlanFormat { file: path(), format: saved.format, expected: FORMAT });
        }
        let state = self.state();
        // A stack with no state yet gets a fresh lineage on every read.
        let fresh = saved.serial == 0 && state.serial == 0 && state.components.is_empty();
        if !fresh && (saved.lineage != state.lineage || saved.serial != state.serial) {
            return Err(RunError::StaleState { file: path(), then: saved.serial, now: state.serial });
        }
        if saved.digest != plan_digest(self.state_key(), &plan.planned(), &self.orphans()) {
            return Err(RunError::StaleTree { file: path() });
        }
        Ok(())
    }
}

/// Writes a file that must not silently replace another's work half-way.
fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let tmp: PathBuf = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|source| RunError::WriteFile { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, path).map_err(|source| RunError::WriteFile { path: path.to_path_buf(), source })
}
