//! Changes made on the broker behind Capstan's back: corrected when the
//! broker can change them in place, refused with the difference otherwise.

use capstan_amqp::AmqpError;
use capstan_core::{AmqpOp, AmqpUser, Sensitive};
use reqwest::Method;
use serde_json::json;

use crate::support::{Scratch, admin, apply_all, effect, management, ops, plan, scratch};

#[tokio::test]
async fn widened_permissions_and_tags_are_put_back() {
    let Scratch { suffix: s, component, vhost, user, .. } = &scratch("dr");
    let plan = plan(
        component,
        json!({ "vhost": vhost, "queues": { "jobs": {} }, "users": { "api": { "password": format!("pw-{s}") } } }),
    );
    let exec = admin();
    apply_all(&exec, &plan).await;

    // Someone gives the app user everything.
    let (status, _) = management(
        Method::PUT,
        &format!("permissions/{vhost}/{user}"),
        Some(json!({ "configure": ".*", "write": ".*", "read": ".*" })),
    )
    .await;
    assert_eq!(status, 204);
    let result = exec.apply(effect(&plan, "user:api")).await.unwrap();
    assert_eq!(result.body["ops"][0]["outcome"], "unchanged", "the password still matches");
    assert_eq!(result.body["ops"][1]["outcome"], "changed");
    // Back to what the plan grants: its queues, the exchange and its prefix.
    let AmqpOp::EnsurePermission(wanted) = &ops(effect(&plan, "user:api"))[1] else {
        panic!("the user effect sets permissions second")
    };
    assert!(wanted.read.starts_with("^(") && wanted.read.contains("|jobs|"), "{}", wanted.read);
    assert!(wanted.write.starts_with(&format!("^({component}|amq\\.default|jobs|")), "{}", wanted.write);
    assert_eq!(
        result.body["ops"][1]["changes"],
        json!([
            format!("configure .* → {}", wanted.configure),
            format!("write .* → {}", wanted.write),
            format!("read .* → {}", wanted.read),
        ])
    );
    let (_, now) = management(Method::GET, &format!("permissions/{vhost}/{user}"), None).await;
    assert_eq!(now["read"], wanted.read.as_str());

    // Tags are compared as a set, and changing them keeps the password.
    let password = Sensitive::new(format!("pw-{s}"));
    let tagged = [AmqpOp::EnsureUser(AmqpUser {
        name: user.clone(),
        password: password.clone(),
        tags: vec!["monitoring".into()],
    })];
    let summary = exec.run("tags", &tagged).await.unwrap();
    assert_eq!(summary.ops[0].changes, ["tags [] → [monitoring]"]);
    let (_, u) = management(Method::GET, &format!("users/{user}"), None).await;
    assert_eq!(u["tags"], json!(["monitoring"]));
    assert_eq!(
        capstan_amqp::password_matches(
            password.expose(),
            u["password_hash"].as_str().unwrap(),
            "rabbit_password_hashing_sha256"
        ),
        Some(true)
    );
    assert!(!exec.run("tags", &tagged).await.unwrap().changed());
}

#[tokio::test]
async fn a_queue_or_exchange_with_other_settings_is_a_clear_error() {
    let Scratch { component, vhost, .. } = &scratch("cf");
    let inputs = |hours: u32| json!({ "vhost": vhost, "queues": { "jobs": { "retention_hours": hours } } });
    let exec = admin();
    apply_all(&exec, &plan(component, inputs(1))).await;

    // A longer retention is a different x-message-ttl: RabbitMQ cannot change it in place.
    let longer = plan(component, inputs(2));
    let err = exec.apply(effect(&longer, "queue:jobs")).await.unwrap_err();
    assert!(matches!(err, AmqpError::Conflict { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("effect queue:jobs: ensure-queue "), "{text}");
    assert!(text.contains("x-message-ttl: 3600000 on the broker, 7200000 declared"), "{text}");
    assert!(text.contains("rabbitmq (http://127.0.0.1:15672)"), "{text}");
    // Nothing was changed on the broker.
    let (_, q) = management(Method::GET, &format!("queues/{vhost}/jobs"), None).await;
    assert_eq!(q["arguments"]["x-message-ttl"], 3_600_000);

    // An exchange of another type under the component's exchange name.
    let (status, _) = management(Method::DELETE, &format!("exchanges/{vhost}/{component}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = management(
        Method::PUT,
        &format!("exchanges/{vhost}/{component}"),
        Some(json!({ "type": "direct", "durable": true })),
    )
    .await;
    assert_eq!(status, 201);
    let plan = plan(component, inputs(1));
    let vhost_effect = effect(&plan, "vhost");
    assert_eq!(ops(vhost_effect).len(), 2);
    let err = exec.apply(vhost_effect).await.unwrap_err();
    assert!(err.to_string().contains("type direct on the broker, topic declared"), "{err}");
}
