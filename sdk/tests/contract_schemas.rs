//! The typed contracts in `capstan_sdk::contracts` and the JSON Schemas in
//! `wit/contracts/` are the same contracts: what a producer serialises from
//! the Rust types validates against the schema the engine checks, and a
//! value the schema refuses is refused by a consumer reading it as Rust too.
//! So a plugin written against the SDK never fails the engine's check, and a
//! third-party producer that passes the check is readable by every consumer.

#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use std::collections::BTreeMap;
use std::sync::Arc;

use capstan_sdk::contracts::external_secrets;
use capstan_sdk::contracts::messaging::queues::{QueueSpec, UserSpec};
use capstan_sdk::contracts::messaging::{self, CredentialsSecret};
use capstan_sdk::contracts::postgres::{self, DatabaseAccess, apps::AppDatabase};
use capstan_sdk::contracts::spire::{self, AppIdentity, SocketVolume, WorkloadApiSocket};
use capstan_sdk::contracts::vault::{self, AppAccess, AuthMethods, Mounts};
use capstan_sdk::contracts::{
    self, Contract, NetworkPeer, SecretKeyRef, SecretRef, app, cert_manager, dapr, logs, waf,
};
use capstan_sdk::{Dependency, Output};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

fn schema(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn validator(text: &str) -> jsonschema::Validator {
    let schema = schema(text);
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    jsonschema::draft202012::new(&schema).unwrap()
}

fn dependency<C: Contract>(outputs: Vec<Output>) -> Dependency {
    Dependency { name: "dep".into(), component_type: C::COMPONENT_TYPE.into(), outputs: Arc::from(outputs) }
}

fn as_outputs(value: &Value) -> Vec<Output> {
    value
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| Output { name: name.clone(), value: value.clone(), sensitive: false })
        .collect()
}

/// Every `good` value serialises to outputs the schema accepts and reads
/// back unchanged; every `bad` object is refused by both the schema and a
/// consumer reading it as `C`.
fn agree<C: Contract + PartialEq + std::fmt::Debug>(good: &[C], bad: &[(&str, Value)]) {
    let schema = schema(C::SCHEMA);
    let id = schema["$id"].as_str().unwrap();
    assert!(
        id.ends_with(&format!("/{}.v{}.json", C::COMPONENT_TYPE, C::VERSION)),
        "{id} is not the schema of {} v{}",
        C::COMPONENT_TYPE,
        C::VERSION
    );
    let validator = validator(C::SCHEMA);
    for value in good {
        let outputs = contracts::outputs(value, &[]).unwrap();
        let object: serde_json::Map<String, Value> =
            outputs.iter().map(|o| (o.name.clone(), o.value.clone())).collect();
        let object = Value::Object(object);
        let errors: Vec<String> = validator.iter_errors(&object).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{} outputs {object} refused by the schema: {errors:?}",
            C::COMPONENT_TYPE
        );
        assert_eq!(&contracts::read::<C>(&dependency::<C>(outputs)).unwrap(), value);
    }
    for (why, value) in bad {
        assert!(!validator.is_valid(value), "{}: the schema accepts {why}: {value}", C::COMPONENT_TYPE);
        let read = contracts::read::<C>(&dependency::<C>(as_outputs(value)));
        assert!(read.is_err(), "{}: a consumer accepts {why}: {value}", C::COMPONENT_TYPE);
    }
}

/// Like [`agree`], for a shared input shape: `field` of the inputs object
/// deserialises as `T` exactly when the schema accepts the object.
fn agree_inputs<T: DeserializeOwned>(schema: &str, field: &str, good: &[Value], bad: &[(&str, Value)]) {
    let validator = validator(schema);
    for value in good {
        let errors: Vec<String> = validator.iter_errors(value).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "inputs {value} refused by the schema: {errors:?}");
        serde_json::from_value::<T>(value[field].clone()).unwrap();
    }
    for (why, value) in bad {
        assert!(!validator.is_valid(value), "the schema accepts {why}: {value}");
        assert!(serde_json::from_value::<T>(value[field].clone()).is_err(), "the SDK accepts {why}: {value}");
    }
}

fn key_ref(name: &str) -> SecretKeyRef {
    SecretKeyRef { name: name.into(), key: "password".into(), namespace: None }
}

#[test]
fn postgres() {
    let minimal = postgres::Outputs {
        host: "db-rw.data.svc".into(),
        port: 5432,
        database: "app".into(),
        user: "app_user".into(),
        password_secret: key_ref("db-app"),
        databases: BTreeMap::new(),
        sslmode: None,
        ca_secret: None,
        network: Vec::new(),
    };
    let full = postgres::Outputs {
        sslmode: Some(postgres::SslMode::VerifyFull),
        ca_secret: Some(key_ref("db-ca")),
        network: vec![NetworkPeer::pods("data", &[("cnpg.io/cluster", "db")], &[5432])],
        password_secret: SecretKeyRef { namespace: Some("data".into()), ..key_ref("db-app") },
        databases: BTreeMap::from([(
            "consent".into(),
            DatabaseAccess {
                database: "consent".into(),
                user: "consent_user".into(),
                password_secret: key_ref("db-consent"),
            },
        )]),
        ..minimal.clone()
    };
    let base = json!({
        "host": "db", "port": 5432, "database": "app", "user": "app_user",
        "password_secret": { "name": "db-app", "key": "password" },
    });
    let with = |pointer: &str, value: Value| {
        let mut v = base.clone();
        *v.pointer_mut(pointer).unwrap() = value;
        v
    };
    let without = |field: &str| {
        let mut v = base.clone();
        v.as_object_mut().unwrap().remove(field);
        v
    };
    agree(
        &[minimal, full],
        &[
            ("no host", without("host")),
            ("no password secret", without("password_secret")),
            ("a port as text", with("/port", json!("5432"))),
            ("a port above 65535", with("/port", json!(70000))),
            ("a negative port", with("/port", json!(-1))),
            ("a password secret without its key", with("/password_secret", json!({ "name": "db" }))),
            ("a password by value", with("/password_secret", json!("hunter2"))),
            ("an sslmode libpq does not know", {
                let mut v = base.clone();
                v["sslmode"] = json!("verify");
                v
            }),
            (
                "an unknown field in a secret reference",
                with("/password_secret", json!({ "name": "db", "key": "p", "value": "hunter2" })),
            ),
            ("an app's database without a user", {
                let mut v = base.clone();
                v["databases"] =
                    json!({ "a": { "database": "a", "password_secret": { "name": "s", "key": "k" } } });
                v
            }),
        ],
    );
}

#[test]
fn messaging() {
    let minimal = messaging::Outputs {
        protocol: messaging::protocol::KAFKA.into(),
        endpoint: "events-kafka-bootstrap:9092".into(),
        credentials_secret: None,
        queues: BTreeMap::new(),
        region: None,
        consumers: BTreeMap::new(),
        sasl_mechanism: None,
        tls: None,
        exchange: None,
        network: Vec::new(),
    };
    let credentials = |name: &str| CredentialsSecret {
        name: name.into(),
        username_key: "username".into(),
        password_key: "password".into(),
        namespace: Some("data".into()),
        uri_key: None,
    };
    let full = messaging::Outputs {
        protocol: messaging::protocol::SQS.into(),
        endpoint: "https://sqs.eu-west-1.amazonaws.com".into(),
        credentials_secret: Some(credentials("events-app-credentials")),
        queues: BTreeMap::from([("orders".into(), "https://sqs/123/orders".into())]),
        region: Some("eu-west-1".into()),
        consumers: BTreeMap::from([(
            "billing".into(),
            messaging::Consumer {
                credentials_secret: CredentialsSecret {
                    uri_key: Some("uri".into()),
                    ..credentials("events-billing-credentials")
                },
                queues: vec!["orders".into()],
                group_prefix: Some("billing.events".into()),
            },
        )]),
        sasl_mechanism: Some(messaging::sasl::SCRAM_SHA_512.into()),
        tls: Some(messaging::Tls {
            ca_secret: SecretKeyRef {
                name: "events-cluster-ca-cert".into(),
                key: "ca.crt".into(),
                namespace: None,
            },
        }),
        exchange: Some("events".into()),
        network: vec![NetworkPeer::outside(&[443])],
    };
    agree(
        &[minimal, full],
        &[
            ("no endpoint", json!({ "protocol": "amqp" })),
            ("no protocol", json!({ "endpoint": "amqp://mq:5672/" })),
            (
                "a queue name that is not text",
                json!({ "protocol": "amqp", "endpoint": "e", "queues": { "q": 1 } }),
            ),
            (
                "credentials without the password key",
                json!({ "protocol": "amqp", "endpoint": "e",
                        "credentials_secret": { "name": "s", "username_key": "u" } }),
            ),
            ("a region that is not text", json!({ "protocol": "sqs", "endpoint": "e", "region": ["eu"] })),
            (
                "a consumer without its queues",
                json!({ "protocol": "kafka", "endpoint": "e", "consumers": { "billing": {
                    "credentials_secret": { "name": "s", "username_key": "u", "password_key": "p" } } } }),
            ),
            (
                "a consumer's password by value",
                json!({ "protocol": "kafka", "endpoint": "e", "consumers": { "billing": {
                    "credentials_secret": { "name": "s", "username_key": "u", "password_key": "p" },
                    "queues": [], "password": "hunter2" } } }),
            ),
            ("TLS without its CA", json!({ "protocol": "kafka", "endpoint": "e", "tls": {} })),
            (
                "a URI key that is not text",
                json!({ "protocol": "amqp", "endpoint": "e", "credentials_secret": {
                    "name": "s", "username_key": "u", "password_key": "p", "uri_key": true } }),
            ),
            (
                "a connection URI by value",
                json!({ "protocol": "amqp", "endpoint": "e", "credentials_secret": {
                    "name": "s", "username_key": "u", "password_key": "p",
                    "uri": "amqp://u:hunter2@mq:5672/v" } }),
            ),
        ],
    );
}

#[test]
fn waf() {
    let minimal = waf::Outputs {
        ingress_class: "nginx".into(),
        annotations: BTreeMap::new(),
        mtls_ca_secret: None,
        ingress_from: Vec::new(),
    };
    let full = waf::Outputs {
        annotations: BTreeMap::from([(
            "nginx.ingress.kubernetes.io/enable-modsecurity".into(),
            "true".into(),
        )]),
        mtls_ca_secret: Some(SecretRef { name: "ca".into(), namespace: Some("edge".into()) }),
        ingress_from: vec![NetworkPeer::pods(
            "ingress-nginx",
            &[("app.kubernetes.io/name", "ingress-nginx")],
            &[],
        )],
        ..minimal.clone()
    };
    agree(
        &[minimal, full],
        &[
            ("no ingress class", json!({ "annotations": {} })),
            (
                "an annotation that is not text",
                json!({ "ingress_class": "nginx", "annotations": { "a": true } }),
            ),
            ("a CA secret without a name", json!({ "ingress_class": "nginx", "mtls_ca_secret": {} })),
        ],
    );
}

#[test]
fn cert_manager() {
    let minimal = cert_manager::Outputs {
        issuer: cert_manager::IssuerRef {
            kind: cert_manager::CLUSTER_ISSUER.into(),
            name: "letsencrypt".into(),
        },
        ca_bundle_secret: None,
    };
    let full = cert_manager::Outputs { ca_bundle_secret: Some(key_ref("ca")), ..minimal.clone() };
    agree(
        &[minimal, full],
        &[
            ("no issuer", json!({})),
            ("an issuer without a kind", json!({ "issuer": { "name": "x" } })),
            ("an issuer as text", json!({ "issuer": "letsencrypt" })),
        ],
    );
}

#[test]
fn dapr() {
    let empty =
        dapr::Outputs { pubsub: None, statestore: None, pubsub_by_app: BTreeMap::new(), network: Vec::new() };
    let full = dapr::Outputs {
        pubsub: Some("pubsub".into()),
        statestore: Some("statestore".into()),
        pubsub_by_app: BTreeMap::from([("billing".into(), "pubsub-billing".into())]),
        network: vec![NetworkPeer::pods("dapr-system", &[("app", "dapr-sentry")], &[50001])],
    };
    agree(
        &[empty, full],
        &[
            ("a pub/sub that is not a name", json!({ "pubsub": true })),
            ("a numbered store", json!({ "statestore": 1 })),
        ],
    );
}

#[test]
fn logs() {
    let minimal = logs::Outputs {
        collector_endpoint: "tcp://fluent-bit.logging.svc.cluster.local:24224".into(),
        labels: Vec::new(),
        ca_secret: None,
        network: Vec::new(),
    };
    let full = logs::Outputs {
        collector_endpoint: "tls://fluent-bit.logging.svc.cluster.local:24224".into(),
        labels: vec!["namespace".into(), "app".into()],
        ca_secret: Some(SecretKeyRef {
            name: "fluent-bit-tls".into(),
            key: "ca.crt".into(),
            namespace: Some("logging".into()),
        }),
        network: vec![NetworkPeer::pods("logging", &[("app.kubernetes.io/name", "fluent-bit")], &[24224])],
    };
    let endpoint = |extra: Value| {
        let mut v = json!({ "collector_endpoint": "tls://fluent-bit.logging.svc:24224" });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v
    };
    agree(
        &[minimal, full],
        &[
            ("no collector endpoint", json!({ "labels": [] })),
            ("labels as text", json!({ "collector_endpoint": "e", "labels": "app" })),
            ("a CA secret without its key", endpoint(json!({ "ca_secret": { "name": "fluent-bit-tls" } }))),
            ("a CA by value", endpoint(json!({ "ca_secret": "-----BEGIN CERTIFICATE-----" }))),
            ("network as one peer", endpoint(json!({ "network": { "namespace": "logging" } }))),
            (
                "a peer's port as text",
                endpoint(json!({ "network": [{ "namespace": "logging", "ports": ["24224"] }] })),
            ),
            (
                "a peer with an unknown field",
                endpoint(json!({ "network": [{ "namespace": "logging", "port": 24224 }] })),
            ),
        ],
    );
}

#[test]
fn app() {
    let empty =
        app::Outputs { service_url: None, public_url: None, network: Vec::new(), dapr_invoke_id: None };
    let full = app::Outputs {
        service_url: Some("http://api.web.svc.cluster.local:8080".into()),
        public_url: Some("https://api.example/".into()),
        network: vec![NetworkPeer::pods("web", &[("app.kubernetes.io/name", "api")], &[8080])],
        dapr_invoke_id: Some("api.web".into()),
    };
    agree(
        &[empty, full],
        &[
            ("a service URL that is not text", json!({ "service_url": 8080 })),
            ("a Dapr id that is not text", json!({ "dapr_invoke_id": ["api", "web"] })),
        ],
    );
}

#[test]
fn postgres_apps_inputs() {
    agree_inputs::<BTreeMap<String, AppDatabase>>(
        postgres::APPS_SCHEMA,
        "apps",
        &[
            json!({ "apps": { "consent": { "password": "p" } } }),
            json!({ "apps": { "consent": { "database": "c", "user": "u", "password": "p",
                                           "extensions": ["pgcrypto"] } },
                    "default_app": "consent", "db_host": "a backend's own input" }),
        ],
        &[
            ("an app without a password", json!({ "apps": { "consent": { "database": "c" } } })),
            ("a misspelt setting", json!({ "apps": { "consent": { "password": "p", "databse": "c" } } })),
            (
                "extensions as text",
                json!({ "apps": { "consent": { "password": "p", "extensions": "pgcrypto" } } }),
            ),
            ("a list of apps", json!({ "apps": ["consent"] })),
        ],
    );
}

#[test]
fn messaging_queues_inputs() {
    let good = [
        json!({ "queues": { "orders": {} } }),
        json!({ "name_prefix": "acme-", "credentials_user": "api",
                "queues": { "orders": { "name": "o", "retention_hours": 24, "dead_letter": true,
                                         "max_receive_count": 3, "fifo": true, "partitions": 6,
                                         "replicas": 3, "visibility_timeout_seconds": 30 } },
                "users": { "api": { "password": "p", "queues": ["orders"] } },
                "brokers": "a backend's own input" }),
    ];
    agree_inputs::<BTreeMap<String, QueueSpec>>(
        messaging::QUEUES_SCHEMA,
        "queues",
        &good,
        &[
            ("a misspelt queue setting", json!({ "queues": { "orders": { "retention": 24 } } })),
            ("a negative retention", json!({ "queues": { "orders": { "retention_hours": -1 } } })),
            ("partitions as text", json!({ "queues": { "orders": { "partitions": "6" } } })),
            ("dead-lettering as text", json!({ "queues": { "orders": { "dead_letter": "yes" } } })),
        ],
    );
    agree_inputs::<BTreeMap<String, UserSpec>>(
        messaging::QUEUES_SCHEMA,
        "users",
        &good[1..],
        &[
            ("a user without a password", json!({ "users": { "api": { "queues": [] } } })),
            (
                "a user's queues as text",
                json!({ "users": { "api": { "password": "p", "queues": "orders" } } }),
            ),
        ],
    );
}

#[test]
fn external_secrets() {
    let vault = external_secrets::Outputs {
        store: external_secrets::StoreRef {
            kind: external_secrets::StoreKind::ClusterSecretStore,
            name: "platform-store".into(),
        },
        backend: external_secrets::backend::VAULT.into(),
        refresh: None,
        mount: None,
        region: None,
    };
    let full = external_secrets::Outputs {
        store: external_secrets::StoreRef {
            kind: external_secrets::StoreKind::SecretStore,
            name: "platform-store".into(),
        },
        backend: external_secrets::backend::AWS_SECRETS_MANAGER.into(),
        refresh: Some("1h".into()),
        mount: Some("secret".into()),
        region: Some("eu-west-1".into()),
    };
    let store = json!({ "kind": "ClusterSecretStore", "name": "platform-store" });
    agree(
        &[vault, full],
        &[
            ("no store", json!({ "backend": "vault" })),
            ("no backend", json!({ "store": store })),
            ("a store as text", json!({ "store": "platform-store", "backend": "vault" })),
            ("a store without a kind", json!({ "store": { "name": "s" }, "backend": "vault" })),
            (
                "a store of a kind External Secrets does not have",
                json!({ "store": { "kind": "Vault", "name": "s" }, "backend": "vault" }),
            ),
            ("a region that is not text", json!({ "store": store, "backend": "vault", "region": 1 })),
        ],
    );
}

#[test]
fn spire() {
    let socket = WorkloadApiSocket {
        volume: SocketVolume::HostPath,
        host_path: Some("/run/spire/agent-sockets".into()),
        csi_driver: None,
        mount_path: "/spiffe-workload-api".into(),
        socket_path: "/spiffe-workload-api/spire-agent.sock".into(),
        endpoint: "unix:///spiffe-workload-api/spire-agent.sock".into(),
    };
    let minimal = spire::Outputs {
        trust_domain: "dev.example".into(),
        server_address: "spire-server.security.svc:8081".into(),
        workload_api_socket: socket.clone(),
        oidc_discovery_url: None,
        jwks_url: None,
        jwt_issuer: None,
        apps: BTreeMap::new(),
        network: Vec::new(),
    };
    let full = spire::Outputs {
        workload_api_socket: WorkloadApiSocket {
            volume: SocketVolume::Csi,
            host_path: None,
            csi_driver: Some("csi.spiffe.io".into()),
            ..socket
        },
        oidc_discovery_url: Some("https://spire-oidc.security.svc".into()),
        jwks_url: Some("https://spire-oidc.security.svc/keys".into()),
        jwt_issuer: Some("https://spire-oidc.security.svc".into()),
        apps: BTreeMap::from([
            (
                "ledger".into(),
                AppIdentity {
                    spiffe_id: "spiffe://dev.example/ns/finance/sa/ledger-worker".into(),
                    namespace: Some("finance".into()),
                    service_account: Some("ledger-worker".into()),
                },
            ),
            // From a backend that does not say which pods (older than the fields).
            ("audit".into(), AppIdentity::new("spiffe://dev.example/ns/finance/sa/audit")),
        ]),
        network: vec![NetworkPeer::pods("security", &[("app.kubernetes.io/component", "server")], &[8081])],
        ..minimal.clone()
    };
    let base = json!({
        "trust_domain": "dev.example",
        "server_address": "spire-server.security.svc:8081",
        "workload_api_socket": {
            "volume": "host-path", "host_path": "/run/spire/agent-sockets", "mount_path": "/spiffe-workload-api",
            "socket_path": "/spiffe-workload-api/spire-agent.sock",
            "endpoint": "unix:///spiffe-workload-api/spire-agent.sock",
        },
    });
    let with = |pointer: &str, value: Value| {
        let mut v = base.clone();
        match v.pointer_mut(pointer) {
            Some(slot) => *slot = value,
            None => {
                let (parent, key) = pointer.rsplit_once('/').unwrap();
                v.pointer_mut(parent).unwrap()[key] = value;
            }
        }
        v
    };
    let without = |field: &str| {
        let mut v = base.clone();
        v.as_object_mut().unwrap().remove(field);
        v
    };
    agree(
        &[minimal, full],
        &[
            ("no trust domain", without("trust_domain")),
            ("no server address", without("server_address")),
            ("no socket", without("workload_api_socket")),
            ("a socket mounted some other way", with("/workload_api_socket/volume", json!("nfs"))),
            ("a socket without its path", {
                let mut v = base.clone();
                v["workload_api_socket"].as_object_mut().unwrap().remove("socket_path");
                v
            }),
            ("an unknown field of the socket", with("/workload_api_socket/mode", json!("0777"))),
            ("an app's SPIFFE ID as text", with("/apps", json!({ "ledger": "spiffe://dev.example/x" }))),
            (
                "an app with more than its SPIFFE ID",
                with("/apps", json!({ "ledger": { "spiffe_id": "spiffe://dev.example/x", "svid": "…" } })),
            ),
            ("a JWKS URL that is not text", with("/jwks_url", json!(true))),
            (
                "an app's namespace that is not text",
                with("/apps", json!({ "ledger": { "spiffe_id": "spiffe://dev.example/x", "namespace": 1 } })),
            ),
        ],
    );
    let schema = validator(spire::SCHEMA);
    for (why, value) in [
        ("a trust domain with a scheme", with("/trust_domain", json!("spiffe://dev.example"))),
        ("keys over plain HTTP", with("/jwks_url", json!("http://spire-oidc/keys"))),
        ("an app ID that is not a SPIFFE ID", with("/apps", json!({ "ledger": { "spiffe_id": "ledger" } }))),
        (
            "a namespace Kubernetes cannot have",
            with(
                "/apps",
                json!({ "ledger": { "spiffe_id": "spiffe://dev.example/x", "namespace": "Finance" } }),
            ),
        ),
        (
            "a ServiceAccount Kubernetes cannot have",
            with(
                "/apps",
                json!({ "ledger": { "spiffe_id": "spiffe://dev.example/x", "service_account": "ledger worker" } }),
            ),
        ),
    ] {
        assert!(!schema.is_valid(&value), "spire: the schema accepts {why}: {value}");
    }
}

#[test]
fn spire_identities_name_their_pods_by_their_fields_else_by_a_kubernetes_spiffe_id() {
    let said = AppIdentity {
        spiffe_id: "spiffe://dev.example/workload/ledger".into(),
        namespace: Some("finance".into()),
        service_account: Some("ledger-worker".into()),
    };
    assert_eq!(
        (said.pods_namespace(), said.pods_service_account()),
        (Some("finance"), Some("ledger-worker"))
    );
    let older = AppIdentity::new("spiffe://dev.example/ns/finance/sa/ledger");
    assert_eq!((older.pods_namespace(), older.pods_service_account()), (Some("finance"), Some("ledger")));
    let unsaid = AppIdentity::new("spiffe://dev.example/workload/ledger");
    assert_eq!((unsaid.pods_namespace(), unsaid.pods_service_account()), (None, None));

    assert_eq!(spire::kubernetes_path("spiffe://dev.example/ns/core/sa/api"), Some(("core", "api")));
    for other in [
        "spiffe://dev.example/workload/api",
        "spiffe://dev.example/ns/core/sa/api/extra",
        "spiffe://dev.example/ns//sa/api",
        "spiffe://dev.example",
        "ns/core/sa/api",
    ] {
        assert_eq!(spire::kubernetes_path(other), None, "{other}");
    }
}

#[test]
fn vault() {
    let minimal = vault::Outputs {
        address: "https://vault.security.svc:8200".into(),
        mounts: Mounts::default(),
        auth: AuthMethods::default(),
        apps: BTreeMap::new(),
        network: Vec::new(),
    };
    let full = vault::Outputs {
        mounts: Mounts {
            pki: Some("pki".into()),
            database: Some("database".into()),
            kv: Some("secret".into()),
        },
        auth: AuthMethods {
            kubernetes: Some("kubernetes".into()),
            jwt: Some("jwt".into()),
            jwt_audience: Some("vault".into()),
        },
        apps: BTreeMap::from([
            (
                "billing".into(),
                AppAccess {
                    policy: "capstan-staging-billing".into(),
                    pki_role: Some("billing".into()),
                    database_role: Some("billing".into()),
                    kubernetes_role: Some("billing".into()),
                    jwt_role: Some("billing".into()),
                    spiffe_id: Some("spiffe://opus.example/ns/shop/sa/billing".into()),
                    namespace: Some("shop".into()),
                    service_account: Some("billing".into()),
                },
            ),
            (
                "audit".into(),
                AppAccess {
                    kubernetes_role: Some("audit".into()),
                    ..AppAccess::new("capstan-staging-audit")
                },
            ),
        ]),
        network: vec![NetworkPeer::pods("security", &[("app.kubernetes.io/name", "vault")], &[8200])],
        ..minimal.clone()
    };
    let address = "https://vault.security.svc:8200";
    agree(
        &[minimal, full],
        &[
            ("no address", json!({ "mounts": { "pki": "pki" } })),
            ("an address that is not text", json!({ "address": 8200 })),
            (
                "an engine the contract does not know",
                json!({ "address": address, "mounts": { "transit": "transit" } }),
            ),
            ("a mount that is not text", json!({ "address": address, "mounts": { "pki": true } })),
            (
                "an auth method the contract does not know",
                json!({ "address": address, "auth": { "approle": "approle" } }),
            ),
            (
                "a JWT audience that is not text",
                json!({ "address": address, "auth": { "jwt": "jwt", "jwt_audience": ["vault"] } }),
            ),
            (
                "an app's ServiceAccount that is not text",
                json!({ "address": address, "apps": { "billing": { "policy": "p", "service_account": 7 } } }),
            ),
            (
                "an app without its policy",
                json!({ "address": address, "apps": { "billing": { "pki_role": "billing" } } }),
            ),
            (
                "an app's token by value",
                json!({ "address": address, "apps": { "billing": { "policy": "p", "token": "hvs.s3cret" } } }),
            ),
            ("apps as a list", json!({ "address": address, "apps": ["billing"] })),
        ],
    );
    // What the schema alone refuses (a consumer reads any text): an address
    // with a path or a trailing slash, a SPIFFE ID that is not one.
    let schema = validator(vault::SCHEMA);
    for (why, value) in [
        ("an address with a path", json!({ "address": "https://vault:8200/v1" })),
        ("an address with a trailing slash", json!({ "address": "https://vault:8200/" })),
        ("an address with a password", json!({ "address": "https://root:pw@vault:8200" })),
        ("an empty policy name", json!({ "address": address, "apps": { "a": { "policy": "" } } })),
        (
            "a SPIFFE ID that is not one",
            json!({ "address": address, "apps": { "a": { "policy": "p", "spiffe_id": "billing" } } }),
        ),
        (
            "an empty JWT audience",
            json!({ "address": address, "auth": { "jwt": "jwt", "jwt_audience": "" } }),
        ),
        (
            "a namespace Kubernetes cannot have",
            json!({ "address": address, "apps": { "a": { "policy": "p", "namespace": "-shop" } } }),
        ),
        (
            "a ServiceAccount Kubernetes cannot have",
            json!({ "address": address, "apps": { "a": { "policy": "p", "service_account": "Billing" } } }),
        ),
    ] {
        assert!(!schema.is_valid(&value), "vault: the schema accepts {why}: {value}");
    }
}
