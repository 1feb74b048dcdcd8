//! The AWS WAFv2 plugin through the SDK test kit. Its declared effect is
//! sent to a real WAFv2 API (moto) through the engine's driver, and the
//! result fed back into a second plan, in capstan-http's tests
//! (engine/exec/http/tests/all/wafv2.rs).
#![allow(clippy::unwrap_used, reason = "tests")]

use capstan_core::{Capability, EffectKind, PlanError, Text};
use capstan_plugin_waf_aws_wafv2::AwsWafV2;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata};
use serde_json::{Value, json};

fn call(inputs: Value) -> PlanCall {
    PlanCall::new(inputs).component("production", "edge", "waf")
}

/// The one effect's method, path, headers and parsed body.
fn http_call(plan: &capstan_core::ComponentPlan) -> (String, String, Vec<(String, String)>, Value) {
    assert_eq!(plan.effects.len(), 1, "{:?}", plan.effects);
    let effect = &plan.effects[0];
    assert_eq!((effect.id.as_str(), effect.target.as_str()), ("web-acl", "aws:wafv2"));
    let EffectKind::Http(h) = &effect.kind else { panic!("not an HTTP effect: {effect:?}") };
    let Some(Text::Plain(body)) = &h.body else { panic!("the body is plain JSON: {h:?}") };
    (h.method.clone(), h.path.clone(), h.headers.clone(), serde_json::from_str(body).unwrap())
}

#[test]
fn metadata_asks_for_the_wafv2_capability() {
    let m = check_metadata::<AwsWafV2>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("waf", "aws-wafv2"));
    assert_eq!(m.capabilities, [Capability::Http("aws:wafv2".into())]);
}

#[test]
fn the_effect_is_a_json_1_1_create_web_acl_call_with_managed_groups_and_a_rate_rule() {
    let plan = call(json!({})).run::<AwsWafV2>().unwrap();
    assert!(plan.objects.is_empty(), "a cloud WAF has no Kubernetes objects");
    let (method, path, headers, body) = http_call(&plan);
    assert_eq!((method.as_str(), path.as_str()), ("POST", "/"));
    assert!(headers.contains(&("X-Amz-Target".into(), "AWSWAF_20190729.CreateWebACL".into())));
    assert!(headers.contains(&("Content-Type".into(), "application/x-amz-json-1.1".into())));
    assert_eq!(plan.effects[0].summary, "CreateWebACL production-waf (REGIONAL) with 5 rules");

    assert_eq!(body["Name"], "production-waf");
    assert_eq!(body["Scope"], "REGIONAL");
    assert_eq!(body["DefaultAction"], json!({ "Allow": {} }));
    let rules = body["Rules"].as_array().unwrap();
    assert_eq!(
        rules[0]["Statement"],
        json!({ "RateBasedStatement": { "Limit": 2000, "EvaluationWindowSec": 300, "AggregateKeyType": "IP" } })
    );
    assert_eq!(rules[0]["Action"], json!({ "Block": {} }));
    let groups: Vec<&str> = rules[1..]
        .iter()
        .map(|r| r["Statement"]["ManagedRuleGroupStatement"]["Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        groups,
        [
            "AWSManagedRulesAmazonIpReputationList",
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet",
            "AWSManagedRulesSQLiRuleSet",
        ]
    );
    assert!(rules[1..].iter().all(|r| r["OverrideAction"] == json!({ "None": {} })));

    // Before the effect has run there is no ARN to attach ingresses to.
    assert_eq!(plan.output("ingress_class"), Some(&json!("alb")));
    assert_eq!(plan.output("annotations"), Some(&json!({})));
    assert_eq!(plan.output("web_acl_arn"), Some(&Value::Null));
}

#[test]
fn count_only_groups_and_rules_are_overridden_to_count() {
    let plan = call(json!({
        "managed_rule_groups": [
            { "name": "AWSManagedRulesCommonRuleSet", "priority": 20, "count_rules": ["SizeRestrictions_BODY"] },
            { "name": "AWSManagedRulesBotControlRuleSet", "priority": 30, "count_only": true },
        ],
        "rate_limit": { "enabled": false },
    }))
    .run::<AwsWafV2>()
    .unwrap();
    let (_, _, _, body) = http_call(&plan);
    let rules = body["Rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "no rate rule when disabled");
    assert_eq!(
        rules[0]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"],
        json!([{ "Name": "SizeRestrictions_BODY", "ActionToUse": { "Count": {} } }])
    );
    assert_eq!(rules[1]["OverrideAction"], json!({ "Count": {} }));
}

#[test]
fn invalid_inputs_are_reported_at_their_attribute() {
    let paths = |inputs: Value| -> Vec<String> {
        match call(inputs).run::<AwsWafV2>().unwrap_err() {
            PlanError::InvalidInputs(d) => d.into_iter().map(|d| d.path).collect(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(paths(json!({ "name": "has spaces" })), ["/name"]);
    assert_eq!(paths(json!({ "scope": "GLOBAL" })), ["/scope"]);
    assert_eq!(paths(json!({ "description": "Open finance; prod!" })), ["/description"]);
    assert_eq!(paths(json!({ "rate_limit": { "window_seconds": 30 } })), ["/rate_limit/window_seconds"]);
    assert_eq!(paths(json!({ "rate_limit": { "limit": 5 } })), ["/rate_limit/limit"]);
    assert_eq!(
        paths(json!({ "managed_rule_groups": [{ "name": "AWSManagedRulesSQLiRuleSet", "priority": 1 }] })),
        ["/managed_rule_groups/0/priority"],
        "priority 1 is the rate rule's"
    );
}

/// The ALB path for mutual TLS: app ingresses get the controller's
/// annotation against the trust store, and the ARN is an output.
#[test]
fn a_trust_store_becomes_the_alb_mutual_authentication_annotation() {
    let store = "arn:aws:elasticloadbalancing:sa-east-1:123456789012:truststore/tpp-clients/0a1b2c3d";
    let p = call(json!({ "mtls": { "trust_store_arn": store } })).run::<AwsWafV2>().unwrap();
    let a = p.output("annotations").unwrap();
    let value: Value =
        serde_json::from_str(a["alb.ingress.kubernetes.io/mutual-authentication"].as_str().unwrap()).unwrap();
    assert_eq!(
        value,
        json!([{ "port": 443, "mode": "verify", "trustStore": store, "ignoreClientCertificateExpiry": false }])
    );
    assert_eq!(p.output("trust_store_arn"), Some(&json!(store)));
    assert_eq!(p.output("mtls_ca_secret"), None, "no Kubernetes Secret is involved on AWS");

    let none = call(json!({})).run::<AwsWafV2>().unwrap();
    assert_eq!(none.output("trust_store_arn"), Some(&Value::Null));
    assert!(
        none.output("annotations").unwrap().get("alb.ingress.kubernetes.io/mutual-authentication").is_none()
    );
}

#[test]
fn logging_and_trust_store_inputs_are_checked() {
    let paths = |inputs: Value| -> Vec<String> {
        match call(inputs).run::<AwsWafV2>().unwrap_err() {
            PlanError::InvalidInputs(d) => d.into_iter().map(|d| d.path).collect(),
            other => panic!("{other:?}"),
        }
    };
    // WAFv2 refuses destinations not named aws-waf-logs-…; say so at plan time.
    for bad in [
        "arn:aws:firehose:sa-east-1:123456789012:deliverystream/waf",
        "arn:aws:logs:sa-east-1:123456789012:log-group:/aws/waf",
        "arn:aws:sqs:sa-east-1:123456789012:aws-waf-logs-x",
        "aws-waf-logs-x",
    ] {
        assert_eq!(
            paths(json!({ "logging": { "destination_arn": bad } })),
            ["/logging/destination_arn"],
            "{bad}"
        );
    }
    for good in [
        "arn:aws:firehose:sa-east-1:123456789012:deliverystream/aws-waf-logs-x",
        "arn:aws:logs:sa-east-1:123456789012:log-group:aws-waf-logs-x",
        "arn:aws:s3:::aws-waf-logs-x",
    ] {
        call(json!({ "logging": { "destination_arn": good } })).run::<AwsWafV2>().unwrap();
    }
    assert_eq!(
        paths(json!({ "logging": { "redacted_headers": ["authorization", "x y"] } })),
        ["/logging/redacted_headers/1"]
    );
    assert_eq!(
        paths(json!({ "mtls": { "trust_store_arn": "arn:aws:acm:sa-east-1:123456789012:certificate/x" } })),
        ["/mtls/trust_store_arn"]
    );
}

/// With a WebACL recorded, the logging configuration is declared on the
/// WebACL's ARN, and nothing is warned: edits reach the WebACL.
#[test]
fn once_the_web_acl_exists_logging_is_declared_on_its_arn() {
    let arn = "arn:aws:wafv2:sa-east-1:123456789012:regional/webacl/production-waf/0f1e";
    let logs = "arn:aws:logs:sa-east-1:123456789012:log-group:aws-waf-logs-edge";
    let plan = call(json!({ "logging": { "destination_arn": logs, "redacted_headers": ["x-api-key"] } }))
        .effect_result("web-acl", json!({ "Summary": { "ARN": arn } }))
        .run::<AwsWafV2>()
        .unwrap();
    assert_eq!(plan.effects.len(), 2);
    let EffectKind::Http(h) = &plan.effects[1].kind else { panic!() };
    assert!(h.headers.contains(&("X-Amz-Target".into(), "AWSWAF_20190729.PutLoggingConfiguration".into())));
    let Some(Text::Plain(body)) = &h.body else { panic!() };
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        body,
        json!({ "LoggingConfiguration": {
            "ResourceArn": arn,
            "LogDestinationConfigs": [logs],
            "RedactedFields": [{ "SingleHeader": { "Name": "x-api-key" } }],
        }})
    );
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);

    // Never put, never deleted: logging off with no logging result declares nothing.
    let plan = call(json!({}))
        .effect_result("web-acl", json!({ "Summary": { "ARN": arn } }))
        .run::<AwsWafV2>()
        .unwrap();
    assert_eq!(plan.effects.len(), 1);
}

#[test]
fn a_result_without_an_arn_fails_the_plan_clearly() {
    let err = call(json!({}))
        .effect_result("web-acl", json!({ "__type": "WAFInternalErrorException" }))
        .run::<AwsWafV2>()
        .unwrap_err();
    assert!(matches!(&err, PlanError::Failed(m) if m.contains("Summary.ARN")), "{err:?}");
}

/// The `.wasm` built from this crate, run through the engine's host (the
/// wasmtime sandbox and WIT conversions `capstan plan` uses), plans exactly
/// what the native build plans, and refuses bad inputs the same way.
#[test]
fn the_built_wasm_component_plans_the_same_in_the_sandbox() {
    let workspace = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));
    let wasm = capstan_sdk::testkit::wasm::build(workspace, env!("CARGO_PKG_NAME")).unwrap();
    let arn = "arn:aws:wafv2:sa-east-1:123456789012:regional/webacl/production-waf/0f1e";
    let variant = call(json!({})).effect_result("web-acl", json!({ "Summary": { "ARN": arn } }));
    assert_eq!(variant.run_wasm(&wasm).unwrap().unwrap(), variant.run::<AwsWafV2>().unwrap());

    let bad = call(json!({ "rate_limit": { "window_seconds": 30 } }));
    assert_eq!(bad.run_wasm(&wasm).unwrap().unwrap_err(), bad.run::<AwsWafV2>().unwrap_err());
}
