//! The bundle manifest: what a bundle claims to hold. Its exact bytes are
//! what a signature covers, and its sha256 is the bundle's identity in the
//! lock file (so signing a bundle does not change what the lock pins).

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The manifest format this engine writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;

/// A bundle's `manifest.json`: who publishes it, its name and version,
/// the contract it needs, and each component's digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: u32,
    /// Who publishes it: the part of every plugin name before the `/`.
    pub publisher: String,
    /// The bundle's name, `publisher/name`.
    pub name: String,
    /// The version of the bundle and of every component in it.
    pub version: semver::Version,
    /// The `capstan:plugin` version its components were built against.
    pub contract: semver::Version,
    /// One entry per WebAssembly component, in pack order.
    pub components: Vec<ComponentEntry>,
}

/// One WebAssembly component of a bundle, as its manifest lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentEntry {
    /// The plugin name a component.hcl uses for it (`publisher/name`).
    pub plugin: String,
    /// Path inside the archive, always `components/<file>.wasm`.
    pub path: String,
    /// The component type it implements, e.g. `postgres` or `app`.
    pub component_type: String,
    /// The backend within that type, e.g. `rabbitmq`.
    pub backend: String,
    /// Lowercase hex sha256 of the component's bytes.
    pub sha256: String,
    /// The component's size in bytes, checked with the digest.
    pub size: u64,
    /// What the conformance kit made of this component when it was packed
    /// (`plugin pack --test`); absent when it was not run, and then not
    /// written, so bundles packed without it keep their bytes and digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conformance: Option<Conformance>,
}

/// The conformance kit's result for one component, as its publisher
/// recorded it at pack time. The signature covers it like the rest of the
/// manifest: it says who vouches for the result, not that this engine
/// re-ran the kit (`capstan plugin test` does that).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conformance {
    /// The component type whose kit ran.
    pub kit: String,
    /// The kit's version; absent for the generic checks of a type that has no kit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kit_version: Option<u32>,
    /// The engine version that ran it.
    pub engine: String,
    /// Whether every check passed.
    pub passed: bool,
    /// The checks that failed or could not run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
}

impl std::fmt::Display for Conformance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kit_version {
            Some(v) => write!(f, "the `{}` kit v{v}", self.kit)?,
            None => write!(f, "the generic checks of `{}`", self.kit)?,
        }
        if self.passed {
            write!(f, " passed (capstan {})", self.engine)
        } else {
            write!(f, " failed: {} (capstan {})", self.failed.join(", "), self.engine)
        }
    }
}

impl Manifest {
    /// The canonical bytes (pretty JSON, trailing newline) written into a bundle.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Every backend the bundle ships, in pack order.
    pub fn backends(&self) -> Vec<&str> {
        self.components.iter().map(|c| c.backend.as_str()).collect()
    }

    /// The entry of `plugin` (`publisher/name`), when the bundle holds it.
    pub fn component(&self, plugin: &str) -> Option<&ComponentEntry> {
        self.components.iter().find(|c| c.plugin == plugin)
    }

    /// The checks that do not need the component bytes; a reason on failure.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.format != MANIFEST_FORMAT {
            return Err(format!("format {} (this engine reads format {MANIFEST_FORMAT})", self.format));
        }
        if !valid_segment(&self.publisher) {
            return Err(format!("publisher {:?} is not a plain lowercase name", self.publisher));
        }
        let prefix = format!("{}/", self.publisher);
        for name in std::iter::once(&self.name).chain(self.components.iter().map(|c| &c.plugin)) {
            match name.strip_prefix(&prefix) {
                Some(rest) if valid_segment(rest) => {}
                _ => return Err(format!("name {name:?} is not {prefix}<name>")),
            }
        }
        if self.components.is_empty() {
            return Err("no components".into());
        }
        for (i, c) in self.components.iter().enumerate() {
            if self.components[..i].iter().any(|o| o.plugin == c.plugin || o.path == c.path) {
                return Err(format!("component {} listed twice", c.plugin));
            }
            if component_file(&c.path).is_none() {
                return Err(format!("component path {:?} is not components/<file>.wasm", c.path));
            }
            if c.sha256.len() != 64
                || !c.sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return Err(format!("component {} has no valid sha256", c.plugin));
            }
        }
        Ok(())
    }
}

/// `components/<file>.wasm` → `<file>.wasm`, for one plain file name only.
pub(crate) fn component_file(path: &str) -> Option<&str> {
    let file = path.strip_prefix("components/")?;
    let stem = file.strip_suffix(".wasm")?;
    valid_segment(stem).then_some(file)
}

/// Lowercase letters, digits, `-`, `_` and `.` (not leading): safe as a file
/// name and as an OCI repository path segment.
pub(crate) fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(['.', '-', '_'])
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
        && !s.contains("..")
}

/// `sha256:<hex>` of some bytes: how digests are written everywhere users see them.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
