//! Host bindings of the `plugin` world, generated from `wit/`. Only this
//! crate sees these types; the rest of the engine uses `capstan_core`'s (see
//! `convert.rs`).

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "plugin",
});

pub(crate) use capstan::plugin::{effects, log, types};
pub(crate) use exports::capstan::plugin::handler;
