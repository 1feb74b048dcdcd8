//! The plugin's inputs and the checks the schema cannot say.

use std::collections::BTreeMap;

use capstan_core::Diagnostic;
use capstan_sdk::k8s::is_dns_label;
use schemars::JsonSchema;
use serde::Deserialize;

pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// Controller ConfigMap keys this plugin owns; `extra_config` may not set them,
/// or an operator could switch the WAF off by accident in a values file.
pub const OWNED_KEYS: [&str; 4] = [
    "enable-modsecurity",
    "enable-owasp-modsecurity-crs",
    "modsecurity-snippet",
    "allow-snippet-annotations",
];

/// Inputs of `capstan/waf-ingress-nginx`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The IngressClass app ingresses use.
    pub ingress_class: String,
    /// Whether to render the IngressClass object.
    pub manage_ingress_class: bool,
    /// The controller value of the IngressClass (`--controller-class` of the controller).
    pub controller_class: String,
    /// Name of the controller's ConfigMap (its `--configmap` flag).
    pub controller_config_map: String,
    /// Namespace of that ConfigMap; empty for the component's namespace.
    #[serde(default)]
    pub controller_namespace: String,
    /// `block` (SecRuleEngine On) or `detect` (DetectionOnly).
    pub mode: Mode,
    /// OWASP CRS paranoia level.
    #[schemars(range(min = 1, max = 4))]
    pub paranoia_level: u8,
    #[schemars(range(min = 1))]
    pub inbound_anomaly_threshold: u32,
    #[schemars(range(min = 1))]
    pub outbound_anomaly_threshold: u32,
    /// Rules to switch off, everywhere or under a path prefix.
    #[serde(default)]
    pub rule_exclusions: Vec<RuleExclusion>,
    pub mtls: Mtls,
    /// More controller ConfigMap keys.
    #[serde(default)]
    pub extra_config: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Block,
    Detect,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleExclusion {
    /// The CRS rule id.
    pub id: u32,
    /// A path prefix; the rule stays on elsewhere. Absent: off everywhere.
    #[serde(default)]
    pub path: Option<String>,
    /// Why, for whoever reviews the exclusion list next.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mtls {
    pub enabled: bool,
    pub verify_client: VerifyClient,
    #[schemars(range(min = 1, max = 10))]
    pub verify_depth: u8,
    pub pass_certificate_to_upstream: bool,
    /// `namespace/name` of a Secret with a `ca.crt` key, when no
    /// cert-manager dependency provides the CA bundle.
    #[serde(default)]
    pub ca_secret: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerifyClient {
    On,
    Optional,
}

impl VerifyClient {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyClient::On => "on",
            VerifyClient::Optional => "optional",
        }
    }
}

pub fn check(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !is_dns_label(&inputs.ingress_class) {
        out.push(Diagnostic::error(
            "/ingress_class",
            "must be a DNS label (lower-case letters, digits and `-`, at most 63)",
        ));
    }
    if !(1..=4).contains(&inputs.paranoia_level) {
        out.push(Diagnostic::error("/paranoia_level", "the OWASP CRS paranoia level is 1 to 4"));
    }
    for (i, ex) in inputs.rule_exclusions.iter().enumerate() {
        // CRS rule ids are 6 digits; anything else is a typo that would
        // silently exclude nothing.
        if !(100_000..=999_999).contains(&ex.id) {
            out.push(Diagnostic::error(
                format!("/rule_exclusions/{i}/id"),
                format!("{} is not an OWASP CRS rule id (six digits, such as 942100)", ex.id),
            ));
        }
        if let Some(path) = &ex.path
            && (!path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || "'\"\\;{}".contains(c)))
        {
            out.push(Diagnostic::error(
                format!("/rule_exclusions/{i}/path"),
                "must be a path prefix starting with `/`, without spaces, quotes, `\\`, `;` or braces \
                 (it is written into the ModSecurity configuration)",
            ));
        }
    }
    for key in inputs.extra_config.keys() {
        if OWNED_KEYS.contains(&key.as_str()) {
            out.push(Diagnostic::error(
                format!("/extra_config/{key}"),
                format!("`{key}` is set by this plugin from its WAF inputs (mode, paranoia_level, …)"),
            ));
        }
    }
    if let Some(ca) = &inputs.mtls.ca_secret
        && parse_secret_ref(ca).is_none()
    {
        out.push(Diagnostic::error("/mtls/ca_secret", "must be `namespace/name` of a Secret"));
    }
    out
}

/// `namespace/name` → (namespace, name).
pub fn parse_secret_ref(s: &str) -> Option<(&str, &str)> {
    let (ns, name) = s.split_once('/')?;
    (is_dns_label(ns) && !name.is_empty() && !name.contains('/')).then_some((ns, name))
}
