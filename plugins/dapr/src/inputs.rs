//! The plugin's inputs and the checks the schema cannot say.

use capstan_core::Diagnostic;
use capstan_sdk::contracts::PeerInput;
use capstan_sdk::contracts::postgres::SslMode;
use capstan_sdk::k8s::is_dns_label;
use schemars::JsonSchema;
use serde::Deserialize;

/// The defaults `values_custom` is merged over, with comments for `plugin inspect`.
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// Inputs of `capstan/dapr`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Dapr app ids allowed to use the components (their `scopes`).
    pub app_ids: Vec<String>,
    /// The pub/sub Component on the `messaging` dependency.
    pub pubsub: PubSub,
    /// The state store Component on the `postgres` dependency.
    pub statestore: StateStore,
    /// The Dapr `Configuration` (tracing, metrics, mTLS); always rendered.
    pub configuration: Configuration,
    /// What every sidecar must reach, published as the `network` output
    /// (apps' NetworkPolicies open their egress to it).
    pub network: Network,
}

/// The `network` section: where the sidecars connect, beyond the backends
/// of the Components (which come from the dependencies' own `network`).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Namespace of the Dapr control plane (sentry, operator, placement,
    /// scheduler), as installed by Dapr's Helm chart.
    pub control_plane_namespace: String,
    /// More servers every sidecar reaches: the OpenTelemetry collector of
    /// `configuration.tracing.otel_endpoint`, say.
    #[serde(default)]
    pub also_reach: Vec<PeerInput>,
}

/// The `pubsub` section: a pub/sub Component whose type follows the messaging protocol.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PubSub {
    /// Render the pub/sub Component; needs a `messaging` dependency.
    pub enabled: bool,
    /// Name of the pub/sub Component apps publish to.
    pub name: String,
    /// Consumer group (Kafka), consumer id (RabbitMQ, SNS/SQS) or queue group
    /// (NATS JetStream).
    pub consumer_group: String,
}

/// The `statestore` section: a `state.postgresql` Component.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateStore {
    /// Render the state store Component; needs a `postgres` dependency.
    pub enabled: bool,
    /// Name of the state store Component.
    pub name: String,
    /// libpq sslmode towards PostgreSQL; default: what the postgres
    /// dependency's contract says (`prefer` when it says nothing), except
    /// that verify-ca and verify-full become require: the sidecar has no CA file.
    #[serde(default)]
    pub sslmode: Option<SslMode>,
    /// Let actors and workflows keep their state here (`actorStateStore`).
    pub actor_state_store: bool,
}

/// The `configuration` section: the Dapr `Configuration` object.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    /// Name of the Configuration apps point at with `dapr.io/config`.
    pub name: String,
    /// Trace sampling and export.
    pub tracing: Tracing,
    /// Sidecar mTLS settings; they take effect only in the control plane's
    /// `daprsystem` Configuration.
    pub mtls: Mtls,
}

/// The Configuration's `tracing` section.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// Fraction of requests traced, as a string from "0" to "1" ("0.1" = 10%).
    pub sampling_rate: String,
    /// `host:port` of an OpenTelemetry collector; empty: traces are not exported.
    #[serde(default)]
    pub otel_endpoint: String,
    /// Protocol spoken to `otel_endpoint`.
    pub otel_protocol: OtelProtocol,
    /// Use TLS towards `otel_endpoint`.
    pub otel_is_secure: bool,
}

/// Protocol for exporting traces to an OpenTelemetry collector.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OtelProtocol {
    /// OTLP over gRPC (collector port 4317 by default).
    Grpc,
    /// OTLP over HTTP (collector port 4318 by default).
    Http,
}

impl OtelProtocol {
    /// The value of the Configuration's `tracing.otel.protocol`.
    pub fn as_str(self) -> &'static str {
        match self {
            OtelProtocol::Grpc => "grpc",
            OtelProtocol::Http => "http",
        }
    }
}

/// The Configuration's `mtls` section, copied into it as Dapr spells it.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mtls {
    /// mTLS between sidecars and to the control plane.
    pub enabled: bool,
    /// Lifetime of a sidecar's workload certificate, as a Go duration (`24h`).
    pub workload_cert_ttl: String,
    /// Clock skew tolerated when checking certificates, as a Go duration (`15m`).
    pub allowed_clock_skew: String,
    /// Trust domain of the Dapr control plane, e.g. `cluster.local`.
    pub control_plane_trust_domain: String,
    /// `host:port` of the Dapr Sentry service that issues the certificates.
    pub sentry_address: String,
}

/// Errors the schema cannot catch: missing or invalid app ids, names that are
/// not DNS labels or clash, a sampling rate outside 0..=1.
pub fn check(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if inputs.app_ids.is_empty() && (inputs.pubsub.enabled || inputs.statestore.enabled) {
        out.push(Diagnostic::error(
            "/app_ids",
            "list the Dapr app ids that may use these components; an unscoped component is \
             open to every app in the namespace",
        ));
    }
    for (i, id) in inputs.app_ids.iter().enumerate() {
        if !is_dns_label(id) {
            out.push(Diagnostic::error(
                format!("/app_ids/{i}"),
                format!("`{id}` is not a valid Dapr app id (a DNS label)"),
            ));
        }
    }
    let names = [
        ("/pubsub/name", &inputs.pubsub.name, inputs.pubsub.enabled),
        ("/statestore/name", &inputs.statestore.name, inputs.statestore.enabled),
        ("/configuration/name", &inputs.configuration.name, true),
    ];
    for (path, name, used) in names {
        if used && !is_dns_label(name) {
            out.push(Diagnostic::error(path, "must be a DNS label (lower-case letters, digits, `-`)"));
        }
    }
    if inputs.pubsub.enabled && inputs.statestore.enabled && inputs.pubsub.name == inputs.statestore.name {
        out.push(Diagnostic::error(
            "/statestore/name",
            "the pub/sub and the state store need different names",
        ));
    }
    check_network(&inputs.network, &mut out);
    match inputs.configuration.tracing.sampling_rate.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => {}
        _ => out.push(Diagnostic::error(
            "/configuration/tracing/sampling_rate",
            "must be a number from 0 to 1, as a string (such as \"0.1\")",
        )),
    }
    out
}

/// Namespaces, labels and ports Kubernetes would refuse in a NetworkPolicy,
/// and peers that would open more than they name.
fn check_network(network: &Network, out: &mut Vec<Diagnostic>) {
    if !is_dns_label(&network.control_plane_namespace) {
        out.push(Diagnostic::error(
            "/network/control_plane_namespace",
            "must be a namespace name (lower-case letters, digits, `-`)",
        ));
    }
    for (i, peer) in network.also_reach.iter().enumerate() {
        peer.check(&format!("/network/also_reach/{i}"), out);
    }
}
