//! The PgBouncer `Pooler` in front of the primary (`type: rw`).
//!
//! The operator wires its authentication (an `auth_query` user it creates,
//! logging in with a client certificate) and its TLS: PgBouncer presents
//! the Cluster's server certificate to clients and verifies the server's.
//! That certificate names the Cluster's Services only, so the Cluster adds
//! the pooler's Service names to it ([`server_alt_dns_names`]): clients that
//! verify the host (`verify-full`, what the outputs say) then accept it.

use capstan_sdk::prelude::*;
use serde_json::{Value, json};

use crate::API_VERSION;
use crate::inputs::Pooler;

/// The pooler's name, which is also its Service's. It must differ from
/// every Cluster's name in the namespace; a suffix guarantees it.
pub(crate) fn name(cluster: &str) -> String {
    format!("{cluster}-pooler-rw")
}

/// The names clients reach the pooler by, for the Cluster's
/// `certificates.serverAltDNSNames`.
pub(crate) fn server_alt_dns_names(cluster: &str, namespace: &str) -> Vec<String> {
    let service = name(cluster);
    vec![service.clone(), format!("{service}.{namespace}"), format!("{service}.{namespace}.svc")]
}

/// The `Pooler` object; `metrics_tls` when a PodMonitor scrapes it.
pub(crate) fn pooler(req: &PlanRequest, pooler: &Pooler, metrics_tls: bool) -> Value {
    let cluster = &req.component.name;
    let meta = k8s::Meta::new(&req.component, name(cluster), "pooler");
    let mut spec = json!({
        "cluster": { "name": cluster },
        "type": "rw",
        "instances": pooler.instances,
        "pgbouncer": {
            "poolMode": pooler.pool_mode.as_str(),
            "parameters": {
                "max_client_conn": pooler.max_client_conn.to_string(),
                "default_pool_size": pooler.default_pool_size.to_string(),
            },
        },
        // The operator fills in the rest of the pod; `pgbouncer` is the
        // name of its container, so these resources land on it.
        "template": {
            "metadata": { "labels": meta.labels() },
            "spec": {
                "containers": [{ "name": "pgbouncer", "resources": pooler.resources }],
                // Spread over nodes, so one drained node leaves a PgBouncer up.
                "affinity": { "podAntiAffinity": { "preferredDuringSchedulingIgnoredDuringExecution": [{
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": { "matchLabels": { "cnpg.io/poolerName": name(cluster) } },
                    },
                }] } },
            },
        },
    });
    if metrics_tls {
        spec["monitoring"] = crate::monitoring::metrics_tls();
    }
    k8s::custom_resource(API_VERSION, "Pooler", &meta, spec)
}
