//! What a run tells its front end while it works. The library never prints:
//! a front end implements [`Events`] and shows what it is told (a live
//! display, log lines, nothing at all).

use std::path::PathBuf;

use capstan_plan::ApplyStep;

/// Where a component is in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Being planned.
    Planning,
    /// Planned, with changes to make.
    Planned,
    /// Being applied, or removed (`detail` then says `removing`).
    Applying,
    /// Applied and recorded in state, or removed (`detail` says `removed`).
    Ready,
    /// Planned, with nothing to change.
    Unchanged,
    /// Its plan or apply failed; its dependents are skipped.
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
    LocalBuild {
        /// Plugin name, e.g. `acme/core`.
        plugin: String,
        /// The version the build declares.
        version: String,
        /// The build's `.wasm` file, relative to the stack root.
        file: PathBuf,
    },
    /// The run wrote a new entry for `plugin` to capstan.lock (at `lock`):
    /// later runs use exactly this bundle, so the operator should review
    /// and commit it.
    Locked {
        /// Plugin name, e.g. `capstan/app`.
        plugin: String,
        /// The locked version.
        version: String,
        /// Who signed the bundle: `publisher (ed25519:…)`, or `unsigned`.
        signer: String,
        /// The capstan.lock file written.
        lock: PathBuf,
    },
    /// A target kept an object it was asked to remove, and why.
    ObjectKept {
        /// Component key, e.g. `envs/staging/api`.
        component: String,
        /// The object, as `Kind namespace/name` (or `Kind name`).
        object: String,
        /// E.g. `it belongs to component envs/staging/web now`.
        why: String,
    },
    /// A flag overrides what an environment's `target` block sets, for this
    /// run only.
    TargetOverridden {
        /// Environment name, e.g. `staging`.
        environment: String,
        /// The setting: `out_dir`, `secrets` or `context`.
        what: &'static str,
        /// The value the block sets.
        configured: String,
        /// The value the flag gives, used this run.
        given: String,
    },
}

/// The front end's side of a run. Both methods may be called from several
/// planning threads at once.
pub trait Events: Send + Sync {
    /// A component entered `phase`; `detail` says more when there is more.
    fn phase(&self, component: &str, phase: Phase, detail: Option<&str>);
    /// Something to tell the operator.
    fn notice(&self, notice: &Notice);
    /// A component being applied started `step`. A display shows phases and
    /// may ignore this; the run report ([`crate::report`]) times each step.
    fn step(&self, _component: &str, _step: ApplyStep) {}
}

/// Events nobody listens to (tests, and commands with nothing to show).
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Events for Silent {
    fn phase(&self, _component: &str, _phase: Phase, _detail: Option<&str>) {}
    fn notice(&self, _notice: &Notice) {}
}
