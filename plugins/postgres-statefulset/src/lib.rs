//! Capstan plugin `capstan/postgres-statefulset`: one PostgreSQL server as a
//! StatefulSet, for staging and development clusters without an operator.
//!
//! It renders the StatefulSet (official `postgres` image, non-root, read-only
//! root filesystem, `pg_isready` probes, a volume claim template), a headless
//! Service for its stable identity, a ClusterIP Service for clients, the
//! superuser Secret, one Secret per app, and a Job that creates each app's
//! role and database with an idempotent SQL script (see [`init_sql`]). The
//! Job's name carries a digest of the script and of the passwords, keyed by
//! the superuser password, so adding an app or rotating a password makes a
//! new Job (and the engine prunes the old one), while an unchanged config
//! plans the same Job.
//!
//! It does not replicate, fail over or back up: that is what
//! `capstan/postgres-cloudnative-pg` is for.

pub mod init_sql;

use std::collections::BTreeMap;

use capstan_sdk::contracts::SecretKeyRef;
use capstan_sdk::contracts::postgres::apps;
use capstan_sdk::k8s::{self, Container, PodTemplate, Resources};
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub use apps::{AppDatabase, PASSWORD_KEY, USERNAME_KEY};

/// The port PostgreSQL listens on and both Services expose.
pub const PORT: u16 = 5432;
/// The uid/gid of the `postgres` user in the official image: its entrypoint
/// and data directory layout expect it.
const POSTGRES_UID: u32 = 999;
const DATA_DIR: &str = "/var/lib/postgresql/data";

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The PostgreSQL image (official image or derived; psql >= 15).
    pub image: String,
    /// Must be 1: plain PostgreSQL servers in a StatefulSet do not replicate.
    pub replicas: u32,
    /// The server's persistent volume (the StatefulSet's volume claim template).
    pub storage: Storage,
    /// Requests and limits of the PostgreSQL container.
    pub resources: Resources,
    /// The `postgres` superuser's password, from the secrets file.
    #[schemars(with = "String")]
    pub superuser_password: Sensitive,
    /// One database and user per application.
    pub apps: BTreeMap<String, AppDatabase>,
    /// The app whose database is the contract's default; default: the first by name.
    #[serde(default)]
    pub default_app: Option<String>,
}

/// The persistent volume of the server.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Volume size, such as `10Gi`.
    pub size: String,
    /// StorageClass; default: the cluster's default class.
    #[serde(default)]
    pub class: Option<String>,
}

/// The plugin: see the crate docs.
pub struct PostgresStatefulSet;

impl Plugin for PostgresStatefulSet {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/postgres-statefulset", env!("CARGO_PKG_VERSION"))
            .component_type(contracts::postgres::Outputs::COMPONENT_TYPE)
            .backend("statefulset")
            .description(
                "One PostgreSQL server as a StatefulSet (non-root, probes, persistent volume) with a \
                 database and user per application, created by an idempotent SQL Job. For staging: no \
                 replication, failover or backups.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(include_str!("defaults.yaml"))
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, |inputs: &Inputs| {
            let mut out = apps::validate(&inputs.apps, inputs.default_app.as_deref());
            match inputs.replicas {
                0 => out.push(Diagnostic::error("/replicas", "0 replicas would run no database; use 1")),
                1 => {}
                n => out.push(Diagnostic::error(
                    "/replicas",
                    format!(
                        "{n} replicas would be {n} unrelated servers: the statefulset backend runs one; \
                         use the cloudnative-pg backend for replicas"
                    ),
                )),
            }
            if inputs.superuser_password.expose().is_empty() {
                out.push(Diagnostic::error("/superuser_password", "the superuser password is empty"));
            }
            if inputs.image.trim().is_empty() {
                out.push(Diagnostic::error("/image", "name a PostgreSQL image"));
            }
            out
        })
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?;
        if !req.is_sensitive("/superuser_password") {
            return Err(PlanError::InvalidInputs(vec![Diagnostic::error(
                "/superuser_password",
                "the superuser password is not from the encrypted secrets file; move it to `values_sensitive_custom`",
            )]));
        }
        let apps = apps::resolve(req, &inputs.apps)?;
        let name = req.component.name.clone();
        let meta = k8s::Meta::new(&req.component, name.clone(), "database");
        let superuser =
            SecretKeyRef { name: format!("{name}-superuser"), key: "password".into(), namespace: None };

        let mut objects = vec![k8s::secret(
            &meta.renamed(superuser.name.clone()),
            &BTreeMap::from([("password".to_owned(), inputs.superuser_password.clone())]),
        )];
        objects.extend(apps.iter().map(|app| apps::secret(req, app)));
        let headless = format!("{name}-headless");
        let mut headless_service = k8s::service(&meta.renamed(headless.clone()), &[("postgres", PORT)]);
        headless_service["spec"]["clusterIP"] = json!("None");
        // Peers and the Job resolve the pod before it is ready.
        headless_service["spec"]["publishNotReadyAddresses"] = json!(true);
        objects.push(headless_service);
        objects.push(k8s::service(&meta, &[("postgres", PORT)]));
        objects.push(stateful_set(&meta, &headless, &inputs, &superuser));
        if !apps.is_empty() {
            let script = init_sql::script(&apps);
            let job_name = format!("{name}-init-{}", digest(&inputs.superuser_password, &script, &apps));
            // Its own part label: with the server's labels, the Services would select the Job's pod.
            let config_meta = k8s::Meta::new(&req.component, job_name, "database-init");
            objects.push(k8s::config_map(&config_meta, &BTreeMap::from([("init.sql".to_owned(), script)])));
            objects.push(init_job(&config_meta, &name, &inputs.image, &superuser, &apps));
        }

        let server = apps::Server {
            host: format!("{name}.{}.svc", req.component.namespace),
            port: PORT,
            // The server image's defaults: no certificate, so no TLS.
            sslmode: contracts::postgres::SslMode::Disable,
            ca_secret: None,
        };
        let outputs = apps::outputs(req, server, &apps, inputs.default_app.as_deref())?;
        Ok(ComponentPlan { objects, outputs, ..Default::default() })
    }
}

fn stateful_set(meta: &k8s::Meta, headless: &str, inputs: &Inputs, superuser: &SecretKeyRef) -> Value {
    let probe = |period: u32, failures: u32| {
        json!({
            "exec": { "command": ["pg_isready", "-U", "postgres", "-h", "127.0.0.1", "-p", PORT.to_string()] },
            "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures,
        })
    };
    let container = Container::new("postgres", inputs.image.clone())
        .port("postgres", PORT)
        .env_secret("POSTGRES_PASSWORD", superuser)
        // A sub-directory: a fresh volume's root holds `lost+found`, which initdb refuses.
        .env("PGDATA", format!("{DATA_DIR}/pgdata"))
        .resources(&inputs.resources)
        .readiness_probe(probe(10, 3))
        .liveness_probe(probe(20, 6))
        .volume_mount("data", DATA_DIR)
        // The root filesystem is read-only; the server writes its socket and temp files here.
        .volume_mount("run", "/var/run/postgresql")
        .volume_mount("tmp", "/tmp");
    let pod = PodTemplate::new(meta)
        .run_as(POSTGRES_UID, POSTGRES_UID)
        .container(&container)
        .empty_dir("run")
        .empty_dir("tmp");
    let mut claim_spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": { "requests": { "storage": inputs.storage.size } },
    });
    if let Some(class) = &inputs.storage.class {
        claim_spec["storageClassName"] = json!(class);
    }
    let claim = json!({ "metadata": { "name": "data", "labels": meta.selector() }, "spec": claim_spec });
    k8s::stateful_set(meta, headless, inputs.replicas, &pod, vec![claim])
}

fn init_job(
    meta: &k8s::Meta,
    server: &str,
    image: &str,
    superuser: &SecretKeyRef,
    apps: &[apps::App],
) -> Value {
    let mut container = Container::new("psql", image)
        .command(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-f", "/sql/init.sql"])
        .env("PGHOST", server)
        .env("PGPORT", PORT.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", "postgres")
        .env("PGCONNECT_TIMEOUT", "10")
        .env_secret("PGPASSWORD", superuser)
        .volume_mount("sql", "/sql")
        .resources(&Resources {
            requests: k8s::Quantities { cpu: "50m".into(), memory: "64Mi".into() },
            limits: k8s::Quantities { cpu: "500m".into(), memory: "256Mi".into() },
        });
    for (i, app) in apps.iter().enumerate() {
        let secret = SecretKeyRef { name: app.secret.clone(), key: PASSWORD_KEY.into(), namespace: None };
        container = container.env_secret(init_sql::password_env(i), &secret);
    }
    let pod = PodTemplate::new(meta)
        .run_as(POSTGRES_UID, POSTGRES_UID)
        .container(&container)
        .volume(json!({ "name": "sql", "configMap": { "name": meta.name() } }))
        .field("restartPolicy", json!("OnFailure"));
    json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": meta.to_value(),
        // Retries with back-off cover the server still starting on first apply.
        "spec": { "backoffLimit": 10, "template": pod.to_value() },
    })
}

/// 10 hex digits over the script and every app's password, keyed with the
/// superuser password so the name reveals nothing about a password to whoever
/// can read object names.
fn digest(key: &Sensitive, script: &str, apps: &[apps::App]) -> String {
    let mut h = Sha256::new();
    h.update(key.expose().as_bytes());
    h.update([0]);
    h.update(script.as_bytes());
    for app in apps {
        h.update([0]);
        h.update(app.password.expose().as_bytes());
    }
    hex::encode(h.finalize())[..10].to_owned()
}

capstan_sdk::export_plugin!(PostgresStatefulSet);
