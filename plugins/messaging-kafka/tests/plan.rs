//! capstan/messaging-kafka through the SDK test kit, and its objects through
//! the upstream Strimzi 1.2 CRD schemas.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use capstan_plugin_testsupport as support;

use capstan_plugin_messaging_kafka::MessagingKafka;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, merge};
use serde_json::{Value, json};

const PW: &str = "payments-api-s3cret";

/// The queue and user shape shared by every messaging backend.
pub fn shared_inputs() -> Value {
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
    PlanCall::new(i).component("prod", "opus", "events").sensitive("/users/payments-api/password")
}

fn diagnostics(patch: Value) -> Vec<Diagnostic> {
    match call(patch).run::<MessagingKafka>() {
        Err(PlanError::InvalidInputs(d)) => d,
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<MessagingKafka>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("messaging", "kafka"));
}

#[test]
fn renders_a_kraft_node_pool_cluster_topics_and_users() {
    let plan = call(json!({})).run::<MessagingKafka>().unwrap();
    assert_eq!(
        plan.object_ids(),
        [
            "KafkaNodePool/events-dual",
            "Kafka/events",
            "KafkaTopic/opus-consents",
            "KafkaTopic/opus-payments",
            "KafkaTopic/opus-payments-dlq",
            "Secret/events-payments-api-credentials",
            "KafkaUser/events-payments-api",
        ]
    );
    for o in &plan.objects {
        if o["kind"] != "Secret" {
            assert_eq!(o["apiVersion"], "kafka.strimzi.io/v1", "Strimzi 1.x serves only v1");
        }
        if o["kind"] != "Kafka" && o["kind"] != "Secret" {
            assert_eq!(o["metadata"]["labels"]["strimzi.io/cluster"], "events", "{}", o["kind"]);
        }
    }
    let pool = &plan.expect_object("KafkaNodePool", "events-dual")["spec"];
    assert_eq!(pool["replicas"], 3);
    assert_eq!(pool["roles"], json!(["controller", "broker"]));
    assert_eq!(pool["storage"]["volumes"][0]["size"], "100Gi");
    assert_eq!(pool["storage"]["volumes"][0]["kraftMetadata"], "shared");
    let kafka = &plan.expect_object("Kafka", "events")["spec"]["kafka"];
    assert_eq!(kafka["listeners"][0]["authentication"]["type"], "scram-sha-512");
    assert_eq!(kafka["authorization"]["type"], "simple");
    assert_eq!(kafka["config"]["min.insync.replicas"], 2);

    let payments = &plan.expect_object("KafkaTopic", "opus-payments")["spec"];
    assert_eq!(
        payments,
        &json!({ "topicName": "opus-payments", "partitions": 6, "replicas": 3, "config": { "retention.ms": 604_800_000u64 } })
    );
    assert_eq!(plan.expect_object("KafkaTopic", "opus-consents")["spec"]["partitions"], 3, "topic_defaults");

    let user = &plan.expect_object("KafkaUser", "events-payments-api")["spec"];
    assert_eq!(
        user["authentication"]["password"]["valueFrom"]["secretKeyRef"],
        json!({ "name": "events-payments-api-credentials", "key": "password" })
    );
    let acl_topics: Vec<&str> = user["authorization"]["acls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["resource"]["type"] == "topic")
        .map(|a| a["resource"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(acl_topics, ["opus-payments", "opus-payments-dlq"], "only the user's own topics");
    let secret = plan.expect_object("Secret", "events-payments-api-credentials");
    assert_eq!(secret["stringData"]["username"], "events-payments-api");
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn outputs_follow_the_messaging_contract() {
    let plan = call(json!({})).run::<MessagingKafka>().unwrap();
    let names: Vec<&str> = plan.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "protocol",
            "endpoint",
            "credentials_secret",
            "queues",
            "consumers",
            "sasl_mechanism",
            "tls",
            "network"
        ]
    );
    assert_eq!(plan.output("protocol").unwrap(), "kafka");
    // The TLS listener, verified with Strimzi's cluster CA, SCRAM on top.
    assert_eq!(plan.output("endpoint").unwrap(), "events-kafka-bootstrap.opus.svc:9093");
    assert_eq!(
        plan.output("tls").unwrap(),
        &json!({ "ca_secret": { "name": "events-cluster-ca-cert", "key": "ca.crt", "namespace": "opus" } })
    );
    assert_eq!(plan.output("sasl_mechanism").unwrap(), "SCRAM-SHA-512");
    let kafka = &plan.expect_object("Kafka", "events")["spec"]["kafka"]["listeners"][0];
    assert_eq!((&kafka["port"], &kafka["tls"]), (&json!(9093), &json!(true)));
    // Each user is a consumer of its own: its Secret, its queues, and the
    // group prefix its KafkaUser's ACL allows (and no other user's does).
    let consumer = &plan.output("consumers").unwrap()["payments-api"];
    assert_eq!(consumer["credentials_secret"]["name"], "events-payments-api-credentials");
    assert_eq!(consumer["group_prefix"], "payments-api.events");
    let acls = &plan.expect_object("KafkaUser", "events-payments-api")["spec"]["authorization"]["acls"];
    assert!(
        acls.as_array().unwrap().iter().any(|a| a["resource"]
            == json!({ "type": "group", "name": "payments-api.events", "patternType": "prefix" })),
        "{acls}"
    );
    assert_eq!(
        plan.output("queues").unwrap(),
        &json!({ "consents": "opus-consents", "payments": "opus-payments", "payments-dlq": "opus-payments-dlq" })
    );
    assert_eq!(
        plan.output("credentials_secret").unwrap(),
        &json!({ "name": "events-payments-api-credentials", "username_key": "username", "password_key": "password", "namespace": "opus" })
    );
    let text = serde_json::to_string(&plan.outputs).unwrap();
    assert!(!text.contains(PW));
    for o in plan.objects.iter().filter(|o| o["kind"] != "Secret") {
        assert!(!o.to_string().contains(PW), "password outside its Secret in {}", o["kind"]);
    }
}

#[test]
fn a_topic_name_kubernetes_refuses_keeps_its_name_in_topic_name() {
    let plan =
        call(json!({ "queues": { "audit": { "name": "Audit_Events" } } })).run::<MessagingKafka>().unwrap();
    let t = plan.expect_object("KafkaTopic", "audit-events");
    assert_eq!(t["spec"]["topicName"], "Audit_Events");
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn validate_refuses_what_kafka_cannot_honour_and_warns_about_what_it_ignores() {
    let d = diagnostics(json!({ "brokers": 0 }));
    assert_eq!(d[0].path, "/brokers");
    let d = diagnostics(
        json!({ "brokers": 1, "queues": { "consents": { "replicas": 2 } }, "topic_defaults": { "replicas": 1 } }),
    );
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, "/queues/consents/replicas");
    let d = diagnostics(json!({ "queues": { "payments": { "partitions": 0 } } }));
    assert_eq!(d[0].path, "/queues/payments/partitions");
    let d = diagnostics(json!({ "queues": { "bad": { "name": "no spaces" } } }));
    assert_eq!(d[0].path, "/queues/bad");
    let d = diagnostics(json!({ "users": { "payments-api": { "queues": ["refunds"] } } }));
    assert_eq!(d[0].path, "/users/payments-api/queues/0");
    let d = diagnostics(json!({ "queues": { "payments": { "priority": 1 } } }));
    assert!(d[0].message.contains("priority"), "unknown option refused: {d:?}");

    let mut inputs = capstan_sdk::testkit::defaults_of(&MessagingKafka::metadata());
    merge(&mut inputs, call(json!({ "queues": { "consents": { "fifo": true } } })).request().inputs);
    let warnings = MessagingKafka::validate(&inputs);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        (warnings[0].path.as_str(), warnings[0].severity),
        ("/queues/consents/fifo", Severity::Warning)
    );
    assert!(call(json!({ "queues": { "consents": { "fifo": true } } })).run::<MessagingKafka>().is_ok());
}

#[test]
fn a_password_in_clear_config_is_refused() {
    let r = PlanCall::new(shared_inputs()).run::<MessagingKafka>();
    assert!(matches!(r, Err(PlanError::InvalidInputs(d)) if d[0].path == "/users/payments-api/password"));
}

#[test]
fn every_container_the_cluster_templates_has_requests_and_limits_by_default() {
    let plan = call(json!({})).run::<MessagingKafka>().unwrap();
    let nodes =
        json!({ "requests": { "cpu": "1", "memory": "4Gi" }, "limits": { "cpu": "2", "memory": "4Gi" } });
    assert_eq!(plan.expect_object("KafkaNodePool", "events-dual")["spec"]["resources"], nodes);
    // Strimzi 1.x's entity operator runs these two containers and no other
    // (the TLS sidecar is gone); the brokers are the node pool's.
    let operator = &plan.expect_object("Kafka", "events")["spec"]["entityOperator"];
    let small = json!({ "requests": { "cpu": "100m", "memory": "512Mi" }, "limits": { "cpu": "500m", "memory": "512Mi" } });
    assert_eq!(operator["topicOperator"]["resources"], small);
    assert_eq!(operator["userOperator"]["resources"], small);
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn the_inputs_override_the_resources() {
    let big =
        json!({ "requests": { "cpu": "4", "memory": "16Gi" }, "limits": { "cpu": "8", "memory": "16Gi" } });
    let eo =
        json!({ "requests": { "cpu": "200m", "memory": "1Gi" }, "limits": { "cpu": "1", "memory": "1Gi" } });
    let plan =
        call(json!({ "resources": big, "entity_operator_resources": eo })).run::<MessagingKafka>().unwrap();
    assert_eq!(plan.expect_object("KafkaNodePool", "events-dual")["spec"]["resources"], big);
    let operator = &plan.expect_object("Kafka", "events")["spec"]["entityOperator"];
    assert_eq!((&operator["topicOperator"]["resources"], &operator["userOperator"]["resources"]), (&eo, &eo));
    support::assert_valid(&plan.objects, &[]);
    // Half a block keeps the rest of the defaults: never a container without limits.
    let plan = call(json!({ "resources": { "requests": { "cpu": "3" } } })).run::<MessagingKafka>().unwrap();
    let r = &plan.expect_object("KafkaNodePool", "events-dual")["spec"]["resources"];
    assert_eq!((&r["requests"]["cpu"], &r["limits"]["memory"]), (&json!("3"), &json!("4Gi")));
    let d = diagnostics(json!({ "entity_operator_resources": { "limits": { "cpu": "lots" } } }));
    assert_eq!(d[0].path, "/entity_operator_resources/limits/cpu", "{d:?}");
}

#[test]
fn no_listener_serves_clients_in_clear() {
    let plan = call(json!({})).run::<MessagingKafka>().unwrap();
    let listeners =
        plan.expect_object("Kafka", "events")["spec"]["kafka"]["listeners"].as_array().unwrap().clone();
    assert_eq!(listeners.len(), 1, "{listeners:?}");
    assert!(listeners.iter().all(|l| l["tls"] == true && l["authentication"]["type"] == "scram-sha-512"));
}

#[test]
fn network_names_every_broker_pod_on_the_client_listener() {
    let plan = call(json!({})).run::<MessagingKafka>().unwrap();
    let network = plan.output("network").unwrap();
    assert_eq!(
        network,
        &json!([{
            "namespace": "opus",
            // What Strimzi 1.2 puts on node-pool pods with the broker role, and
            // its bootstrap Service selects; a client reaches each broker.
            "pod_labels": {
                "strimzi.io/broker-role": "true",
                "strimzi.io/cluster": "events",
                "strimzi.io/kind": "Kafka",
                "strimzi.io/name": "events-kafka",
            },
            "ports": [9093],
        }])
    );
    let kafka = plan.expect_object("Kafka", "events");
    assert_eq!(network[0]["pod_labels"]["strimzi.io/cluster"], kafka["metadata"]["name"]);
    assert_eq!(
        network[0]["ports"][0], kafka["spec"]["kafka"]["listeners"][0]["port"],
        "the listener clients use"
    );
    let pool = plan.expect_object("KafkaNodePool", "events-dual");
    assert!(
        pool["spec"]["roles"].as_array().unwrap().contains(&json!("broker")),
        "the pool's pods are brokers"
    );
}
