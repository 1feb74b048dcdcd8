//! `external-secrets`: the secret store the External Secrets operator reads.
//!
//! Schema `wit/contracts/external-secrets.v1.json`; documented in
//! `docs/contracts/external-secrets.md`. The outputs name the store an
//! `ExternalSecret` refers to and what backs it, so whoever writes
//! ExternalSecrets (the render target's `external-secrets` delivery, a
//! plugin) names a store that exists. They hold no credential.

use serde::{Deserialize, Serialize};

use super::Contract;

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/external-secrets.v1.json");

/// The kinds of store an `ExternalSecret` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StoreKind {
    /// `ClusterSecretStore`: usable from every namespace its conditions allow.
    ClusterSecretStore,
    /// `SecretStore`: usable from its own namespace only.
    SecretStore,
}

impl StoreKind {
    /// The Kubernetes kind, as a `secretStoreRef` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::ClusterSecretStore => "ClusterSecretStore",
            StoreKind::SecretStore => "SecretStore",
        }
    }
}

/// Values of [`Outputs::backend`] the render target's `external-secrets`
/// delivery writes to.
pub mod backend {
    /// Vault or OpenBao, KV version 2.
    pub const VAULT: &str = "vault";
    /// AWS Secrets Manager.
    pub const AWS_SECRETS_MANAGER: &str = "aws-secrets-manager";
}

/// The store an `ExternalSecret`'s `secretStoreRef` names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreRef {
    /// `ClusterSecretStore` or `SecretStore`.
    pub kind: StoreKind,
    /// The store object's name.
    pub name: String,
}

/// The outputs of an `external-secrets` component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// The store ExternalSecrets name.
    pub store: StoreRef,
    /// What holds the values: [`backend::VAULT`], [`backend::AWS_SECRETS_MANAGER`],
    /// or another backend's own word.
    pub backend: String,
    /// How often an ExternalSecret naming the store should re-read it (a Go
    /// duration such as `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    /// Backend `vault`: the KV version 2 mount the store reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
    /// Backend `aws-secrets-manager`: the region whose Secrets Manager it reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "external-secrets";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
