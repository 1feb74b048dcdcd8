//! `waf`: the web application firewall in front of ingresses.
//!
//! Schema `wit/contracts/waf.v1.json`; documented in `docs/contracts/waf.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Contract, SecretRef};

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/waf.v1.json");

/// The outputs of a `waf` component: what an app ingress must carry to sit behind it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// The `ingressClassName` app ingresses must use.
    pub ingress_class: String,
    /// Annotations app ingresses must carry (ModSecurity, mTLS, …).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The CA bundle client certificates are verified against, when mTLS is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls_ca_secret: Option<SecretRef>,
    /// The pods that forward outside traffic to app ingresses (the ingress
    /// controller), which an app's NetworkPolicy lets in on its port. Empty:
    /// the traffic comes from outside the cluster (a cloud load balancer),
    /// so the app's port is open to every address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_from: Vec<super::NetworkPeer>,
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "waf";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
