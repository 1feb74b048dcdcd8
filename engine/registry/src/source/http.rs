//! An HTTP(S) index (a `plugin_source` of type `http`): `<url>/index.json`
//! lists bundles by name, version, path and digest; bundles are fetched
//! relative to it. Any static file server can host one.

use std::sync::OnceLock;

use super::{INDEX_FILE, Index, Offer, Source};
use crate::bundle::MAX_BUNDLE_BYTES;
use crate::error::{RegistryError, Result};
use crate::net::{self, ReadError};

/// An `http` plugin source: reads `<url>/index.json` once per run and
/// fetches the bundles it lists.
pub struct HttpSource {
    name: String,
    base: String,
    client: reqwest::blocking::Client,
    /// Fetched once per run: one index answers every plugin.
    index: OnceLock<Result<Index, String>>,
}

impl HttpSource {
    /// The source labelled `name` over the index at `url` (without
    /// `/index.json`). Nothing is fetched until the first lookup; fails only
    /// when no HTTP client can be built.
    pub fn new(name: impl Into<String>, url: &str) -> Result<Self> {
        let name = name.into();
        let client = net::client()
            .map_err(|e| RegistryError::Source { source_name: name.clone(), reason: e.to_string() })?;
        Ok(Self { name, base: url.trim_end_matches('/').to_string(), client, index: OnceLock::new() })
    }

    fn err(&self, reason: String) -> RegistryError {
        RegistryError::Source { source_name: self.name.clone(), reason }
    }

    fn get(&self, url: &str) -> Result<Vec<u8>> {
        let resp = self.client.get(url).send().map_err(|e| self.err(format!("GET {url}: {e}")))?;
        if !resp.status().is_success() {
            return Err(self.err(format!("GET {url}: {}", resp.status())));
        }
        net::read_capped(resp, MAX_BUNDLE_BYTES).map_err(|e| match e {
            ReadError::TooLarge => {
                RegistryError::TooLarge { bundle: url.to_string(), limit: MAX_BUNDLE_BYTES }
            }
            ReadError::Io(e) => self.err(format!("GET {url}: {e}")),
        })
    }

    fn index(&self) -> Result<&Index> {
        self.index
            .get_or_init(|| {
                let url = format!("{}/{INDEX_FILE}", self.base);
                self.get(&url).and_then(|b| Index::parse(&self.name, &b)).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| self.err(e.clone()))
    }
}

impl Source for HttpSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn offers(&self, plugin: &str) -> Result<Vec<Offer>> {
        let index = self.index()?;
        let mut out = Vec::new();
        for entry in index.bundles.iter().filter(|b| b.plugins.iter().any(|p| p == plugin)) {
            if entry.path.starts_with('/') || entry.path.contains("..") || entry.path.contains("://") {
                return Err(self.err(format!("{INDEX_FILE}: bundle path {:?} leaves the index", entry.path)));
            }
            out.push(Offer {
                plugin: plugin.to_string(),
                version: entry.version.clone(),
                bundle: entry.name.clone(),
                locator: format!("{}/{}", self.base, entry.path),
                digest: Some(entry.digest.clone()),
            });
        }
        Ok(out)
    }

    fn fetch(&self, offer: &Offer) -> Result<Vec<u8>> {
        self.get(&offer.locator)
    }
}
