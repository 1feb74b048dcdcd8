//! The flow of `capstan/messaging-rabbitmq` in external mode, end to end on
//! the real broker.

use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Confirmation};
use serde_json::json;

use crate::support::{Scratch, admin, amqp, apply_all, effect, outcomes, plan, scratch};

fn created(op: &str) -> (String, String) {
    (op.to_string(), "created".to_string())
}

#[tokio::test]
async fn plugin_topology_is_created_then_usable_over_amqp_then_unchanged() {
    let Scratch { suffix: s, component, vhost, user, .. } = &scratch("ev");
    let password = format!("pw-{s}-first");
    let plan = plan(
        component,
        json!({
            "vhost": vhost,
            "queues": { "orders": { "dead_letter": true, "retention_hours": 1 }, "audit": {} },
            "users": { "api": { "password": password, "queues": ["orders"] } },
        }),
    );
    let ids: Vec<&str> = plan.effects.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["vhost", "queue:audit", "queue:orders-dlq", "queue:orders", "user:api"]);

    let exec = admin();
    let first = apply_all(&exec, &plan).await;
    assert_eq!(outcomes(&first[0]), [created("ensure-vhost"), created("ensure-exchange")]);
    assert_eq!(outcomes(&first[1]), [created("ensure-queue"), created("ensure-binding")]);
    assert_eq!(outcomes(&first[2]), [created("ensure-queue")]);
    assert_eq!(outcomes(&first[3]), [created("ensure-queue"), created("ensure-binding")]);
    assert_eq!(outcomes(&first[4]), [created("ensure-user"), created("ensure-permission")]);
    assert!(first.iter().all(|r| r.body["changed"] == true));
    assert_eq!(first[0].body["target"], "rabbitmq (http://127.0.0.1:15672)");

    // The app user publishes to the component's exchange by the logical name
    // and reads its queue, over AMQP.
    let conn = amqp(user, &password, vhost).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    channel.confirm_select(ConfirmSelectOptions::default()).await.unwrap();
    let confirm = channel
        .basic_publish(
            component.as_str().into(),
            "orders".into(),
            BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
            b"order 42",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(matches!(confirm, Confirmation::Ack(None)), "routed and confirmed: {confirm:?}");
    let got = channel
        .basic_get("orders".into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the message reached the bound queue");
    assert_eq!(got.delivery.data, b"order 42");
    // Its permissions stop at its own queues.
    let other = conn.create_channel().await.unwrap();
    let refused = other.basic_get("audit".into(), BasicGetOptions { no_ack: true }).await;
    assert!(refused.is_err(), "it read a queue it was not given");
    conn.close(200, "done".into()).await.ok();

    // The broker holds what the plugin declared.
    let (_, queue) =
        crate::support::management(reqwest::Method::GET, &format!("queues/{vhost}/orders"), None).await;
    assert_eq!(queue["type"], "quorum");
    assert_eq!(queue["arguments"]["x-message-ttl"], 3_600_000);
    assert_eq!(queue["arguments"]["x-dead-letter-routing-key"], "orders-dlq");

    // A second apply looks and changes nothing.
    let second = apply_all(&exec, &plan).await;
    for result in &second {
        assert!(outcomes(result).iter().all(|(_, o)| o == "unchanged"), "{}", result.body);
        assert_eq!(result.body["changed"], false);
    }
    let summary = serde_json::to_string(&first).unwrap() + &serde_json::to_string(&second).unwrap();
    assert!(!summary.contains(&password), "{summary}");
}

#[tokio::test]
async fn a_rotated_password_logs_in_and_the_old_one_no_longer_does() {
    let Scratch { suffix: s, component, vhost, user, .. } = &scratch("rot");
    let (old, new) = (format!("old-{s}"), format!("new-{s}"));
    let inputs = |password: &str| json!({ "vhost": vhost, "queues": { "jobs": {} }, "users": { "api": { "password": password } } });
    let exec = admin();
    apply_all(&exec, &plan(component, inputs(&old))).await;
    amqp(user, &old, vhost).await.unwrap().close(200, "done".into()).await.ok();

    let rotated = plan(component, inputs(&new));
    let result = exec.apply(effect(&rotated, "user:api")).await.unwrap();
    assert_eq!(result.body["ops"][0]["outcome"], "changed");
    assert_eq!(result.body["ops"][0]["changes"], json!(["password rotated"]));
    assert_eq!(result.body["ops"][1]["outcome"], "unchanged");
    let text = result.body.to_string();
    assert!(!text.contains(&old) && !text.contains(&new), "{text}");

    amqp(user, &new, vhost).await.unwrap().close(200, "done".into()).await.ok();
    let refused = amqp(user, &old, vhost).await;
    assert!(refused.is_err(), "the old password still logs in");

    // The same password again is not rotated again.
    let again = exec.apply(effect(&rotated, "user:api")).await.unwrap();
    assert_eq!(again.body["changed"], false, "{}", again.body);
}
