//! The SPIRE agent on every node: a DaemonSet that attests its node to the
//! server (`k8s_psat`, with a projected ServiceAccount token for the
//! audience `spire-server`) and serves the Workload API on a Unix socket
//! in a hostPath directory, which pods mount read-only.
//!
//! It runs as root with `hostPID`: the `k8s` workload attestor finds a
//! caller's pod from the caller's process (the socket's peer PID and its
//! cgroup), and only a process in the host's PID namespace sees the PIDs of
//! other pods' processes (SPIRE's own Kubernetes deployment says so:
//! "hostPID is required for K8S Workload Attestation"); root, because the
//! socket's hostPath directory is root's. Every capability is dropped, the
//! root filesystem is read-only, and it does not use the host's network:
//! it asks the kubelet about pods at the node's IP (or its name, with
//! `agent.verify_kubelet`) with its ServiceAccount token.

use std::collections::BTreeMap;

use capstan_sdk::k8s::{self, Container, PodTemplate};
use serde_json::{Value, json};

use crate::names::{hcl, health_checks, ports};
use crate::{Plan, short_sha256};

/// The socket's file name, in `agent.socket_dir` on the node.
pub const SOCKET_FILE: &str = "spire-agent.sock";
/// Where the agent container mounts `agent.socket_dir`.
const SOCKET_DIR: &str = "/run/spire/agent-sockets";
const CONFIG_DIR: &str = "/run/spire/agent/config";
const CONFIG_FILE: &str = "agent.conf";
const DATA_DIR: &str = "/run/spire/agent/data";
const BUNDLE_DIR: &str = "/run/spire/bundle";
/// The projected token's directory and file: `k8s_psat`'s default path.
const TOKEN_DIR: &str = "/var/run/secrets/tokens";
const TOKEN_FILE: &str = "spire-agent";
/// The audience the server's `k8s_psat` expects (its default).
const TOKEN_AUDIENCE: &str = "spire-server";
/// The variable the `k8s` workload attestor reads the kubelet's host from.
const NODE_NAME_ENV: &str = "MY_NODE_NAME";

/// The agent's `agent.conf`.
pub fn agent_conf(p: &Plan) -> String {
    let verify = p.inputs.agent.verify_kubelet;
    let kubelet = if verify {
        "# The kubelet's certificate is checked against the cluster CA.\n".to_owned()
    } else {
        "# The kubelet is reached at the node's IP, which its certificate may not name.\n      \
         skip_kubelet_verification = true\n"
            .to_owned()
    };
    let mut conf = format!(
        "# Written by capstan/spire.\n\
         agent {{\n\
         \x20 data_dir = {data}\n\
         \x20 log_level = \"{log}\"\n\
         \x20 server_address = {server}\n\
         \x20 server_port = \"{port}\"\n\
         \x20 socket_path = {socket}\n\
         \x20 trust_bundle_path = {bundle}\n\
         \x20 trust_domain = {td}\n\
         }}\n\
         \n\
         plugins {{\n\
         \x20 NodeAttestor \"k8s_psat\" {{\n\
         \x20   plugin_data {{\n\
         \x20     cluster = {cluster}\n\
         \x20     token_path = {token}\n\
         \x20   }}\n\
         \x20 }}\n\
         \n\
         \x20 KeyManager \"memory\" {{\n\
         \x20   plugin_data {{}}\n\
         \x20 }}\n\
         \n\
         \x20 WorkloadAttestor \"k8s\" {{\n\
         \x20   plugin_data {{\n\
         \x20     {kubelet}\
         \x20     node_name_env = \"{NODE_NAME_ENV}\"\n\
         \x20   }}\n\
         \x20 }}\n\
         }}\n",
        data = hcl(DATA_DIR),
        log = p.inputs.log_level.upper(),
        server = hcl(&p.server_host()),
        port = ports::SERVER,
        socket = hcl(&format!("{SOCKET_DIR}/{SOCKET_FILE}")),
        bundle = hcl(&format!("{BUNDLE_DIR}/bundle.crt")),
        td = hcl(p.trust_domain),
        cluster = hcl(p.cluster_name),
        token = hcl(&format!("{TOKEN_DIR}/{TOKEN_FILE}")),
    );
    conf.push_str(&health_checks());
    if p.inputs.monitoring.is_some() {
        conf.push_str(&crate::monitoring::telemetry());
    }
    conf
}

/// ServiceAccount, ClusterRole and binding, ConfigMap and DaemonSet.
pub fn objects(p: &Plan) -> Vec<Value> {
    let n = &p.names;
    let meta = p.meta(&n.agent, "agent");
    let conf = agent_conf(p);
    let mut objects = vec![k8s::service_account(&meta, true)];
    // What the kubelet authorises a pod listing with (nodes/proxy), and
    // what the attestor looks up.
    let rules =
        json!([{ "apiGroups": [""], "resources": ["pods", "nodes", "nodes/proxy"], "verbs": ["get"] }]);
    let sa = [json!({ "kind": "ServiceAccount", "name": n.agent, "namespace": p.c.namespace })];
    objects.extend(crate::role_pair(p, true, &n.cluster_scoped("agent"), "agent", rules, &sa));
    objects.push(k8s::config_map(&meta, &BTreeMap::from([(CONFIG_FILE.to_owned(), conf.clone())])));
    objects.push(daemon_set(p, &conf));
    objects
}

fn daemon_set(p: &Plan, conf: &str) -> Value {
    let inputs = p.inputs;
    let n = &p.names;
    let meta = p.meta(&n.agent, "agent");
    let node = if inputs.agent.verify_kubelet { "spec.nodeName" } else { "status.hostIP" };
    let mut agent = Container::new("spire-agent", inputs.images.agent.clone())
        .args(["-config".to_owned(), format!("{CONFIG_DIR}/{CONFIG_FILE}")])
        .field("env", json!([{ "name": NODE_NAME_ENV, "valueFrom": { "fieldRef": { "fieldPath": node } } }]))
        .port("health", ports::HEALTH)
        .resources(&inputs.resources.agent)
        .liveness_probe(json!({
            "httpGet": { "path": "/live", "port": "health" },
            "initialDelaySeconds": 15, "periodSeconds": 30, "timeoutSeconds": 3, "failureThreshold": 4,
        }))
        .readiness_probe(json!({
            "httpGet": { "path": "/ready", "port": "health" },
            "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3,
        }))
        // Root (the socket directory on the node is root's), nothing else.
        .field(
            "securityContext",
            json!({
                "runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": false,
                "readOnlyRootFilesystem": true,
                "allowPrivilegeEscalation": false,
                "capabilities": { "drop": ["ALL"] },
                "seccompProfile": { "type": "RuntimeDefault" },
            }),
        )
        .read_only_mount("config", CONFIG_DIR)
        .read_only_mount("bundle", BUNDLE_DIR)
        .read_only_mount("token", TOKEN_DIR)
        .volume_mount("sockets", SOCKET_DIR)
        .volume_mount("data", DATA_DIR)
        .volume_mount("tmp", "/tmp");
    if inputs.monitoring.is_some() {
        agent = agent.port("metrics", ports::METRICS);
    }
    let template = PodTemplate::new(&meta)
        .service_account(&n.agent)
        // The workload attestor authenticates to the kubelet with it.
        .field("automountServiceAccountToken", json!(true))
        .field("hostPID", json!(true))
        .field("securityContext", json!({ "seccompProfile": { "type": "RuntimeDefault" } }))
        .field("tolerations", json!(inputs.agent.tolerations))
        .annotation("capstan.dev/config-sha256", short_sha256(conf))
        .container(&agent)
        .volume(json!({ "name": "config", "configMap": { "name": n.agent } }))
        .volume(json!({ "name": "bundle", "configMap": { "name": n.bundle } }))
        .volume(json!({
            "name": "token",
            "projected": { "sources": [{ "serviceAccountToken": {
                "path": TOKEN_FILE, "expirationSeconds": 7200, "audience": TOKEN_AUDIENCE,
            } }] },
        }))
        .volume(json!({ "name": "sockets", "hostPath": { "path": inputs.agent.socket_dir, "type": "DirectoryOrCreate" } }))
        .empty_dir("data")
        .empty_dir("tmp");
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta.to_value(),
        "spec": {
            "selector": { "matchLabels": meta.selector_value() },
            "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1 } },
            "template": template.to_value(),
        },
    })
}
