//! The bundle cache of a stack (`.capstan/plugins/` at its root): bundles
//! already fetched and accepted, named by their digest, so runs with a lock
//! file need no network. A cached file is re-checked on every use like any
//! other bundle; the cache is a copy, never a source of trust.

use std::path::{Path, PathBuf};

use crate::error::{RegistryError, Result};
use crate::fsutil::write_atomic;

/// A bundle cache directory, holding `<hex digest>.bundle` files.
#[derive(Clone, Debug)]
pub struct BundleCache {
    dir: PathBuf,
}

impl BundleCache {
    /// The cache in `dir`; the directory is created on the first
    /// [`BundleCache::put`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The cache of the stack at `root`.
    pub fn for_stack(root: &Path) -> Self {
        Self::new(root.join(".capstan").join("plugins"))
    }

    fn path(&self, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.dir.join(format!("{hex}.bundle")))
    }

    /// The bundle bytes cached under `digest`, if any.
    pub fn get(&self, digest: &str) -> Result<Option<Vec<u8>>> {
        let Some(path) = self.path(digest) else { return Ok(None) };
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RegistryError::Io { path, source: e }),
        }
    }

    /// Stores a bundle (temp file, fsync, rename: never half-written).
    pub fn put(&self, digest: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.path(digest).ok_or_else(|| RegistryError::BadManifest {
            bundle: digest.to_string(),
            reason: "not a sha256 digest".into(),
        })?;
        write_atomic(&path, bytes)?;
        Ok(path)
    }
}
