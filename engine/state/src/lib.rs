//! Capstan's recorded state: what was applied, per component, and where it is kept.
//!
//! The state is the engine's memory between runs: the inventory of objects each
//! component applied (so pruning never guesses), digests of the effects that ran
//! (so an unchanged effect is not run again), and the outputs dependents read.
//! Sensitive values never enter it: passwords, Secret data and sensitive outputs
//! are recorded only as a keyed hash ([`StateKey`]), enough to notice that a
//! value changed without being able to recover it.
//!
//! Two backends sit behind [`StateBackend`]:
//! - [`LocalBackend`] (default): `<stack root>/.capstan/state.json`, written
//!   atomically, previous version kept, plus an append-only journal so a write
//!   after each component costs one appended line (fsynced when it ran
//!   effects), not a rewrite of the file; locked with an operating-system file
//!   lock (released by the OS if the run dies).
//! - [`PostgresBackend`]: one row per component in a table, a session advisory
//!   lock (released by the server if the run dies) with an info row naming the holder.
//!
//! When a backend will not take the state at the end of a run, the engine
//! keeps it in an errored-state file ([`save_errored`]) that [`push`] stores
//! back later; state surgery (`capstan state mv|rm|import`) first saves the
//! whole state as a backup ([`save_backup`]) that [`push`] restores.
//!
//! The API is async (tokio): the CLI runs on tokio and the PostgreSQL backend
//! talks through tokio-postgres. The local backend does its small blocking file
//! I/O inline.
//!
//! This crate does not plan, diff or apply anything, and never sees a Kubernetes
//! cluster: it stores what the engine tells it and answers what it stored.

mod backend;
mod backup;
mod digest;
mod error;
mod errored;
mod file;
mod key;
mod local;
mod lock;
mod model;
mod postgres;
mod revision;
mod time;

pub use backend::{AnyBackend, StateBackend};
pub use backup::{BACKUP_DIR, save_backup};
pub use digest::{canonical_json, effect_digest, inputs_digest, object_digest, redact_effect, sha256_digest};
pub use error::StateError;
pub use errored::{ERRORED_STATE_FILE, Stored, load_state_file, push, save_errored};
pub use key::StateKey;
pub use local::LocalBackend;
pub use lock::{LockGuard, LockInfo, LockRelease};
pub use model::{
    ComponentState, EffectRecord, ObjectRecord, OutputRecord, PluginRef, STATE_VERSION, State, component_key,
};
pub use postgres::{PostgresBackend, PostgresConfig};
pub use revision::{
    DEFAULT_REVISIONS_KEPT, REVISION_VERSION, Revision, RevisionComponent, RevisionHead,
    redact_secret_values, secret_value_hash,
};
pub use time::now_rfc3339;
