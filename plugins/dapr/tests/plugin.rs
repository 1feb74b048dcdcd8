//! The Dapr plugin through the SDK test kit, with dependencies shaped by the
//! outputs contracts; rendered objects are validated against Kubernetes 1.30
//! and Dapr's CRDs.
#![allow(clippy::unwrap_used, reason = "tests")]

use capstan_core::PlanError;
use capstan_plugin_dapr::Dapr;
use capstan_plugin_testsupport::assert_valid_manifests;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata};
use serde_json::{Value, json};

const APPS: [&str; 2] = ["oob-consent", "oob-payments"];

fn rabbitmq() -> Value {
    json!({
        "protocol": "amqp",
        "endpoint": "amqp://rabbitmq.messaging.svc.cluster.local:5672/oof",
        "credentials_secret": { "name": "rabbitmq-dapr", "username_key": "username",
                                "password_key": "password", "namespace": "oob" },
        "queues": {},
    })
}

fn kafka() -> Value {
    json!({
        "protocol": "kafka",
        "endpoint": "oof-kafka-bootstrap.messaging.svc:9092",
        "credentials_secret": { "name": "kafka-dapr", "username_key": "user", "password_key": "password" },
        "queues": { "payments": "oof.payments" },
    })
}

fn sqs() -> Value {
    json!({
        "protocol": "sqs",
        "endpoint": "https://sqs.sa-east-1.amazonaws.com",
        "region": "sa-east-1",
        "queues": {},
    })
}

fn postgres() -> Value {
    json!({
        "host": "postgres.data.svc.cluster.local", "port": 5432,
        "database": "app", "user": "app",
        "password_secret": { "name": "postgres-app", "key": "password" },
        "databases": {
            "dapr": { "database": "dapr_state", "user": "dapr_user",
                      "password_secret": { "name": "postgres-dapr", "key": "password" } },
        },
    })
}

fn call(messaging: Value) -> PlanCall {
    PlanCall::new(json!({ "app_ids": APPS }))
        .component("staging", "oob", "dapr")
        .dependency("messaging", "messaging", messaging)
        .dependency("db", "postgres", postgres())
}

fn metadata_of(component: &Value) -> Vec<Value> {
    component["spec"]["metadata"].as_array().unwrap().clone()
}

fn meta<'a>(items: &'a [Value], name: &str) -> &'a Value {
    items.iter().find(|m| m["name"] == name).unwrap_or_else(|| panic!("no metadata `{name}` in {items:?}"))
}

#[test]
fn metadata_and_defaults_agree_with_the_schema() {
    let m = check_metadata::<Dapr>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("dapr", "dapr"));
}

#[test]
fn rabbitmq_messaging_becomes_a_scoped_rabbitmq_pubsub_with_secret_refs() {
    let plan = call(rabbitmq()).run::<Dapr>().unwrap();
    assert_eq!(plan.object_ids(), ["Component/pubsub", "Component/statestore", "Configuration/dapr-config"]);
    let pubsub = plan.expect_object("Component", "pubsub");
    assert_eq!(pubsub["apiVersion"], "dapr.io/v1alpha1");
    assert_eq!(pubsub["spec"]["type"], "pubsub.rabbitmq");
    assert_eq!(pubsub["spec"]["version"], "v1");
    assert_eq!(pubsub["scopes"], json!(APPS));
    let m = metadata_of(pubsub);
    assert_eq!(meta(&m, "protocol")["value"], "amqp");
    assert_eq!(meta(&m, "hostname")["value"], "rabbitmq.messaging.svc.cluster.local:5672/oof");
    assert_eq!(meta(&m, "username")["secretKeyRef"], json!({ "name": "rabbitmq-dapr", "key": "username" }));
    assert_eq!(meta(&m, "password")["secretKeyRef"], json!({ "name": "rabbitmq-dapr", "key": "password" }));
    assert!(meta(&m, "password").get("value").is_none(), "never a clear value");
    assert_eq!(meta(&m, "consumerID")["value"], "{appID}");

    assert_eq!(plan.output("pubsub"), Some(&json!("pubsub")));
    assert_eq!(plan.output("statestore"), Some(&json!("statestore")));
    assert_eq!(plan.output("configuration"), Some(&json!("dapr-config")));
}

#[test]
fn kafka_messaging_becomes_a_kafka_pubsub_with_sasl_from_the_secret() {
    let plan = call(kafka()).run::<Dapr>().unwrap();
    let pubsub = plan.expect_object("Component", "pubsub");
    assert_eq!(pubsub["spec"]["type"], "pubsub.kafka");
    let m = metadata_of(pubsub);
    assert_eq!(meta(&m, "brokers")["value"], "oof-kafka-bootstrap.messaging.svc:9092");
    assert_eq!(meta(&m, "consumerGroup")["value"], "{appID}");
    assert_eq!(meta(&m, "authType")["value"], "password");
    assert_eq!(meta(&m, "saslUsername")["secretKeyRef"], json!({ "name": "kafka-dapr", "key": "user" }));
    assert_eq!(meta(&m, "saslPassword")["secretKeyRef"], json!({ "name": "kafka-dapr", "key": "password" }));
}

#[test]
fn sqs_messaging_becomes_an_snssqs_pubsub_in_the_region() {
    let plan = call(sqs()).run::<Dapr>().unwrap();
    let pubsub = plan.expect_object("Component", "pubsub");
    assert_eq!(pubsub["spec"]["type"], "pubsub.aws.snssqs");
    let m = metadata_of(pubsub);
    assert_eq!(meta(&m, "region")["value"], "sa-east-1");
    assert!(m.iter().all(|i| i["name"] != "endpoint"), "AWS endpoints follow from the region: {m:?}");
    assert!(m.iter().all(|i| i["name"] != "accessKey"), "no credentials: an IAM role: {m:?}");

    let mut emulated = sqs();
    emulated["endpoint"] = json!("http://moto.test.svc:5000");
    let plan = call(emulated).run::<Dapr>().unwrap();
    let m = metadata_of(plan.expect_object("Component", "pubsub"));
    assert_eq!(meta(&m, "endpoint")["value"], "http://moto.test.svc:5000");
}

#[test]
fn the_state_store_uses_the_database_made_for_this_component_and_its_password_secret() {
    let plan = call(rabbitmq()).run::<Dapr>().unwrap();
    let store = plan.expect_object("Component", "statestore");
    assert_eq!(store["spec"]["type"], "state.postgresql");
    assert_eq!(store["spec"]["version"], "v2");
    assert_eq!(store["scopes"], json!(APPS));
    let m = metadata_of(store);
    assert_eq!(
        meta(&m, "connectionString")["value"],
        "host=postgres.data.svc.cluster.local port=5432 dbname=dapr_state user=dapr_user sslmode=prefer connect_timeout=10"
    );
    assert_eq!(meta(&m, "password")["secretKeyRef"], json!({ "name": "postgres-dapr", "key": "password" }));
}

#[test]
fn the_configuration_carries_tracing_and_mtls() {
    let plan = PlanCall::new(json!({
        "app_ids": APPS,
        "statestore": { "enabled": false },
        "configuration": { "tracing": { "sampling_rate": "0.25", "otel_endpoint": "otel-collector.obs.svc:4317" } },
    }))
    .component("staging", "oob", "dapr")
    .dependency("messaging", "messaging", rabbitmq())
    .run::<Dapr>()
    .unwrap();
    assert_eq!(plan.output("statestore"), None, "no state store, no output");
    let cfg = plan.expect_object("Configuration", "dapr-config");
    assert_eq!(
        cfg["spec"]["tracing"],
        json!({ "samplingRate": "0.25",
                "otel": { "endpointAddress": "otel-collector.obs.svc:4317", "protocol": "grpc", "isSecure": false } })
    );
    assert_eq!(cfg["spec"]["mtls"]["enabled"], true);
    assert_eq!(cfg["spec"]["mtls"]["sentryAddress"], "dapr-sentry.dapr-system.svc.cluster.local:443");
}

#[test]
fn a_missing_dependency_names_the_type_and_the_switch() {
    let err = PlanCall::new(json!({ "app_ids": APPS }))
        .dependency("db", "postgres", postgres())
        .run::<Dapr>()
        .unwrap_err();
    assert!(
        matches!(&err, PlanError::MissingDependency(m) if m.contains("pubsub.enabled") && m.contains("`messaging`")),
        "{err:?}"
    );
}

#[test]
fn a_secret_in_another_namespace_is_refused_naming_the_dependency() {
    let mut m = rabbitmq();
    m["credentials_secret"]["namespace"] = json!("messaging");
    let err = call(m).run::<Dapr>().unwrap_err();
    assert!(
        matches!(&err, PlanError::MissingDependency(msg)
            if msg.contains("`messaging`") && msg.contains("messaging/rabbitmq-dapr") && msg.contains("`oob`")),
        "{err:?}"
    );
}

#[test]
fn an_unsupported_protocol_is_refused() {
    let mut m = rabbitmq();
    m["protocol"] = json!("mqtt");
    let err = call(m).run::<Dapr>().unwrap_err();
    assert!(matches!(&err, PlanError::MissingDependency(msg) if msg.contains("mqtt")), "{err:?}");
}

#[test]
fn invalid_inputs_are_reported_at_their_attribute() {
    let paths = |inputs: Value| -> Vec<String> {
        match PlanCall::new(inputs).run::<Dapr>().unwrap_err() {
            PlanError::InvalidInputs(d) => d.into_iter().map(|d| d.path).collect(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(paths(json!({})), ["/app_ids"]);
    assert_eq!(paths(json!({ "app_ids": ["Bad_Id"] })), ["/app_ids/0"]);
    assert_eq!(
        paths(json!({ "app_ids": ["a"], "configuration": { "tracing": { "sampling_rate": "all" } } })),
        ["/configuration/tracing/sampling_rate"]
    );
    assert_eq!(paths(json!({ "app_ids": ["a"], "statestore": { "name": "pubsub" } })), ["/statestore/name"]);
    assert_eq!(
        paths(json!({ "app_ids": ["a"], "statestore": { "sslmode": "maybe" } })),
        ["/statestore/sslmode"]
    );
}

/// One validator run for every variant (loading the schemas is the slow part).
#[test]
fn every_variant_renders_objects_valid_for_kubernetes_and_the_dapr_crds() {
    let variants = [
        call(rabbitmq()),
        call(kafka()),
        call(sqs()),
        PlanCall::new(json!({ "app_ids": ["a"], "pubsub": { "enabled": false },
            "statestore": { "actor_state_store": true },
            "configuration": { "tracing": { "otel_endpoint": "otel:4318", "otel_protocol": "http" } } }))
        .dependency("db", "postgres", postgres()),
    ];
    let objects: Vec<Value> = variants.iter().flat_map(|v| v.run::<Dapr>().unwrap().objects).collect();
    assert_valid_manifests("all-variants", &objects);
}

/// Composed the way the engine composes them: the real RabbitMQ and
/// PostgreSQL StatefulSet plugins plan in the same namespace, and their
/// outputs become this plugin's dependencies. The Secrets the Components
/// point at are the ones those plugins plan.
#[test]
fn outputs_of_the_real_rabbitmq_and_postgres_plugins_bind_the_components() {
    use capstan_plugin_messaging_rabbitmq::MessagingRabbitmq;
    use capstan_plugin_postgres_statefulset::PostgresStatefulSet;

    let mq = PlanCall::new(json!({ "users": { "dapr": { "password": "mq-test-password" } } }))
        .component("staging", "oob", "messaging")
        .sensitive("/users/dapr/password")
        .run::<MessagingRabbitmq>()
        .unwrap();
    let pg = PlanCall::new(json!({
        "superuser_password": "pg-test-super",
        "apps": { "dapr": { "password": "pg-test-dapr" } },
    }))
    .component("staging", "oob", "postgres")
    .sensitive("/superuser_password")
    .sensitive("/apps/dapr/password")
    .run::<PostgresStatefulSet>()
    .unwrap();

    let plan = PlanCall::new(json!({ "app_ids": APPS }))
        .component("staging", "oob", "dapr")
        .dependency_outputs("messaging", "messaging", mq.outputs.clone())
        .dependency_outputs("db", "postgres", pg.outputs.clone())
        .run::<Dapr>()
        .unwrap();

    let pubsub = metadata_of(plan.expect_object("Component", "pubsub"));
    let user_ref = &meta(&pubsub, "username")["secretKeyRef"];
    let mq_secret = mq.expect_object("Secret", user_ref["name"].as_str().unwrap());
    assert!(mq_secret["stringData"].get(user_ref["key"].as_str().unwrap()).is_some(), "{mq_secret}");

    let store = metadata_of(plan.expect_object("Component", "statestore"));
    let pw_ref = &meta(&store, "password")["secretKeyRef"];
    let pg_secret = pg.expect_object("Secret", pw_ref["name"].as_str().unwrap());
    let key = pw_ref["key"].as_str().unwrap();
    assert_eq!(pg_secret["stringData"][key], "pg-test-dapr", "the dapr app's own database password");

    for object in &plan.objects {
        let text = object.to_string();
        assert!(
            !text.contains("mq-test-password") && !text.contains("pg-test-dapr"),
            "secret copied into {text}"
        );
    }
}

/// The `.wasm` built from this crate, run through the engine's host (the
/// wasmtime sandbox and WIT conversions `capstan plan` uses), plans exactly
/// what the native build plans, and refuses bad inputs the same way.
#[test]
fn the_built_wasm_component_plans_the_same_in_the_sandbox() {
    let workspace = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));
    let wasm = capstan_sdk::testkit::wasm::build(workspace, env!("CARGO_PKG_NAME")).unwrap();
    let variant = call(kafka());
    assert_eq!(variant.run_wasm(&wasm).unwrap().unwrap(), variant.run::<Dapr>().unwrap());

    let bad = PlanCall::new(json!({}));
    assert_eq!(bad.run_wasm(&wasm).unwrap().unwrap_err(), bad.run::<Dapr>().unwrap_err());
}
