//! capstan/messaging-rabbitmq through the SDK test kit: in-cluster objects
//! (checked against the upstream RabbitMQ operator CRDs) and external-mode
//! AMQP effects.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use capstan_plugin_testsupport as support;

use capstan_plugin_messaging_rabbitmq::MessagingRabbitmq;
use capstan_sdk::capstan_core::AmqpOp;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, merge};
use serde_json::{Value, json};

const PW: &str = "payments-api-s3cret";

/// The queue and user shape shared by every messaging backend.
fn shared_inputs() -> Value {
    json!({
        "name_prefix": "opus-",
        "queues": {
            "payments": { "retention_hours": 168, "dead_letter": true, "partitions": 6 },
            "consents": {},
        },
        "users": { "payments-api": { "password": PW, "queues": ["payments"] } },
    })
}

fn call(patch: Value) -> PlanCall {
    let mut i = shared_inputs();
    merge(&mut i, patch);
    PlanCall::new(i).component("staging", "opus", "events").sensitive("/users/payments-api/password")
}

fn external() -> PlanCall {
    call(json!({ "mode": "external", "host": "rabbit.internal", "vhost": "opus" }))
}

fn diagnostics(patch: Value) -> Vec<Diagnostic> {
    match call(patch).run::<MessagingRabbitmq>() {
        Err(PlanError::InvalidInputs(d)) => d,
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<MessagingRabbitmq>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("messaging", "rabbitmq"));
}

#[test]
fn in_cluster_renders_the_cluster_and_its_topology() {
    let plan = call(json!({})).run::<MessagingRabbitmq>().unwrap();
    assert_eq!(
        plan.object_ids(),
        [
            "Secret/events-payments-api-credentials",
            "RabbitmqCluster/events",
            "Vhost/events-vhost",
            "Exchange/events-exchange-events",
            "Queue/events-queue-opus-consents",
            "Binding/events-binding-opus-consents",
            "Queue/events-queue-opus-payments-dlq",
            "Queue/events-queue-opus-payments",
            "Binding/events-binding-opus-payments",
            "User/events-user-payments-api",
            "Permission/events-permission-payments-api",
        ]
    );
    assert!(plan.effects.is_empty());
    let cluster = &plan.expect_object("RabbitmqCluster", "events")["spec"];
    assert_eq!(cluster["replicas"], 3);
    assert_eq!(cluster["persistence"]["storage"], "10Gi");
    let q = &plan.expect_object("Queue", "events-queue-opus-payments")["spec"];
    assert_eq!(q["name"], "opus-payments");
    assert_eq!(q["type"], "quorum");
    assert_eq!(q["vhost"], "events");
    assert_eq!(q["rabbitmqClusterReference"], json!({ "name": "events" }));
    assert_eq!(
        q["arguments"],
        json!({
            "x-message-ttl": 604_800_000u64, "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "opus-payments-dlq", "x-delivery-limit": 5,
        })
    );
    let b = &plan.expect_object("Binding", "events-binding-opus-payments")["spec"];
    assert_eq!(
        (b["source"].as_str(), b["destination"].as_str(), b["routingKey"].as_str()),
        (Some("events"), Some("opus-payments"), Some("payments"))
    );
    let user = &plan.expect_object("User", "events-user-payments-api")["spec"];
    assert_eq!(user["importCredentialsSecret"]["name"], "events-payments-api-credentials");
    let perm = &plan.expect_object("Permission", "events-permission-payments-api")["spec"];
    assert_eq!(perm["userReference"]["name"], "events-user-payments-api");
    // Its own queues, the exchange, and what Dapr declares under its prefix.
    let own = "opus-payments-dlq|opus-payments|payments-api\\.events-.+|dlx-payments-api\\.events-.+|dlq-payments-api\\.events-.+";
    assert_eq!(perm["permissions"]["configure"], format!("^({own})$"), "its own queues only");
    assert_eq!(perm["permissions"]["read"], format!("^(events|{own})$"));
    assert_eq!(perm["permissions"]["write"], format!("^(events|amq\\.default|{own})$"));
    let secret = plan.expect_object("Secret", "events-payments-api-credentials");
    assert_eq!(secret["stringData"]["username"], "events-payments-api");
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn outputs_follow_the_messaging_contract_in_both_modes() {
    for (plan, endpoint) in [
        (call(json!({})).run::<MessagingRabbitmq>().unwrap(), "amqp://events.opus.svc:5672/events"),
        (external().run::<MessagingRabbitmq>().unwrap(), "amqp://rabbit.internal:5672/opus"),
    ] {
        let names: Vec<&str> = plan.outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["protocol", "endpoint", "credentials_secret", "queues", "consumers", "exchange"]);
        assert_eq!(plan.output("protocol").unwrap(), "amqp");
        assert_eq!(plan.output("exchange").unwrap(), "events");
        assert_eq!(
            plan.output("consumers").unwrap()["payments-api"],
            json!({
                "credentials_secret": { "name": "events-payments-api-credentials", "username_key": "username",
                                        "password_key": "password", "namespace": "opus" },
                "queues": ["payments"],
                "group_prefix": "payments-api.events",
            })
        );
        assert_eq!(plan.output("endpoint").unwrap(), endpoint);
        assert_eq!(
            plan.output("queues").unwrap(),
            &json!({ "consents": "opus-consents", "payments": "opus-payments", "payments-dlq": "opus-payments-dlq" })
        );
        assert_eq!(plan.output("credentials_secret").unwrap()["name"], "events-payments-api-credentials");
        assert!(!serde_json::to_string(&plan.outputs).unwrap().contains(PW));
        for o in plan.objects.iter().filter(|o| o["kind"] != "Secret") {
            assert!(!o.to_string().contains(PW), "password outside its Secret in {}", o["kind"]);
        }
    }
}

#[test]
fn external_mode_declares_amqp_effects_and_renders_only_secrets() {
    let plan = external().run::<MessagingRabbitmq>().unwrap();
    assert_eq!(plan.object_ids(), ["Secret/events-payments-api-credentials"]);
    let ids: Vec<&str> = plan.effects.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["vhost", "queue:consents", "queue:payments-dlq", "queue:payments", "user:payments-api"]);
    assert!(plan.effects.iter().all(|e| e.target == "rabbitmq"));
    let ops = |id: &str| match &plan.effects.iter().find(|e| e.id == id).unwrap().kind {
        EffectKind::Amqp(ops) => ops.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        serde_json::to_value(ops("vhost")).unwrap(),
        json!([
            { "ensure-vhost": "opus" },
            { "ensure-exchange": { "vhost": "opus", "name": "events", "kind": "topic", "durable": true } },
        ])
    );
    let payments = ops("queue:payments");
    let AmqpOp::EnsureQueue(q) = &payments[0] else { panic!("{payments:?}") };
    assert_eq!(q.arguments["x-queue-type"], "quorum");
    assert_eq!(q.arguments["x-dead-letter-routing-key"], "opus-payments-dlq");
    assert!(
        matches!(&payments[1], AmqpOp::EnsureBinding(b) if b.routing_key == "payments" && b.exchange == "events")
    );
    let user = ops("user:payments-api");
    let AmqpOp::EnsureUser(u) = &user[0] else { panic!("{user:?}") };
    assert_eq!((u.name.as_str(), u.password.expose()), ("events-payments-api", PW));
    assert!(
        matches!(&user[1], AmqpOp::EnsurePermission(p) if p.configure.starts_with("^(opus-payments-dlq|opus-payments|payments-api\\.events-.+|"))
    );
    let summaries = format!("{:?}", plan.effects);
    assert!(!summaries.contains(PW), "the password is sensitive in effects");
}

#[test]
fn validate_refuses_what_rabbitmq_cannot_honour() {
    let d = diagnostics(json!({ "replicas": 0 }));
    assert_eq!(d[0].path, "/replicas");
    let d = diagnostics(json!({ "mode": "external" }));
    assert_eq!(d[0].path, "/host");
    let d = diagnostics(json!({ "mode": "managed" }));
    assert_eq!(d[0].path, "/mode");
    let d = diagnostics(json!({ "queues": { "x": { "name": "amq.mine" } } }));
    assert_eq!(d[0].path, "/queues/x/name");
    let d = diagnostics(json!({ "exchange": "has space" }));
    assert_eq!(d[0].path, "/exchange");
    let d = diagnostics(json!({ "queues": { "payments": { "dead_letter": true, "max_receive_count": 0 } } }));
    assert_eq!(d[0].path, "/queues/payments/max_receive_count");
    let d = diagnostics(json!({ "federation": true }));
    assert!(d[0].message.contains("federation"), "unknown option refused: {d:?}");

    let mut inputs = call(json!({})).request().inputs;
    merge(&mut inputs, capstan_sdk::testkit::defaults_of(&MessagingRabbitmq::metadata()));
    merge(&mut inputs, shared_inputs());
    let warnings = MessagingRabbitmq::validate(&inputs);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        (warnings[0].path.as_str(), warnings[0].severity),
        ("/queues/payments/partitions", Severity::Warning)
    );
}
