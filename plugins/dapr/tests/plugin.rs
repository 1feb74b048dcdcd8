//! The Dapr plugin through the SDK test kit, with dependencies shaped by the
//! outputs contracts; rendered objects are validated against Kubernetes 1.30
//! and Dapr's CRDs.
#![allow(clippy::unwrap_used, reason = "tests")]

use capstan_core::PlanError;
use capstan_plugin_dapr::Dapr;
use capstan_plugin_testsupport::assert_valid_manifests;
use capstan_sdk::contracts::{self, dapr};
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata};
use capstan_sdk::{ComponentPlan, Dependency, Plugin, Severity};
use serde_json::{Value, json};

const APPS: [&str; 2] = ["oob-consent", "oob-payments"];

fn rabbitmq() -> Value {
    json!({
        "protocol": "amqp",
        "endpoint": "amqp://rabbitmq.messaging.svc.cluster.local:5672/oof",
        "credentials_secret": { "name": "rabbitmq-dapr", "username_key": "username",
                                "password_key": "password", "namespace": "oob", "uri_key": "uri" },
        "queues": {},
    })
}

/// A RabbitMQ dependency whose Secret holds no connection URI, at `endpoint`.
fn rabbitmq_without_uri(endpoint: &str) -> Value {
    let mut m = rabbitmq();
    m["endpoint"] = json!(endpoint);
    m["credentials_secret"].as_object_mut().unwrap().remove("uri_key");
    m
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

fn nats() -> Value {
    json!({
        "protocol": "nats",
        "endpoint": "nats://nats.messaging.svc:4222",
        "credentials_secret": { "name": "nats-dapr", "username_key": "username",
                                "password_key": "password", "namespace": "oob" },
        "queues": { "payments": "oof-payments" },
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
    // The whole URI from the dependency's Secret, so the vhost `oof` is reached.
    assert_eq!(
        meta(&m, "connectionString")["secretKeyRef"],
        json!({ "name": "rabbitmq-dapr", "key": "uri" })
    );
    assert!(meta(&m, "connectionString").get("value").is_none(), "never a clear value");
    for part in ["protocol", "hostname", "username", "password"] {
        assert!(m.iter().all(|x| x["name"] != part), "`{part}` beside the URI: {m:?}");
    }
    assert_eq!(meta(&m, "consumerID")["value"], "{appID}");

    assert_eq!(plan.output("pubsub"), Some(&json!("pubsub")));
    assert_eq!(plan.output("statestore"), Some(&json!("statestore")));
    assert_eq!(plan.output("configuration"), Some(&json!("dapr-config")));
}

/// Without a URI in its Secret, a broker on the default vhost is reached
/// through Dapr's separate fields; `hostname` is the host and port alone,
/// as Dapr escapes anything after them.
#[test]
fn rabbitmq_without_a_uri_on_the_default_vhost_connects_by_parts() {
    for endpoint in ["amqps://rabbitmq.messaging.svc:5671", "amqps://rabbitmq.messaging.svc:5671/%2F"] {
        let mut mq = rabbitmq_without_uri(endpoint);
        mq["tls"] = json!({ "ca_secret": { "name": "rabbitmq-tls", "key": "ca.crt" } });
        let plan = call(mq).run::<Dapr>().unwrap();
        let m = metadata_of(plan.expect_object("Component", "pubsub"));
        assert_eq!(meta(&m, "protocol")["value"], "amqps");
        assert_eq!(meta(&m, "hostname")["value"], "rabbitmq.messaging.svc:5671", "{endpoint}");
        assert_eq!(
            meta(&m, "username")["secretKeyRef"],
            json!({ "name": "rabbitmq-dapr", "key": "username" })
        );
        assert_eq!(
            meta(&m, "password")["secretKeyRef"],
            json!({ "name": "rabbitmq-dapr", "key": "password" })
        );
        assert!(meta(&m, "password").get("value").is_none(), "never a clear value");
        assert_eq!(meta(&m, "caCert")["secretKeyRef"], json!({ "name": "rabbitmq-tls", "key": "ca.crt" }));
        assert!(m.iter().all(|x| x["name"] != "connectionString"), "{m:?}");
    }
}

/// Without a URI in its Secret, a broker on any other vhost is refused,
/// naming the dependency and why: Dapr would escape the vhost's `/`, and
/// the sidecar would connect to a vhost that is not there.
#[test]
fn rabbitmq_without_a_uri_on_another_vhost_is_refused_naming_why() {
    let err = call(rabbitmq_without_uri("amqp://rabbitmq.messaging.svc:5672/oof")).run::<Dapr>().unwrap_err();
    assert_eq!(
        err,
        PlanError::MissingDependency(
            "dependency `messaging` serves the vhost \"oof\" but names no Secret key holding its connection URI \
             (`uri_key` in its credentials): Dapr's pubsub.rabbitmq would build the URI from `hostname` itself \
             and percent-encode the `/` before the vhost, so it could reach the default vhost `/` only; the \
             backend must write the URI into the Secret and name its key"
                .into()
        )
    );
    let mut without_credentials = rabbitmq_without_uri("amqp://rabbitmq.messaging.svc:5672/oof");
    without_credentials.as_object_mut().unwrap().remove("credentials_secret");
    for (mq, vhost) in [
        (rabbitmq_without_uri("amqp://rabbitmq.messaging.svc:5672/oof"), "\"oof\""),
        (rabbitmq_without_uri("amqp://rabbitmq.messaging.svc:5672/team%2Fa"), "\"team%2Fa\""),
        // An empty segment is the vhost named "" (RabbitMQ URI spec), not `/`.
        (rabbitmq_without_uri("amqp://rabbitmq.messaging.svc:5672/"), "\"\""),
        (without_credentials, "\"oof\""),
    ] {
        let err = call(mq).run::<Dapr>().unwrap_err();
        assert!(
            matches!(&err, PlanError::MissingDependency(msg)
                if msg.contains("dependency `messaging`") && msg.contains(&format!("vhost {vhost}"))
                    && msg.contains("`uri_key`") && msg.contains("percent-encode")),
            "{err:?}"
        );
    }
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
fn nats_messaging_becomes_a_jetstream_pubsub_with_a_durable_of_its_own_and_no_credentials() {
    let plan = call(nats()).run::<Dapr>().unwrap();
    let pubsub = plan.expect_object("Component", "pubsub");
    assert_eq!(pubsub["spec"]["type"], "pubsub.jetstream");
    assert_eq!(pubsub["scopes"], json!(APPS));
    let m = metadata_of(pubsub);
    assert_eq!(meta(&m, "natsURL")["value"], "nats://nats.messaging.svc:4222");
    // Dapr replaces `{appID}` in every metadata value: one queue group and
    // one durable consumer per app, the durable never a DNS label.
    assert_eq!(meta(&m, "queueGroupName")["value"], "{appID}");
    assert_eq!(meta(&m, "durableName")["value"], "dapr_{appID}");
    assert_eq!(m.len(), 3, "pubsub.jetstream has no user name or password to take: {m:?}");
    assert!(m.iter().all(|i| i.get("secretKeyRef").is_none()), "{m:?}");
    // The plan says so, as a warning the engine shows under the component.
    let [warning] = plan.warnings.as_slice() else { panic!("{:?}", plan.warnings) };
    assert_eq!((warning.path.as_str(), warning.severity), ("/pubsub", Severity::Warning));
    assert!(warning.message.contains("without the credentials in Secret `nats-dapr`"), "{}", warning.message);

    // The credentials are not read, so their Secret's namespace is no reason to refuse.
    let mut elsewhere = nats();
    elsewhere["credentials_secret"]["namespace"] = json!("messaging");
    call(elsewhere).run::<Dapr>().unwrap();
}

#[test]
fn nats_that_dapr_cannot_honour_is_refused_naming_why() {
    let mut tls = nats();
    tls["tls"] = json!({ "ca_secret": { "name": "nats-ca", "key": "ca.crt" } });
    let err = call(tls).run::<Dapr>().unwrap_err();
    assert!(
        matches!(&err, PlanError::MissingDependency(m) if m.contains("`messaging`") && m.contains("nats-ca")),
        "{err:?}"
    );

    let err = PlanCall::new(json!({ "app_ids": APPS, "pubsub": { "consumer_group": "oob.{appID}" },
                                    "statestore": { "enabled": false } }))
    .dependency("messaging", "messaging", nats())
    .run::<Dapr>()
    .unwrap_err();
    assert!(matches!(&err, PlanError::InvalidInputs(d) if d[0].path == "/pubsub/consumer_group"), "{err:?}");
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
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn a_database_that_asks_to_be_verified_is_reached_with_require_and_the_plan_warns() {
    let mut db = postgres();
    db["sslmode"] = json!("verify-full");
    let plan = PlanCall::new(json!({ "app_ids": APPS, "pubsub": { "enabled": false } }))
        .component("staging", "oob", "dapr")
        .dependency("db", "postgres", db)
        .run::<Dapr>()
        .unwrap();
    let m = metadata_of(plan.expect_object("Component", "statestore"));
    assert!(meta(&m, "connectionString")["value"].as_str().unwrap().contains(" sslmode=require "), "{m:?}");
    let [warning] = plan.warnings.as_slice() else { panic!("{:?}", plan.warnings) };
    assert_eq!((warning.path.as_str(), warning.severity), ("/statestore", Severity::Warning));
    assert!(
        warning.message.starts_with("dependency `db` asks clients to verify its certificate"),
        "{}",
        warning.message
    );

    // Chosen in the inputs, it is the operator's call: no warning.
    let mut db = postgres();
    db["sslmode"] = json!("verify-full");
    let chosen = PlanCall::new(
        json!({ "app_ids": APPS, "pubsub": { "enabled": false }, "statestore": { "sslmode": "require" } }),
    )
    .component("staging", "oob", "dapr")
    .dependency("db", "postgres", db)
    .run::<Dapr>()
    .unwrap();
    assert!(chosen.warnings.is_empty(), "{:?}", chosen.warnings);
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

/// The control plane's pods, as Dapr's Helm chart labels them, with their container ports.
fn control_plane(namespace: &str) -> Vec<Value> {
    [
        ("dapr-sentry", 50001),
        ("dapr-operator", 6500),
        ("dapr-placement-server", 50005),
        ("dapr-scheduler-server", 50006),
    ]
    .map(|(app, port)| json!({ "namespace": namespace, "pod_labels": { "app": app }, "ports": [port] }))
    .into()
}

#[test]
fn the_network_output_is_the_control_plane_and_the_servers_the_components_use() {
    let broker = json!({ "namespace": "messaging", "pod_labels": { "app.kubernetes.io/name": "bus" }, "ports": [5671] });
    let db =
        json!({ "namespace": "data", "pod_labels": { "app.kubernetes.io/name": "db" }, "ports": [5432] });
    let mut mq = rabbitmq();
    mq["network"] = json!([broker]);
    let mut pg = postgres();
    pg["network"] = json!([db, broker]);
    let plan = PlanCall::new(json!({ "app_ids": APPS }))
        .component("staging", "oob", "dapr")
        .dependency("messaging", "messaging", mq.clone())
        .dependency("db", "postgres", pg.clone())
        .run::<Dapr>()
        .unwrap();
    let mut expected = control_plane("dapr-system");
    expected.extend([broker.clone(), db.clone()]);
    assert_eq!(plan.output("network"), Some(&Value::Array(expected)), "each server once");

    // A Component left out leaves its server out; the operator adds a collector.
    let plan = PlanCall::new(json!({ "app_ids": APPS, "statestore": { "enabled": false },
        "network": { "control_plane_namespace": "dapr", "also_reach": [
            { "namespace": "observability", "pod_labels": { "app": "otel-collector" }, "ports": [4317] },
            { "ports": [443] },
        ] } }))
    .component("staging", "oob", "dapr")
    .dependency("messaging", "messaging", mq)
    .dependency("db", "postgres", pg)
    .run::<Dapr>()
    .unwrap();
    let mut expected = control_plane("dapr");
    expected.extend([
        broker,
        json!({ "namespace": "observability", "pod_labels": { "app": "otel-collector" }, "ports": [4317] }),
        json!({ "ports": [443] }),
    ]);
    assert_eq!(plan.output("network"), Some(&Value::Array(expected)));
}

#[test]
fn traces_sent_to_a_collector_the_network_does_not_name_are_a_warning() {
    let traced = |also_reach: Value| {
        PlanCall::new(json!({ "app_ids": APPS, "statestore": { "enabled": false },
            "configuration": { "tracing": { "otel_endpoint": "otel-collector.obs.svc:4317" } },
            "network": { "also_reach": also_reach } }))
        .component("staging", "oob", "dapr")
        .dependency("messaging", "messaging", rabbitmq())
        .run::<Dapr>()
        .unwrap()
    };
    let plan = traced(json!([]));
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert_eq!(plan.warnings[0].path, "/network/also_reach");
    assert_eq!(
        plan.warnings[0].message,
        "traces go to `otel-collector.obs.svc:4317`, which `network.also_reach` does not name: sidecars of \
         apps under NetworkPolicies cannot reach the collector; add its pods (or its ports, outside the cluster)"
    );
    let named =
        traced(json!([{ "namespace": "obs", "pod_labels": { "app": "otel-collector" }, "ports": [4317] }]));
    assert!(named.warnings.is_empty(), "{:?}", named.warnings);
}

#[test]
fn network_peers_kubernetes_would_refuse_are_reported_at_their_attribute() {
    let err = PlanCall::new(json!({ "app_ids": ["a"], "pubsub": { "enabled": false },
        "statestore": { "enabled": false },
        "network": { "control_plane_namespace": "Dapr", "also_reach": [
            { "pod_labels": { "app": "x" }, "ports": [1] },
            { "namespace": "obs", "pod_labels": { "app": "not ok!" }, "ports": [1] },
        ] } }))
    .run::<Dapr>()
    .unwrap_err();
    let PlanError::InvalidInputs(d) = err else { panic!("{err:?}") };
    let found: Vec<(&str, &str)> = d.iter().map(|d| (d.path.as_str(), d.message.as_str())).collect();
    assert_eq!(
        found,
        [
            (
                "/network/control_plane_namespace",
                "must be a namespace name (lower-case letters, digits, `-`)"
            ),
            (
                "/network/also_reach/0/pod_labels",
                "pod labels need a `namespace`; leave both out for a server outside the cluster"
            ),
            (
                "/network/also_reach/1/pod_labels/app",
                "`not ok!` is not a label value: at most 63 letters, digits, `-`, `_` and `.`, alphanumeric at \
                 both ends"
            ),
        ]
    );
    // No ports at all would open every port: the schema refuses it, and so
    // does the plugin when the schema did not run.
    let err = PlanCall::new(json!({ "app_ids": ["a"], "network": { "also_reach": [{ "ports": [] }] } }))
        .run::<Dapr>()
        .unwrap_err();
    let PlanError::InvalidInputs(d) = err else { panic!("{err:?}") };
    assert_eq!(d[0].path, "/network/also_reach/0/ports");
    let mut raw = capstan_sdk::testkit::defaults_of(&Dapr::metadata());
    raw["app_ids"] = json!(["a"]);
    raw["pubsub"]["enabled"] = json!(false);
    raw["statestore"]["enabled"] = json!(false);
    raw["network"]["also_reach"] = json!([{ "ports": [] }]);
    let err = PlanCall::new(raw).without_defaults().run::<Dapr>().unwrap_err();
    let PlanError::InvalidInputs(d) = err else { panic!("{err:?}") };
    assert_eq!(
        (d[0].path.as_str(), d[0].message.as_str()),
        ("/network/also_reach/0/ports", "list the ports to reach there; none would mean every port")
    );
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
        call(nats()),
        PlanCall::new(json!({ "app_ids": ["a"], "pubsub": { "enabled": false },
            "statestore": { "actor_state_store": true },
            "configuration": { "tracing": { "otel_endpoint": "otel:4318", "otel_protocol": "http" } } }))
        .dependency("db", "postgres", postgres()),
    ];
    let objects: Vec<Value> = variants.iter().flat_map(|v| v.run::<Dapr>().unwrap().objects).collect();
    assert_valid_manifests("all-variants", &objects);
}

/// The real messaging plugin `P` planned with a user per app (`<app>-pw`
/// passwords), as the engine would plan it in namespace `oob`.
fn broker<P: Plugin>(extra: Value) -> ComponentPlan {
    let users: serde_json::Map<String, Value> =
        APPS.iter().map(|a| ((*a).to_owned(), json!({ "password": format!("{a}-pw") }))).collect();
    let mut inputs =
        json!({ "users": users, "name_prefix": "oof-", "queues": { "payments": { "dead_letter": true } } });
    for (k, v) in extra.as_object().unwrap() {
        inputs[k] = v.clone();
    }
    let mut call = PlanCall::new(inputs).component("staging", "oob", "messaging");
    for app in APPS {
        call = call.sensitive(&format!("/users/{app}/password"));
    }
    call.run::<P>().unwrap()
}

/// Each app's Component, which must connect as that app's own user: the
/// Secret it reads is the one the broker plugin planned for that app.
fn assert_each_app_connects_as_itself(
    plan: &ComponentPlan,
    mq: &ComponentPlan,
    user_key: &str,
) -> Vec<Vec<Value>> {
    let mut all = Vec::new();
    for app in APPS {
        let name = format!("pubsub-{app}");
        let component = plan.expect_object("Component", &name);
        assert_eq!(component["scopes"], json!([app]), "only {app} loads its Component");
        let m = metadata_of(component);
        let user_ref = &meta(&m, user_key)["secretKeyRef"];
        let secret = mq.expect_object("Secret", user_ref["name"].as_str().unwrap());
        assert_eq!(secret["metadata"]["labels"]["capstan.dev/user"], *app, "{app} reads its own Secret");
        for object in &plan.objects {
            assert!(!object.to_string().contains(&format!("{app}-pw")), "a password copied into {object}");
        }
        all.push(m);
    }
    let outputs: dapr::Outputs = contracts::read(&Dependency {
        name: "dapr".into(),
        component_type: "dapr".into(),
        outputs: plan.outputs.clone().into(),
    })
    .unwrap();
    assert_eq!(outputs.pubsub, None, "no Component is shared");
    assert_eq!(outputs.pubsub_for("oob-consent"), Some("pubsub-oob-consent"));
    all
}

/// Composed the way the engine composes them: the real RabbitMQ and
/// PostgreSQL StatefulSet plugins plan in the same namespace, and their
/// outputs become this plugin's dependencies. Each app's Component connects
/// as that app, and its consumer id is the prefix the broker lets that user
/// declare queues under (Dapr declares `<consumerID>-<topic>`).
#[test]
fn outputs_of_the_real_rabbitmq_and_postgres_plugins_bind_the_components() {
    use capstan_plugin_messaging_rabbitmq::MessagingRabbitmq;
    use capstan_plugin_postgres_statefulset::PostgresStatefulSet;

    let mq = broker::<MessagingRabbitmq>(json!({}));
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

    for (app, m) in APPS.iter().zip(assert_each_app_connects_as_itself(&plan, &mq, "connectionString")) {
        // The URI in the app's Secret logs in as the app, on the broker's
        // vhost (the messaging plugin's own tests check its encoding).
        let uri_ref = &meta(&m, "connectionString")["secretKeyRef"];
        let secret = mq.expect_object("Secret", uri_ref["name"].as_str().unwrap());
        let uri = secret["stringData"][uri_ref["key"].as_str().unwrap()].as_str().unwrap();
        assert_eq!(
            uri,
            format!("amqps://messaging-{app}:{app}-pw@messaging.oob.svc:5671/messaging"),
            "{app}'s own URI"
        );
        assert_eq!(meta(&m, "caCert")["secretKeyRef"], json!({ "name": "messaging-tls", "key": "ca.crt" }));
        let consumer = meta(&m, "consumerID")["value"].as_str().unwrap().to_owned();
        let permission = mq
            .objects
            .iter()
            .find(|o| o["kind"] == "Permission" && o["metadata"]["labels"]["capstan.dev/user"] == *app)
            .unwrap_or_else(|| panic!("no Permission for {app}"));
        // What Dapr declares for topic `oof-payments` with this consumer id.
        let granted = |kind: &str, name: &str| {
            let pattern = permission["spec"]["permissions"][kind].as_str().unwrap();
            regex::Regex::new(pattern).unwrap().is_match(name)
        };
        let queue = format!("{consumer}-oof-payments");
        for (kind, name) in [
            ("configure", "oof-payments"),
            ("write", "oof-payments"),
            ("read", "oof-payments"),
            ("configure", queue.as_str()),
            ("write", queue.as_str()),
            ("read", queue.as_str()),
            ("configure", &format!("dlx-{queue}")),
            ("configure", &format!("dlq-{queue}")),
        ] {
            assert!(granted(kind, name), "{app} may {kind} `{name}`");
        }
        for other in APPS.iter().filter(|o| *o != app) {
            let theirs = format!("{other}.messaging-oof-payments");
            assert!(
                !granted("read", &theirs) && !granted("configure", &theirs),
                "{app} may not touch `{theirs}`"
            );
        }
    }

    let store = metadata_of(plan.expect_object("Component", "statestore"));
    let pw_ref = &meta(&store, "password")["secretKeyRef"];
    let pg_secret = pg.expect_object("Secret", pw_ref["name"].as_str().unwrap());
    let key = pw_ref["key"].as_str().unwrap();
    assert_eq!(pg_secret["stringData"][key], "pg-test-dapr", "the dapr app's own database password");
    for object in &plan.objects {
        assert!(!object.to_string().contains("pg-test-dapr"), "secret copied into {object}");
    }

    // The sidecars may reach the broker and the database the Components name.
    let network = plan.output("network").unwrap().as_array().unwrap();
    let pg_network =
        pg.output("network").and_then(Value::as_array).expect("the postgres plugin says its pods");
    for peer in pg_network.iter().chain(mq.output("network").and_then(Value::as_array).into_iter().flatten())
    {
        assert!(network.contains(peer), "{peer} in {network:?}");
    }
}

/// The real Kafka plugin's outputs: each app's Component speaks TLS to the
/// listener (verifying Strimzi's cluster CA), authenticates with SCRAM as
/// its own KafkaUser, and its consumer group is inside that user's group ACL.
#[test]
fn outputs_of_the_real_kafka_plugin_agree_with_its_listener_and_acls() {
    use capstan_plugin_messaging_kafka::MessagingKafka;

    let mq = broker::<MessagingKafka>(json!({}));
    let plan = PlanCall::new(json!({ "app_ids": APPS, "statestore": { "enabled": false } }))
        .component("staging", "oob", "dapr")
        .dependency_outputs("messaging", "messaging", mq.outputs.clone())
        .run::<Dapr>()
        .unwrap();
    let kafka = mq.expect_object("Kafka", "messaging");
    let listener = &kafka["spec"]["kafka"]["listeners"][0];
    assert_eq!(listener["tls"], true);
    assert_eq!(listener["authentication"]["type"], "scram-sha-512");

    for (app, m) in APPS.iter().zip(assert_each_app_connects_as_itself(&plan, &mq, "saslUsername")) {
        assert!(m.iter().all(|i| i["name"] != "disableTls"), "{app}: TLS stays on: {m:?}");
        assert_eq!(
            meta(&m, "caCert")["secretKeyRef"],
            json!({ "name": "messaging-cluster-ca-cert", "key": "ca.crt" })
        );
        assert_eq!(meta(&m, "saslMechanism")["value"], "SHA-512");
        let brokers = meta(&m, "brokers")["value"].as_str().unwrap();
        assert!(brokers.ends_with(&format!(":{}", listener["port"])), "{brokers} is the TLS listener");
        let group = meta(&m, "consumerGroup")["value"].as_str().unwrap();
        let user = mq
            .objects
            .iter()
            .find(|o| o["kind"] == "KafkaUser" && o["metadata"]["labels"]["capstan.dev/user"] == *app)
            .unwrap();
        let acls = user["spec"]["authorization"]["acls"].as_array().unwrap();
        assert!(
            acls.iter().any(|a| a["resource"]["type"] == "group"
                && a["resource"]["patternType"] == "prefix"
                && group.starts_with(a["resource"]["name"].as_str().unwrap())),
            "{app}: consumer group `{group}` is allowed by {acls:?}"
        );
        for other in APPS.iter().filter(|o| *o != app) {
            let theirs = mq
                .objects
                .iter()
                .find(|o| o["kind"] == "KafkaUser" && o["metadata"]["labels"]["capstan.dev/user"] == *other)
                .unwrap();
            assert!(
                theirs["spec"]["authorization"]["acls"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|a| a["resource"]["type"] != "group"
                        || !group.starts_with(a["resource"]["name"].as_str().unwrap())),
                "{other} may not join {app}'s group `{group}`"
            );
        }
    }
}

/// The real NATS plugin's outputs, in the cluster: each app's Component is
/// scoped to it, reaches the server the plugin names, delivers to the app's
/// group prefix as its queue group, and creates a durable consumer whose
/// name is none of the pull consumers the plugin made (which are named after
/// the users), so Dapr never takes over an app's own consumer.
#[test]
fn outputs_of_the_real_nats_plugin_give_each_app_its_queue_group_and_a_durable_of_its_own() {
    use capstan_plugin_messaging_nats::MessagingNats;

    let url = "nats://nats.messaging.svc:4222";
    let mq = broker::<MessagingNats>(json!({ "url": url }));
    let plan = PlanCall::new(json!({ "app_ids": APPS, "statestore": { "enabled": false } }))
        .component("staging", "oob", "dapr")
        .dependency_outputs("messaging", "messaging", mq.outputs.clone())
        .run::<Dapr>()
        .unwrap();
    let made: Vec<(&str, &str)> = mq
        .objects
        .iter()
        .filter(|o| o["kind"] == "Consumer")
        .map(|o| (o["spec"]["streamName"].as_str().unwrap(), o["spec"]["durableName"].as_str().unwrap()))
        .collect();
    assert_eq!(made, [("oof-payments", "oob-consent"), ("oof-payments", "oob-payments")]);

    for app in APPS {
        let component = plan.expect_object("Component", &format!("pubsub-{app}"));
        assert_eq!(component["spec"]["type"], "pubsub.jetstream");
        assert_eq!(component["scopes"], json!([app]), "only {app} loads its Component");
        let m = metadata_of(component);
        assert_eq!(meta(&m, "natsURL")["value"], url);
        assert_eq!(
            meta(&m, "queueGroupName")["value"],
            app,
            "its group prefix: its replicas share deliveries"
        );
        let durable = meta(&m, "durableName")["value"].as_str().unwrap();
        assert_eq!(durable, format!("dapr_{app}"));
        assert!(
            made.iter().all(|(_, name)| *name != durable),
            "`{durable}` would take over a consumer the plugin made"
        );
        for object in &plan.objects {
            assert!(!object.to_string().contains(&format!("{app}-pw")), "a password copied into {object}");
        }
    }
    let durables: std::collections::BTreeSet<String> = APPS
        .iter()
        .map(|app| {
            let m = metadata_of(plan.expect_object("Component", &format!("pubsub-{app}")));
            meta(&m, "durableName")["value"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(durables.len(), APPS.len(), "one durable consumer per app");
    assert_valid_manifests("dapr-on-nats", &plan.objects);
}

/// A broker with a user per app but none for one of the app ids is refused,
/// naming the app and what to add: its sidecar could not connect.
#[test]
fn an_app_without_its_own_broker_user_is_named() {
    use capstan_plugin_messaging_rabbitmq::MessagingRabbitmq;

    let mq = broker::<MessagingRabbitmq>(json!({}));
    let err = PlanCall::new(
        json!({ "app_ids": ["oob-consent", "oob-reports"], "statestore": { "enabled": false } }),
    )
    .component("staging", "oob", "dapr")
    .dependency_outputs("messaging", "messaging", mq.outputs.clone())
    .run::<Dapr>()
    .unwrap_err();
    assert!(
        matches!(&err, PlanError::MissingDependency(m) if m.contains("app `oob-reports`") && m.contains("users.oob-reports")),
        "{err:?}"
    );
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
