//! The per-application databases a `postgres` component provides: the input
//! shape every postgres backend accepts (so an operator can swap backends
//! without touching `apps`), its checks, the Secret each app reads its
//! password from, and the outputs that list them.
//!
//! A backend puts `apps: BTreeMap<String, AppDatabase>` and
//! `default_app: Option<String>` in its own inputs and calls [`validate`],
//! [`resolve`], [`secret`] and [`outputs`]; the shape is the schema
//! `wit/contracts/postgres.apps.v1.json`. Creating the databases and roles
//! is the backend's own business (SQL effects, CRDs, an init script).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{DatabaseAccess, Outputs, SslMode};
use crate::contracts::{self, NetworkPeer, SecretKeyRef};
use crate::k8s::is_dns_label;
use crate::pointer;
use crate::prelude::*;

/// Key of the user name in each app's Secret.
pub const USERNAME_KEY: &str = "username";
/// Key of the password in each app's Secret.
pub const PASSWORD_KEY: &str = "password";

/// One application's database and the role that owns it.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppDatabase {
    /// Database name. Default: the app's key with `-` replaced by `_`.
    #[serde(default)]
    pub database: Option<String>,
    /// Role (user) name. Default: `<database>_user`.
    #[serde(default)]
    pub user: Option<String>,
    /// The role's password. It must come from the component's encrypted
    /// secrets file (`values_sensitive_custom`): a password in clear config
    /// is refused.
    #[schemars(with = "String")]
    pub password: Sensitive,
    /// Extensions to create in the database, such as `pgcrypto`.
    #[serde(default)]
    pub extensions: Vec<String>,
}

/// An app with every default applied.
#[derive(Clone, Debug)]
pub struct App {
    /// The key under `apps` (a component name, usually).
    pub key: String,
    /// Database name, defaulted from the key.
    pub database: String,
    /// Role name, defaulted to `<database>_user`.
    pub user: String,
    /// The role's password, from the encrypted secrets file.
    pub password: Sensitive,
    /// Extensions to create in the database, such as `pgcrypto`.
    pub extensions: Vec<String>,
    /// The Secret holding `username` and `password`.
    pub secret: String,
}

/// PostgreSQL identifiers we create. A deliberately small subset (lower case,
/// no quoting needed, at most 63 bytes, PostgreSQL's NAMEDATALEN - 1) so names
/// mean the same thing in SQL, in CRDs and in shell-free manifests.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && s.len() <= 63
}

/// Checks `apps` and `default_app` (pointers are relative to the inputs root).
pub fn validate(apps: &BTreeMap<String, AppDatabase>, default_app: Option<&str>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if apps.is_empty() {
        out.push(Diagnostic::error(
            "/apps",
            "declare at least one app: the postgres outputs contract names a default database and user",
        ));
    }
    let mut databases: BTreeMap<String, &str> = BTreeMap::new();
    let mut users: BTreeMap<String, &str> = BTreeMap::new();
    for (key, app) in apps {
        if !is_dns_label(key) {
            out.push(Diagnostic::error(
                pointer(&["apps", key]),
                format!("app `{key}`: keys must be DNS labels (a-z, 0-9, `-`), they name its Secret"),
            ));
            continue;
        }
        let (database, user) = names(key, app);
        if !is_identifier(&database) {
            out.push(Diagnostic::error(
                pointer(&["apps", key, "database"]),
                format!("database name `{database}` must match ^[a-z_][a-z0-9_]*$ and be at most 63 bytes"),
            ));
        }
        if !is_identifier(&user) {
            out.push(Diagnostic::error(
                pointer(&["apps", key, "user"]),
                format!("user name `{user}` must match ^[a-z_][a-z0-9_]*$ and be at most 63 bytes"),
            ));
        }
        if user == "postgres" || user.starts_with("pg_") {
            out.push(Diagnostic::error(
                pointer(&["apps", key, "user"]),
                format!("user name `{user}` is reserved by PostgreSQL"),
            ));
        }
        if let Some(other) = databases.insert(database.clone(), key) {
            out.push(Diagnostic::error(
                pointer(&["apps", key, "database"]),
                format!("database `{database}` is also used by app `{other}`"),
            ));
        }
        if let Some(other) = users.insert(user.clone(), key) {
            out.push(Diagnostic::error(
                pointer(&["apps", key, "user"]),
                format!("user `{user}` is also used by app `{other}`"),
            ));
        }
        if app.password.expose().is_empty() {
            out.push(Diagnostic::error(pointer(&["apps", key, "password"]), "the password is empty"));
        }
        for (i, ext) in app.extensions.iter().enumerate() {
            if !is_identifier(ext) {
                out.push(Diagnostic::error(
                    pointer(&["apps", key, "extensions", &i.to_string()]),
                    format!("extension `{ext}` is not a plain extension name"),
                ));
            }
        }
    }
    if let Some(default) = default_app
        && !apps.contains_key(default)
    {
        out.push(Diagnostic::error(
            "/default_app",
            format!(
                "`{default}` is not one of the apps ({})",
                apps.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    out
}

/// A backend that does not run the server as its own superuser still takes
/// `superuser_password` (so one secrets file serves every backend of the
/// type), and says it ignores it: a warning at `/superuser_password`.
pub fn ignored_superuser(password: Option<&Sensitive>, backend: &str, why: &str) -> Option<Diagnostic> {
    password.map(|_| Diagnostic {
        path: "/superuser_password".to_owned(),
        severity: Severity::Warning,
        message: format!("ignored by the {backend} backend: {why}"),
    })
}

fn names(key: &str, app: &AppDatabase) -> (String, String) {
    let database = app.database.clone().unwrap_or_else(|| key.replace('-', "_"));
    let user = app.user.clone().unwrap_or_else(|| format!("{database}_user"));
    (database, user)
}

/// Resolves every app. Refuses a password that did not come from the
/// encrypted secrets file: anything else may be in a repository in clear.
pub fn resolve(req: &PlanRequest, apps: &BTreeMap<String, AppDatabase>) -> Result<Vec<App>, PlanError> {
    let mut out = Vec::with_capacity(apps.len());
    let mut not_sensitive = Vec::new();
    for (key, app) in apps {
        let path = pointer(&["apps", key, "password"]);
        if !req.is_sensitive(&path) {
            not_sensitive.push(Diagnostic::error(
                path,
                format!(
                    "the password of app `{key}` is not from the encrypted secrets file; \
                     move it to `values_sensitive_custom`"
                ),
            ));
        }
        let (database, user) = names(key, app);
        out.push(App {
            secret: format!("{}-{key}", req.component.name),
            key: key.clone(),
            database,
            user,
            password: app.password.clone(),
            extensions: app.extensions.clone(),
        });
    }
    if !not_sensitive.is_empty() {
        return Err(PlanError::InvalidInputs(not_sensitive));
    }
    Ok(out)
}

/// The app's Secret: `kubernetes.io/basic-auth` with `username` and
/// `password`, the shape CloudNativePG requires for managed roles and the one
/// every backend uses so consumers read the same keys.
pub fn secret(req: &PlanRequest, app: &App) -> serde_json::Value {
    let meta = k8s::Meta::new(&req.component, app.secret.clone(), "database-credentials")
        .label("capstan.dev/app", app.key.clone());
    let data = BTreeMap::from([
        (USERNAME_KEY.to_owned(), Sensitive::new(app.user.clone())),
        (PASSWORD_KEY.to_owned(), app.password.clone()),
    ]);
    let mut secret = k8s::secret(&meta, &data);
    secret["type"] = serde_json::json!("kubernetes.io/basic-auth");
    secret
}

fn secret_ref(req: &PlanRequest, app: &App) -> SecretKeyRef {
    SecretKeyRef {
        name: app.secret.clone(),
        key: PASSWORD_KEY.to_owned(),
        namespace: Some(req.component.namespace.clone()),
    }
}

/// Where the server is and how clients reach it over TLS.
#[derive(Clone, Debug)]
pub struct Server {
    /// Host name clients connect to (a Service DNS name or a managed endpoint).
    pub host: String,
    /// TCP port, usually 5432.
    pub port: u16,
    /// The `sslmode` clients must use.
    pub sslmode: SslMode,
    /// The CA that signed the server's certificate, when clients can verify it.
    pub ca_secret: Option<SecretKeyRef>,
    /// The pods (or outside ports) clients reach: the contract's `network`.
    pub network: Vec<NetworkPeer>,
}

/// The postgres outputs contract: `default_app` (or the first app by name)
/// is the default database; every app is listed under `databases`.
pub fn outputs(
    req: &PlanRequest,
    server: Server,
    apps: &[App],
    default_app: Option<&str>,
) -> Result<Vec<Output>, PlanError> {
    let default = match default_app {
        Some(key) => apps.iter().find(|a| a.key == key),
        None => apps.first(),
    }
    .ok_or_else(|| PlanError::Failed("no app to use as the default database".to_owned()))?;
    let databases = apps
        .iter()
        .map(|a| {
            let access = DatabaseAccess {
                database: a.database.clone(),
                user: a.user.clone(),
                password_secret: secret_ref(req, a),
            };
            (a.key.clone(), access)
        })
        .collect();
    let outputs = Outputs {
        host: server.host,
        port: server.port,
        database: default.database.clone(),
        user: default.user.clone(),
        password_secret: secret_ref(req, default),
        databases,
        sslmode: Some(server.sslmode),
        ca_secret: server.ca_secret,
        network: server.network,
    };
    contracts::outputs(&outputs, &[])
}
