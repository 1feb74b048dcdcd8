//! Which plugin serves a component, by one rule, in this order:
//!
//! 1. **lock**: a plugin capstan.lock records comes from exactly that bundle;
//! 2. **pin**: a version an env.hcl pins is resolved from the sources and
//!    locked as a pin;
//! 3. **built-in**: otherwise a built-in plugin whose version matches is used
//!    as is (built-ins are trusted as part of the engine and need no network);
//! 4. **bundle**: otherwise the plugin sources are asked for the highest
//!    matching version, checked (integrity, signer trust, contract) by
//!    capstan-registry and locked;
//! 5. **local build**: a component whose env.hcl pins its plugin to `local`
//!    skips all of the above and runs the repository's own build.
//!
//! Loose `.wasm` files in plugin directories join the built-ins only when
//! unsigned code is allowed. This module loads plugins; it does not plan
//! with them, and it does not fetch anything the registry would not.

mod catalog;
mod handle;
mod local_build;

pub use catalog::{Builtins, Bundled, Catalog, Entry, Lookup, Origin, plugins_wanted, sources_of};
pub use handle::HostPlugin;
pub use local_build::LocalBuilds;
pub(crate) use local_build::route as route_local_pins;
