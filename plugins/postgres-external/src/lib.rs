//! Capstan plugin `capstan/postgres-external`: PostgreSQL databases and users
//! on a server Capstan does not run (RDS, Cloud SQL, an existing host),
//! addressed by `db_host`.
//!
//! It renders one Secret per application (user name and password, for the
//! app to read) and declares SQL effects on the operator's connection: create
//! or rotate the role with its password, create the database owned by it,
//! grant privileges, create extensions. The engine's SQL executor runs them,
//! idempotently, with credentials this plugin never sees.
//!
//! It does not create the server, manage its network access or its backups:
//! those belong to the cloud account, not to a component.

use std::collections::BTreeMap;

use capstan_sdk::capstan_core::{SqlDatabase, SqlExtension, SqlGrant, SqlOp, SqlRole};
use capstan_sdk::contracts::SecretKeyRef;
use capstan_sdk::contracts::postgres::{SslMode, apps};
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

pub use apps::{AppDatabase, PASSWORD_KEY, USERNAME_KEY};

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Host name of the managed server (`db_host` in env.hcl).
    pub db_host: String,
    /// Its port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// The SQL connection the effects run on; grant it as `sql:<connection>`.
    #[serde(default = "default_connection")]
    pub connection: String,
    /// Privileges each app's user gets on its database.
    #[serde(default = "default_privileges")]
    pub privileges: Vec<String>,
    /// The libpq `sslmode` apps connect with: disable, prefer, require,
    /// verify-ca or verify-full.
    #[serde(default = "default_sslmode")]
    pub sslmode: SslMode,
    /// The Secret (in the component's namespace) with the CA that signed the
    /// server's certificate, such as the cloud provider's bundle; needed by
    /// verify-ca and verify-full.
    #[serde(default)]
    pub ca_secret: Option<CaSecret>,
    /// One database and user per application.
    pub apps: BTreeMap<String, AppDatabase>,
    /// Accepted so the secrets file of another postgres backend works here
    /// unchanged; this backend does not use it (validate warns).
    #[serde(default)]
    pub superuser_password: Option<Sensitive>,
    /// The app whose database is the contract's default; default: the first by name.
    #[serde(default)]
    pub default_app: Option<String>,
}

fn default_port() -> u16 {
    5432
}
fn default_connection() -> String {
    "postgres".to_owned()
}
fn default_privileges() -> Vec<String> {
    vec!["ALL".to_owned()]
}
fn default_sslmode() -> SslMode {
    SslMode::Require
}

/// A key in an existing Secret, in the component's namespace.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaSecret {
    /// Name of the Secret, such as `rds-ca`.
    pub name: String,
    /// The key holding the PEM certificate(s). Default `ca.crt`.
    #[serde(default = "default_ca_key")]
    pub key: String,
}
fn default_ca_key() -> String {
    "ca.crt".to_owned()
}

/// Database privileges PostgreSQL knows (`GRANT … ON DATABASE`).
const DATABASE_PRIVILEGES: &[&str] = &["ALL", "CREATE", "CONNECT", "TEMPORARY", "TEMP"];

/// The plugin: see the crate docs.
pub struct PostgresExternal;

impl Plugin for PostgresExternal {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/postgres-external", env!("CARGO_PKG_VERSION"))
            .component_type(contracts::postgres::Outputs::COMPONENT_TYPE)
            .backend("external")
            .description(
                "Databases and users for applications on a managed PostgreSQL server (RDS, Cloud SQL, \
                 any host): one Secret per app, and idempotent SQL effects that create or rotate the \
                 role, create the database it owns, grant privileges and create extensions.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(include_str!("defaults.yaml"))
            // The default connection name; an operator who renames it grants
            // `sql:<connection>` instead, which is what the engine checks.
            .capability(Capability::Sql(default_connection()))
            .build()
    }

    fn validate(inputs: &serde_json::Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, |inputs: &Inputs| {
            let mut out = apps::validate(&inputs.apps, inputs.default_app.as_deref());
            out.extend(apps::ignored_superuser(
                inputs.superuser_password.as_ref(),
                "external",
                "the admin credentials are in the SQL connection the effects run on",
            ));
            if inputs.db_host.trim().is_empty() || inputs.db_host.contains(['/', ' ', ':']) {
                out.push(Diagnostic::error(
                    "/db_host",
                    "db_host must be a host name (no scheme, port or path)",
                ));
            }
            if inputs.port == 0 {
                out.push(Diagnostic::error("/port", "port 0 is not a PostgreSQL port"));
            }
            if inputs.connection.is_empty() {
                out.push(Diagnostic::error("/connection", "name the SQL connection the effects run on"));
            }
            if inputs.sslmode.verifies() && inputs.ca_secret.is_none() {
                out.push(Diagnostic::error(
                    "/ca_secret",
                    format!(
                        "sslmode {} verifies the server against a CA: name the Secret holding it ({{ name = \"…\", key = \"ca.crt\" }})",
                        inputs.sslmode.as_str()
                    ),
                ));
            }
            if inputs.privileges.is_empty() {
                out.push(Diagnostic::error("/privileges", "grant at least one privilege (such as ALL)"));
            }
            for (i, p) in inputs.privileges.iter().enumerate() {
                if !DATABASE_PRIVILEGES.contains(&p.to_ascii_uppercase().as_str()) {
                    out.push(Diagnostic::error(
                        format!("/privileges/{i}"),
                        format!(
                            "`{p}` is not a database privilege (one of {})",
                            DATABASE_PRIVILEGES.join(", ")
                        ),
                    ));
                }
            }
            out
        })
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?;
        let apps = apps::resolve(req, &inputs.apps)?;
        let privileges: Vec<String> = inputs.privileges.iter().map(|p| p.to_ascii_uppercase()).collect();

        let objects = apps.iter().map(|app| apps::secret(req, app)).collect();
        let effects = apps.iter().map(|app| sql_effect(app, &inputs.connection, &privileges)).collect();
        let server = apps::Server {
            host: inputs.db_host.clone(),
            port: inputs.port,
            sslmode: inputs.sslmode,
            ca_secret: inputs.ca_secret.as_ref().map(|ca| SecretKeyRef {
                name: ca.name.clone(),
                key: ca.key.clone(),
                namespace: Some(req.component.namespace.clone()),
            }),
            network: vec![contracts::NetworkPeer::outside(&[inputs.port])],
        };
        let outputs = apps::outputs(req, server, &apps, inputs.default_app.as_deref())?;
        Ok(ComponentPlan { objects, effects, outputs, ..Default::default() })
    }
}

/// One effect per app, so the plan shows one line per app and a failure
/// names the app it concerns. Order matters: the role must exist to own the
/// database, and the database to hold extensions.
fn sql_effect(app: &apps::App, connection: &str, privileges: &[String]) -> Effect {
    let mut ops = vec![
        SqlOp::EnsureRole(SqlRole {
            name: app.user.clone(),
            password: Some(app.password.clone()),
            login: true,
        }),
        SqlOp::EnsureDatabase(SqlDatabase { name: app.database.clone(), owner: app.user.clone() }),
        SqlOp::Grant(SqlGrant {
            privileges: privileges.to_vec(),
            database: app.database.clone(),
            role: app.user.clone(),
        }),
    ];
    ops.extend(
        app.extensions.iter().map(|e| {
            SqlOp::EnsureExtension(SqlExtension { name: e.clone(), database: app.database.clone() })
        }),
    );
    let mut summary = format!(
        "role {} (login, password from secrets), database {} owned by it and closed to PUBLIC, GRANT {}",
        app.user,
        app.database,
        privileges.join(", ")
    );
    if !app.extensions.is_empty() {
        summary.push_str(&format!(", extensions {}", app.extensions.join(", ")));
    }
    Effect {
        id: format!("app:{}", app.key),
        target: connection.to_owned(),
        summary,
        kind: EffectKind::Sql(ops),
    }
}

capstan_sdk::export_plugin!(PostgresExternal);
