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

    // JSON documents are YAML documents.
    let docs: Vec<String> = plan.objects.iter().map(|o| serde_json::to_string_pretty(o).unwrap()).collect();
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
