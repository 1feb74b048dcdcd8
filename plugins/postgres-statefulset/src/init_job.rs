//! The Job that runs the [init script](crate::init_sql) with `psql`, and the
//! ConfigMap holding the script.
//!
//! A Job's pod template cannot be changed once created, so the Job's name
//! carries a digest of everything it runs: the script, the pod template
//! (image, TLS, which Secrets it mounts) and the passwords, keyed by the
//! superuser password so the name reveals nothing about a password to
//! whoever can read object names. Adding an app, rotating a password or
//! turning TLS on makes a new Job (the engine prunes the old one); an
//! unchanged config plans the same Job.

use std::collections::BTreeMap;

use capstan_sdk::contracts::SecretKeyRef;
use capstan_sdk::contracts::postgres::apps::{self, PASSWORD_KEY};
use capstan_sdk::k8s::tls::ServerCertificate;
use capstan_sdk::k8s::{self, Container, PodTemplate, Resources};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::init_sql::{self, PASSWORDS_VAR};
use crate::{PORT, POSTGRES_UID};

/// Where the apps' password files are mounted, one per app, named by key.
const PASSWORDS_DIR: &str = "/etc/capstan/app-passwords";
/// Where the CA that signed the server's certificate is mounted.
const CA_DIR: &str = "/etc/capstan/ca";
/// Mode of the password files: read-only to the Job's user and group (the
/// kubelet adds group read for the pod's `fsGroup` in any case).
const PASSWORD_MODE: u32 = 0o440;

/// How the Job reaches the server.
pub struct Target<'a> {
    /// Host name of the server, as its certificate names it.
    pub host: String,
    /// The image whose `psql` runs the script (the server's).
    pub image: &'a str,
    /// The superuser's password Secret.
    pub superuser: &'a SecretKeyRef,
    /// The server's certificate, when it serves TLS.
    pub tls: Option<&'a ServerCertificate>,
}

/// The ConfigMap and the Job, both named `<server>-init-<digest>`.
pub fn objects(
    component: &ComponentId,
    server: &str,
    target: &Target<'_>,
    apps: &[apps::App],
    key: &Sensitive,
) -> [Value; 2] {
    let script = init_sql::script(apps);
    // The template with a placeholder name: what the digest must cover.
    let draft = job(&meta(component, String::new()), target, apps);
    let name = format!("{server}-init-{}", digest(key, &[&script, &draft.to_string()], apps));
    let meta = meta(component, name);
    [k8s::config_map(&meta, &BTreeMap::from([("init.sql".to_owned(), script)])), job(&meta, target, apps)]
}

/// Its own part label: with the server's labels, the Services would select the Job's pod.
fn meta(component: &ComponentId, name: String) -> k8s::Meta {
    k8s::Meta::new(component, name, "database-init")
}

fn job(meta: &k8s::Meta, target: &Target<'_>, apps: &[apps::App]) -> Value {
    let pod = PodTemplate::new(meta)
        .run_as(POSTGRES_UID, POSTGRES_UID)
        .container(&container(target))
        .volume(json!({ "name": "sql", "configMap": { "name": meta.name() } }))
        .volume(passwords_volume(apps))
        .field("restartPolicy", json!("OnFailure"));
    let pod = match target.tls {
        Some(cert) => pod.volume(json!({
            "name": "ca",
            "secret": { "secretName": cert.secret_name, "items": [{ "key": cert.ca.key, "path": "ca.crt" }] },
        })),
        None => pod,
    };
    json!({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": meta.to_value(),
        // Retries with back-off cover the server still starting on first apply.
        "spec": { "backoffLimit": 10, "template": pod.to_value() },
    })
}

fn container(target: &Target<'_>) -> Container {
    let passwords = format!("{PASSWORDS_VAR}={PASSWORDS_DIR}");
    let container = Container::new("psql", target.image)
        .command(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-v", passwords.as_str(), "-f", "/sql/init.sql"])
        .env("PGHOST", target.host.clone())
        .env("PGPORT", PORT.to_string())
        .env("PGUSER", "postgres")
        .env("PGDATABASE", "postgres")
        .env("PGCONNECT_TIMEOUT", "10")
        .env_secret("PGPASSWORD", target.superuser)
        .read_only_mount("sql", "/sql")
        .read_only_mount("passwords", PASSWORDS_DIR)
        .resources(&Resources {
            requests: k8s::Quantities { cpu: "50m".into(), memory: "64Mi".into() },
            limits: k8s::Limits { cpu: Some("500m".into()), memory: "256Mi".into() },
        });
    // As the apps do: TLS, and the server's name checked against the CA.
    match target.tls {
        Some(_) => container
            .env("PGSSLMODE", "verify-full")
            .env("PGSSLROOTCERT", format!("{CA_DIR}/ca.crt"))
            .read_only_mount("ca", CA_DIR),
        None => container.env("PGSSLMODE", "disable"),
    }
}

/// Every app's password as a file named by its key, from the app's Secret.
fn passwords_volume(apps: &[apps::App]) -> Value {
    let sources: Vec<Value> = apps
        .iter()
        .map(|app| {
            json!({ "secret": {
                "name": app.secret,
                "items": [{ "key": PASSWORD_KEY, "path": init_sql::password_file(app) }],
            } })
        })
        .collect();
    json!({ "name": "passwords", "projected": { "defaultMode": PASSWORD_MODE, "sources": sources } })
}

/// 10 hex digits over `parts` and every app's password, keyed with `key`.
fn digest(key: &Sensitive, parts: &[&str], apps: &[apps::App]) -> String {
    let mut h = Sha256::new();
    h.update(key.expose().as_bytes());
    for part in parts {
        h.update([0]);
        h.update(part.as_bytes());
    }
    for app in apps {
        h.update([0]);
        h.update(app.password.expose().as_bytes());
    }
    hex::encode(h.finalize())[..10].to_owned()
}
