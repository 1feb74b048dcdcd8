//! `index.json`: the listing an HTTP source serves beside its bundles, and
//! that `capstan plugin index` writes for a directory of bundles.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::error::{RegistryError, Result};

pub const INDEX_FILE: &str = "index.json";
const INDEX_FORMAT: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub format: u32,
    pub bundles: Vec<IndexEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    pub name: String,
    pub version: semver::Version,
    /// The plugin names the bundle holds.
    pub plugins: Vec<String>,
    /// Relative to the index's URL.
    pub path: String,
    pub digest: String,
}

impl Index {
    pub fn parse(source: &str, bytes: &[u8]) -> Result<Self> {
        let index: Self = serde_json::from_slice(bytes).map_err(|e| RegistryError::Source {
            source_name: source.to_string(),
            reason: format!("{INDEX_FILE}: {e}"),
        })?;
        if index.format != INDEX_FORMAT {
            return Err(RegistryError::Source {
                source_name: source.to_string(),
                reason: format!(
                    "{INDEX_FILE} has format {} (this engine reads {INDEX_FORMAT})",
                    index.format
                ),
            });
        }
        Ok(index)
    }

    /// The index of every `*.bundle` file in `dir` (each one opened and checked).
    pub fn of_dir(dir: &Path) -> Result<Self> {
        let mut bundles = Vec::new();
        for path in super::dir::bundle_files(dir)? {
            let bytes = std::fs::read(&path).map_err(RegistryError::io(&path))?;
            let bundle = Bundle::open(&path.display().to_string(), &bytes)?;
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            bundles.push(IndexEntry {
                name: bundle.manifest.name.clone(),
                version: bundle.manifest.version.clone(),
                plugins: bundle.manifest.components.iter().map(|c| c.plugin.clone()).collect(),
                path: file,
                digest: bundle.digest(),
            });
        }
        Ok(Self { format: INDEX_FORMAT, bundles })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Writes `dir/index.json` atomically.
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        crate::fsutil::write_atomic(&dir.join(INDEX_FILE), &self.to_bytes())
    }
}
