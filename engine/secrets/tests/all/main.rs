//! Integration tests of capstan-secrets, one binary (run with
//! `CARGO_TARGET_DIR=target/secrets cargo test -p capstan-secrets`).
//!
//! Real things only: Debian's `age` CLI, `moto_server` (SSM, Secrets
//! Manager, IAM with signature checking) and `bao server -dev` (KV v2),
//! installed by `tests/services.sh` if missing and started per test on
//! loopback ports (see `support`). A missing tool fails the test.
//!
//! - `support`   — tool installation, servers, helpers
//! - `files`     — secrets files: set/show/edit round-trips, bad input, recipients, key backup
//! - `rotation`  — rotate-keys on a 50-file tree, with injected failures
//! - `age_cli`   — key and file interop with the `age` CLI
//! - `aws`       — `ssm:` and `secretsmanager:` against moto, including 403, unreachable
//!   and web-identity credentials
//! - `vault`     — `vault:` against OpenBao, including 403 and unreachable
//! - `redaction` — no public type or error prints a secret value
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod age_cli;
mod aws;
mod files;
mod redaction;
mod rotation;
mod support;
mod vault;
