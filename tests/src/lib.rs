//! Support for Capstan's end-to-end tests: where the wasm built by
//! `build.rs` from `tests/guests/*` and `plugins/*` is.

#![allow(clippy::unwrap_used, reason = "test support: a missing artifact is a broken test build")]

use std::path::Path;

mod wasm {
    include!(concat!(env!("OUT_DIR"), "/wasm.rs"));
}

/// The `.wasm` of the test guest `tests/guests/<name>`.
pub fn guest(name: &str) -> &'static Path {
    lookup(wasm::GUESTS, name, "test guest (add it to GUESTS in tests/build.rs)")
}

/// The `.wasm` of the built-in plugin package `name` (such as `capstan-plugin-app`).
pub fn plugin(name: &str) -> &'static Path {
    lookup(wasm::PLUGINS, name, "built-in plugin under plugins/")
}

fn lookup(table: &'static [(&str, &str)], name: &str, what: &str) -> &'static Path {
    let found = table.iter().find(|(n, _)| *n == name).map(|(_, p)| Path::new(*p));
    found.unwrap_or_else(|| {
        let known: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        panic!("no {what} named {name:?}; known: {known:?}")
    })
}
