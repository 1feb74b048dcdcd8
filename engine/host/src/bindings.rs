//! Host bindings of the `plugin` world, generated from `wit/`: the current
//! contract, the frozen 0.1 one (`wit/v0.1/`) in [`v0_1`], and the
//! `policy-plugin` world (since 0.2) in [`policy`]. Only this
//! crate sees these types; the rest of the engine uses `capstan_core`'s (see
//! `convert.rs`).
//!
//! Both derive serde: a 0.1 plugin's values are carried into the current
//! types by name (`upgrade`), which is what a minor version promises — every
//! 0.1 value is a 0.2 value with the same names.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "plugin",
    additional_derives: [serde::Serialize, serde::Deserialize],
});

pub(crate) use capstan::plugin::{effects, log, types};
pub(crate) use exports::capstan::plugin::handler;

/// The `policy-plugin` world: the same `types` and `log` as the `plugin`
/// world (shared, so one `log` host implementation serves both), and the
/// `policy` export.
pub(crate) mod policy {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "policy-plugin",
        with: {
            "capstan:plugin/types": crate::bindings::capstan::plugin::types,
            "capstan:plugin/log": crate::bindings::capstan::plugin::log,
        },
    });

    pub(crate) use exports::capstan::plugin::policy;
}

/// The `capstan:plugin@0.1.0` bindings.
pub(crate) mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1",
        world: "plugin",
        additional_derives: [serde::Serialize, serde::Deserialize],
    });

    pub(crate) use capstan::plugin::{effects, log, types};
    pub(crate) use exports::capstan::plugin::handler;
}
