//! The server: the StatefulSet running PostgreSQL, the `pg_hba.conf` it
//! reads from a ConfigMap, and with TLS the certificate's mount and the
//! sidecar that makes the server reload a renewed certificate.
//!
//! The server's settings are `-c` options on its command line, not edits
//! of the data directory: a server created before (without TLS) converges
//! on its next start, and the rendered StatefulSet says all there is.

use capstan_sdk::contracts::SecretKeyRef;
use capstan_sdk::k8s::tls::ServerCertificate;
use capstan_sdk::k8s::{self, Container, PodTemplate, Resources};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Inputs, PORT, POSTGRES_UID};

const DATA_DIR: &str = "/var/lib/postgresql/data";
/// Where the server's Unix socket is (the image's default): an emptyDir
/// shared by the server and the reloader, and by no other pod.
const SOCKET_DIR: &str = "/var/run/postgresql";
/// Where the server's certificate and key are mounted.
const TLS_DIR: &str = "/etc/capstan/tls";
/// The file the reloader rewrites with the time at each round, which its
/// liveness probe reads: in the socket directory, its one writable path.
const RELOADER_HEARTBEAT: &str = ".tls-reloader-alive";
/// How stale the heartbeat may grow before the kubelet restarts the
/// reloader: three rounds of a minute.
const RELOADER_STALE_SECONDS: u32 = 180;
/// Where the pg_hba ConfigMap is mounted.
const HBA_DIR: &str = "/etc/capstan/pg_hba";
const HBA_FILE: &str = "pg_hba.conf";

/// Mode of the certificate's files. PostgreSQL refuses a key file others
/// may read (the Secret volume's default, 0644), and accepts one owned by
/// root and readable by its group. With the pod's `fsGroup` (the postgres
/// gid) the kubelet makes a Secret's files root-owned, of that group, and
/// adds group read anyway: 0440 is what they end up as, written out.
const KEY_MODE: u32 = 0o440;

/// The server's `pg_hba.conf` (first match wins). Over the network, every
/// role logs in with its password (SCRAM), over TLS only when `tls`; which
/// database a role may open is the init script's business (`CONNECT`
/// grants), so adding an app changes nothing here. Over the Unix socket,
/// which only this pod's containers see, the superuser is trusted: the
/// image's first-run setup and the reloader connect that way, as the
/// image's own default file lets them.
pub fn pg_hba(tls: bool) -> String {
    let network = if tls {
        "# Over the network: TLS and a password, for every role.\n\
         hostssl all all      all scram-sha-256\n\
         # Plaintext over the network: refused, whoever asks.\n\
         host    all all      all reject\n"
    } else {
        "# Over the network: a password, for every role (TLS is off: tls.enabled = false).\n\
         host    all all      all scram-sha-256\n"
    };
    format!(
        "# Written by capstan/postgres-statefulset (the server's hba_file).\n\
         # Inside this pod (the image's setup, the certificate reloader).\n\
         local   all postgres     trust\n\
         {network}"
    )
}

/// The settings the server starts with, as `-c name=value` would give them.
pub fn settings(tls: bool) -> Vec<(&'static str, String)> {
    let mut settings = vec![("hba_file", format!("{HBA_DIR}/{HBA_FILE}"))];
    if tls {
        settings.extend([
            ("ssl", "on".to_owned()),
            ("ssl_cert_file", format!("{TLS_DIR}/tls.crt")),
            ("ssl_key_file", format!("{TLS_DIR}/tls.key")),
        ]);
    }
    settings
}

/// The ConfigMap holding [`pg_hba`], named `<server>-pg-hba`.
pub fn hba_config_map(server: &k8s::Meta, tls: bool) -> Value {
    let meta = server.renamed(hba_config_map_name(server));
    k8s::config_map(&meta, &[(HBA_FILE.to_owned(), pg_hba(tls))].into())
}

fn hba_config_map_name(server: &k8s::Meta) -> String {
    format!("{}-pg-hba", server.name())
}

/// The StatefulSet of one PostgreSQL server, behind the headless Service
/// `headless`, serving TLS with `tls`'s certificate when given.
pub fn stateful_set(
    meta: &k8s::Meta,
    headless: &str,
    inputs: &Inputs,
    superuser: &SecretKeyRef,
    tls: Option<&ServerCertificate>,
) -> Value {
    let mut args = vec!["postgres".to_owned()];
    for (name, value) in settings(tls.is_some()) {
        args.extend(["-c".to_owned(), format!("{name}={value}")]);
    }
    let mut container = Container::new("postgres", inputs.image.clone())
        .args(args)
        .port("postgres", PORT)
        .env_secret("POSTGRES_PASSWORD", superuser)
        // A sub-directory: a fresh volume's root holds `lost+found`, which initdb refuses.
        .env("PGDATA", format!("{DATA_DIR}/pgdata"))
        .resources(&inputs.resources)
        .readiness_probe(probe(10, 3))
        .liveness_probe(probe(20, 6))
        .volume_mount("data", DATA_DIR)
        // The root filesystem is read-only; the server writes its socket and temp files here.
        .volume_mount("run", SOCKET_DIR)
        .volume_mount("tmp", "/tmp")
        .read_only_mount("pg-hba", HBA_DIR);
    if tls.is_some() {
        container = container.read_only_mount("tls", TLS_DIR);
    }
    let mut pod = PodTemplate::new(meta)
        .run_as(POSTGRES_UID, POSTGRES_UID)
        // The server reads pg_hba.conf at start (and on reload): a new file
        // restarts the pod, so it takes effect without anyone signalling.
        .annotation("capstan.dev/pg-hba-sha256", short_sha256(&pg_hba(tls.is_some())))
        .container(&container)
        .empty_dir("run")
        .empty_dir("tmp")
        .volume(json!({ "name": "pg-hba", "configMap": { "name": hba_config_map_name(meta) } }));
    if let Some(cert) = tls {
        pod = pod.volume(tls_volume(cert)).container(&reloader(&inputs.image));
    }
    k8s::stateful_set(meta, headless, inputs.replicas, &pod, vec![volume_claim(meta, inputs)])
}

/// The certificate and key from cert-manager's Secret (not its `ca.crt`:
/// the server does not check client certificates).
fn tls_volume(cert: &ServerCertificate) -> Value {
    json!({
        "name": "tls",
        "secret": {
            "secretName": cert.secret_name,
            "defaultMode": KEY_MODE,
            "items": [{ "key": "tls.crt", "path": "tls.crt" }, { "key": "tls.key", "path": "tls.key" }],
        },
    })
}

/// `pg_isready` on TCP: the image's first-run setup listens on the socket
/// only, so a socket probe would call the server ready before it is. It
/// does not log in, so pg_hba refusing it does not matter.
fn probe(period: u32, failures: u32) -> Value {
    json!({
        "exec": { "command": ["pg_isready", "-U", "postgres", "-h", "127.0.0.1", "-p", PORT.to_string()] },
        "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures,
    })
}

fn volume_claim(meta: &k8s::Meta, inputs: &Inputs) -> Value {
    let mut spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": { "requests": { "storage": inputs.storage.size } },
    });
    if let Some(class) = &inputs.storage.class {
        spec["storageClassName"] = json!(class);
    }
    json!({ "metadata": { "name": "data", "labels": meta.selector() }, "spec": spec })
}

/// The sidecar that reloads the server when cert-manager renews its
/// certificate. PostgreSQL reads its certificate and key at start and on
/// reload only, and the kubelet updates the mounted files in place: without
/// a reload the server would serve the old certificate until it expires.
/// It checks every minute and reloads (`pg_reload_conf()` over the Unix
/// socket) when the files differ from what it last saw, so once after it
/// starts, which is harmless; a failed reload (the server still starting)
/// is tried again a minute later. Each round notes the time in a file its
/// liveness probe reads, so a loop that stopped turning (a `psql` hung on
/// the socket, say) is restarted.
fn reloader(image: &str) -> Container {
    let script = format!(
        "seen=''\n\
         while true; do\n\
         \x20 date +%s > {SOCKET_DIR}/{RELOADER_HEARTBEAT}\n\
         \x20 now=$(cat {TLS_DIR}/tls.crt {TLS_DIR}/tls.key | cksum)\n\
         \x20 if [ \"$now\" != \"$seen\" ] && psql -X -q -h {SOCKET_DIR} -U postgres -d postgres -c 'SELECT pg_reload_conf()' >/dev/null; then\n\
         \x20   seen=$now\n\
         \x20 fi\n\
         \x20 sleep 60\n\
         done\n"
    );
    // A missing or unreadable file fails the test too (the arithmetic does not parse).
    let alive = format!(
        "test $(( $(date +%s) - $(cat {SOCKET_DIR}/{RELOADER_HEARTBEAT}) )) -lt {RELOADER_STALE_SECONDS}"
    );
    Container::new("tls-reloader", image)
        .command(["sh", "-c", &script])
        .liveness_probe(json!({
            "exec": { "command": ["sh", "-c", alive] },
            "periodSeconds": 60, "timeoutSeconds": 5, "failureThreshold": 2,
        }))
        .read_only_mount("tls", TLS_DIR)
        .volume_mount("run", SOCKET_DIR)
        .resources(&Resources {
            requests: k8s::Quantities { cpu: "5m".into(), memory: "16Mi".into() },
            limits: k8s::Limits { cpu: Some("100m".into()), memory: "64Mi".into() },
        })
}

/// 16 hex digits of SHA-256: enough to tell two files apart.
fn short_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_owned()
}
