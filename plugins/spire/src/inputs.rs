//! The plugin's inputs and the checks the schema cannot say.
//!
//! `trust_domain` and `cluster_name` are required, but optional in the
//! schema: a missing one is reported by [`check`] at its own path, with
//! what to write, rather than as a "required property" of the whole inputs.

use std::collections::BTreeMap;

use capstan_sdk::contracts::check_pods;
use capstan_sdk::k8s::tls::Issuer;
use capstan_sdk::k8s::{Resources, is_dns_label, is_label_key, is_label_value};
use capstan_sdk::pointer;
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// The defaults `values_custom` is merged over, with comments for `plugin inspect`.
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// The app key the OIDC discovery provider's own ClusterSPIFFEID uses.
pub const RESERVED_APP: &str = "oidc-discovery-provider";

/// Namespaces the controller manager ignores (as upstream does): the
/// cluster's own, where no app of ours runs.
pub const IGNORED_NAMESPACES: [&str; 2] = ["kube-system", "kube-public"];

/// Inputs of `capstan/spire`, after the defaults are merged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The SPIFFE trust domain every identity is issued in (required), such
    /// as `dev.example`: lower-case letters, digits, `.`, `-` and `_`.
    #[serde(default)]
    pub trust_domain: Option<String>,
    /// The cluster's name (required): agents attest with it (`k8s_psat`)
    /// and it is part of every agent's SPIFFE ID.
    #[serde(default)]
    pub cluster_name: Option<String>,
    /// SPIRE servers (StatefulSet replicas), sharing the datastore.
    pub replicas: u32,
    /// Each server's volume (data directory and CA keys).
    pub storage: Storage,
    /// The name of the `postgres` dependency the datastore is on.
    pub postgres: String,
    /// The OIDC discovery provider; off when absent.
    #[serde(default)]
    // Its own schema rather than `anyOf` with null, so a bad field inside is
    // reported at its path.
    #[schemars(with = "Oidc")]
    pub oidc: Option<Oidc>,
    /// The apps that get a SPIFFE ID, keyed by app (component) name.
    #[serde(default)]
    pub apps: BTreeMap<String, App>,
    /// The images of every process, pinned.
    pub images: Images,
    /// Requests and limits of every container.
    pub resources: ContainerResources,
    /// The subject of the trust domain's CA certificates.
    pub ca_subject: CaSubject,
    /// The agents on every node.
    pub agent: Agent,
    /// The log level of every SPIRE process.
    pub log_level: LogLevel,
    /// Alerts and a Grafana dashboard, and the scrape of the server's and
    /// agents' metrics; off when absent, `{}` for the defaults.
    #[serde(default)]
    #[schemars(with = "Monitoring")]
    pub monitoring: Option<Monitoring>,
}

/// A server's persistent volume.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Volume size, such as `1Gi`.
    pub size: String,
    /// StorageClass; default: the cluster's default class.
    #[serde(default)]
    pub class: Option<String>,
}

/// The OIDC discovery provider (a Deployment and its Service).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    /// The host name relying parties reach it by; it is the JWT issuer's
    /// host and is in its certificate. Default: `<component>-oidc.<namespace>.svc`.
    #[serde(default)]
    pub domain: Option<String>,
    /// The cert-manager issuer of its certificate; default: a private CA
    /// made for it alone.
    #[serde(default)]
    #[schemars(with = "Issuer")]
    pub issuer: Option<Issuer>,
    /// Replicas of the provider.
    #[serde(default = "one")]
    pub replicas: u32,
}

fn one() -> u32 {
    1
}

/// One app that gets a SPIFFE ID: its pods' namespace and ServiceAccount.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// The namespace its pods run in; default: this component's.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The ServiceAccount its pods run as; default: the app's name.
    #[serde(default)]
    pub service_account: Option<String>,
    /// Labels that narrow the registration to these pods of the
    /// ServiceAccount (the ClusterSPIFFEID's `podSelector`); default: none.
    #[serde(default)]
    pub pod_labels: BTreeMap<String, String>,
}

/// The images, each a full reference with a tag or digest.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Images {
    /// `spire-server`.
    pub server: String,
    /// `spire-agent`.
    pub agent: String,
    /// `spire-controller-manager`, whose release must match the installed CRDs.
    pub controller_manager: String,
    /// `oidc-discovery-provider`.
    pub oidc_discovery_provider: String,
}

/// Alerts (a prometheus-operator `PrometheusRule`), a Grafana dashboard
/// (a ConfigMap for the Grafana chart's dashboard sidecar), the server's
/// and agents' Prometheus exporters, a `ServiceMonitor` for the servers and
/// a `PodMonitor` for the agents.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// Render the Grafana dashboard.
    #[serde(default = "yes")]
    pub dashboard: bool,
    /// Extra labels of the PrometheusRule, the ServiceMonitor and the
    /// PodMonitor, so that a Prometheus's `ruleSelector`,
    /// `serviceMonitorSelector` and `podMonitorSelector` pick them up
    /// (kube-prometheus-stack's select `release: <its release>`).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// Requests and limits of each container.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerResources {
    /// The SPIRE server.
    pub server: Resources,
    /// The controller manager beside it.
    pub controller_manager: Resources,
    /// Each agent.
    pub agent: Resources,
    /// The OIDC discovery provider.
    pub oidc_discovery_provider: Resources,
}

/// The subject of the CA certificates.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaSubject {
    /// `C` values.
    #[serde(default)]
    pub country: Vec<String>,
    /// `O` values.
    #[serde(default)]
    pub organization: Vec<String>,
    /// `CN`; empty: none.
    #[serde(default)]
    pub common_name: String,
}

/// The agents.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// The directory on every node that holds the Workload API socket.
    pub socket_dir: String,
    /// Verify the kubelet's serving certificate against the cluster CA
    /// (and reach it by node name); off: reached by the node's IP, unverified.
    pub verify_kubelet: bool,
    /// Tolerations of the agents' pods, as Kubernetes spells them.
    #[serde(default)]
    pub tolerations: Vec<Value>,
}

/// How much every SPIRE process logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything, for debugging.
    Debug,
    /// What happens.
    Info,
    /// What may need a look.
    Warn,
    /// Failures only.
    Error,
}

impl LogLevel {
    /// The spelling of the server's and agent's `log_level`.
    pub fn upper(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }

    /// The spelling of the controller manager's and the provider's.
    pub fn lower(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Errors the schema cannot catch, each at the input it is about.
pub fn check(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match inputs.trust_domain.as_deref() {
        None | Some("") => out.push(Diagnostic::error(
            "/trust_domain",
            "name the SPIFFE trust domain every identity is issued in, such as `dev.example` (required)",
        )),
        Some(td) => {
            if let Err(why) = check_trust_domain(td) {
                out.push(Diagnostic::error("/trust_domain", why));
            }
        }
    }
    match inputs.cluster_name.as_deref() {
        None | Some("") => out.push(Diagnostic::error(
            "/cluster_name",
            "name this cluster, such as `prod-eu` (required): agents attest with it and it is part of \
             their SPIFFE IDs",
        )),
        Some(name) => {
            if !is_path_segment(name) {
                out.push(Diagnostic::error(
                    "/cluster_name",
                    format!(
                        "`{name}` cannot be part of a SPIFFE ID: letters, digits, `.`, `-` and `_`, at most \
                         63, and not `.` or `..`"
                    ),
                ));
            }
        }
    }
    if inputs.replicas == 0 {
        out.push(Diagnostic::error("/replicas", "0 replicas would run no SPIRE server; use at least 1"));
    }
    if inputs.storage.size.trim().is_empty() {
        out.push(Diagnostic::error("/storage/size", "give the servers' volume a size, such as `1Gi`"));
    }
    if inputs.postgres.is_empty() {
        out.push(Diagnostic::error(
            "/postgres",
            "name the `postgres` dependency the datastore is on (the name in `dependency \"…\"`)",
        ));
    }
    if let Some(oidc) = &inputs.oidc {
        if let Some(domain) = &oidc.domain
            && !is_dns_name(domain)
        {
            out.push(Diagnostic::error(
                "/oidc/domain",
                format!("`{domain}` is not a host name: lower-case DNS labels joined by `.`, at most 253"),
            ));
        }
        if oidc.replicas == 0 {
            out.push(Diagnostic::error("/oidc/replicas", "0 replicas would serve no keys; use at least 1"));
        }
    }
    for (key, app) in &inputs.apps {
        check_app(key, app, &mut out);
    }
    let images = [
        ("server", &inputs.images.server),
        ("agent", &inputs.images.agent),
        ("controller_manager", &inputs.images.controller_manager),
        ("oidc_discovery_provider", &inputs.images.oidc_discovery_provider),
    ];
    for (field, image) in images {
        if image.trim().is_empty() || image.contains(char::is_whitespace) {
            out.push(Diagnostic::error(
                pointer(&["images", field]),
                "an image reference, such as ghcr.io/spiffe/spire-server:1.15.3",
            ));
        }
    }
    let subject = inputs.ca_subject.country.iter().chain(&inputs.ca_subject.organization);
    // SPIRE's HCL 1 scanner reads `${` in a string as an interpolation to close.
    if subject
        .chain([&inputs.ca_subject.common_name])
        .any(|s| s.contains(char::is_control) || s.contains("${"))
    {
        out.push(Diagnostic::error(
            "/ca_subject",
            "subject values are one line of text, without control characters or `${`",
        ));
    }
    check_socket_dir(&inputs.agent.socket_dir, &mut out);
    if let Some(m) = &inputs.monitoring {
        check_labels(&m.labels, &mut out);
    }
    out
}

/// `monitoring.labels`: Kubernetes label keys and values, none of those
/// Capstan sets on every object itself.
fn check_labels(labels: &BTreeMap<String, String>, out: &mut Vec<Diagnostic>) {
    for (key, value) in labels {
        let at = pointer(&["monitoring", "labels", key]);
        if !is_label_key(key) {
            out.push(Diagnostic::error(
                at,
                format!(
                    "`{key}` is not a label key: an optional DNS prefix and `/`, then 1 to 63 letters, digits, \
                     `-`, `_` and `.`"
                ),
            ));
        } else if key.starts_with("app.kubernetes.io/") || key.starts_with("capstan.dev/") {
            out.push(Diagnostic::error(at, format!("`{key}` is set by Capstan on every object it renders")));
        } else if !is_label_value(value) {
            out.push(Diagnostic::error(
                at,
                format!(
                    "`{value}` is not a label value: at most 63 letters, digits, `-`, `_` and `.`, \
                     alphanumeric at both ends"
                ),
            ));
        }
    }
}

fn check_app(key: &str, app: &App, out: &mut Vec<Diagnostic>) {
    let at = |field: &str| pointer(&["apps", key, field]);
    if !is_dns_label(key) {
        out.push(Diagnostic::error(
            pointer(&["apps", key]),
            format!("`{key}` is not an app name: lower-case letters, digits and `-`, at most 63"),
        ));
    } else if key == RESERVED_APP {
        out.push(Diagnostic::error(
            pointer(&["apps", key]),
            format!(
                "`{RESERVED_APP}` names the OIDC discovery provider's own registration; choose another key"
            ),
        ));
    }
    if let Some(ns) = &app.namespace {
        if !is_dns_label(ns) {
            out.push(Diagnostic::error(
                at("namespace"),
                format!("`{ns}` cannot name a namespace: lower-case letters, digits and `-`, at most 63"),
            ));
        } else if IGNORED_NAMESPACES.contains(&ns.as_str()) {
            out.push(Diagnostic::error(
                at("namespace"),
                format!("the controller manager ignores `{ns}`: no workload there is registered"),
            ));
        }
    }
    if let Some(sa) = &app.service_account
        && !is_dns_name(sa)
    {
        out.push(Diagnostic::error(
            at("service_account"),
            format!(
                "`{sa}` cannot name a ServiceAccount: lower-case letters, digits, `-` and `.`, at most 253"
            ),
        ));
    }
    check_pods(&pointer(&["apps", key]), None, &app.pod_labels, out);
}

fn check_socket_dir(dir: &str, out: &mut Vec<Diagnostic>) {
    let ok = dir.starts_with('/')
        && dir.len() > 1
        && !dir.ends_with('/')
        && dir.split('/').skip(1).all(|s| !s.is_empty() && s != "." && s != "..")
        && !dir.contains(|c: char| c.is_whitespace() || c.is_control() || c == '"' || c == '\\');
    if !ok {
        out.push(Diagnostic::error(
            "/agent/socket_dir",
            "an absolute directory on the nodes, such as /run/spire/agent-sockets (no `..`, no trailing `/`)",
        ));
    }
}

/// Why `td` is not a SPIFFE trust domain name, if it is not one.
pub fn check_trust_domain(td: &str) -> Result<(), String> {
    if let Some(rest) = td.strip_prefix("spiffe://") {
        return Err(format!(
            "give the trust domain alone, without `spiffe://`: `{}`",
            rest.trim_end_matches('/')
        ));
    }
    if td.len() > 255 {
        return Err("a trust domain has at most 255 characters".to_owned());
    }
    if td.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("trust domains are lower case: `{}`", td.to_ascii_lowercase()));
    }
    if !td.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '-' | '_')) {
        return Err(format!(
            "`{td}` is not a trust domain: lower-case letters, digits, `.`, `-` and `_` only (no scheme, port or path)"
        ));
    }
    if td.starts_with('.') || td.ends_with('.') || td.contains("..") {
        return Err(format!("`{td}` is not a trust domain: no empty label between dots"));
    }
    Ok(())
}

/// A SPIFFE ID path segment Kubernetes' names fit in: letters, digits,
/// `.`, `-`, `_`; not `.` or `..`; at most 63.
fn is_path_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// A DNS-1123 subdomain: lower-case labels joined by `.`, at most 253.
pub fn is_dns_name(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_domains_are_checked_as_spiffe_names() {
        assert!(check_trust_domain("dev.example").is_ok());
        assert!(check_trust_domain("a_b-c.d9").is_ok());
        assert!(check_trust_domain("spiffe://dev.example").unwrap_err().contains("without `spiffe://`"));
        assert!(check_trust_domain("Dev.Example").unwrap_err().contains("`dev.example`"));
        assert!(check_trust_domain("dev.example:8443").unwrap_err().contains("no scheme, port or path"));
        assert!(check_trust_domain("dev..example").is_err());
        assert!(check_trust_domain(&"a".repeat(256)).is_err());
    }

    #[test]
    fn names_of_segments_and_hosts() {
        assert!(is_path_segment("prod-eu_1.a"));
        assert!(!is_path_segment(".."));
        assert!(!is_path_segment("prod/eu"));
        assert!(is_dns_name("spire-oidc.security.svc"));
        assert!(!is_dns_name("Spire.svc"));
        assert!(!is_dns_name("a..b"));
    }
}
