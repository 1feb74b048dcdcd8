//! messaging-sqs's effects through the driver, on moto's SQS.

use capstan_http::testing::Moto;
use capstan_plugin_messaging_sqs::MessagingSqs;
use capstan_sdk::testkit::PlanExt;
use serde_json::{Value, json};

use crate::support::{apply_all, executor, queue, queues, sqs_call, sqs_plan};

#[test]
fn queues_exist_with_their_attributes_dead_letter_queue_redrive_policy_and_tags() {
    let moto = Moto::start();
    let exec = executor(&moto);
    let plan =
        sqs_plan(json!({ "queues": { "ledger": { "fifo": true, "visibility_timeout_seconds": 60 } } }));
    let results = apply_all(&exec, &plan);

    let all = queues(&moto);
    assert_eq!(all.len(), 4, "consents, ledger, payments and its dead-letter queue: {:?}", all.keys());
    let (attrs, tags) = queue(&all, "opus-payments");
    assert_eq!(attrs["MessageRetentionPeriod"], "604800");
    let redrive: Value = serde_json::from_str(attrs["RedrivePolicy"].as_str().unwrap()).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], "arn:aws:sqs:sa-east-1:123456789012:opus-payments-dlq");
    assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), "3");
    assert_eq!(tags["managed-by"], "capstan");
    assert_eq!(tags["capstan-component"], "opus/events");
    assert_eq!(tags["capstan-environment"], "prod");
    let (dlq, _) = queue(&all, "opus-payments-dlq");
    assert_eq!(dlq["MessageRetentionPeriod"], "1209600", "dead letters are kept as long as SQS allows");
    let (ledger, _) = queue(&all, "opus-ledger.fifo");
    assert_eq!(ledger["FifoQueue"], "true");
    assert_eq!(ledger["VisibilityTimeout"], "60");

    // The results go back to the plugin: its outputs carry the real URLs.
    let create = results.iter().find(|r| r.id == "queue:payments:create").unwrap();
    let url = create.body["QueueUrl"].as_str().unwrap();
    assert!(url.starts_with(&moto.url) && url.ends_with("/opus-payments"), "{url}");
    let mut again =
        sqs_call(json!({ "queues": { "ledger": { "fifo": true, "visibility_timeout_seconds": 60 } } }));
    for r in &results {
        again = again.effect_result(&r.id, r.body.clone());
    }
    let after = again.run::<MessagingSqs>().unwrap();
    assert_eq!(after.output("queues").unwrap()["payments"], url);
    assert!(after.output("queues").unwrap()["ledger"].as_str().unwrap().starts_with(&moto.url));
}

#[test]
fn applying_the_same_effects_again_changes_nothing_and_a_changed_retention_is_applied() {
    let moto = Moto::start();
    let exec = executor(&moto);
    let plan = sqs_plan(json!({}));
    let first = apply_all(&exec, &plan);
    let before = queues(&moto);

    let second = apply_all(&exec, &plan);
    assert_eq!(second, first, "the same calls answer the same (CreateQueue returns the existing queue)");
    let after = queues(&moto);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "no queue added");
    for (url, (attrs, tags)) in &before {
        let (a, t) = &after[url];
        // Timestamps aside, every attribute and tag is as it was.
        for (k, v) in attrs.as_object().unwrap() {
            if k != "LastModifiedTimestamp" {
                assert_eq!(&a[k], v, "{url}: {k} changed on re-apply");
            }
        }
        assert_eq!(t, tags, "{url}: tags changed on re-apply");
    }

    let changed = sqs_plan(json!({ "queues": { "payments": { "retention_hours": 24 } } }));
    apply_all(&exec, &changed);
    let (attrs, _) = queue(&queues(&moto), "opus-payments").clone();
    assert_eq!(attrs["MessageRetentionPeriod"], "86400", "the change was applied, not refused");
}
