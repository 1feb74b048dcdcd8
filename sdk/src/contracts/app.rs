//! `app`: a service other apps may call.
//!
//! Schema `wit/contracts/app.v1.json`; documented in `docs/contracts/app.md`.

use serde::{Deserialize, Serialize};

use super::Contract;

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/app.v1.json");

/// The outputs of an `app` component: how other apps and people reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// `http://name.namespace.svc.cluster.local:port`, when it listens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_url: Option<String>,
    /// `https://host/path`, when it has an ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// What a client must be allowed to reach (NetworkPolicies); empty:
    /// not said, and a client with a default-deny policy cannot reach it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<super::NetworkPeer>,
    /// `<app id>.<namespace>`, when the app runs with a Dapr sidecar: the
    /// name Dapr service invocation reaches it by from any namespace. A
    /// caller with a sidecar of its own goes through it, so the call
    /// travels between the two sidecars over their mutual TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dapr_invoke_id: Option<String>,
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "app";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
