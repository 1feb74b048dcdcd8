//! A directory of `*.bundle` files (a `plugin_source` of type `dir`).

use std::path::{Path, PathBuf};

use super::{Offer, Source};
use crate::bundle::{Bundle, MAX_BUNDLE_BYTES};
use crate::error::{RegistryError, Result};

/// A `dir` plugin source: offers every `*.bundle` file directly in one
/// directory, opening each to learn what it holds.
pub struct DirSource {
    name: String,
    dir: PathBuf,
}

impl DirSource {
    /// The source labelled `name` (the `plugin_source` label) over `dir`;
    /// a missing directory offers nothing.
    pub fn new(name: impl Into<String>, dir: impl Into<PathBuf>) -> Self {
        Self { name: name.into(), dir: dir.into() }
    }
}

impl Source for DirSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn offers(&self, plugin: &str) -> Result<Vec<Offer>> {
        let mut out = Vec::new();
        let mut broken = None;
        for path in bundle_files(&self.dir)? {
            let label = path.display().to_string();
            // Listing opens each bundle; a broken one cannot say what it holds.
            let bundle = match read_capped(&path).and_then(|b| Bundle::open(&label, &b)) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!("plugin source {}: skipping {e}", self.name);
                    broken.get_or_insert(e);
                    continue;
                }
            };
            if bundle.manifest.component(plugin).is_some() {
                out.push(Offer {
                    plugin: plugin.to_string(),
                    version: bundle.manifest.version.clone(),
                    bundle: bundle.manifest.name.clone(),
                    locator: label,
                    digest: Some(bundle.digest()),
                });
            }
        }
        // Nothing usable, and a bundle we could not read: that bundle may be
        // the one asked for, and its reason is the one the operator needs.
        match broken {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    fn fetch(&self, offer: &Offer) -> Result<Vec<u8>> {
        read_capped(Path::new(&offer.locator))
    }
}

fn read_capped(path: &Path) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path).map_err(RegistryError::io(path))?.len();
    if len > MAX_BUNDLE_BYTES {
        return Err(RegistryError::TooLarge { bundle: path.display().to_string(), limit: MAX_BUNDLE_BYTES });
    }
    std::fs::read(path).map_err(RegistryError::io(path))
}

/// `*.bundle` files directly in `dir`, sorted; a missing directory has none.
pub(crate) fn bundle_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RegistryError::Io { path: dir.to_path_buf(), source: e }),
    };
    let mut files: Vec<PathBuf> = read
        .filter_map(std::result::Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bundle") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}
