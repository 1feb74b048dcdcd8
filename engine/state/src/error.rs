//! The one error type of this crate. Messages name the file, table or lock
//! involved; none ever carries a state key, a password or a connection URL.

use std::path::PathBuf;
use std::time::Duration;

use crate::{LockInfo, LockRelease};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("state in {location} is not valid: {source}")]
    Parse {
        location: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("cannot encode state for {location}: {source}")]
    Encode {
        location: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("state in {location} has schema version {found}, this capstan reads version {supported}; {hint}")]
    VersionMismatch { location: String, found: u32, supported: u32, hint: &'static str },

    #[error(
        "state in {location} belongs to lineage {stored}, refusing to overwrite it with lineage {given} (a state from another stack?)"
    )]
    LineageMismatch { location: String, stored: String, given: String },

    #[error("state of {location} is locked by {}; waited {waited:?}; {}", describe_holder(.holder), remedy(.holder, .release))]
    Locked { location: String, holder: Option<Box<LockInfo>>, waited: Duration, release: LockRelease },

    #[error(
        "lock {} on {location} is held by a running process ({holder}); it is released as soon as that process \
         ends: stop pid {} on {} if that run hangs",
        holder.id, holder.pid, holder.host
    )]
    LockAlive { location: String, holder: Box<LockInfo> },

    #[error("the lock on {location} is held, but its holder has not recorded who it is")]
    LockUnrecorded { location: String },

    #[error("no lock {id} on {location}{}", .current.as_ref().map(|c| format!(" (the current lock is {c})")).unwrap_or_default())]
    LockNotFound { location: String, id: String, current: Option<Box<LockInfo>> },

    #[error("lock {id} on {location} is no longer held (force-unlocked by someone else?); stop and re-run")]
    LockLost { location: String, id: String },

    #[error(
        "state in {location} belongs to lineage {stored}, the pushed file to lineage {pushed} (another stack's \
         state?); --force stores it anyway"
    )]
    PushLineage { location: String, stored: String, pushed: String },

    #[error(
        "state in {location} has serial {stored}, the pushed file serial {pushed}: a run wrote state after this \
         file was made; --force stores it anyway, losing what that run recorded"
    )]
    PushOlder { location: String, stored: u64, pushed: u64 },

    #[error("this lock guard belongs to {guard_location}, not to {location}")]
    WrongGuard { location: String, guard_location: String },

    #[error("PostgreSQL state backend ({target}): {action}: {message}")]
    Postgres { target: String, action: &'static str, message: String },

    #[error("invalid state backend configuration: {what}")]
    InvalidConfig { what: String },

    #[error("state key in {location} is not valid ({why})")]
    InvalidKey { location: String, why: &'static str },

    #[error("cannot record object #{index}: {why}")]
    InvalidObject { index: usize, why: String },

    #[error("no randomness from the operating system: {0}")]
    Random(getrandom::Error),
}

fn remedy(holder: &Option<Box<LockInfo>>, release: &LockRelease) -> String {
    match release {
        LockRelease::WhenProcessEnds => {
            "the lock is released as soon as that process ends (a crash included); if it hangs, stop it"
                .to_string()
        }
        LockRelease::WhenSessionEnds => format!(
            "the lock is released when that run's database session ends; if the run is gone or hangs, \
             `capstan state unlock {}` ends the session",
            holder.as_ref().map_or("<id>", |h| h.id.as_str())
        ),
    }
}

fn describe_holder(holder: &Option<Box<LockInfo>>) -> String {
    match holder {
        Some(h) => h.to_string(),
        None => "another run (holder not recorded)".to_string(),
    }
}

impl StateError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StateError::Io { path: path.into(), source }
    }
}

/// The server's message for a failed query (tokio-postgres itself displays a
/// server error as just "db error").
pub(crate) fn pg_message(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => err.to_string(),
    }
}
