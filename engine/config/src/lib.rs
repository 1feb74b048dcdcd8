//! HCL stack trees into a resolved, typed model.
//!
//! A stack is a directory tree in the Terragrunt style:
//!
//! ```text
//! <root>/client.hcl                               organisation-wide settings
//! <root>/envs/<env>/env.hcl                       one environment
//! <root>/envs/<env>/<ns>/namespace.hcl            one namespace
//! <root>/envs/<env>/<ns>/<name>/component.hcl     one component
//! ```
//!
//! [`load`] walks up from a target directory to the stack root (the nearest
//! directory holding `client.hcl`), evaluates each level once, reads every
//! component at or below the target plus the components they depend on, and
//! returns a [`Stack`], or every problem it found as [`Diagnostics`] that
//! print like rustc's. Levels are visible to lower levels as `local.client`,
//! `local.env` and `local.namespace`; see `LANGUAGE.md` beside this crate for
//! the whole language.
//!
//! Loading is the first of two phases: a component's `inputs` may read
//! `dependency.<name>.outputs.<x>`, which only exists once the dependency is
//! planned, so [`Component::resolve_inputs`] evaluates them later, merges them
//! over the plugin's defaults and validates them against the plugin's schema.
//!
//! Secrets (`secrets.enc.hcl` files, `secret_ref(...)`) come through
//! [`capstan_core::SecretProvider`]; this crate never decrypts anything, and
//! sensitive values never appear in its diagnostics or `Debug` output.
//!
//! This crate does not run plugins, plan, or touch the network; it reads
//! files only inside the stack root, through a cap-std directory handle (the
//! one ambient look-up is the walk up from the target to find `client.hcl`).

mod brackets;
mod client;
mod component;
mod diag;
mod duration;
mod eval;
mod funcs;
mod graph;
mod levels;
mod limits;
mod pins;
mod policy;
mod resolve;
mod root;
mod shared;
mod target;
mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use capstan_core::{ComponentId, SecretProvider};
use serde::Serialize;
use serde_json::Value;

pub use client::{ClientSettings, Connection, PluginSource, StateBackend, Trust};
pub use component::{Command, Component, DependencyDecl, MergeStrategy};
pub use diag::{ConfigError, Diagnostic, Diagnostics, Location, SourceFile};
pub use duration::{DurationError, parse_duration};
pub use graph::{ComponentGraph, GraphError};
pub use limits::{PluginLimits, parse_size};
pub use pins::{LOCAL_VERSION, PluginPin};
pub use policy::{PolicyConfig, PolicyException, PolicyMatch, PolicyMode};
pub use resolve::{DependencyOutputs, Origin, OriginSource, ResolvedInputs, merge_over_defaults};
pub use target::{
    ExternalSecretsSettings, KubeSettings, RenderSettings, SecretsDelivery, Setting, StoreBackend,
    TargetSettings,
};

use crate::diag::Location as Loc;
use crate::eval::{Ctx, Scope};
use crate::levels::{Level, Levels};
use crate::root::{StackRoot, display};
use crate::shared::Shared;

/// What a load may use from the operator's environment. Nothing is read
/// from the process environment directly: the CLI passes it in.
#[derive(Clone, Default)]
pub struct LoadOptions {
    /// Opens `secrets.enc.hcl` files and resolves `secret_ref(...)`. Without
    /// one, a secrets file or a `secret_ref` call is an error.
    pub secrets: Option<Arc<dyn SecretProvider>>,
    /// What `get_env(name, default)` sees.
    pub env: BTreeMap<String, String>,
}

impl fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadOptions")
            .field("secrets", &self.secrets.as_ref().map(|_| "provider"))
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A loaded stack.
#[derive(Debug)]
pub struct Stack {
    /// Absolute path of the stack root.
    pub root: PathBuf,
    /// What client.hcl sets; every environment starts from it.
    pub client: ClientSettings,
    /// `connection` blocks of each env.hcl, by environment name.
    pub env_connections: BTreeMap<String, BTreeMap<String, Connection>>,
    /// Each environment's policies, by environment name: client.hcl's as
    /// its env.hcl tightens them, then the env.hcl's own. Read once per
    /// environment; [`Stack::policies_for`] picks a component's.
    pub env_policies: BTreeMap<String, Vec<PolicyConfig>>,
    /// Each environment of a loaded component, by name.
    pub environments: BTreeMap<String, Environment>,
    /// Every loaded component by key (its directory relative to the root).
    pub components: BTreeMap<String, Component>,
    /// Which component waits for which.
    graph: ComponentGraph,
}

/// An environment: where its env.hcl is and where its objects go.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Environment {
    /// The directory holding its env.hcl, relative to the stack root.
    pub dir: PathBuf,
    /// Its `target` blocks over client.hcl's.
    pub target: TargetSettings,
}

impl Stack {
    /// The loaded component with this key (its directory relative to the
    /// root, e.g. `envs/staging/core/api`).
    pub fn component(&self, key: &str) -> Option<&Component> {
        self.components.get(key)
    }

    /// The components at or below the directory the load started from.
    pub fn targets(&self) -> impl Iterator<Item = &Component> {
        self.components.values().filter(|c| c.in_target)
    }

    /// Every component key, each after the components it depends on
    /// (load guarantees there is no cycle).
    pub fn order(&self) -> &[String] {
        self.graph.order()
    }

    /// The component graph: the one the planner schedules and destroy reverses.
    pub fn graph(&self) -> &ComponentGraph {
        &self.graph
    }

    /// The policies that check `c`: its environment's (see
    /// [`env_policies`](Self::env_policies)) whose `match` picks it, in
    /// order, client.hcl's first.
    pub fn policies_for<'a>(&'a self, c: &'a Component) -> impl Iterator<Item = &'a PolicyConfig> + 'a {
        self.env_policies
            .get(&c.id.environment)
            .unwrap_or(&self.client.policies)
            .iter()
            .filter(move |p| p.applies_to(c))
    }

    /// The connections a component's effects may target: the client's,
    /// overridden by its environment's.
    pub fn connections_for(&self, c: &Component) -> BTreeMap<String, Connection> {
        let mut out = self.client.connections.clone();
        if let Some(env) = self.env_connections.get(&c.id.environment) {
            out.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }
}

/// `capstan validate`: loads everything at or below `target` and returns
/// every problem found (empty when the stack is valid).
pub fn validate(target: &Path, options: &LoadOptions) -> Diagnostics {
    match load(target, options) {
        Ok(_) => Diagnostics::default(),
        Err(d) => d,
    }
}

/// The root of the stack containing `target`: the nearest directory at or
/// above it that holds `client.hcl`.
pub fn find_stack_root(target: &Path) -> Option<PathBuf> {
    let target_abs = root::normalize_abs(&std::path::absolute(target).ok()?);
    root_above(&target_abs).map(Path::to_path_buf)
}

fn root_above(target_abs: &Path) -> Option<&Path> {
    target_abs.ancestors().find(|d| d.join("client.hcl").is_file())
}

/// Loads the stack containing `target`: the components at or below it and
/// the components they depend on.
pub fn load(target: &Path, options: &LoadOptions) -> Result<Stack, Diagnostics> {
    let no_root =
        || Diagnostics::from(Diagnostic::new(ConfigError::NoStackRoot { start: target.to_path_buf() }, None));
    let target_abs = std::path::absolute(target).map_err(|_| no_root())?;
    let target_abs = root::normalize_abs(&target_abs);
    let root_abs = root_above(&target_abs).ok_or_else(no_root)?;
    let stack_root = StackRoot::open(root_abs).map_err(|e| {
        Diagnostics::from(Diagnostic::new(
            ConfigError::Read { path: root_abs.to_path_buf(), reason: e.to_string() },
            None,
        ))
    })?;
    let target_rel = target_abs.strip_prefix(root_abs).unwrap_or(Path::new("")).to_path_buf();
    let shared = Arc::new(Shared::new(stack_root, options.clone()));
    Loader {
        shared: shared.clone(),
        levels: Levels::default(),
        env_connections: BTreeMap::new(),
        environments: BTreeMap::new(),
        env_pins: BTreeMap::new(),
        client_policies: Vec::new(),
        client_broken_policies: BTreeSet::new(),
        env_policies: BTreeMap::new(),
    }
    .run(&target_rel, root_abs)
}

struct Loader {
    shared: Arc<Shared>,
    levels: Levels,
    env_connections: BTreeMap<String, BTreeMap<String, Connection>>,
    /// Each env.hcl's target blocks (not yet over client.hcl's).
    environments: BTreeMap<String, Environment>,
    /// Each env.hcl's `plugins` pins, read once per environment.
    env_pins: BTreeMap<String, pins::EnvPins>,
    /// client.hcl's policies, which each env.hcl starts from.
    client_policies: Vec<PolicyConfig>,
    /// client.hcl's policies that did not read (already reported): an
    /// env.hcl naming one is not checked against it.
    client_broken_policies: BTreeSet<String>,
    /// Each environment's policies, read once per environment.
    env_policies: BTreeMap<String, Vec<PolicyConfig>>,
}

impl Loader {
    fn run(mut self, target: &Path, root_abs: &Path) -> Result<Stack, Diagnostics> {
        let shared = self.shared.clone();
        let mut diags = Diagnostics::default();
        let client_level = self.levels.get(&shared, Path::new(""), "client.hcl", "client", None);
        let client = client_level.as_ref().map(|l| self.client_settings(l)).unwrap_or_default();
        self.client_policies = client.policies.clone();
        if let Some(body) = client_level.as_ref().and_then(|l| l.body.as_ref()).and_then(|p| p.body.as_ref())
        {
            self.client_broken_policies = policy::declared(body)
                .into_iter()
                .filter(|name| !client.policies.iter().any(|p| &p.name == name))
                .collect();
        }

        let mut wave = match self.find_components(target) {
            Ok(found) => found,
            Err(e) => {
                diags.push(Diagnostic::new(
                    ConfigError::Read { path: target.to_path_buf(), reason: e.to_string() },
                    None,
                ));
                Vec::new()
            }
        };
        let mut components: BTreeMap<String, Component> = BTreeMap::new();
        let mut seen: BTreeSet<PathBuf> = wave.iter().cloned().collect();
        // Breadth first, one wave at a time: the components at or below the
        // target, then the dependencies they name that are not loaded yet,
        // and so on. Within a wave the levels above each component are
        // evaluated in order (each once, cached), then the component files,
        // which are independent, are evaluated in parallel.
        let mut in_target = true;
        while let (Some(client_level), false) = (&client_level, wave.is_empty()) {
            let placed: Vec<Placed> = wave.iter().filter_map(|dir| self.place(client_level, dir)).collect();
            let loaded = parallel_map(&placed, |p| self.load_placed(p));
            let mut next = Vec::new();
            for mut c in loaded.into_iter().flatten() {
                c.in_target = in_target;
                for d in c.dependencies.values() {
                    let tdir = PathBuf::from(if d.target == "." { "" } else { &d.target });
                    if !shared.root.is_file(&tdir.join("component.hcl")) {
                        diags.push(Diagnostic::new(
                            ConfigError::DependencyNotAComponent {
                                dependency: d.name.clone(),
                                target: d.target.clone(),
                            },
                            Some(d.location.clone()),
                        ));
                        continue;
                    }
                    if seen.insert(tdir.clone()) {
                        next.push(tdir);
                    }
                }
                components.insert(c.key.clone(), c);
            }
            wave = next;
            in_target = false;
        }
        let graph = graph_of(&components, &mut diags);
        diags.extend(shared.take_diags());
        if !diags.is_empty() {
            diags.sort();
            return Err(diags);
        }
        let environments = self
            .environments
            .into_iter()
            .map(|(name, env)| {
                let target = env.target.over(&client.target);
                (name, Environment { target, ..env })
            })
            .collect();
        Ok(Stack {
            root: root_abs.to_path_buf(),
            client,
            env_connections: self.env_connections,
            env_policies: self.env_policies,
            environments,
            components,
            graph,
        })
    }

    fn client_settings(&self, level: &Level) -> ClientSettings {
        let Some(body) = level.body.as_ref().and_then(|p| p.body.as_ref()) else {
            return ClientSettings::default();
        };
        let ctx = level_ctx(&self.shared, level);
        let scope = Scope::Root(&level.vars);
        let mut errors = Vec::new();
        let settings = client::parse_client(&ctx, &scope, body, level.value.clone(), &mut errors);
        for e in errors {
            self.shared.report(e.into_diagnostic(&level.file, &self.shared));
        }
        settings
    }

    /// Directories at or below `dir` holding a component.hcl.
    fn find_components(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            if self.shared.root.is_file(&d.join("component.hcl")) {
                out.push(d.clone());
            }
            let mut subs = self.shared.root.subdirs(&d)?;
            subs.reverse();
            stack.extend(subs);
        }
        Ok(out)
    }

    /// Evaluates (once each) the environment and namespace levels above the
    /// component in `dir`, or reports why it has none.
    fn place(&mut self, client: &Arc<Level>, dir: &Path) -> Option<Placed> {
        let shared = self.shared.clone();
        let file = dir.join("component.hcl");
        let find = |name: &str| {
            dir.ancestors().skip(1).find(|a| shared.root.is_file(&a.join(name))).map(Path::to_path_buf)
        };
        let (Some(env_dir), Some(ns_dir)) = (find("env.hcl"), find("namespace.hcl")) else {
            shared.report(Diagnostic::new(
                ConfigError::NotInEnvironment { component: display(dir) },
                Some(Loc::file_only(&file)),
            ));
            return None;
        };
        if !ns_dir.starts_with(&env_dir) || ns_dir == env_dir {
            shared.report(Diagnostic::new(
                ConfigError::NamespaceOutsideEnvironment {
                    namespace: display(&ns_dir.join("namespace.hcl")),
                    env: display(&env_dir.join("env.hcl")),
                },
                Some(Loc::file_only(&ns_dir.join("namespace.hcl"))),
            ));
            return None;
        }
        let env = self.levels.get(&shared, &env_dir, "env.hcl", "env", Some(client))?;
        let env_name = dir_name(&env_dir);
        if !self.env_connections.contains_key(&env_name) {
            let blocks = self.env_level_blocks(&env, &env_name);
            self.env_connections.insert(env_name.clone(), blocks.connections);
            self.env_policies.insert(env_name.clone(), blocks.policies);
            self.environments
                .insert(env_name.clone(), Environment { dir: env_dir.clone(), target: blocks.target });
            let pins = self.env_pins_of(&env);
            self.env_pins.insert(env_name.clone(), pins);
        }
        let ns = self.levels.get(&shared, &ns_dir, "namespace.hcl", "namespace", Some(&env))?;
        let namespace = match ns.value.get("namespace") {
            Some(Value::String(s)) => s.clone(),
            _ => dir_name(&ns_dir),
        };
        if ns.broken {
            // Its errors would only echo the level's, which are already reported.
            return None;
        }
        let id = ComponentId { name: dir_name(dir), environment: env_name, namespace };
        Some(Placed { dir: dir.to_path_buf(), namespace: ns, id })
    }

    /// Evaluates one placed component's file and applies its environment's pins.
    fn load_placed(&self, p: &Placed) -> Option<Component> {
        let mut c =
            component::load_component(&self.shared, &p.namespace, &p.dir, display(&p.dir), p.id.clone())?;
        if let Some(d) = self.env_pins.get(&c.id.environment).and_then(|pins| pins.apply(&mut c)) {
            self.shared.report(d);
        }
        Some(c)
    }

    fn env_pins_of(&self, level: &Level) -> pins::EnvPins {
        let Some(body) = level.body.as_ref().and_then(|p| p.body.as_ref()) else {
            return pins::EnvPins::default();
        };
        let mut errors = Vec::new();
        let pins = pins::parse_env_pins(body, &level.file, &level.value, &mut errors);
        for e in errors {
            self.shared.report(e.into_diagnostic(&level.file, &self.shared));
        }
        pins
    }

    /// Checks the blocks of the env.hcl of environment `env` and reads
    /// them: its connections, target settings and policies.
    fn env_level_blocks(&self, level: &Level, env: &str) -> EnvBlocks {
        let Some(body) = level.body.as_ref().and_then(|p| p.body.as_ref()) else {
            return EnvBlocks { policies: self.client_policies.clone(), ..EnvBlocks::default() };
        };
        let ctx = level_ctx(&self.shared, level);
        let scope = Scope::Root(&level.vars);
        let mut errors = Vec::new();
        for b in body.blocks() {
            let ident = b.ident.value().as_str();
            if ident == "plugins" {
                errors.push(eval::EvalError::new(
                    ConfigError::NotABlock {
                        name: "plugins".to_owned(),
                        example: "plugins = { \"acme/app\" = \"1.4.2\" }".to_owned(),
                    },
                    eval::span_of(&b.ident),
                ));
            } else if !matches!(ident, "locals" | "connection" | "target" | "policy") {
                errors.push(eval::EvalError::new(
                    ConfigError::UnknownBlock {
                        block: ident.to_owned(),
                        place: "an env.hcl".to_owned(),
                        expected: "locals, connection, target, policy".to_owned(),
                    },
                    eval::span_of(&b.ident),
                ));
            }
        }
        let connections = client::parse_connections(&ctx, &scope, body, &mut errors);
        let target = target::parse_targets(&ctx, &scope, body, &mut errors);
        let policies = policy::env_policies(
            &ctx,
            &scope,
            body,
            env,
            &self.client_policies,
            &self.client_broken_policies,
            &mut errors,
        );
        for e in errors {
            self.shared.report(e.into_diagnostic(&level.file, &self.shared));
        }
        EnvBlocks { connections, target, policies }
    }
}

/// What an env.hcl's blocks set.
#[derive(Default)]
struct EnvBlocks {
    connections: BTreeMap<String, Connection>,
    target: TargetSettings,
    policies: Vec<PolicyConfig>,
}

/// A component directory with the namespace level it sits in.
struct Placed {
    dir: PathBuf,
    namespace: Arc<Level>,
    id: ComponentId,
}

/// `f` over every item, on as many threads as there are cores, results in
/// item order. Items are taken one at a time, so uneven work balances out.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { return done };
                        done.push((i, f(item)));
                    }
                })
            })
            .collect();
        for worker in workers {
            let done = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (i, r) in done {
                results[i] = Some(r);
            }
        }
    });
    results.into_iter().map(|r| r.expect("every item was taken by a worker")).collect()
}

fn level_ctx<'a>(shared: &'a Shared, level: &'a Level) -> Ctx<'a> {
    Ctx {
        shared,
        file: &level.file,
        dir: &level.dir,
        component_dir: &level.dir,
        levels_key: &level.key,
        levels: &level.levels,
        deps: None,
        lenient_deps: false,
    }
}

fn dir_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Reports each dependency cycle once, at the block that closes it.
/// The graph of the loaded components; a cycle is reported at the
/// `dependency` block that closes it. Dependencies on directories that are
/// not components were reported when they were found, so they are left out.
fn graph_of(components: &BTreeMap<String, Component>, diags: &mut Diagnostics) -> ComponentGraph {
    let edges = |keep: &dyn Fn(&str, &str) -> bool| {
        components
            .iter()
            .map(|(k, c)| {
                let deps: Vec<String> = c
                    .dependencies
                    .values()
                    .map(|d| d.target.clone())
                    .filter(|t| components.contains_key(t) && keep(k, t))
                    .collect();
                (k.clone(), deps)
            })
            .collect::<Vec<_>>()
    };
    let mut cut: BTreeSet<(String, String)> = BTreeSet::new();
    // Each cycle found is reported, then cut at its closing edge, so every
    // cycle in the tree is named in one load.
    loop {
        match ComponentGraph::new(edges(&|k, t| !cut.contains(&(k.to_owned(), t.to_owned())))) {
            Ok(graph) if cut.is_empty() => return graph,
            Ok(_) => return ComponentGraph::default(),
            Err(GraphError::Cycle { path }) => {
                let [.., from, to] = path.as_slice() else { return ComponentGraph::default() };
                let location = components[from]
                    .dependencies
                    .values()
                    .find(|d| &d.target == to)
                    .map(|d| d.location.clone());
                diags.push(Diagnostic::new(ConfigError::DependencyCycle { cycle: path.clone() }, location));
                cut.insert((from.clone(), to.clone()));
            }
            Err(GraphError::UnknownDependency { .. }) => return ComponentGraph::default(),
        }
    }
}
