//! AMQPS: the `tls` input, the certificate of an in-cluster broker and the
//! CA the outputs point clients at.
//!
//! In the cluster the broker serves AMQPS only (port 5671) with a
//! certificate cert-manager issues (`capstan_sdk::k8s::tls`): signed by the
//! operator's `issuer`, or else by a private CA made for this broker alone.
//! The `RabbitmqCluster` names the certificate's Secret twice, as the
//! cluster-operator documents for cert-manager: `secretName` (its `tls.crt`
//! and `tls.key`) and `caSecretName` (its `ca.crt`). The operator then
//! verifies the broker's management API with that CA, and RabbitMQ verifies
//! client certificates when a client sends one; clients without one are
//! still accepted (RabbitMQ's `fail_if_no_peer_cert` stays false), so apps
//! log in with their user name and password as before.
//!
//! An external broker's TLS is the operator's to run: `enabled` says the
//! broker at `host` speaks AMQPS, and `ca_secret` where clients find the CA
//! that signed it (none: the system's roots).

use capstan_sdk::contracts::SecretKeyRef;
use capstan_sdk::k8s;
use capstan_sdk::k8s::tls::Issuer;
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Mode;

/// The AMQPS port: the in-cluster broker's, and an external broker's default.
pub const AMQPS_PORT: u16 = 5671;

/// The `tls` input.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsInputs {
    /// in-cluster: serve AMQPS only, on 5671, with a certificate from
    /// cert-manager (which must be installed). `false` serves plain AMQP on
    /// 5672: not for production, as passwords and messages then cross the
    /// network in clear. external: the broker at `host` speaks AMQPS.
    /// Default: `true` in-cluster, `false` external (Capstan cannot know
    /// what an existing broker serves).
    #[serde(default)]
    #[schemars(with = "bool")]
    pub enabled: Option<bool>,
    /// in-cluster: the cert-manager issuer that signs the broker's
    /// certificate, such as `{ kind: ClusterIssuer, name: internal-ca }`: a
    /// CA or Vault issuer, which can sign `*.svc` names and puts its CA in
    /// the Secret as `ca.crt` (an ACME issuer does neither). The
    /// messaging-topology-operator verifies the broker with its own trust
    /// store, so that issuer's CA must be in it. Default: a private CA made
    /// for this broker alone (Secret `<component>-ca`).
    #[serde(default)]
    // Its own schema rather than `anyOf` with null, so a bad field inside is
    // reported at its path, not as "not valid under any of the schemas".
    #[schemars(with = "Issuer")]
    pub issuer: Option<Issuer>,
    /// external: the Secret key (in the component's namespace) holding the
    /// PEM CA that signed the broker's certificate, published for clients to
    /// verify the broker with. Default: none, and clients verify it against
    /// their system's roots.
    #[serde(default)]
    #[schemars(with = "CaSecret")]
    pub ca_secret: Option<CaSecret>,
}

impl TlsInputs {
    /// Whether the broker speaks AMQPS in `mode`.
    pub fn enabled(&self, mode: Mode) -> bool {
        self.enabled.unwrap_or(mode == Mode::InCluster)
    }
}

/// A key of a Secret in the component's namespace holding a PEM CA.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaSecret {
    /// Name of the Secret.
    pub name: String,
    /// The key holding the PEM CA certificate. Default `ca.crt`.
    #[serde(default = "ca_crt")]
    pub key: String,
}

fn ca_crt() -> String {
    "ca.crt".to_owned()
}

/// What an in-cluster broker's TLS adds to the plan.
#[derive(Debug)]
pub struct BrokerTls {
    /// The cert-manager objects: the private CA when no issuer was named,
    /// then the broker's `Certificate`.
    pub objects: Vec<Value>,
    /// The `RabbitmqCluster`'s `spec.tls`.
    pub spec: Value,
    /// The CA clients verify the broker with: `ca.crt` of the Secret
    /// cert-manager writes.
    pub ca: SecretKeyRef,
}

/// The certificate of the in-cluster broker `req` plans, and the
/// `RabbitmqCluster`'s `spec.tls` that serves it.
pub fn in_cluster(req: &PlanRequest, issuer: Option<&Issuer>) -> BrokerTls {
    let name = req.component.name.as_str();
    let meta = k8s::Meta::new(&req.component, name, "broker");
    let issuer = issuer.map(Issuer::to_ref);
    let cert =
        k8s::tls::server_certificate(&meta, &dns_names(name, &req.component.namespace), issuer.as_ref());
    // One Secret for both names, as the cluster-operator documents for
    // cert-manager: it holds tls.crt, tls.key and ca.crt. Without the
    // non-TLS listeners, nothing (the management API included) is served in
    // clear.
    let spec = json!({
        "secretName": cert.secret_name,
        "caSecretName": cert.secret_name,
        "disableNonTLSListeners": true,
    });
    BrokerTls { objects: cert.objects, spec, ca: cert.ca }
}

/// The names the broker answers to: its client Service (what the outputs'
/// endpoint names) and each node behind the headless `<name>-nodes`
/// Service, which the cluster-operator reaches node by node.
pub fn dns_names(name: &str, namespace: &str) -> Vec<String> {
    let mut names = k8s::tls::service_dns_names(name, namespace);
    names.push(format!("*.{name}-nodes.{namespace}.svc"));
    names.push(format!("*.{name}-nodes.{namespace}.svc.cluster.local"));
    names
}

/// The CA an external broker's clients verify it with, if the operator named one.
pub fn external_ca(req: &PlanRequest, ca: Option<&CaSecret>) -> Option<SecretKeyRef> {
    ca.map(|c| SecretKeyRef {
        name: c.name.clone(),
        key: c.key.clone(),
        namespace: Some(req.component.namespace.clone()),
    })
}

/// What `validate` says about the `tls` input in `mode`.
pub fn validate(tls: &TlsInputs, mode: Mode) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if tls.issuer.as_ref().is_some_and(|i| i.name.is_empty()) {
        out.push(Diagnostic::error("/tls/issuer/name", "name the cert-manager issuer"));
    }
    if tls.ca_secret.as_ref().is_some_and(|c| c.name.is_empty() || c.key.is_empty()) {
        out.push(Diagnostic::error("/tls/ca_secret", "name the Secret and its key holding the CA"));
    }
    out.extend(match mode {
        Mode::InCluster => in_cluster_warnings(tls),
        Mode::External => external_warnings(tls),
    });
    out
}

/// Why a broker with a private CA is not ready until the topology operator
/// trusts it: it verifies the management API with its own pod's trust
/// store, not with the cluster's `caSecretName`.
const PRIVATE_CA: &str = "no issuer: the broker's certificate is signed by a CA made for it alone (Secret \
    `<component>-ca`). The messaging-topology-operator reaches the broker's management API over TLS and \
    verifies it with its own trust store: until that CA is mounted there, or an `issuer` whose CA it trusts \
    is named here, the vhost, exchange, queues, users and permissions are not created";

fn in_cluster_warnings(tls: &TlsInputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if tls.ca_secret.is_some() {
        out.push(ignored(
            "/tls/ca_secret",
            "in-cluster, clients verify the broker with the `ca.crt` cert-manager writes",
        ));
    }
    match (tls.enabled(Mode::InCluster), tls.issuer.is_some()) {
        (true, true) => {}
        (true, false) => out.push(warning("/tls/issuer", PRIVATE_CA)),
        (false, issuer) => {
            if issuer {
                out.push(ignored("/tls/issuer", "TLS is off"));
            }
            out.push(warning(
                "/tls/enabled",
                "the broker serves plain AMQP: passwords and messages cross the network in clear (not for production)",
            ));
        }
    }
    out
}

fn external_warnings(tls: &TlsInputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if tls.issuer.is_some() {
        out.push(ignored("/tls/issuer", "Capstan does not make an external broker's certificate"));
    }
    if tls.ca_secret.is_some() && !tls.enabled(Mode::External) {
        out.push(ignored("/tls/ca_secret", "TLS is off"));
    }
    out
}

fn warning(path: &str, message: &str) -> Diagnostic {
    Diagnostic { path: path.to_owned(), severity: Severity::Warning, message: message.to_owned() }
}

fn ignored(path: &str, why: &str) -> Diagnostic {
    warning(path, &format!("ignored: {why}"))
}
