//! What a run tells its front end while it works. The library never prints:
//! a front end implements [`Events`] and shows what it is told (a live
//! display, log lines, nothing at all).

use std::path::PathBuf;

/// Where a component is in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Planning,
    /// Planned, with changes to make.
    Planned,
    Applying,
    Ready,
    Unchanged,
    Failed,
}

impl Phase {
    /// The word a person reads for it.
    pub fn word(self) -> &'static str {
        match self {
            Phase::Planning => "planning",
            Phase::Planned => "planned",
            Phase::Applying => "applying",
            Phase::Ready => "ready",
            Phase::Unchanged => "unchanged",
            Phase::Failed => "failed",
        }
    }

    /// Whether the component is done with this step of the run.
    pub fn finished(self) -> bool {
        matches!(self, Phase::Planned | Phase::Ready | Phase::Unchanged | Phase::Failed)
    }
}

/// Something the operator should know that is not a component's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Unsigned plugins will run this time (`--allow-unsigned`).
    UnsignedAllowed,
    /// A plugin runs from the repository's build because an env.hcl pins it
    /// to `local` (told once per file and run).
    LocalBuild { plugin: String, version: String, file: PathBuf },
    /// The run wrote a new entry for `plugin` to capstan.lock (at `lock`):
    /// later runs use exactly this bundle, so the operator should review
    /// and commit it.
    Locked { plugin: String, version: String, signer: String, lock: PathBuf },
    /// A target kept an object it was asked to remove, and why.
    ObjectKept { component: String, object: String, why: String },
    /// A flag overrides what an environment's `target` block sets, for this
    /// run only.
    TargetOverridden { environment: String, what: &'static str, configured: String, given: String },
}

/// The front end's side of a run. Both methods may be called from several
/// planning threads at once.
pub trait Events: Send + Sync {
    /// A component entered `phase`; `detail` says more when there is more.
    fn phase(&self, component: &str, phase: Phase, detail: Option<&str>);
    /// Something to tell the operator.
    fn notice(&self, notice: &Notice);
}

/// Events nobody listens to (tests, and commands with nothing to show).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Events for Silent {
    fn phase(&self, _component: &str, _phase: Phase, _detail: Option<&str>) {}
    fn notice(&self, _notice: &Notice) {}
}
