//! Capstan plugin `{{name}}`: a backend for components of type `{{type}}`.
//!
//! `plan` turns a component's inputs into a Deployment and a Service, and
//! writes the outputs the `{{type}}` contract (published below, version 1)
//! promises to the components that depend on it.

use capstan_sdk::prelude::*;

/// What a `{{type}}` component's `inputs` may set; its JSON Schema, which
/// the engine checks inputs against, is derived from this type.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The container image, pinned to a version.
    pub image: String,
    /// How many pods run it.
    pub replicas: u32,
    /// The TCP port the server listens on.
    pub port: u16,
    /// Requests and limits of the container.
    pub resources: k8s::Resources,
}

/// What every `{{type}}` component offers its dependents: the contract this
/// plugin publishes, which the engine checks each plan's outputs against.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// The Service's name in the cluster (`<name>.<namespace>.svc`).
    pub host: String,
    /// The port to connect to.
    pub port: u16,
}

/// The plugin.
pub struct {{Struct}};

impl Plugin for {{Struct}} {
    fn metadata() -> Metadata {
        MetadataBuilder::new("{{name}}", env!("CARGO_PKG_VERSION"))
            .component_type("{{type}}")
            .backend("kubernetes")
            .description("A {{type}} server as a Deployment and a Service.")
            .input_schema_for::<Inputs>()
            .defaults_yaml(include_str!("defaults.yaml"))
            .outputs_contract_for::<Outputs>(1)
            .build()
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?; // refused with a JSON pointer when they do not fit
        let meta = k8s::Meta::new(&req.component, &req.component.name, "server");
        let container = k8s::Container::new("server", inputs.image)
            .port("tcp", inputs.port)
            .resources(&inputs.resources)
            .readiness_probe(k8s::tcp_probe("tcp"));
        let pod = k8s::PodTemplate::new(&meta).container(&container);
        let outputs = Outputs {
            host: format!("{}.{}.svc", meta.name(), req.component.namespace),
            port: inputs.port,
        };
        let outputs = match serde_json::to_value(&outputs) {
            Ok(serde_json::Value::Object(fields)) => fields
                .into_iter()
                .map(|(name, value)| Output {
                    name,
                    value,
                    sensitive: false,
                })
                .collect(),
            _ => {
                return Err(PlanError::Failed(
                    "the outputs did not serialise to an object".into(),
                ));
            }
        };
        Ok(ComponentPlan {
            objects: vec![
                k8s::deployment(&meta, Some(inputs.replicas), &pod),
                k8s::service(&meta, &[("tcp", inputs.port)]),
            ],
            outputs,
            ..Default::default()
        })
    }
}

capstan_sdk::export_plugin!({{Struct}});

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, invalid_inputs};
    use serde_json::json;

    use super::*;

    #[test]
    fn metadata_is_valid() {
        check_metadata::<{{Struct}}>();
    }

    #[test]
    fn plans_a_deployment_and_a_service_and_says_where_it_listens() {
        let plan = PlanCall::new(json!({ "image": "registry.example/server:1.0.0" }))
            .component("staging", "core", "cache")
            .run::<{{Struct}}>()
            .unwrap();
        let deployment = plan.expect_object("Deployment", "cache");
        assert_eq!(deployment["spec"]["replicas"], 1);
        assert_eq!(
            deployment["spec"]["template"]["spec"]["containers"][0]["image"],
            "registry.example/server:1.0.0"
        );
        plan.expect_object("Service", "cache");
        assert_eq!(plan.output("host"), Some(&json!("cache.core.svc")));
        assert_eq!(plan.output("port"), Some(&json!(8080)));
    }

    #[test]
    fn an_input_of_the_wrong_type_is_refused_at_its_path() {
        let err = PlanCall::new(json!({ "image": "x:1", "replicas": "two" }))
            .run::<{{Struct}}>()
            .unwrap_err();
        let paths: Vec<String> = invalid_inputs(err)
            .into_iter()
            .map(|(path, _)| path)
            .collect();
        assert_eq!(paths, ["/replicas"]);
    }
}
