//! `capstan/waf-aws-wafv2`: the `waf` component type as an AWS WAFv2
//! WebACL, with AWS managed rule groups and a rate-based rule.
//!
//! It renders no Kubernetes objects. It declares one HTTP effect on the
//! `aws:wafv2` service: `CreateWebACL` in the AWS JSON 1.1 protocol (`POST /`
//! with `X-Amz-Target: AWSWAF_20190729.CreateWebACL`), which the engine signs
//! with the operator's credentials. When the engine hands back that call's
//! result, the WebACL's ARN goes into the outputs: app ingresses on the AWS
//! Load Balancer Controller carry `alb.ingress.kubernetes.io/wafv2-acl-arn`,
//! and the controller associates their load balancer with the WebACL.
//!
//! Opt-in request logging is a second effect, `PutLoggingConfiguration`
//! (see `logging`), declared once the WebACL's ARN is known and replaced
//! by `DeleteLoggingConfiguration` when logging is turned off.
//!
//! Client-certificate mTLS on AWS lives on the load balancer, not in WAF:
//! with `mtls.trust_store_arn` set, app ingresses also get the controller's
//! `alb.ingress.kubernetes.io/mutual-authentication` annotation in `verify`
//! mode against that ELB trust store, and the ARN is an output. The trust
//! store itself is not made here (see README.md), and `mtls_ca_secret`
//! stays unset: no Kubernetes Secret is involved.
//!
//! Edits reach an existing WebACL through the same effect: its body is the
//! complete desired WebACL and its digest follows the inputs, so an edit
//! re-runs it; WAFv2 answers "duplicate", and the HTTP executor reads the
//! live WebACL with its lock token and updates it to the body (README.md).
//! The plugin never sees a lock token.

pub mod inputs;
pub mod logging;
pub mod webacl;

use std::collections::BTreeMap;

use capstan_sdk::contracts::{self, waf};
use capstan_sdk::prelude::*;
use serde_json::{Value, json};

use crate::inputs::Inputs;

/// The id of the `CreateWebACL` effect; its result comes back under it.
pub const EFFECT_WEB_ACL: &str = "web-acl";
/// The service the effect runs on; the operator grants it as a capability.
pub const TARGET: &str = "aws:wafv2";
/// The annotation the AWS Load Balancer Controller reads.
pub const ALB_WAF_ANNOTATION: &str = "alb.ingress.kubernetes.io/wafv2-acl-arn";
/// Output (beyond the `waf` contract) with the WebACL's ARN, once known.
pub const OUTPUT_WEB_ACL_ARN: &str = "web_acl_arn";
/// The AWS Load Balancer Controller's listener mTLS annotation.
pub const ALB_MTLS_ANNOTATION: &str = "alb.ingress.kubernetes.io/mutual-authentication";
/// Output (beyond the `waf` contract) with the ELB trust store's ARN, when mTLS is on.
pub const OUTPUT_TRUST_STORE_ARN: &str = "trust_store_arn";

/// The plugin.
pub struct AwsWafV2;

impl Plugin for AwsWafV2 {
    fn metadata() -> Metadata {
        MetadataBuilder::new("capstan/waf-aws-wafv2", env!("CARGO_PKG_VERSION"))
            .component_type(<waf::Outputs as Contract>::COMPONENT_TYPE)
            .backend("aws-wafv2")
            .description(
                "An AWS WAFv2 WebACL with AWS managed rule groups and a per-IP rate limit, created \
                 through the WAFv2 API by the engine; app ingresses on the AWS Load Balancer \
                 Controller attach to it by annotation.",
            )
            .input_schema_for::<Inputs>()
            .defaults_yaml(inputs::DEFAULTS_YAML)
            .capability(Capability::Http(TARGET.into()))
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
        let name = if inputs.name.is_empty() {
            format!("{}-{}", c.environment, c.name)
        } else {
            inputs.name.clone()
        };
        let body = webacl::create_request(&name, c, &inputs);
        let effect = Effect {
            id: EFFECT_WEB_ACL.into(),
            target: TARGET.into(),
            summary: format!(
                "CreateWebACL {name} ({}) with {} rules",
                inputs.scope.as_str(),
                body["Rules"].as_array().map_or(0, Vec::len)
            ),
            kind: EffectKind::Http(capstan_core::HttpCall {
                method: "POST".into(),
                path: "/".into(),
                headers: vec![
                    ("X-Amz-Target".into(), "AWSWAF_20190729.CreateWebACL".into()),
                    ("Content-Type".into(), "application/x-amz-json-1.1".into()),
                ],
                body: Some(Text::Plain(body.to_string())),
            }),
        };

        let arn = web_acl_arn(request)?;
        let mut effects = vec![effect];
        let mut warnings = Vec::new();
        match logging::declare(request, &inputs.logging, arn.as_deref()) {
            logging::Declared::Effect(e) => effects.push(e),
            logging::Declared::WaitingForArn => warnings.push(Diagnostic::warning(
                "/logging/destination_arn",
                "logging is configured on the next apply: PutLoggingConfiguration needs the WebACL's \
                 ARN, which exists once this apply has created it",
            )),
            logging::Declared::Nothing => {}
        }

        let mut annotations = BTreeMap::new();
        if let Some(arn) = &arn {
            annotations.insert(ALB_WAF_ANNOTATION.to_owned(), arn.clone());
        }
        let trust_store =
            (!inputs.mtls.trust_store_arn.is_empty()).then(|| inputs.mtls.trust_store_arn.clone());
        if let Some(store) = &trust_store {
            annotations
                .insert(ALB_MTLS_ANNOTATION.to_owned(), alb_mutual_authentication(&inputs.mtls, store));
        }
        let mut outputs = contracts::outputs(
            &waf::Outputs {
                ingress_class: inputs.ingress_class.clone(),
                annotations,
                mtls_ca_secret: None,
                ingress_from: Vec::new(),
            },
            &[],
        )?;
        outputs.push(Output { name: OUTPUT_WEB_ACL_ARN.into(), value: json!(arn), sensitive: false });
        outputs.push(Output {
            name: OUTPUT_TRUST_STORE_ARN.into(),
            value: json!(trust_store),
            sensitive: false,
        });
        Ok(ComponentPlan { effects, outputs, warnings, ..Default::default() })
    }
}

/// The controller's annotation value: one listener, in `verify` mode.
fn alb_mutual_authentication(mtls: &inputs::AlbMtls, trust_store: &str) -> String {
    json!([{
        "port": mtls.port,
        "mode": "verify",
        "trustStore": trust_store,
        "ignoreClientCertificateExpiry": mtls.ignore_client_certificate_expiry,
    }])
    .to_string()
}

/// The ARN from the `CreateWebACL` response (`{"Summary": {"ARN": …}}`), if
/// the effect has run. A result without one is a broken executor or API
/// change, reported rather than guessed around.
fn web_acl_arn(request: &PlanRequest) -> Result<Option<String>, PlanError> {
    let Some(result) = request.effect_results.iter().find(|r| r.id == EFFECT_WEB_ACL) else {
        return Ok(None);
    };
    match result.body.pointer("/Summary/ARN").and_then(Value::as_str) {
        Some(arn) if arn.starts_with("arn:") => Ok(Some(arn.to_owned())),
        _ => Err(PlanError::Failed(format!(
            "the result of effect `{EFFECT_WEB_ACL}` (CreateWebACL) has no Summary.ARN"
        ))),
    }
}

capstan_sdk::export_plugin!(AwsWafV2);
