//! The Kubernetes objects of the collector.

use std::collections::BTreeMap;

use capstan_core::{ComponentId, Sensitive};
use capstan_sdk::contracts::NetworkPeer;
use capstan_sdk::k8s::tls::ServerCertificate;
use capstan_sdk::k8s::{self, Meta};
use serde_json::{Value, json};

use crate::config::{
    self, CONFIG_DIR, CONTAINER_NAME, ENV_FORWARD_SHARED_KEY, ENV_HTTP_PASSWORD, ENV_SPLUNK_TOKEN, HTTP_PORT,
    STATE_DIR,
};
use crate::inputs::{Inputs, OutputKind};
use crate::tls;

/// Secret keys.
const KEY_SPLUNK_TOKEN: &str = "splunk-hec-token";
const KEY_HTTP_PASSWORD: &str = "http-password";
const KEY_FORWARD_SHARED_KEY: &str = "forward-shared-key";

/// The credentials the collector needs: (Secret key, env var, value).
fn credentials(inputs: &Inputs) -> Vec<(&'static str, &'static str, &str)> {
    let mut out: Vec<_> = output_credential(inputs).into_iter().collect();
    if inputs.forward.enabled
        && let Some(key) = &inputs.forward.shared_key
    {
        out.push((KEY_FORWARD_SHARED_KEY, ENV_FORWARD_SHARED_KEY, key.as_str()));
    }
    out
}

/// The credential the chosen output needs, if any.
fn output_credential(inputs: &Inputs) -> Option<(&'static str, &'static str, &str)> {
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

/// The metadata of the collector's objects: the DaemonSet's, its Service's,
/// and the base of every other name.
pub fn meta(c: &ComponentId) -> Meta {
    Meta::new(c, c.name.clone(), "log-collector")
}

/// Every object of the collector: ServiceAccount, ClusterRole and binding,
/// ConfigMap, a credentials Secret when an output or the forward input needs
/// one, the forward input's certificate (`cert`, from [`tls::certificate`])
/// and what cert-manager signs it with, DaemonSet and Service.
pub fn render(c: &ComponentId, inputs: &Inputs, cert: Option<&ServerCertificate>) -> Vec<Value> {
    let meta = meta(c);
    let cluster_name = cluster_scoped_name(c);
    let fluent_bit_conf = config::main_config(inputs, c);
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
    let credentials = credentials(inputs);
    if !credentials.is_empty() {
        let secret_meta = meta.renamed(format!("{}-credentials", c.name));
        let data =
            credentials.iter().map(|(key, _, value)| ((*key).to_owned(), Sensitive::new(*value))).collect();
        objects.push(k8s::secret(&secret_meta, &data));
        for (key, var, _) in &credentials {
            env.push(json!({
                "name": var,
                "valueFrom": { "secretKeyRef": { "name": secret_meta.name(), "key": key } },
            }));
        }
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

    let mut volume_mounts = vec![
        json!({ "name": "config", "mountPath": CONFIG_DIR, "readOnly": true }),
        json!({ "name": "varlog", "mountPath": "/var/log", "readOnly": true }),
        json!({ "name": "dockercontainers", "mountPath": "/var/lib/docker/containers", "readOnly": true }),
        // The only writable path: tail offsets and the filesystem buffer,
        // bounded by `buffer.total_limit_size`.
        json!({ "name": "state", "mountPath": STATE_DIR }),
    ];
    let mut volumes = vec![
        json!({ "name": "config", "configMap": { "name": meta.name() } }),
        json!({ "name": "varlog", "hostPath": { "path": "/var/log" } }),
        json!({ "name": "dockercontainers", "hostPath": { "path": "/var/lib/docker/containers" } }),
        json!({ "name": "state", "hostPath": { "path": STATE_DIR, "type": "DirectoryOrCreate" } }),
    ];
    if let Some(cert) = cert {
        // Before the DaemonSet: its pods wait for the Secret cert-manager writes.
        objects.extend(cert.objects.iter().cloned());
        volume_mounts.push(tls::mount());
        volumes.push(tls::volume(cert));
    }

    let mut containers = vec![collector(inputs, env, ports, volume_mounts)];
    if cert.is_some() {
        containers.push(tls::reloader(inputs));
    }

    let mut pod_spec = json!({
        "serviceAccountName": c.name,
        "tolerations": inputs.tolerations,
        "containers": containers,
        "volumes": volumes,
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

/// The fluent-bit container.
fn collector(inputs: &Inputs, env: Vec<Value>, ports: Vec<Value>, volume_mounts: Vec<Value>) -> Value {
    json!({
        "name": CONTAINER_NAME,
        "image": inputs.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/fluent-bit/bin/fluent-bit"],
        "args": ["--workdir=/fluent-bit/etc", format!("--config={CONFIG_DIR}/fluent-bit.conf")],
        "env": env,
        "ports": ports,
        "livenessProbe": { "httpGet": { "path": "/", "port": "http" } },
        "readinessProbe": { "httpGet": { "path": "/api/v1/health", "port": "http" } },
        "resources": { "requests": inputs.resources.requests, "limits": inputs.resources.limits },
        // The node's container logs are root-owned and mode 0640, so
        // reading them takes uid 0 (`run_as_user`, default 0): as their
        // owner, root reads them with every capability dropped. Everything
        // else is locked down; the state directory is the only writable
        // path.
        "securityContext": {
            "runAsUser": inputs.run_as_user,
            "runAsNonRoot": inputs.run_as_user != 0,
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        },
        "volumeMounts": volume_mounts,
    })
}

/// Where apps may push logs: the forward input's Service address, as
/// `tls://` when the input accepts TLS only (the certificate names this
/// host), else `tcp://`; `None` when the input is off.
pub fn collector_endpoint(c: &ComponentId, inputs: &Inputs) -> Option<String> {
    let scheme = if tls::enabled(inputs) { "tls" } else { "tcp" };
    inputs
        .forward
        .enabled
        .then(|| format!("{scheme}://{}.{}.svc.cluster.local:{}", c.name, c.namespace, inputs.forward.port))
}

/// What a client pushing logs must reach: the DaemonSet's pods on the
/// forward port (the Service forwards to the same container port). Nothing
/// when the input is off: no other port is for apps.
pub fn network(c: &ComponentId, inputs: &Inputs) -> Vec<NetworkPeer> {
    if inputs.forward.enabled { vec![meta(c).network_peer(&[inputs.forward.port])] } else { Vec::new() }
}
