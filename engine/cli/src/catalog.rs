//! The plugins this engine can find: bundles from the stack's plugin
//! sources (checked, trusted and locked by capstan-registry), the built-in
//! ones compiled into the binary, and, with `--allow-unsigned` only, loose
//! `.wasm` files in plugin directories. Loaded once, on first need.
//!
//! A plugin pinned in capstan.lock always comes from its bundle. Otherwise a
//! built-in plugin whose version matches is used as is (built-ins are
//! trusted as part of the engine, and need no network), and the sources are
//! asked only for what no built-in provides. A version an env.hcl pins is
//! resolved and locked as a pin; a `local` pin comes from the repository's
//! build (see `local_build`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::Context as _;

use capstan_core::{ComponentId, ComponentPlan, Diagnostic, Metadata, PlanError, PlanRequest};
use capstan_host::{CallContext, Plugin, PluginHost};
use capstan_plan::{PluginHandle, PluginResolver, SeamError};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin.rs"));
}

/// Where a plugin came from, for `plugin list`.
#[derive(Debug, Clone)]
pub enum Origin {
    BuiltIn,
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built-in"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

pub struct Entry {
    pub plugin: Plugin,
    pub origin: Origin,
}

pub struct Catalog {
    host: Arc<PluginHost>,
    dirs: Vec<PathBuf>,
    entries: OnceLock<Result<Vec<Arc<Entry>>, String>>,
    /// Whether loose `.wasm` files in `dirs` are loaded (they are unsigned).
    loose_files: bool,
    registry: Option<Registry>,
    /// Bundled plugins already loaded, by plugin name and bundle digest.
    bundled: Mutex<BTreeMap<(String, String), Plugin>>,
    /// `(plugin, exact range)` → the version an env.hcl pins it to.
    pinned: BTreeMap<(String, String), semver::Version>,
    local: Option<crate::local_build::LocalBuilds>,
}

/// What the plugin sources had for a request.
pub enum Lookup {
    Bundled(Bundled),
    /// Ask the built-ins: one matches, or no source offers the plugin (the
    /// sources' reason, when they were asked, for the message if no
    /// built-in matches either).
    BuiltIn(Option<String>),
}

/// A plugin resolved from a bundle, for `plugin lock` and `init` to report.
pub struct Bundled {
    pub plugin: Plugin,
    pub entry: capstan_registry::LockEntry,
    /// `cache`, or the name of the source it was fetched from.
    pub from: String,
}

/// The stack's sources, trust policy and lock file.
struct Registry {
    resolver: capstan_registry::Resolver,
    lock: Mutex<capstan_registry::LockFile>,
}

/// Every (plugin, version range) the stack's components ask for, once each,
/// by name and then range.
pub fn plugins_wanted(stack: &capstan_config::Stack) -> Vec<(&str, &semver::VersionReq)> {
    let mut wanted: Vec<(&str, &semver::VersionReq)> =
        stack.components.values().map(|c| (c.plugin.as_str(), &c.version)).collect();
    wanted.sort_by(|a, b| a.0.cmp(b.0).then(a.1.to_string().cmp(&b.1.to_string())));
    wanted.dedup();
    wanted
}

impl Catalog {
    /// Built-in plugins and every `.wasm` file in `dirs` (for `plugin list`).
    pub fn new(host: Arc<PluginHost>, dirs: Vec<PathBuf>) -> Self {
        Self {
            host,
            dirs,
            entries: OnceLock::new(),
            loose_files: true,
            registry: None,
            bundled: Mutex::new(BTreeMap::new()),
            pinned: BTreeMap::new(),
            local: None,
        }
    }

    /// What a run on `stack` may use: its plugin sources under its trust
    /// policy and capstan.lock, the built-ins, and loose `.wasm` files in
    /// `extra_dirs` and dir sources only when unsigned code is allowed
    /// (`--allow-unsigned` or `CAPSTAN_ALLOW_UNSIGNED=1`).
    pub fn for_stack(
        host: Arc<PluginHost>,
        stack: &capstan_config::Stack,
        mut extra_dirs: Vec<PathBuf>,
        allow_unsigned: bool,
    ) -> anyhow::Result<Self> {
        let allow_unsigned =
            allow_unsigned || std::env::var_os("CAPSTAN_ALLOW_UNSIGNED").is_some_and(|v| v == "1");
        if allow_unsigned {
            eprintln!(
                "WARNING: --allow-unsigned: unsigned plugins will run. Nothing vouches for their code; \
                 use this only while developing a plugin."
            );
        }
        extra_dirs.extend(crate::plugin_dirs_of(stack));
        let resolver = crate::commands::plugin::stack_resolver(stack, allow_unsigned)?;
        let lock = capstan_registry::LockFile::load(&stack.root)?;
        let mut catalog = Self::new(host.clone(), extra_dirs);
        catalog.loose_files = allow_unsigned;
        catalog.registry = Some(Registry { resolver, lock: Mutex::new(lock) });
        for c in stack.components.values() {
            if let Some(capstan_config::PluginPin::Version(v)) = &c.pin {
                catalog.pinned.insert((c.plugin.clone(), c.version.to_string()), v.clone());
            }
        }
        catalog.local = Some(crate::local_build::LocalBuilds::new(host, stack.root.clone()));
        Ok(catalog)
    }

    /// The pinned version behind `version`, when an env.hcl pinned `name` to it.
    fn pin_of(&self, name: &str, version: &semver::VersionReq) -> Option<&semver::Version> {
        self.pinned.get(&(name.to_string(), version.to_string()))
    }

    /// A plugin pinned to `local`, from its build directory.
    pub fn resolve_local(
        &self,
        name: &str,
        dir: &Path,
        version: &semver::VersionReq,
    ) -> anyhow::Result<(PathBuf, Plugin)> {
        let local = self.local.as_ref().context("local builds are only known for a stack")?;
        local.get(name, dir, version)
    }

    /// Drops capstan.lock entries the stack no longer asks for and saves it.
    pub fn prune_lock(
        &self,
        ranged: &BTreeSet<String>,
        pinned: &BTreeSet<(String, semver::Version)>,
    ) -> anyhow::Result<Vec<String>> {
        let Some(reg) = &self.registry else { return Ok(Vec::new()) };
        let mut lock = reg.lock.lock().map_err(|_| anyhow::anyhow!("lock file state poisoned"))?;
        let dropped = lock.retain(ranged, pinned);
        if !dropped.is_empty() {
            lock.save()?;
        }
        Ok(dropped)
    }

    /// Whether a built-in (or allowed loose) plugin satisfies the request.
    fn local_match(&self, name: &str, version: &semver::VersionReq) -> bool {
        self.entries().is_ok_and(|entries| {
            entries
                .iter()
                .any(|e| e.plugin.metadata().name == name && version.matches(&e.plugin.metadata().version))
        })
    }

    /// Resolves `name` from the sources under the lock (mode `Use` for
    /// runs), saving capstan.lock when it changed. [`Lookup::BuiltIn`]: a
    /// built-in satisfies it, or no source offers it and nothing is locked.
    pub fn resolve_bundle(
        &self,
        name: &str,
        version: &semver::VersionReq,
        mode: capstan_registry::LockMode,
    ) -> anyhow::Result<Lookup> {
        let Some(reg) = &self.registry else { return Ok(Lookup::BuiltIn(None)) };
        let pin = self.pin_of(name, version);
        let entry_of = |lock: &capstan_registry::LockFile| match pin {
            Some(v) => lock.entry_for(name, v).cloned(),
            None => lock.plugins.get(name).cloned(),
        };
        // What the lock records for this plugin, to save it only when that changed.
        let recorded = |lock: &capstan_registry::LockFile| {
            (lock.plugins.get(name).cloned(), lock.pins.get(name).cloned())
        };
        let mut lock = reg.lock.lock().map_err(|_| anyhow::anyhow!("lock file state poisoned"))?;
        let before = recorded(&lock);
        let locked = entry_of(&lock).is_some();
        if !locked && self.local_match(name, version) {
            return Ok(Lookup::BuiltIn(None));
        }
        let result = match pin {
            Some(v) => reg.resolver.resolve_pinned(name, v, &mut lock),
            None => reg.resolver.resolve(name, version, &mut lock, mode),
        };
        let resolved = match result {
            Ok(r) => r,
            Err(e) if e.is_not_found() && !locked => {
                return Ok(Lookup::BuiltIn(reg.resolver.has_sources().then(|| e.to_string())));
            }
            Err(e) => return Err(e.into()),
        };
        let entry = entry_of(&lock).context("the resolver records what it resolves")?;
        if recorded(&lock) != before {
            lock.save()?;
        }
        drop(lock);
        let key = (name.to_string(), entry.digest.clone());
        let mut bundled = self.bundled.lock().map_err(|_| anyhow::anyhow!("plugin cache poisoned"))?;
        let plugin = match bundled.get(&key) {
            Some(p) => p.clone(),
            None => {
                let plugin = self.host.load_bytes(name, resolved.wasm()).with_context(|| {
                    format!("loading plugin {name} {} from {}", entry.version, resolved.bundle.label)
                })?;
                bundled.insert(key, plugin.clone());
                plugin
            }
        };
        Ok(Lookup::Bundled(Bundled { plugin, entry, from: resolved.from }))
    }

    /// Every plugin, directories first (so an operator's build shadows a
    /// built-in of the same name and version), then the built-in ones.
    pub fn entries(&self) -> anyhow::Result<&[Arc<Entry>]> {
        self.entries
            .get_or_init(|| self.load_all().map_err(|e| format!("{e:#}")))
            .as_deref()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    fn load_all(&self) -> anyhow::Result<Vec<Arc<Entry>>> {
        let mut out = Vec::new();
        for dir in &self.dirs {
            for path in wasm_files(dir)? {
                if !self.loose_files {
                    tracing::warn!(
                        "ignoring unsigned plugin file {} (pack and sign it with `capstan plugin pack`/`sign`, \
                         or pass --allow-unsigned while developing it)",
                        path.display()
                    );
                    continue;
                }
                let plugin = self
                    .host
                    .load_file(&path)
                    .with_context(|| format!("loading plugin {}", path.display()))?;
                out.push(Arc::new(Entry { plugin, origin: Origin::File(path) }));
            }
        }
        for (package, wasm) in builtin::BUILTIN {
            let plugin = self
                .host
                .load_bytes(package, wasm)
                .with_context(|| format!("loading built-in plugin {package}"))?;
            out.push(Arc::new(Entry { plugin, origin: Origin::BuiltIn }));
        }
        Ok(out)
    }
}

fn wasm_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        // A dir source that holds nothing yet (e.g. before a first publish).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading plugin directory {}", dir.display())),
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

impl PluginResolver for Catalog {
    fn resolve(&self, name: &str, version: &semver::VersionReq) -> Result<Arc<dyn PluginHandle>, SeamError> {
        if let Some((plugin, dir)) = crate::local_build::parse(name) {
            return match self.resolve_local(plugin, dir, version) {
                Ok((_, p)) => Ok(Arc::new(HostPlugin(p))),
                Err(e) => Err(format!("{e:#}").into()),
            };
        }
        let sources_said = match self.resolve_bundle(name, version, capstan_registry::LockMode::Use) {
            Ok(Lookup::Bundled(b)) => return Ok(Arc::new(HostPlugin(b.plugin))),
            Ok(Lookup::BuiltIn(reason)) => reason,
            Err(e) => return Err(format!("{e:#}").into()),
        };
        let entries = self.entries().map_err(|e| -> SeamError { e.into() })?;
        let same_name: Vec<&Arc<Entry>> =
            entries.iter().filter(|e| e.plugin.metadata().name == name).collect();
        let best = same_name
            .iter()
            .filter(|e| version.matches(&e.plugin.metadata().version))
            .max_by(|a, b| a.plugin.metadata().version.cmp(&b.plugin.metadata().version));
        match best {
            Some(e) => Ok(Arc::new(HostPlugin(e.plugin.clone()))),
            // A plugin only the sources could provide: their reason is the one that helps.
            None if same_name.is_empty() && sources_said.is_some() => Err(format!(
                "{}; no built-in plugin is named {name} either",
                sources_said.unwrap_or_default()
            )
            .into()),
            None if same_name.is_empty() => {
                let mut known: Vec<&str> =
                    entries.iter().map(|e| e.plugin.metadata().name.as_str()).collect();
                known.sort();
                known.dedup();
                Err(format!("no plugin named {name} (known: {})", known.join(", ")).into())
            }
            None => {
                let versions: Vec<String> =
                    same_name.iter().map(|e| e.plugin.metadata().version.to_string()).collect();
                Err(format!("no version of {name} matches {version} (found: {})", versions.join(", ")).into())
            }
        }
    }
}

/// A host plugin seen through the planner's seam.
struct HostPlugin(Plugin);

impl PluginHandle for HostPlugin {
    fn metadata(&self) -> &Metadata {
        self.0.metadata()
    }

    fn digest(&self) -> &str {
        self.0.digest()
    }

    fn validate(
        &self,
        component: &ComponentId,
        inputs: &serde_json::Value,
    ) -> Result<Vec<Diagnostic>, SeamError> {
        Ok(self.0.validate(&CallContext::for_component(component.clone()), inputs)?)
    }

    fn plan(
        &self,
        component_dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<Result<ComponentPlan, PlanError>, SeamError> {
        let cx = CallContext {
            component: Some(request.component.clone()),
            component_dir: component_dir.map(Path::to_path_buf),
        };
        Ok(self.0.plan(&cx, request)?)
    }

    fn validate_and_plan(
        &self,
        component_dir: Option<&Path>,
        request: &PlanRequest,
    ) -> Result<capstan_core::CheckedPlan, SeamError> {
        let cx = CallContext {
            component: Some(request.component.clone()),
            component_dir: component_dir.map(Path::to_path_buf),
        };
        Ok(self.0.validate_and_plan(&cx, request)?)
    }

    fn health(
        &self,
        component: &ComponentId,
        object: &serde_json::Value,
    ) -> Result<capstan_core::Health, SeamError> {
        Ok(self.0.health(&CallContext::for_component(component.clone()), object)?)
    }
}
