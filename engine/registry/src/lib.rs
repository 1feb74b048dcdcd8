//! Plugin distribution: bundles, signatures, sources, the trust policy and
//! the lock file.
//!
//! A **bundle** is an archive of a manifest and one or more WebAssembly
//! components ([`Bundle`]); a publisher signs its manifest with ed25519
//! ([`sign`]); client.hcl says which keys may sign which plugin names
//! ([`TrustPolicy`]) and where bundles come from ([`Source`]: a directory,
//! an HTTP index or an OCI registry, which [`oci::push`] publishes to); the [`Resolver`] picks a version, checks the bundle and
//! records it in `capstan.lock` ([`LockFile`]); accepted bundles are kept in
//! the stack's cache ([`BundleCache`]) so locked runs need no network.
//!
//! This crate does not run plugins or know wasmtime: it hands over checked
//! component bytes, and the host loads them. It does not know the built-in
//! plugins either; those ship inside the engine binary and are the CLI's.

mod bundle;
mod cache;
mod contract;
mod error;
mod fsutil;
mod lock;
mod manifest;
mod net;
pub mod oci;
mod resolve;
mod signature;
mod source;
mod trust;

#[cfg(feature = "test-registry")]
pub mod testing;

pub use bundle::{Bundle, MAX_BUNDLE_BYTES, MAX_UNPACKED_BYTES, PackComponent};
pub use cache::BundleCache;
pub use contract::{ENGINE_VERSION, check_contract};
pub use error::{RegistryError, Result};
pub use fsutil::write_atomic;
pub use lock::{LOCK_FILE, LockEntry, LockFile};
pub use manifest::{ComponentEntry, Conformance, MANIFEST_FORMAT, Manifest, sha256_digest};
pub use resolve::{LockMode, Resolved, Resolver};
pub use signature::{PublicKey, SIGNATURE_FORMAT, SecretKey, SignatureFile, sign, verified_signer};
pub use source::{DirSource, HttpSource, INDEX_FILE, Index, IndexEntry, OciSource, Offer, Source};
pub use trust::{Signer, TrustPolicy, TrustRule, glob_match};
