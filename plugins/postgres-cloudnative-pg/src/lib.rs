//! Capstan plugin `capstan/postgres-cloudnative-pg`: PostgreSQL run by the
//! CloudNativePG operator.
//!
//! It renders a `Cluster` (instances, storage, resources, parameters, the
//! backup and recovery sections when configured) whose `spec.managed.roles` declares one
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
//! Each instance gets CPU and memory requests equal to its limits by default
//! (the "Guaranteed" QoS CloudNativePG recommends for PostgreSQL).
//!
//! With `backup` set, WAL is archived continuously to object storage, a
//! `ScheduledBackup` takes base backups (daily by default, the first at
//! once), and the operator prunes what falls out of the retention window
//! (30 days by default). This is the operator's in-tree Barman Cloud
//! integration, deprecated upstream since 1.26 in favour of the Barman Cloud
//! plugin but still served and the default in 1.30 (`src/backup.rs` says
//! why it is kept). With `recovery` set, a new Cluster is created from such
//! a backup, up to a point in time if asked. Optional: a PgBouncer `Pooler`
//! the apps are pointed at (`src/pooler.rs`; PgBouncer reaches PostgreSQL
//! over TLS as each app's own user, so the `hostssl` lines above apply to
//! it unchanged) and Prometheus `PodMonitor`s (`src/monitoring.rs`).
//!
//! It does not install the operator or its CRDs (nor the Prometheus
//! operator's). What these tests cannot show on a machine without a
//! Kubernetes cluster and the operator — a backup actually written, a
//! restore actually replayed, PgBouncer actually pooling — is left to the
//! operator's own test suite; the tests here check every rendered object
//! against the operator's published CRD schemas.

mod backup;
mod inputs;
mod monitoring;
mod pooler;
mod quantity;

use capstan_sdk::contracts::postgres::apps;
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

pub use apps::{AppDatabase, PASSWORD_KEY, USERNAME_KEY};
pub use inputs::{Backup, Inputs, Monitoring, PoolMode, Pooler, Recovery, Storage};

/// `apiVersion` of the CloudNativePG objects this plugin renders.
pub const API_VERSION: &str = "postgresql.cnpg.io/v1";
/// The port of the Cluster's `<name>-rw` Service (and of the pooler's),
/// published in the outputs.
pub const PORT: u16 = 5432;

/// The plugin: see the crate docs.
pub struct PostgresCloudNativePg;

impl Plugin for PostgresCloudNativePg {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/postgres-cloudnative-pg", env!("CARGO_PKG_VERSION"))
            .component_type(contracts::postgres::Outputs::COMPONENT_TYPE)
            .backend("cloudnative-pg")
            .description(
                "PostgreSQL on Kubernetes through the CloudNativePG operator: a Cluster with one managed \
                 login role per application, a Database per application owned by it (pg_hba lets each \
                 app's role into its own database only), and the Secrets holding their passwords; \
                 Guaranteed-QoS resources by default. Optional: continuous backup to object storage \
                 with a ScheduledBackup and a retention window, bootstrap from a backup up to a point \
                 in time, a PgBouncer Pooler, Prometheus PodMonitors.",
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
            if !quantity::is_size(&inputs.storage.size) {
                out.push(Diagnostic::error(
                    "/storage/size",
                    format!("`{}` is not a Kubernetes quantity such as 10Gi", inputs.storage.size),
                ));
            }
            out.extend(quantity::check_requests_within_limits(&inputs.resources, "/resources"));
            out.extend(backup::validate(inputs.backup.as_ref(), inputs.recovery.as_ref()));
            if inputs.pooler.enabled {
                if inputs.pooler.instances == 0 {
                    out.push(Diagnostic::error("/pooler/instances", "a pooler needs at least 1 instance"));
                }
                if inputs.pooler.max_client_conn == 0 || inputs.pooler.default_pool_size == 0 {
                    out.push(Diagnostic::error(
                        "/pooler",
                        "max_client_conn and default_pool_size must be at least 1: PgBouncer would refuse every client",
                    ));
                }
                out.extend(quantity::check_requests_within_limits(
                    &inputs.pooler.resources,
                    "/pooler/resources",
                ));
            }
            out
        })
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?;
        let name = &req.component.name;
        if let Some(d) = backup::archive_collision(inputs.backup.as_ref(), inputs.recovery.as_ref(), name) {
            return Err(PlanError::InvalidInputs(vec![d]));
        }
        let apps = apps::resolve(req, &inputs.apps)?;

        let mut objects: Vec<Value> = apps.iter().map(|app| apps::secret(req, app)).collect();
        objects.push(cluster(req, &inputs, &apps));
        objects.extend(apps.iter().map(|app| database(req, app)));
        if let Some(b) = &inputs.backup {
            objects.push(backup::scheduled_backup(req, b));
        }
        let scraped = inputs.monitoring.pod_monitor;
        if inputs.pooler.enabled {
            objects.push(pooler::pooler(req, &inputs.pooler, scraped));
        }
        if scraped {
            let labels = &inputs.monitoring.labels;
            objects.push(monitoring::instances(req, labels));
            if inputs.pooler.enabled {
                objects.push(monitoring::pooler(req, &pooler::name(name), labels));
            }
        }

        // CloudNativePG serves TLS only, with a certificate for the `-rw`
        // Service names (and the pooler's, see `cluster`) signed by the
        // cluster's own CA, kept in `<name>-ca`. With a pooler the apps go
        // through it: a pooler they bypass pools nothing.
        let service = if inputs.pooler.enabled { pooler::name(name) } else { format!("{name}-rw") };
        // The operator labels the instance pods with the cluster's name and
        // the pooler's with its own.
        let pods = if inputs.pooler.enabled {
            ("cnpg.io/poolerName", pooler::name(name))
        } else {
            ("cnpg.io/cluster", name.to_owned())
        };
        let server = apps::Server {
            host: format!("{service}.{}.svc", req.component.namespace),
            port: PORT,
            sslmode: contracts::postgres::SslMode::VerifyFull,
            ca_secret: Some(contracts::SecretKeyRef {
                name: format!("{name}-ca"),
                key: "ca.crt".to_owned(),
                namespace: Some(req.component.namespace.clone()),
            }),
            network: vec![contracts::NetworkPeer::pods(
                &req.component.namespace,
                &[(pods.0, &pods.1)],
                &[PORT],
            )],
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
    spec["resources"] = json!(inputs.resources);
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
        spec["backup"] = backup::cluster_backup(b);
    }
    if let Some((bootstrap, external)) =
        inputs.recovery.as_ref().and_then(|r| backup::recovery(r, inputs.backup.as_ref()))
    {
        spec["bootstrap"] = bootstrap;
        spec["externalClusters"] = external;
    }
    if inputs.pooler.enabled {
        let names = pooler::server_alt_dns_names(&req.component.name, &req.component.namespace);
        spec["certificates"] = json!({ "serverAltDNSNames": names });
    }
    if inputs.monitoring.pod_monitor {
        spec["monitoring"] = monitoring::metrics_tls();
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

/// CloudNativePG's `retentionPolicy` grammar: `^[1-9][0-9]*[dwm]$`.
pub(crate) fn is_retention(s: &str) -> bool {
    let Some(unit) = s.chars().last() else { return false };
    let n = &s[..s.len() - 1];
    matches!(unit, 'd' | 'w' | 'm')
        && !n.is_empty()
        && !n.starts_with('0')
        && n.chars().all(|c| c.is_ascii_digit())
}

capstan_sdk::export_plugin!(PostgresCloudNativePg);
