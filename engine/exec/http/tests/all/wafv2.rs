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

fn live(moto: &Moto, id: &serde_json::Value) -> serde_json::Value {
    moto.ok(
        "wafv2",
        "AWSWAF_20190729.GetWebACL",
        &json!({ "Name": "production-waf", "Scope": "REGIONAL", "Id": id }),
    )
}

/// The create call is the whole desired WebACL: run on one that exists and
/// differs (here, edited outside Capstan, which also moved its lock token
/// past the one the first result recorded), the executor reads the current
/// token and writes the body back; run on one that is already as the body
/// says, it writes nothing.
#[test]
fn the_create_call_brings_an_existing_web_acl_back_to_its_body() {
    let moto = Moto::start();
    let exec = executor(&moto);
    let plan = call().run::<AwsWafV2>().unwrap();
    let first = apply_all(&exec, &plan);
    let id = first[0].body["Summary"]["Id"].clone();
    let created = live(&moto, &id);

    let again = apply_all(&exec, &plan);
    assert_eq!(again[0].body, first[0].body, "answered as listed");
    assert_eq!(live(&moto, &id)["LockToken"], created["LockToken"], "nothing was written");

    // Someone blocks everything and drops the rate rule in the console.
    let mut edited = created["WebACL"].clone();
    edited["Rules"].as_array_mut().unwrap().remove(0);
    let outside = moto.ok(
        "wafv2",
        "AWSWAF_20190729.UpdateWebACL",
        &json!({
            "Name": "production-waf", "Scope": "REGIONAL", "Id": id,
            "LockToken": created["LockToken"],
            "DefaultAction": { "Block": {} },
            "Rules": edited["Rules"],
            "VisibilityConfig": edited["VisibilityConfig"],
        }),
    );
    assert_eq!(live(&moto, &id)["WebACL"]["Rules"].as_array().unwrap().len(), 4);

    let restored = apply_all(&exec, &plan);
    let now = live(&moto, &id);
    assert_eq!(now["WebACL"]["DefaultAction"], json!({ "Allow": {} }));
    assert_eq!(now["WebACL"]["Rules"], created["WebACL"]["Rules"]);
    let token = &restored[0].body["Summary"]["LockToken"];
    assert_eq!(token, &now["LockToken"], "the result carries the token the update left");
    assert_ne!(token, &outside["NextLockToken"]);
    assert_eq!(restored[0].body["Summary"]["ARN"], first[0].body["Summary"]["ARN"]);
}
