//! Tests of plugin distribution without the engine: bundles are built from
//! stand-in component bytes (this crate never runs them; the CLI's tests run
//! real plugins from bundles), sources are real directories and a real HTTP
//! server (`python3 -m http.server`) and a real OCI registry on loopback.
//!
//! Modules:
//! - `bundle`: pack/open round trip and every malformed archive refused.
//! - `signing`: keygen, sign, verify; wrong and tampered signatures.
//! - `trust`: the trust policy from client.hcl-shaped settings.
//! - `resolve`: version ranges across a dir and an HTTP index, lock pinning,
//!   rollback refusal, changed digests, contract versions, offline cache.
//! - `oci`: push to and resolve from a real registry (docker-registry on
//!   loopback): the artifact's shape, ranges across a dir and a registry,
//!   several plugins per bundle, a changed blob, missing repositories and
//!   tags, foreign artifacts, oversized layers, basic-auth and token-auth
//!   registries, references.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod bundle;
mod oci;
mod resolve;
mod signing;
mod support;
mod trust;
