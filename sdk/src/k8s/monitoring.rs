//! Alerts and dashboards: a prometheus-operator `PrometheusRule`
//! (`monitoring.coreos.com/v1`) built from rule groups, a Grafana dashboard
//! `ConfigMap` (label `grafana_dashboard: "1"`, which the Grafana Helm
//! chart's dashboard sidecar loads), and the alert sets and dashboards of
//! the components Capstan ships ([`vault_alerts`], [`spire_alerts`], …), as
//! data a plugin renders.
//!
//! The same groups also come out as a plain Prometheus rules file
//! ([`rules_file`]), and a dashboard lists its queries ([`Dashboard::exprs`]),
//! so a test can hand both to the real `promtool` (the SDK's own tests do,
//! in `sdk/tests/monitoring.rs`). Dashboard queries are therefore plain
//! PromQL: no Grafana variables (`$__rate_interval`, `$job`) in them, only
//! the data source is a variable.
//!
//! The selectors assume prometheus-operator's target labels: `job` is the
//! scraped Service's name (a ServiceMonitor's default) and `namespace` the
//! target's namespace. This module checks no PromQL itself (that is
//! promtool's job, in tests) and renders no ServiceMonitor (see
//! [`super::service_monitor`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{Meta, manifest};

/// The API version of `PrometheusRule`.
pub const PROMETHEUS_RULE_API: &str = "monitoring.coreos.com/v1";
/// The label the Grafana chart's dashboard sidecar looks for on ConfigMaps.
pub const DASHBOARD_LABEL: &str = "grafana_dashboard";

/// How urgent an alert is: its `severity` label, which Alertmanager routes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertSeverity {
    /// Someone must act now.
    Critical,
    /// Someone must act soon.
    Warning,
    /// For the record.
    Info,
}

impl AlertSeverity {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Critical => "critical",
            AlertSeverity::Warning => "warning",
            AlertSeverity::Info => "info",
        }
    }
}

/// One alerting rule.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Alert {
    /// The alert's name, such as `VaultSealed`.
    pub name: String,
    /// The PromQL expression; every series it returns is a firing alert.
    pub expr: String,
    /// How long the expression must hold before the alert fires (a
    /// Prometheus duration such as `5m`); `None`: at once.
    pub for_duration: Option<String>,
    /// Its `severity` label.
    pub severity: AlertSeverity,
    /// The `summary` annotation: one line, may use `{{ $labels.x }}`.
    pub summary: String,
    /// The `description` annotation: what it means and what to do.
    pub description: String,
    /// Labels beside `severity`.
    pub labels: BTreeMap<String, String>,
}

impl Alert {
    /// An alert firing on every series `expr` returns.
    pub fn new(name: impl Into<String>, expr: impl Into<String>, severity: AlertSeverity) -> Self {
        Self {
            name: name.into(),
            expr: expr.into(),
            for_duration: None,
            severity,
            summary: String::new(),
            description: String::new(),
            labels: BTreeMap::new(),
        }
    }

    /// Fires only once `expr` held for `duration` (`5m`).
    pub fn for_duration(mut self, duration: impl Into<String>) -> Self {
        self.for_duration = Some(duration.into());
        self
    }

    /// The `summary` annotation.
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    /// The `description` annotation.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// A label beside `severity`.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// The rule, as both a rules file and a `PrometheusRule` hold it.
    pub fn to_rule(&self) -> Value {
        let mut rule = Map::new();
        rule.insert("alert".into(), json!(self.name));
        rule.insert("expr".into(), json!(self.expr));
        if let Some(d) = &self.for_duration {
            rule.insert("for".into(), json!(d));
        }
        let mut labels = self.labels.clone();
        labels.insert("severity".into(), self.severity.as_str().into());
        rule.insert("labels".into(), json!(labels));
        let mut annotations = Map::new();
        for (key, text) in [("summary", &self.summary), ("description", &self.description)] {
            if !text.is_empty() {
                annotations.insert(key.into(), json!(text));
            }
        }
        if !annotations.is_empty() {
            rule.insert("annotations".into(), Value::Object(annotations));
        }
        Value::Object(rule)
    }
}

/// A named group of alerts, evaluated together.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct RuleGroup {
    /// The group's name, unique within a rules file.
    pub name: String,
    /// How often the group is evaluated; `None`: Prometheus's global interval.
    pub interval: Option<String>,
    /// Its alerts, in order.
    pub alerts: Vec<Alert>,
}

impl RuleGroup {
    /// An empty group.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), interval: None, alerts: Vec::new() }
    }

    /// Adds an alert.
    pub fn alert(mut self, alert: Alert) -> Self {
        self.alerts.push(alert);
        self
    }

    /// Evaluated every `interval` (`1m`).
    pub fn interval(mut self, interval: impl Into<String>) -> Self {
        self.interval = Some(interval.into());
        self
    }

    /// The group, as both a rules file and a `PrometheusRule` hold it.
    pub fn to_value(&self) -> Value {
        let mut group = Map::new();
        group.insert("name".into(), json!(self.name));
        if let Some(i) = &self.interval {
            group.insert("interval".into(), json!(i));
        }
        group.insert("rules".into(), Value::Array(self.alerts.iter().map(Alert::to_rule).collect()));
        Value::Object(group)
    }
}

/// A `PrometheusRule` holding `groups`. prometheus-operator loads only the
/// rules its Prometheus's `ruleSelector` matches: kube-prometheus-stack's
/// selects `release: <its release>`, so add that label to `meta`.
pub fn prometheus_rule(meta: &Meta, groups: &[RuleGroup]) -> Value {
    manifest(PROMETHEUS_RULE_API, "PrometheusRule", meta, [("spec", rules_file(groups))])
}

/// The groups as a plain Prometheus rules file (`{ "groups": [...] }`), the
/// shape `promtool check rules` and Prometheus's `rule_files` read. It is
/// also a `PrometheusRule`'s `spec`.
pub fn rules_file(groups: &[RuleGroup]) -> Value {
    json!({ "groups": groups.iter().map(RuleGroup::to_value).collect::<Vec<_>>() })
}

/// [`rules_file`] as YAML text, for `promtool` or a `rule_files` entry.
/// On the host only: plugins (wasm) carry no YAML writer.
#[cfg(not(target_arch = "wasm32"))]
pub fn rules_file_yaml(groups: &[RuleGroup]) -> String {
    // A JSON value of strings, maps and lists always serialises.
    serde_norway::to_string(&rules_file(groups)).unwrap_or_default()
}

/// A rules file recording each of `exprs` (`record: capstan:check:<i>`):
/// `promtool check rules` on it parses every expression, which is how a
/// test checks dashboard queries with promtool 2.x (no `check query`).
pub fn recording_rules_file(exprs: &[&str]) -> Value {
    let rules: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, expr)| json!({ "record": format!("capstan:check:{i}"), "expr": expr }))
        .collect();
    json!({ "groups": [{ "name": "capstan-check", "rules": rules }] })
}

/// One panel: a time series of one query.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Panel {
    /// Its title.
    pub title: String,
    /// The PromQL query (no Grafana variables: see the module docs).
    pub expr: String,
    /// Grafana's unit id (`s`, `percentunit`, `reqps`, `short`); `None`: none.
    pub unit: Option<String>,
    /// The legend, such as `{{instance}}`; `None`: Grafana's default.
    pub legend: Option<String>,
    /// What the panel shows, for its info tooltip.
    pub description: String,
}

impl Panel {
    /// A time series of `expr`.
    pub fn new(title: impl Into<String>, expr: impl Into<String>) -> Self {
        Self { title: title.into(), expr: expr.into(), unit: None, legend: None, description: String::new() }
    }

    /// Its unit.
    pub fn unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = Some(unit.into());
        self
    }

    /// Its legend format.
    pub fn legend(mut self, legend: impl Into<String>) -> Self {
        self.legend = Some(legend.into());
        self
    }

    /// Its description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }
}

/// One Grafana dashboard of time-series panels on a Prometheus data source
/// the viewer picks (a `datasource` variable).
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Dashboard {
    /// Grafana's id of it, stable across renders (at most 40 characters).
    pub uid: String,
    /// Its title.
    pub title: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its panels, two per row, in order.
    pub panels: Vec<Panel>,
}

impl Dashboard {
    /// An empty dashboard. A `uid` over Grafana's 40 characters is cut to
    /// 31 and given a digest of the whole, so two long uids that share a
    /// beginning stay apart.
    pub fn new(uid: impl Into<String>, title: impl Into<String>) -> Self {
        Self { uid: grafana_uid(uid.into()), title: title.into(), tags: Vec::new(), panels: Vec::new() }
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Adds a panel.
    pub fn panel(mut self, panel: Panel) -> Self {
        self.panels.push(panel);
        self
    }

    /// Every panel's query, in order: what a test hands to promtool.
    pub fn exprs(&self) -> Vec<&str> {
        self.panels.iter().map(|p| p.expr.as_str()).collect()
    }

    /// The dashboard's JSON model, as Grafana imports it.
    pub fn to_json(&self) -> Value {
        let datasource = json!({ "type": "prometheus", "uid": "${datasource}" });
        let panels: Vec<Value> = self
            .panels
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut target = json!({ "refId": "A", "datasource": datasource, "expr": p.expr });
                if let Some(legend) = &p.legend {
                    target["legendFormat"] = json!(legend);
                }
                let mut defaults = Map::new();
                if let Some(unit) = &p.unit {
                    defaults.insert("unit".into(), json!(unit));
                }
                let mut panel = json!({
                    "id": i + 1,
                    "type": "timeseries",
                    "title": p.title,
                    "datasource": datasource,
                    "gridPos": { "h": 8, "w": 12, "x": (i % 2) * 12, "y": (i / 2) * 8 },
                    "fieldConfig": { "defaults": defaults, "overrides": [] },
                    "targets": [target],
                });
                if !p.description.is_empty() {
                    panel["description"] = json!(p.description);
                }
                panel
            })
            .collect();
        json!({
            "uid": self.uid,
            "title": self.title,
            "tags": self.tags,
            "editable": false,
            "schemaVersion": 39,
            "version": 1,
            "time": { "from": "now-6h", "to": "now" },
            "refresh": "1m",
            "templating": { "list": [{
                "name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            }] },
            "panels": panels,
        })
    }
}

/// The longest uid Grafana accepts.
const UID_MAX: usize = 40;

/// `uid` itself when it fits; else its first 31 bytes (cut at a character
/// boundary), `-` and the 32-bit FNV-1a digest of the whole in hex.
fn grafana_uid(uid: String) -> String {
    if uid.len() <= UID_MAX {
        return uid;
    }
    let digest = uid.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    let mut cut = UID_MAX - 9;
    while !uid.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{digest:08x}", &uid[..cut])
}

/// A ConfigMap holding `dashboard` as `<uid>.json`, labelled
/// `grafana_dashboard: "1"` for the Grafana chart's dashboard sidecar.
pub fn dashboard_config_map(meta: &Meta, dashboard: &Dashboard) -> Value {
    let meta = meta.clone().label(DASHBOARD_LABEL, "1");
    // A JSON value always serialises.
    let text = serde_json::to_string_pretty(&dashboard.to_json()).unwrap_or_default();
    super::config_map(&meta, &BTreeMap::from([(format!("{}.json", dashboard.uid), text)]))
}

/// `value` as a PromQL string literal, quotes included.
pub fn promql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `{k="v",…}`: equality matchers on each label, values quoted.
pub fn selector(labels: &[(&str, &str)]) -> String {
    let matchers: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", promql_string(v))).collect();
    format!("{{{}}}", matchers.join(","))
}

/// Days before a certificate's end at which [`vault_alerts`] warns.
pub const CERTIFICATE_WARNING_DAYS: u32 = 14;

/// The alerts of a Vault or OpenBao server whose metrics Prometheus scrapes
/// as `job` in `namespace` (`/v1/sys/metrics?format=prometheus`; OpenBao
/// keeps Vault's `vault_` prefix):
///
/// - `VaultSealed`: `vault_core_unsealed` is 0 on a node (every node
///   reports it, sealed or not; a sealed node answers the scrape only with
///   the listener's `telemetry { unauthenticated_metrics_access = true }`,
///   since no token works on it);
/// - `VaultNoActiveNode`: no node reports `vault_core_active` 1 (a leader
///   election that does not end, a quorum lost), or none reports it at all;
/// - with `pki_issuer` (the common name of the PKI engine's CA),
///   `VaultPkiCertificateExpiring`: a certificate that CA issued (or the CA
///   itself, which names itself as issuer) ends within
///   [`CERTIFICATE_WARNING_DAYS`]. Neither Vault nor OpenBao exports
///   certificate dates (their PKI metrics are about tidying), so this reads
///   `x509_cert_not_after` (seconds since the epoch) of the
///   x509-certificate-exporter (enix), which watches the cluster's TLS
///   Secrets and certificate files: it sees the certificates that land in
///   Secrets (through cert-manager's Vault issuer, say), which is what
///   breaks when one ends. The blackbox exporter's
///   `probe_ssl_earliest_cert_expiry` would see only the endpoints it
///   probes.
pub fn vault_alerts(namespace: &str, job: &str, pki_issuer: Option<&str>) -> RuleGroup {
    let on = selector(&[("job", job), ("namespace", namespace)]);
    let mut group = RuleGroup::new(format!("vault-{namespace}-{job}"))
        .alert(
            Alert::new("VaultSealed", format!("vault_core_unsealed{on} == 0"), AlertSeverity::Critical)
                .for_duration("1m")
                .summary("Vault node {{ $labels.instance }} is sealed")
                .description(
                    "The node serves no request until it is unsealed: unseal it (operator unseal with the \
                     key shares, or check the auto-unseal key's access), then find out why it restarted.",
                ),
        )
        .alert(
            Alert::new(
                "VaultNoActiveNode",
                format!("sum(vault_core_active{on}) < 1 or absent(vault_core_active{on})"),
                AlertSeverity::Critical,
            )
            .for_duration("2m")
            .summary(format!("No active Vault node in {namespace}"))
            .description(
                "No node of the cluster is the leader (or none is scraped), so every request fails: check \
                 that a quorum of Raft peers is up and unsealed (operator raft list-peers).",
            ),
        );
    if let Some(issuer) = pki_issuer {
        let days = CERTIFICATE_WARNING_DAYS;
        let certs = selector(&[("issuer_CN", issuer)]);
        group = group.alert(
            Alert::new(
                "VaultPkiCertificateExpiring",
                format!("x509_cert_not_after{certs} - time() < {days} * 86400"),
                AlertSeverity::Warning,
            )
            .for_duration("1h")
            .summary(format!("Certificate {{{{ $labels.subject_CN }}}} ends in less than {days} days"))
            .description(format!(
                "A certificate issued by {issuer} (Secret {secret}) ends soon and was not renewed: check its \
                 renewal (a cert-manager Certificate's status, the Vault role's max_ttl) and the CA's own end.",
                secret = "{{ $labels.secret_namespace }}/{{ $labels.secret_name }}",
            )),
        );
    }
    group
}

/// The panels behind [`vault_alerts`]: each node's seal and leadership
/// state, and the days left on the PKI's certificates. Its uid is
/// `capstan-vault-<namespace>-<job>`, one per server in a namespace.
pub fn vault_dashboard(namespace: &str, job: &str, pki_issuer: Option<&str>) -> Dashboard {
    let on = selector(&[("job", job), ("namespace", namespace)]);
    // The job names the component (two servers in a namespace are two jobs).
    let mut dashboard =
        Dashboard::new(format!("capstan-vault-{namespace}-{job}"), format!("Vault / {namespace}/{job}"))
            .tag("capstan")
            .tag("vault")
            .panel(
                Panel::new("Unsealed (1) per node", format!("vault_core_unsealed{on}"))
                    .legend("{{instance}}")
                    .description("vault_core_unsealed: 0 is a sealed node (alert VaultSealed)."),
            )
            .panel(
                Panel::new("Active (1) per node", format!("vault_core_active{on}"))
                    .legend("{{instance}}")
                    .description(
                        "vault_core_active: exactly one node should be 1 (alert VaultNoActiveNode).",
                    ),
            )
            .panel(
                Panel::new("Scrape up", format!("up{on}"))
                    .legend("{{instance}}")
                    .description("Whether Prometheus reaches each node's metrics endpoint."),
            );
    if let Some(issuer) = pki_issuer {
        let certs = selector(&[("issuer_CN", issuer)]);
        dashboard = dashboard.panel(
            Panel::new(
                "PKI certificates: days left",
                format!("(x509_cert_not_after{certs} - time()) / 86400"),
            )
            .unit("d")
            .legend("{{subject_CN}} ({{secret_namespace}}/{{secret_name}})")
            .description(
                "x509_cert_not_after of the x509-certificate-exporter (alert VaultPkiCertificateExpiring).",
            ),
        );
    }
    dashboard
}

/// The Workload API calls of the SPIRE agent, as its Prometheus sink names
/// their call counters (`spire_agent_rpc_workload_api_<method>`, each with a
/// `status` label holding the gRPC code, as in SPIRE's
/// `doc/telemetry/telemetry.md` and its Grafana dashboard).
const WORKLOAD_API_CALLS: &str = concat!(
    "spire_agent_rpc_workload_api_",
    "(fetch_x509svid|fetch_jwtsvid|fetch_x509_bundles|fetch_jwt_bundles|validate_jwtsvid)"
);

/// A selector of the Workload API call counters of `agent_job` in
/// `namespace`, with `extra` matchers.
fn workload_api(namespace: &str, agent_job: &str, extra: &str) -> String {
    format!(
        "{{__name__=~{},job={},namespace={}{extra}}}",
        promql_string(WORKLOAD_API_CALLS),
        promql_string(agent_job),
        promql_string(namespace)
    )
}

/// The alerts of a SPIRE deployment in `namespace` whose server and agents
/// Prometheus scrapes as `server_job` and `agent_job`:
///
/// - `SpireServerDown`: `up` is 0 for a server (no SVID is signed, no agent
///   attests or renews while it lasts);
/// - `SpireAgentDown`: `up` is 0 for an agent (the workloads of its node get
///   no new SVIDs);
/// - `SpireAgentWorkloadApiErrors`: an agent's Workload API calls end in
///   gRPC codes other than `OK` and `Canceled` (a client that goes away
///   ends its stream as `Canceled`): `PermissionDenied` is a workload no
///   registration entry matches, `Unavailable` an agent not yet synced.
pub fn spire_alerts(namespace: &str, server_job: &str, agent_job: &str) -> RuleGroup {
    let server = selector(&[("job", server_job), ("namespace", namespace)]);
    let agent = selector(&[("job", agent_job), ("namespace", namespace)]);
    let errors = workload_api(namespace, agent_job, ",status!~\"OK|Canceled\"");
    RuleGroup::new(format!("spire-{namespace}"))
        .alert(
            Alert::new("SpireServerDown", format!("up{server} == 0"), AlertSeverity::Critical)
                .for_duration("5m")
                .summary("SPIRE server {{ $labels.instance }} is down")
                .description(
                    "Prometheus cannot scrape the SPIRE server: while no server answers, no agent attests or \
                     renews and no SVID is signed, so workloads lose their identities as SVIDs end.",
                ),
        )
        .alert(
            Alert::new("SpireAgentDown", format!("up{agent} == 0"), AlertSeverity::Warning)
                .for_duration("5m")
                .summary("SPIRE agent {{ $labels.instance }} is down")
                .description("The workloads on this agent's node get no new SVIDs until it is back."),
        )
        .alert(
            Alert::new(
                "SpireAgentWorkloadApiErrors",
                format!("sum by (namespace, instance, status) (rate({errors}[5m])) > 0"),
                AlertSeverity::Warning,
            )
            .for_duration("10m")
            .summary("SPIRE agent {{ $labels.instance }}: Workload API calls fail ({{ $labels.status }})")
            .description(
                "Workloads ask the agent for SVIDs or bundles and get an error. PermissionDenied: no \
                 registration entry matches the workload (check its selectors); Unavailable: the agent \
                 has not synced with the server.",
            ),
        )
}

/// The panels behind [`spire_alerts`]. Its uid is
/// `capstan-spire-<namespace>-<server job>`, one per SPIRE in a namespace.
pub fn spire_dashboard(namespace: &str, server_job: &str, agent_job: &str) -> Dashboard {
    let server = selector(&[("job", server_job), ("namespace", namespace)]);
    let agent = selector(&[("job", agent_job), ("namespace", namespace)]);
    Dashboard::new(
        format!("capstan-spire-{namespace}-{server_job}"),
        format!("SPIRE / {namespace}/{server_job}"),
    )
    .tag("capstan")
    .tag("spire")
    .panel(
        Panel::new("Server up", format!("up{server}"))
            .legend("{{instance}}")
            .description("up of the SPIRE server (alert SpireServerDown)."),
    )
    .panel(
        Panel::new("Agents up", format!("up{agent}"))
            .legend("{{instance}}")
            .description("up of each SPIRE agent (alert SpireAgentDown)."),
    )
    .panel(
        Panel::new(
            "Workload API errors by code",
            format!(
                "sum by (status) (rate({}[5m]))",
                workload_api(namespace, agent_job, ",status!~\"OK|Canceled\"")
            ),
        )
        .unit("reqps")
        .legend("{{status}}")
        .description("Workload API calls ending in an error (alert SpireAgentWorkloadApiErrors)."),
    )
    .panel(
        Panel::new(
            "Workload API calls by code",
            format!("sum by (status) (rate({}[5m]))", workload_api(namespace, agent_job, "")),
        )
        .unit("reqps")
        .legend("{{status}}")
        .description("Every Workload API call, OK included: the load the errors are a share of."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uid_longer_than_grafana_takes_is_cut_and_keeps_a_digest_of_the_whole() {
        assert_eq!(grafana_uid("capstan-vault-security-openbao".into()), "capstan-vault-security-openbao");
        let a = grafana_uid("capstan-spire-platform-identity-spire-server-a".into());
        let b = grafana_uid("capstan-spire-platform-identity-spire-server-b".into());
        assert_eq!((a.len(), b.len()), (UID_MAX, UID_MAX));
        assert!(a.starts_with("capstan-spire-platform-identity"), "{a}");
        assert_ne!(a, b, "two uids sharing their first 31 bytes stay apart");
        // A cut never splits a character.
        let wide = grafana_uid(format!("capstan-vault-{}", "é".repeat(20)));
        assert!(wide.len() <= UID_MAX && wide.is_char_boundary(wide.len() - 9), "{wide}");
    }
}
