//! capstan/messaging-sqs applied to a real SQS API (`moto_server`, started
//! per test on a loopback port by capstan-http's harness) through the
//! engine's HTTP effects driver, then read back from moto: settings removed
//! from HCL are removed from the queue, and queues are encrypted and carry
//! their policy.
//!
//! Between two plans only the effects whose declaration changed are applied,
//! as the engine does (it reruns an effect when its digest differs from the
//! one in state), so a test passes only if the change itself is declared.
//!
//! What moto cannot show: it does not enforce queue policies or reach KMS
//! (a KMS key is stored, not used), and it drops a queue's policy on any
//! SetQueueAttributes that does not name `Policy`, so `managed: false`
//! (leave the policy alone) is checked on the plan in tests/plan.rs only.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use capstan_http::testing::{ACCOUNT, Moto, REGION};
use capstan_http::{DEFAULT_TIMEOUT, HttpExecutor};
use capstan_plugin_messaging_sqs::MessagingSqs;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::PlanCall;
use serde_json::{Value, json};

fn executor(moto: &Moto) -> HttpExecutor {
    HttpExecutor::new(None, &moto.env(), DEFAULT_TIMEOUT).unwrap()
}

/// The plan for component prod/opus/events with these `queues` and other inputs.
fn plan(queues: Value, more: Value) -> ComponentPlan {
    let mut inputs =
        json!({ "region": REGION, "account_id": ACCOUNT, "name_prefix": "opus-", "queues": queues });
    for (k, v) in more.as_object().unwrap() {
        inputs[k] = v.clone();
    }
    PlanCall::new(inputs).component("prod", "opus", "events").run::<MessagingSqs>().unwrap()
}

/// Applies the effects of `next` that `previous` did not declare as they
/// are (all of them on a first apply), in order; returns their ids.
fn apply_changes(exec: &HttpExecutor, previous: Option<&ComponentPlan>, next: &ComponentPlan) -> Vec<String> {
    let mut ran = Vec::new();
    for effect in &next.effects {
        if previous.is_some_and(|p| p.effects.contains(effect)) {
            continue;
        }
        exec.apply(effect).unwrap_or_else(|err| panic!("{} ({}): {err}", effect.id, effect.summary));
        ran.push(effect.id.clone());
    }
    ran
}

fn url(moto: &Moto, name: &str) -> String {
    format!("{}/{ACCOUNT}/{name}", moto.url)
}

/// The queue's attributes as moto reports them (`All`).
fn attributes(moto: &Moto, name: &str) -> Value {
    let reply = moto.ok(
        "sqs",
        "AmazonSQS.GetQueueAttributes",
        &json!({ "QueueUrl": url(moto, name), "AttributeNames": ["All"] }),
    );
    reply["Attributes"].clone()
}

#[test]
fn a_dead_letter_queue_retention_and_visibility_removed_from_hcl_are_cleared_on_the_queue() {
    let moto = Moto::start();
    let exec = executor(&moto);
    let with = plan(
        json!({ "payments": { "retention_hours": 168, "visibility_timeout_seconds": 60, "dead_letter": true, "max_receive_count": 3 } }),
        json!({}),
    );
    apply_changes(&exec, None, &with);
    let before = attributes(&moto, "opus-payments");
    assert_eq!(before["MessageRetentionPeriod"], "604800");
    assert_eq!(before["VisibilityTimeout"], "60");
    let redrive: Value = serde_json::from_str(before["RedrivePolicy"].as_str().unwrap()).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], format!("arn:aws:sqs:{REGION}:{ACCOUNT}:opus-payments-dlq"));

    let without = plan(json!({ "payments": {} }), json!({}));
    let ran = apply_changes(&exec, Some(&with), &without);
    assert_eq!(ran, ["queue:payments:attributes"], "only the changed declaration runs");
    let after = attributes(&moto, "opus-payments");
    assert_eq!(after.get("RedrivePolicy"), None, "the dead-letter queue is detached: {after}");
    assert_eq!(after["MessageRetentionPeriod"], "345600", "back to SQS's default of four days");
    assert_eq!(after["VisibilityTimeout"], "30", "back to SQS's default");
    // The dead-letter queue itself is kept, with whatever it still holds.
    assert_eq!(attributes(&moto, "opus-payments-dlq")["MessageRetentionPeriod"], "1209600");

    // And back on: the dead-letter queue is declared again (its calls find
    // the queue that was kept) and the redrive policy returns.
    let again = apply_changes(&exec, Some(&without), &with);
    assert_eq!(
        again,
        [
            "queue:payments-dlq:create",
            "queue:payments-dlq:attributes",
            "queue:payments-dlq:tags",
            "queue:payments:attributes"
        ]
    );
    assert!(
        attributes(&moto, "opus-payments")["RedrivePolicy"].as_str().unwrap().contains("opus-payments-dlq")
    );
}

/// The control: the call the plugin used to declare once `dead_letter` was
/// removed named only the attributes still set, and SQS keeps what a
/// SetQueueAttributes call does not name — so the redrive policy stayed.
#[test]
fn control_a_set_queue_attributes_call_that_does_not_name_the_redrive_policy_leaves_it() {
    let moto = Moto::start();
    let exec = executor(&moto);
    let with = plan(json!({ "payments": { "dead_letter": true } }), json!({}));
    apply_changes(&exec, None, &with);
    moto.ok(
        "sqs",
        "AmazonSQS.SetQueueAttributes",
        &json!({ "QueueUrl": url(&moto, "opus-payments"), "Attributes": { "MessageRetentionPeriod": "86400" } }),
    );
    assert!(attributes(&moto, "opus-payments")["RedrivePolicy"].is_string(), "SQS kept the redrive policy");
}

#[test]
fn queues_use_sse_sqs_by_default_the_kms_key_when_given_and_sse_sqs_again_when_it_is_removed() {
    let moto = Moto::start();
    let exec = executor(&moto);
    let queues = json!({ "payments": { "dead_letter": true } });
    let sse_sqs = plan(queues.clone(), json!({}));
    apply_changes(&exec, None, &sse_sqs);
    for name in ["opus-payments", "opus-payments-dlq"] {
        let a = attributes(&moto, name);
        assert_eq!(a["SqsManagedSseEnabled"], "true", "{name}: {a}");
        assert_eq!(a.get("KmsMasterKeyId"), None, "{name}: {a}");
    }

    let key = "arn:aws:kms:sa-east-1:123456789012:alias/opus-queues";
    let kms = plan(queues.clone(), json!({ "kms_key_id": key, "kms_data_key_reuse_seconds": 3600 }));
    apply_changes(&exec, Some(&sse_sqs), &kms);
    for name in ["opus-payments", "opus-payments-dlq"] {
        let a = attributes(&moto, name);
        assert_eq!(a["KmsMasterKeyId"], key, "{name}: {a}");
        assert_eq!(a["KmsDataKeyReusePeriodSeconds"].to_string().trim_matches('"'), "3600", "{name}: {a}");
        assert_eq!(a["SqsManagedSseEnabled"], "false", "{name}: {a}");
    }

    apply_changes(&exec, Some(&kms), &sse_sqs);
    let a = attributes(&moto, "opus-payments");
    assert_eq!(a.get("KmsMasterKeyId"), None, "the KMS key is cleared: {a}");
    assert_eq!(a["SqsManagedSseEnabled"], "true");
}

#[test]
fn the_queue_policy_is_written_and_cleared_when_switched_off() {
    let moto = Moto::start();
    let exec = executor(&moto);
    let queues = json!({ "payments": { "dead_letter": true } });
    let topic = "arn:aws:sns:sa-east-1:123456789012:payments-events";
    let open = plan(queues.clone(), json!({ "access_policy": { "allow_send_from": [topic] } }));
    apply_changes(&exec, None, &open);
    let policy = |name: &str| -> Value {
        serde_json::from_str(attributes(&moto, name)["Policy"].as_str().expect("a policy")).unwrap()
    };
    let sids = |doc: &Value| -> Vec<String> {
        doc["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap().to_owned()).collect()
    };
    let queue = policy("opus-payments");
    assert_eq!(sids(&queue), ["DenyInsecureTransport", "DenyOtherAccounts", "AllowSendFrom1"]);
    assert_eq!(queue["Statement"][2]["Condition"]["ArnEquals"]["aws:SourceArn"], topic);
    assert_eq!(queue["Statement"][0]["Resource"], format!("arn:aws:sqs:{REGION}:{ACCOUNT}:opus-payments"));
    assert_eq!(sids(&policy("opus-payments-dlq")), ["DenyInsecureTransport", "DenyOtherAccounts"]);

    let off = json!({ "access_policy": { "deny_insecure_transport": false, "same_account_only": false } });
    let closed = plan(queues, off);
    apply_changes(&exec, Some(&open), &closed);
    for name in ["opus-payments", "opus-payments-dlq"] {
        let a = attributes(&moto, name);
        assert_eq!(a.get("Policy"), None, "{name}: the policy is removed: {a}");
    }
}
