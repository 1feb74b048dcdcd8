//! The `network` output: what a client pod must be allowed to reach.
//!
//! This plugin runs no NATS server; `url` names one. A URL whose host is a
//! cluster Service (`<service>.<namespace>.svc[.cluster.local]`) is read as
//! the pods of the official NATS Helm chart in that namespace, which is how
//! NATS is usually installed; `server_pods` names other pods. Any other
//! host is a server outside the cluster, reached on the URL's port.

use std::collections::BTreeMap;

use capstan_sdk::contracts::NetworkPeer;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::NATS_PORT;

/// The labels the official NATS Helm chart selects its server pods by,
/// whatever the release is named (`app.kubernetes.io/instance` is the
/// release, which a URL does not tell).
pub const HELM_CHART_LABELS: [(&str, &str); 2] =
    [("app.kubernetes.io/name", "nats"), ("app.kubernetes.io/component", "nats")];

/// The NATS server pods clients reach.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerPods {
    /// Namespace of the pods. Default: the namespace of `url`'s Service
    /// (`<service>.<namespace>.svc`), else the component's.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels that select the server pods (at least one).
    pub pod_labels: BTreeMap<String, String>,
    /// The pods' client port: the container port, which a Service may map
    /// another port to. Default: `url`'s port, else 4222.
    #[serde(default)]
    pub port: Option<u16>,
}

/// What a client of the server at `url` must reach: `server_pods` when
/// given, the Helm chart's pods behind a cluster Service URL, else the URL's
/// port at any address. `url` is one that `check_url` accepted.
pub fn peer(url: &str, server_pods: Option<&ServerPods>, component_namespace: &str) -> NetworkPeer {
    let (host, port) = host_and_port(url);
    let url_port = port.unwrap_or(NATS_PORT);
    let service_namespace = service_namespace(host);
    match server_pods {
        Some(pods) => NetworkPeer {
            namespace: Some(
                pods.namespace.as_deref().or(service_namespace).unwrap_or(component_namespace).to_owned(),
            ),
            pod_labels: pods.pod_labels.clone(),
            ports: vec![pods.port.unwrap_or(url_port)],
        },
        None => match service_namespace {
            Some(namespace) => NetworkPeer::pods(namespace, &HELM_CHART_LABELS, &[url_port]),
            None => NetworkPeer::outside(&[url_port]),
        },
    }
}

/// The host and, when it names one, the port of a `scheme://host[:port][/]` URL.
pub fn host_and_port(url: &str) -> (&str, Option<u16>) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    // `[::1]:4222` keeps its colons inside the brackets.
    match host_port.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') && !host.is_empty() => (host, port.parse().ok()),
        _ => (host_port, None),
    }
}

/// The namespace of a cluster Service name, `<service>.<namespace>.svc`
/// with or without `.cluster.local`.
pub fn service_namespace(host: &str) -> Option<&str> {
    let host = host.strip_suffix(".cluster.local").unwrap_or(host);
    match host.split('.').collect::<Vec<_>>().as_slice() {
        [service, namespace, "svc"] if !service.is_empty() && !namespace.is_empty() => Some(namespace),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_are_read_as_nats_clients_read_them() {
        assert_eq!(host_and_port("nats://nats.messaging.svc:4222"), ("nats.messaging.svc", Some(4222)));
        assert_eq!(host_and_port("tls://nats.example/"), ("nats.example", None));
        assert_eq!(host_and_port("nats://[::1]:4223"), ("[::1]", Some(4223)));
        assert_eq!(host_and_port("nats://[::1]"), ("[::1]", None));
        assert_eq!(service_namespace("nats.messaging.svc.cluster.local"), Some("messaging"));
        assert_eq!(service_namespace("nats.messaging.svc"), Some("messaging"));
        assert_eq!(service_namespace("nats.messaging"), None, "a name that may be outside the cluster");
        assert_eq!(service_namespace("nats"), None);
        assert_eq!(service_namespace("a.b.c.svc"), None, "a pod's own name is not a Service");
    }
}
