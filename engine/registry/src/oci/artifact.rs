//! The OCI image manifest that carries a bundle, written by `plugin push`
//! and checked before a source downloads anything it points to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::manifest::sha256_digest;

/// The media type of the OCI image manifest itself.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config blob: the bundle's own `manifest.json`, so registry tools
/// show what a tag holds without unpacking the layer.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.capstan.bundle.manifest.v1+json";
/// The one layer: the bundle file as `capstan plugin pack`/`sign` wrote it.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.capstan.bundle.v1.tar+gzip";

const TITLE: &str = "org.opencontainers.image.title";

/// An OCI image manifest, as a registry serves one for a tag. Only what
/// Capstan reads or writes; other fields a registry or another tool adds
/// (`artifactType`, `subject`, …) are ignored on read. Public so that the
/// parser can be exercised on its own (the fuzz targets in `fuzz/`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// 2; [`ImageManifest::parse`] refuses any other.
    pub schema_version: u32,
    /// [`MANIFEST_MEDIA_TYPE`]; optional in the OCI spec, so some manifests
    /// lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The config blob: for a bundle, its `manifest.json`.
    pub config: Descriptor,
    /// The layer blobs: for a bundle, exactly one, the bundle file.
    pub layers: Vec<Descriptor>,
    /// Free-form labels; `plugin push` writes the bundle's name, digest,
    /// plugins (`dev.capstan.bundle.*`) and version.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// One blob a manifest points at: its media type, digest and size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the blob is, e.g. [`LAYER_MEDIA_TYPE`].
    pub media_type: String,
    /// `sha256:<hex>` of the blob.
    pub digest: String,
    /// The blob's size in bytes.
    pub size: u64,
    /// Free-form labels; a bundle layer carries its file name under
    /// `org.opencontainers.image.title`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    fn of(media_type: &str, bytes: &[u8]) -> Self {
        Self {
            media_type: media_type.to_string(),
            digest: sha256_digest(bytes),
            size: bytes.len() as u64,
            annotations: BTreeMap::new(),
        }
    }
}

impl ImageManifest {
    /// The manifest for `archive` (the bundle file's bytes) and `bundle`
    /// (the same file, opened). No timestamps: pushing the same bundle twice
    /// gives the same manifest digest.
    pub fn for_bundle(bundle: &Bundle, archive: &[u8]) -> Self {
        let m = &bundle.manifest;
        let mut layer = Descriptor::of(LAYER_MEDIA_TYPE, archive);
        let short = m.name.rsplit('/').next().unwrap_or(&m.name);
        layer.annotations.insert(TITLE.into(), format!("{short}-{}.bundle", m.version));
        let plugins: Vec<&str> = m.components.iter().map(|c| c.plugin.as_str()).collect();
        let annotations = BTreeMap::from([
            ("dev.capstan.bundle.name".to_string(), m.name.clone()),
            ("dev.capstan.bundle.digest".to_string(), bundle.digest()),
            ("dev.capstan.bundle.plugins".to_string(), plugins.join(",")),
            ("org.opencontainers.image.version".to_string(), m.version.to_string()),
        ]);
        Self {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.into()),
            config: Descriptor::of(CONFIG_MEDIA_TYPE, bundle.manifest_bytes()),
            layers: vec![layer],
            annotations,
        }
    }

    /// The manifest as compact JSON, the bytes pushed and digested.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a manifest a registry served; a reason when it is not one.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let m: Self = serde_json::from_slice(bytes).map_err(|e| format!("not an OCI image manifest: {e}"))?;
        if m.schema_version != 2 {
            return Err(format!("manifest schemaVersion {} (expected 2)", m.schema_version));
        }
        if let Some(t) = m.media_type.as_deref().filter(|t| *t != MANIFEST_MEDIA_TYPE) {
            return Err(format!("manifest media type {t} (expected {MANIFEST_MEDIA_TYPE})"));
        }
        Ok(m)
    }

    /// The bundle layer, after checking that this manifest carries a
    /// Capstan bundle (its size is the caller's to cap).
    pub fn bundle_layer(&self) -> Result<&Descriptor, String> {
        if self.config.media_type != CONFIG_MEDIA_TYPE {
            return Err(format!(
                "not a Capstan plugin bundle (config media type {}, expected {CONFIG_MEDIA_TYPE})",
                self.config.media_type
            ));
        }
        let [layer] = self.layers.as_slice() else {
            return Err(format!(
                "a bundle artifact has exactly one layer, this one has {}",
                self.layers.len()
            ));
        };
        if layer.media_type != LAYER_MEDIA_TYPE {
            return Err(format!("layer media type {} (expected {LAYER_MEDIA_TYPE})", layer.media_type));
        }
        let hex = layer.digest.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Err(format!("layer digest {:?} is not sha256:<64 hex>", layer.digest));
        }
        Ok(layer)
    }
}
