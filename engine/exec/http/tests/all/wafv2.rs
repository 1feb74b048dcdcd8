//! waf-aws-wafv2's effect through the driver, on moto's WAFv2.

use capstan_http::testing::Moto;
use capstan_plugin_waf_aws_wafv2::AwsWafV2;
use capstan_sdk::testkit::{PlanCall, PlanExt};
use serde_json::json;

use crate::support::{apply_all, executor};

fn call() -> PlanCall {
    PlanCall::new(json!({})).component("production", "edge", "waf")
}

#[test]
fn the_web_acl_exists_with_its_rules_and_a_re_apply_adopts_it() {
    let moto = Moto::start();
    let exec = executor(&moto);
    let plan = call().run::<AwsWafV2>().unwrap();
    let results = apply_all(&exec, &plan);
    let summary = &results[0].body["Summary"];
    let arn = summary["ARN"].as_str().unwrap().to_owned();
    assert!(
        arn.starts_with("arn:aws:wafv2:sa-east-1:") && arn.contains(":regional/webacl/production-waf/"),
        "{arn}"
    );

    let got = moto.ok(
        "wafv2",
        "AWSWAF_20190729.GetWebACL",
        &json!({ "Name": "production-waf", "Scope": "REGIONAL", "Id": summary["Id"] }),
    );
    let rules: Vec<&str> =
        got["WebACL"]["Rules"].as_array().unwrap().iter().map(|r| r["Name"].as_str().unwrap()).collect();
    assert_eq!(
        rules,
        [
            "production-waf-rate-limit",
            "AWS-AWSManagedRulesAmazonIpReputationList",
            "AWS-AWSManagedRulesCommonRuleSet",
            "AWS-AWSManagedRulesKnownBadInputsRuleSet",
            "AWS-AWSManagedRulesSQLiRuleSet",
        ]
    );
    let rate = &got["WebACL"]["Rules"][0]["Statement"]["RateBasedStatement"];
    assert_eq!((rate["Limit"].as_u64(), rate["AggregateKeyType"].as_str()), (Some(2000), Some("IP")));

    // CreateWebACL again: WAFv2 says "duplicate"; the driver answers with the
    // existing WebACL, so the plugin keeps its ARN and nothing is created.
    let again = apply_all(&exec, &plan);
    assert_eq!(again[0].body["Summary"]["ARN"], arn.as_str());
    let list = moto.ok("wafv2", "AWSWAF_20190729.ListWebACLs", &json!({ "Scope": "REGIONAL" }));
    assert_eq!(list["WebACLs"].as_array().unwrap().len(), 1, "{list}");

    let after = call().effect_result("web-acl", again[0].body.clone()).run::<AwsWafV2>().unwrap();
    assert_eq!(after.output("web_acl_arn"), Some(&json!(arn)));
    assert_eq!(after.output("annotations"), Some(&json!({ "alb.ingress.kubernetes.io/wafv2-acl-arn": arn })));
}
