//! The two limits every call runs under: memory (a `ResourceLimiter` on the
//! call's `Store`) and wall-clock time (epoch interruption, driven by a ticker
//! thread).

use std::sync::mpsc;
use std::time::Duration;

use wasmtime::{Engine, ResourceLimiter};

/// How often the ticker advances the engine's epoch. A call's deadline is a
/// number of ticks, so this is the precision of the time limit; checking the
/// epoch costs nothing measurable, so a fine tick is cheap.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The ticks to allow for `limit`: rounded up, plus one because the first
/// tick may come at once.
pub(crate) fn deadline_ticks(limit: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    u64::try_from(limit.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX - 1).saturating_add(1)
}

/// Starts the thread that advances `engine`'s epoch every [`EPOCH_TICK`];
/// it stops when the returned sender is dropped.
pub(crate) fn start_ticker(engine: &Engine) -> std::io::Result<mpsc::Sender<()>> {
    let (stop, stopped) = mpsc::channel::<()>();
    let engine = engine.clone();
    std::thread::Builder::new().name("capstan-epoch".to_owned()).spawn(move || {
        while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
            engine.increment_epoch();
        }
    })?;
    Ok(stop)
}

/// Caps the linear memory of one call, summed over all of its memories.
///
/// Growth past the cap traps (rather than making `memory.grow` return -1,
/// which Rust guests turn into an abort that looks like any other
/// `unreachable`), and `exceeded` records why, so the host can report
/// "out of memory" and not a bare trap.
pub(crate) struct MemoryLimiter {
    limit: usize,
    used: usize,
    pub(crate) exceeded: bool,
}

impl MemoryLimiter {
    pub(crate) fn new(limit: u64) -> Self {
        Self { limit: usize::try_from(limit).unwrap_or(usize::MAX), used: 0, exceeded: false }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let after = self.used.saturating_add(desired.saturating_sub(current));
        if after > self.limit {
            self.exceeded = true;
            wasmtime::bail!("plugin exceeded its memory limit of {} bytes", self.limit);
        }
        self.used = after;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // The pool's own size limit can refuse growth the limiter allowed.
        self.exceeded = true;
        Err(error)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any plugin.
        Ok(desired <= 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_covers_the_limit() {
        assert_eq!(deadline_ticks(Duration::from_secs(1)), 101);
        assert_eq!(deadline_ticks(Duration::from_millis(5)), 2);
    }

    #[test]
    fn growth_is_summed_over_memories() {
        let mut l = MemoryLimiter::new(100);
        assert!(l.memory_growing(0, 60, None).expect("fits"));
        assert!(l.memory_growing(0, 50, None).is_err());
        assert!(l.exceeded);
    }
}
