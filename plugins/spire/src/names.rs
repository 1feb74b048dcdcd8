//! The names of every object, from the component's: `<name>-server`,
//! `<name>-agent`, `<name>-bundle`, `<name>-oidc`, … in its namespace, and
//! `<namespace>.<name>.<part>` for cluster-scoped objects, which every
//! namespace shares (a dot cannot occur in either part, so two components
//! never name the same one).

use capstan_sdk::prelude::*;

/// The ports, fixed: nothing outside the component chooses them.
pub mod ports {
    /// The server's gRPC API (agents connect to it).
    pub const SERVER: u16 = 8081;
    /// The server's and each agent's health listener.
    pub const HEALTH: u16 = 8080;
    /// The controller manager's health probes.
    pub const CONTROLLER_MANAGER_HEALTH: u16 = 8083;
    /// The controller manager's metrics, on localhost only.
    pub const CONTROLLER_MANAGER_METRICS: u16 = 8082;
    /// The OIDC discovery provider's HTTPS listener (the container's).
    pub const OIDC: u16 = 8443;
    /// Its Service's port, so its URLs need none.
    pub const OIDC_SERVICE: u16 = 443;
    /// With `monitoring`: the server's and each agent's Prometheus
    /// exporter (`telemetry { Prometheus { … } }`, SPIRE's documented port).
    pub const METRICS: u16 = 9988;
}

/// Every name the plan uses.
#[derive(Clone, Debug)]
pub struct Names {
    /// The server's StatefulSet, its Service, ServiceAccount, ConfigMap, Role.
    pub server: String,
    /// The StatefulSet's headless Service.
    pub headless: String,
    /// The trust bundle ConfigMap the server keeps up to date for the agents.
    pub bundle: String,
    /// The controller manager's ConfigMap and leader-election Role.
    pub controller_manager: String,
    /// The agents' DaemonSet, ServiceAccount and ConfigMap.
    pub agent: String,
    /// The OIDC discovery provider's Deployment, Service, ServiceAccount, ConfigMap.
    pub oidc: String,
    /// `<namespace>.<name>`: the prefix of cluster-scoped names.
    pub cluster: String,
    /// The controller manager's class: it reconciles only the resources of
    /// this class (and those of none), so two SPIRE installations in one
    /// cluster do not both act on one ClusterSPIFFEID.
    pub class: String,
    /// With `monitoring`: the PrometheusRule.
    pub alerts: String,
    /// With `monitoring`: the dashboard's ConfigMap.
    pub dashboard: String,
}

impl Names {
    /// The names of component `c`'s objects.
    pub fn new(c: &ComponentId) -> Self {
        let n = &c.name;
        Names {
            server: format!("{n}-server"),
            headless: format!("{n}-server-headless"),
            bundle: format!("{n}-bundle"),
            controller_manager: format!("{n}-controller-manager"),
            agent: format!("{n}-agent"),
            oidc: format!("{n}-oidc"),
            cluster: format!("{}.{n}", c.namespace),
            class: format!("{}/{n}", c.namespace),
            alerts: format!("{n}-alerts"),
            dashboard: format!("{n}-dashboard"),
        }
    }

    /// A cluster-scoped name: `<namespace>.<name>.<part>`.
    pub fn cluster_scoped(&self, part: &str) -> String {
        format!("{}.{part}", self.cluster)
    }
}

/// The `health_checks` stanza the server and each agent serve their
/// probes from, on [`ports::HEALTH`].
pub fn health_checks() -> String {
    format!(
        "\n\
         health_checks {{\n\
         \x20 listener_enabled = true\n\
         \x20 bind_address = \"0.0.0.0\"\n\
         \x20 bind_port = \"{}\"\n\
         \x20 live_path = \"/live\"\n\
         \x20 ready_path = \"/ready\"\n\
         }}\n",
        ports::HEALTH
    )
}

/// A string as an HCL (version 1, SPIRE's) string literal: JSON's escapes
/// are HCL's.
pub fn hcl(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// A list of strings as an HCL list.
pub fn hcl_list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| hcl(s)).collect();
    format!("[{}]", items.join(", "))
}
