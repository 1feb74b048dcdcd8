//! The three messaging plugins built for wasm32-wasip2 and run through the
//! engine's real host: the sandboxed plan equals the native one for the same
//! shared `queues` / `users` config.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;

use capstan_plugin_messaging_kafka::MessagingKafka;
use capstan_plugin_messaging_rabbitmq::MessagingRabbitmq;
use capstan_plugin_messaging_sqs::MessagingSqs;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, merge, wasm};
use serde_json::{Value, json};

fn call(extra: Value) -> PlanCall {
    let mut inputs = json!({
        "queues": { "payments": { "dead_letter": true, "retention_hours": 24 }, "consents": {} },
        "users": { "payments-api": { "password": "pw-123", "queues": ["payments"] } },
    });
    merge(&mut inputs, extra);
    PlanCall::new(inputs).component("prod", "opus", "events").sensitive("/users/payments-api/password")
}

fn same_in_sandbox<P: Plugin>(package: &str, call: PlanCall) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let wasm = wasm::build(&manifest, package).unwrap_or_else(|e| panic!("{package}: {e}"));
    let native = call.run::<P>().unwrap();
    let sandboxed = call.run_wasm(&wasm).unwrap().unwrap();
    assert_eq!(sandboxed, native, "{package}: the .wasm plans what the Rust code plans");
}

#[test]
fn every_messaging_plugin_plans_the_same_in_the_sandbox() {
    same_in_sandbox::<MessagingKafka>("capstan-plugin-messaging-kafka", call(json!({})));
    same_in_sandbox::<MessagingRabbitmq>("capstan-plugin-messaging-rabbitmq", call(json!({})));
    same_in_sandbox::<MessagingRabbitmq>(
        "capstan-plugin-messaging-rabbitmq",
        call(json!({ "mode": "external", "host": "rabbit.internal" })),
    );
    same_in_sandbox::<MessagingSqs>(
        "capstan-plugin-messaging-sqs",
        call(json!({ "region": "sa-east-1", "account_id": "123456789012" })).effect_result(
            "queue:payments:create",
            json!({ "QueueUrl": "http://127.0.0.1:1/123456789012/payments" }),
        ),
    );
}
