//! `dapr`: Dapr components apps talk to through their sidecar.
//!
//! Schema `wit/contracts/dapr.v1.json`; documented in `docs/contracts/dapr.md`.

use serde::{Deserialize, Serialize};

use super::Contract;

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/dapr.v1.json");

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// Name of the pub/sub `Component`, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubsub: Option<String>,
    /// Name of the state store `Component`, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statestore: Option<String>,
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "dapr";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
