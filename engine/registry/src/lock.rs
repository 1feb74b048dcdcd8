//! `capstan.lock` at the stack root: per plugin, the version resolved, the
//! bundle digest and who signed it. Runs use exactly what it records; see
//! [`crate::Resolver`] for the rules (digest pinning, rollback protection).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};
use crate::fsutil::write_atomic;

pub const LOCK_FILE: &str = "capstan.lock";
const LOCK_FORMAT: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
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
}

/// The lock file of one stack, in memory.
#[derive(Clone, Debug)]
pub struct LockFile {
    path: PathBuf,
    pub plugins: BTreeMap<String, LockEntry>,
    existed: bool,
}

impl LockFile {
    /// Reads `<root>/capstan.lock`; an absent file is an empty lock.
    pub fn load(root: &Path) -> Result<Self> {
        let path = root.join(LOCK_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self { path, plugins: BTreeMap::new(), existed: false });
            }
            Err(e) => return Err(RegistryError::Io { path, source: e }),
        };
        let disk: OnDisk = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::LockFile { path: path.clone(), reason: e.to_string() })?;
        if disk.format != LOCK_FORMAT {
            return Err(RegistryError::LockFile {
                path,
                reason: format!("format {} (this engine reads format {LOCK_FORMAT})", disk.format),
            });
        }
        Ok(Self { path, plugins: disk.plugins, existed: true })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the file atomically. A stack that never resolved a plugin from
    /// a source gets no lock file (built-in plugins are not locked).
    pub fn save(&mut self) -> Result<()> {
        if self.plugins.is_empty() && !self.existed {
            return Ok(());
        }
        let disk = OnDisk { format: LOCK_FORMAT, plugins: self.plugins.clone() };
        let mut bytes = serde_json::to_vec_pretty(&disk).unwrap_or_default();
        bytes.push(b'\n');
        write_atomic(&self.path, &bytes)?;
        self.existed = true;
        Ok(())
    }
}
