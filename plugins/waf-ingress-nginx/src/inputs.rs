//! The plugin's inputs and the checks the schema cannot say.

use std::collections::BTreeMap;

use capstan_core::Diagnostic;
use capstan_sdk::k8s::{self, is_dns_label};
use schemars::JsonSchema;
use serde::Deserialize;

/// The defaults `values_custom` and `inputs` are merged over.
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// Controller ConfigMap keys this plugin owns; `extra_config` may not set them,
/// or an operator could switch the WAF off by accident in a values file.
pub const OWNED_KEYS: [&str; 7] = [
    "enable-modsecurity",
    "enable-owasp-modsecurity-crs",
    "modsecurity-snippet",
    "allow-snippet-annotations",
    "proxy-body-size",
    "limit-req-status-code",
    "limit-conn-status-code",
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
    /// Namespace of that ConfigMap and of the controller's pods (the chart
    /// installs both in its release namespace); empty for the component's namespace.
    #[serde(default)]
    pub controller_namespace: String,
    /// Labels of the controller's pods, which the apps' NetworkPolicies let
    /// in on the apps' ports (the `ingress_from` output). Default: what the
    /// upstream chart puts on them, `app.kubernetes.io/name: ingress-nginx`
    /// and `app.kubernetes.io/component: controller`; empty: every pod of
    /// `controller_namespace`.
    #[serde(default = "controller_pod_labels")]
    pub controller_pod_labels: BTreeMap<String, String>,
    /// `block` (SecRuleEngine On) or `detect` (DetectionOnly).
    pub mode: Mode,
    /// OWASP CRS paranoia level.
    #[schemars(range(min = 1, max = 4))]
    pub paranoia_level: u8,
    /// CRS anomaly score at which a request is blocked.
    #[schemars(range(min = 1))]
    pub inbound_anomaly_threshold: u32,
    /// CRS anomaly score at which a response is blocked.
    #[schemars(range(min = 1))]
    pub outbound_anomaly_threshold: u32,
    /// Rules to switch off, everywhere or under a path prefix.
    #[serde(default)]
    pub rule_exclusions: Vec<RuleExclusion>,
    /// Client-certificate authentication on app ingresses.
    pub mtls: Mtls,
    /// The largest request body accepted, in nginx's size syntax (`1m`,
    /// `512k`, `10m`); larger requests get 413. ModSecurity's own body limit
    /// is set to the same size, so the two never disagree.
    pub max_body_size: String,
    /// Per-client-IP request and connection limits app ingresses carry.
    pub rate_limit: RateLimit,
    /// More controller ConfigMap keys.
    #[serde(default)]
    pub extra_config: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
/// What ModSecurity does with what the CRS flags.
pub enum Mode {
    /// Deny it (`SecRuleEngine On`).
    Block,
    /// Only log it (`SecRuleEngine DetectionOnly`).
    Detect,
}

/// One CRS rule switched off, everywhere or under a path prefix.
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

/// Client-certificate authentication on app ingresses.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mtls {
    /// Demand client certificates on app ingresses.
    pub enabled: bool,
    /// `on`: a valid certificate is required; `optional`: verified when sent.
    pub verify_client: VerifyClient,
    /// How many CA levels above the client certificate are checked.
    #[schemars(range(min = 1, max = 10))]
    pub verify_depth: u8,
    /// Forward the client certificate to the app (header `ssl-client-cert`).
    pub pass_certificate_to_upstream: bool,
    /// `namespace/name` of a Secret with a `ca.crt` key, when no
    /// cert-manager dependency provides the CA bundle.
    #[serde(default)]
    pub ca_secret: Option<String>,
    /// A regular expression the client certificate's subject DN (RFC 2253,
    /// `CN=…,O=…`) must match, starting with `CN=` or `^CN=` (ingress-nginx
    /// ignores it otherwise), such as `^CN=(tpp-gateway|partner-[a-z]+)(,|$)`;
    /// others get 403. No spaces (match one with `.`). Empty: any
    /// certificate the CA signed.
    #[serde(default)]
    pub match_cn: String,
    /// Revocation: ingress-nginx checks client certificates against a CRL
    /// only when the CA Secret also holds `ca.crl` (PEM, one CRL per CA in
    /// the chain, refreshed before its nextUpdate or every client is
    /// refused). `true` insists the CA comes from `ca_secret`, a Secret the
    /// operator's PKI keeps `ca.crl` in; a cert-manager CA bundle carries no
    /// CRL, so the plan is refused rather than silently unchecked.
    #[serde(default)]
    pub require_crl: bool,
}

/// ingress-nginx's per-ingress limits, counted per client IP and per
/// controller replica (nginx's `limit_req` and `limit_conn`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Put the limits on app ingresses.
    pub enabled: bool,
    /// Requests per second from one client IP (`limit-rps`).
    pub requests_per_second: u32,
    /// Burst allowed above the rate, as a multiple of it (`limit-burst-multiplier`).
    pub burst_multiplier: u32,
    /// Concurrent connections from one client IP (`limit-connections`).
    pub connections: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
/// ingress-nginx's `auth-tls-verify-client`.
pub enum VerifyClient {
    /// A valid client certificate is required.
    On,
    /// Verified when sent; the result goes to the app.
    Optional,
}

impl VerifyClient {
    /// The annotation's value.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyClient::On => "on",
            VerifyClient::Optional => "optional",
        }
    }
}

/// The labels the upstream ingress-nginx chart gives the controller's pods
/// (its selector; `app.kubernetes.io/instance` follows the release name, so
/// it is left out).
fn controller_pod_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "ingress-nginx".into()),
        ("app.kubernetes.io/component".into(), "controller".into()),
    ])
}

/// Every problem the schema cannot express, each at its input's JSON path.
pub fn check(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !inputs.controller_namespace.is_empty() && !is_dns_label(&inputs.controller_namespace) {
        out.push(Diagnostic::error(
            "/controller_namespace",
            "must be a namespace name (lower-case letters, digits and `-`, at most 63)",
        ));
    }
    for (key, value) in &inputs.controller_pod_labels {
        if !k8s::is_label_key(key) || !k8s::is_label_value(value) {
            let mut at = "/controller_pod_labels".to_owned();
            capstan_sdk::push_token(&mut at, key);
            out.push(Diagnostic::error(at, format!("`{key}: {value}` is not a Kubernetes label")));
        }
    }
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
    if !inputs.mtls.match_cn.is_empty() && !is_match_cn(&inputs.mtls.match_cn) {
        out.push(Diagnostic::error(
            "/mtls/match_cn",
            "must start with `CN=` or `^CN=` and use only letters, digits and `.-_*|()^?+=,:@[]`, with `$` \
             only as the end anchor; match a space with `.` (it becomes an unquoted regular \
             expression in the nginx configuration)",
        ));
    }
    if inputs.mtls.enabled && inputs.mtls.require_crl && inputs.mtls.ca_secret.is_none() {
        out.push(Diagnostic::error(
            "/mtls/require_crl",
            "a CRL is read from the `ca.crl` key of the CA Secret; set mtls.ca_secret to a Secret \
             holding both `ca.crt` and `ca.crl` (a cert-manager CA bundle has no CRL)",
        ));
    }
    if body_size_bytes(&inputs.max_body_size).is_none() {
        out.push(Diagnostic::error(
            "/max_body_size",
            "must be a size such as `1m`, `512k` or `1048576` (digits, then k, m or g), \
             greater than 0 and at most 1g; 0 would remove the limit",
        ));
    }
    if inputs.rate_limit.enabled {
        for (field, value) in [
            ("requests_per_second", inputs.rate_limit.requests_per_second),
            ("burst_multiplier", inputs.rate_limit.burst_multiplier),
            ("connections", inputs.rate_limit.connections),
        ] {
            // ingress-nginx reads 0 as "no limit": refuse it rather than
            // switch a limit off by accident.
            if value == 0 {
                out.push(Diagnostic::error(
                    format!("/rate_limit/{field}"),
                    "must be at least 1 (ingress-nginx reads 0 as no limit; set rate_limit.enabled = false)",
                ));
            }
        }
    }
    out
}

/// `CN=` then the characters a subject-DN pattern needs, and none that
/// could end the regex ingress-nginx writes unquoted into an nginx `if`:
/// no spaces, quotes, braces or `;`, and `$` only as the end anchor (before
/// a letter nginx would read it as a variable).
fn is_match_cn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('^').unwrap_or(s).strip_prefix("CN=") else { return false };
    let chars: Vec<char> = rest.chars().collect();
    !chars.is_empty()
        && chars.iter().enumerate().all(|(i, &c)| match c {
            '$' => matches!(chars.get(i + 1), None | Some(')' | '|')),
            c => c.is_ascii_alphanumeric() || ".-_*|()^?+=,:@[]".contains(c),
        })
}

/// Largest body a WAF should buffer and inspect; beyond it use a dedicated
/// upload path without this WAF.
const MAX_BODY_BYTES: u64 = 1 << 30;

/// nginx's size syntax (`1m`, `512k`, `2g`, plain bytes) in bytes, if valid,
/// above 0 and at most 1 GiB.
pub fn body_size_bytes(s: &str) -> Option<u64> {
    let (digits, unit) = match s.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_lowercase()),
        _ => (s, 'b'),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let factor: u64 = match unit {
        'b' => 1,
        'k' => 1 << 10,
        'm' => 1 << 20,
        'g' => 1 << 30,
        _ => return None,
    };
    let bytes = digits.parse::<u64>().ok()?.checked_mul(factor)?;
    (1..=MAX_BODY_BYTES).contains(&bytes).then_some(bytes)
}

/// `namespace/name` → (namespace, name).
pub fn parse_secret_ref(s: &str) -> Option<(&str, &str)> {
    let (ns, name) = s.split_once('/')?;
    (is_dns_label(ns) && !name.is_empty() && !name.contains('/')).then_some((ns, name))
}
