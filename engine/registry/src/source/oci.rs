//! An OCI registry (a `plugin_source` of type `oci`): plugin `P` lives in
//! repository `<url>/P`, each tag a version (see [`crate::oci`] for the
//! whole mapping). Listing reads the tag list only; fetching reads the
//! manifest, checks it describes a Capstan bundle of acceptable size, then
//! downloads the layer and checks its sha256 and size against the manifest.

use super::{Offer, Source};
use crate::bundle::MAX_BUNDLE_BYTES;
use crate::error::{RegistryError, Result};
use crate::manifest::sha256_digest;
use crate::oci::{Credentials, ImageManifest, OciClient, OciError, OciReference, tag_of, version_of_tag};

/// An `oci` plugin source: an OCI registry holding one repository per
/// plugin under a prefix.
pub struct OciSource {
    name: String,
    client: OciClient,
}

impl OciSource {
    /// `url` is `[scheme://]host[:port][/prefix]`; plain HTTP only to loopback.
    pub fn new(name: impl Into<String>, url: &str, credentials: Option<Credentials>) -> Result<Self> {
        let name = name.into();
        let err = |reason: String| RegistryError::Source { source_name: name.clone(), reason };
        let registry = OciReference::parse(url).map_err(|e| err(format!("url {url:?}: {e}")))?;
        if let Some(tag) = &registry.tag {
            return Err(err(format!(
                "url {url:?} names a tag ({tag}); a source names the registry and prefix only, tags are versions"
            )));
        }
        let client = OciClient::new(registry, credentials).map_err(|e| err(e.to_string()))?;
        Ok(Self { name, client })
    }

    fn err(&self, e: &OciError) -> RegistryError {
        match e {
            OciError::TooLarge { what, limit } => {
                RegistryError::TooLarge { bundle: what.clone(), limit: *limit }
            }
            other => RegistryError::Source { source_name: self.name.clone(), reason: other.to_string() },
        }
    }
}

impl Source for OciSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn offers(&self, plugin: &str) -> Result<Vec<Offer>> {
        let repo = self.client.registry().join(plugin);
        let tags = match self.client.tags(&repo) {
            Ok(t) => t,
            // No repository for this plugin: this source does not offer it.
            Err(OciError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(self.err(&e)),
        };
        let host = &self.client.registry().host;
        Ok(tags
            .iter()
            .filter_map(|tag| {
                let version = version_of_tag(tag)?;
                Some(Offer {
                    plugin: plugin.to_string(),
                    version,
                    bundle: plugin.to_string(),
                    locator: format!("{host}/{repo}:{tag}"),
                    digest: None,
                })
            })
            .collect())
    }

    fn fetch(&self, offer: &Offer) -> Result<Vec<u8>> {
        let repo = self.client.registry().join(&offer.plugin);
        let tag = tag_of(&offer.version);
        let bad = |reason: String| RegistryError::Source {
            source_name: self.name.clone(),
            reason: format!("{}: {reason}", offer.locator),
        };
        let bytes = self.client.manifest(&repo, &tag).map_err(|e| self.err(&e))?;
        let image = ImageManifest::parse(&bytes).map_err(bad)?;
        let layer = image.bundle_layer().map_err(bad)?;
        if layer.size > MAX_BUNDLE_BYTES {
            return Err(RegistryError::TooLarge { bundle: offer.locator.clone(), limit: MAX_BUNDLE_BYTES });
        }
        let blob = self.client.blob(&repo, &layer.digest, MAX_BUNDLE_BYTES).map_err(|e| self.err(&e))?;
        let actual = sha256_digest(&blob);
        if actual != layer.digest || blob.len() as u64 != layer.size {
            return Err(RegistryError::BlobDigestMismatch {
                source_name: self.name.clone(),
                reference: offer.locator.clone(),
                expected: layer.digest.clone(),
                actual,
            });
        }
        Ok(blob)
    }
}
