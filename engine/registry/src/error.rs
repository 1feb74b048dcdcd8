//! The one error type of this crate. Every variant names the bundle, plugin,
//! file or source it is about, so a refusal reads as a reason, not a code.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    // The cause is the source, so a report that prints the chain says it once.
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("bundle {bundle}: not a readable bundle archive (truncated or corrupt): {reason}")]
    Corrupt { bundle: String, reason: String },
    #[error("bundle {bundle}: larger than the {limit} byte limit")]
    TooLarge { bundle: String, limit: u64 },
    #[error("bundle {bundle}: entry {entry:?} is not allowed ({reason})")]
    UnsafeEntry { bundle: String, entry: String, reason: &'static str },
    #[error("bundle {bundle}: invalid manifest: {reason}")]
    BadManifest { bundle: String, reason: String },
    #[error(
        "bundle {bundle}: component {component} has sha256 {actual}, the manifest says {expected} (tampered?)"
    )]
    DigestMismatch { bundle: String, component: String, expected: String, actual: String },
    #[error("bundle {bundle}: {reason}")]
    BadSignatureFile { bundle: String, reason: String },
    #[error(
        "bundle {bundle}: the signature by key {key_id} does not match the manifest (tampered or wrongly signed)"
    )]
    BadSignature { bundle: String, key_id: String },
    #[error(
        "plugin {plugin} ({bundle}) is not signed; sign it with `capstan plugin sign`, or pass \
         --allow-unsigned while developing a plugin"
    )]
    Unsigned { plugin: String, bundle: String },
    #[error(
        "plugin {plugin} ({bundle}) is signed by key {key_id}, which no `trust` block of client.hcl lists"
    )]
    UnknownSigner { plugin: String, bundle: String, key_id: String },
    #[error(
        "plugin {plugin} ({bundle}) is signed by {publisher} (key {key_id}), whose trust block allows only {allowed:?}"
    )]
    UntrustedSigner {
        plugin: String,
        bundle: String,
        publisher: String,
        key_id: String,
        allowed: Vec<String>,
    },
    #[error("bundle {bundle} was fetched for plugin {requested} but does not hold it (it holds {found:?})")]
    NameMismatch { bundle: String, requested: String, found: Vec<String> },
    #[error(
        "plugin {plugin} {version} was built against {pkg}@{contract}; this engine (capstan {engine}) \
         hosts {pkg} {hosted}: {advice}",
        pkg = capstan_core::CONTRACT_PACKAGE,
        engine = crate::contract::ENGINE_VERSION,
        hosted = capstan_core::HOSTED_CONTRACTS.map(|v| v.to_string()).join(" and ")
    )]
    ContractUnsupported { plugin: String, version: String, contract: String, advice: String },
    #[error("no source offers plugin {plugin} (looked in: {looked_in})")]
    NotFound { plugin: String, looked_in: String },
    #[error("no version of plugin {plugin} matches {wanted} (found: {found})")]
    NoMatchingVersion { plugin: String, wanted: String, found: String },
    #[error(
        "plugin {plugin} {version}: {source_name} offers a bundle with digest {found}, and capstan.lock \
         records {locked} for that version; refusing a changed bundle under an existing version"
    )]
    LockedDigestMismatch {
        plugin: String,
        version: String,
        source_name: String,
        locked: String,
        found: String,
    },
    #[error(
        "plugin {plugin}: capstan.lock has {locked}; moving back to {wanted} needs \
         `capstan plugin upgrade` (rollback protection)"
    )]
    Rollback { plugin: String, locked: String, wanted: String },
    #[error(
        "plugin {plugin}: capstan.lock pins {locked}, which does not match {wanted}; run `capstan plugin lock` \
         to move forward, or `capstan plugin upgrade` to move back"
    )]
    LockOutOfRange { plugin: String, locked: String, wanted: String },
    #[error(
        "plugin {plugin} {version} is pinned in capstan.lock but is neither cached nor offered by any source"
    )]
    LockedUnavailable { plugin: String, version: String },
    #[error("{path}: {reason}")]
    LockFile { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("trust \"{publisher}\": {reason}")]
    Trust { publisher: String, reason: String },
    #[error("plugin source {source_name}: {reason}")]
    Source { source_name: String, reason: String },
    #[error(
        "plugin source {source_name}: the bundle blob of {reference} has digest {actual}, its manifest says \
         {expected} (changed in the registry or in transit); refusing it"
    )]
    BlobDigestMismatch { source_name: String, reference: String, expected: String, actual: String },
    #[error("push to {target}: {reason}")]
    Push { target: String, reason: String },
}

impl RegistryError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// Whether the error only says "not here", so another place may be tried
    /// (as opposed to a refusal, which must stop resolution).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. } | Self::NoMatchingVersion { .. })
    }
}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
