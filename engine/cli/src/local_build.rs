//! Plugins an env.hcl pins to `local`: the repository's own build, loaded
//! from the `.wasm` files in `plugins_local_dir`, never signed-checked and
//! never locked, so a developer's rebuild is what the next run uses.
//!
//! The planner asks its resolver for a plugin by name and version range
//! only, and one run may span an environment that pins a plugin to `local`
//! and one that does not. So after loading, a locally pinned component's
//! plugin name is replaced by a request key that carries the directory
//! (`acme/core (local build in plugins/dev)`); the catalog recognises it.
//! The key can never be a real plugin name, which has no spaces.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;

use capstan_config::{PluginPin, Stack};
use capstan_host::{Plugin, PluginHost};

const MARK: &str = " (local build in ";

/// Rewrites the plugin name of every component pinned to `local`.
pub fn route(stack: &mut Stack) {
    for c in stack.components.values_mut() {
        if let Some(PluginPin::Local { dir }) = &c.pin {
            c.plugin = format!("{}{MARK}{})", c.plugin, dir.display());
        }
    }
}

/// `(plugin, dir)` when `name` is a request key made by [`route`].
pub fn parse(name: &str) -> Option<(&str, &Path)> {
    let (plugin, rest) = name.split_once(MARK)?;
    Some((plugin, Path::new(rest.strip_suffix(')')?)))
}

/// The plugins loaded from one directory, each with its file (from the stack root).
type Builds = Arc<Vec<(PathBuf, Plugin)>>;

/// The loaded `.wasm` files of each local build directory, read once per run.
pub struct LocalBuilds {
    host: Arc<PluginHost>,
    root: PathBuf,
    dirs: Mutex<BTreeMap<PathBuf, Builds>>,
    /// Builds already announced to the operator this run.
    noted: Mutex<BTreeSet<PathBuf>>,
}

impl LocalBuilds {
    pub fn new(host: Arc<PluginHost>, root: PathBuf) -> Self {
        Self { host, root, dirs: Mutex::new(BTreeMap::new()), noted: Mutex::new(BTreeSet::new()) }
    }

    /// The build of `plugin` in `dir` (relative to the stack root), which
    /// must match `version`.
    pub fn get(
        &self,
        plugin: &str,
        dir: &Path,
        version: &semver::VersionReq,
    ) -> anyhow::Result<(PathBuf, Plugin)> {
        let builds = self.load(dir)?;
        let shown = dir.display();
        let Some((file, found)) = builds.iter().find(|(_, p)| p.metadata().name == plugin) else {
            let mut names: Vec<String> = builds.iter().map(|(_, p)| p.metadata().name.clone()).collect();
            names.dedup();
            anyhow::bail!(
                "{plugin} is pinned to \"local\" but no .wasm in {shown} is that plugin (found: {}); build it there first",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            );
        };
        let built = &found.metadata().version;
        if !version.matches(built) {
            anyhow::bail!(
                "the local build of {plugin} ({}) is version {built}, outside the range {version} its component asks for",
                file.display()
            );
        }
        if self.noted.lock().is_ok_and(|mut n| n.insert(file.clone())) {
            eprintln!(
                "note: {plugin} {built} runs from the local build {} (an env.hcl pins it to \"local\"): \
                 not signed, not locked",
                file.display()
            );
        }
        Ok((file.clone(), found.clone()))
    }

    fn load(&self, dir: &Path) -> anyhow::Result<Builds> {
        let mut dirs = self.dirs.lock().map_err(|_| anyhow::anyhow!("local builds poisoned"))?;
        if let Some(b) = dirs.get(dir) {
            return Ok(b.clone());
        }
        let abs = self.root.join(dir);
        let read = std::fs::read_dir(&abs).with_context(|| {
            format!("reading plugins_local_dir {} (build the plugin there first)", dir.display())
        })?;
        let mut files: Vec<PathBuf> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
            .collect();
        files.sort();
        let mut out = Vec::new();
        for file in files {
            let rel = file.strip_prefix(&self.root).unwrap_or(&file).to_path_buf();
            match self.host.load_file(&file) {
                Ok(p) => out.push((rel, p)),
                // Another build output (not a Capstan plugin) may sit beside it.
                Err(e) => tracing::warn!("{}: not loaded as a plugin: {e}", rel.display()),
            }
        }
        let out = Arc::new(out);
        dirs.insert(dir.to_path_buf(), out.clone());
        Ok(out)
    }
}
