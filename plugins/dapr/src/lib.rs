//! `capstan/dapr`: the `dapr` component type — Dapr building blocks bound
//! to the platform's other components, for an installed Dapr control plane.
//!
//! It renders a pub/sub `Component` whose type follows the `messaging`
//! dependency's protocol (`kafka` → `pubsub.kafka`, `amqp` →
//! `pubsub.rabbitmq`, `sqs` → `pubsub.aws.snssqs`, `nats` →
//! `pubsub.jetstream`), from any backend of that protocol. A broker that
//! gives each app its own user gets one Component per app (`<name>-<app>`,
//! scoped to that app) connecting as that app, with the app's group prefix
//! as its consumer group; otherwise one shared Component scoped to every app
//! id. `pubsub.jetstream` is the exception on credentials: it takes no user
//! name or password, so it connects without them (the plan warns), with the
//! app's group prefix as its queue group and a durable consumer of its own
//! beside the one the backend made for the app. Then a `state.postgresql`
//! state store on the `postgres` dependency, and a `Configuration` with
//! tracing, metrics and mTLS settings. Every Component is scoped to the app
//! ids in the inputs. Credentials are referenced by Secret name and key
//! (`secretKeyRef`), never copied: this plugin never sees them.
//!
//! `pubsub.rabbitmq` connects with the whole URI the dependency's Secret
//! holds (`connectionString` from its `uri_key`). From separate fields Dapr
//! builds the URI itself and percent-encodes the `/` before the vhost, so a
//! dependency naming no URI is connected that way only on the default vhost
//! `/`, and refused on any other.
//!
//! Its `network` output lists what every sidecar must reach, for the
//! NetworkPolicies of the apps: the control plane (in
//! `network.control_plane_namespace`), the servers behind its Components
//! (the messaging and postgres dependencies' own `network`) and
//! `network.also_reach`.
//!
//! It does not install Dapr. Dapr reads a Component's secrets from the
//! Component's own namespace, so a dependency whose Secret lives elsewhere is
//! refused rather than planned into a sidecar that cannot start. Dapr's
//! sidecar certificates are governed by the control plane's `daprsystem`
//! Configuration; the `mtls` section here documents the intended settings
//! and takes effect when this Configuration is that one.

pub mod components;
pub mod inputs;
pub mod network;

use capstan_sdk::contracts::{self, dapr, messaging, postgres};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

use crate::inputs::Inputs;

/// The output (beyond the `dapr` contract) naming the Configuration apps
/// point at with the `dapr.io/config` annotation.
pub const OUTPUT_CONFIGURATION: &str = "configuration";

/// The plugin: see the crate docs.
pub struct Dapr;

impl Plugin for Dapr {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/dapr", env!("CARGO_PKG_VERSION"))
            .component_type(<dapr::Outputs as Contract>::COMPONENT_TYPE)
            .backend("dapr")
            .description(
                "Dapr Components bound to dependency outputs: pub/sub on the messaging dependency \
                 (Kafka, RabbitMQ, SNS/SQS or NATS JetStream by its protocol) and a PostgreSQL state store, \
                 scoped to app ids, with secrets by reference; and a Configuration with tracing \
                 and mTLS settings.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(inputs::DEFAULTS_YAML)
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, inputs::check)
    }

    fn plan(request: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = request.inputs()?;
        let problems = inputs::check(&inputs);
        if !problems.is_empty() {
            return Err(PlanError::InvalidInputs(problems));
        }
        let c = &request.component;
        let mut objects = Vec::new();
        let mut warnings = Vec::new();
        let mut contract = dapr::Outputs {
            pubsub: None,
            statestore: None,
            pubsub_by_app: Default::default(),
            network: Vec::new(),
        };
        // The servers the Components point at, which every sidecar reaches.
        let mut backends = Vec::new();

        if inputs.pubsub.enabled {
            let (dep, msg) = first::<messaging::Outputs>(request, "pubsub.enabled")?;
            backends.extend(msg.network.iter().cloned());
            if msg.consumers.is_empty() {
                let access = msg.access_for("");
                let spec = components::pubsub(c, dep, &msg, access.as_ref(), &inputs.pubsub, &mut warnings)?;
                objects.push(component(c, &inputs.pubsub.name, "pubsub", spec, &inputs.app_ids));
                contract.pubsub = Some(inputs.pubsub.name.clone());
            } else {
                // The broker gives each app its own user: one Component per
                // app, scoped to it, so each sidecar connects as its app.
                for app in &inputs.app_ids {
                    let Some(access) = msg.own_access(app) else {
                        return Err(PlanError::MissingDependency(format!(
                            "app `{app}` has no user on messaging dependency `{}`, which gives each app \
                             its own; add `users.{app}` to it",
                            dep.name
                        )));
                    };
                    let name = format!("{}-{app}", inputs.pubsub.name);
                    let spec =
                        components::pubsub(c, dep, &msg, Some(&access), &inputs.pubsub, &mut warnings)?;
                    objects.push(component(c, &name, "pubsub", spec, std::slice::from_ref(app)));
                    contract.pubsub_by_app.insert(app.clone(), name);
                }
            }
        }
        if inputs.statestore.enabled {
            let (dep, pg) = first::<postgres::Outputs>(request, "statestore.enabled")?;
            backends.extend(pg.network.iter().cloned());
            let spec = components::statestore(c, dep, &pg, &inputs.statestore, &mut warnings)?;
            objects.push(component(c, &inputs.statestore.name, "statestore", spec, &inputs.app_ids));
            contract.statestore = Some(inputs.statestore.name.clone());
        }
        objects.push(configuration(c, &inputs));
        contract.network = network::peers(&inputs.network, backends);
        warnings.extend(network::unreachable_collector(&inputs));

        let mut outputs = contracts::outputs(&contract, &[])?;
        outputs.push(Output {
            name: OUTPUT_CONFIGURATION.into(),
            value: json!(inputs.configuration.name),
            sensitive: false,
        });
        Ok(ComponentPlan { objects, outputs, warnings, ..Default::default() })
    }
}

/// The first dependency of contract `C`'s type, read as `C`.
fn first<'a, C: Contract + 'a>(
    request: &'a PlanRequest,
    because: &str,
) -> Result<(&'a Dependency, C), PlanError> {
    match contracts::all::<C>(&request.dependencies).next() {
        Some((dep, outputs)) => Ok((dep, outputs?)),
        None => Err(PlanError::MissingDependency(format!(
            "{because} is true but there is no `{}` dependency to bind it to",
            C::COMPONENT_TYPE
        ))),
    }
}

/// A Dapr `Component`; `scopes` sits beside `spec`, not inside it.
fn component(c: &ComponentId, name: &str, part: &str, spec: Value, scopes: &[String]) -> Value {
    let meta = k8s::Meta::new(c, name, part);
    let mut object = k8s::custom_resource("dapr.io/v1alpha1", "Component", &meta, spec);
    object["scopes"] = json!(scopes);
    object
}

fn configuration(c: &ComponentId, inputs: &Inputs) -> Value {
    let cfg = &inputs.configuration;
    let mut tracing = json!({ "samplingRate": cfg.tracing.sampling_rate });
    if !cfg.tracing.otel_endpoint.is_empty() {
        tracing["otel"] = json!({
            "endpointAddress": cfg.tracing.otel_endpoint,
            "protocol": cfg.tracing.otel_protocol.as_str(),
            "isSecure": cfg.tracing.otel_is_secure,
        });
    }
    let meta = k8s::Meta::new(c, cfg.name.clone(), "configuration");
    k8s::custom_resource(
        "dapr.io/v1alpha1",
        "Configuration",
        &meta,
        json!({
            "tracing": tracing,
            "metric": { "enabled": true },
            "mtls": {
                "enabled": cfg.mtls.enabled,
                "workloadCertTTL": cfg.mtls.workload_cert_ttl,
                "allowedClockSkew": cfg.mtls.allowed_clock_skew,
                "controlPlaneTrustDomain": cfg.mtls.control_plane_trust_domain,
                "sentryAddress": cfg.mtls.sentry_address,
            },
        }),
    )
}

capstan_sdk::export_plugin!(Dapr);
