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
//! What it does not do yet: change a WebACL after it exists. WAFv2 updates
//! need the current lock token (`GetWebACL`, then `UpdateWebACL`), a
//! read-then-write the effect model cannot express; the HTTP executor is
//! expected to treat `WAFDuplicateItemException` on a re-apply as "already
//! there". Client-certificate mTLS on AWS lives on the load balancer's trust
//! store, not in WAF, so `mtls_ca_secret` is never set.

pub mod inputs;
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
        let mut annotations = BTreeMap::new();
        if let Some(arn) = &arn {
            annotations.insert(ALB_WAF_ANNOTATION.to_owned(), arn.clone());
        }
        let mut outputs = contracts::outputs(
            &waf::Outputs { ingress_class: inputs.ingress_class.clone(), annotations, mtls_ca_secret: None },
            &[],
        )?;
        outputs.push(Output { name: OUTPUT_WEB_ACL_ARN.into(), value: json!(arn), sensitive: false });
        Ok(ComponentPlan { effects: vec![effect], outputs, ..Default::default() })
    }
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
