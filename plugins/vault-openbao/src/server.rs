//! In-cluster mode: an OpenBao cluster of Raft peers, as the upstream Helm
//! chart's HA Raft mode lays it out.
//!
//! - a StatefulSet of `replicas` peers (pods `<name>-0` …), started all at
//!   once (`Parallel`: a peer is not ready until it is unsealed, so an
//!   ordered start would wait on the operator for each one) and updated
//!   `OnDelete` (each restarted peer comes back sealed unless auto-unseal is
//!   set, so the operator restarts and unseals them one at a time, standbys
//!   first), each with a volume for its Raft data;
//! - a headless Service `<name>-internal` giving each peer a DNS name,
//!   published before it is ready, which is how peers find each other
//!   (`retry_join`) and forward requests (port 8201);
//! - a Service `<name>` over the ready peers (a standby forwards what it
//!   cannot serve) and a Service `<name>-active` over the leader only: the
//!   server labels its own pod `openbao-active: "true"` when it leads
//!   (`service_registration "kubernetes"`), for which its ServiceAccount may
//!   read and label the pods of its namespace (a Role);
//! - a PodDisruptionBudget letting one peer go at a time;
//! - a ConfigMap with the server's HCL configuration.
//!
//! With `monitoring`, the configuration also keeps Prometheus metrics
//! (`telemetry`) and serves them without a token (the listener's
//! `telemetry`), and the client Service carries the label the
//! ServiceMonitor selects (see [`crate::monitoring`]).
//!
//! With `kubernetes_auth`, the ServiceAccount may also review tokens
//! (`system:auth-delegator`), which is how the server checks an app's
//! ServiceAccount token when it logs in.
//!
//! Nothing here initialises or unseals the server, or holds a root token or
//! an unseal key: that is the operator's, once, with `bao operator init`.

use std::fmt::Write as _;

use capstan_sdk::k8s::{self, Container, IntOrPercent, PodTemplate};
use capstan_sdk::prelude::*;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::inputs::{AutoUnseal, Inputs};

/// The API port, which clients and the readiness probe use.
pub const API_PORT: u16 = 8200;
/// The port peers replicate and forward requests on (always TLS, with
/// certificates the cluster makes for itself).
pub const CLUSTER_PORT: u16 = 8201;
/// The uid and gid of the `openbao` user of the official image.
const OPENBAO_UID: u32 = 100;
const OPENBAO_GID: u32 = 1000;

const CONFIG_DIR: &str = "/openbao/config";
const CONFIG_FILE: &str = "config.hcl";
const DATA_DIR: &str = "/openbao/data";
const TLS_DIR: &str = "/openbao/tls";
const HOME_DIR: &str = "/home/openbao";
/// The label the server sets on its own pod while it leads.
pub const ACTIVE_LABEL: &str = "openbao-active";
/// Mode of the listener certificate's files: the key readable by the
/// openbao group only (the pod's `fsGroup`).
const KEY_MODE: u32 = 0o440;

/// The readiness probe's path: 200 for the leader and (with these flags)
/// for standbys; 503 while sealed, 501 while uninitialised, so a peer takes
/// client traffic only once it is unsealed.
pub const READY_PATH: &str = "/v1/sys/health?standbyok=true&perfstandbyok=true";
/// The liveness probe's path: as the readiness one, but a sealed or
/// uninitialised server is alive (it waits for the operator), not restarted.
const ALIVE_PATH: &str = "/v1/sys/health?standbyok=true&perfstandbyok=true&sealedcode=204&uninitcode=204";

/// The names of the objects of component `name`.
pub struct Names {
    /// The StatefulSet, its ServiceAccount, PDB and client Service: `<name>`.
    pub server: String,
    /// The headless Service naming each peer: `<name>-internal`.
    pub headless: String,
    /// The Service over the leader: `<name>-active`.
    pub active: String,
    /// The ConfigMap of the server's configuration: `<name>-config`.
    pub config: String,
    /// The Role (and RoleBinding) of service registration: `<name>-discovery`.
    pub discovery: String,
    /// The ClusterRoleBinding to `system:auth-delegator`.
    pub auth_delegator: String,
    /// With `monitoring`: the PrometheusRule, `<name>-alerts`.
    pub alerts: String,
    /// With `monitoring`: the dashboard's ConfigMap, `<name>-dashboard`.
    pub dashboard: String,
}

impl Names {
    /// The names of `component`'s objects.
    pub fn new(component: &ComponentId) -> Self {
        let name = &component.name;
        Self {
            server: name.clone(),
            headless: format!("{name}-internal"),
            active: format!("{name}-active"),
            config: format!("{name}-config"),
            discovery: format!("{name}-discovery"),
            // Cluster-scoped: the namespace keeps two components of one name apart.
            auth_delegator: format!("capstan-{}-{name}-auth-delegator", component.namespace),
            alerts: format!("{name}-alerts"),
            dashboard: format!("{name}-dashboard"),
        }
    }
}

/// The server's own address for apps in the cluster:
/// `http(s)://<name>.<namespace>.svc:8200`.
pub fn default_address(component: &ComponentId, tls: bool) -> String {
    format!("{}://{}.{}.svc:{API_PORT}", scheme(tls), component.name, component.namespace)
}

fn scheme(tls: bool) -> &'static str {
    if tls { "https" } else { "http" }
}

/// The pods of the server, for the `network` output and the Services.
pub fn meta(component: &ComponentId) -> k8s::Meta {
    k8s::Meta::new(component, component.name.clone(), "server")
}

/// Every object of in-cluster mode, in apply order.
pub fn objects(req: &PlanRequest, inputs: &Inputs) -> Vec<Value> {
    let names = Names::new(&req.component);
    let meta = meta(&req.component);
    let config = config_hcl(&req.component, &names, inputs);

    let mut account = k8s::service_account(&meta, false);
    if !inputs.service_account_annotations.is_empty() {
        account["metadata"]["annotations"] = json!(inputs.service_account_annotations);
    }
    let mut objects = vec![account];
    objects.extend(discovery_rbac(&meta, &names));
    if inputs.kubernetes_auth.is_some() {
        objects.push(auth_delegator(&meta, &names));
    }
    objects.push(k8s::config_map(
        &meta.renamed(names.config.clone()),
        &[(CONFIG_FILE.to_owned(), config.clone())].into(),
    ));
    objects.extend(services(&meta, &names, inputs.monitoring.is_some()));
    objects.push(k8s::pod_disruption_budget_max_unavailable(&meta, &IntOrPercent::Int(1)));
    objects.push(stateful_set(&req.component, &meta, &names, inputs, &config));
    objects
}

/// The server's configuration: the listener, Raft storage joining every
/// peer, Kubernetes service registration (the `openbao-active` label), the
/// UI, a seal when auto-unseal is set, and the telemetry stanzas with
/// `monitoring`. No secret is in it.
pub fn config_hcl(component: &ComponentId, names: &Names, inputs: &Inputs) -> String {
    let tls = inputs.tls.secret.is_some();
    let metrics = inputs.monitoring.is_some();
    let mut hcl = format!(
        "# Written by capstan/vault-openbao for {} in namespace {}.\n\
         ui = true\n\n\
         listener \"tcp\" {{\n  \
           address         = \"[::]:{API_PORT}\"\n  \
           cluster_address = \"[::]:{CLUSTER_PORT}\"\n",
        component.name, component.namespace
    );
    if tls {
        let _ = write!(
            hcl,
            "  tls_cert_file   = \"{TLS_DIR}/tls.crt\"\n  tls_key_file    = \"{TLS_DIR}/tls.key\"\n"
        );
    } else {
        hcl.push_str("  # No tls.secret: plain HTTP. Not for production.\n  tls_disable     = 1\n");
    }
    if metrics {
        // A sealed node accepts no token, so without this it could not say
        // it is sealed (vault_core_unsealed 0): its scrape would fail.
        hcl.push_str(
            "\n  # Prometheus reads /v1/sys/metrics without a token, sealed nodes too.\n  \
             telemetry {\n    unauthenticated_metrics_access = true\n  }\n",
        );
    }
    hcl.push_str("}\n\n");
    let _ = writeln!(hcl, "storage \"raft\" {{\n  path = \"{DATA_DIR}\"");
    for i in 0..inputs.replicas {
        let _ = write!(
            hcl,
            "\n  retry_join {{\n    leader_api_addr = \"{}://{}\"\n",
            scheme(tls),
            peer_host(component, names, i, API_PORT)
        );
        if tls {
            let _ = writeln!(hcl, "    leader_ca_cert_file = \"{TLS_DIR}/ca.crt\"");
        }
        hcl.push_str("  }\n");
    }
    hcl.push_str("}\n\n");
    hcl.push_str("# Labels the leader's pod openbao-active=true, which the -active Service selects.\n");
    hcl.push_str("service_registration \"kubernetes\" {}\n");
    if let Some(seal) = &inputs.auto_unseal {
        hcl.push('\n');
        hcl.push_str(&seal_stanza(seal));
    }
    if metrics {
        // `prometheus_retention_time` turns the Prometheus format on (0, the
        // default, leaves it off); it outlasts the 30 s scrape interval.
        // No host name in metric names: the `instance` label says which peer.
        hcl.push_str(
            "\n# Metrics in the Prometheus format at /v1/sys/metrics?format=prometheus.\n\
             telemetry {\n  prometheus_retention_time = \"30s\"\n  disable_hostname          = true\n}\n",
        );
    }
    hcl
}

/// `<name>-<i>.<headless>.<namespace>.svc:<port>`: a peer by its stable name.
fn peer_host(component: &ComponentId, names: &Names, i: u32, port: u16) -> String {
    format!("{}-{i}.{}.{}.svc:{port}", names.server, names.headless, component.namespace)
}

fn seal_stanza(seal: &AutoUnseal) -> String {
    let mut out = format!("seal \"{}\" {{\n", hcl_escape(&seal.kind));
    let width = seal.settings.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in &seal.settings {
        let _ = writeln!(out, "  {key:width$} = \"{}\"", hcl_escape(value));
    }
    out.push_str("}\n");
    out
}

/// A string as an HCL quoted template holds it literally.
fn hcl_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('\t', "\\t")
        .replace("${", "$${")
        .replace("%{", "%%{")
}

/// The Role letting the server label its own pod (service registration),
/// and its binding to the ServiceAccount.
fn discovery_rbac(meta: &k8s::Meta, names: &Names) -> [Value; 2] {
    let role_meta = meta.renamed(names.discovery.clone());
    let rules = json!([{ "apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list", "update", "patch"] }]);
    let role_ref =
        json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": names.discovery });
    [
        rbac("Role", &role_meta, [("rules", rules)]),
        rbac("RoleBinding", &role_meta, [("roleRef", role_ref), ("subjects", subjects(meta, names))]),
    ]
}

/// Lets the server's ServiceAccount review the tokens apps log in with.
fn auth_delegator(meta: &k8s::Meta, names: &Names) -> Value {
    let binding_meta = meta.renamed(names.auth_delegator.clone()).cluster_scoped();
    let role_ref = json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator" });
    rbac("ClusterRoleBinding", &binding_meta, [("roleRef", role_ref), ("subjects", subjects(meta, names))])
}

/// The server's ServiceAccount, as an RBAC binding names it.
fn subjects(meta: &k8s::Meta, names: &Names) -> Value {
    json!([{ "kind": "ServiceAccount", "name": names.server, "namespace": meta.namespace() }])
}

/// An RBAC object: its fields sit beside `metadata`, with no `spec`.
fn rbac<const N: usize>(kind: &str, meta: &k8s::Meta, fields: [(&str, Value); N]) -> Value {
    let mut object = Map::with_capacity(3 + N);
    object.insert("apiVersion".into(), json!("rbac.authorization.k8s.io/v1"));
    object.insert("kind".into(), json!(kind));
    object.insert("metadata".into(), meta.to_value());
    for (key, value) in fields {
        object.insert(key.to_owned(), value);
    }
    Value::Object(object)
}

/// The headless Service (peers' names), the clients' Service and the
/// leader's. With `scraped`, the clients' Service carries the label the
/// ServiceMonitor selects: the three share their other labels, and one
/// Service scraped is each peer scraped once.
fn services(meta: &k8s::Meta, names: &Names, scraped: bool) -> [Value; 3] {
    let ports = [("api", API_PORT), ("cluster", CLUSTER_PORT)];
    let mut headless = k8s::service(&meta.renamed(names.headless.clone()), &ports);
    headless["spec"]["clusterIP"] = json!("None");
    // Peers find and join each other while still sealed.
    headless["spec"]["publishNotReadyAddresses"] = json!(true);
    let client = if scraped {
        k8s::service(&meta.clone().label(crate::monitoring::SCRAPED_LABEL, "true"), &[("api", API_PORT)])
    } else {
        k8s::service(meta, &[("api", API_PORT)])
    };
    let mut active = k8s::service(&meta.renamed(names.active.clone()), &ports);
    active["spec"]["selector"][ACTIVE_LABEL] = json!("true");
    [headless, client, active]
}

fn stateful_set(
    component: &ComponentId,
    meta: &k8s::Meta,
    names: &Names,
    inputs: &Inputs,
    config: &str,
) -> Value {
    let tls = inputs.tls.secret.is_some();
    let own =
        |port: u16| format!("$(BAO_K8S_POD_NAME).{}.{}.svc:{port}", names.headless, component.namespace);
    let field = |path: &str| json!({ "fieldRef": { "fieldPath": path } });
    let mut env = vec![
        json!({ "name": "BAO_K8S_POD_NAME", "valueFrom": field("metadata.name") }),
        json!({ "name": "BAO_K8S_NAMESPACE", "valueFrom": field("metadata.namespace") }),
        json!({ "name": "BAO_RAFT_NODE_ID", "valueFrom": field("metadata.name") }),
        json!({ "name": "BAO_API_ADDR", "value": format!("{}://{}", scheme(tls), own(API_PORT)) }),
        json!({ "name": "BAO_CLUSTER_ADDR", "value": format!("https://{}", own(CLUSTER_PORT)) }),
        json!({ "name": "HOME", "value": HOME_DIR }),
    ];
    // For `bao` run in the pod (`kubectl exec … bao operator init`): by its
    // own name, which the certificate holds, else on loopback.
    if tls {
        env.push(json!({ "name": "BAO_ADDR", "value": format!("https://{}", own(API_PORT)) }));
        env.push(json!({ "name": "BAO_CACERT", "value": format!("{TLS_DIR}/ca.crt") }));
    } else {
        env.push(json!({ "name": "BAO_ADDR", "value": format!("http://127.0.0.1:{API_PORT}") }));
    }
    let probe = |path: &str, delay: u32| {
        json!({
            "httpGet": { "path": path, "port": "api", "scheme": if tls { "HTTPS" } else { "HTTP" } },
            "initialDelaySeconds": delay, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 2,
        })
    };
    let mut container = Container::new("openbao", inputs.image.clone())
        .command(["bao", "server", &format!("-config={CONFIG_DIR}/{CONFIG_FILE}")])
        .port("api", API_PORT)
        .port("cluster", CLUSTER_PORT)
        .field("env", Value::Array(env))
        .resources(&inputs.resources)
        .readiness_probe(probe(READY_PATH, 5))
        .liveness_probe(probe(ALIVE_PATH, 60))
        .volume_mount("data", DATA_DIR)
        .read_only_mount("config", CONFIG_DIR)
        .volume_mount("home", HOME_DIR)
        .volume_mount("tmp", "/tmp");
    if tls {
        container = container.read_only_mount("tls", TLS_DIR);
    }
    let mut pod = PodTemplate::new(meta)
        .run_as(OPENBAO_UID, OPENBAO_GID)
        .service_account(&names.server)
        // Service registration labels the pod through the API server.
        .field("automountServiceAccountToken", json!(true))
        // A new configuration is a new revision; with OnDelete it takes
        // effect as the operator restarts each peer.
        .annotation("capstan.dev/config-sha256", short_sha256(config))
        .field("affinity", spread(meta))
        .container(&container)
        .volume(json!({ "name": "config", "configMap": { "name": names.config } }))
        .empty_dir("home")
        .empty_dir("tmp");
    if let Some(secret) = &inputs.tls.secret {
        pod =
            pod.volume(json!({ "name": "tls", "secret": { "secretName": secret, "defaultMode": KEY_MODE } }));
    }
    let mut sts =
        k8s::stateful_set(meta, &names.headless, inputs.replicas, &pod, vec![volume_claim(meta, inputs)]);
    sts["spec"]["podManagementPolicy"] = json!("Parallel");
    sts["spec"]["updateStrategy"] = json!({ "type": "OnDelete" });
    sts
}

/// Peers on distinct nodes where the scheduler can: a node lost then takes
/// one peer, not the quorum. Preferred, not required, so a small cluster
/// still runs them all.
fn spread(meta: &k8s::Meta) -> Value {
    json!({
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100,
                "podAffinityTerm": {
                    "labelSelector": { "matchLabels": meta.selector() },
                    "topologyKey": "kubernetes.io/hostname",
                },
            }],
        },
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

/// 16 hex digits of SHA-256: enough to tell two files apart.
fn short_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_owned()
}

/// A StatefulSet of this plugin is ready when every peer is: ready means
/// unsealed (the readiness probe), so until the operator has initialised
/// and unsealed the cluster, it is progressing, and says why. A new
/// revision is not waited for: updates are `OnDelete`, the operator's to
/// roll.
pub fn health(object: &Value) -> Health {
    let generation = object.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    let observed = object.pointer("/status/observedGeneration").and_then(Value::as_i64).unwrap_or(0);
    if observed < generation {
        return Health::Progressing("waiting for the controller to see the new spec".to_owned());
    }
    let want = object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let ready = object.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0);
    if ready >= want {
        Health::Ready
    } else {
        Health::Progressing(format!(
            "{ready} of {want} OpenBao peers ready: a peer is ready once the cluster is initialised \
             (`bao operator init`, once) and it is unsealed (`bao operator unseal`, or auto-unseal)"
        ))
    }
}
