//! Capstan plugin `capstan/postgres-statefulset`: one PostgreSQL server as a
//! StatefulSet, for staging and development clusters without an operator.
//!
//! It renders the StatefulSet (official `postgres` image, PostgreSQL 14 or
//! later, non-root, read-only root filesystem, `pg_isready` probes, a volume
//! claim template), a headless Service for its stable identity, a ClusterIP
//! Service for clients, the superuser Secret, one Secret per app, the
//! server's `pg_hba.conf` (a ConfigMap), and a Job that creates each app's
//! role and database with an idempotent SQL script (see [`init_sql`]),
//! named after a digest of what it runs (see `init_job`).
//!
//! By default the server serves TLS only, with a certificate from
//! cert-manager for the client Service's names (see [`tls`]), and the
//! outputs tell apps `sslmode = verify-full` with the CA to check it
//! against; a sidecar reloads the server when the certificate is renewed.
//! `tls.enabled = false` serves plaintext (`sslmode = disable`), which is
//! not for production. The cert-manager CRDs and controller must be in the
//! cluster for TLS; this plugin does not install them.
//!
//! It does not replicate, fail over or back up: that is what
//! `capstan/postgres-cloudnative-pg` is for.

mod init_job;
pub mod init_sql;
mod server;
pub mod tls;

use std::collections::BTreeMap;

use capstan_sdk::contracts::SecretKeyRef;
use capstan_sdk::contracts::postgres::{SslMode, apps};
use capstan_sdk::k8s::tls::ServerCertificate;
use capstan_sdk::k8s::{self, Resources};
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

pub use apps::{AppDatabase, PASSWORD_KEY, USERNAME_KEY};
pub use tls::Tls;

/// The port PostgreSQL listens on and both Services expose.
pub const PORT: u16 = 5432;
/// The uid/gid of the `postgres` user in the official (Debian) image: its
/// entrypoint and data directory layout expect it, and the pod's `fsGroup`
/// set to it lets the server read its certificate's key.
const POSTGRES_UID: u32 = 999;

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The PostgreSQL image: the official Debian-based image, or one built
    /// from it (its entrypoint, `psql`, `sh` and `cat` are used, and the
    /// `postgres` user's uid 999), PostgreSQL 14 or later.
    pub image: String,
    /// Must be 1: plain PostgreSQL servers in a StatefulSet do not replicate.
    pub replicas: u32,
    /// The server's persistent volume (the StatefulSet's volume claim template).
    pub storage: Storage,
    /// Requests and limits of the PostgreSQL container. A null `limits.cpu`
    /// drops the CPU limit; the memory limit stays required.
    pub resources: Resources,
    /// TLS for every connection over the network, with a certificate from
    /// cert-manager; default: on, with a private CA for this server.
    #[serde(default)]
    pub tls: Tls,
    /// The `postgres` superuser's password, from the secrets file.
    pub superuser_password: Sensitive,
    /// One database and user per application. Each app's user may open its
    /// own database only (`CONNECT` is revoked from everyone else).
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
                "One PostgreSQL server (14 or later) as a StatefulSet (non-root, probes, persistent \
                 volume) with a database and user per application, created by an idempotent SQL Job. \
                 TLS only by default, with a certificate from cert-manager (a private CA per server, or \
                 the issuer named in tls.issuer), verified by clients (sslmode verify-full). For \
                 staging: no replication, failover or backups.",
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
            out.extend(tls::validate(&inputs.tls));
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
        let (name, namespace) = (&req.component.name, &req.component.namespace);
        let meta = k8s::Meta::new(&req.component, name.clone(), "database");
        let superuser =
            SecretKeyRef { name: format!("{name}-superuser"), key: "password".into(), namespace: None };
        let cert = inputs.tls.enabled.then(|| tls::certificate(&meta, namespace, inputs.tls.issuer.as_ref()));

        let host = format!("{name}.{namespace}.svc");

        let mut objects = vec![k8s::secret(
            &meta.renamed(superuser.name.clone()),
            &BTreeMap::from([("password".to_owned(), inputs.superuser_password.clone())]),
        )];
        objects.extend(apps.iter().map(|app| apps::secret(req, app)));
        objects.extend(server_objects(&meta, &inputs, &superuser, cert.as_ref()));
        if !apps.is_empty() {
            let target = init_job::Target {
                host: host.clone(),
                image: &inputs.image,
                superuser: &superuser,
                tls: cert.as_ref(),
            };
            objects.extend(init_job::objects(
                &req.component,
                name,
                &target,
                &apps,
                &inputs.superuser_password,
            ));
        }

        let (sslmode, ca_secret) = match cert {
            Some(cert) => (SslMode::VerifyFull, Some(cert.ca)),
            None => (SslMode::Disable, None),
        };
        let server =
            apps::Server { host, port: PORT, sslmode, ca_secret, network: vec![meta.network_peer(&[PORT])] };
        let outputs = apps::outputs(req, server, &apps, inputs.default_app.as_deref())?;
        Ok(ComponentPlan { objects, outputs, ..Default::default() })
    }
}

/// The certificate's objects (with TLS), the Services, the pg_hba
/// ConfigMap and the StatefulSet.
fn server_objects(
    meta: &k8s::Meta,
    inputs: &Inputs,
    superuser: &SecretKeyRef,
    cert: Option<&ServerCertificate>,
) -> Vec<Value> {
    let mut objects: Vec<Value> = cert.map(|c| c.objects.clone()).unwrap_or_default();
    let headless = format!("{}-headless", meta.name());
    objects.extend(services(meta, &headless));
    objects.push(server::hba_config_map(meta, cert.is_some()));
    objects.push(server::stateful_set(meta, &headless, inputs, superuser, cert));
    objects
}

/// The headless Service (the StatefulSet's identity) and the clients' Service.
fn services(meta: &k8s::Meta, headless: &str) -> [Value; 2] {
    let mut headless_service = k8s::service(&meta.renamed(headless), &[("postgres", PORT)]);
    headless_service["spec"]["clusterIP"] = json!("None");
    // Peers and the Job resolve the pod before it is ready.
    headless_service["spec"]["publishNotReadyAddresses"] = json!(true);
    [headless_service, k8s::service(meta, &[("postgres", PORT)])]
}

capstan_sdk::export_plugin!(PostgresStatefulSet);
