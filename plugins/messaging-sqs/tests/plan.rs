//! capstan/messaging-sqs through the SDK test kit. Its effects are applied to
//! a real SQS API (moto) through the engine's driver in capstan-http's tests
//! (engine/exec/http/tests/all/sqs.rs), and end to end in the CLI's.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use capstan_plugin_messaging_sqs::MessagingSqs;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, merge};
use serde_json::{Value, json};

const REGION: &str = "sa-east-1";
const ACCOUNT: &str = "123456789012"; // moto's default account

/// The queue and user shape shared by every messaging backend.
fn shared_inputs() -> Value {
    json!({
        "name_prefix": "opus-",
        "queues": {
            "payments": { "retention_hours": 168, "dead_letter": true, "partitions": 6 },
            "consents": {},
        },
        "users": { "payments-api": { "password": "payments-api-s3cret", "queues": ["payments"] } },
    })
}

fn call(patch: Value) -> PlanCall {
    let mut i = shared_inputs();
    merge(&mut i, json!({ "region": REGION, "account_id": ACCOUNT }));
    merge(&mut i, patch);
    PlanCall::new(i).component("prod", "opus", "events").sensitive("/users/payments-api/password")
}

fn diagnostics(patch: Value) -> Vec<Diagnostic> {
    match call(patch).run::<MessagingSqs>() {
        Err(PlanError::InvalidInputs(d)) => d,
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

fn ids(plan: &ComponentPlan) -> Vec<&str> {
    plan.effects.iter().map(|e| e.id.as_str()).collect()
}

fn body(plan: &ComponentPlan, id: &str) -> Value {
    let e = plan.effects.iter().find(|e| e.id == id).unwrap_or_else(|| panic!("no effect {id}"));
    let EffectKind::Http(h) = &e.kind else { panic!("{id} is not HTTP") };
    assert_eq!(e.target, "aws:sqs");
    serde_json::from_str(h.body.as_ref().unwrap().expose()).unwrap()
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<MessagingSqs>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("messaging", "sqs"));
    assert_eq!(m.capabilities, vec![Capability::Http("aws:sqs".into())]);
}

#[test]
fn declares_dead_letter_queue_first_then_the_queue_with_its_redrive_policy() {
    let plan = call(
        json!({ "queues": { "payments": { "max_receive_count": 3, "visibility_timeout_seconds": 60 } } }),
    )
    .run::<MessagingSqs>()
    .unwrap();
    assert!(plan.objects.is_empty());
    assert_eq!(
        ids(&plan),
        [
            "queue:consents:create",
            "queue:consents:attributes",
            "queue:consents:tags",
            "queue:payments-dlq:create",
            "queue:payments-dlq:attributes",
            "queue:payments-dlq:tags",
            "queue:payments:create",
            "queue:payments:attributes",
            "queue:payments:tags",
        ]
    );
    assert_eq!(body(&plan, "queue:payments:create"), json!({ "QueueName": "opus-payments" }));
    let attrs = body(&plan, "queue:payments:attributes");
    assert_eq!(attrs["QueueUrl"], "https://sqs.sa-east-1.amazonaws.com/123456789012/opus-payments");
    assert_eq!(attrs["Attributes"]["MessageRetentionPeriod"], "604800");
    assert_eq!(attrs["Attributes"]["VisibilityTimeout"], "60");
    let redrive: Value =
        serde_json::from_str(attrs["Attributes"]["RedrivePolicy"].as_str().unwrap()).unwrap();
    assert_eq!(
        redrive,
        json!({ "deadLetterTargetArn": "arn:aws:sqs:sa-east-1:123456789012:opus-payments-dlq", "maxReceiveCount": "3" })
    );
    let tags = body(&plan, "queue:consents:tags");
    assert_eq!(tags["Tags"]["managed-by"], "capstan");
    assert_eq!(tags["Tags"]["capstan-component"], "opus/events");
}

#[test]
fn fifo_queues_get_the_suffix_and_keep_it_on_their_dead_letter_queue() {
    let plan = call(json!({ "queues": { "ledger": { "fifo": true, "dead_letter": true } } }))
        .run::<MessagingSqs>()
        .unwrap();
    assert_eq!(
        body(&plan, "queue:ledger:create"),
        json!({ "QueueName": "opus-ledger.fifo", "Attributes": { "FifoQueue": "true", "ContentBasedDeduplication": "true" } })
    );
    assert_eq!(body(&plan, "queue:ledger-dlq:create")["QueueName"], "opus-ledger-dlq.fifo");
}

#[test]
fn outputs_follow_the_messaging_contract_and_prefer_returned_urls() {
    let plan = call(json!({})).run::<MessagingSqs>().unwrap();
    let names: Vec<&str> = plan.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["protocol", "endpoint", "queues", "region", "network"],
        "credentials come from IAM: no secret"
    );
    assert_eq!(plan.output("protocol").unwrap(), "sqs");
    assert_eq!(plan.output("endpoint").unwrap(), "https://sqs.sa-east-1.amazonaws.com");
    assert_eq!(plan.output("region").unwrap(), REGION);
    let queues = plan.output("queues").unwrap();
    assert_eq!(queues["payments-dlq"], "https://sqs.sa-east-1.amazonaws.com/123456789012/opus-payments-dlq");

    let after = call(json!({}))
        .effect_result(
            "queue:payments:create",
            json!({ "QueueUrl": "https://sqs.sa-east-1.amazonaws.com/999/x" }),
        )
        .run::<MessagingSqs>()
        .unwrap();
    assert_eq!(after.output("queues").unwrap()["payments"], "https://sqs.sa-east-1.amazonaws.com/999/x");
    assert_eq!(after.effects, plan.effects, "results change outputs, never the declared effects");
    let keys =
        call(json!({ "credentials_secret": { "name": "sqs-app-keys" } })).run::<MessagingSqs>().unwrap();
    assert_eq!(
        keys.output("credentials_secret").unwrap(),
        &json!({ "name": "sqs-app-keys", "username_key": "AWS_ACCESS_KEY_ID", "password_key": "AWS_SECRET_ACCESS_KEY", "namespace": "opus" })
    );
    let text = format!("{:?} {}", plan.effects, serde_json::to_string(&plan.outputs).unwrap());
    assert!(!text.contains("payments-api-s3cret"));
}

#[test]
fn validate_refuses_names_and_values_sqs_rejects() {
    let long = "q".repeat(77); // 81 with the -dlq suffix
    let d = diagnostics(json!({ "queues": { "long": { "name": long, "dead_letter": true } } }));
    assert_eq!(d[0].path, "/queues/long/name");
    assert!(d[0].message.contains("at most 80"), "{}", d[0].message);
    let d = diagnostics(json!({ "queues": { "payments.v2": {} } }));
    assert_eq!(d[0].path, "/queues/payments.v2");
    let d = diagnostics(json!({ "queues": { "x": { "name": "audit.fifo" } } }));
    assert_eq!(d[0].path, "/queues/x/name");
    assert!(d[0].message.contains("fifo: true"));
    let d = diagnostics(json!({ "queues": { "consents": { "retention_hours": 400 } } }));
    assert_eq!(d[0].path, "/queues/consents/retention_hours");
    let d = diagnostics(json!({ "queues": { "consents": { "visibility_timeout_seconds": 50000 } } }));
    assert_eq!(d[0].path, "/queues/consents/visibility_timeout_seconds");
    let d = diagnostics(json!({ "queues": { "consents": { "dead_letter": true, "max_receive_count": 0 } } }));
    assert_eq!(d[0].path, "/queues/consents/max_receive_count");
    let d = diagnostics(json!({ "account_id": "1234" }));
    assert_eq!(d[0].path, "/account_id");
    let d = diagnostics(json!({ "region": "Sao Paulo" }));
    assert_eq!(d[0].path, "/region");
    // Names with the .fifo suffix given explicitly are fine with fifo: true.
    assert!(
        call(json!({ "queues": { "x": { "name": "audit.fifo", "fifo": true } } }))
            .run::<MessagingSqs>()
            .is_ok()
    );
}

#[test]
fn settings_only_other_backends_use_are_warnings_not_errors() {
    let mut inputs = call(json!({})).request().inputs;
    merge(&mut inputs, json!({ "tags": {} }));
    let d = MessagingSqs::validate(&inputs);
    let mut paths: Vec<(&str, Severity)> = d.iter().map(|d| (d.path.as_str(), d.severity)).collect();
    paths.sort_by_key(|p| p.0);
    assert_eq!(
        paths,
        [("/queues/payments/partitions", Severity::Warning), ("/users/payments-api", Severity::Warning)]
    );
}

#[test]
fn every_queue_declares_its_settings_at_their_defaults_so_removing_one_resets_it() {
    let plan = call(json!({})).run::<MessagingSqs>().unwrap();
    let consents = body(&plan, "queue:consents:attributes")["Attributes"].clone();
    assert_eq!(consents["MessageRetentionPeriod"], "345600", "SQS's default, declared");
    assert_eq!(consents["VisibilityTimeout"], "30");
    assert_eq!(consents["RedrivePolicy"], "", "an empty redrive policy detaches any dead-letter queue");
    let summary = &plan.effects.iter().find(|e| e.id == "queue:consents:attributes").unwrap().summary;
    assert!(summary.ends_with("clears KmsMasterKeyId, RedrivePolicy)"), "{summary}");

    // Turning dead_letter off changes the declared call: the engine reruns it.
    let with = body(&plan, "queue:payments:attributes");
    let off =
        call(json!({ "queues": { "payments": { "dead_letter": false } } })).run::<MessagingSqs>().unwrap();
    let without = body(&off, "queue:payments:attributes");
    assert!(with["Attributes"]["RedrivePolicy"].as_str().unwrap().contains("opus-payments-dlq"));
    assert_eq!(without["Attributes"]["RedrivePolicy"], "");
    assert!(!ids(&off).contains(&"queue:payments-dlq:create"), "the dead-letter queue is no longer declared");
}

#[test]
fn queues_are_encrypted_with_sse_sqs_unless_a_kms_key_is_given() {
    let plan = call(json!({})).run::<MessagingSqs>().unwrap();
    for id in ["queue:consents:attributes", "queue:payments:attributes", "queue:payments-dlq:attributes"] {
        let a = &body(&plan, id)["Attributes"];
        assert_eq!(a["SqsManagedSseEnabled"], "true", "{id}");
        assert_eq!(a["KmsMasterKeyId"], "", "{id}: a key from an earlier plan is cleared");
        assert_eq!(a.get("KmsDataKeyReusePeriodSeconds"), None, "{id}");
    }
    let kms = call(json!({ "kms_key_id": "alias/opus-queues" })).run::<MessagingSqs>().unwrap();
    for id in ["queue:consents:attributes", "queue:payments-dlq:attributes"] {
        let a = &body(&kms, id)["Attributes"];
        assert_eq!(a["KmsMasterKeyId"], "alias/opus-queues", "{id}");
        assert_eq!(a["KmsDataKeyReusePeriodSeconds"], "300", "{id}: SQS's default");
        assert_eq!(a["SqsManagedSseEnabled"], "false", "{id}: SQS takes one mode at a time");
    }
}

#[test]
fn the_queue_policy_denies_plain_http_and_other_accounts_unless_another_tool_owns_it() {
    let plan = call(json!({})).run::<MessagingSqs>().unwrap();
    let policy: Value = serde_json::from_str(
        body(&plan, "queue:consents:attributes")["Attributes"]["Policy"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(policy["Statement"][1]["Condition"]["StringNotEquals"]["aws:PrincipalAccount"], ACCOUNT);
    assert_eq!(policy["Statement"][1]["Resource"], "arn:aws:sqs:sa-east-1:123456789012:opus-consents");

    let unmanaged = call(json!({ "access_policy": { "managed": false } })).run::<MessagingSqs>().unwrap();
    let a = &body(&unmanaged, "queue:consents:attributes")["Attributes"];
    assert_eq!(a.get("Policy"), None, "not named, so SQS keeps whatever policy the queue has");
}

#[test]
fn validate_points_at_bad_encryption_and_policy_inputs() {
    let d = diagnostics(json!({ "kms_key_id": "my key" }));
    assert_eq!(d[0].path, "/kms_key_id");
    assert!(d[0].message.contains("alias/"), "{}", d[0].message);
    let d = diagnostics(json!({ "kms_data_key_reuse_seconds": 600 }));
    assert_eq!(d[0].path, "/kms_data_key_reuse_seconds");
    assert!(d[0].message.contains("set kms_key_id"), "{}", d[0].message);
    let d = diagnostics(json!({ "kms_key_id": "alias/q", "kms_data_key_reuse_seconds": 10 }));
    assert_eq!(d[0].path, "/kms_data_key_reuse_seconds");
    let d = diagnostics(
        json!({ "access_policy": { "allow_send_from": ["arn:aws:sns:sa-east-1:123456789012:*"] } }),
    );
    assert_eq!(d[0].path, "/access_policy/allow_send_from/0");
    let d = diagnostics(json!({ "access_policy": { "managed": false, "same_account_only": false } }));
    assert_eq!(d[0].path, "/access_policy/managed");
}

#[test]
fn network_is_the_endpoints_port_at_any_address() {
    // AWS's HTTPS endpoint, outside the cluster, at addresses AWS changes.
    let plan = call(json!({})).run::<MessagingSqs>().unwrap();
    assert_eq!(plan.output("network").unwrap(), &json!([{ "ports": [443] }]));
    for (endpoint, port) in [
        ("https://vpce-0abc.sqs.sa-east-1.vpce.amazonaws.com", 443),
        ("http://127.0.0.1:5000", 5000),
        ("http://sqs.local/", 80),
        ("https://[fd00::1]:8443/", 8443),
    ] {
        let plan = call(json!({ "endpoint": endpoint })).run::<MessagingSqs>().unwrap();
        assert_eq!(plan.output("network").unwrap(), &json!([{ "ports": [port] }]), "{endpoint}");
    }
}
