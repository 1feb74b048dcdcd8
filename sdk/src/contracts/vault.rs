//! `vault`: a Vault or OpenBao server and what each app may do on it.
//!
//! Schema `wit/contracts/vault.v1.json`; documented for consumers in
//! `docs/contracts/vault.md`. The outputs say where the server is, where
//! its secrets engines and auth methods are mounted (and the audience a JWT
//! logging in must carry), and per app the policy, roles and SPIFFE ID it
//! logs in and works with, and the namespace and ServiceAccount its pods
//! run as. They hold no token, key or password: an app logs in with its own
//! identity (its ServiceAccount token or a JWT-SVID) and Vault hands it
//! what its policy allows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Contract, NetworkPeer};

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/vault.v1.json");

/// Where the secrets engines an app may use are mounted (paths without
/// slashes at either end, such as `pki`); each is absent when the
/// component does not configure that engine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mounts {
    /// The PKI engine the apps' certificates come from (an intermediate
    /// CA's, when the backend has one): certificates are issued at
    /// `<pki>/issue/<role>`, and CSRs of a key the app keeps signed at
    /// `<pki>/sign/<role>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pki: Option<String>,
    /// The database engine: credentials are read at `<database>/creds/<role>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The KV version 2 engine: an app reads `<kv>/data/<environment>/<app>/…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv: Option<String>,
}

impl Mounts {
    /// No engine is configured.
    pub fn is_empty(&self) -> bool {
        self.pki.is_none() && self.database.is_none() && self.kv.is_none()
    }
}

/// Where the auth methods apps log in with are enabled (`auth/<path>`);
/// each is absent when the component does not configure it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthMethods {
    /// Kubernetes auth: a pod logs in at `auth/<path>/login` with its
    /// ServiceAccount token and its `kubernetes_role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<String>,
    /// JWT auth: a workload logs in at `auth/<path>/login` with a JWT (a
    /// SPIFFE JWT-SVID) and its `jwt_role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<String>,
    /// With [`Self::jwt`]: the audience (`aud`) every JWT must carry to log
    /// in there, so the one a workload asks SPIRE to issue its JWT-SVID
    /// for; `None` from a backend that does not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_audience: Option<String>,
}

impl AuthMethods {
    /// No auth method is configured.
    pub fn is_empty(&self) -> bool {
        self.kubernetes.is_none() && self.jwt.is_none() && self.jwt_audience.is_none()
    }
}

/// What one app is given on the server: names, never credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppAccess {
    /// The ACL policy every login of the app carries.
    pub policy: String,
    /// Its role in the PKI mount: certificates for its own names only,
    /// issued or signed from a CSR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pki_role: Option<String>,
    /// Its role in the database mount: short-lived credentials for its own
    /// database only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_role: Option<String>,
    /// The Kubernetes auth role its ServiceAccount logs in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_role: Option<String>,
    /// The JWT auth role its SPIFFE ID logs in with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt_role: Option<String>,
    /// The SPIFFE ID the JWT role is bound to (`spiffe://…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spiffe_id: Option<String>,
    /// The namespace of the app's pods, the one its Kubernetes auth role
    /// (if any) is bound to; `None` from a backend that does not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The ServiceAccount the app's pods are expected to run as, the one its
    /// Kubernetes auth role (if any) is bound to; `None` from a backend that
    /// does not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
}

impl AppAccess {
    /// An app given `policy` and nothing else yet.
    pub fn new(policy: impl Into<String>) -> Self {
        Self {
            policy: policy.into(),
            pki_role: None,
            database_role: None,
            kubernetes_role: None,
            jwt_role: None,
            spiffe_id: None,
            namespace: None,
            service_account: None,
        }
    }
}

/// The outputs of a `vault` component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// The URL apps reach the server at (`https://vault.security.svc:8200`),
    /// without a trailing slash: the API is under `<address>/v1/`.
    pub address: String,
    /// The secrets engines apps use.
    #[serde(default, skip_serializing_if = "Mounts::is_empty")]
    pub mounts: Mounts,
    /// The auth methods apps log in with.
    #[serde(default, skip_serializing_if = "AuthMethods::is_empty")]
    pub auth: AuthMethods,
    /// Per app, keyed by its name (its component name): its policy and roles.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub apps: BTreeMap<String, AppAccess>,
    /// What a client must be allowed to reach (NetworkPolicies); empty:
    /// not said, and a client with a default-deny policy cannot reach it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<NetworkPeer>,
}

impl Outputs {
    /// Where `app` asks for a certificate (`pki/issue/<role>`), when it has a PKI role.
    pub fn pki_issue_path(&self, app: &str) -> Option<String> {
        self.pki_path(app, "issue")
    }

    /// Where `app` has a CSR of its own key signed (`pki/sign/<role>`,
    /// what cert-manager's Vault issuer calls), when it has a PKI role.
    pub fn pki_sign_path(&self, app: &str) -> Option<String> {
        self.pki_path(app, "sign")
    }

    /// `<pki>/<endpoint>/<role>` of `app`'s PKI role.
    fn pki_path(&self, app: &str, endpoint: &str) -> Option<String> {
        let pki = self.mounts.pki.as_ref()?;
        let role = self.apps.get(app)?.pki_role.as_ref()?;
        Some(format!("{pki}/{endpoint}/{role}"))
    }

    /// Where `app` reads database credentials (`database/creds/<role>`),
    /// when it has a database role.
    pub fn database_creds_path(&self, app: &str) -> Option<String> {
        let database = self.mounts.database.as_ref()?;
        let role = self.apps.get(app)?.database_role.as_ref()?;
        Some(format!("{database}/creds/{role}"))
    }

    /// The KV prefix `app` of `environment` may read
    /// (`secret/data/<environment>/<app>`), when KV is configured.
    pub fn kv_data_prefix(&self, environment: &str, app: &str) -> Option<String> {
        let kv = self.mounts.kv.as_ref()?;
        self.apps.contains_key(app).then(|| format!("{kv}/data/{environment}/{app}"))
    }

    /// Where a pod logs in with its ServiceAccount token (`auth/kubernetes/login`).
    pub fn kubernetes_login_path(&self) -> Option<String> {
        self.auth.kubernetes.as_ref().map(|path| format!("auth/{path}/login"))
    }

    /// Where a workload logs in with a JWT (`auth/jwt/login`).
    pub fn jwt_login_path(&self) -> Option<String> {
        self.auth.jwt.as_ref().map(|path| format!("auth/{path}/login"))
    }
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "vault";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
