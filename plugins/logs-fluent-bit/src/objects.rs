//! The Kubernetes objects of the collector.

use std::collections::BTreeMap;

use capstan_core::{ComponentId, Sensitive};
use capstan_sdk::k8s::{self, Meta};
use serde_json::{Value, json};

use crate::config::{self, CONFIG_DIR, ENV_HTTP_PASSWORD, ENV_SPLUNK_TOKEN, HTTP_PORT, STATE_DIR};
use crate::inputs::{Inputs, OutputKind};

/// Secret keys.
const KEY_SPLUNK_TOKEN: &str = "splunk-hec-token";
const KEY_HTTP_PASSWORD: &str = "http-password";

/// The credential the chosen output needs, if any: (Secret key, env var, value).
fn credential(inputs: &Inputs) -> Option<(&'static str, &'static str, &str)> {
    match inputs.output {
        OutputKind::Splunk => inputs
            .splunk
            .as_ref()
            .and_then(|s| s.token.as_deref())
            .map(|t| (KEY_SPLUNK_TOKEN, ENV_SPLUNK_TOKEN, t)),
        OutputKind::Loki => inputs
            .loki
            .as_ref()
            .and_then(|l| l.auth.as_ref())
            .map(|a| (KEY_HTTP_PASSWORD, ENV_HTTP_PASSWORD, a.password.as_str())),
        OutputKind::Elasticsearch => inputs
            .elasticsearch
            .as_ref()
            .and_then(|e| e.auth.as_ref())
            .map(|a| (KEY_HTTP_PASSWORD, ENV_HTTP_PASSWORD, a.password.as_str())),
        OutputKind::Stdout => None,
    }
}

/// Cluster-scoped objects are shared by every namespace, so their names
/// carry the namespace too: two collectors in two namespaces must not fight
/// over one ClusterRole.
pub fn cluster_scoped_name(c: &ComponentId) -> String {
    format!("{}-{}", c.namespace, c.name)
}

pub fn render(c: &ComponentId, inputs: &Inputs) -> Vec<Value> {
    let meta = Meta::new(c, c.name.clone(), "log-collector");
    let cluster_name = cluster_scoped_name(c);
    let fluent_bit_conf = config::main_config(inputs, &c.environment);
    let parsers_conf = config::parsers_config();
    let config_digest = config::digest(&format!("{fluent_bit_conf}\n{parsers_conf}"));

    let mut objects = vec![
        json!({
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": meta.to_value(),
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": meta.renamed(cluster_name.clone()).cluster_scoped().to_value(),
            // Read-only, and only what the kubernetes filter looks up.
            "rules": [{
                "apiGroups": [""],
                "resources": ["pods", "namespaces"],
                "verbs": ["get", "list", "watch"],
            }],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": meta.renamed(cluster_name.clone()).cluster_scoped().to_value(),
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name },
            "subjects": [{ "kind": "ServiceAccount", "name": c.name, "namespace": c.namespace }],
        }),
        k8s::config_map(
            &meta,
            &BTreeMap::from([
                ("fluent-bit.conf".to_owned(), fluent_bit_conf),
                ("parsers.conf".to_owned(), parsers_conf),
            ]),
        ),
    ];

    let mut env = vec![json!({
        "name": "NODE_NAME", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } },
    })];
    if let Some((key, var, value)) = credential(inputs) {
        let secret_meta = meta.renamed(format!("{}-credentials", c.name));
        objects.push(k8s::secret(&secret_meta, &BTreeMap::from([(key.to_owned(), Sensitive::new(value))])));
        env.push(json!({
            "name": var,
            "valueFrom": { "secretKeyRef": { "name": secret_meta.name(), "key": key } },
        }));
    }

    let mut ports = vec![json!({ "name": "http", "containerPort": HTTP_PORT, "protocol": "TCP" })];
    let mut service_ports =
        vec![json!({ "name": "http", "port": HTTP_PORT, "targetPort": "http", "protocol": "TCP" })];
    if inputs.forward.enabled {
        ports.push(json!({ "name": "forward", "containerPort": inputs.forward.port, "protocol": "TCP" }));
        service_ports.push(json!({
            "name": "forward", "port": inputs.forward.port, "targetPort": "forward", "protocol": "TCP",
        }));
    }

    let mut pod_spec = json!({
        "serviceAccountName": c.name,
        "tolerations": inputs.tolerations,
        "containers": [{
            "name": "fluent-bit",
            "image": inputs.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["/fluent-bit/bin/fluent-bit"],
            "args": ["--workdir=/fluent-bit/etc", format!("--config={CONFIG_DIR}/fluent-bit.conf")],
            "env": env,
            "ports": ports,
            "livenessProbe": { "httpGet": { "path": "/", "port": "http" } },
            "readinessProbe": { "httpGet": { "path": "/api/v1/health", "port": "http" } },
            "resources": { "requests": inputs.resources.requests, "limits": inputs.resources.limits },
            // Root is needed to read other containers' log files on the host;
            // everything else is locked down.
            "securityContext": {
                "readOnlyRootFilesystem": true,
                "allowPrivilegeEscalation": false,
                "capabilities": { "drop": ["ALL"], "add": ["DAC_READ_SEARCH"] },
            },
            "volumeMounts": [
                { "name": "config", "mountPath": CONFIG_DIR, "readOnly": true },
                { "name": "varlog", "mountPath": "/var/log", "readOnly": true },
                { "name": "dockercontainers", "mountPath": "/var/lib/docker/containers", "readOnly": true },
                { "name": "state", "mountPath": STATE_DIR },
            ],
        }],
        "volumes": [
            { "name": "config", "configMap": { "name": meta.name() } },
            { "name": "varlog", "hostPath": { "path": "/var/log" } },
            { "name": "dockercontainers", "hostPath": { "path": "/var/lib/docker/containers" } },
            { "name": "state", "hostPath": { "path": STATE_DIR, "type": "DirectoryOrCreate" } },
        ],
    });
    if let Some(pc) = &inputs.priority_class_name {
        pod_spec["priorityClassName"] = json!(pc);
    }

    let mut pod_meta = json!({ "labels": meta.labels() });
    pod_meta["annotations"] = json!({ "capstan.dev/config-digest": config_digest });
    objects.push(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": meta.to_value(),
        "spec": {
            "selector": { "matchLabels": meta.selector() },
            "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1 } },
            "template": { "metadata": pod_meta, "spec": pod_spec },
        },
    }));
    objects.push(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": meta.to_value(),
        "spec": {
            "type": "ClusterIP",
            "selector": meta.selector(),
            "ports": service_ports,
        },
    }));
    objects
}

/// Where apps may push logs: the forward input's Service address.
pub fn collector_endpoint(c: &ComponentId, inputs: &Inputs) -> Option<String> {
    inputs
        .forward
        .enabled
        .then(|| format!("tcp://{}.{}.svc.cluster.local:{}", c.name, c.namespace, inputs.forward.port))
}
