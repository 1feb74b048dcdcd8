//! Streams on the real server: created, left alone, updated in place, or
//! refused with the server's reason.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy};
use async_nats::jetstream::stream::{RetentionPolicy, StorageType};
use capstan_core::{JetStreamOp, JetStreamRetention, JetStreamStorage};
use capstan_jetstream::JetStreamError;
use serde_json::json;

use crate::support::{Scratch, TARGET, consumer, effect, executor, js, outcomes, scratch, stream};

fn row(op: &str, subject: &str, outcome: &str) -> (String, String, String) {
    (op.to_string(), subject.to_string(), outcome.to_string())
}

#[tokio::test]
async fn a_stream_and_its_consumer_are_created_then_unchanged() {
    let Scratch { stream: name, subjects, .. } = &scratch("new");
    let orders = format!("{subjects}.orders.>");
    let created = format!("{subjects}.orders.created");
    let mut declared = stream(name, &[&orders]);
    declared.max_bytes = Some(1 << 20);
    let e = effect(
        "streams",
        vec![
            JetStreamOp::EnsureStream(declared),
            JetStreamOp::EnsureConsumer(consumer(name, "billing", &[&created])),
        ],
    );
    let exec = executor();

    let first = exec.apply(&e).await.unwrap();
    assert_eq!(first.id, "streams");
    let consumer_subject = format!("{name}/billing");
    assert_eq!(
        outcomes(&first),
        [row("ensure-stream", name, "created"), row("ensure-consumer", &consumer_subject, "created")]
    );
    assert_eq!((&first.body["target"], &first.body["changed"]), (&json!(TARGET), &json!(true)));

    // The server holds what was declared.
    let js = js().await;
    let mut s = js.get_stream(name).await.unwrap();
    let config = s.info().await.unwrap().config.clone();
    assert_eq!(config.subjects, std::slice::from_ref(&orders));
    assert_eq!(
        (config.retention, config.storage, config.num_replicas),
        (RetentionPolicy::Limits, StorageType::File, 1)
    );
    assert_eq!((config.max_age, config.max_bytes), (Duration::from_secs(3600), 1 << 20));
    let c = s.consumer_info("billing").await.unwrap().config;
    assert_eq!(c.durable_name.as_deref(), Some("billing"));
    assert_eq!(c.deliver_subject, None, "a pull consumer");
    assert_eq!(c.filter_subject, created);
    assert_eq!((c.ack_policy, c.deliver_policy), (AckPolicy::Explicit, DeliverPolicy::All));
    assert_eq!((c.ack_wait, c.max_deliver), (Duration::from_secs(30), 5));

    // Applied again, by the same executor and by a fresh one: nothing to do.
    for again in [exec.apply(&e).await.unwrap(), executor().apply(&e).await.unwrap()] {
        assert_eq!(
            outcomes(&again),
            [row("ensure-stream", name, "unchanged"), row("ensure-consumer", &consumer_subject, "unchanged")]
        );
        assert_eq!(again.body["changed"], false);
        assert!(again.body["ops"].as_array().unwrap().iter().all(|o| o.get("changes").is_none()));
    }
}

#[tokio::test]
async fn a_changed_max_age_updates_the_stream_in_place() {
    let Scratch { stream: name, subjects, .. } = &scratch("age");
    let subject = format!("{subjects}.events");
    let exec = executor();
    let mut declared = stream(name, &[&subject]);
    exec.apply(&effect("s", vec![JetStreamOp::EnsureStream(declared.clone())])).await.unwrap();
    // A message kept across the update.
    let js = js().await;
    js.publish(subject.clone(), "kept".into()).await.unwrap().await.unwrap();

    declared.max_age_seconds = 7200;
    let changed = exec.apply(&effect("s", vec![JetStreamOp::EnsureStream(declared.clone())])).await.unwrap();
    assert_eq!(outcomes(&changed), [row("ensure-stream", name, "changed")]);
    assert_eq!(changed.body["ops"][0]["changes"], json!(["max_age 1h → 2h"]));
    assert_eq!(changed.body["changed"], true);

    let mut s = js.get_stream(name).await.unwrap();
    let info = s.info().await.unwrap();
    assert_eq!(info.config.max_age, Duration::from_secs(7200), "the server reports the new max age");
    assert_eq!(info.state.messages, 1, "updating did not lose the stream's messages");

    let again = exec.apply(&effect("s", vec![JetStreamOp::EnsureStream(declared)])).await.unwrap();
    assert_eq!(outcomes(&again), [row("ensure-stream", name, "unchanged")]);
}

#[tokio::test]
async fn a_change_the_server_cannot_make_is_refused_with_its_reason() {
    let Scratch { stream: name, subjects, .. } = &scratch("ret");
    let subject = format!("{subjects}.jobs");
    let exec = executor();
    let declared = stream(name, &[&subject]);
    exec.apply(&effect("s", vec![JetStreamOp::EnsureStream(declared.clone())])).await.unwrap();

    for (change, words) in [
        (
            {
                let mut d = declared.clone();
                d.retention = JetStreamRetention::WorkQueue;
                d
            },
            "retention limits → work-queue",
        ),
        (
            {
                let mut d = declared.clone();
                d.storage = JetStreamStorage::Memory;
                d
            },
            "storage file → memory",
        ),
    ] {
        let err = exec.apply(&effect("s", vec![JetStreamOp::EnsureStream(change)])).await.unwrap_err();
        assert!(matches!(&err, JetStreamError::Stream { stream, .. } if stream == name), "{err:?}");
        let text = err.to_string();
        let start = format!(
            "effect s: ensure-stream {name} on {TARGET}: the server refused to update it ({words}): "
        );
        assert!(text.starts_with(&start), "{text}");
        // The server's own reason follows, naming what it cannot change.
        let reason = &text[start.len()..];
        let what = words.split(' ').next().unwrap();
        assert!(reason.contains("can not change") && reason.contains(what), "{text}");
    }
    // Nothing changed on the server.
    let config = js().await.get_stream(name).await.unwrap().cached_info().config.clone();
    assert_eq!((config.retention, config.storage), (RetentionPolicy::Limits, StorageType::File));
}
