//! The one error type of this crate. Messages name the file, table or lock
//! involved; none ever carries a state key, a password or a connection URL.

use std::path::PathBuf;
use std::time::Duration;

use crate::{LockInfo, LockRelease};

/// Why state could not be read, written or locked.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A state, journal, lock or key file could not be read or written.
    #[error("state I/O on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Stored state (or a lock record) is not the JSON this crate writes:
    /// damaged or edited by hand.
    #[error("state in {location} is not valid: {source}")]
    Parse {
        /// The file, or the backend location (with `, component <key>` for one
        /// PostgreSQL row).
        location: String,
        /// The JSON error, with line and column.
        #[source]
        source: serde_json::Error,
    },

    /// State or a lock record could not be serialised to JSON.
    #[error("cannot encode state for {location}: {source}")]
    Encode {
        /// Where it was to be written.
        location: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// The stored state has another schema version than [`crate::STATE_VERSION`].
    #[error("state in {location} has schema version {found}, this capstan reads version {supported}; {hint}")]
    VersionMismatch {
        /// Where the state was read.
        location: String,
        /// The stored `version`.
        found: u32,
        /// The version this build reads.
        supported: u32,
        /// What to do: upgrade Capstan when the state is newer.
        hint: &'static str,
    },

    /// A full write carries another lineage than the stored state: it was
    /// read from another stack.
    #[error(
        "state in {location} belongs to lineage {stored}, refusing to overwrite it with lineage {given} (a state from another stack?)"
    )]
    LineageMismatch {
        /// Where the state is.
        location: String,
        /// The lineage stored there.
        stored: String,
        /// The lineage of the state being written.
        given: String,
    },

    /// Another run held the lock for the whole `timeout` given to
    /// [`crate::StateBackend::lock`].
    #[error("state of {location} is locked by {}; waited {waited:?}; {}", describe_holder(.holder), remedy(.holder, .release))]
    Locked {
        /// Where the state is.
        location: String,
        /// Who holds the lock; `None` when the holder has not recorded itself.
        holder: Option<Box<LockInfo>>,
        /// How long this run waited.
        waited: Duration,
        /// How the lock goes away, which decides the advice in the message.
        release: LockRelease,
    },

    /// `capstan state unlock` on a local lock whose holder is still running:
    /// the OS lock cannot be taken from it; stop that process instead.
    #[error(
        "lock {} on {location} is held by a running process ({holder}); it is released as soon as that process \
         ends: stop pid {} on {} if that run hangs",
        holder.id, holder.pid, holder.host
    )]
    LockAlive {
        /// Where the state is.
        location: String,
        /// The running holder.
        holder: Box<LockInfo>,
    },

    /// The local lock is held but its record stayed empty or unreadable
    /// while this run looked (the holder is just taking or releasing it).
    #[error("the lock on {location} is held, but its holder has not recorded who it is")]
    LockUnrecorded {
        /// Where the state is.
        location: String,
    },

    /// `capstan state unlock <id>` named a lock that is not the held one (or
    /// a dead run's leftover record).
    #[error("no lock {id} on {location}{}", .current.as_ref().map(|c| format!(" (the current lock is {c})")).unwrap_or_default())]
    LockNotFound {
        /// Where the state is.
        location: String,
        /// The lock id given.
        id: String,
        /// The lock held now, if any, so the operator can pick the right id.
        current: Option<Box<LockInfo>>,
    },

    /// A write found this run no longer holds its lock: `state.lock` was
    /// removed or replaced, or the PostgreSQL session was ended by a force
    /// unlock.
    #[error("lock {id} on {location} is no longer held (force-unlocked by someone else?); stop and re-run")]
    LockLost {
        /// Where the state is.
        location: String,
        /// The id of the lock this run held.
        id: String,
    },

    /// [`crate::push`] without `force` of a state from another lineage.
    #[error(
        "state in {location} belongs to lineage {stored}, the pushed file to lineage {pushed} (another stack's \
         state?); --force stores it anyway"
    )]
    PushLineage {
        /// Where the state is.
        location: String,
        /// The lineage stored there.
        stored: String,
        /// The lineage of the pushed file.
        pushed: String,
    },

    /// [`crate::push`] without `force` of a state with a lower serial than the
    /// stored one: a run recorded state after the file was written.
    #[error(
        "state in {location} has serial {stored}, the pushed file serial {pushed}: a run wrote state after this \
         file was made; --force stores it anyway, losing what that run recorded"
    )]
    PushOlder {
        /// Where the state is.
        location: String,
        /// The serial stored there.
        stored: u64,
        /// The serial of the pushed file.
        pushed: u64,
    },

    /// A [`crate::LockGuard`] from one backend was passed to another; a bug in
    /// the caller.
    #[error("this lock guard belongs to {guard_location}, not to {location}")]
    WrongGuard {
        /// The backend written to.
        location: String,
        /// The backend the guard was taken from.
        guard_location: String,
    },

    /// Connecting to PostgreSQL or a query failed.
    #[error("PostgreSQL state backend ({target}): {action}: {message}")]
    Postgres {
        /// The connection as `state (host:port/db)`, never the URL.
        target: String,
        /// What was being done, e.g. `taking the lock`.
        action: &'static str,
        /// The server's message with its SQLSTATE, or the client error.
        message: String,
    },

    /// The PostgreSQL backend settings are unusable (a URL that does not
    /// parse, a table or schema name that is not an identifier, an empty stack
    /// name), or an empty component key was written.
    #[error("invalid state backend configuration: {what}")]
    InvalidConfig {
        /// What is wrong.
        what: String,
    },

    /// The stored [`crate::StateKey`] is damaged.
    #[error("state key in {location} is not valid ({why})")]
    InvalidKey {
        /// The key file, or the PostgreSQL backend location.
        location: String,
        /// `not hex` or `not 32 bytes`.
        why: &'static str,
    },

    /// A planned object lacks what identifies it (`kind`, `metadata.name`).
    #[error("cannot record object #{index}: {why}")]
    InvalidObject {
        /// 0-based position of the object in the component's plan.
        index: usize,
        /// What is missing.
        why: String,
    },

    /// The OS random source failed while making a lock id, lineage or state key.
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
