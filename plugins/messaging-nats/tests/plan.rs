//! capstan/messaging-nats through the SDK test kit: in-cluster NACK objects
//! (checked against Kubernetes 1.30 and NACK's upstream CRDs), external-mode
//! JetStream effects, the outputs against the `messaging` contract's schema,
//! and what validate refuses or warns about.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use capstan_plugin_testsupport as support;

use capstan_plugin_messaging_nats::MessagingNats;
use capstan_sdk::capstan_core::{
    JetStreamConsumer, JetStreamOp, JetStreamRetention, JetStreamStorage, JetStreamStream,
};
use capstan_sdk::contracts::{self, messaging};
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, defaults_of, merge};
use serde_json::{Value, json};

const PW: &str = "payments-api-s3cret";
const AUDIT_PW: &str = "audit-s3cret";
const URL: &str = "nats://nats.messaging.svc:4222";

/// The queue and user shape shared by every messaging backend.
fn shared_inputs() -> Value {
    json!({
        "name_prefix": "opus-",
        "queues": {
            "payments": { "retention_hours": 168, "max_receive_count": 5, "replicas": 3 },
            "consents": { "visibility_timeout_seconds": 120 },
        },
        "users": {
            "payments-api": { "password": PW, "queues": ["payments"] },
            "audit": { "password": AUDIT_PW },
        },
        "credentials_user": "payments-api",
    })
}

fn call(patch: Value) -> PlanCall {
    let mut i = shared_inputs();
    merge(&mut i, json!({ "url": URL }));
    merge(&mut i, patch);
    PlanCall::new(i)
        .component("staging", "opus", "events")
        .sensitive("/users/payments-api/password")
        .sensitive("/users/audit/password")
}

fn external() -> PlanCall {
    call(json!({ "mode": "external" }))
}

fn diagnostics(patch: Value) -> Vec<Diagnostic> {
    match call(patch).run::<MessagingNats>() {
        Err(PlanError::InvalidInputs(d)) => d,
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

/// Every diagnostic `validate` gives for the shared inputs with `patch`,
/// over the plugin's defaults (as the engine merges them).
fn validate(patch: Value) -> Vec<Diagnostic> {
    let mut inputs = defaults_of(&MessagingNats::metadata());
    merge(&mut inputs, call(patch).request().inputs);
    MessagingNats::validate(&inputs)
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<MessagingNats>();
    assert_eq!(
        (m.name.as_str(), m.component_type.as_str(), m.backend.as_str()),
        ("capstan/messaging-nats", "messaging", "nats")
    );
    assert_eq!(m.capabilities, [Capability::JetStream("nats".to_owned())]);
    let defaults = defaults_of(&m);
    assert_eq!(defaults["mode"], "in-cluster");
    assert_eq!(defaults["connection"], "nats");
    assert!(defaults.get("url").is_none(), "no default server: the operator names it");
}

#[test]
fn in_cluster_renders_a_nack_stream_per_queue_and_a_consumer_per_user_and_queue() {
    let plan = call(json!({})).run::<MessagingNats>().unwrap();
    assert_eq!(
        plan.object_ids(),
        [
            "Secret/events-audit-credentials",
            "Secret/events-payments-api-credentials",
            "Stream/events-opus-consents",
            "Consumer/events-opus-consents.audit",
            "Stream/events-opus-payments",
            "Consumer/events-opus-payments.audit",
            "Consumer/events-opus-payments.payments-api",
        ]
    );
    assert!(plan.effects.is_empty(), "NACK creates them; no effects");
    let payments = plan.expect_object("Stream", "events-opus-payments");
    assert_eq!(payments["apiVersion"], "jetstream.nats.io/v1beta2");
    assert_eq!(
        payments["spec"],
        json!({
            "name": "opus-payments", "subjects": ["opus-payments"], "retention": "limits",
            "storage": "file", "replicas": 3, "discard": "old", "servers": [URL], "maxAge": "168h",
        })
    );
    let consents = &plan.expect_object("Stream", "events-opus-consents")["spec"];
    assert_eq!(consents["replicas"], 1, "the default");
    assert!(consents.get("maxAge").is_none(), "no retention_hours: no age limit");

    let consumer = plan.expect_object("Consumer", "events-opus-payments.payments-api");
    assert_eq!(consumer["metadata"]["labels"]["capstan.dev/user"], "payments-api");
    assert_eq!(
        consumer["spec"],
        json!({
            "streamName": "opus-payments", "durableName": "payments-api", "deliverPolicy": "all",
            "ackPolicy": "explicit", "ackWait": "30s", "servers": [URL],
            "filterSubject": "opus-payments", "maxDeliver": 5,
        })
    );
    let audit = &plan.expect_object("Consumer", "events-opus-consents.audit")["spec"];
    assert_eq!(audit["ackWait"], "120s", "visibility_timeout_seconds is the ack wait");
    assert!(audit.get("maxDeliver").is_none(), "no max_receive_count: no delivery limit");
    assert!(
        !plan.object_ids().contains(&"Consumer/events-opus-consents.payments-api".to_owned()),
        "payments-api may use only its queue"
    );

    let secret = plan.expect_object("Secret", "events-payments-api-credentials");
    assert_eq!(secret["stringData"], json!({ "password": PW, "username": "payments-api" }));
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn memory_storage_and_a_tls_url_reach_every_stream() {
    let url = "tls://nats.internal.example:4443";
    let plan =
        call(json!({ "storage": "memory", "replicas": 5, "url": url })).run::<MessagingNats>().unwrap();
    let stream = &plan.expect_object("Stream", "events-opus-consents")["spec"];
    assert_eq!((stream["storage"].as_str(), stream["replicas"].as_u64()), (Some("memory"), Some(5)));
    assert_eq!(stream["servers"], json!([url]));
    assert_eq!(plan.output("endpoint").unwrap(), url);
}

#[test]
fn external_mode_declares_jetstream_effects_and_renders_only_secrets() {
    let plan = external().run::<MessagingNats>().unwrap();
    assert_eq!(
        plan.object_ids(),
        ["Secret/events-audit-credentials", "Secret/events-payments-api-credentials"]
    );
    let ids: Vec<&str> = plan.effects.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["stream:consents", "stream:payments"]);
    let declared = MessagingNats::metadata().capabilities;
    for effect in &plan.effects {
        assert_eq!(effect.target, "nats");
        assert!(declared.contains(&effect.capability()), "{} runs on a declared capability", effect.id);
    }
    let payments = plan.effects.iter().find(|e| e.id == "stream:payments").unwrap();
    assert_eq!(
        payments.summary,
        "stream opus-payments on subject opus-payments, durable pull consumers audit, payments-api"
    );
    let consumer = |name: &str| {
        JetStreamOp::EnsureConsumer(JetStreamConsumer {
            stream: "opus-payments".into(),
            name: name.into(),
            filter_subjects: vec!["opus-payments".into()],
            ack_wait_seconds: 30,
            max_deliver: Some(5),
        })
    };
    assert_eq!(
        payments.kind,
        EffectKind::JetStream(vec![
            JetStreamOp::EnsureStream(JetStreamStream {
                name: "opus-payments".into(),
                subjects: vec!["opus-payments".into()],
                retention: JetStreamRetention::Limits,
                storage: JetStreamStorage::File,
                replicas: 3,
                max_age_seconds: 168 * 3600,
                max_bytes: None,
            }),
            consumer("audit"),
            consumer("payments-api"),
        ]),
        "the stream before its consumers, in one effect"
    );
    let EffectKind::JetStream(ops) = &plan.effects[0].kind else { panic!("{:?}", plan.effects[0]) };
    assert!(
        matches!(&ops[1], JetStreamOp::EnsureConsumer(c) if c.name == "audit" && c.ack_wait_seconds == 120 && c.max_deliver.is_none()),
        "{ops:?}"
    );

    let effects = format!("{:?}", plan.effects);
    assert!(!effects.contains(PW) && !effects.contains(AUDIT_PW), "no password in effects");

    // Another connection name is used as given (and must be granted as such).
    let other =
        call(json!({ "mode": "external", "connection": "nats-prod" })).run::<MessagingNats>().unwrap();
    assert!(other.effects.iter().all(|e| e.target == "nats-prod"));
}

#[test]
fn outputs_satisfy_the_messaging_contract_in_both_modes() {
    let schema: Value = serde_json::from_str(messaging::SCHEMA).unwrap();
    let contract = jsonschema::draft202012::new(&schema).unwrap();
    for plan in [call(json!({})).run::<MessagingNats>().unwrap(), external().run::<MessagingNats>().unwrap()]
    {
        let object: serde_json::Map<String, Value> =
            plan.outputs.iter().map(|o| (o.name.clone(), o.value.clone())).collect();
        let object = Value::Object(object);
        let errors: Vec<String> = contract.iter_errors(&object).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");

        let m: messaging::Outputs = contracts::read(&Dependency {
            name: "mq".into(),
            component_type: "messaging".into(),
            outputs: plan.outputs.clone().into(),
        })
        .unwrap();
        assert_eq!(m.protocol, messaging::protocol::NATS);
        assert_eq!(m.endpoint, URL);
        assert_eq!(
            serde_json::to_value(&m.queues).unwrap(),
            json!({ "consents": "opus-consents", "payments": "opus-payments" }),
            "stream name = subject = physical name; no dead-letter queues"
        );
        assert_eq!(m.credentials_secret.as_ref().unwrap().name, "events-payments-api-credentials");
        assert_eq!(
            serde_json::to_value(&m.consumers).unwrap(),
            json!({
                "audit": {
                    "credentials_secret": { "name": "events-audit-credentials", "username_key": "username",
                                            "password_key": "password", "namespace": "opus" },
                    "queues": ["consents", "payments"],
                    "group_prefix": "audit",
                },
                "payments-api": {
                    "credentials_secret": { "name": "events-payments-api-credentials", "username_key": "username",
                                            "password_key": "password", "namespace": "opus" },
                    "queues": ["payments"],
                    "group_prefix": "payments-api",
                },
            }),
            "each user's group prefix is the durable consumer made for it"
        );
        assert_eq!((m.region, m.sasl_mechanism, m.tls, m.exchange), (None, None, None, None));
        let outputs = serde_json::to_string(&plan.outputs).unwrap();
        assert!(!outputs.contains(PW) && !outputs.contains(AUDIT_PW));
        for o in plan.objects.iter().filter(|o| o["kind"] != "Secret") {
            assert!(!o.to_string().contains(PW), "password outside its Secret in {}", o["kind"]);
        }
    }
}

#[test]
fn a_queue_name_nats_cannot_take_is_refused_at_the_queue() {
    let d = diagnostics(json!({ "queues": { "orders.eu": {} } }));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].path, "/queues/orders.eu");
    assert!(d[0].message.contains("`opus-orders.eu`") && d[0].message.contains("no `.`"), "{}", d[0].message);

    let d = diagnostics(json!({ "queues": { "orders": { "name": "orders>*" } } }));
    assert_eq!(d[0].path, "/queues/orders/name", "a set name is pointed at itself");

    let d = diagnostics(json!({ "name_prefix": "opus events " }));
    let paths: Vec<&str> = d.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["/queues/consents", "/queues/payments"], "every queue the prefix breaks");

    // Two queues on one stream, and two streams on one Kubernetes name.
    let d = diagnostics(json!({ "queues": { "audit": { "name": "opus-payments" } } }));
    assert_eq!(d[0].path, "/queues/payments");
    assert!(d[0].message.contains("also the stream of queue `audit`"), "{}", d[0].message);
    let d = diagnostics(json!({ "queues": { "Orders": {}, "orders": {} } }));
    assert_eq!(d[0].path, "/queues/orders");
    assert!(d[0].message.contains("Kubernetes objects"), "{}", d[0].message);
    // External mode renders no object per stream: the case difference is fine there.
    external().run::<MessagingNats>().unwrap();
    call(json!({ "mode": "external", "queues": { "Orders": {}, "orders": {} } }))
        .run::<MessagingNats>()
        .unwrap();
}

#[test]
fn validate_refuses_what_nats_cannot_honour() {
    let url_error = |url: Value| {
        let d = diagnostics(json!({ "url": url }));
        assert_eq!(d[0].path, "/url", "{d:?}");
        d[0].message.clone()
    };
    assert!(url_error(json!(null)).contains("name the NATS server"));
    assert!(url_error(json!("")).contains("name the NATS server"));
    assert!(url_error(json!("http://nats:4222")).contains("nats:// or tls://"));
    assert!(url_error(json!("nats://app:secret@nats:4222")).contains("no user name or password"));
    assert!(url_error(json!("nats://a:4222,nats://b:4222")).contains("one server"));
    assert!(url_error(json!("nats://nats:0")).contains("1-65535"));
    call(json!({ "url": "nats://[::1]:4222" })).run::<MessagingNats>().unwrap();
    call(json!({ "url": "nats://nats.messaging.svc" })).run::<MessagingNats>().unwrap();

    for (patch, path) in [
        (json!({ "mode": "managed" }), "/mode"),
        (json!({ "storage": "disk" }), "/storage"),
        (json!({ "replicas": 0 }), "/replicas"),
        (json!({ "replicas": 6 }), "/replicas"),
        (json!({ "queues": { "payments": { "replicas": 7 } } }), "/queues/payments/replicas"),
        (json!({ "ack_wait_seconds": 0 }), "/ack_wait_seconds"),
        (
            json!({ "queues": { "consents": { "visibility_timeout_seconds": 0 } } }),
            "/queues/consents/visibility_timeout_seconds",
        ),
        (
            json!({ "queues": { "payments": { "max_receive_count": 0 } } }),
            "/queues/payments/max_receive_count",
        ),
        (json!({ "mode": "external", "connection": "" }), "/connection"),
        (json!({ "users": { "Payments_API": { "password": "x" } } }), "/users/Payments_API"),
        (json!({ "credentials_user": "nobody" }), "/credentials_user"),
    ] {
        let d = diagnostics(patch.clone());
        assert_eq!(d[0].path, path, "{patch}: {d:?}");
    }
    let d = diagnostics(json!({ "jetstream_domain": "hub" }));
    assert!(d[0].message.contains("jetstream_domain"), "unknown option refused: {d:?}");
}

#[test]
fn settings_nats_has_no_use_for_warn_and_the_users_note_is_informational() {
    let d = validate(json!({
        "queues": { "payments": { "dead_letter": true, "fifo": true, "partitions": 6 } },
    }));
    let found: Vec<(&str, Severity)> = d.iter().map(|d| (d.path.as_str(), d.severity)).collect();
    assert_eq!(
        found,
        [
            ("/queues/payments/partitions", Severity::Warning),
            ("/queues/payments/fifo", Severity::Warning),
            ("/queues/payments/dead_letter", Severity::Warning),
            ("/users", Severity::Info),
        ],
        "{d:?}"
    );
    assert!(d.iter().all(|d| d.message.contains("nats backend") || d.severity == Severity::Info), "{d:?}");
    assert!(d[3].message.contains("server's own configuration"), "{}", d[3].message);
    // max_receive_count is the consumers' max_deliver here, dead_letter or
    // not: no "needs dead_letter" warning as on other backends.
    assert!(d.iter().all(|d| !d.path.ends_with("max_receive_count")), "{d:?}");

    // The warnings do not stop the plan.
    call(json!({ "queues": { "payments": { "dead_letter": true, "fifo": true, "partitions": 6 } } }))
        .run::<MessagingNats>()
        .unwrap();
    // Without users there is nothing to say about them.
    let mut inputs = defaults_of(&MessagingNats::metadata());
    merge(&mut inputs, json!({ "url": URL, "queues": { "payments": {} } }));
    let none = MessagingNats::validate(&inputs);
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn a_password_not_from_the_secrets_file_is_refused() {
    let err = PlanCall::new(json!({ "url": URL, "users": { "a": { "password": "plain" } } }))
        .run::<MessagingNats>()
        .unwrap_err();
    assert!(matches!(&err, PlanError::InvalidInputs(d) if d[0].path == "/users/a/password"), "{err:?}");
}

#[test]
fn health_follows_nacks_ready_condition_and_generation() {
    let object = |status: Value| {
        json!({
            "apiVersion": "jetstream.nats.io/v1beta2", "kind": "Stream",
            "metadata": { "name": "events-opus-payments", "generation": 2 }, "status": status,
        })
    };
    let ready = |status: &str, reason: &str, observed: i64| {
        object(json!({
            "observedGeneration": observed,
            "conditions": [{ "type": "Ready", "status": status, "reason": reason, "message": "m" }],
        }))
    };
    assert_eq!(MessagingNats::health(&ready("True", "Ready", 2)), Health::Ready);
    assert!(
        matches!(MessagingNats::health(&object(json!({}))), Health::Progressing(m) if m.contains("NACK"))
    );
    assert!(
        matches!(MessagingNats::health(&ready("True", "Ready", 1)), Health::Progressing(m) if m.contains("latest spec")),
        "an older generation's Ready is stale"
    );
    assert!(
        matches!(MessagingNats::health(&ready("False", "Errored", 1)), Health::Progressing(m) if m.contains("Errored: m")),
        "NACK retries its errors"
    );
    assert!(matches!(MessagingNats::health(&ready("Unknown", "Reconciling", 0)), Health::Progressing(_)));
    let mut consumer = ready("True", "Ready", 2);
    consumer["kind"] = json!("Consumer");
    assert_eq!(MessagingNats::health(&consumer), Health::Ready);
    // A Secret is ready once it exists.
    assert_eq!(MessagingNats::health(&json!({ "apiVersion": "v1", "kind": "Secret" })), Health::Ready);
}

/// The `.wasm` built from this crate, run through the engine's host (the
/// sandbox and the WIT conversions of the `jetstream` effects), plans what
/// the native build plans, in both modes.
#[test]
fn the_built_wasm_component_plans_the_same_in_the_sandbox() {
    let workspace = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));
    let wasm = capstan_sdk::testkit::wasm::build(workspace, env!("CARGO_PKG_NAME")).unwrap();
    for variant in [call(json!({})), external()] {
        assert_eq!(variant.run_wasm(&wasm).unwrap().unwrap(), variant.run::<MessagingNats>().unwrap());
    }
    let bad = call(json!({ "queues": { "orders.eu": {} } }));
    assert_eq!(bad.run_wasm(&wasm).unwrap().unwrap_err(), bad.run::<MessagingNats>().unwrap_err());
}

#[test]
fn network_names_the_nats_servers_pods_behind_a_cluster_service_url() {
    // The official NATS Helm chart's pods, in the Service's namespace, on the
    // URL's port: what NACK and every app reach, in both modes.
    for plan in [call(json!({})).run::<MessagingNats>().unwrap(), external().run::<MessagingNats>().unwrap()]
    {
        assert_eq!(
            plan.output("network").unwrap(),
            &json!([{
                "namespace": "messaging",
                "pod_labels": { "app.kubernetes.io/component": "nats", "app.kubernetes.io/name": "nats" },
                "ports": [4222],
            }])
        );
    }
    let fqdn = call(json!({ "url": "tls://nats.events-bus.svc.cluster.local:4443" }))
        .run::<MessagingNats>()
        .unwrap();
    let peer = &fqdn.output("network").unwrap()[0];
    assert_eq!((&peer["namespace"], &peer["ports"]), (&json!("events-bus"), &json!([4443])));
    let default_port = call(json!({ "url": "nats://nats.messaging.svc" })).run::<MessagingNats>().unwrap();
    assert_eq!(default_port.output("network").unwrap()[0]["ports"], json!([4222]));
}

#[test]
fn network_is_the_urls_port_at_any_address_for_a_server_outside_the_cluster() {
    for (url, port) in
        [("tls://nats.internal.example:4443", 4443), ("nats://10.0.0.7", 4222), ("nats://[::1]:4223", 4223)]
    {
        let plan = call(json!({ "url": url })).run::<MessagingNats>().unwrap();
        assert_eq!(plan.output("network").unwrap(), &json!([{ "ports": [port] }]), "{url}");
        assert!(validate(json!({ "url": url })).iter().all(|d| d.path != "/url"), "{url}");
    }
    // A short name resolves in each app's own namespace: said, and taken for outside.
    let plan = call(json!({ "url": "nats://nats:4222" })).run::<MessagingNats>().unwrap();
    assert_eq!(plan.output("network").unwrap(), &json!([{ "ports": [4222] }]));
    let d = validate(json!({ "url": "nats://nats:4222" }));
    let warning = d.iter().find(|d| d.path == "/url").expect("a warning at /url");
    assert_eq!(warning.severity, Severity::Warning);
    assert!(warning.message.contains("server_pods"), "{}", warning.message);
}

#[test]
fn server_pods_name_the_servers_pods_when_they_are_not_the_helm_charts() {
    let pods = json!({ "server_pods": { "pod_labels": { "app": "nats-js" }, "port": 4300 } });
    let plan = call(pods).run::<MessagingNats>().unwrap();
    assert_eq!(
        plan.output("network").unwrap(),
        &json!([{ "namespace": "messaging", "pod_labels": { "app": "nats-js" }, "ports": [4300] }]),
        "the URL's namespace unless told"
    );
    let elsewhere = json!({ "url": "nats://nats.example:4222", "server_pods": { "namespace": "bus", "pod_labels": { "app": "nats" } } });
    let plan = call(elsewhere).run::<MessagingNats>().unwrap();
    assert_eq!(
        plan.output("network").unwrap(),
        &json!([{ "namespace": "bus", "pod_labels": { "app": "nats" }, "ports": [4222] }])
    );
    // Without a namespace in the URL or the input, the component's.
    let short = json!({ "url": "nats://nats:4222", "server_pods": { "pod_labels": { "app": "nats" } } });
    let plan = call(short.clone()).run::<MessagingNats>().unwrap();
    assert_eq!(plan.output("network").unwrap()[0]["namespace"], "opus");
    assert!(validate(short).iter().all(|d| d.path != "/url"), "the pods are named: nothing to warn about");

    let d = diagnostics(json!({ "server_pods": { "pod_labels": {} } }));
    assert_eq!(d[0].path, "/server_pods/pod_labels", "{d:?}");
    let d = diagnostics(json!({ "server_pods": { "pod_labels": { "app": "nats" }, "port": 0 } }));
    assert_eq!(d[0].path, "/server_pods/port", "{d:?}");
    let d = diagnostics(json!({ "server_pods": { "labels": { "app": "nats" } } }));
    assert!(d[0].path.starts_with("/server_pods"), "{d:?}");
}
