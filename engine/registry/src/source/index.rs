//! `index.json`: the listing an HTTP source serves beside its bundles, and
//! that `capstan plugin index` writes for a directory of bundles.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::error::{RegistryError, Result};

/// The index's file name, beside the bundles it lists.
pub const INDEX_FILE: &str = "index.json";
const INDEX_FORMAT: u32 = 1;

/// The contents of an `index.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// The index format, 1; other formats are refused.
    pub format: u32,
    /// One entry per bundle file.
    pub bundles: Vec<IndexEntry>,
}

/// One bundle an index lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexEntry {
    /// The bundle's name, `publisher/name`.
    pub name: String,
    /// The bundle's version.
    pub version: semver::Version,
    /// The plugin names the bundle holds.
    pub plugins: Vec<String>,
    /// Relative to the index's URL.
    pub path: String,
    /// `sha256:…` of the bundle manifest ([`crate::Bundle::digest`]);
    /// checked against the fetched bundle.
    pub digest: String,
}

impl Index {
    /// Reads an `index.json`; `source` is the `plugin_source` label that
    /// errors name.
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

    /// The file's bytes: pretty JSON with a trailing newline.
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
