//! TLS between the clients and the server: the `tls` input and the
//! certificate cert-manager issues for the server.
//!
//! The certificate comes from the SDK's
//! [`server_certificate`](capstan_sdk::k8s::tls::server_certificate): signed
//! by the issuer the operator names or, by default, by a private CA made for
//! this server alone. cert-manager writes it, its key and the CA into the
//! `kubernetes.io/tls` Secret `<name>-tls`; the server mounts the first two,
//! the init Job and the apps verify the server with `ca.crt`.

use capstan_sdk::k8s::{self, tls::Issuer, tls::ServerCertificate};
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

/// How clients reach the server.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Serve TLS, and only TLS, to every client over the network (pg_hba
    /// has `hostssl` lines only); the outputs say `sslmode = verify-full`
    /// and name the CA. Default: true. `false` serves plaintext and says
    /// `sslmode = disable`: passwords and data cross the cluster network
    /// unencrypted, so not for production.
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// The cert-manager issuer that signs the server's certificate. It must
    /// be able to sign the Service's `*.svc` names and put its CA in the
    /// Secret's `ca.crt` (a CA, Vault or Venafi issuer does; a public ACME
    /// issuer does neither). Default: a private CA made for this server
    /// alone (a self-signed Issuer, a CA Certificate, an Issuer backed by it).
    #[serde(default)]
    pub issuer: Option<Issuer>,
}

impl Default for Tls {
    fn default() -> Self {
        Tls { enabled: true, issuer: None }
    }
}

fn enabled() -> bool {
    true
}

/// Checks the `tls` input (pointers relative to the inputs root).
pub fn validate(tls: &Tls) -> Vec<Diagnostic> {
    let Some(issuer) = &tls.issuer else { return Vec::new() };
    if !tls.enabled {
        return vec![Diagnostic::warning(
            "/tls/issuer",
            "ignored: tls.enabled is false, so no certificate is issued",
        )];
    }
    if issuer.name.trim().is_empty() {
        return vec![Diagnostic::error("/tls/issuer/name", "name the cert-manager issuer")];
    }
    Vec::new()
}

/// The server's certificate, for the names clients use: the client
/// Service's, short to fully qualified (the outputs' `host` among them).
pub fn certificate(server: &k8s::Meta, namespace: &str, issuer: Option<&Issuer>) -> ServerCertificate {
    let names = k8s::tls::service_dns_names(server.name(), namespace);
    k8s::tls::server_certificate(server, &names, issuer.map(Issuer::to_ref).as_ref())
}
