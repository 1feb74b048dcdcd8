//! Integration tests of capstan-config, in one binary.
//!
//! - `golden`: a realistic tree (client → staging/production → namespace →
//!   postgres, messaging, app) loaded and resolved, compared to expected JSON.
//! - `errors`: one broken tree per kind of error under `fixtures/errors/`,
//!   compared to the exact expected diagnostics (`expected.err`).
//! - `behaviour`: what users rely on beyond the fixtures: secrets never shown,
//!   reads confined to the stack root, mocks never used by apply, targets.
//! - `policies`: `policy` blocks read, tightened by an env.hcl (never
//!   loosened), matched to components; each refusal at its line and column.
//!
//! `UPDATE_EXPECT=1 cargo test -p capstan-config` rewrites the expected files;
//! review the diff before committing it.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on unexpected errors")]

mod behaviour;
mod errors;
mod golden;
mod policies;
mod support;
