//! The plugins a run can find: bundles from the stack's plugin sources
//! (checked, trusted and locked by capstan-registry), the built-in ones the
//! front end carries, and, with unsigned code allowed only, loose `.wasm`
//! files in plugin directories. Loaded once, on first need. The order in
//! which they are asked is the rule in [`super`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use capstan_host::{Plugin, PluginHost};
use capstan_plan::{PluginHandle, PluginResolver, PolicyHandle, SeamError};

use super::handle::HostPlugin;
use super::local_build::{self, LocalBuilds};
use crate::RunError;
use crate::events::{Events, Notice};

/// The built-in plugins, as `(package, wasm bytes)`: the front end embeds
/// them (the `capstan` binary at build time) and hands them over as data.
pub type Builtins = &'static [(&'static str, &'static [u8])];

/// Where a plugin came from, for `plugin list`.
#[derive(Debug, Clone)]
pub enum Origin {
    /// Embedded in the front end.
    BuiltIn,
    /// A loose `.wasm` file in a plugin directory.
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

/// One plugin of the catalogue and where it came from.
pub struct Entry {
    /// The loaded plugin.
    pub plugin: Plugin,
    /// Built-in, or the file it was loaded from.
    pub origin: Origin,
}

/// Finds plugins by the rule in [`super`]; the planner's [`PluginResolver`].
pub struct Catalog {
    host: Arc<PluginHost>,
    builtins: Builtins,
    dirs: Vec<PathBuf>,
    entries: OnceLock<Result<Vec<Arc<Entry>>, String>>,
    /// Whether loose `.wasm` files in `dirs` are loaded (they are unsigned).
    loose_files: bool,
    registry: Option<Registry>,
    /// Bundled plugins already loaded, by plugin name and bundle digest.
    bundled: Mutex<BTreeMap<(String, String), Plugin>>,
    /// `(plugin, exact range)` → the version an env.hcl pins it to.
    pinned: BTreeMap<(String, String), semver::Version>,
    local: Option<LocalBuilds>,
    /// Whether builds pinned to `local` may load: the operator's leave
    /// (`--allow-unsigned`), never the repository's.
    local_allowed: bool,
    /// `(plugin, build dir)` of each `local` pin → an env.hcl that pins it
    /// (from the stack root), for the error when they may not load.
    local_pins: BTreeMap<(String, PathBuf), PathBuf>,
    /// Whether this run may change capstan.lock.
    lockfile: crate::LockfileMode,
    events: Arc<dyn Events>,
    /// client.hcl's `plugin_limits`, by plugin name.
    limits: BTreeMap<String, capstan_config::PluginLimits>,
}

/// What the plugin sources had for a request.
pub enum Lookup {
    /// A bundle from a plugin source or the cache, checked and locked.
    Bundled(Bundled),
    /// Ask the built-ins: one matches, or no source offers the plugin (the
    /// sources' reason, when they were asked, for the message if no
    /// built-in matches either).
    BuiltIn(Option<String>),
}

/// A plugin resolved from a bundle, for `plugin lock` and `init` to report.
pub struct Bundled {
    /// The loaded plugin.
    pub plugin: Plugin,
    /// Its capstan.lock entry: version, bundle digest, signer.
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

/// Plugin directories named by `plugin_source` blocks of type `dir`.
fn plugin_dirs_of(stack: &capstan_config::Stack) -> Vec<PathBuf> {
    stack
        .client
        .plugin_sources
        .values()
        .filter_map(|s| match s {
            capstan_config::PluginSource::Dir { path } => Some(stack.root.join(path)),
            _ => None,
        })
        .collect()
}

/// The stack's plugin sources, trust policy and bundle cache, as a resolver.
pub fn sources_of(
    stack: &capstan_config::Stack,
    allow_unsigned: bool,
) -> Result<capstan_registry::Resolver, RunError> {
    use capstan_config::PluginSource;
    use capstan_registry::{DirSource, HttpSource, OciSource, Source};
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    for (name, source) in &stack.client.plugin_sources {
        match source {
            PluginSource::Dir { path } => sources.push(Box::new(DirSource::new(name, stack.root.join(path)))),
            PluginSource::Http { url } => sources.push(Box::new(HttpSource::new(name, url)?)),
            PluginSource::Oci { url, username, password } => {
                let login = username
                    .clone()
                    .zip(password.clone())
                    .map(|(username, password)| capstan_registry::oci::Credentials { username, password });
                sources.push(Box::new(OciSource::new(name, url, login)?));
            }
        }
    }
    let trust = capstan_registry::TrustPolicy::from_config(&stack.client.trust, &stack.root)?;
    let cache = capstan_registry::BundleCache::for_stack(&stack.root);
    Ok(capstan_registry::Resolver::new(sources, trust, cache, allow_unsigned))
}

impl Catalog {
    /// Built-in plugins and every `.wasm` file in `dirs` (for `plugin list`).
    pub fn new(host: Arc<PluginHost>, builtins: Builtins, dirs: Vec<PathBuf>) -> Self {
        Self {
            host,
            builtins,
            dirs,
            entries: OnceLock::new(),
            loose_files: true,
            registry: None,
            bundled: Mutex::new(BTreeMap::new()),
            pinned: BTreeMap::new(),
            local: None,
            local_allowed: false,
            local_pins: BTreeMap::new(),
            lockfile: crate::LockfileMode::Write,
            events: Arc::new(crate::events::Silent),
            limits: BTreeMap::new(),
        }
    }

    /// What a run on `stack` may use: its plugin sources under its trust
    /// policy and capstan.lock, the built-ins, and loose `.wasm` files in
    /// `extra_dirs` and dir sources only when `allow_unsigned`.
    pub fn for_stack(
        host: Arc<PluginHost>,
        builtins: Builtins,
        stack: &capstan_config::Stack,
        mut extra_dirs: Vec<PathBuf>,
        allow_unsigned: bool,
        events: Arc<dyn Events>,
    ) -> Result<Self, RunError> {
        if allow_unsigned {
            events.notice(&Notice::UnsignedAllowed);
        }
        extra_dirs.extend(plugin_dirs_of(stack));
        let resolver = sources_of(stack, allow_unsigned)?;
        let lock = capstan_registry::LockFile::load(&stack.root)?;
        let mut catalog = Self::new(host.clone(), builtins, extra_dirs);
        catalog.loose_files = allow_unsigned;
        catalog.registry = Some(Registry { resolver, lock: Mutex::new(lock) });
        for c in stack.components.values() {
            match &c.pin {
                Some(capstan_config::PluginPin::Version(v)) => {
                    catalog.pinned.insert((c.plugin.clone(), c.version.to_string()), v.clone());
                }
                Some(capstan_config::PluginPin::Local { dir }) => {
                    let plugin = local_build::parse(&c.plugin).map_or(c.plugin.as_str(), |(p, _)| p);
                    catalog
                        .local_pins
                        .entry((plugin.to_string(), dir.clone()))
                        .or_insert_with(|| env_file_of(stack, c));
                }
                None => {}
            }
        }
        catalog.local_allowed = allow_unsigned;
        catalog.events = events.clone();
        catalog.local = Some(LocalBuilds::new(host, stack.root.clone(), events));
        catalog.limits = stack.client.plugin_limits.clone();
        Ok(catalog)
    }

    /// Whether capstan.lock may change (plan, apply and destroy set it from
    /// `--lockfile` and `CI`).
    pub fn set_lockfile(&mut self, mode: crate::LockfileMode) {
        self.lockfile = mode;
    }

    /// Whether builds pinned to `local` may load in this run.
    pub fn local_allowed(&self) -> bool {
        self.local_allowed
    }

    /// Refuses, naming the env.hcl, a targeted component whose plugin is
    /// pinned to `local` when the operator did not allow unsigned plugins.
    pub fn check_local_pins(&self, stack: &capstan_config::Stack) -> Result<(), RunError> {
        if self.local_allowed {
            return Ok(());
        }
        for c in stack.targets() {
            if let Some(capstan_config::PluginPin::Local { dir }) = &c.pin {
                let plugin = local_build::parse(&c.plugin).map_or(c.plugin.as_str(), |(p, _)| p);
                return Err(RunError::LocalNotAllowed {
                    env_file: env_file_of(stack, c),
                    plugin: plugin.to_string(),
                    dir: dir.clone(),
                });
            }
        }
        Ok(())
    }

    /// The pinned version behind `version`, when an env.hcl pinned `name` to it.
    fn pin_of(&self, name: &str, version: &semver::VersionReq) -> Option<&semver::Version> {
        self.pinned.get(&(name.to_string(), version.to_string()))
    }

    /// A plugin pinned to `local`, from its build directory, with its file.
    pub fn resolve_local(
        &self,
        name: &str,
        dir: &Path,
        version: &semver::VersionReq,
    ) -> Result<(PathBuf, Plugin), RunError> {
        let local = self.local.as_ref().ok_or_else(|| RunError::Catalogue {
            reason: "local builds are only known for a stack".into(),
        })?;
        if !self.local_allowed {
            let key = (name.to_string(), dir.to_path_buf());
            return Err(RunError::LocalNotAllowed {
                env_file: self.local_pins.get(&key).cloned().unwrap_or_else(|| PathBuf::from("an env.hcl")),
                plugin: name.to_string(),
                dir: dir.to_path_buf(),
            });
        }
        local.get(name, dir, version)
    }

    /// The plugin and build directory behind a request key a `local` pin
    /// made (see [`crate::plugins`]'s local builds), if `name` is one.
    pub fn local_request(name: &str) -> Option<(&str, &Path)> {
        local_build::parse(name)
    }

    /// Drops capstan.lock entries the stack no longer asks for and saves it.
    pub fn prune_lock(
        &self,
        ranged: &BTreeSet<String>,
        pinned: &BTreeSet<(String, semver::Version)>,
    ) -> Result<Vec<String>, RunError> {
        let Some(reg) = &self.registry else { return Ok(Vec::new()) };
        let mut lock = reg.lock.lock().map_err(|_| RunError::Poisoned { what: "lock file state" })?;
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
    ) -> Result<Lookup, RunError> {
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
        let mut lock = reg.lock.lock().map_err(|_| RunError::Poisoned { what: "lock file state" })?;
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
        let entry = entry_of(&lock).ok_or_else(|| RunError::Unrecorded { plugin: name.to_string() })?;
        if recorded(&lock) != before {
            if self.lockfile == crate::LockfileMode::ReadOnly {
                let change = match (&before.0, pin) {
                    (Some(was), None) => {
                        format!("{} {} would replace {}", entry.version, entry.digest, was.version)
                    }
                    _ => format!("it has none, and {} {} would be added", entry.version, entry.digest),
                };
                // The lock in memory is left as it was read, so nothing
                // later in this run sees the refused entry either.
                if let Some(was) = before.0 {
                    lock.plugins.insert(name.to_string(), was);
                } else {
                    lock.plugins.remove(name);
                }
                match before.1 {
                    Some(was) => {
                        lock.pins.insert(name.to_string(), was);
                    }
                    None => {
                        lock.pins.remove(name);
                    }
                }
                return Err(RunError::LockReadOnly { plugin: name.to_string(), change });
            }
            lock.save()?;
            self.events.notice(&Notice::Locked {
                plugin: name.to_string(),
                version: entry.version.to_string(),
                signer: entry.signer.clone(),
                lock: lock.path().to_path_buf(),
            });
        }
        drop(lock);
        let key = (name.to_string(), entry.digest.clone());
        let mut bundled = self.bundled.lock().map_err(|_| RunError::Poisoned { what: "plugin cache" })?;
        let plugin = match bundled.get(&key) {
            Some(p) => p.clone(),
            None => {
                let plugin =
                    self.host.load_bytes(name, resolved.wasm()).map_err(|source| RunError::LoadPlugin {
                        what: format!("plugin {name} {} from {}", entry.version, resolved.bundle.label),
                        source,
                    })?;
                bundled.insert(key, plugin.clone());
                plugin
            }
        };
        Ok(Lookup::Bundled(Bundled { plugin, entry, from: resolved.from }))
    }

    /// Every plugin, directories first (so an operator's build shadows a
    /// built-in of the same name and version), then the built-in ones.
    pub fn entries(&self) -> Result<&[Arc<Entry>], RunError> {
        self.entries
            .get_or_init(|| self.load_all().map_err(|e| crate::error::chain(&e)))
            .as_deref()
            .map_err(|reason| RunError::Catalogue { reason: reason.clone() })
    }

    fn load_all(&self) -> Result<Vec<Arc<Entry>>, RunError> {
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
                let plugin = self.host.load_file(&path).map_err(|source| RunError::LoadPlugin {
                    what: format!("plugin {}", path.display()),
                    source,
                })?;
                out.push(Arc::new(Entry { plugin, origin: Origin::File(path) }));
            }
        }
        for (package, wasm) in self.builtins {
            let plugin = self.host.load_bytes(package, wasm).map_err(|source| RunError::LoadPlugin {
                what: format!("built-in plugin {package}"),
                source,
            })?;
            out.push(Arc::new(Entry { plugin, origin: Origin::BuiltIn }));
        }
        Ok(out)
    }
}

/// The env.hcl of `c`'s environment, from the stack root.
fn env_file_of(stack: &capstan_config::Stack, c: &capstan_config::Component) -> PathBuf {
    stack
        .environments
        .get(&c.id.environment)
        .map_or_else(|| PathBuf::from(&c.id.environment), |e| e.dir.clone())
        .join("env.hcl")
}

fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>, RunError> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        // A dir source that holds nothing yet (e.g. before a first publish).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(RunError::ReadPluginDir { dir: dir.to_path_buf(), source }),
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

fn seam(e: RunError) -> SeamError {
    crate::error::chain(&e).into()
}

impl Catalog {
    /// `plugin` under client.hcl's `plugin_limits` for its name, if any.
    /// `plugin` under client.hcl's `plugin_limits` for it, if any.
    fn limited(&self, plugin: Plugin) -> Result<Plugin, SeamError> {
        let Some(own) = self.limits.get(&plugin.metadata().name) else {
            return Ok(plugin);
        };
        let host = plugin.limits();
        let limits = capstan_host::Limits {
            memory: own.memory.unwrap_or(host.memory),
            timeout: own.timeout.unwrap_or(host.timeout),
            output: own.output.map_or(host.output, |o| usize::try_from(o).unwrap_or(usize::MAX)),
        };
        Ok(plugin.with_limits(limits)?)
    }

    /// The one rule, for component and policy plugins alike: a local
    /// build, else what the lock, a pin or the sources give, else a built-in.
    fn find(&self, name: &str, version: &semver::VersionReq) -> Result<Plugin, SeamError> {
        if let Some((plugin, dir)) = local_build::parse(name) {
            let (_, p) = self.resolve_local(plugin, dir, version).map_err(seam)?;
            return self.limited(p);
        }
        let sources_said = match self.resolve_bundle(name, version, capstan_registry::LockMode::Use) {
            Ok(Lookup::Bundled(b)) => return self.limited(b.plugin),
            Ok(Lookup::BuiltIn(reason)) => reason,
            Err(e) => return Err(seam(e)),
        };
        let entries = self.entries().map_err(seam)?;
        let same_name: Vec<&Arc<Entry>> =
            entries.iter().filter(|e| e.plugin.metadata().name == name).collect();
        let best = same_name
            .iter()
            .filter(|e| version.matches(&e.plugin.metadata().version))
            .max_by(|a, b| a.plugin.metadata().version.cmp(&b.plugin.metadata().version));
        match best {
            Some(e) => self.limited(e.plugin.clone()),
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
                Err(format!(
                    "no plugin named {name} (known: {}); other plugins come from signed bundles: a \
                     `plugin_source` block in client.hcl says where to fetch them and a `trust` block \
                     which publisher keys may sign them",
                    known.join(", ")
                )
                .into())
            }
            None => {
                let versions: Vec<String> =
                    same_name.iter().map(|e| e.plugin.metadata().version.to_string()).collect();
                Err(format!("no version of {name} matches {version} (found: {})", versions.join(", ")).into())
            }
        }
    }
}

impl PluginResolver for Catalog {
    fn resolve(&self, name: &str, version: &semver::VersionReq) -> Result<Arc<dyn PluginHandle>, SeamError> {
        let plugin = self.find(name, version)?;
        if plugin.is_policy() {
            return Err(format!(
                "{} is a policy plugin: it checks plans and plans no component (name it in a `policy` block)",
                plugin.label()
            )
            .into());
        }
        Ok(Arc::new(HostPlugin(plugin)))
    }

    fn resolve_policy(
        &self,
        name: &str,
        version: &semver::VersionReq,
    ) -> Result<Arc<dyn PolicyHandle>, SeamError> {
        let plugin = self.find(name, version)?;
        if !plugin.is_policy() {
            return Err(format!(
                "{} plans components; a `policy` block names a policy plugin",
                plugin.label()
            )
            .into());
        }
        Ok(Arc::new(HostPlugin(plugin)))
    }
}
