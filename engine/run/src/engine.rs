//! The front door: what a front end holds to run Capstan. It is made from
//! the plugin host, the built-in plugins, the operator's surroundings and
//! the front end's [`Events`], and opens sessions over stacks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use capstan_config::Stack;
use capstan_host::PluginHost;
use capstan_state::StateBackend as _;

use crate::RunError;
use crate::drivers::Drivers;
use crate::events::Events;
use crate::plugins::{Builtins, Catalog};
use crate::session::{Seams, Session, Settings};
use crate::setup::{self, Surroundings};
use crate::targets::{Kube, Render, Target};

/// Where a run's objects go.
#[derive(Debug, Clone)]
pub enum TargetChoice {
    /// YAML files under `out_dir`, or each environment's `target "render"`
    /// `out_dir`, or `rendered/` at the stack root.
    Render {
        /// `--out-dir`: every environment's directory, for this run.
        out_dir: Option<PathBuf>,
    },
    /// A cluster: the kubeconfig `context` (default: its current one), and
    /// how long a component's objects may take to become ready when its
    /// component.hcl does not say.
    Kube {
        /// `--context`: the kubeconfig context, over the environments' `target "kube"` one.
        context: Option<String>,
        /// How long a component's objects may take to become ready when its
        /// component.hcl sets no `ready_timeout`.
        ready_timeout: Duration,
    },
}

/// What a plan, apply or destroy is asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The directory the run starts in: the components below it are the target.
    pub dir: PathBuf,
    /// Where the run's objects go.
    pub target: TargetChoice,
    /// Components planned or applied at once.
    pub parallelism: usize,
    /// Extra directories of loose `.wasm` plugins (used only when unsigned
    /// plugins are allowed).
    pub plugin_dirs: Vec<PathBuf>,
    /// Whether unsigned plugins, and builds an env.hcl pins to `local`, may
    /// run (also when `CAPSTAN_ALLOW_UNSIGNED=1`). Only the operator grants
    /// this: nothing in the repository can.
    pub allow_unsigned: bool,
    /// Whether capstan.lock may change in this run. The front end decides
    /// (`--lockfile=readonly`, `CI=true`); the library reads no environment.
    pub lockfile: LockfileMode,
    /// Where an apply saves state its backend would not take
    /// (`errored.capstanstate`): the operator's working directory.
    pub work_dir: PathBuf,
}

/// What a run may do to capstan.lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LockfileMode {
    /// Record plugins not yet locked (each new entry is announced as a
    /// [`crate::Notice::Locked`]).
    #[default]
    Write,
    /// Refuse any change: a plugin that would get a new or different entry
    /// fails the run with [`RunError::LockReadOnly`].
    ReadOnly,
}

/// The engine, as a front end uses it.
pub struct Engine {
    host: Arc<PluginHost>,
    builtins: Builtins,
    surroundings: Surroundings,
    events: Arc<dyn Events>,
}

impl Engine {
    /// An engine that loads plugins with `host`, knows `builtins`, reads
    /// `surroundings` and tells `events` what happens.
    pub fn new(
        host: Arc<PluginHost>,
        builtins: Builtins,
        surroundings: Surroundings,
        events: Arc<dyn Events>,
    ) -> Self {
        Self { host, builtins, surroundings, events }
    }

    /// The plugin host.
    pub fn host(&self) -> &Arc<PluginHost> {
        &self.host
    }

    /// Loads the stack below `dir` (see [`setup::load_stack`]).
    pub fn load_stack(&self, dir: &std::path::Path) -> Result<Stack, RunError> {
        setup::load_stack(dir, &self.surroundings)
    }

    /// The built-ins and every `.wasm` file in `dirs`, with no stack.
    pub fn plugin_list(&self, dirs: Vec<PathBuf>) -> Catalog {
        Catalog::new(self.host.clone(), self.builtins, dirs)
    }

    /// The plugins a run on `stack` may use (see [`crate::plugins`]).
    pub fn catalog(
        &self,
        stack: &Stack,
        extra_dirs: Vec<PathBuf>,
        allow_unsigned: bool,
    ) -> Result<Catalog, RunError> {
        let allow_unsigned = allow_unsigned || self.surroundings.var("CAPSTAN_ALLOW_UNSIGNED") == Some("1");
        Catalog::for_stack(
            self.host.clone(),
            self.builtins,
            stack,
            extra_dirs,
            allow_unsigned,
            self.events.clone(),
        )
    }

    /// Loads the stack below `options.dir`, resolves its plugins, reads its
    /// state and connects its target: a session ready to plan.
    pub fn open(&self, options: &RunOptions, runtime: tokio::runtime::Handle) -> Result<Session, RunError> {
        let stack = self.load_stack(&options.dir)?;
        let graph = capstan_plan::stack_graph(&stack)?;
        let mut catalog = self.catalog(&stack, options.plugin_dirs.clone(), options.allow_unsigned)?;
        catalog.set_lockfile(options.lockfile);
        // Before anything runs: a targeted component whose env.hcl pins its
        // plugin to `local` needs the operator's leave.
        catalog.check_local_pins(&stack)?;
        let catalog = Arc::new(catalog);
        let backend = runtime.block_on(setup::state_backend(&stack))?;
        let state = runtime.block_on(backend.read()).map_err(RunError::ReadState)?;
        let target = match &options.target {
            TargetChoice::Render { out_dir } => Target::Render(Render::open(
                &stack,
                out_dir.as_deref(),
                &self.surroundings,
                self.events.as_ref(),
            )?),
            TargetChoice::Kube { context, ready_timeout } => Target::Kube(Box::new(Kube::connect(
                &stack,
                &self.surroundings.kubeconfig,
                context.as_deref(),
                *ready_timeout,
                runtime.clone(),
                self.events.clone(),
            )?)),
        };
        let effects = Arc::new(Drivers::new(&stack, self.surroundings.env(), runtime.clone()));
        let seams = Seams { plugins: catalog, target, effects };
        let settings = Settings {
            parallelism: options.parallelism,
            holder: holder(&self.surroundings),
            work_dir: options.work_dir.clone(),
            // Plans read effects' servers unless the front end says not to
            // (`Session::set_refresh`).
            refresh: true,
        };
        Session::with_state(
            stack,
            graph,
            &options.dir,
            seams,
            backend,
            state,
            settings,
            self.events.clone(),
            runtime,
        )
    }
}

/// Who runs, as the lock and each revision record it: the CI job where the
/// surroundings name one (GitHub Actions, GitLab CI), else the OS user.
fn holder(surroundings: &Surroundings) -> String {
    let var = |name| surroundings.var(name).filter(|v| !v.is_empty());
    if let (Some(actor), Some(run)) = (var("GITHUB_ACTOR"), var("GITHUB_RUN_ID")) {
        let repo = var("GITHUB_REPOSITORY").unwrap_or("github");
        return format!("{actor} (GitHub Actions {repo} run {run})");
    }
    if let (Some(user), Some(job)) = (var("GITLAB_USER_LOGIN"), var("CI_JOB_ID")) {
        let project = var("CI_PROJECT_PATH").unwrap_or("gitlab");
        return format!("{user} (GitLab CI {project} job {job})");
    }
    var("USER").or_else(|| var("USERNAME")).unwrap_or("capstan").to_string()
}
