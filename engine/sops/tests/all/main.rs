//! capstan-sops's integration tests: one binary, one module per concern.
//!
//! - `roundtrip`: the crate reads back what it writes, refuses altered
//!   documents and wrong identities, keeps secrets out of messages, and
//!   tells a re-render when a file already holds a manifest.
//! - `sops_age`: the npm package sops-age decrypts every document.
//! - `sops_cli`: the real sops CLI decrypts (MAC checked), also as Flux's
//!   kustomize-controller feeds it a built resource (JSON, sorted keys, an
//!   added label, MAC unchecked), and writes the same layout; the age CLI
//!   opens the data key; the generated `.sops.yaml` drives sops.
//!
//! `tests/setup.sh` installs node's sops-age, sops and age; a missing tool
//! fails the test with that hint rather than skipping it.

mod roundtrip;
mod sops_age;
mod sops_cli;
mod support;
