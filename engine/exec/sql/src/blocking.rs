//! A synchronous face for callers on plain threads (the planner's worker
//! pool calls effect runners synchronously).

use capstan_core::{Effect, EffectResult, EffectSummary, SqlOp};

use crate::{SqlError, SqlExecutor};

/// [`SqlExecutor`] with its own small tokio runtime, callable from any
/// number of plain threads at once.
///
/// Create and drop it outside async code (tokio refuses to drop a runtime
/// inside one); from async code use [`SqlExecutor`] directly.
pub struct BlockingSqlExecutor {
    runtime: tokio::runtime::Runtime,
    inner: SqlExecutor,
}

impl BlockingSqlExecutor {
    /// Wraps `inner`, starting the runtime; fails only if the runtime's
    /// threads cannot be started.
    pub fn new(inner: SqlExecutor) -> Result<Self, SqlError> {
        // Two workers: connection tasks make progress while callers block.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("capstan-sql")
            .enable_all()
            .build()
            .map_err(|e| SqlError::Connect {
                target: inner.connection().target(),
                message: format!("cannot start the SQL runtime: {e}"),
            })?;
        Ok(Self { runtime, inner })
    }

    /// The async executor inside.
    pub fn executor(&self) -> &SqlExecutor {
        &self.inner
    }

    /// [`SqlExecutor::run`], blocking the calling thread until it finishes.
    pub fn run(&self, effect_id: &str, ops: &[SqlOp]) -> Result<EffectSummary, SqlError> {
        self.runtime.block_on(self.inner.run(effect_id, ops))
    }

    /// [`SqlExecutor::apply`], blocking the calling thread until it finishes.
    pub fn apply(&self, effect: &Effect) -> Result<EffectResult, SqlError> {
        self.runtime.block_on(self.inner.apply(effect))
    }
}
