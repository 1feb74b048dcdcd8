//! `capstan.lock` at the stack root: per plugin, the version resolved, the
//! bundle digest and who signed it. Runs use exactly what it records; see
//! [`crate::Resolver`] for the rules (digest pinning, rollback protection).
//!
//! `plugins` holds the one version each plugin's ranges resolved to;
//! `pins` holds the exact versions env.hcl files pin (several environments
//! may pin several versions of one plugin), each with its own digest.
//! `local` pins are never recorded: a local build is meant to change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};
use crate::fsutil::write_atomic;

/// The lock file's name, at the stack root.
pub const LOCK_FILE: &str = "capstan.lock";
const LOCK_FORMAT: u32 = 1;

/// What capstan.lock records for one plugin version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    /// The exact version resolved or pinned.
    pub version: semver::Version,
    /// `sha256:…` of the bundle manifest (see [`crate::Bundle::digest`]).
    pub digest: String,
    /// `publisher (ed25519:…)`, or `unsigned`.
    pub signer: String,
    /// The bundle's own name (a bundle may hold several plugins).
    pub bundle: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    format: u32,
    plugins: BTreeMap<String, LockEntry>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pins: BTreeMap<String, Vec<LockEntry>>,
}

/// The lock file of one stack, in memory.
#[derive(Clone, Debug)]
pub struct LockFile {
    path: PathBuf,
    /// Per plugin (`publisher/name`), the version its ranges resolved to.
    pub plugins: BTreeMap<String, LockEntry>,
    /// Per plugin, the pinned versions, in version order.
    pub pins: BTreeMap<String, Vec<LockEntry>>,
    existed: bool,
}

impl LockFile {
    /// Reads `<root>/capstan.lock`; an absent file is an empty lock.
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join(LOCK_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self { path, plugins: BTreeMap::new(), pins: BTreeMap::new(), existed: false });
            }
            Err(e) => return Err(RegistryError::Io { path, source: e }),
        };
        Self::parse(path, &bytes)
    }

    /// Reads the contents of an existing lock file at `path` (named in every
    /// error); nothing is read from disk.
    pub fn parse(path: PathBuf, bytes: &[u8]) -> Result<Self> {
        let disk: OnDisk = serde_json::from_slice(bytes)
            .map_err(|e| RegistryError::LockFile { path: path.clone(), reason: e.to_string() })?;
        if disk.format != LOCK_FORMAT {
            return Err(RegistryError::LockFile {
                path,
                reason: format!("format {} (this engine reads format {LOCK_FORMAT})", disk.format),
            });
        }
        Ok(Self { path, plugins: disk.plugins, pins: disk.pins, existed: true })
    }

    /// What is recorded for exactly `version` of `plugin`: its pin, or the
    /// range-resolved entry when that is the same version (one version,
    /// one digest, whichever way it was asked for).
    pub fn entry_for(&self, plugin: &str, version: &semver::Version) -> Option<&LockEntry> {
        self.pins
            .get(plugin)
            .and_then(|v| v.iter().find(|e| e.version == *version))
            .or_else(|| self.plugins.get(plugin).filter(|e| e.version == *version))
    }

    /// Records a pinned version (replacing an entry of the same version).
    pub fn pin(&mut self, plugin: &str, entry: LockEntry) {
        let entries = self.pins.entry(plugin.to_string()).or_default();
        entries.retain(|e| e.version != entry.version);
        entries.push(entry);
        entries.sort_by(|a, b| a.version.cmp(&b.version));
    }

    /// Drops what the stack no longer asks for: range entries of plugins
    /// not in `ranged`, pins not in `pinned`. Returns what was dropped, as
    /// `plugin version` lines.
    pub fn retain(
        &mut self,
        ranged: &BTreeSet<String>,
        pinned: &BTreeSet<(String, semver::Version)>,
    ) -> Vec<String> {
        let mut dropped = Vec::new();
        self.plugins.retain(|name, e| {
            let keep = ranged.contains(name);
            if !keep {
                dropped.push(format!("{name} {}", e.version));
            }
            keep
        });
        for (name, entries) in &mut self.pins {
            entries.retain(|e| {
                let keep = pinned.contains(&(name.clone(), e.version.clone()));
                if !keep {
                    dropped.push(format!("{name} {} (pinned)", e.version));
                }
                keep
            });
        }
        self.pins.retain(|_, entries| !entries.is_empty());
        dropped
    }

    /// Where [`LockFile::save`] writes: `<root>/capstan.lock` after
    /// [`LockFile::load`], the given path after [`LockFile::parse`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the file atomically. A stack that never resolved a plugin from
    /// a source gets no lock file (built-in plugins are not locked).
    pub fn save(&mut self) -> Result<()> {
        if self.plugins.is_empty() && self.pins.is_empty() && !self.existed {
            return Ok(());
        }
        write_atomic(&self.path, &self.to_bytes())?;
        self.existed = true;
        Ok(())
    }

    /// The file's bytes as [`LockFile::save`] writes them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let disk = OnDisk { format: LOCK_FORMAT, plugins: self.plugins.clone(), pins: self.pins.clone() };
        let mut bytes = serde_json::to_vec_pretty(&disk).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}
