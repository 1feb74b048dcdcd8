//! TLS on the `forward` input: the certificate cert-manager issues for the
//! collector's Service, how it reaches fluent-bit, and how a renewed one
//! replaces it.
//!
//! The certificate comes from the SDK's
//! [`server_certificate`](capstan_sdk::k8s::tls::server_certificate): signed
//! by the issuer the operator names in `forward.tls.issuer` or, by default,
//! by a private CA made for this collector alone. cert-manager writes it,
//! its key and the CA into the `kubernetes.io/tls` Secret `<name>-tls`;
//! fluent-bit reads the first two, clients verify the collector with
//! `ca.crt` (the `ca_secret` output).
//!
//! cert-manager renews the certificate (with a new key) before it expires,
//! and the kubelet updates the mounted files in place, but fluent-bit 4.0
//! reads them only when it starts or reloads: without a reload it would go
//! on serving the old certificate until clients refuse it as expired. So
//! the `tls-reloader` sidecar watches the mounted Secret and asks fluent-bit
//! to hot-reload (`POST /api/v2/reload`) when it changes, as fluent-bit's own
//! Helm chart does for its configuration.
//!
//! [`certificate`] is `None` exactly when there is no TLS (the input is
//! off, or `forward.tls.enabled` is false); the rest takes its result.

use capstan_core::ComponentId;
use capstan_sdk::k8s::Meta;
use capstan_sdk::k8s::tls::{self as k8s_tls, Issuer, ServerCertificate};
use serde_json::{Value, json};

use crate::config::{FORWARD_TLS_DIR, HTTP_PORT};
use crate::inputs::Inputs;

/// The pod volume holding the certificate and key.
const VOLUME: &str = "forward-tls";
/// The sidecar's container name.
const RELOADER: &str = "tls-reloader";
/// Where the sidecar sees the same Secret; it only watches it.
const WATCH_DIR: &str = "/watch/forward-tls";
/// The uid the reloader image is built to run as (its Dockerfile's `USER`).
const RELOADER_UID: u32 = 65534;
/// The reloader's own HTTP port (its default), which its liveness probe checks.
const RELOADER_PORT: u16 = 9533;

/// Whether the forward input is on and accepts TLS only.
pub fn enabled(inputs: &Inputs) -> bool {
    inputs.forward.enabled && inputs.forward.tls.enabled
}

/// The forward input's certificate, for every name the collector's Service
/// answers to (the `collector_endpoint` host among them); `None` without
/// TLS.
pub fn certificate(meta: &Meta, c: &ComponentId, inputs: &Inputs) -> Option<ServerCertificate> {
    if !enabled(inputs) {
        return None;
    }
    let names = k8s_tls::service_dns_names(meta.name(), &c.namespace);
    let issuer = inputs.forward.tls.issuer.as_ref().map(Issuer::to_ref);
    Some(k8s_tls::server_certificate(meta, &names, issuer.as_ref()))
}

/// The certificate and key from cert-manager's Secret, not its `ca.crt`:
/// the input does not check client certificates.
pub fn volume(cert: &ServerCertificate) -> Value {
    json!({
        "name": VOLUME,
        "secret": {
            "secretName": cert.secret_name,
            "items": [{ "key": "tls.crt", "path": "tls.crt" }, { "key": "tls.key", "path": "tls.key" }],
        },
    })
}

/// Where fluent-bit reads them (`tls.crt_file`, `tls.key_file`).
pub fn mount() -> Value {
    json!({ "name": VOLUME, "mountPath": FORWARD_TLS_DIR, "readOnly": true })
}

/// The sidecar that has fluent-bit reload when the kubelet swaps in a
/// renewed certificate (configmap-reload reacts to the Secret volume's
/// `..data` link changing, which is how the kubelet updates it). A reload
/// restarts fluent-bit's pipeline inside the process: tail offsets are in
/// its database and survive it. Its HTTP listener (a page and its own
/// metrics, nothing that acts) is on the pod's address, as the kubelet's
/// liveness probe must reach it; no Service exposes it.
pub fn reloader(inputs: &Inputs) -> Value {
    json!({
        "name": RELOADER,
        "image": inputs.forward.tls.reloader_image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            format!("--volume-dir={WATCH_DIR}"),
            format!("--webhook-url=http://127.0.0.1:{HTTP_PORT}/api/v2/reload"),
            // 10 s apart: rides out fluent-bit restarting when the Secret changes.
            "--webhook-retries=6",
            format!("--web.listen-address=:{RELOADER_PORT}"),
        ],
        "ports": [{ "name": "reloader", "containerPort": RELOADER_PORT, "protocol": "TCP" }],
        // Answered by the process that watches the Secret: a hung one is
        // restarted. `/metrics` is the one path it serves (any other is a 404).
        "livenessProbe": {
            "httpGet": { "path": "/metrics", "port": "reloader" },
            "periodSeconds": 20, "timeoutSeconds": 2, "failureThreshold": 3,
        },
        "resources": {
            "requests": { "cpu": "5m", "memory": "16Mi" },
            "limits": { "cpu": "100m", "memory": "64Mi" },
        },
        "securityContext": {
            "runAsUser": RELOADER_UID,
            "runAsNonRoot": true,
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        },
        "volumeMounts": [{ "name": VOLUME, "mountPath": WATCH_DIR, "readOnly": true }],
    })
}
