//! The one error type of this crate. Every variant names the bundle, plugin,
//! file or source it is about, so a refusal reads as a reason, not a code.

use std::path::PathBuf;

/// Errors of every operation of this crate: opening, signing, trusting,
/// fetching, resolving, locking and pushing bundles.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A file or directory could not be read or written (the lock file, the
    /// cache, a key, a bundle in a `dir` source).
    // The cause is the source, so a report that prints the chain says it once.
    #[error("{path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The bundle is not a gzip-compressed tar, or is cut short.
    #[error("bundle {bundle}: not a readable bundle archive (truncated or corrupt): {reason}")]
    Corrupt {
        /// The bundle's label: its file, URL or OCI reference.
        bundle: String,
        /// The gzip or tar reader's error.
        reason: String,
    },
    /// The bundle is over [`crate::MAX_BUNDLE_BYTES`] compressed, or one of
    /// its entries or all of them together unpack to more than allowed; also
    /// an OCI registry's manifest or tag list over its cap.
    #[error("bundle {bundle}: larger than the {limit} byte limit")]
    TooLarge {
        /// The bundle's label (its file, URL or OCI reference), or the
        /// registry request whose answer was too large.
        bundle: String,
        /// The limit exceeded, in bytes.
        limit: u64,
    },
    /// The archive holds an entry a bundle may not: a path outside it,
    /// something other than a plain file, an unexpected name, a duplicate,
    /// or a component the manifest does not list.
    #[error("bundle {bundle}: entry {entry:?} is not allowed ({reason})")]
    UnsafeEntry {
        /// The bundle's label: its file, URL or OCI reference.
        bundle: String,
        /// The entry's path inside the archive, as written there.
        entry: String,
        /// Why it is refused, e.g. "a path outside the bundle".
        reason: &'static str,
    },
    /// `manifest.json` is missing, is not valid JSON of the manifest format,
    /// or breaks its rules (names, paths, digests); also a bundle that
    /// cannot be packed as asked, or a cache key that is not a digest.
    #[error("bundle {bundle}: invalid manifest: {reason}")]
    BadManifest {
        /// The bundle's label, `(new bundle)` while packing, or the plugin
        /// or digest the manifest was checked for.
        bundle: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// A component's bytes do not match the sha256 or size its manifest
    /// entry records: the bundle was altered after packing.
    #[error(
        "bundle {bundle}: component {component} has sha256 {actual}, the manifest says {expected} (tampered?)"
    )]
    DigestMismatch {
        /// The bundle's label: its file, URL or OCI reference.
        bundle: String,
        /// The component's plugin name, `publisher/name`.
        component: String,
        /// Lowercase hex sha256 the manifest records.
        expected: String,
        /// Lowercase hex sha256 of the bytes in the archive.
        actual: String,
    },
    /// `signature.json` is unreadable, of another format or algorithm, or
    /// holds a malformed key or signature.
    #[error("bundle {bundle}: {reason}")]
    BadSignatureFile {
        /// The bundle's label: its file, URL or OCI reference.
        bundle: String,
        /// What is wrong with the file, naming it.
        reason: String,
    },
    /// The signature does not verify against the manifest under the key it
    /// names: the manifest changed after signing, or the signature is forged.
    #[error(
        "bundle {bundle}: the signature by key {key_id} does not match the manifest (tampered or wrongly signed)"
    )]
    BadSignature {
        /// The bundle's label: its file, URL or OCI reference.
        bundle: String,
        /// The key the signature names, `ed25519:<16 hex>`.
        key_id: String,
    },
    /// The bundle has no signature and `--allow-unsigned` was not given.
    #[error(
        "plugin {plugin} ({bundle}) is not signed; sign it with `capstan plugin sign`, or pass \
         --allow-unsigned while developing a plugin"
    )]
    Unsigned {
        /// The plugin asked for, `publisher/name`.
        plugin: String,
        /// The bundle's label: its file, URL or OCI reference.
        bundle: String,
    },
    /// The signature is sound but its key is in no `trust` block of
    /// client.hcl; the operator adds the publisher's key to trust it.
    #[error(
        "plugin {plugin} ({bundle}) is signed by key {key_id}, which no `trust` block of client.hcl lists"
    )]
    UnknownSigner {
        /// The plugin asked for, `publisher/name`.
        plugin: String,
        /// The bundle's label: its file, URL or OCI reference.
        bundle: String,
        /// The signing key, `ed25519:<16 hex>`.
        key_id: String,
    },
    /// The signing key is trusted, but none of its `trust` blocks allows
    /// this plugin name.
    #[error(
        "plugin {plugin} ({bundle}) is signed by {publisher} (key {key_id}), whose trust block allows only {allowed:?}"
    )]
    UntrustedSigner {
        /// The plugin asked for, `publisher/name`.
        plugin: String,
        /// The bundle's label: its file, URL or OCI reference.
        bundle: String,
        /// The label of the first `trust` block listing the key.
        publisher: String,
        /// The signing key, `ed25519:<16 hex>`.
        key_id: String,
        /// The plugin globs of every block listing the key, e.g. `acme/*`.
        allowed: Vec<String>,
    },
    /// The bundle a source handed over for a plugin holds no component of
    /// that name.
    #[error("bundle {bundle} was fetched for plugin {requested} but does not hold it (it holds {found:?})")]
    NameMismatch {
        /// The bundle's label: its file, URL or OCI reference.
        bundle: String,
        /// The plugin asked for, `publisher/name`.
        requested: String,
        /// The plugin names the bundle does hold.
        found: Vec<String>,
    },
    /// No contract this engine hosts is compatible with the one the plugin
    /// was built against: the plugin is too new or too old for this release.
    #[error(
        "plugin {plugin} {version} was built against {pkg}@{contract}; this engine (capstan {engine}) \
         hosts {pkg} {hosted}: {advice}",
        pkg = capstan_core::CONTRACT_PACKAGE,
        engine = crate::contract::ENGINE_VERSION,
        hosted = capstan_core::HOSTED_CONTRACTS.map(|v| v.to_string()).join(" and ")
    )]
    ContractUnsupported {
        /// The plugin, `publisher/name`.
        plugin: String,
        /// The plugin's version.
        version: String,
        /// The `capstan:plugin` version it was built against, e.g. `0.3.0`.
        contract: String,
        /// Which Capstan release, or which rebuild, would run it.
        advice: String,
    },
    /// No source lists the plugin at all. [`RegistryError::is_not_found`]
    /// is true for it.
    #[error("no source offers plugin {plugin} (looked in: {looked_in})")]
    NotFound {
        /// The plugin asked for, `publisher/name`.
        plugin: String,
        /// The names of the sources asked, comma-separated.
        looked_in: String,
    },
    /// Sources offer the plugin, but no version in the range asked for.
    /// [`RegistryError::is_not_found`] is true for it.
    #[error("no version of plugin {plugin} matches {wanted} (found: {found})")]
    NoMatchingVersion {
        /// The plugin asked for, `publisher/name`.
        plugin: String,
        /// The version range asked for, e.g. `^1.2`.
        wanted: String,
        /// The versions on offer, highest first, comma-separated.
        found: String,
    },
    /// A source offers the locked version with another digest than
    /// capstan.lock records: the bundle was replaced under the same version.
    #[error(
        "plugin {plugin} {version}: {source_name} offers a bundle with digest {found}, and capstan.lock \
         records {locked} for that version; refusing a changed bundle under an existing version"
    )]
    LockedDigestMismatch {
        /// The plugin, `publisher/name`.
        plugin: String,
        /// The locked version.
        version: String,
        /// The `plugin_source` label that offers the changed bundle.
        source_name: String,
        /// The digest capstan.lock records, `sha256:…`.
        locked: String,
        /// The digest of the bundle offered, `sha256:…`.
        found: String,
    },
    /// `capstan plugin lock` would move a plugin to a version older than
    /// the locked one; only `capstan plugin upgrade` may.
    #[error(
        "plugin {plugin}: capstan.lock has {locked}; moving back to {wanted} needs \
         `capstan plugin upgrade` (rollback protection)"
    )]
    Rollback {
        /// The plugin, `publisher/name`.
        plugin: String,
        /// The version capstan.lock records.
        locked: String,
        /// The older version the range now resolves to.
        wanted: String,
    },
    /// The locked version no longer matches the component's version range
    /// (the range was edited since locking).
    #[error(
        "plugin {plugin}: capstan.lock pins {locked}, which does not match {wanted}; run `capstan plugin lock` \
         to move forward, or `capstan plugin upgrade` to move back"
    )]
    LockOutOfRange {
        /// The plugin, `publisher/name`.
        plugin: String,
        /// The version capstan.lock records.
        locked: String,
        /// The component's version range, e.g. `^2`.
        wanted: String,
    },
    /// The locked version is not in the cache and no source offers it
    /// (removed from the source, or the source is unreachable).
    #[error(
        "plugin {plugin} {version} is pinned in capstan.lock but is neither cached nor offered by any source"
    )]
    LockedUnavailable {
        /// The plugin, `publisher/name`.
        plugin: String,
        /// The locked version.
        version: String,
    },
    /// capstan.lock is not valid JSON of the lock format, or is of another
    /// format version.
    #[error("{path}: {reason}")]
    LockFile {
        /// The lock file's path.
        path: PathBuf,
        /// The parser's message, or the format found.
        reason: String,
    },
    /// A key file is not a Capstan ed25519 key of the kind expected
    /// (public `.pub` or secret `.key`), or is damaged.
    #[error("{path}: {reason}")]
    Key {
        /// The key file's path.
        path: PathBuf,
        /// What is wrong with its contents.
        reason: String,
    },
    /// A `trust` block of client.hcl is invalid: no label, an unknown
    /// setting, no key, or a key that does not parse.
    #[error("trust \"{publisher}\": {reason}")]
    Trust {
        /// The block's label; empty when the block has none.
        publisher: String,
        /// What is wrong with the block.
        reason: String,
    },
    /// A `plugin_source` failed or misbehaved: unreachable, an HTTP error,
    /// a bad `index.json` or OCI manifest, or a bundle that is not what the
    /// source listed.
    #[error("plugin source {source_name}: {reason}")]
    Source {
        /// The `plugin_source` label.
        source_name: String,
        /// What failed, usually naming the URL or file.
        reason: String,
    },
    /// The bundle blob an OCI registry served does not match the digest or
    /// size in its image manifest.
    #[error(
        "plugin source {source_name}: the bundle blob of {reference} has digest {actual}, its manifest says \
         {expected} (changed in the registry or in transit); refusing it"
    )]
    BlobDigestMismatch {
        /// The `plugin_source` label.
        source_name: String,
        /// The tag fetched, `host/repository:tag`.
        reference: String,
        /// The layer digest in the image manifest, `sha256:…`.
        expected: String,
        /// The digest of the bytes received, `sha256:…`.
        actual: String,
    },
    /// `capstan plugin push` failed: a bad target reference, a tag that does
    /// not match the bundle, or the registry refused an upload.
    #[error("push to {target}: {reason}")]
    Push {
        /// The target as given, `host[/prefix]` or a full reference.
        target: String,
        /// What failed.
        reason: String,
    },
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

/// This crate's `Result`, [`RegistryError`] by default.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
