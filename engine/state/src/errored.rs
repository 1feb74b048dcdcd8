//! When the backend will not take the state at the end of a run: the state is
//! kept in a file instead, and `capstan state push` stores it back later.
//!
//! Effects ran and objects were applied; forgetting them would make the next
//! run redo or orphan them. So the engine writes what it could not store to
//! [`ERRORED_STATE_FILE`] in the working directory (mode 0600, like the state
//! key: it is the same document as `state.json`, secrets in it only as keyed
//! hashes). [`push`] stores such a file under the lock, refusing one from
//! another lineage or older than what is stored unless forced, as
//! `terraform state push` does.

use std::path::{Path, PathBuf};

use crate::{LockGuard, State, StateBackend, StateError};

/// The file an apply writes the state to that its backend would not take.
pub const ERRORED_STATE_FILE: &str = "errored.capstanstate";

/// Writes `state` to a new errored-state file in `dir` (never over an
/// existing one: each may hold a state not pushed yet) and returns its path.
pub fn save_errored(state: &State, dir: &Path) -> Result<PathBuf, StateError> {
    crate::file::write_new(state, dir, |n| {
        if n == 0 { ERRORED_STATE_FILE.to_string() } else { format!("errored.{n}.capstanstate") }
    })
}

/// Reads a state file (`errored.capstanstate`, or a copy of `state.json`).
pub fn load_state_file(path: &Path) -> Result<State, StateError> {
    let text = std::fs::read_to_string(path).map_err(|e| StateError::io(path, e))?;
    State::from_json(&text, &path.display().to_string())
}

/// What the backend holds, as the lock found it: what a push replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// The serial of the last write; 0 when nothing is stored.
    pub serial: u64,
    /// `None` when nothing stored a lineage yet (no state, or a first apply
    /// recorded component by component only).
    pub lineage: Option<String>,
}

impl LockGuard {
    /// The serial and lineage the backend holds, as this guard knows them.
    pub async fn stored(&self) -> Stored {
        let p = self.progress.lock().await;
        Stored { serial: p.serial, lineage: p.lineage.clone() }
    }
}

/// Stores `pushed` in place of the state `backend` holds. Refused, unless
/// `force`, when `pushed` belongs to another lineage (another stack's
/// state) or is older than what is stored (a run wrote since). Returns the
/// serial it was stored under.
pub async fn push<B: StateBackend>(
    backend: &B,
    pushed: &State,
    guard: &LockGuard,
    force: bool,
) -> Result<u64, StateError> {
    {
        let mut progress = guard.progress.lock().await;
        if let Some(stored) = &progress.lineage
            && *stored != pushed.lineage
        {
            if !force {
                return Err(StateError::PushLineage {
                    location: backend.location(),
                    stored: stored.clone(),
                    pushed: pushed.lineage.clone(),
                });
            }
            // Forced: the pushed lineage replaces the stored one.
            progress.lineage = None;
        }
        if pushed.serial < progress.serial && !force {
            return Err(StateError::PushOlder {
                location: backend.location(),
                stored: progress.serial,
                pushed: pushed.serial,
            });
        }
    }
    backend.write(pushed, guard).await
}
