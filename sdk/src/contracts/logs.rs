//! `logs`: the log collector.
//!
//! Schema `wit/contracts/logs.v1.json`; documented in `docs/contracts/logs.md`.

use serde::{Deserialize, Serialize};

use super::{Contract, NetworkPeer, SecretKeyRef};

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/logs.v1.json");

/// The outputs of a `logs` component: where logs go and how to query them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// Where apps may push logs directly (most just write to stdout):
    /// `tls://host:port` for a collector that accepts TLS only (verify it
    /// with [`Outputs::ca_secret`]), `tcp://host:port` for plaintext, empty
    /// when the collector takes no pushed logs.
    pub collector_endpoint: String,
    /// The labels every record carries (`namespace`, `app`, …), for queries.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The PEM CA certificate that signed the collector's certificate, for
    /// clients of a `tls://` endpoint to verify it with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret: Option<SecretKeyRef>,
    /// What a client pushing logs must be allowed to reach
    /// (NetworkPolicies); empty: not said, and a client with a default-deny
    /// policy cannot reach it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<NetworkPeer>,
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "logs";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
