//! The plugin's inputs and the checks the schema cannot say.

use capstan_core::Diagnostic;
use schemars::JsonSchema;
use serde::Deserialize;

pub mod acme;

pub use acme::Acme;

/// The defaults `values_custom` is merged over, with comments for `plugin inspect`.
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// Inputs of `capstan/cert-manager`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The namespace cert-manager reads ClusterIssuer Secrets from.
    pub cluster_resource_namespace: String,
    /// The issuer Certificates and app ingresses use unless they say otherwise.
    pub default_issuer: IssuerChoice,
    /// The ACME ClusterIssuer.
    pub acme: Acme,
    /// The CA ClusterIssuer.
    pub ca: Ca,
    /// Certificates to issue, for hosts no app ingress covers.
    #[serde(default)]
    pub certificates: Vec<Certificate>,
}

/// One of the two ClusterIssuers this plugin renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IssuerChoice {
    /// The ACME issuer (`acme`).
    Acme,
    /// The CA issuer (`ca`).
    Ca,
}

impl IssuerChoice {
    /// The input's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerChoice::Acme => "acme",
            IssuerChoice::Ca => "ca",
        }
    }
}

/// The CA ClusterIssuer, signing with a key pair from the secrets file.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ca {
    /// Whether to render the CA ClusterIssuer.
    pub enabled: bool,
    /// Name of the ClusterIssuer.
    pub name: String,
    /// The CA certificate, PEM.
    #[serde(default)]
    pub certificate: Option<String>,
    /// The CA private key, PEM. Sensitive: from the secrets file only.
    #[serde(default)]
    pub private_key: Option<String>,
    /// More CA certificates (PEM) to publish in the CA bundle, such as the
    /// authorities that sign client certificates.
    #[serde(default)]
    pub trust_bundle: Option<String>,
}

/// A Certificate to issue.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// Name of the Certificate; its Secret is `<name>-tls` unless `secret_name` says otherwise.
    pub name: String,
    /// DNS names the certificate covers.
    pub hosts: Vec<String>,
    /// Namespace of the Certificate and its Secret (where the ingress using it lives).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Name of the Secret the certificate is written to; `<name>-tls` when absent.
    #[serde(default)]
    pub secret_name: Option<String>,
    /// The issuer; `default_issuer` when absent.
    #[serde(default)]
    pub issuer: Option<IssuerChoice>,
    /// Lifetime, as a Go duration (such as `2160h`); the issuer's default when absent.
    #[serde(default)]
    pub duration: Option<String>,
    /// How long before expiry to renew, as a Go duration; the issuer's default when absent.
    #[serde(default)]
    pub renew_before: Option<String>,
}

impl Inputs {
    /// Whether `issuer` is rendered.
    pub fn enabled(&self, issuer: IssuerChoice) -> bool {
        match issuer {
            IssuerChoice::Acme => self.acme.enabled,
            IssuerChoice::Ca => self.ca.enabled,
        }
    }

    /// Name of the ClusterIssuer `issuer`.
    pub fn issuer_name(&self, issuer: IssuerChoice) -> &str {
        match issuer {
            IssuerChoice::Acme => &self.acme.name,
            IssuerChoice::Ca => &self.ca.name,
        }
    }
}

/// Every problem in `inputs` the schema cannot express, as errors (and
/// warnings) at the JSON Pointer of the input concerned.
pub fn check(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !inputs.enabled(inputs.default_issuer) {
        let which = inputs.default_issuer.as_str();
        out.push(Diagnostic::error(
            "/default_issuer",
            format!("the default issuer is `{which}` but {which}.enabled is false"),
        ));
    }
    if !is_dns_subdomain(&inputs.cluster_resource_namespace) {
        out.push(Diagnostic::error("/cluster_resource_namespace", "must be a namespace name"));
    }
    if inputs.acme.enabled {
        acme::check(&inputs.acme, &mut out);
    }
    if inputs.ca.enabled {
        if !is_dns_subdomain(&inputs.ca.name) {
            out.push(Diagnostic::error("/ca/name", "must be a DNS-1123 name"));
        }
        match &inputs.ca.certificate {
            Some(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => {}
            Some(_) => out.push(Diagnostic::error("/ca/certificate", "is not a PEM certificate")),
            None => {
                out.push(Diagnostic::error("/ca/certificate", "the CA issuer needs the CA certificate (PEM)"))
            }
        }
        // Never echo the key's content in a message: it is sensitive.
        match &inputs.ca.private_key {
            Some(pem) if pem.contains("-----BEGIN") && pem.contains("PRIVATE KEY-----") => {}
            Some(_) => out.push(Diagnostic::error("/ca/private_key", "is not a PEM private key")),
            None => out.push(Diagnostic::error(
                "/ca/private_key",
                "the CA issuer needs the CA private key (PEM), from the secrets file",
            )),
        }
        if let Some(bundle) = &inputs.ca.trust_bundle
            && !bundle.contains("-----BEGIN CERTIFICATE-----")
        {
            out.push(Diagnostic::error("/ca/trust_bundle", "is not a PEM certificate bundle"));
        }
    }
    for (i, cert) in inputs.certificates.iter().enumerate() {
        let at = |field: &str| format!("/certificates/{i}/{field}");
        if !is_dns_subdomain(&cert.name) {
            out.push(Diagnostic::error(at("name"), "must be a DNS-1123 name"));
        }
        let issuer = cert.issuer.unwrap_or(inputs.default_issuer);
        if !inputs.enabled(issuer) {
            out.push(Diagnostic::error(at("issuer"), format!("issuer `{}` is not enabled", issuer.as_str())));
        }
        if cert.hosts.is_empty() {
            out.push(Diagnostic::error(at("hosts"), "a certificate needs at least one host name"));
        }
        for (j, host) in cert.hosts.iter().enumerate() {
            let path = format!("/certificates/{i}/hosts/{j}");
            let bare = host.strip_prefix("*.").unwrap_or(host);
            if !is_dns_subdomain(bare) || !bare.contains('.') {
                out.push(Diagnostic::error(path, format!("`{host}` is not a fully qualified host name")));
            } else if issuer == IssuerChoice::Acme
                && inputs.acme.enabled
                && let Some(problem) = acme_cannot_prove(&inputs.acme, host)
            {
                out.push(Diagnostic::error(path, problem));
            }
        }
        if let Some(ns) = &cert.namespace
            && !is_dns_subdomain(ns)
        {
            out.push(Diagnostic::error(at("namespace"), "must be a namespace name"));
        }
    }
    out
}

/// Why the ACME issuer has no solver for `host`, if it has none. HTTP-01
/// proves any plain name; a wildcard can only be proved over DNS-01, by a
/// solver whose zones (if it names any) contain it.
fn acme_cannot_prove(acme: &Acme, host: &str) -> Option<String> {
    let wildcard = host.starts_with("*.");
    if acme.http01 && !wildcard {
        return None;
    }
    match &acme.dns01 {
        None if wildcard => Some(
            "a wildcard needs a DNS-01 challenge (HTTP-01 cannot prove one): set acme.dns01 \
             (route53, cloudflare or rfc2136)"
                .to_owned(),
        ),
        None => Some("acme.http01 is off and acme.dns01 is not set: nothing can prove this name".to_owned()),
        Some(dns01) if !dns01.covers(host) => Some(format!(
            "`{host}` is outside acme.dns01.zones ({}), and {}: add its zone to acme.dns01.zones",
            dns01.zones.join(", "),
            if wildcard { "HTTP-01 cannot prove a wildcard" } else { "acme.http01 is off" }
        )),
        Some(_) => None,
    }
}

/// Whether `s` is a DNS-1123 subdomain (lowercase labels of letters,
/// digits and inner hyphens): Kubernetes object names, namespaces, hosts.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}
