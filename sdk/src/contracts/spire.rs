//! `spire`: a SPIRE deployment that gives workloads SPIFFE identities.
//!
//! Schema `wit/contracts/spire.v1.json`; documented for consumers in
//! `docs/contracts/spire.md`. The outputs say which trust domain the
//! identities are in, where the SPIRE server is (for agents), where each
//! node's Workload API socket is and how a pod mounts it, the SPIFFE ID
//! each registered app is issued (and the namespace and ServiceAccount of
//! the pods it is issued to), and, when the OIDC discovery provider
//! runs, the URLs a relying party (Vault's JWT auth) verifies JWT-SVIDs
//! with. They hold no key or token: a workload proves itself to the agent
//! on its node and gets its SVIDs over the socket.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Contract, NetworkPeer};

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/spire.v1.json");

/// The environment variable the SPIFFE libraries (go-spiffe, java-spiffe,
/// py-spiffe, spiffe-helper) read the Workload API address from; its value
/// is [`WorkloadApiSocket::endpoint`].
pub const ENDPOINT_ENV: &str = "SPIFFE_ENDPOINT_SOCKET";

/// How a pod mounts the directory that holds the Workload API socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SocketVolume {
    /// A `hostPath` volume of [`WorkloadApiSocket::host_path`], read-only.
    HostPath,
    /// An ephemeral CSI volume of [`WorkloadApiSocket::csi_driver`] (the
    /// SPIFFE CSI driver), read-only.
    Csi,
}

/// The Workload API socket of the agent on each node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadApiSocket {
    /// How a pod mounts the socket's directory.
    pub volume: SocketVolume,
    /// With [`SocketVolume::HostPath`]: the directory on every node that
    /// holds the socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    /// With [`SocketVolume::Csi`]: the CSI driver, such as `csi.spiffe.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csi_driver: Option<String>,
    /// Where a container mounts that directory, such as `/spiffe-workload-api`.
    pub mount_path: String,
    /// The socket inside such a container, such as
    /// `/spiffe-workload-api/spire-agent.sock`.
    pub socket_path: String,
    /// `unix://` and [`Self::socket_path`]: the value of [`ENDPOINT_ENV`].
    pub endpoint: String,
}

impl WorkloadApiSocket {
    /// The pod volume named `name` that holds the socket's directory,
    /// read-only, for a pod spec's `volumes`; `None` when the outputs lack
    /// what the volume kind needs (a host path, a driver).
    pub fn pod_volume(&self, name: &str) -> Option<Value> {
        match self.volume {
            SocketVolume::HostPath => self
                .host_path
                .as_ref()
                .map(|path| json!({ "name": name, "hostPath": { "path": path, "type": "Directory" } })),
            SocketVolume::Csi => self
                .csi_driver
                .as_ref()
                .map(|driver| json!({ "name": name, "csi": { "driver": driver, "readOnly": true } })),
        }
    }
}

/// The identity one registered app's pods are issued, and which pods those are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppIdentity {
    /// `spiffe://<trust domain>/<path>`.
    pub spiffe_id: String,
    /// The namespace of the pods the registration selects; `None` from a
    /// backend that does not say it (see [`Self::pods_namespace`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The ServiceAccount of those pods: the one an app's pods must run as
    /// to be issued [`Self::spiffe_id`]; `None` from a backend that does not
    /// say it (see [`Self::pods_service_account`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
}

impl AppIdentity {
    /// An identity that says nothing of the pods it is for.
    pub fn new(spiffe_id: impl Into<String>) -> Self {
        Self { spiffe_id: spiffe_id.into(), namespace: None, service_account: None }
    }

    /// The namespace of the pods the registration selects: [`Self::namespace`],
    /// else the one the SPIFFE ID names when it has the Kubernetes form
    /// (see [`kubernetes_path`]), as a backend older than the field issues it.
    pub fn pods_namespace(&self) -> Option<&str> {
        self.namespace.as_deref().or_else(|| kubernetes_path(&self.spiffe_id).map(|(ns, _)| ns))
    }

    /// The ServiceAccount of those pods: [`Self::service_account`], else the
    /// one a SPIFFE ID of the Kubernetes form names.
    pub fn pods_service_account(&self) -> Option<&str> {
        self.service_account.as_deref().or_else(|| kubernetes_path(&self.spiffe_id).map(|(_, sa)| sa))
    }
}

/// The namespace and ServiceAccount a SPIFFE ID names when it has the form
/// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>` (SPIRE's
/// and Istio's convention, and what `capstan/spire` issues); `None` for an
/// ID of any other form, which names no pods.
pub fn kubernetes_path(spiffe_id: &str) -> Option<(&str, &str)> {
    let (_, path) = spiffe_id.strip_prefix("spiffe://")?.split_once('/')?;
    let mut parts = path.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("ns"), Some(ns), Some("sa"), Some(sa), None) if !ns.is_empty() && !sa.is_empty() => {
            Some((ns, sa))
        }
        _ => None,
    }
}

/// The outputs of a `spire` component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// The SPIFFE trust domain, such as `dev.example`.
    pub trust_domain: String,
    /// `host:port` of the SPIRE server's gRPC API (for agents).
    pub server_address: String,
    /// The Workload API socket on every node, and how a pod mounts it.
    pub workload_api_socket: WorkloadApiSocket,
    /// Base URL of the OIDC discovery provider, when it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_discovery_url: Option<String>,
    /// The JWKS the OIDC discovery provider serves, when it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// The `iss` of every JWT-SVID, when the server sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_issuer: Option<String>,
    /// The SPIFFE ID of each registered app and the pods it is for, keyed
    /// by app (component) name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, AppIdentity>,
    /// What a client must be allowed to reach (NetworkPolicies); the
    /// Workload API is a Unix socket on the node and is not in it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<NetworkPeer>,
}

impl Outputs {
    /// The SPIFFE ID the pods of app `app` are issued, if it is registered.
    pub fn spiffe_id_for(&self, app: &str) -> Option<&str> {
        self.apps.get(app).map(|a| a.spiffe_id.as_str())
    }
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "spire";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
