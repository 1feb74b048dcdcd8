//! `monitoring`: alerts and a dashboard through the SDK's
//! [`capstan_sdk::k8s::monitoring`] builders, and the scrapes that feed
//! them.
//!
//! The server and every agent run SPIRE's Prometheus exporter
//! ([`telemetry`], on [`ports::METRICS`], in their configuration files; the
//! containers open the port). Prometheus reaches them through:
//!
//! - a `ServiceMonitor` `<name>-server` on the server's Service
//!   `<name>-server`, which gets the `metrics` port and the label the
//!   ServiceMonitor selects ([`SCRAPED_LABEL`]: the headless Service shares
//!   its other labels);
//! - a `PodMonitor` `<name>-agent` on the agents' pods (a DaemonSet needs no
//!   Service).
//!
//! Each sets its targets' `job`: `<name>-server` (what a ServiceMonitor
//! would name it anyway, the Service's name) and `<name>-agent` (a
//! PodMonitor's own default would be `<namespace>/<name>-agent`), the jobs
//! [`monitoring::spire_alerts`] and [`monitoring::spire_dashboard`] are given.
//! Then a `PrometheusRule` `<name>-alerts` (`SpireServerDown`,
//! `SpireAgentDown`, `SpireAgentWorkloadApiErrors`) and, with `dashboard`,
//! a ConfigMap `<name>-dashboard` for the Grafana chart's sidecar.
//! `monitoring.labels` go on the three prometheus-operator objects, which a
//! Prometheus selects by label.

use capstan_sdk::k8s::{self, monitoring};
use serde_json::{Value, json};

use crate::Plan;
use crate::inputs::Monitoring;
use crate::names::ports;

/// The label the scraped server Service carries and the ServiceMonitor
/// selects.
pub const SCRAPED_LABEL: &str = "capstan.dev/metrics";
/// Where SPIRE's exporter serves (it answers on any path).
const METRICS_PATH: &str = "/metrics";
/// How often Prometheus scrapes each server and agent.
const SCRAPE_INTERVAL: &str = "30s";
/// The `app.kubernetes.io/component` label of the rule and the dashboard.
const PART: &str = "monitoring";

/// The `telemetry` block of `server.conf` and `agent.conf`: the exporter on
/// every address of the pod (`localhost`, SPIRE's default, is out of
/// Prometheus's reach), unauthenticated, as SPIRE serves it.
pub fn telemetry() -> String {
    format!(
        "\n\
         telemetry {{\n\
         \x20 Prometheus {{\n\
         \x20   host = \"0.0.0.0\"\n\
         \x20   port = {}\n\
         \x20 }}\n\
         }}\n",
        ports::METRICS
    )
}

/// Every object of `monitoring`, in apply order: the ServiceMonitor, the
/// PodMonitor, the PrometheusRule, the dashboard.
pub fn objects(p: &Plan, m: &Monitoring) -> Vec<Value> {
    let n = &p.names;
    let namespace = p.c.namespace.as_str();
    // The jobs the monitors set and the alerts select on.
    let (server, agent) = (n.server.as_str(), n.agent.as_str());

    let mut service_monitor = k8s::service_monitor(
        &with_labels(p.meta(&n.server, "server"), m),
        "metrics",
        METRICS_PATH,
        SCRAPE_INTERVAL,
    );
    service_monitor["spec"]["selector"]["matchLabels"][SCRAPED_LABEL] = json!("true");
    service_monitor["spec"]["endpoints"][0]["relabelings"] = set_job(server);

    let agent_meta = with_labels(p.meta(&n.agent, "agent"), m);
    let pod_monitor = k8s::custom_resource(
        "monitoring.coreos.com/v1",
        "PodMonitor",
        &agent_meta,
        json!({
            "selector": { "matchLabels": agent_meta.selector_value() },
            "podMetricsEndpoints": [{
                "port": "metrics", "path": METRICS_PATH, "interval": SCRAPE_INTERVAL,
                "relabelings": set_job(agent),
            }],
        }),
    );

    let mut objects = vec![
        service_monitor,
        pod_monitor,
        monitoring::prometheus_rule(
            &with_labels(p.meta(&n.alerts, PART), m),
            &[monitoring::spire_alerts(namespace, server, agent)],
        ),
    ];
    if m.dashboard {
        objects.push(monitoring::dashboard_config_map(
            &p.meta(&n.dashboard, PART),
            &monitoring::spire_dashboard(namespace, server, agent),
        ));
    }
    objects
}

fn with_labels(meta: k8s::Meta, m: &Monitoring) -> k8s::Meta {
    m.labels.iter().fold(meta, |meta, (k, v)| meta.label(k, v))
}

/// A target relabeling setting `job` (after prometheus-operator's own,
/// which it overrides).
fn set_job(job: &str) -> Value {
    json!([{ "action": "replace", "targetLabel": "job", "replacement": job }])
}
