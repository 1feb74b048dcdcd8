//! Durable pull consumers on the real server: usable, updated in place,
//! refused where the server would do something other than what was declared.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use capstan_core::JetStreamOp;
use capstan_jetstream::JetStreamError;
use futures_util::StreamExt;
use serde_json::json;

use crate::support::{Scratch, TARGET, client, consumer, effect, executor, js, scratch, stream};

#[tokio::test]
async fn a_message_published_on_the_subject_is_pulled_through_the_durable_and_acked() {
    let Scratch { stream: name, subjects, .. } = &scratch("pull");
    let created = format!("{subjects}.orders.created");
    let paid = format!("{subjects}.orders.paid");
    let e = effect(
        "orders",
        vec![
            JetStreamOp::EnsureStream(stream(name, &[&format!("{subjects}.orders.>")])),
            JetStreamOp::EnsureConsumer(consumer(name, "billing", &[&created])),
        ],
    );
    executor().apply(&e).await.unwrap();

    // Published through JetStream, acknowledged by the stream.
    let js = js().await;
    let ack = js.publish(created.clone(), "order 42".into()).await.unwrap().await.unwrap();
    assert_eq!((ack.stream.as_str(), ack.sequence), (name.as_str(), 1));
    // Outside the consumer's filter: kept by the stream, never delivered to it.
    js.publish(paid, "paid 42".into()).await.unwrap().await.unwrap();

    // A client binds to the durable by name and pulls.
    let s = js.get_stream(name).await.unwrap();
    let durable: PullConsumer = s.get_consumer("billing").await.unwrap();
    let mut messages =
        durable.fetch().max_messages(10).expires(Duration::from_secs(2)).messages().await.unwrap();
    let message = messages.next().await.expect("a message was delivered").unwrap();
    assert_eq!((message.subject.as_str(), &message.payload[..]), (created.as_str(), &b"order 42"[..]));
    message.double_ack().await.unwrap();
    assert!(messages.next().await.is_none(), "only the message on the filter subject was delivered");

    let info = s.consumer_info("billing").await.unwrap();
    assert_eq!((info.num_ack_pending, info.num_pending), (0, 0));
    assert_eq!(info.ack_floor.consumer_sequence, 1, "the message was acknowledged");
    assert_eq!(info.delivered.consumer_sequence, 1);

    // The durable (and what it acknowledged) survives another apply.
    let again = executor().apply(&e).await.unwrap();
    assert_eq!(again.body["changed"], false);
    assert_eq!(s.consumer_info("billing").await.unwrap().ack_floor.consumer_sequence, 1);
}

#[tokio::test]
async fn a_changed_consumer_is_updated_and_several_filters_need_nats_2_10() {
    let Scratch { stream: name, subjects, .. } = &scratch("upd");
    let created = format!("{subjects}.orders.created");
    let paid = format!("{subjects}.orders.paid");
    let exec = executor();
    let declared_stream = JetStreamOp::EnsureStream(stream(name, &[&format!("{subjects}.orders.>")]));
    let mut declared = consumer(name, "billing", &[&created]);
    exec.apply(&effect("c", vec![declared_stream.clone(), JetStreamOp::EnsureConsumer(declared.clone())]))
        .await
        .unwrap();

    declared.ack_wait_seconds = 60;
    declared.max_deliver = None;
    let changed = exec
        .apply(&effect("c", vec![declared_stream.clone(), JetStreamOp::EnsureConsumer(declared.clone())]))
        .await
        .unwrap();
    assert_eq!(changed.body["ops"][0]["outcome"], "unchanged");
    assert_eq!(changed.body["ops"][1]["outcome"], "changed");
    assert_eq!(changed.body["ops"][1]["changes"], json!(["ack_wait 30s → 1m", "max_deliver 5 → none"]));
    let js = js().await;
    let s = js.get_stream(name).await.unwrap();
    let config = s.consumer_info("billing").await.unwrap().config;
    assert_eq!(
        (config.ack_wait, config.max_deliver),
        (Duration::from_secs(60), -1),
        "the server reports the update"
    );

    // Another single filter subject.
    declared.filter_subjects = vec![paid.clone()];
    let refiltered = exec
        .apply(&effect("c", vec![declared_stream.clone(), JetStreamOp::EnsureConsumer(declared.clone())]))
        .await
        .unwrap();
    assert_eq!(
        refiltered.body["ops"][1]["changes"],
        json!([format!("filter_subjects [{created}] → [{paid}]")])
    );
    assert_eq!(s.consumer_info("billing").await.unwrap().config.filter_subject, paid);

    // Several filter subjects: NATS 2.10 takes them; an older server would
    // ignore them and deliver the whole stream, so the driver refuses.
    declared.filter_subjects = vec![created.clone(), paid.clone()];
    let ops = vec![declared_stream, JetStreamOp::EnsureConsumer(declared)];
    let version = client().await.server_info().version;
    let newer = {
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (2, 10)
    };
    if newer {
        let widened = exec.apply(&effect("c", ops)).await.unwrap();
        assert_eq!(widened.body["ops"][1]["outcome"], "changed", "{}", widened.body);
        let config = s.consumer_info("billing").await.unwrap().config;
        assert_eq!(config.filter_subjects, [created, paid]);
    } else {
        let err = exec.apply(&effect("c", ops)).await.unwrap_err();
        assert!(
            matches!(&err, JetStreamError::Consumer { consumer, .. } if consumer == "billing"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "effect c: ensure-consumer {name}/billing on {TARGET}: several filter subjects need \
                 NATS server 2.10 or later, and this server is {version}"
            )
        );
        assert_eq!(s.consumer_info("billing").await.unwrap().config.filter_subject, paid, "left as it was");
    }
}

#[tokio::test]
async fn a_consumer_of_a_missing_stream_is_a_clear_error() {
    let Scratch { stream: name, .. } = &scratch("none");
    let err = executor()
        .apply(&effect("c", vec![JetStreamOp::EnsureConsumer(consumer(name, "billing", &[]))]))
        .await
        .unwrap_err();
    assert!(matches!(err, JetStreamError::Consumer { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "effect c: ensure-consumer {name}/billing on {TARGET}: stream {name} does not exist \
             (ensure it first, in this effect or an earlier one)"
        )
    );
}
