//! `monitoring`: the server's alerts and dashboard, through the SDK's
//! [`capstan_sdk::k8s::monitoring`] builders, and in-cluster the scrape
//! that feeds them.
//!
//! - a `PrometheusRule` `<name>-alerts` with [`monitoring::vault_alerts`]
//!   (`VaultSealed`, `VaultNoActiveNode`, and with `pki` and `pki_expiry`
//!   `VaultPkiCertificateExpiring` on the certificates of the PKI's issuing
//!   CA: the intermediate when there is one, else the root), labelled
//!   with `monitoring.labels` for the Prometheus's `ruleSelector`;
//! - with `dashboard`, a ConfigMap `<name>-dashboard` with
//!   [`monitoring::vault_dashboard`] for the Grafana chart's sidecar;
//! - in-cluster, a `ServiceMonitor` `<name>` scraping
//!   `/v1/sys/metrics?format=prometheus` on the client Service's `api`
//!   port, setting `job` to `monitoring.job` (default the Service's name,
//!   which is also what prometheus-operator would give it). The server's
//!   side (the telemetry stanzas) is in [`crate::server::config_hcl`].
//!
//! The scrape goes through the client Service, which lists only ready
//! peers as ready, but Prometheus's Kubernetes discovery also keeps the
//! not-ready addresses of its endpoints (and prometheus-operator drops only
//! pods that ended): a sealed peer is scraped too, and answers, since the
//! listener serves metrics without a token. That is what `VaultSealed`
//! needs.
//!
//! External mode renders the rule and the dashboard only: the plugin does
//! not know how that server is scraped, so `job` must be given.

use capstan_sdk::k8s::{self, monitoring};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

use crate::inputs::{self, Inputs, Mode, Monitoring};
use crate::server::{self, Names};

/// The label the scraped (client) Service carries and the ServiceMonitor
/// selects, beside the labels the server's three Services share.
pub const SCRAPED_LABEL: &str = "capstan.dev/metrics";
/// Where the server serves its metrics; `format=prometheus` is a parameter.
pub const METRICS_PATH: &str = "/v1/sys/metrics";
/// How often Prometheus scrapes each peer. The server keeps a metric for
/// `prometheus_retention_time` (30 s, in [`crate::server::config_hcl`])
/// after its last update.
pub const SCRAPE_INTERVAL: &str = "30s";
/// The `app.kubernetes.io/component` label of the rule and the dashboard.
const PART: &str = "monitoring";

/// The `job` the alerts select on: `monitoring.job`, else (in-cluster) the
/// client Service's name; external mode without one is refused.
pub fn job(component: &ComponentId, inputs: &Inputs, m: &Monitoring) -> Result<String, PlanError> {
    match (&m.job, inputs.mode) {
        (Some(job), _) => Ok(job.clone()),
        (None, Mode::InCluster) => Ok(Names::new(component).server),
        (None, Mode::External) => {
            Err(PlanError::InvalidInputs(vec![Diagnostic::error("/monitoring/job", inputs::JOB_REQUIRED)]))
        }
    }
}

/// Every object of `monitoring`, in apply order: the ServiceMonitor
/// (in-cluster), the PrometheusRule, the dashboard.
pub fn objects(component: &ComponentId, inputs: &Inputs, m: &Monitoring, job: &str) -> Vec<Value> {
    let names = Names::new(component);
    let namespace = component.namespace.as_str();
    // The issuing CA's common name (the intermediate's, when there is one)
    // is the issuer of every app certificate.
    let pki_issuer = inputs.pki.as_ref().filter(|_| m.pki_expiry).map(|p| p.issuing_common_name());
    let mut objects = Vec::with_capacity(3);
    if inputs.mode == Mode::InCluster {
        objects.push(service_monitor(component, inputs, &names, m, job));
    }
    let rule_meta = with_labels(k8s::Meta::new(component, names.alerts.clone(), PART), m);
    objects.push(monitoring::prometheus_rule(
        &rule_meta,
        &[monitoring::vault_alerts(namespace, job, pki_issuer)],
    ));
    if m.dashboard {
        objects.push(monitoring::dashboard_config_map(
            &k8s::Meta::new(component, names.dashboard.clone(), PART),
            &monitoring::vault_dashboard(namespace, job, pki_issuer),
        ));
    }
    objects
}

fn with_labels(meta: k8s::Meta, m: &Monitoring) -> k8s::Meta {
    m.labels.iter().fold(meta, |meta, (k, v)| meta.label(k, v))
}

/// Scrapes every peer through the client Service (the one with
/// [`SCRAPED_LABEL`]), over TLS checked against the listener
/// certificate's CA when `tls.secret` is set.
fn service_monitor(
    component: &ComponentId,
    inputs: &Inputs,
    names: &Names,
    m: &Monitoring,
    job: &str,
) -> Value {
    let meta = with_labels(server::meta(component), m);
    let mut sm = k8s::service_monitor(&meta, "api", METRICS_PATH, SCRAPE_INTERVAL);
    sm["spec"]["selector"]["matchLabels"][SCRAPED_LABEL] = json!("true");
    let endpoint = &mut sm["spec"]["endpoints"][0];
    endpoint["params"] = json!({ "format": ["prometheus"] });
    // The job the alerts select on, whatever the Service is named.
    endpoint["relabelings"] = json!([{ "action": "replace", "targetLabel": "job", "replacement": job }]);
    if let Some(secret) = &inputs.tls.secret {
        endpoint["scheme"] = json!("https");
        // Targets are pod IPs, which the certificate does not name: check it
        // as the Service's name, which it must hold.
        endpoint["tlsConfig"] = json!({
            "ca": { "secret": { "name": secret, "key": "ca.crt" } },
            "serverName": format!("{}.{}.svc", names.server, component.namespace),
        });
    }
    sm
}
