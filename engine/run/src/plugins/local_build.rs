//! Plugins an env.hcl pins to `local`: the repository's own build, loaded
//! from the `.wasm` files in `plugins_local_dir`, never signature-checked and
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

use capstan_config::{PluginPin, Stack};
use capstan_host::{Plugin, PluginHost};

use crate::RunError;
use crate::events::{Events, Notice};

const MARK: &str = " (local build in ";

/// Rewrites the plugin name of every component pinned to `local`.
pub(crate) fn route(stack: &mut Stack) {
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
    events: Arc<dyn Events>,
    dirs: Mutex<BTreeMap<PathBuf, Builds>>,
    /// Builds already announced to the operator this run.
    noted: Mutex<BTreeSet<PathBuf>>,
}

impl LocalBuilds {
    /// Local builds below the stack root `root`.
    pub fn new(host: Arc<PluginHost>, root: PathBuf, events: Arc<dyn Events>) -> Self {
        Self { host, root, events, dirs: Mutex::new(BTreeMap::new()), noted: Mutex::new(BTreeSet::new()) }
    }

    /// The build of `plugin` in `dir` (relative to the stack root), which
    /// must match `version`, with its file (relative to the stack root).
    pub fn get(
        &self,
        plugin: &str,
        dir: &Path,
        version: &semver::VersionReq,
    ) -> Result<(PathBuf, Plugin), RunError> {
        let builds = self.load(dir)?;
        let Some((file, found)) = builds.iter().find(|(_, p)| p.metadata().name == plugin) else {
            let mut names: Vec<String> = builds.iter().map(|(_, p)| p.metadata().name.clone()).collect();
            names.dedup();
            return Err(RunError::LocalMissing {
                plugin: plugin.to_string(),
                dir: dir.to_path_buf(),
                found: if names.is_empty() { "none".to_string() } else { names.join(", ") },
            });
        };
        let built = &found.metadata().version;
        if !version.matches(built) {
            return Err(RunError::LocalVersion {
                plugin: plugin.to_string(),
                file: file.clone(),
                built: built.clone(),
                range: version.clone(),
            });
        }
        if self.noted.lock().is_ok_and(|mut n| n.insert(file.clone())) {
            self.events.notice(&Notice::LocalBuild {
                plugin: plugin.to_string(),
                version: built.to_string(),
                file: file.clone(),
            });
        }
        Ok((file.clone(), found.clone()))
    }

    fn load(&self, dir: &Path) -> Result<Builds, RunError> {
        let mut dirs = self.dirs.lock().map_err(|_| RunError::Poisoned { what: "local builds" })?;
        if let Some(b) = dirs.get(dir) {
            return Ok(b.clone());
        }
        let abs = self.root.join(dir);
        let read = std::fs::read_dir(&abs)
            .map_err(|source| RunError::ReadLocalDir { dir: dir.to_path_buf(), source })?;
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
