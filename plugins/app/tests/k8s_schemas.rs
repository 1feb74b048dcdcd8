//! The app plugin's objects against the real Kubernetes 1.30 OpenAPI schemas
//! and the prometheus-operator CRD, through the repository's validator
//! (`tests/validate_manifests.py`, which uses the `kubernetes-validate` PyPI
//! package in strict mode; `tests/setup.sh` installs it).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::Command;

use capstan_plugin_app::App;
use capstan_sdk::testkit::PlanCall;
use serde_json::json;

#[test]
fn every_object_of_a_fully_featured_app_is_valid_kubernetes_1_30() {
    let plan = PlanCall::new(json!({
        "image": "registry.example.com/oob/consent:1.4.2", "port": 8080, "health_path": "/healthz",
        "env": {"LOG_LEVEL": "info", "API_TOKEN": "tok"},
        "command": ["/app/server"], "args": ["--listen", ":8080"], "run_as_user": 2000,
        "autoscaling": {"min": 2, "max": 6, "cpu": 70},
        "pdb": {"min_available": "50%"},
        "ingress": {"host": "consent.example.com", "path": "/api"},
        "service_monitor": {"interval": "15s"},
        "startup_seconds": 90,
        "service_account": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/consent"}},
    }))
    .component("production", "core", "oob-consent")
    .sensitive("/env/API_TOKEN")
    .dependency("db", "postgres", json!({"host": "db", "port": 5432, "database": "consent", "user": "consent",
        "password_secret": {"name": "db-consent", "key": "password"},
        "network": [{"namespace": "core", "pod_labels": {"app.kubernetes.io/name": "db"}, "ports": [5432]}]}))
    .dependency("broker", "messaging", json!({"protocol": "amqp", "endpoint": "amqp://mq:5672/",
        "credentials_secret": {"name": "mq", "username_key": "u", "password_key": "p"}, "queues": {"events": "prod.events"}}))
    .dependency("dapr", "dapr", json!({"pubsub": "pubsub", "configuration": "tracing",
        "network": [{"namespace": "dapr-system", "pod_labels": {"app": "dapr-sentry"}, "ports": [50001]}, {"ports": [443]}]}))
    .dependency("waf", "waf", json!({"ingress_class": "nginx-waf", "annotations": {"nginx.ingress.kubernetes.io/enable-modsecurity": "true"},
        "ingress_from": [{"namespace": "ingress-nginx", "pod_labels": {"app.kubernetes.io/component": "controller"}}]}))
    .dependency("directory", "app", json!({"network_policies": true,
        "network": [{"namespace": "shared", "pod_labels": {"app.kubernetes.io/name": "directory"}, "ports": [8080, 50002]}]}))
    .dependency("certs", "cert-manager", json!({"issuer": {"kind": "ClusterIssuer", "name": "ca"}}))
    .run::<App>()
    .unwrap();
    let kinds: Vec<_> = plan.objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "Secret",
            "ServiceAccount",
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Ingress",
            "ServiceMonitor",
            "NetworkPolicy",
            "NetworkPolicy"
        ]
    );

    validate(&plan.objects);
}

#[test]
fn the_objects_of_an_app_with_a_spiffe_identity_logging_in_to_vault_are_valid_kubernetes_1_30() {
    let plan = PlanCall::new(json!({"image": "registry.example.com/oob/consent:1.4.2", "port": 8080}))
        .component("production", "core", "oob-consent")
        .dependency("vault", "vault", json!({"address": "https://openbao.security.svc:8200",
            "mounts": {"pki": "pki", "kv": "secret"}, "auth": {"kubernetes": "kubernetes", "jwt": "jwt"},
            "apps": {"oob-consent": {"policy": "capstan-production-oob-consent", "pki_role": "oob-consent",
                "kubernetes_role": "oob-consent", "jwt_role": "oob-consent",
                "spiffe_id": "spiffe://prod.example/ns/core/sa/oob-consent"}},
            "network": [{"namespace": "security", "pod_labels": {"app.kubernetes.io/name": "openbao"}, "ports": [8200]}]}))
        .dependency("spire", "spire", json!({"trust_domain": "prod.example", "server_address": "spire-server.spire.svc:8081",
            "workload_api_socket": {"volume": "host-path", "host_path": "/run/spire/agent-sockets",
                "mount_path": "/spiffe-workload-api", "socket_path": "/spiffe-workload-api/spire-agent.sock",
                "endpoint": "unix:///spiffe-workload-api/spire-agent.sock"},
            "apps": {"oob-consent": {"spiffe_id": "spiffe://prod.example/ns/core/sa/oob-consent"}}}))
        .run::<App>()
        .unwrap();
    let kinds: Vec<_> = plan.objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ServiceAccount", "Deployment", "Service", "NetworkPolicy"]);
    validate(&plan.objects);
}

/// Runs the validator over `objects`, failing with what it printed.
fn validate(objects: &[serde_json::Value]) {
    // JSON documents are YAML documents.
    let docs: Vec<String> = objects.iter().map(|o| serde_json::to_string_pretty(o).unwrap()).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    std::fs::write(&file, docs.join("\n---\n")).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/validate_manifests.py");
    let out = Command::new("python3").arg(&script).arg(&file).output().expect("run python3");
    assert!(
        out.status.success(),
        "{} {} failed:\nstdout:\n{}\nstderr:\n{}",
        script.display(),
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
