//! The plugin's effects run by the engine's HTTP executor against moto's
//! WAFv2, applied the way `capstan apply` applies them: the effects of one
//! plan in order, then the next plan made with their results. (The create
//! call alone, and its adoption on a re-apply, are also covered by
//! capstan-http's own tests, engine/exec/http/tests/all/wafv2.rs.)
#![allow(clippy::unwrap_used, reason = "tests")]

use capstan_core::{ComponentPlan, EffectResult, Severity};
use capstan_http::testing::{Moto, apply_all};
use capstan_http::{DEFAULT_TIMEOUT, HttpExecutor};
use capstan_plugin_waf_aws_wafv2::AwsWafV2;
use capstan_sdk::testkit::{PlanCall, PlanExt};
use serde_json::{Value, json};

const LOGS: &str = "arn:aws:firehose:sa-east-1:123456789012:deliverystream/aws-waf-logs-production";

fn executor(moto: &Moto) -> HttpExecutor {
    HttpExecutor::new(None, &moto.env(), DEFAULT_TIMEOUT).unwrap()
}

/// One plan, with the results state would hold from the last apply.
fn plan(inputs: Value, recorded: &[EffectResult]) -> ComponentPlan {
    let mut call = PlanCall::new(inputs).component("production", "edge", "waf");
    for r in recorded {
        call = call.effect_result(&r.id, r.body.clone());
    }
    call.run::<AwsWafV2>().unwrap()
}

fn ids(plan: &ComponentPlan) -> Vec<&str> {
    plan.effects.iter().map(|e| e.id.as_str()).collect()
}

fn logging_of(moto: &Moto, arn: &str) -> (u16, Value) {
    moto.json("wafv2", "AWSWAF_20190729.GetLoggingConfiguration", &json!({ "ResourceArn": arn }))
}

#[test]
fn logging_is_put_once_the_web_acl_exists_and_deleted_when_turned_off() {
    let moto = Moto::start();
    let exec = executor(&moto);
    let on = json!({ "logging": { "destination_arn": LOGS } });

    // First apply: the WebACL only; the plan says logging follows.
    let first = plan(on.clone(), &[]);
    assert_eq!(ids(&first), ["web-acl"]);
    assert!(
        first
            .warnings
            .iter()
            .any(|w| w.severity == Severity::Warning && w.path == "/logging/destination_arn"),
        "{:?}",
        first.warnings
    );
    let state = apply_all(&exec, &first);
    let arn = state[0].body["Summary"]["ARN"].as_str().unwrap().to_owned();
    assert_eq!(logging_of(&moto, &arn).0, 400, "no logging before the second apply");

    // Second apply: the logging configuration, with credentials redacted.
    let second = plan(on.clone(), &state);
    assert_eq!(ids(&second), ["web-acl", "logging"]);
    assert_eq!(second.effects[0], first.effects[0], "the create call is unchanged, so the engine skips it");
    // The engine would skip the unchanged create call (state holds its
    // digest); run again it finds the WebACL as it is and writes nothing.
    let state = vec![state[0].clone(), apply_all(&exec, &second)[1].clone()];
    let (status, got) = logging_of(&moto, &arn);
    assert_eq!(status, 200, "{got}");
    let config = &got["LoggingConfiguration"];
    assert_eq!(config["ResourceArn"], arn.as_str());
    assert_eq!(config["LogDestinationConfigs"], json!([LOGS]));
    assert_eq!(
        config["RedactedFields"],
        json!([{ "SingleHeader": { "Name": "authorization" } }, { "SingleHeader": { "Name": "cookie" } }])
    );

    // Nothing changed: the same two effects, byte for byte, so nothing runs.
    let third = plan(on, &state);
    assert_eq!(third.effects, second.effects);

    // Turned off: the configuration this component put is deleted…
    let off = plan(json!({}), &state);
    assert_eq!(ids(&off), ["web-acl", "logging-off"]);
    let state = vec![state[0].clone(), apply_all(&exec, &off)[1].clone()];
    assert_eq!(logging_of(&moto, &arn).0, 400, "deleted");
    // An apply stopped before state recorded the delete runs it again:
    // WAFv2 answers "nonexistent", which is what the delete was for.
    assert_eq!(apply_all(&exec, &off)[1].body, json!({}));
    // …and after that nothing more is declared, so state settles.
    let settled = plan(json!({}), &state);
    assert_eq!(ids(&settled), ["web-acl"]);
}

fn live(moto: &Moto, state: &[EffectResult]) -> Value {
    let id = &state[0].body["Summary"]["Id"];
    moto.ok(
        "wafv2",
        "AWSWAF_20190729.GetWebACL",
        &json!({ "Name": "production-waf", "Scope": "REGIONAL", "Id": id }),
    )
}

fn rule_names(live: &Value) -> Vec<&str> {
    live["WebACL"]["Rules"].as_array().unwrap().iter().map(|r| r["Name"].as_str().unwrap()).collect()
}

/// The managed rule groups of the defaults without SQLi, the common rule
/// set's body-size rule only counting when `count` is set.
fn three_groups(count: bool) -> Value {
    let count_rules = if count { json!(["SizeRestrictions_BODY"]) } else { json!([]) };
    json!([
        { "name": "AWSManagedRulesAmazonIpReputationList", "priority": 10 },
        { "name": "AWSManagedRulesCommonRuleSet", "priority": 20, "count_rules": count_rules },
        { "name": "AWSManagedRulesKnownBadInputsRuleSet", "priority": 30 },
    ])
}

/// What the issue called create-only, against the real API: an edit in the
/// inputs changes the create call, which re-runs; WAFv2 answers "duplicate"
/// and the executor updates the WebACL to the call's body with the lock
/// token it reads then. Rules and attributes the inputs no longer have are
/// removed, and an unchanged WebACL is not written.
///
/// moto's UpdateWebACL patches where AWS's replaces: it keeps a top-level
/// field the request leaves out (a removed description) and keeps the old
/// rules when the new list is empty. So what is removed here is a rule and
/// an attribute inside a rule; that a removed description is left out of
/// the update is shown in capstan-http's unit tests (src/converge.rs).
#[test]
fn an_edit_reaches_the_web_acl_and_what_was_removed_is_removed() {
    let moto = Moto::start();
    let exec = executor(&moto);
    let first = plan(json!({}), &[]);
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    let state = apply_all(&exec, &first);
    let created = live(&moto, &state);
    let arn = state[0].body["Summary"]["ARN"].clone();

    // Nothing changed: the same create call, which the engine skips; and
    // run anyway, it writes nothing (the lock token stays).
    let same = plan(json!({}), &state);
    assert_eq!(same.effects, first.effects);
    assert!(same.warnings.is_empty(), "{:?}", same.warnings);
    assert_eq!(apply_all(&exec, &same)[0].body, state[0].body);
    assert_eq!(live(&moto, &state)["LockToken"], created["LockToken"]);

    // An edited limit and description, a group dropped, a rule set to count.
    let edit = json!({
        "description": "Edge WAF for open finance",
        "rate_limit": { "limit": 500 },
        "managed_rule_groups": three_groups(true),
    });
    let edited = plan(edit.clone(), &state);
    assert_ne!(edited.effects[0], first.effects[0], "the edit changes the create call's digest");
    assert!(edited.warnings.is_empty(), "{:?}", edited.warnings);
    let state = apply_all(&exec, &edited);
    let now = live(&moto, &state);
    assert_eq!(state[0].body["Summary"]["ARN"], arn, "updated, not recreated");
    assert_eq!(state[0].body["Summary"]["LockToken"], now["LockToken"], "the result has the current token");
    assert_ne!(now["LockToken"], created["LockToken"]);
    assert_eq!(now["WebACL"]["Description"], "Edge WAF for open finance");
    assert_eq!(now["WebACL"]["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"], 500);
    assert_eq!(
        rule_names(&now),
        [
            "production-waf-rate-limit",
            "AWS-AWSManagedRulesAmazonIpReputationList",
            "AWS-AWSManagedRulesCommonRuleSet",
            "AWS-AWSManagedRulesKnownBadInputsRuleSet",
        ]
    );
    assert_eq!(
        now["WebACL"]["Rules"][2]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"],
        json!([{ "Name": "SizeRestrictions_BODY", "ActionToUse": { "Count": {} } }])
    );
    let settled = plan(edit, &state);
    assert_eq!(settled.effects, edited.effects, "the next plan has nothing to run");
    assert_eq!(settled.output("web_acl_arn"), Some(&arn));

    // The rate rule turned off and the override dropped: both leave AWS.
    let removed = plan(
        json!({
            "description": "Edge WAF for open finance",
            "rate_limit": { "enabled": false },
            "managed_rule_groups": three_groups(false),
        }),
        &state,
    );
    let state = apply_all(&exec, &removed);
    let now = live(&moto, &state);
    assert_eq!(
        rule_names(&now),
        [
            "AWS-AWSManagedRulesAmazonIpReputationList",
            "AWS-AWSManagedRulesCommonRuleSet",
            "AWS-AWSManagedRulesKnownBadInputsRuleSet",
        ]
    );
    let common = &now["WebACL"]["Rules"][1]["Statement"]["ManagedRuleGroupStatement"];
    assert!(common.get("RuleActionOverrides").is_none(), "{common}");
    let list = moto.ok("wafv2", "AWSWAF_20190729.ListWebACLs", &json!({ "Scope": "REGIONAL" }));
    assert_eq!(list["WebACLs"].as_array().unwrap().len(), 1, "{list}");
}
