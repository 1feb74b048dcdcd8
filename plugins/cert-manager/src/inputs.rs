//! The plugin's inputs and the checks the schema cannot say.

use capstan_core::Diagnostic;
use schemars::JsonSchema;
use serde::Deserialize;

pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// Inputs of `capstan/cert-manager`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The namespace cert-manager reads ClusterIssuer Secrets from.
    pub cluster_resource_namespace: String,
    /// The issuer Certificates and app ingresses use unless they say otherwise.
    pub default_issuer: IssuerChoice,
    pub acme: Acme,
    pub ca: Ca,
    #[serde(default)]
    pub certificates: Vec<Certificate>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IssuerChoice {
    Acme,
    Ca,
}

impl IssuerChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerChoice::Acme => "acme",
            IssuerChoice::Ca => "ca",
        }
    }
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Acme {
    pub enabled: bool,
    /// Name of the ClusterIssuer.
    pub name: String,
    /// The ACME directory URL.
    pub server: String,
    /// The ACME account's contact address.
    #[serde(default)]
    pub email: String,
    /// Ingress class for HTTP-01 challenges when there is no `waf` dependency.
    #[serde(default)]
    pub ingress_class: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ca {
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
    #[serde(default)]
    pub secret_name: Option<String>,
    #[serde(default)]
    pub issuer: Option<IssuerChoice>,
    /// Lifetime, as a Go duration (such as `2160h`); the issuer's default when absent.
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub renew_before: Option<String>,
}

impl Inputs {
    pub fn enabled(&self, issuer: IssuerChoice) -> bool {
        match issuer {
            IssuerChoice::Acme => self.acme.enabled,
            IssuerChoice::Ca => self.ca.enabled,
        }
    }

    pub fn issuer_name(&self, issuer: IssuerChoice) -> &str {
        match issuer {
            IssuerChoice::Acme => &self.acme.name,
            IssuerChoice::Ca => &self.ca.name,
        }
    }
}

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
        if !is_dns_subdomain(&inputs.acme.name) {
            out.push(Diagnostic::error("/acme/name", "must be a DNS-1123 name"));
        }
        let email = &inputs.acme.email;
        if !email.contains('@') || email.contains(char::is_whitespace) {
            out.push(Diagnostic::error(
                "/acme/email",
                "an ACME account needs a contact e-mail address (Let's Encrypt warns there before \
                 certificates expire)",
            ));
        }
        if !inputs.acme.server.starts_with("https://") {
            out.push(Diagnostic::error("/acme/server", "must be an https:// ACME directory URL"));
        }
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
            } else if host.starts_with("*.") && issuer == IssuerChoice::Acme {
                out.push(Diagnostic::error(
                    path,
                    "a wildcard needs a DNS-01 challenge; this ACME issuer answers HTTP-01 only",
                ));
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
