//! The swap promise of the `messaging` type: one `queues` / `users` config
//! plans on kafka, rabbitmq and sqs alike, and each backend publishes the
//! same outputs for an app to read; only backend-specific values differ.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeSet;

use capstan_plugin_messaging_kafka::MessagingKafka;
use capstan_plugin_messaging_rabbitmq::MessagingRabbitmq;
use capstan_plugin_messaging_sqs::MessagingSqs;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, merge};
use serde_json::{Value, json};

/// What an app team writes once, whatever the backend.
fn shared() -> Value {
    json!({
        "name_prefix": "opus-",
        "queues": {
            "payments": { "retention_hours": 72, "dead_letter": true, "max_receive_count": 4 },
            "consents": { "partitions": 6 },
        },
        "users": { "payments-api": { "password": "pw", "queues": ["payments"] } },
    })
}

fn plan<P: Plugin>(backend_specific: Value) -> ComponentPlan {
    let mut inputs = shared();
    merge(&mut inputs, backend_specific);
    PlanCall::new(inputs)
        .component("prod", "opus", "events")
        .sensitive("/users/payments-api/password")
        .run::<P>()
        .unwrap_or_else(|e| panic!("the shared config must plan on every backend: {e}"))
}

fn read(plan: &ComponentPlan) -> contracts::messaging::Outputs {
    let dep = Dependency {
        name: "events".into(),
        component_type: "messaging".into(),
        outputs: plan.outputs.clone().into(),
    };
    contracts::read(&dep).unwrap()
}

#[test]
fn one_config_plans_on_every_messaging_backend_with_the_same_outputs() {
    let kafka = plan::<MessagingKafka>(json!({}));
    let rabbit = plan::<MessagingRabbitmq>(json!({}));
    let sqs = plan::<MessagingSqs>(json!({
        "region": "sa-east-1", "account_id": "123456789012",
        "credentials_secret": { "name": "sqs-app-keys" },
    }));

    let names = |p: &ComponentPlan| p.outputs.iter().map(|o| o.name.clone()).collect::<BTreeSet<_>>();
    let common: BTreeSet<String> = ["protocol", "endpoint", "credentials_secret", "queues", "network"]
        .into_iter()
        .map(String::from)
        .collect();
    let with = |extra: &[&str]| &common | &extra.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    // What each protocol adds: per-user consumers and how to reach the broker.
    assert_eq!(names(&kafka), with(&["consumers", "sasl_mechanism", "tls"]));
    assert_eq!(names(&rabbit), with(&["consumers", "exchange", "tls"]));
    assert_eq!(names(&sqs), with(&["region"]));

    let (k, r, s) = (read(&kafka), read(&rabbit), read(&sqs));
    assert_eq!((k.protocol.as_str(), r.protocol.as_str(), s.protocol.as_str()), ("kafka", "amqp", "sqs"));
    let logical = |o: &contracts::messaging::Outputs| o.queues.keys().cloned().collect::<Vec<_>>();
    assert_eq!(logical(&k), ["consents", "payments", "payments-dlq"]);
    assert_eq!(logical(&r), logical(&k));
    assert_eq!(logical(&s), logical(&k));
    assert_eq!(r.queues["payments"], "opus-payments");
    // The same users are the same consumers on both brokers; RabbitMQ's
    // Secrets also hold each user's connection URI (Dapr takes one string).
    let without_uri = |o: &contracts::messaging::Outputs| {
        let mut consumers = o.consumers.clone();
        for c in consumers.values_mut() {
            c.credentials_secret.uri_key = None;
        }
        consumers
    };
    assert_eq!(k.consumers, without_uri(&r));
    assert!(r.consumers.values().all(|c| c.credentials_secret.uri_key.as_deref() == Some("uri")));
    assert_eq!(k.consumers["payments-api"].group_prefix.as_deref(), Some("payments-api.events"));
    assert!(s.consumers.is_empty(), "SQS access is IAM's");
    assert!(s.queues["payments"].ends_with("/123456789012/opus-payments"));
    for o in [&k, &r, &s] {
        let c = o.credentials_secret.as_ref().unwrap();
        assert_eq!(c.namespace.as_deref(), Some("opus"));
        // Every backend says what an app must reach, so its NetworkPolicy
        // follows a swap: pods of the brokers, or SQS's HTTPS port outside.
        assert_eq!(o.network.len(), 1, "{}", o.protocol);
    }
    assert_eq!((k.network[0].ports.as_slice(), r.network[0].ports.as_slice()), (&[9093][..], &[5671][..]));
    assert!(k.network[0].namespace.is_some() && r.network[0].namespace.is_some(), "in the cluster");
    assert_eq!(s.network[0], contracts::NetworkPeer::outside(&[443]));
    // Both brokers speak TLS only, each with a CA to verify it.
    assert!(k.tls.is_some() && r.tls.is_some() && r.endpoint.starts_with("amqps://"));
}

#[test]
fn settings_a_backend_does_not_use_warn_and_never_block_a_swap() {
    let mut inputs = shared();
    merge(
        &mut inputs,
        json!({ "queues": { "consents": { "fifo": true, "visibility_timeout_seconds": 30 } } }),
    );
    let errors =
        |d: Vec<Diagnostic>| d.into_iter().filter(|d| d.severity == Severity::Error).collect::<Vec<_>>();
    let with = |defaults: &Metadata, extra: Value| {
        let mut i = capstan_sdk::testkit::defaults_of(defaults);
        merge(&mut i, inputs.clone());
        merge(&mut i, extra);
        i
    };
    assert_eq!(errors(MessagingKafka::validate(&with(&MessagingKafka::metadata(), json!({}))))[..], []);
    assert_eq!(errors(MessagingRabbitmq::validate(&with(&MessagingRabbitmq::metadata(), json!({}))))[..], []);
    let sqs = with(&MessagingSqs::metadata(), json!({ "region": "sa-east-1", "account_id": "123456789012" }));
    assert_eq!(errors(MessagingSqs::validate(&sqs))[..], []);
}
