//! The plugin's inputs and the checks the schema cannot say.

use capstan_core::Diagnostic;
use capstan_sdk::contracts::postgres::SslMode;
use capstan_sdk::k8s::is_dns_label;
use schemars::JsonSchema;
use serde::Deserialize;

pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// Inputs of `capstan/dapr`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// Dapr app ids allowed to use the components (their `scopes`).
    pub app_ids: Vec<String>,
    pub pubsub: PubSub,
    pub statestore: StateStore,
    pub configuration: Configuration,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PubSub {
    pub enabled: bool,
    /// Name of the pub/sub Component apps publish to.
    pub name: String,
    /// Consumer group (Kafka), consumer id (RabbitMQ, SNS/SQS) or queue group
    /// (NATS JetStream).
    pub consumer_group: String,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StateStore {
    pub enabled: bool,
    /// Name of the state store Component.
    pub name: String,
    /// libpq sslmode towards PostgreSQL; default: what the postgres
    /// dependency's contract says.
    #[serde(default)]
    pub sslmode: Option<SslMode>,
    pub actor_state_store: bool,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    /// Name of the Configuration apps point at with `dapr.io/config`.
    pub name: String,
    pub tracing: Tracing,
    pub mtls: Mtls,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    pub sampling_rate: String,
    #[serde(default)]
    pub otel_endpoint: String,
    pub otel_protocol: OtelProtocol,
    pub otel_is_secure: bool,
}

#[derive(Clone, Copy, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OtelProtocol {
    Grpc,
    Http,
}

impl OtelProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            OtelProtocol::Grpc => "grpc",
            OtelProtocol::Http => "http",
        }
    }
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mtls {
    pub enabled: bool,
    pub workload_cert_ttl: String,
    pub allowed_clock_skew: String,
    pub control_plane_trust_domain: String,
    pub sentry_address: String,
}

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
    match inputs.configuration.tracing.sampling_rate.parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => {}
        _ => out.push(Diagnostic::error(
            "/configuration/tracing/sampling_rate",
            "must be a number from 0 to 1, as a string (such as \"0.1\")",
        )),
    }
    out
}
