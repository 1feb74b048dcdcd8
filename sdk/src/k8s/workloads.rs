//! Containers, pod templates and the workloads that run them.

use serde_json::{Map, Value, json};

use super::{Meta, Resources, manifest, match_labels};
use crate::contracts::SecretKeyRef;

/// The user and group a pod runs as unless told otherwise: any non-zero id
/// works with `runAsNonRoot`; a high one avoids clashing with host users.
pub const DEFAULT_RUN_AS: u32 = 10001;

/// One container, with a restricted security context by default: non-root,
/// read-only root filesystem, no privilege escalation, all capabilities
/// dropped, the runtime's default seccomp profile (the Kubernetes
/// "restricted" Pod Security Standard).
#[derive(Clone, Debug)]
#[must_use]
pub struct Container {
    fields: Map<String, Value>,
    env: Vec<Value>,
    ports: Vec<Value>,
    mounts: Vec<Value>,
}

impl Container {
    /// A container running `image` (a full reference, e.g. `ghcr.io/acme/app:1.2.0`)
    /// with the restricted security context.
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        let mut fields = Map::new();
        fields.insert("name".into(), json!(name.into()));
        fields.insert("image".into(), json!(image.into()));
        fields.insert(
            "securityContext".into(),
            json!({
                "runAsNonRoot": true,
                "readOnlyRootFilesystem": true,
                "allowPrivilegeEscalation": false,
                "capabilities": { "drop": ["ALL"] },
                "seccompProfile": { "type": "RuntimeDefault" },
            }),
        );
        Self { fields, env: Vec::new(), ports: Vec::new(), mounts: Vec::new() }
    }

    /// A named TCP port.
    pub fn port(mut self, name: &str, port: u16) -> Self {
        self.ports.push(json!({ "name": name, "containerPort": port, "protocol": "TCP" }));
        self
    }

    /// A plain environment variable. Never pass a secret here: use
    /// [`Container::env_secret`].
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push(json!({ "name": name.into(), "value": value.into() }));
        self
    }

    /// An environment variable read from a Secret key by the kubelet, so the
    /// value never appears in the manifest.
    pub fn env_secret(mut self, name: impl Into<String>, secret: &SecretKeyRef) -> Self {
        self.env.push(json!({
            "name": name.into(),
            "valueFrom": { "secretKeyRef": { "name": secret.name, "key": secret.key } },
        }));
        self
    }

    /// Names already set, in order: Kubernetes expands `$(NAME)` in later
    /// values only from variables defined before them.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.env.iter().filter_map(|e| e.get("name").and_then(Value::as_str))
    }

    /// CPU and memory requests and limits.
    pub fn resources(mut self, resources: &Resources) -> Self {
        self.fields.insert("resources".into(), json!(resources));
        self
    }

    /// The `readinessProbe` (see [`tcp_probe`], [`http_probe`], [`exec_probe`]).
    pub fn readiness_probe(mut self, probe: Value) -> Self {
        self.fields.insert("readinessProbe".into(), probe);
        self
    }

    /// The `livenessProbe` (see [`tcp_probe`], [`http_probe`], [`exec_probe`]).
    pub fn liveness_probe(mut self, probe: Value) -> Self {
        self.fields.insert("livenessProbe".into(), probe);
        self
    }

    /// The `startupProbe`: the kubelet holds off the liveness and readiness
    /// probes until it first succeeds, so a slow start is not killed midway.
    pub fn startup_probe(mut self, probe: Value) -> Self {
        self.fields.insert("startupProbe".into(), probe);
        self
    }

    /// Mounts pod volume `volume` at `path`, writable.
    pub fn volume_mount(mut self, volume: &str, path: &str) -> Self {
        self.mounts.push(json!({ "name": volume, "mountPath": path }));
        self
    }

    /// A mount the container cannot write to (a Secret's files, say).
    pub fn read_only_mount(mut self, volume: &str, path: &str) -> Self {
        self.mounts.push(json!({ "name": volume, "mountPath": path, "readOnly": true }));
        self
    }

    /// Replaces the image's arguments (`CMD`).
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        let args: Vec<String> = args.into_iter().map(Into::into).collect();
        self.fields.insert("args".into(), json!(args));
        self
    }

    /// Replaces the image's entrypoint (`ENTRYPOINT`).
    pub fn command<S: Into<String>>(mut self, command: impl IntoIterator<Item = S>) -> Self {
        let command: Vec<String> = command.into_iter().map(Into::into).collect();
        self.fields.insert("command".into(), json!(command));
        self
    }

    /// Sets or replaces any other field (`imagePullPolicy`, `workingDir`, …).
    pub fn field(mut self, key: &str, value: Value) -> Self {
        self.fields.insert(key.into(), value);
        self
    }

    /// The container as JSON, for a pod spec's `containers`.
    pub fn to_value(&self) -> Value {
        let mut fields = self.fields.clone();
        for (key, list) in [("ports", &self.ports), ("env", &self.env), ("volumeMounts", &self.mounts)] {
            if !list.is_empty() {
                fields.insert(key.into(), Value::Array(list.clone()));
            }
        }
        Value::Object(fields)
    }
}

/// A TCP-connect probe on a named port: the safe default for a service whose
/// health endpoint is unknown.
pub fn tcp_probe(port: &str) -> Value {
    json!({ "tcpSocket": { "port": port }, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3 })
}

/// An HTTP GET probe on a named port.
pub fn http_probe(path: &str, port: &str) -> Value {
    json!({ "httpGet": { "path": path, "port": port }, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3 })
}

/// A probe that runs `command` in the container; exit status 0 is healthy.
/// For a container with no port to check (a worker, a sidecar), whose image
/// has a command that tells. Five seconds to answer: a command starts a
/// process, which a busy node can be slow to do.
pub fn exec_probe<S: Into<String>>(command: impl IntoIterator<Item = S>) -> Value {
    let command: Vec<String> = command.into_iter().map(Into::into).collect();
    json!({ "exec": { "command": command }, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3 })
}

/// A pod template: labels from `meta`, non-root pod security context, no
/// service-account token mounted (most apps never call the Kubernetes API,
/// and a mounted token is a credential an attacker can use).
#[derive(Clone, Debug)]
#[must_use]
pub struct PodTemplate {
    meta: Meta,
    spec: Map<String, Value>,
    containers: Vec<Value>,
    init_containers: Vec<Value>,
    volumes: Vec<Value>,
}

impl PodTemplate {
    /// A pod template with `meta`'s labels (not its annotations) and the
    /// restricted pod defaults.
    pub fn new(meta: &Meta) -> Self {
        let mut spec = Map::new();
        spec.insert("automountServiceAccountToken".into(), json!(false));
        spec.insert(
            "securityContext".into(),
            json!({
                "runAsNonRoot": true,
                "runAsUser": DEFAULT_RUN_AS,
                "runAsGroup": DEFAULT_RUN_AS,
                "fsGroup": DEFAULT_RUN_AS,
                "seccompProfile": { "type": "RuntimeDefault" },
            }),
        );
        Self {
            meta: meta.renamed(meta.name()),
            spec,
            containers: Vec::new(),
            init_containers: Vec::new(),
            volumes: Vec::new(),
        }
    }

    /// Adds an app container; containers run in the order added.
    pub fn container(mut self, container: &Container) -> Self {
        self.containers.push(container.to_value());
        self
    }

    /// Adds an init container; they run to completion, in order, before the app containers start.
    pub fn init_container(mut self, container: &Container) -> Self {
        self.init_containers.push(container.to_value());
        self
    }

    /// Pod annotations (Dapr's sidecar injection, a config checksum, …).
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.meta = self.meta.annotation(key, value);
        self
    }

    /// The user and group the pod runs as.
    pub fn run_as(mut self, user: u32, group: u32) -> Self {
        if let Some(sc) = self.spec.get_mut("securityContext") {
            sc["runAsUser"] = json!(user);
            sc["runAsGroup"] = json!(group);
            sc["fsGroup"] = json!(group);
        }
        self
    }

    /// A scratch directory, for the writes a read-only root filesystem refuses.
    pub fn empty_dir(mut self, name: &str) -> Self {
        self.volumes.push(json!({ "name": name, "emptyDir": {} }));
        self
    }

    /// Adds a pod volume, as its JSON (`{"name": …, "secret": {…}}`, say).
    pub fn volume(mut self, volume: Value) -> Self {
        self.volumes.push(volume);
        self
    }

    /// Runs the pod as ServiceAccount `name`. The token stays unmounted unless
    /// `automountServiceAccountToken` is set with [`PodTemplate::field`].
    pub fn service_account(mut self, name: &str) -> Self {
        self.spec.insert("serviceAccountName".into(), json!(name));
        self
    }

    /// Sets or replaces any other pod spec field.
    pub fn field(mut self, key: &str, value: Value) -> Self {
        self.spec.insert(key.into(), value);
        self
    }

    /// The template as JSON, for a workload's `spec.template`.
    pub fn to_value(&self) -> Value {
        let mut spec = self.spec.clone();
        spec.insert("containers".into(), Value::Array(self.containers.clone()));
        if !self.init_containers.is_empty() {
            spec.insert("initContainers".into(), Value::Array(self.init_containers.clone()));
        }
        if !self.volumes.is_empty() {
            spec.insert("volumes".into(), Value::Array(self.volumes.clone()));
        }
        let mut template = Map::with_capacity(2);
        template.insert("metadata".into(), self.meta.template_value());
        template.insert("spec".into(), Value::Object(spec));
        Value::Object(template)
    }
}

/// A Deployment of `template`, selecting `meta`'s pods. `replicas: None`
/// leaves the count to a HorizontalPodAutoscaler: with server-side apply,
/// a field we set would fight the autoscaler on every apply.
pub fn deployment(meta: &Meta, replicas: Option<u32>, template: &PodTemplate) -> Value {
    let mut spec = Map::with_capacity(3);
    spec.insert("selector".into(), match_labels(meta));
    spec.insert("template".into(), template.to_value());
    if let Some(n) = replicas {
        spec.insert("replicas".into(), json!(n));
    }
    manifest("apps/v1", "Deployment", meta, [("spec", Value::Object(spec))])
}

/// A StatefulSet of `template` behind the headless Service `service_name`,
/// with these `volumeClaimTemplates`.
pub fn stateful_set(
    meta: &Meta,
    service_name: &str,
    replicas: u32,
    template: &PodTemplate,
    volume_claims: Vec<Value>,
) -> Value {
    let mut spec = Map::with_capacity(5);
    spec.insert("serviceName".into(), Value::String(service_name.to_owned()));
    spec.insert("replicas".into(), json!(replicas));
    spec.insert("selector".into(), match_labels(meta));
    spec.insert("template".into(), template.to_value());
    if !volume_claims.is_empty() {
        spec.insert("volumeClaimTemplates".into(), Value::Array(volume_claims));
    }
    manifest("apps/v1", "StatefulSet", meta, [("spec", Value::Object(spec))])
}
