//! `cert-manager`: who issues certificates.
//!
//! Schema `wit/contracts/cert-manager.v1.json`; documented in
//! `docs/contracts/cert-manager.md`.

use serde::{Deserialize, Serialize};

use super::{Contract, SecretKeyRef};

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/cert-manager.v1.json");

/// Values of [`IssuerRef::kind`].
pub const CLUSTER_ISSUER: &str = "ClusterIssuer";
pub const ISSUER: &str = "Issuer";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerRef {
    /// `ClusterIssuer` or `Issuer`.
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    pub issuer: IssuerRef,
    /// The CA certificate(s) that issued, for clients and mTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle_secret: Option<SecretKeyRef>,
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "cert-manager";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
