//! What a Dapr sidecar must be allowed to reach: the `network` output, from
//! which the app plugin opens its NetworkPolicies' egress.
//!
//! A sidecar connects to the control plane (sentry for its certificate, the
//! operator for its Components and Configuration, placement for actors, the
//! scheduler for jobs, reminders and workflows), to the servers its
//! Components point at (the `network` of the messaging and postgres
//! dependencies they are bound to) and to whatever the operator adds
//! (`network.also_reach`, a trace collector say). Other sidecars reach it on
//! its internal gRPC port: that is the app's own `network`, not this one.

use capstan_core::Diagnostic;
use capstan_sdk::contracts::{NetworkPeer, PeerInput};

use crate::inputs::{Inputs, Network};

/// The label Dapr's Helm chart selects each control-plane service's pods by.
const CONTROL_PLANE_LABEL: &str = "app";

/// Each control-plane service a sidecar connects to: the `app` label of its
/// pods and the container port it listens on (NetworkPolicies see container
/// ports, behind the Services' 443), from Dapr's Helm chart.
pub const CONTROL_PLANE: [(&str, u16); 4] = [
    // Workload certificates (Service dapr-sentry:443 → 50001).
    ("dapr-sentry", 50001),
    // Components, Configurations, subscriptions (Service dapr-api:443 → 6500).
    ("dapr-operator", 6500),
    // Actor placement (headless Service dapr-placement-server:50005).
    ("dapr-placement-server", 50005),
    // Jobs, actor reminders and workflows, Dapr 1.14 and later (dapr-scheduler-server:50006).
    ("dapr-scheduler-server", 50006),
];

/// The control plane, then `backends` (the dependencies' `network` the
/// Components use), then `network.also_reach`.
pub fn peers(network: &Network, backends: Vec<NetworkPeer>) -> Vec<NetworkPeer> {
    let namespace = network.control_plane_namespace.as_str();
    let mut out: Vec<NetworkPeer> = CONTROL_PLANE
        .iter()
        .map(|(app, port)| NetworkPeer::pods(namespace, &[(CONTROL_PLANE_LABEL, app)], &[*port]))
        .collect();
    for peer in backends {
        if !out.contains(&peer) {
            out.push(peer);
        }
    }
    out.extend(network.also_reach.iter().map(PeerInput::to_peer));
    out
}

/// A warning when traces go to a collector `network.also_reach` does not
/// name: an app's NetworkPolicy would stop its sidecar from exporting them.
/// Any entry counts as naming it, as the endpoint is a host name the plan
/// cannot match to pods.
pub fn unreachable_collector(inputs: &Inputs) -> Option<Diagnostic> {
    let endpoint = &inputs.configuration.tracing.otel_endpoint;
    (!endpoint.is_empty() && inputs.network.also_reach.is_empty()).then(|| {
        Diagnostic::warning(
            "/network/also_reach",
            format!(
                "traces go to `{endpoint}`, which `network.also_reach` does not name: sidecars of apps under \
                 NetworkPolicies cannot reach the collector; add its pods (or its ports, outside the cluster)"
            ),
        )
    })
}
