//! `capstan/app`: runs one microservice from a container image.
//!
//! Plans a Deployment (restricted security context, resource limits, probes
//! when it listens or names a `health_command`), a Service, and on request a
//! HorizontalPodAutoscaler, a PodDisruptionBudget (an autoscaled app gets
//! one evicting a pod at a time unless `pdb` says otherwise), an Ingress and
//! a Prometheus ServiceMonitor. Its dependencies configure it through their
//! outputs contracts: database and broker settings as environment variables
//! (secrets by reference only), Dapr sidecar annotations (and `dapr.io/config`,
//! the Configuration the dapr dependency names), the WAF's ingress class and
//! annotations, cert-manager's issuer for the ingress certificate, a SPIFFE
//! identity (the SPIRE Workload API socket, mounted read-only) and where
//! and how the app logs in to Vault (`identity.rs`), which run the pods as
//! a ServiceAccount of their own.
//!
//! Its pods are isolated by NetworkPolicies drawn from the same
//! dependencies (`network.rs`): they may reach the cluster DNS and what
//! their dependencies' `network` outputs name, and be reached on their port
//! by the WAF's ingress controller, Prometheus and the apps that depend on
//! this one (each of which renders the policy letting itself in).
//!
//! Pods get a startup probe with their probes, and spread over nodes and
//! zones when there can be several. They do not roll when a Secret they
//! read changes: a digest of the values in the pod template would sit in
//! files meant for Git, and a plain hash of a password can be checked
//! against guesses offline; a plugin has no key to make it a keyed one.
//! A dependency's Secret is only referenced, so its rotation is invisible
//! here too.
//!
//! It does not build images, run migrations or create databases: those belong
//! to CI and to the `postgres` component.

mod identity;
mod inputs;
mod network;
mod objects;
mod wiring;

use capstan_sdk::prelude::*;

pub use inputs::Inputs;

/// The plugin.
pub struct App;

impl Plugin for App {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/app", env!("CARGO_PKG_VERSION"))
            .component_type(contracts::app::Outputs::COMPONENT_TYPE)
            .backend("kubernetes")
            .description(
                "A microservice from a container image: Deployment and Service, with optional \
                 autoscaling, disruption budget, ingress (behind the WAF, with cert-manager TLS) \
                 and Prometheus scraping; database, broker, Dapr, SPIFFE and Vault settings come from \
                 its dependencies.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(inputs::DEFAULTS_YAML)
            .build()
    }

    fn validate(inputs: &serde_json::Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, inputs::validate)
    }

    fn plan(request: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let parsed: Inputs = request.inputs()?;
        let errors: Vec<Diagnostic> =
            inputs::validate(&parsed).into_iter().filter(|d| d.severity == Severity::Error).collect();
        if !errors.is_empty() {
            return Err(PlanError::InvalidInputs(errors));
        }
        let component = &request.component;
        let port = parsed.port.map(|p| p.get());
        let wiring = wiring::wire(component, port, parsed.named_service_account(), &request.dependencies)?;
        objects::plan(request, &parsed, &wiring)
    }
}

capstan_sdk::export_plugin!(App);
