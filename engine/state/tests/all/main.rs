//! Integration tests of capstan-state. One binary; modules:
//! - `errored`: errored-state files (private, never overwritten) and `push`'s lineage and serial checks
//! - `local`: the file backend (atomic writes, journal, crash by SIGKILL, locks)
//! - `postgres`: the PostgreSQL backend against the real server on 127.0.0.1:5432
//! - `revisions`: revisions numbered, bounded and read back, in both backends
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;
mod errored;
mod local;
mod postgres;
mod revisions;
