//! Capstan's end-to-end tests, in one binary (one link; one place to see what
//! is covered). Each module tests one part through its public interface,
//! against real wasm built from source by `tests/build.rs`.
//!
//! Modules:
//! - `host`: the plugin host (`capstan-host`) against hostile guests
//!   (`tests/guests/*`): time, memory and stack limits, filesystem denial,
//!   output caps, sleeping, panics, contract violations and versions, and the
//!   compiled-plugin cache; after each, the same host still plans a
//!   well-behaved guest.
//! - `leaks`: the real engine (capstan-run) on a stack of `leaky` guests, one
//!   component per channel a plugin could leak a sensitive value through.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

mod host;
mod leaks;
