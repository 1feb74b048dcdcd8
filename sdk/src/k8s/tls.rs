//! A server certificate from cert-manager, for in-cluster servers whose
//! operator does not make one itself (CloudNativePG and Strimzi do; the
//! RabbitMQ operator and a plain StatefulSet do not).
//!
//! Without an issuer of the operator's choosing, each server gets its own
//! private CA, bootstrapped the way cert-manager documents it: a
//! self-signed `Issuer` signs a CA `Certificate`, and an `Issuer` backed by
//! that CA signs the server's certificate. cert-manager copies the CA into
//! the server's Secret as `ca.crt`, so clients verify the server with a key
//! of the same Secret they would otherwise be told about. A public ACME
//! issuer cannot sign `*.svc` names; a private CA per server keeps one
//! server's compromise from forging another's certificate.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Meta, custom_resource};
use crate::contracts::SecretKeyRef;
use crate::contracts::cert_manager::{CLUSTER_ISSUER, ISSUER, IssuerRef};

/// cert-manager's API group and version.
pub const CERT_MANAGER_API: &str = "cert-manager.io/v1";

/// A cert-manager issuer named in a plugin's inputs (`tls.issuer`), such as
/// `{ kind = "ClusterIssuer", name = "internal-ca" }`. It must be able to
/// sign `*.svc` names and put its CA in the Secret as `ca.crt`: a CA, Vault
/// or Venafi issuer does; a public ACME issuer does neither.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Issuer {
    /// `ClusterIssuer`, or `Issuer` (in the component's namespace).
    pub kind: IssuerKind,
    /// The issuer's name.
    pub name: String,
}

/// The two kinds of cert-manager issuer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum IssuerKind {
    /// A cluster-wide issuer, usable from every namespace.
    ClusterIssuer,
    /// A namespaced issuer, in the component's own namespace.
    Issuer,
}

impl Issuer {
    /// As a certificate's `issuerRef` names it.
    pub fn to_ref(&self) -> IssuerRef {
        let kind = match self.kind {
            IssuerKind::ClusterIssuer => CLUSTER_ISSUER,
            IssuerKind::Issuer => ISSUER,
        };
        IssuerRef { kind: kind.to_owned(), name: self.name.clone() }
    }
}

/// The certificate a server presents and how its clients verify it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerCertificate {
    /// The cert-manager objects to render (the CA bootstrap, when no issuer
    /// was given, then the server's `Certificate`).
    pub objects: Vec<Value>,
    /// The `kubernetes.io/tls` Secret cert-manager writes: `tls.crt`,
    /// `tls.key` and `ca.crt`.
    pub secret_name: String,
    /// The key of that Secret holding the CA clients verify the server with.
    pub ca: SecretKeyRef,
}

/// A certificate for the server `meta` names, valid for `dns_names`, signed
/// by `issuer` or, when `None`, by a private CA made for this server alone.
/// Object names derive from the server's name: `<name>-tls` (the Secret and
/// its `Certificate`), `<name>-ca`, `<name>-ca-issuer`, `<name>-selfsigned`.
pub fn server_certificate(
    meta: &Meta,
    dns_names: &[String],
    issuer: Option<&IssuerRef>,
) -> ServerCertificate {
    let name = meta.name();
    let mut objects = Vec::with_capacity(4);
    let issuer = match issuer {
        Some(issuer) => issuer.clone(),
        None => {
            let (bootstrap, ca_issuer) = private_ca(meta);
            objects.extend(bootstrap);
            ca_issuer
        }
    };
    let secret_name = format!("{name}-tls");
    let mut spec = json!({
        "secretName": secret_name,
        "dnsNames": dns_names,
        "usages": ["server auth", "digital signature", "key encipherment"],
        // A new key at every renewal: a leaked key expires with its certificate.
        "privateKey": { "algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always" },
        "issuerRef": { "kind": issuer.kind, "name": issuer.name, "group": "cert-manager.io" },
    });
    // X.509 caps a common name at 64 bytes, and cert-manager refuses a
    // longer one; clients check `dnsNames`, so a long first name is left
    // out of the subject rather than cut.
    if let Some(first) = dns_names.first().filter(|n| n.len() <= MAX_COMMON_NAME) {
        spec["commonName"] = json!(first);
    }
    objects.push(custom_resource(CERT_MANAGER_API, "Certificate", &meta.renamed(secret_name.clone()), spec));
    let ca = SecretKeyRef {
        name: secret_name.clone(),
        key: "ca.crt".to_owned(),
        namespace: meta.namespace().map(str::to_owned),
    };
    ServerCertificate { objects, secret_name, ca }
}

/// The longest common name X.509 allows (`ub-common-name`), in bytes.
const MAX_COMMON_NAME: usize = 64;

/// `<name> CA`, the server's name cut (at a character) so that it fits.
fn ca_common_name(name: &str) -> String {
    let room = MAX_COMMON_NAME - " CA".len();
    let cut = name.char_indices().map(|(i, c)| i + c.len_utf8()).take_while(|end| *end <= room).last();
    format!("{} CA", &name[..cut.unwrap_or(0)])
}

/// The self-signed issuer, the CA certificate it signs, and the issuer
/// backed by that CA (returned as the reference to sign with).
fn private_ca(meta: &Meta) -> ([Value; 3], IssuerRef) {
    let name = meta.name();
    let selfsigned = meta.renamed(format!("{name}-selfsigned"));
    let ca = meta.renamed(format!("{name}-ca"));
    let ca_issuer = meta.renamed(format!("{name}-ca-issuer"));
    let objects = [
        custom_resource(CERT_MANAGER_API, "Issuer", &selfsigned, json!({ "selfSigned": {} })),
        custom_resource(
            CERT_MANAGER_API,
            "Certificate",
            &ca,
            json!({
                "isCA": true,
                "commonName": ca_common_name(name),
                "secretName": ca.name(),
                // Ten years, renewed after nine: servers' certificates are
                // re-signed long before the CA they chain to expires.
                "duration": "87600h",
                "renewBefore": "8760h",
                "privateKey": { "algorithm": "ECDSA", "size": 256 },
                "issuerRef": { "kind": ISSUER, "name": selfsigned.name(), "group": "cert-manager.io" },
            }),
        ),
        custom_resource(CERT_MANAGER_API, "Issuer", &ca_issuer, json!({ "ca": { "secretName": ca.name() } })),
    ];
    (objects, IssuerRef { kind: ISSUER.to_owned(), name: ca_issuer.name().to_owned() })
}

/// The names a Service `service` answers to in `namespace`, short to fully
/// qualified (what a client may put in its URL, and so what a certificate
/// must name for `verify-full`).
pub fn service_dns_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
        format!("{service}.{namespace}"),
        service.to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use capstan_core::ComponentId;

    fn meta() -> Meta {
        let id =
            ComponentId { name: "events".into(), environment: "staging".into(), namespace: "data".into() };
        Meta::new(&id, "events", "broker")
    }

    fn kinds_and_names(objects: &[Value]) -> Vec<(String, String)> {
        objects
            .iter()
            .map(|o| {
                (o["kind"].as_str().unwrap().to_owned(), o["metadata"]["name"].as_str().unwrap().to_owned())
            })
            .collect()
    }

    #[test]
    fn without_an_issuer_the_server_gets_its_own_ca() {
        let cert = server_certificate(&meta(), &service_dns_names("events", "data"), None);
        assert_eq!(
            kinds_and_names(&cert.objects),
            [
                ("Issuer".into(), "events-selfsigned".into()),
                ("Certificate".into(), "events-ca".into()),
                ("Issuer".into(), "events-ca-issuer".into()),
                ("Certificate".into(), "events-tls".into()),
            ]
        );
        let server = &cert.objects[3];
        assert_eq!(server["spec"]["issuerRef"]["name"], "events-ca-issuer");
        assert_eq!(server["spec"]["secretName"], "events-tls");
        assert_eq!(server["spec"]["dnsNames"][0], "events.data.svc");
        assert_eq!(cert.objects[2]["spec"]["ca"]["secretName"], "events-ca");
        assert_eq!(
            cert.ca,
            SecretKeyRef { name: "events-tls".into(), key: "ca.crt".into(), namespace: Some("data".into()) }
        );
    }

    #[test]
    fn a_given_issuer_signs_the_server_certificate_alone() {
        let issuer = IssuerRef { kind: "ClusterIssuer".into(), name: "internal-ca".into() };
        let cert = server_certificate(&meta(), &["events.data.svc".into()], Some(&issuer));
        assert_eq!(kinds_and_names(&cert.objects), [("Certificate".into(), "events-tls".into())]);
        assert_eq!(cert.objects[0]["spec"]["issuerRef"]["kind"], "ClusterIssuer");
        assert_eq!(cert.objects[0]["spec"]["issuerRef"]["name"], "internal-ca");
    }

    #[test]
    fn common_names_fit_in_64_bytes_or_are_left_out() {
        let long = format!("{}.data.svc.cluster.local", "a".repeat(50));
        let cert = server_certificate(&meta(), &[long.clone(), "events.data.svc".into()], None);
        let server = &cert.objects[3]["spec"];
        assert!(server.get("commonName").is_none(), "{server}");
        assert_eq!(server["dnsNames"][0], long.as_str());
        let short = server_certificate(&meta(), &["events.data.svc".into()], None);
        assert_eq!(short.objects[3]["spec"]["commonName"], "events.data.svc");
        assert_eq!(short.objects[1]["spec"]["commonName"], "events CA");

        let name = "b".repeat(70);
        let ca = ca_common_name(&name);
        assert_eq!(ca.len(), 64);
        assert!(ca.ends_with("b CA"), "{ca}");
    }
}
