//! `dapr`: Dapr components apps talk to through their sidecar.
//!
//! Schema `wit/contracts/dapr.v1.json`; documented in `docs/contracts/dapr.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Contract;

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/dapr.v1.json");

/// The outputs of a `dapr` component: the Dapr components apps use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// Name of the pub/sub `Component` every app shares, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubsub: Option<String>,
    /// App id → the name of that app's own pub/sub `Component`, when each
    /// app connects to the broker as its own user.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pubsub_by_app: BTreeMap<String, String>,
    /// Name of the state store `Component`, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statestore: Option<String>,
    /// What a client must be allowed to reach (NetworkPolicies); empty:
    /// not said, and a client with a default-deny policy cannot reach it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<super::NetworkPeer>,
}

impl Outputs {
    /// The pub/sub Component app `app_id` publishes and subscribes through.
    pub fn pubsub_for(&self, app_id: &str) -> Option<&str> {
        self.pubsub_by_app.get(app_id).or(self.pubsub.as_ref()).map(String::as_str)
    }
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "dapr";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
