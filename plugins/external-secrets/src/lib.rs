//! Capstan plugin `capstan/external-secrets`: the `external-secrets`
//! component type — the `ClusterSecretStore` the External Secrets operator
//! reads from, for an installed operator.
//!
//! Two backends:
//!
//! - `vault` (the default): a `vault` dependency's KV version 2 mount
//!   (`mounts.kv`), logged in to with Kubernetes auth (`auth.kubernetes`) as
//!   the role the vault component made for this component — so the vault
//!   component must list this component among its `apps`, bound to the
//!   ServiceAccount the store names. A missing dependency, mount, auth
//!   method or role is an error at the `vault` input, saying what to add.
//! - `aws-secrets-manager`: Secrets Manager in `aws.region`, with the
//!   ServiceAccount's token exchanged for `aws.role_arn` (IRSA), or the
//!   operator's own credentials without one.
//!
//! With `service_account.create` it also renders that ServiceAccount (with
//! the IRSA annotation for AWS). The outputs name the store, so whoever
//! writes ExternalSecrets names one that exists: the render target's
//! `external-secrets` delivery does, when env.hcl's
//! `external_secrets.store` is this component's store (see the README).
//!
//! It does not install the operator or its CRDs, write any value into the
//! store, or widen the vault component's policy for this component: the
//! role reads what the vault component's policy for it allows.

pub mod inputs;
pub mod store;

use capstan_sdk::contracts::external_secrets::{self, Outputs, StoreKind, StoreRef};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

use crate::inputs::{Backend, IRSA_ANNOTATION, Inputs};

/// The plugin: see the crate docs.
pub struct ExternalSecrets;

impl Plugin for ExternalSecrets {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/external-secrets", env!("CARGO_PKG_VERSION"))
            .component_type(<Outputs as Contract>::COMPONENT_TYPE)
            .backend("external-secrets")
            .description(
                "The ClusterSecretStore (external-secrets.io/v1) the External Secrets operator reads: a vault \
                 dependency's KV version 2 mount through Kubernetes auth as the role the vault component made \
                 for this component, or AWS Secrets Manager through IRSA; and the ServiceAccount it logs in \
                 with, when asked. The store the render target's external-secrets delivery names.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(inputs::DEFAULTS_YAML)
            .build()
    }

    fn validate(inputs: &Value) -> Vec<Diagnostic> {
        capstan_sdk::validate_inputs(inputs, inputs::check)
    }

    fn plan(req: &PlanRequest) -> Result<ComponentPlan, PlanError> {
        let inputs: Inputs = req.inputs()?;
        // `validate`'s warnings reach the plan already (the engine shows
        // them); only its errors matter here, for a caller that skipped it.
        let errors: Vec<Diagnostic> =
            inputs::check(&inputs).into_iter().filter(|d| d.severity == Severity::Error).collect();
        if !errors.is_empty() {
            return Err(PlanError::InvalidInputs(errors));
        }
        let c = &req.component;
        let mut objects = Vec::new();
        let mut warnings = Vec::new();
        let mut irsa_role = None;
        let (provider, mount, region) = match inputs.backend {
            Backend::Vault => {
                let side = store::vault_side(req, &inputs).map_err(PlanError::InvalidInputs)?;
                if inputs.ca_secret.is_some() && side.address.starts_with("http://") {
                    warnings.push(Diagnostic {
                        path: "/ca_secret".into(),
                        severity: Severity::Warning,
                        message: format!(
                            "unused: the vault component's address {} is plain HTTP, so no certificate \
                             is verified",
                            side.address
                        ),
                    });
                }
                (store::vault_provider(req, &inputs, &side), Some(side.kv_mount), None)
            }
            Backend::AwsSecretsManager => {
                // `check` refused a missing `aws` block above.
                let aws = inputs.aws.as_ref().ok_or_else(|| {
                    PlanError::InvalidInputs(vec![Diagnostic::error("/aws", "name the region")])
                })?;
                irsa_role = aws.role_arn.clone();
                let provider = store::aws_provider(req, &inputs, &aws.region, irsa_role.is_some());
                (provider, None, Some(aws.region.clone()))
            }
        };
        if inputs.service_account.create {
            let (name, namespace) = inputs.service_account_ref(c);
            let mut meta = k8s::Meta::new(c, name, "service-account")
                .annotations(inputs.service_account.annotations.clone());
            if let Some(arn) = &irsa_role {
                meta = meta.annotation(IRSA_ANNOTATION, arn.clone());
            }
            // The operator asks the API for this account's tokens (TokenRequest);
            // no pod runs as it, so none gets its token mounted.
            let mut account = k8s::service_account(&meta, false);
            account["metadata"]["namespace"] = json!(namespace);
            objects.push(account);
        }
        objects.push(store::cluster_secret_store(req, &inputs, provider));

        let outputs = contracts::outputs(
            &Outputs {
                store: StoreRef {
                    kind: StoreKind::ClusterSecretStore,
                    name: inputs.store_name(c).to_owned(),
                },
                backend: match inputs.backend {
                    Backend::Vault => external_secrets::backend::VAULT,
                    Backend::AwsSecretsManager => external_secrets::backend::AWS_SECRETS_MANAGER,
                }
                .to_owned(),
                refresh: Some(inputs.refresh.clone()),
                mount,
                region,
            },
            &[],
        )?;
        Ok(ComponentPlan { objects, outputs, warnings, ..Default::default() })
    }

    fn health(object: &Value) -> Health {
        match (object["apiVersion"].as_str(), object["kind"].as_str()) {
            (Some(store::API_VERSION), Some(store::KIND)) => store::health(object),
            _ => capstan_sdk::health::default_health(object),
        }
    }
}

capstan_sdk::export_plugin!(ExternalSecrets);
