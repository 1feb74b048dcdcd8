//! Who holds a stack's state, and the guard a run keeps while it does.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::StateError;

/// Who holds (or asks for) the lock. Shown to the operator who is kept waiting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Random id; `capstan state unlock <id>` names it.
    pub id: String,
    /// Who runs: a user name, a CI job id — whatever the CLI says.
    pub holder: String,
    /// What for: `apply`, `destroy`, …
    pub operation: String,
    /// Process id of the holding run, on `host`.
    pub pid: u32,
    /// Host name of the machine the holding run is on; `unknown` if unreadable.
    pub host: String,
    /// RFC 3339, UTC.
    pub since: String,
}

impl LockInfo {
    /// A lock request from this process, with a fresh id, now.
    pub fn new(holder: impl Into<String>, operation: impl Into<String>) -> Result<Self, StateError> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(StateError::Random)?;
        Ok(Self {
            id: hex::encode(bytes),
            holder: holder.into(),
            operation: operation.into(),
            pid: std::process::id(),
            host: hostname(),
            since: crate::now_rfc3339(),
        })
    }
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} with pid {} on {}, since {}, lock id {})",
            self.holder, self.operation, self.pid, self.host, self.since, self.id
        )
    }
}

/// This machine's name, for lock messages; `unknown` where it cannot be read.
fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// What the guard knows about the stored state, so writes need not read it.
#[derive(Debug)]
pub(crate) struct Progress {
    pub serial: u64,
    pub lineage: Option<String>,
}

pub(crate) enum GuardKind {
    Local(crate::local::HeldLock),
    Postgres { client: tokio_postgres::Client },
}

/// How a held lock goes away without `capstan state unlock`: what a
/// "locked by" message tells the operator to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockRelease {
    /// Local state: the OS lock goes with the holding process.
    WhenProcessEnds,
    /// PostgreSQL: the advisory lock goes with the holding session, which
    /// `capstan state unlock` can end.
    WhenSessionEnds,
}

/// Proof that this run holds the lock. Writes need it.
///
/// Dropping it releases the lock (the local lock file is closed, which
/// frees its OS lock; the PostgreSQL session ends, which frees its advisory
/// lock), so a run that fails still lets the next one in. Locally the
/// holder's record is cleared either way; for PostgreSQL
/// `StateBackend::unlock` also deletes the holder's row (a dropped guard's
/// row is ignored, as no session holds its lock).
pub struct LockGuard {
    pub(crate) info: LockInfo,
    pub(crate) location: String,
    /// Serialises writes from components that finish at the same time.
    pub(crate) progress: tokio::sync::Mutex<Progress>,
    pub(crate) kind: GuardKind,
}

impl fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").field("info", &self.info).field("location", &self.location).finish()
    }
}

impl LockGuard {
    /// Who holds the lock: the [`LockInfo`] it was taken with.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    pub(crate) fn check_location(&self, location: &str) -> Result<(), StateError> {
        if self.location == location {
            Ok(())
        } else {
            Err(StateError::WrongGuard {
                location: location.to_string(),
                guard_location: self.location.clone(),
            })
        }
    }
}
