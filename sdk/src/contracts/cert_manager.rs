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
/// [`IssuerRef::kind`] of a namespaced issuer, usable only from its own namespace.
pub const ISSUER: &str = "Issuer";

/// The issuer a Certificate or an ingress annotation names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerRef {
    /// `ClusterIssuer` or `Issuer`.
    pub kind: String,
    /// Name of the issuer object, e.g. `letsencrypt-prod`.
    pub name: String,
}

/// The outputs of a `cert-manager` component: who issues certificates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// The issuer app ingresses and Certificates name.
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
