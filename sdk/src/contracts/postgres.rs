//! `postgres`: a PostgreSQL server and the database(s) made on it.
//!
//! The outputs ([`Outputs`], schema `wit/contracts/postgres.v1.json`) and
//! the per-app database list every postgres backend accepts ([`apps`],
//! schema `wit/contracts/postgres.apps.v1.json`). Documented for consumers
//! in `docs/contracts/postgres.md`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Contract, SecretKeyRef};

pub mod apps;

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/postgres.v1.json");
/// The JSON Schema of the shared inputs (`apps`, `default_app`).
pub const APPS_SCHEMA: &str = include_str!("../../../wit/contracts/postgres.apps.v1.json");

/// How a client reaches the server over TLS: libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, unverified; plaintext otherwise.
    Prefer,
    /// TLS always, without checking the server's certificate.
    Require,
    /// TLS, and the server's certificate must be signed by the CA in `ca_secret`.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must also name `host`.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the client checks the server's certificate against a CA.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// Access to one database for one user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseAccess {
    /// Database name, e.g. `consent`.
    pub database: String,
    /// Role that owns the database and logs in to it.
    pub user: String,
    /// The user's password.
    pub password_secret: SecretKeyRef,
}

/// The outputs of a `postgres` component: where the server is and how each
/// app logs in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// Host name clients connect to (a Service DNS name or a managed endpoint).
    pub host: String,
    /// TCP port, usually 5432.
    pub port: u16,
    /// The default database, its user and the user's password.
    pub database: String,
    /// The default database's user (role).
    pub user: String,
    /// The Secret key holding `user`'s password.
    pub password_secret: SecretKeyRef,
    /// One database and user per consuming app, keyed by the app's
    /// component name; an app not listed uses the default above.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub databases: BTreeMap<String, DatabaseAccess>,
    /// The `sslmode` clients must use: what the server offers and how it
    /// can be verified. Absent: not said, so a client keeps its own default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sslmode: Option<SslMode>,
    /// The PEM CA certificate that signed the server's certificate, for
    /// `verify-ca` and `verify-full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret: Option<SecretKeyRef>,
    /// What a client must be allowed to reach (NetworkPolicies); empty:
    /// not said, and a client with a default-deny policy cannot reach it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<super::NetworkPeer>,
}

impl Outputs {
    /// The database a given app should use.
    pub fn access_for(&self, app: &str) -> DatabaseAccess {
        self.databases.get(app).cloned().unwrap_or_else(|| DatabaseAccess {
            database: self.database.clone(),
            user: self.user.clone(),
            password_secret: self.password_secret.clone(),
        })
    }
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "postgres";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
