//! Prometheus scraping: `PodMonitor`s written by the plugin, as CloudNativePG
//! 1.30 recommends. The Cluster's `monitoring.enablePodMonitor` (and the
//! Pooler's) is deprecated upstream ("create a PodMonitor manually"), so it
//! is never set.
//!
//! Metrics are served over TLS (`monitoring.tls.enabled` on the Cluster and
//! the Pooler) with the Cluster's server certificate, which both present;
//! Prometheus checks it against the Cluster's CA with the `<name>-rw`
//! name the certificate carries, since it scrapes pods by IP.

use std::collections::BTreeMap;

use capstan_sdk::prelude::*;
use serde_json::{Value, json};

/// `apiVersion` of the Prometheus operator's `PodMonitor`.
const MONITORING_API_VERSION: &str = "monitoring.coreos.com/v1";

/// The `monitoring` section of a Cluster or Pooler whose metrics are
/// scraped: metrics over TLS.
pub(crate) fn metrics_tls() -> Value {
    json!({ "tls": { "enabled": true } })
}

/// The PodMonitor of the Cluster's instances.
pub(crate) fn instances(req: &PlanRequest, labels: &BTreeMap<String, String>) -> Value {
    let cluster = &req.component.name;
    let selector = json!({ "cnpg.io/cluster": cluster, "cnpg.io/podRole": "instance" });
    pod_monitor(req, cluster.clone(), labels, selector)
}

/// The PodMonitor of the pooler's PgBouncer pods.
pub(crate) fn pooler(req: &PlanRequest, pooler: &str, labels: &BTreeMap<String, String>) -> Value {
    let selector = json!({ "cnpg.io/poolerName": pooler, "cnpg.io/podRole": "pooler" });
    pod_monitor(req, pooler.to_owned(), labels, selector)
}

fn pod_monitor(req: &PlanRequest, name: String, labels: &BTreeMap<String, String>, selector: Value) -> Value {
    let cluster = &req.component.name;
    let meta = labels.iter().fold(k8s::Meta::new(&req.component, name, "monitoring"), |meta, (k, v)| {
        meta.label(k.clone(), v.clone())
    });
    let endpoint = json!({
        "port": "metrics",
        "scheme": "https",
        "tlsConfig": {
            "ca": { "secret": { "name": format!("{cluster}-ca"), "key": "ca.crt" } },
            "serverName": format!("{cluster}-rw"),
        },
    });
    k8s::custom_resource(
        MONITORING_API_VERSION,
        "PodMonitor",
        &meta,
        json!({ "selector": { "matchLabels": selector }, "podMetricsEndpoints": [endpoint] }),
    )
}
