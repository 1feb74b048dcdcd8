//! Capstan plugin `capstan/postgres-cloudnative-pg`: PostgreSQL run by the
//! CloudNativePG operator.
//!
//! It renders a `Cluster` (instances, storage, resources, parameters, the
//! backup section when configured) whose `spec.managed.roles` declares one
//! login role per application with its password in a Secret, one `Database`
//! per application owned by that role, and the Secrets. The operator creates
//! and rotates roles and databases from them: no SQL effect is needed, so the
//! component needs no capability.
//!
//! Each app's database is closed to the other apps. The `Database` resource
//! has no privileges field, and a new database lets PUBLIC connect, so the
//! closing is done at login, in the Cluster's `spec.postgresql.pg_hba`
//! (first match wins), sorted by app:
//!
//! ```text
//! hostssl "<database>" "<user>" all scram-sha-256   # each app, into its own database, over TLS
//! ...
//! host all "<user>" all reject                      # each app user, anywhere else
//! ...
//! ```
//!
//! The reject lines are needed because the operator writes its own rules
//! around the user's (its local, replication and pooler rules before them,
//! and `host all all all scram-sha-256` after them), and that last line
//! would otherwise let any app's user into any database. Names are quoted so
//! a database or user called like a pg_hba keyword (`all`, `sameuser`,
//! `samerole`, `replication`) means that name and nothing more. The rules
//! concern app users only: the operator's own roles and local connections
//! match its rules first, as before. `tests/pg_hba.rs` proves the lines on a
//! real PostgreSQL.
//!
//! It does not install the operator or its CRDs, and it renders no
//! `ScheduledBackup` (its CRD is not among those Capstan validates against):
//! with `backup` set, WAL archiving is continuous and base backups are taken
//! on demand or by a schedule the operator's team owns.

use std::collections::BTreeMap;

use capstan_sdk::contracts::postgres::apps;
use capstan_sdk::k8s::Resources;
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

pub use apps::{AppDatabase, PASSWORD_KEY, USERNAME_KEY};

pub const API_VERSION: &str = "postgresql.cnpg.io/v1";
pub const PORT: u16 = 5432;

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// PostgreSQL instances: one primary, the others replicas. At least 1.
    pub instances: u32,
    /// The operand image (`imageName`); default: the operator's.
    #[serde(default)]
    pub image: Option<String>,
    pub storage: Storage,
    #[serde(default)]
    pub resources: Option<Resources>,
    /// `postgresql.conf` parameters.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub backup: Option<Backup>,
    /// One database and user per application. An app's user may log in to
    /// its own database only, and over TLS: the Cluster's `pg_hba` allows it
    /// there and rejects it from every other database (the `postgres`
    /// maintenance database included), so one app cannot read another's data.
    pub apps: BTreeMap<String, AppDatabase>,
    /// Accepted so the secrets file of another postgres backend works here
    /// unchanged; this backend does not use it (validate warns).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub superuser_password: Option<Sensitive>,
    /// The app whose database is the contract's default; default: the first by name.
    #[serde(default)]
    pub default_app: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Volume size per instance, such as `10Gi`.
    pub size: String,
    /// StorageClass; default: the cluster's default class.
    #[serde(default)]
    pub class: Option<String>,
}

/// Barman Cloud backup to object storage.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// `s3://bucket/path` (or `gs://`, `https://` for Azure Blob).
    pub destination_path: String,
    /// Endpoint of an S3-compatible store (MinIO, Ceph…).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Secret holding `ACCESS_KEY_ID` and `ACCESS_SECRET_KEY`; omit to use
    /// the pods' IAM role.
    #[serde(default)]
    pub s3_credentials_secret: Option<String>,
    /// How long backups are kept, such as `30d`, `4w`, `6m`.
    #[serde(default)]
    pub retention: Option<String>,
}

pub struct PostgresCloudNativePg;

impl Plugin for PostgresCloudNativePg {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/postgres-cloudnative-pg", env!("CARGO_PKG_VERSION"))
            .component_type(contracts::postgres::Outputs::COMPONENT_TYPE)
            .backend("cloudnative-pg")
            .description(
                "PostgreSQL on Kubernetes through the CloudNativePG operator: a Cluster with one managed \
                 login role per application, a Database per application owned by it (pg_hba lets each \
                 app's role into its own database only), and the Secrets holding their passwords. \
                 Optional continuous backup to object storage.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(include_str!("defaults.yaml"))
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, |inputs: &Inputs| {
            let mut out = apps::validate(&inputs.apps, inputs.default_app.as_deref());
            out.extend(apps::ignored_superuser(
                inputs.superuser_password.as_ref(),
                "cloudnative-pg",
                "CloudNativePG keeps superuser access off and manages its own superuser Secret",
            ));
            if inputs.instances == 0 {
                out.push(Diagnostic::error("/instances", "a Cluster needs at least 1 instance"));
            }
            if !is_quantity(&inputs.storage.size) {
                out.push(Diagnostic::error(
                    "/storage/size",
                    format!("`{}` is not a Kubernetes quantity such as 10Gi", inputs.storage.size),
                ));
            }
            if let Some(b) = &inputs.backup {
                if !["s3://", "gs://", "https://"].iter().any(|p| b.destination_path.starts_with(p)) {
                    out.push(Diagnostic::error(
                        "/backup/destination_path",
                        "the destination must be an object store URL (s3://, gs:// or https:// for Azure)",
                    ));
                }
                if let Some(r) = &b.retention
                    && !is_retention(r)
                {
                    out.push(Diagnostic::error(
                        "/backup/retention",
                        format!("`{r}` is not a retention such as 30d, 4w or 6m"),
                    ));
                }
            }
            out
        })
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?;
        let apps = apps::resolve(req, &inputs.apps)?;
        let name = &req.component.name;

        let mut objects: Vec<Value> = apps.iter().map(|app| apps::secret(req, app)).collect();
        objects.push(cluster(req, &inputs, &apps));
        objects.extend(apps.iter().map(|app| database(req, app)));

        // CloudNativePG serves TLS only, with a certificate for the `-rw`
        // Service names signed by the cluster's own CA, kept in `<name>-ca`.
        let server = apps::Server {
            host: format!("{name}-rw.{}.svc", req.component.namespace),
            port: PORT,
            sslmode: contracts::postgres::SslMode::VerifyFull,
            ca_secret: Some(contracts::SecretKeyRef {
                name: format!("{name}-ca"),
                key: "ca.crt".to_owned(),
                namespace: Some(req.component.namespace.clone()),
            }),
        };
        let outputs = apps::outputs(req, server, &apps, inputs.default_app.as_deref())?;
        Ok(ComponentPlan { objects, outputs, ..Default::default() })
    }

    fn health(object: &Value) -> Health {
        // A Database reports `applied`, not a Ready condition.
        if object["kind"] == "Database" {
            return match object.pointer("/status/applied").and_then(Value::as_bool) {
                Some(true) => Health::Ready,
                Some(false) => Health::Degraded(
                    object
                        .pointer("/status/message")
                        .and_then(Value::as_str)
                        .unwrap_or("not applied")
                        .to_owned(),
                ),
                None => Health::Progressing("waiting for the operator".to_owned()),
            };
        }
        capstan_sdk::health::default_health(object)
    }
}

fn cluster(req: &PlanRequest, inputs: &Inputs, apps: &[apps::App]) -> Value {
    let meta = k8s::Meta::new(&req.component, req.component.name.clone(), "database");
    let roles: Vec<Value> = apps
        .iter()
        .map(|app| {
            json!({
                "name": app.user,
                "ensure": "present",
                "login": true,
                "inherit": true,
                "passwordSecret": { "name": app.secret },
                "comment": format!("capstan: user of app {}", app.key),
            })
        })
        .collect();
    let mut storage = json!({ "size": inputs.storage.size });
    if let Some(class) = &inputs.storage.class {
        storage["storageClass"] = json!(class);
    }
    let mut spec = json!({
        "instances": inputs.instances,
        "storage": storage,
        // Apps get their own roles; nobody needs the superuser over the network.
        "enableSuperuserAccess": false,
        "managed": { "roles": roles },
        // Scheduling replicas on separate nodes is what makes them replicas.
        "affinity": { "enablePodAntiAffinity": true, "topologyKey": "kubernetes.io/hostname" },
    });
    if let Some(image) = &inputs.image {
        spec["imageName"] = json!(image);
    }
    if let Some(resources) = &inputs.resources {
        spec["resources"] = json!(resources);
    }
    let mut postgresql = serde_json::Map::new();
    if !inputs.parameters.is_empty() {
        postgresql.insert("parameters".to_owned(), json!(inputs.parameters));
    }
    if !apps.is_empty() {
        postgresql.insert("pg_hba".to_owned(), json!(pg_hba(apps)));
    }
    if !postgresql.is_empty() {
        spec["postgresql"] = Value::Object(postgresql);
    }
    if let Some(b) = &inputs.backup {
        spec["backup"] = backup(b);
    }
    k8s::custom_resource(API_VERSION, "Cluster", &meta, spec)
}

/// The `pg_hba` lines that keep each app's user in its own database (the
/// crate documentation says why they look so): first one `hostssl` line per
/// app allowing its user into its database, then one `reject` line per app
/// user for every other database. `apps` comes sorted by key from
/// [`apps::resolve`], so the lines are in a stable order.
///
/// `hostssl`, not `host`: CloudNativePG always serves TLS, and the outputs
/// tell clients `verify-full`, so a client without TLS is a misconfigured
/// one; it falls through to the `reject` line.
fn pg_hba(apps: &[apps::App]) -> Vec<String> {
    let allow = apps
        .iter()
        .map(|app| format!("hostssl {} {} all scram-sha-256", hba_name(&app.database), hba_name(&app.user)));
    let reject = apps.iter().map(|app| format!("host all {} all reject", hba_name(&app.user)));
    allow.chain(reject).collect()
}

/// A database or user name as a pg_hba field. Quoted, so that a name spelled
/// like a keyword (`all`, `sameuser`, `samerole`, `replication`) is that name:
/// an app whose database is called `all` must not open every database. The
/// names are [`apps::is_identifier`]s, so they hold no quote or space.
fn hba_name(name: &str) -> String {
    format!("\"{name}\"")
}

fn backup(b: &Backup) -> Value {
    let mut store = json!({
        "destinationPath": b.destination_path,
        "wal": { "compression": "gzip" },
        "data": { "compression": "gzip" },
    });
    if let Some(url) = &b.endpoint_url {
        store["endpointURL"] = json!(url);
    }
    store["s3Credentials"] = match &b.s3_credentials_secret {
        Some(secret) => json!({
            "accessKeyId": { "name": secret, "key": "ACCESS_KEY_ID" },
            "secretAccessKey": { "name": secret, "key": "ACCESS_SECRET_KEY" },
        }),
        None => json!({ "inheritFromIAMRole": true }),
    };
    let mut backup = json!({ "barmanObjectStore": store });
    if let Some(r) = &b.retention {
        backup["retentionPolicy"] = json!(r);
    }
    backup
}

fn database(req: &PlanRequest, app: &apps::App) -> Value {
    let cluster = &req.component.name;
    let meta = k8s::Meta::new(&req.component, format!("{cluster}-{}", app.key), "database")
        .label("capstan.dev/app", app.key.clone());
    let extensions: Vec<Value> =
        app.extensions.iter().map(|e| json!({ "name": e, "ensure": "present" })).collect();
    let mut spec = json!({
        "name": app.database,
        "owner": app.user,
        "cluster": { "name": cluster },
        "ensure": "present",
        // Removing an app from the config must not drop its data.
        "databaseReclaimPolicy": "retain",
    });
    if !extensions.is_empty() {
        spec["extensions"] = json!(extensions);
    }
    k8s::custom_resource(API_VERSION, "Database", &meta, spec)
}

/// A Kubernetes quantity (`10Gi`, `500M`, `1.5Ti`).
fn is_quantity(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &s[digits.len()..];
    !digits.is_empty()
        && digits.parse::<f64>().is_ok_and(|n| n > 0.0)
        && ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E"].contains(&suffix)
}

/// CloudNativePG's `retentionPolicy` grammar: `^[1-9][0-9]*[dwm]$`.
fn is_retention(s: &str) -> bool {
    let Some(unit) = s.chars().last() else { return false };
    let n = &s[..s.len() - 1];
    matches!(unit, 'd' | 'w' | 'm')
        && !n.is_empty()
        && !n.starts_with('0')
        && n.chars().all(|c| c.is_ascii_digit())
}

capstan_sdk::export_plugin!(PostgresCloudNativePg);
