//! Integration tests of the SQL effects executor against real PostgreSQL.
//! - `races`: parallel executors, and another session, creating the same objects at once.
//! - `shared`: the server on 127.0.0.1:5432 (trust auth); unique names per test, dropped at the end.
//! - `scram`: a private server this binary starts (initdb + pg_ctl) with
//!   scram-sha-256 auth and statement logging, to prove passwords really work,
//!   rotate, and never reach the server log.
//! - `tls`: sslmode disable/prefer/require/verify-ca/verify-full against the shared server.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;
mod races;
mod scram;
mod shared;
mod timeouts;
mod tls;
