//! The OIDC discovery provider: a Deployment and its Service that publish
//! the trust domain's JWT-SVID signing keys (`/keys`) and the discovery
//! document (`/.well-known/openid-configuration`), so a relying party such
//! as Vault's JWT auth verifies JWT-SVIDs without talking to SPIRE.
//!
//! It reads the keys from the Workload API of the agent on its node (the
//! socket directory, mounted read-only), so it is registered like an app:
//! a ClusterSPIFFEID for its own ServiceAccount and pods. It serves HTTPS
//! only (Vault refuses keys over plain HTTP), on 8443 behind the Service's
//! 443, with a certificate from cert-manager for the Service's names and
//! `oidc.domain`; it reloads a renewed one by itself. The server's
//! `jwt_issuer` is `https://<domain>`, so every JWT-SVID names it.

use std::collections::BTreeMap;

use capstan_sdk::k8s::tls::{self, ServerCertificate};
use capstan_sdk::k8s::{self, Container, PodTemplate};
use serde_json::{Value, json};

use crate::agent::SOCKET_FILE;
use crate::identities;
use crate::names::{hcl, hcl_list, ports};
use crate::server::SPIRE_UID;
use crate::{Plan, short_sha256};

const CONFIG_DIR: &str = "/run/spire/oidc/config";
const CONFIG_FILE: &str = "oidc-discovery-provider.conf";
const TLS_DIR: &str = "/run/spire/oidc/tls";
/// Where the provider mounts the agent's socket directory: where apps do.
pub const WORKLOAD_API_DIR: &str = "/spiffe-workload-api";

/// The provider as planned: its host and URLs.
#[derive(Clone, Debug)]
pub struct OidcPlan {
    /// The host relying parties reach it by.
    pub domain: String,
    /// Every name it answers to (the domain, then the Service's names).
    pub domains: Vec<String>,
    /// `https://<domain>`: the JWT issuer and the discovery URL.
    pub issuer: String,
    /// `https://<domain>/keys`.
    pub jwks_url: String,
}

impl OidcPlan {
    /// The provider of a component whose Service is `service` in `namespace`.
    pub fn new(domain: Option<&str>, service: &str, namespace: &str) -> Self {
        let domain = domain.map_or_else(|| format!("{service}.{namespace}.svc"), str::to_owned);
        let mut domains = vec![domain.clone()];
        for name in tls::service_dns_names(service, namespace) {
            if !domains.contains(&name) {
                domains.push(name);
            }
        }
        OidcPlan {
            issuer: format!("https://{domain}"),
            jwks_url: format!("https://{domain}/keys"),
            domain,
            domains,
        }
    }

    /// Whether the domain is one of the Service's own names.
    pub fn is_service_name(&self, service: &str, namespace: &str) -> bool {
        tls::service_dns_names(service, namespace).contains(&self.domain)
    }
}

/// The provider's configuration.
pub fn config(p: &Plan, oidc: &OidcPlan) -> String {
    format!(
        "# Written by capstan/spire.\n\
         log_level = \"{log}\"\n\
         domains = {domains}\n\
         jwt_issuer = {issuer}\n\
         jwks_uri = {jwks}\n\
         \n\
         serving_cert_file {{\n\
         \x20 cert_file_path = {cert}\n\
         \x20 key_file_path = {key}\n\
         \x20 addr = \":{port}\"\n\
         }}\n\
         \n\
         workload_api {{\n\
         \x20 socket_path = {socket}\n\
         \x20 trust_domain = {td}\n\
         }}\n",
        log = p.inputs.log_level.lower(),
        domains = hcl_list(&oidc.domains),
        issuer = hcl(&oidc.issuer),
        jwks = hcl(&oidc.jwks_url),
        cert = hcl(&format!("{TLS_DIR}/tls.crt")),
        key = hcl(&format!("{TLS_DIR}/tls.key")),
        port = ports::OIDC,
        socket = hcl(&format!("{WORKLOAD_API_DIR}/{SOCKET_FILE}")),
        td = hcl(p.trust_domain),
    )
}

/// The certificate's objects, ServiceAccount, ConfigMap, Deployment,
/// Service, and the provider's own ClusterSPIFFEID.
pub fn objects(p: &Plan, oidc: &OidcPlan) -> Vec<Value> {
    let n = &p.names;
    let inputs = p.inputs;
    let meta = p.meta(&n.oidc, "oidc-discovery-provider");
    let issuer = inputs.oidc.as_ref().and_then(|o| o.issuer.as_ref()).map(tls::Issuer::to_ref);
    let cert = tls::server_certificate(&meta, &oidc.domains, issuer.as_ref());
    let conf = config(p, oidc);

    let mut objects = cert.objects.clone();
    objects.push(k8s::service_account(&meta, false));
    objects.push(k8s::config_map(&meta, &BTreeMap::from([(CONFIG_FILE.to_owned(), conf.clone())])));
    objects.push(deployment(p, &cert, &conf));
    objects.push(k8s::service(&meta, &[("https", ports::OIDC_SERVICE)]));
    objects.push(identities::cluster_spiffe_id(
        p,
        &n.cluster_scoped(crate::inputs::RESERVED_APP),
        crate::inputs::RESERVED_APP,
        &p.c.namespace,
        &n.oidc,
        &meta.selector(),
    ));
    objects
}

fn deployment(p: &Plan, cert: &ServerCertificate, conf: &str) -> Value {
    let inputs = p.inputs;
    let n = &p.names;
    let meta = p.meta(&n.oidc, "oidc-discovery-provider");
    let replicas = inputs.oidc.as_ref().map_or(1, |o| o.replicas);
    // Its health listener is on localhost only, out of the kubelet's
    // reach: the probes check the HTTPS port takes connections.
    let container = Container::new("oidc-discovery-provider", inputs.images.oidc_discovery_provider.clone())
        .args(["-config".to_owned(), format!("{CONFIG_DIR}/{CONFIG_FILE}")])
        .port("https", ports::OIDC)
        .resources(&inputs.resources.oidc_discovery_provider)
        .liveness_probe(k8s::tcp_probe("https"))
        .readiness_probe(k8s::tcp_probe("https"))
        .read_only_mount("config", CONFIG_DIR)
        .read_only_mount("tls", TLS_DIR)
        .read_only_mount("workload-api", WORKLOAD_API_DIR)
        .volume_mount("tmp", "/tmp");
    let pod = PodTemplate::new(&meta)
        .run_as(SPIRE_UID, SPIRE_UID)
        .service_account(&n.oidc)
        .annotation("capstan.dev/config-sha256", short_sha256(conf))
        .container(&container)
        .volume(json!({ "name": "config", "configMap": { "name": n.oidc } }))
        .volume(json!({
            "name": "tls",
            "secret": {
                "secretName": cert.secret_name,
                "items": [{ "key": "tls.crt", "path": "tls.crt" }, { "key": "tls.key", "path": "tls.key" }],
            },
        }))
        .volume(json!({ "name": "workload-api", "hostPath": { "path": inputs.agent.socket_dir, "type": "Directory" } }))
        .empty_dir("tmp");
    k8s::deployment(&meta, Some(replicas), &pod)
}
