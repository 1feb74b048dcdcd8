//! The seam between the engine and where state lives.

use std::future::Future;
use std::time::Duration;

use crate::{
    ComponentState, LocalBackend, LockGuard, LockInfo, PostgresBackend, Revision, RevisionHead, State,
    StateError, StateKey,
};

/// A place state is kept, with a lock so that one run at a time changes it.
///
/// A run: `lock` → `read` → (`write_component` after each component, or
/// `write` of the whole state) → `unlock`. Every write is atomic on its own:
/// a run killed at any point leaves the last completed write readable.
pub trait StateBackend: Send + Sync {
    /// Where the state is, for messages (a path, or `postgres host/db table stack`).
    fn location(&self) -> String;

    /// The stack's [`StateKey`], created on first use.
    fn state_key(&self) -> impl Future<Output = Result<StateKey, StateError>> + Send;

    /// Takes the lock, waiting up to `timeout` for another holder to let go;
    /// then fails with [`StateError::Locked`] naming that holder.
    fn lock(
        &self,
        holder: &LockInfo,
        timeout: Duration,
    ) -> impl Future<Output = Result<LockGuard, StateError>> + Send;

    /// Who holds the lock now, if anyone.
    fn current_lock(&self) -> impl Future<Output = Result<Option<LockInfo>, StateError>> + Send;

    /// The stored state; an empty [`State`] with a fresh lineage if there is none.
    /// Reading needs no lock (it may be stale if another run is writing).
    fn read(&self) -> impl Future<Output = Result<State, StateError>> + Send;

    /// Replaces the whole state. Returns the serial it was stored under (the
    /// backend assigns serials; `state.serial` is ignored).
    fn write(&self, state: &State, guard: &LockGuard)
    -> impl Future<Output = Result<u64, StateError>> + Send;

    /// Records one component (`None` removes it), cheaply: this is what apply
    /// calls after each component. Returns the new serial.
    fn write_component(
        &self,
        key: &str,
        component: Option<&ComponentState>,
        guard: &LockGuard,
    ) -> impl Future<Output = Result<u64, StateError>> + Send;

    /// Stores `revision` as the next revision of its environment (the
    /// backend numbers it and sets `revision.head.number`), then forgets all
    /// but the newest `keep` of that environment. Returns the number.
    fn record_revision(
        &self,
        revision: &mut Revision,
        keep: usize,
        guard: &LockGuard,
    ) -> impl Future<Output = Result<u64, StateError>> + Send;

    /// The heads of the stored revisions of every environment, by
    /// environment, then number.
    fn revision_heads(&self) -> impl Future<Output = Result<Vec<RevisionHead>, StateError>> + Send;

    /// The newest revision of `environment`, if it has one; read alone,
    /// without the others (an apply asks on every run).
    fn latest_revision(
        &self,
        environment: &str,
    ) -> impl Future<Output = Result<Option<Revision>, StateError>> + Send;

    /// Revision `number` of `environment`, if it is still kept.
    fn revision(
        &self,
        environment: &str,
        number: u64,
    ) -> impl Future<Output = Result<Option<Revision>, StateError>> + Send;

    /// Releases the lock and clears the recorded holder.
    fn unlock(&self, guard: LockGuard) -> impl Future<Output = Result<(), StateError>> + Send;

    /// `capstan state unlock <id>`: takes the lock `lock_id` away from its
    /// holder where the backend can (PostgreSQL ends the holder's session).
    /// A local lock is the OS's and goes only with its process: a live
    /// holder is refused ([`StateError::LockAlive`]) and only a dead run's
    /// leftover record is cleared.
    fn force_unlock(&self, lock_id: &str) -> impl Future<Output = Result<(), StateError>> + Send;
}

/// The backend the operator configured.
pub enum AnyBackend {
    /// Files under the stack's `.capstan/` directory.
    Local(LocalBackend),
    /// Tables in PostgreSQL.
    Postgres(Box<PostgresBackend>),
}

impl AnyBackend {
    /// The default: files under `<stack_root>/.capstan/`.
    pub fn local(stack_root: &std::path::Path) -> Self {
        AnyBackend::Local(LocalBackend::new(stack_root))
    }

    /// PostgreSQL; connects and creates the tables if missing.
    pub async fn postgres(config: crate::PostgresConfig) -> Result<Self, StateError> {
        Ok(AnyBackend::Postgres(Box::new(PostgresBackend::connect(config).await?)))
    }
}

macro_rules! delegate {
    ($self:ident, $b:ident => $call:expr) => {
        match $self {
            AnyBackend::Local($b) => $call,
            AnyBackend::Postgres($b) => $call,
        }
    };
}

impl StateBackend for AnyBackend {
    fn location(&self) -> String {
        delegate!(self, b => b.location())
    }

    async fn state_key(&self) -> Result<StateKey, StateError> {
        delegate!(self, b => b.state_key().await)
    }

    async fn lock(&self, holder: &LockInfo, timeout: Duration) -> Result<LockGuard, StateError> {
        delegate!(self, b => b.lock(holder, timeout).await)
    }

    async fn current_lock(&self) -> Result<Option<LockInfo>, StateError> {
        delegate!(self, b => b.current_lock().await)
    }

    async fn read(&self) -> Result<State, StateError> {
        delegate!(self, b => b.read().await)
    }

    async fn write(&self, state: &State, guard: &LockGuard) -> Result<u64, StateError> {
        delegate!(self, b => b.write(state, guard).await)
    }

    async fn write_component(
        &self,
        key: &str,
        component: Option<&ComponentState>,
        guard: &LockGuard,
    ) -> Result<u64, StateError> {
        delegate!(self, b => b.write_component(key, component, guard).await)
    }

    async fn record_revision(
        &self,
        revision: &mut Revision,
        keep: usize,
        guard: &LockGuard,
    ) -> Result<u64, StateError> {
        delegate!(self, b => b.record_revision(revision, keep, guard).await)
    }

    async fn revision_heads(&self) -> Result<Vec<RevisionHead>, StateError> {
        delegate!(self, b => b.revision_heads().await)
    }

    async fn latest_revision(&self, environment: &str) -> Result<Option<Revision>, StateError> {
        delegate!(self, b => b.latest_revision(environment).await)
    }

    async fn revision(&self, environment: &str, number: u64) -> Result<Option<Revision>, StateError> {
        delegate!(self, b => b.revision(environment, number).await)
    }

    async fn unlock(&self, guard: LockGuard) -> Result<(), StateError> {
        delegate!(self, b => b.unlock(guard).await)
    }

    async fn force_unlock(&self, lock_id: &str) -> Result<(), StateError> {
        delegate!(self, b => b.force_unlock(lock_id).await)
    }
}
