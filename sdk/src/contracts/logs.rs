//! `logs`: the log collector.
//!
//! Schema `wit/contracts/logs.v1.json`; documented in `docs/contracts/logs.md`.

use serde::{Deserialize, Serialize};

use super::Contract;

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/logs.v1.json");

/// The outputs of a `logs` component: where logs go and how to query them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// Where apps may push logs directly (most just write to stdout).
    pub collector_endpoint: String,
    /// The labels every record carries (`namespace`, `app`, …), for queries.
    #[serde(default)]
    pub labels: Vec<String>,
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "logs";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
