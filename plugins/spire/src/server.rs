//! The SPIRE server and the controller manager beside it.
//!
//! One StatefulSet: each pod runs `spire-server` and
//! `spire-controller-manager`, which share the server's admin API socket in
//! an `emptyDir` (the controller manager registers workloads through it, as
//! upstream deploys it). The servers share the postgres datastore
//! ([`crate::datastore`]); each keeps its CA keys on its own volume
//! (`KeyManager "disk"`). Agents attest with `k8s_psat`: the server checks
//! their projected ServiceAccount tokens with the TokenReview API and reads
//! their pods and nodes. The `k8sbundle` notifier writes the trust bundle
//! into the bundle ConfigMap, which the agents mount to trust the server.
//!
//! The controller manager runs with `ENABLE_WEBHOOKS=false`: its validating
//! webhook would check hand-written ClusterSPIFFEIDs, but while no server
//! answers it (the first apply, when the ClusterSPIFFEIDs are applied with
//! the server) it refuses them all, and this plan's are checked here. So it
//! needs no ValidatingWebhookConfiguration and no right to patch one.

use std::collections::BTreeMap;

use capstan_sdk::k8s::{self, Container, PodTemplate};
use serde_json::{Value, json};

use crate::datastore::{self, Datastore};
use crate::names::{hcl, hcl_list, health_checks, ports};
use crate::{Plan, short_sha256};

/// The uid and gid of the SPIRE images' user (the server's directories in
/// the image belong to it).
pub const SPIRE_UID: u32 = 1000;

const CONFIG_DIR: &str = "/run/spire/server/config";
const CONFIG_FILE: &str = "server.conf";
const DATA_DIR: &str = "/run/spire/server/data";
/// The admin API socket's directory (a path the image creates for uid 1000).
const SOCKET_DIR: &str = "/run/spire/server/private";
/// Where the controller manager sees the same directory (its default).
const CM_SOCKET_DIR: &str = "/spire-server";
const CM_CONFIG_DIR: &str = "/etc/spire-controller-manager";
const CM_CONFIG_FILE: &str = "config.yaml";

/// The server's `server.conf`.
pub fn server_conf(p: &Plan, ds: &Datastore) -> String {
    let inputs = p.inputs;
    let subject = &inputs.ca_subject;
    let mut server = vec![
        "bind_address = \"0.0.0.0\"".to_owned(),
        format!("bind_port = \"{}\"", ports::SERVER),
        format!("socket_path = {}", hcl(&format!("{SOCKET_DIR}/api.sock"))),
        format!("trust_domain = {}", hcl(p.trust_domain)),
        format!("data_dir = {}", hcl(DATA_DIR)),
        format!("log_level = \"{}\"", inputs.log_level.upper()),
        format!(
            "ca_subject {{\n    country = {}\n    organization = {}\n    common_name = {}\n  }}",
            hcl_list(&subject.country),
            hcl_list(&subject.organization),
            hcl(&subject.common_name)
        ),
    ];
    if let Some(oidc) = &p.oidc {
        server.push(format!("jwt_issuer = {}", hcl(&oidc.issuer)));
    }
    let agents = format!("{}:{}", p.c.namespace, p.names.agent);
    let mut conf = format!(
        "# Written by capstan/spire.\n\
         server {{\n  {server}\n}}\n\
         \n\
         plugins {{\n\
         \x20 # The password is not here: the server reads it from {pw} (a Secret).\n\
         \x20 DataStore \"sql\" {{\n\
         \x20   plugin_data {{\n\
         \x20     database_type = \"postgres\"\n\
         \x20     connection_string = {conn}\n\
         \x20   }}\n\
         \x20 }}\n\
         \n\
         \x20 NodeAttestor \"k8s_psat\" {{\n\
         \x20   plugin_data {{\n\
         \x20     clusters = {{\n\
         \x20       {cluster} = {{\n\
         \x20         service_account_allow_list = [{agents}]\n\
         \x20       }}\n\
         \x20     }}\n\
         \x20   }}\n\
         \x20 }}\n\
         \n\
         \x20 KeyManager \"disk\" {{\n\
         \x20   plugin_data {{\n\
         \x20     keys_path = {keys}\n\
         \x20   }}\n\
         \x20 }}\n\
         \n\
         \x20 Notifier \"k8sbundle\" {{\n\
         \x20   plugin_data {{\n\
         \x20     namespace = {ns}\n\
         \x20     config_map = {bundle}\n\
         \x20   }}\n\
         \x20 }}\n\
         }}\n",
        server = server.join("\n  "),
        pw = datastore::PASSWORD_ENV,
        conn = hcl(&ds.connection_string),
        cluster = hcl(p.cluster_name),
        agents = hcl(&agents),
        keys = hcl(&format!("{DATA_DIR}/keys.json")),
        ns = hcl(&p.c.namespace),
        bundle = hcl(&p.names.bundle),
    );
    conf.push_str(&health_checks());
    if p.inputs.monitoring.is_some() {
        conf.push_str(&crate::monitoring::telemetry());
    }
    conf
}

/// The controller manager's `ControllerManagerConfig` (YAML; every string
/// quoted as JSON, which YAML reads the same).
pub fn controller_manager_config(p: &Plan) -> String {
    let q = |s: &str| Value::String(s.to_owned()).to_string();
    let ignored: String = crate::inputs::IGNORED_NAMESPACES
        .iter()
        .map(|ns| format!("  - {}\n", q(&format!("^{ns}$"))))
        .collect();
    format!(
        "# Written by capstan/spire.\n\
         apiVersion: spire.spiffe.io/v1alpha1\n\
         kind: ControllerManagerConfig\n\
         metrics:\n  bindAddress: {metrics}\n\
         health:\n  healthProbeBindAddress: {health}\n\
         leaderElection:\n  leaderElect: true\n  resourceName: {lease}\n  resourceNamespace: {ns}\n\
         clusterName: {cluster}\n\
         trustDomain: {td}\n\
         spireServerSocketPath: {socket}\n\
         # Only this component's ClusterSPIFFEIDs (and hand-written ones of no class).\n\
         className: {class}\n\
         watchClassless: true\n\
         ignoreNamespaces:\n{ignored}\
         logLevel: {log}\n",
        metrics = q(&format!("127.0.0.1:{}", ports::CONTROLLER_MANAGER_METRICS)),
        health = q(&format!("0.0.0.0:{}", ports::CONTROLLER_MANAGER_HEALTH)),
        lease = q(&p.names.controller_manager),
        ns = q(&p.c.namespace),
        cluster = q(p.cluster_name),
        td = q(p.trust_domain),
        socket = q(&format!("{CM_SOCKET_DIR}/api.sock")),
        class = q(&p.names.class),
        log = q(p.inputs.log_level.lower()),
    )
}

/// Every object of the server: ServiceAccount and RBAC (its own, the
/// controller manager's), the bundle ConfigMap, both configurations, the
/// Services and the StatefulSet.
pub fn objects(p: &Plan, ds: &Datastore) -> Vec<Value> {
    let n = &p.names;
    let meta = p.meta(&n.server, "server");
    let conf = server_conf(p, ds);
    let cm_conf = controller_manager_config(p);
    let mut objects = vec![k8s::service_account(&meta, true)];
    objects.extend(rbac(p));
    // No data: the k8sbundle notifier writes `bundle.crt`, and fields this
    // plan does not set stay the notifier's under server-side apply.
    objects.push(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": p.meta(&n.bundle, "bundle").to_value() }));
    objects.push(k8s::config_map(&meta, &BTreeMap::from([(CONFIG_FILE.to_owned(), conf.clone())])));
    objects.push(k8s::config_map(
        &p.meta(&n.controller_manager, "server"),
        &BTreeMap::from([(CM_CONFIG_FILE.to_owned(), cm_conf.clone())]),
    ));
    let mut headless = k8s::service(&meta.renamed(n.headless.clone()), &[("grpc", ports::SERVER)]);
    headless["spec"]["clusterIP"] = json!("None");
    objects.push(headless);
    objects.push(if p.inputs.monitoring.is_some() {
        // The exporter's port, on the Service the ServiceMonitor selects
        // (its label): the headless one shares the other labels.
        let scraped = meta.clone().label(crate::monitoring::SCRAPED_LABEL, "true");
        k8s::service(&scraped, &[("grpc", ports::SERVER), ("metrics", ports::METRICS)])
    } else {
        k8s::service(&meta, &[("grpc", ports::SERVER)])
    });
    objects.push(stateful_set(p, ds, &format!("{conf}\n{cm_conf}")));
    objects
}

/// The rules of the server (TokenReviews and nodes, cluster-wide; pods and
/// the bundle ConfigMap in its namespace, where the agents run) and of the
/// controller manager (what upstream's `manager-role` grants, less the
/// webhook's; leases and events for leader election).
fn rbac(p: &Plan) -> Vec<Value> {
    let n = &p.names;
    let sa = [json!({ "kind": "ServiceAccount", "name": n.server, "namespace": p.c.namespace })];
    let server_rules = json!([
        { "apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create", "get"] },
        { "apiGroups": [""], "resources": ["nodes"], "verbs": ["get"] },
    ]);
    let server_ns_rules = json!([
        { "apiGroups": [""], "resources": ["pods"], "verbs": ["get"] },
        { "apiGroups": [""], "resources": ["configmaps"], "resourceNames": [n.bundle], "verbs": ["get", "patch"] },
    ]);
    let cm_rules = json!([
        { "apiGroups": [""], "resources": ["endpoints", "namespaces", "nodes", "pods"], "verbs": ["get", "list", "watch"] },
        {
            "apiGroups": ["spire.spiffe.io"],
            "resources": ["clusterfederatedtrustdomains", "clusterspiffeids", "clusterstaticentries"],
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
        },
        {
            "apiGroups": ["spire.spiffe.io"],
            "resources": ["clusterfederatedtrustdomains/finalizers", "clusterspiffeids/finalizers", "clusterstaticentries/finalizers"],
            "verbs": ["update"],
        },
        {
            "apiGroups": ["spire.spiffe.io"],
            "resources": ["clusterfederatedtrustdomains/status", "clusterspiffeids/status", "clusterstaticentries/status"],
            "verbs": ["get", "patch", "update"],
        },
    ]);
    let cm_ns_rules = json!([
        { "apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"] },
        { "apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"] },
    ]);
    let mut out = Vec::new();
    out.extend(crate::role_pair(p, true, &p.names.cluster_scoped("server"), "server", server_rules, &sa));
    out.extend(crate::role_pair(p, false, &n.server, "server", server_ns_rules, &sa));
    out.extend(crate::role_pair(
        p,
        true,
        &p.names.cluster_scoped("controller-manager"),
        "server",
        cm_rules,
        &sa,
    ));
    out.extend(crate::role_pair(p, false, &n.controller_manager, "server", cm_ns_rules, &sa));
    out
}

fn stateful_set(p: &Plan, ds: &Datastore, config: &str) -> Value {
    let inputs = p.inputs;
    let n = &p.names;
    let meta = p.meta(&n.server, "server");
    let mut server = Container::new("spire-server", inputs.images.server.clone())
        .args(["-config".to_owned(), format!("{CONFIG_DIR}/{CONFIG_FILE}")])
        .port("grpc", ports::SERVER)
        .port("health", ports::HEALTH)
        .env_secret(datastore::PASSWORD_ENV, &ds.password)
        .resources(&inputs.resources.server)
        // A first start migrates the datastore: up to five minutes before
        // the liveness probe may restart it.
        .startup_probe(json!({
            "httpGet": { "path": "/live", "port": "health" },
            "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 60,
        }))
        .liveness_probe(k8s::http_probe("/live", "health"))
        .readiness_probe(k8s::http_probe("/ready", "health"))
        .read_only_mount("config", CONFIG_DIR)
        .volume_mount("data", DATA_DIR)
        .volume_mount("admin-socket", SOCKET_DIR)
        .volume_mount("tmp", "/tmp");
    if ds.ca.is_some() {
        server = server.read_only_mount(datastore::CA_VOLUME, datastore::CA_DIR);
    }
    if inputs.monitoring.is_some() {
        server = server.port("metrics", ports::METRICS);
    }
    let controller_manager =
        Container::new("spire-controller-manager", inputs.images.controller_manager.clone())
            .args([format!("--config={CM_CONFIG_DIR}/{CM_CONFIG_FILE}")])
            .env("ENABLE_WEBHOOKS", "false")
            .port("healthz", ports::CONTROLLER_MANAGER_HEALTH)
            .resources(&inputs.resources.controller_manager)
            .liveness_probe(k8s::http_probe("/healthz", "healthz"))
            .readiness_probe(k8s::http_probe("/readyz", "healthz"))
            .read_only_mount("controller-manager-config", CM_CONFIG_DIR)
            .read_only_mount("admin-socket", CM_SOCKET_DIR)
            .volume_mount("cm-tmp", "/tmp");
    let mut pod = PodTemplate::new(&meta)
        .run_as(SPIRE_UID, SPIRE_UID)
        .service_account(&n.server)
        // Both containers call the Kubernetes API (TokenReviews, the bundle, the registrations).
        .field("automountServiceAccountToken", json!(true))
        // A new configuration restarts the servers, which read it at start only.
        .annotation("capstan.dev/config-sha256", short_sha256(config))
        .container(&server)
        .container(&controller_manager)
        .volume(json!({ "name": "config", "configMap": { "name": n.server } }))
        .volume(json!({ "name": "controller-manager-config", "configMap": { "name": n.controller_manager } }))
        .empty_dir("admin-socket")
        .empty_dir("tmp")
        .empty_dir("cm-tmp");
    if let Some(volume) = ds.ca_volume() {
        pod = pod.volume(volume);
    }
    k8s::stateful_set(&meta, &n.headless, inputs.replicas, &pod, vec![volume_claim(p)])
}

fn volume_claim(p: &Plan) -> Value {
    let storage = &p.inputs.storage;
    let mut spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": { "requests": { "storage": storage.size } },
    });
    if let Some(class) = &storage.class {
        spec["storageClassName"] = json!(class);
    }
    json!({ "metadata": { "name": "data", "labels": p.meta(&p.names.server, "server").selector() }, "spec": spec })
}
