//! The bundle archive: a gzip-compressed tar holding `manifest.json`,
//! `components/<file>.wasm` for each component, and `signature.json` once
//! signed. Opening a bundle checks everything that does not need a key:
//! size limits, entry names, the manifest, and every component's digest.

use std::collections::BTreeMap;
use std::io::Read as _;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::error::{RegistryError, Result};
use crate::manifest::{ComponentEntry, MANIFEST_FORMAT, Manifest, component_file, sha256_digest, sha256_hex};
use crate::signature::SignatureFile;

/// The largest bundle file accepted, compressed. A Rust plugin is ~200 KB and
/// a Python one ~20 MB; anything far beyond is a mistake or an attack.
pub const MAX_BUNDLE_BYTES: u64 = 64 << 20;
/// The most a bundle may unpack to, so a small archive cannot inflate
/// without bound (a decompression bomb).
pub const MAX_UNPACKED_BYTES: u64 = 256 << 20;
/// Manifest and signature are small JSON documents.
const MAX_METADATA_BYTES: u64 = 1 << 20;

const MANIFEST_ENTRY: &str = "manifest.json";
const SIGNATURE_ENTRY: &str = "signature.json";

/// One component handed to [`Bundle::pack`].
#[derive(Clone, Debug)]
pub struct PackComponent {
    /// `publisher/name`, as component.hcl files will ask for it.
    pub plugin: String,
    /// The plugin's version; every component of one bundle has the same.
    pub version: semver::Version,
    /// The component type it implements, e.g. `postgres` or `app`.
    pub component_type: String,
    /// The backend within that type, e.g. `rabbitmq`.
    pub backend: String,
    /// The WebAssembly component's bytes.
    pub wasm: Vec<u8>,
    /// The conformance kit's result, when it was run before packing.
    pub conformance: Option<crate::Conformance>,
}

/// An opened (or freshly packed) bundle, already checked for integrity.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// What the bundle is called in messages (its file, URL or reference).
    pub label: String,
    /// What the bundle holds, as its `manifest.json` says;
    /// [`Bundle::manifest_bytes`] are that file's exact bytes.
    pub manifest: Manifest,
    manifest_bytes: Vec<u8>,
    components: BTreeMap<String, Vec<u8>>,
    /// The parsed `signature.json`, not yet verified (see
    /// [`crate::verified_signer`]); `None` when unsigned.
    pub signature: Option<SignatureFile>,
}

impl Bundle {
    /// Builds a bundle of `components`, which must all carry the same version.
    /// `name` is the bundle's name; it defaults to the only component's.
    pub fn pack(
        publisher: &str,
        name: Option<&str>,
        contract: semver::Version,
        components: Vec<PackComponent>,
    ) -> Result<Self> {
        let label = "(new bundle)".to_string();
        let bad = |reason: String| RegistryError::BadManifest { bundle: label.clone(), reason };
        let first = components.first().ok_or_else(|| bad("no components given".into()))?;
        let version = first.version.clone();
        if let Some(other) = components.iter().find(|c| c.version != version) {
            return Err(bad(format!(
                "components disagree on the version: {} is {}, {} is {}",
                first.plugin, version, other.plugin, other.version
            )));
        }
        let name = match (name, components.as_slice()) {
            (Some(n), _) => n.to_string(),
            (None, [only]) => only.plugin.clone(),
            (None, _) => return Err(bad("a bundle of several components needs a name (--name)".into())),
        };
        let mut entries = Vec::new();
        let mut files = BTreeMap::new();
        for c in components {
            let short = c.plugin.rsplit('/').next().unwrap_or(&c.plugin).to_string();
            let path = format!("components/{short}.wasm");
            entries.push(ComponentEntry {
                plugin: c.plugin,
                path: path.clone(),
                component_type: c.component_type,
                backend: c.backend,
                sha256: sha256_hex(&c.wasm),
                size: c.wasm.len() as u64,
                conformance: c.conformance,
            });
            files.insert(path, c.wasm);
        }
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            publisher: publisher.to_string(),
            name,
            version,
            contract,
            components: entries,
        };
        manifest.check().map_err(bad)?;
        let manifest_bytes = manifest.to_bytes();
        Ok(Self { label, manifest, manifest_bytes, components: files, signature: None })
    }

    /// Reads and checks a bundle. `label` names it in every error.
    pub fn open(label: &str, bytes: &[u8]) -> Result<Self> {
        let label = label.to_string();
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(RegistryError::TooLarge { bundle: label, limit: MAX_BUNDLE_BYTES });
        }
        let raw = read_entries(&label, bytes)?;
        let manifest_bytes = raw.get(MANIFEST_ENTRY).cloned().ok_or_else(|| RegistryError::BadManifest {
            bundle: label.clone(),
            reason: "no manifest.json".into(),
        })?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| RegistryError::BadManifest { bundle: label.clone(), reason: e.to_string() })?;
        manifest.check().map_err(|reason| RegistryError::BadManifest { bundle: label.clone(), reason })?;
        let signature = match raw.get(SIGNATURE_ENTRY) {
            Some(b) => Some(SignatureFile::parse(&label, b)?),
            None => None,
        };
        let mut components = BTreeMap::new();
        for entry in &manifest.components {
            let wasm = raw.get(&entry.path).ok_or_else(|| RegistryError::BadManifest {
                bundle: label.clone(),
                reason: format!("component {} ({}) is missing from the archive", entry.plugin, entry.path),
            })?;
            let actual = sha256_hex(wasm);
            if actual != entry.sha256 || wasm.len() as u64 != entry.size {
                return Err(RegistryError::DigestMismatch {
                    bundle: label,
                    component: entry.plugin.clone(),
                    expected: entry.sha256.clone(),
                    actual,
                });
            }
            components.insert(entry.path.clone(), wasm.clone());
        }
        if let Some(extra) =
            raw.keys().find(|k| *k != MANIFEST_ENTRY && *k != SIGNATURE_ENTRY && !components.contains_key(*k))
        {
            return Err(RegistryError::UnsafeEntry {
                bundle: label,
                entry: extra.clone(),
                reason: "not listed in the manifest",
            });
        }
        Ok(Self { label, manifest, manifest_bytes, components, signature })
    }

    /// The exact manifest bytes, as signed.
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    /// `sha256:…` of the manifest: the bundle's identity. It covers every
    /// component digest, and not the signature, so signing keeps it.
    pub fn digest(&self) -> String {
        sha256_digest(&self.manifest_bytes)
    }

    /// The component bytes of `plugin`, when the bundle holds it.
    pub fn wasm(&self, plugin: &str) -> Option<&[u8]> {
        let entry = self.manifest.component(plugin)?;
        self.components.get(&entry.path).map(Vec::as_slice)
    }

    /// The archive bytes. Entries are written in a fixed order with fixed
    /// metadata, so packing the same inputs gives the same bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let io =
            |e: std::io::Error| RegistryError::Corrupt { bundle: self.label.clone(), reason: e.to_string() };
        let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::best()));
        append(&mut tar, MANIFEST_ENTRY, &self.manifest_bytes).map_err(io)?;
        for entry in &self.manifest.components {
            let wasm = self.components.get(&entry.path).map(Vec::as_slice).unwrap_or_default();
            append(&mut tar, &entry.path, wasm).map_err(io)?;
        }
        if let Some(sig) = &self.signature {
            append(&mut tar, SIGNATURE_ENTRY, &sig.to_bytes()).map_err(io)?;
        }
        tar.into_inner().and_then(GzEncoder::finish).map_err(io)
    }
}

fn append<W: std::io::Write>(tar: &mut tar::Builder<W>, path: &str, data: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    tar.append_data(&mut header, path, data)
}

/// Every entry of the archive by name, refusing anything but plain files
/// with the names a bundle may hold.
fn read_entries(label: &str, bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let corrupt =
        |e: std::io::Error| RegistryError::Corrupt { bundle: label.to_string(), reason: e.to_string() };
    // One byte over the cap tells "exactly at the limit" from "beyond it".
    let unpacked = GzDecoder::new(bytes).take(MAX_UNPACKED_BYTES + 1);
    let mut archive = tar::Archive::new(unpacked);
    let mut out = BTreeMap::new();
    let mut total: u64 = 0;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let refuse =
            |reason| RegistryError::UnsafeEntry { bundle: label.to_string(), entry: name.clone(), reason };
        if name.starts_with('/') || name.split(['/', '\\']).any(|seg| seg == "..") {
            return Err(refuse("a path outside the bundle"));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(refuse("not a plain file"));
        }
        let limit = if name == MANIFEST_ENTRY || name == SIGNATURE_ENTRY {
            MAX_METADATA_BYTES
        } else if component_file(&name).is_some() {
            MAX_UNPACKED_BYTES
        } else {
            return Err(refuse("not manifest.json, signature.json or components/<file>.wasm"));
        };
        let size = entry.header().size().map_err(corrupt)?;
        total = total.saturating_add(size);
        if size > limit || total > MAX_UNPACKED_BYTES {
            return Err(RegistryError::TooLarge {
                bundle: label.to_string(),
                limit: limit.min(MAX_UNPACKED_BYTES),
            });
        }
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        entry.read_to_end(&mut data).map_err(corrupt)?;
        if data.len() as u64 != size {
            return Err(corrupt(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "entry cut short")));
        }
        if out.insert(name.clone(), data).is_some() {
            return Err(refuse("appears twice"));
        }
    }
    // A gzip stream cut at a tar block boundary still yields whole entries;
    // draining the rest surfaces the missing end of the stream.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(corrupt)?;
    if rest.limit() == 0 {
        return Err(RegistryError::TooLarge { bundle: label.to_string(), limit: MAX_UNPACKED_BYTES });
    }
    Ok(out)
}
