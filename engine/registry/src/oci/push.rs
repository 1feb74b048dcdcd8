//! `capstan plugin push`: one bundle file into a registry, under the
//! repository of each plugin it holds (see the module map in `oci`).

use super::{Credentials, ImageManifest, OciClient, OciReference, tag_of};
use crate::bundle::Bundle;
use crate::error::{RegistryError, Result};
use crate::manifest::sha256_digest;

/// One tag written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pushed {
    /// `host/repository:tag`.
    pub reference: String,
    /// `sha256:…` of the OCI manifest.
    pub manifest_digest: String,
}

/// Pushes the bundle file `archive` (opened and checked first: a registry
/// never gets a bundle this engine would refuse to open) to `target`.
///
/// `target` is either where plugin repositories live (`host[/prefix]`, as a
/// `plugin_source` of type `oci` names it), or one plugin's full reference,
/// `host[/prefix]/<publisher>/<name>:<version>`, which must name a plugin of
/// the bundle and the bundle's version, since that is the only place a
/// source will look for it.
pub fn push(
    label: &str,
    archive: &[u8],
    target: &str,
    credentials: Option<Credentials>,
) -> Result<Vec<Pushed>> {
    let bundle = Bundle::open(label, archive)?;
    let fail = |reason: String| RegistryError::Push { target: target.to_string(), reason };
    let mut reference = OciReference::parse(target).map_err(fail)?;
    let version = &bundle.manifest.version;
    let tag = tag_of(version);
    let plugins: Vec<&str> = bundle.manifest.components.iter().map(|c| c.plugin.as_str()).collect();
    if let Some(given) = reference.tag.take() {
        let prefix = plugins.iter().find_map(|p| {
            let rest = reference.path.strip_suffix(p)?;
            (rest.is_empty() || rest.ends_with('/')).then(|| rest.trim_end_matches('/').to_string())
        });
        match prefix {
            Some(prefix) if given == tag => reference.path = prefix,
            _ => {
                return Err(fail(format!(
                    "the bundle holds {} {version}, so it is found at <registry>/{}:{tag}; push to that \
                     reference, or to the registry (and prefix) alone",
                    plugins.join(", "),
                    plugins.first().copied().unwrap_or_default()
                )));
            }
        }
    }
    let client = OciClient::new(reference.clone(), credentials).map_err(|e| fail(e.to_string()))?;
    let image = ImageManifest::for_bundle(&bundle, archive);
    let manifest = image.to_bytes();
    let blobs =
        [(image.layers[0].digest.as_str(), archive), (image.config.digest.as_str(), bundle.manifest_bytes())];
    let mut out = Vec::new();
    for plugin in plugins {
        let repo = reference.join(plugin);
        for (digest, bytes) in blobs {
            if !client.has_blob(&repo, digest).map_err(|e| fail(e.to_string()))? {
                client.upload_blob(&repo, digest, bytes).map_err(|e| fail(e.to_string()))?;
            }
        }
        client.put_manifest(&repo, &tag, &manifest).map_err(|e| fail(e.to_string()))?;
        out.push(Pushed {
            reference: format!("{}/{repo}:{tag}", reference.host),
            manifest_digest: sha256_digest(&manifest),
        });
    }
    Ok(out)
}
