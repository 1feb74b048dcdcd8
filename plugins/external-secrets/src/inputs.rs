//! The plugin's inputs and the checks the schema cannot say. What needs the
//! `vault` dependency's outputs is checked in `plan` (see [`crate::store`]),
//! since `validate` sees the inputs alone.

use std::collections::BTreeMap;

use capstan_sdk::pointer;
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;

/// The defaults, as the engine merges `values_custom` over them.
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// The annotation IRSA reads on a ServiceAccount: the IAM role its tokens assume.
pub const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

/// Where the values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Vault or OpenBao KV version 2, through a `vault` dependency.
    Vault,
    /// AWS Secrets Manager.
    AwsSecretsManager,
}

impl Backend {
    /// The word the inputs, the outputs and env.hcl's `external_secrets.backend` use.
    pub fn word(self) -> &'static str {
        match self {
            Backend::Vault => "vault",
            Backend::AwsSecretsManager => "aws-secrets-manager",
        }
    }
}

/// The inputs, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The ClusterSecretStore's name; default: the component's name.
    #[serde(default)]
    pub store: Option<String>,
    /// `vault` or `aws-secrets-manager`.
    pub backend: Backend,
    /// vault: the name of the `vault` dependency (its `dependency` block).
    pub vault: String,
    /// vault: a Secret holding the CA the server's certificate is verified with.
    #[serde(default)]
    #[schemars(with = "CaSecret")]
    pub ca_secret: Option<CaSecret>,
    /// aws-secrets-manager: the region, and the IAM role assumed through IRSA.
    #[serde(default)]
    #[schemars(with = "Aws")]
    pub aws: Option<Aws>,
    /// The ServiceAccount the operator logs in with.
    pub service_account: ServiceAccount,
    /// The namespaces whose ExternalSecrets may use the store; empty: every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// How often an ExternalSecret naming the store should re-read it (a Go
    /// duration), published as the `refresh` output.
    pub refresh: String,
}

/// A key of a Secret holding a PEM CA bundle.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaSecret {
    /// The Secret's name.
    pub name: String,
    /// The key holding the PEM bundle.
    #[serde(default = "default_ca_key")]
    pub key: String,
    /// Its namespace; default: the component's.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// AWS Secrets Manager settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Aws {
    /// The region whose Secrets Manager holds the values, such as `eu-west-1`.
    pub region: String,
    /// The IAM role the operator assumes with the ServiceAccount's token
    /// (IRSA); none: the operator's own credentials.
    #[serde(default)]
    pub role_arn: Option<String>,
}

/// The ServiceAccount whose token the operator logs in with.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccount {
    /// Render it (true) or use one that exists (false).
    #[serde(default)]
    pub create: bool,
    /// Its name; default: the component's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its namespace; default: the component's.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Annotations of the rendered ServiceAccount (the IRSA one is added for `aws.role_arn`).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

fn default_ca_key() -> String {
    "ca.crt".to_owned()
}

impl Inputs {
    /// The store's name.
    pub fn store_name<'a>(&'a self, component: &'a ComponentId) -> &'a str {
        self.store.as_deref().unwrap_or(&component.name)
    }

    /// The ServiceAccount's name and namespace.
    pub fn service_account_ref<'a>(&'a self, component: &'a ComponentId) -> (&'a str, &'a str) {
        let sa = &self.service_account;
        (
            sa.name.as_deref().unwrap_or(&component.name),
            sa.namespace.as_deref().unwrap_or(&component.namespace),
        )
    }
}

/// Everything `validate` finds, errors, warnings and notes.
pub fn check(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if let Some(store) = &inputs.store
        && !is_dns_subdomain(store)
    {
        out.push(Diagnostic::error(
            "/store",
            format!("`{store}` cannot name a ClusterSecretStore: lower-case letters, digits, `-` and `.`"),
        ));
    }
    if !is_go_duration(&inputs.refresh) {
        out.push(Diagnostic::error(
            "/refresh",
            format!("`{}` is not a Go duration such as 1h, 15m or 1h30m", inputs.refresh),
        ));
    }
    for (i, ns) in inputs.namespaces.iter().enumerate() {
        if !k8s::is_dns_label(ns) {
            out.push(Diagnostic::error(
                pointer(&["namespaces", &i.to_string()]),
                format!("`{ns}` cannot name a namespace: lower-case letters, digits and `-`, at most 63"),
            ));
        }
    }
    check_service_account(&inputs.service_account, &mut out);
    match inputs.backend {
        Backend::Vault => {
            if inputs.vault.is_empty() {
                out.push(Diagnostic::error("/vault", "name the `vault` dependency the store reads"));
            }
            if let Some(ca) = &inputs.ca_secret {
                check_ca_secret(ca, &mut out);
            }
            if inputs.aws.is_some() {
                out.push(warning("/aws", "ignored: the backend is vault"));
            }
        }
        Backend::AwsSecretsManager => {
            match &inputs.aws {
                None => out.push(Diagnostic::error(
                    "/aws",
                    "name the region of the Secrets Manager: aws = { region = \"eu-west-1\" }",
                )),
                Some(aws) => check_aws(aws, inputs.service_account.create, &mut out),
            }
            if inputs.ca_secret.is_some() {
                out.push(warning("/ca_secret", "ignored: the backend is aws-secrets-manager"));
            }
        }
    }
    out
}

fn check_service_account(sa: &ServiceAccount, out: &mut Vec<Diagnostic>) {
    if let Some(name) = &sa.name
        && !is_dns_subdomain(name)
    {
        out.push(Diagnostic::error(
            "/service_account/name",
            format!("`{name}` cannot name a ServiceAccount: lower-case letters, digits, `-` and `.`"),
        ));
    }
    if let Some(ns) = &sa.namespace
        && !k8s::is_dns_label(ns)
    {
        out.push(Diagnostic::error(
            "/service_account/namespace",
            format!("`{ns}` cannot name a namespace: lower-case letters, digits and `-`, at most 63"),
        ));
    }
    for key in sa.annotations.keys() {
        if !k8s::is_label_key(key) {
            out.push(Diagnostic::error(
                pointer(&["service_account", "annotations", key]),
                format!("`{key}` is not an annotation key (`prefix/name`, as `eks.amazonaws.com/role-arn`)"),
            ));
        }
    }
    if !sa.create && !sa.annotations.is_empty() {
        out.push(warning(
            "/service_account/annotations",
            "ignored: the ServiceAccount is not rendered (service_account.create is false)",
        ));
    }
}

fn check_ca_secret(ca: &CaSecret, out: &mut Vec<Diagnostic>) {
    if !is_dns_subdomain(&ca.name) {
        out.push(Diagnostic::error(
            "/ca_secret/name",
            format!("`{}` cannot name a Secret: lower-case letters, digits, `-` and `.`", ca.name),
        ));
    }
    let key_ok = !ca.key.is_empty()
        && ca.key.len() <= 253
        && ca.key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !key_ok {
        out.push(Diagnostic::error(
            "/ca_secret/key",
            format!("`{}` is not a Secret key: letters, digits, `-`, `_` and `.`", ca.key),
        ));
    }
    if let Some(ns) = &ca.namespace
        && !k8s::is_dns_label(ns)
    {
        out.push(Diagnostic::error(
            "/ca_secret/namespace",
            format!("`{ns}` cannot name a namespace: lower-case letters, digits and `-`, at most 63"),
        ));
    }
}

fn check_aws(aws: &Aws, create_service_account: bool, out: &mut Vec<Diagnostic>) {
    if !is_region(&aws.region) {
        out.push(Diagnostic::error(
            "/aws/region",
            format!("`{}` is not an AWS region such as eu-west-1", aws.region),
        ));
    }
    match &aws.role_arn {
        Some(arn) if !is_role_arn(arn) => out.push(Diagnostic::error(
            "/aws/role_arn",
            format!("`{arn}` is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"),
        )),
        Some(arn) if !create_service_account => out.push(note(
            "/aws/role_arn",
            format!(
                "the ServiceAccount is not rendered (service_account.create is false): it must carry \
                 the annotation {IRSA_ANNOTATION}: {arn}, and the role's trust policy must allow it"
            ),
        )),
        Some(_) => {}
        None => out.push(note(
            "/aws",
            "no role_arn: the operator reads Secrets Manager with its own credentials (its pod's IRSA \
             role, or the node's)",
        )),
    }
}

fn warning(path: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic { path: path.into(), severity: Severity::Warning, message: message.into() }
}

fn note(path: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic { path: path.into(), severity: Severity::Info, message: message.into() }
}

/// A DNS-1123 subdomain: what most Kubernetes object names must be.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// What Go's `time.ParseDuration` takes (the operator parses `refreshInterval`
/// with it): `0`, or numbers each followed by a unit, such as `1h30m`.
pub fn is_go_duration(s: &str) -> bool {
    if s == "0" {
        return true;
    }
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number = &rest[..digits];
        if number.is_empty()
            || number.starts_with('.')
            || number.ends_with('.')
            || number.matches('.').count() > 1
        {
            return false;
        }
        rest = &rest[digits..];
        let Some(unit) = ["ns", "us", "µs", "ms", "s", "m", "h"]
            .into_iter()
            .filter(|u| rest.starts_with(u))
            .max_by_key(|u| u.len())
        else {
            return false;
        };
        rest = &rest[unit.len()..];
    }
    true
}

/// An AWS region name such as `eu-west-1` or `us-gov-west-1`.
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.last().is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
}

/// `arn:<partition>:iam::<12 digits>:role/<path and name>`.
fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_are_what_time_parse_duration_takes() {
        for good in ["0", "1h", "15m", "1h30m", "90s", "1.5h", "500ms", "10us"] {
            assert!(is_go_duration(good), "{good}");
        }
        for bad in ["", "1", "h", "1d", "1 h", "-1h", ".5h", "1..5h", "1hour"] {
            assert!(!is_go_duration(bad), "{bad}");
        }
    }

    #[test]
    fn regions_and_role_arns() {
        assert!(is_region("eu-west-1") && is_region("us-gov-west-1"));
        assert!(!is_region("eu-west") && !is_region("EU-west-1") && !is_region("euwest1"));
        assert!(is_role_arn("arn:aws:iam::123456789012:role/external-secrets"));
        assert!(is_role_arn("arn:aws-cn:iam::123456789012:role/team/eso"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/eso"));
        assert!(!is_role_arn("arn:aws:iam::1234:role/eso"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:role/"));
    }
}
