//! The fluent-bit logs plugin, planned through the SDK test kit as the engine
//! would plan it (defaults merged, schema and `validate` checked), and every
//! rendered object validated against the Kubernetes 1.30 schemas.
#![allow(clippy::unwrap_used, reason = "tests")]

use capstan_core::PlanError;
use capstan_plugin_logs_fluent_bit::FluentBit;
use capstan_plugin_testsupport::assert_valid_manifests;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, container_env};
use serde_json::{Value, json};

const TOKEN: &str = "hec-0f1e2d3c-not-a-real-token";

fn call(inputs: Value) -> PlanCall {
    PlanCall::new(inputs).component("staging", "logging", "fluent-bit")
}

fn config_of(plan: &capstan_core::ComponentPlan) -> String {
    plan.expect_object("ConfigMap", "fluent-bit")["data"]["fluent-bit.conf"].as_str().unwrap().to_owned()
}

fn diagnostics(err: PlanError) -> Vec<(String, String)> {
    match err {
        PlanError::InvalidInputs(d) => d.into_iter().map(|d| (d.path, d.message)).collect(),
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

#[test]
fn metadata_and_defaults_agree_with_the_schema() {
    let m = check_metadata::<FluentBit>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("logs", "fluent-bit"));
}

#[test]
fn defaults_render_a_complete_valid_collector() {
    let plan = call(json!({})).run::<FluentBit>().unwrap();
    assert_eq!(
        plan.object_ids(),
        [
            "ServiceAccount/fluent-bit",
            "ClusterRole/logging-fluent-bit",
            "ClusterRoleBinding/logging-fluent-bit",
            "ConfigMap/fluent-bit",
            "DaemonSet/fluent-bit",
            "Service/fluent-bit",
        ]
    );

    let ds = plan.expect_object("DaemonSet", "fluent-bit");
    assert_eq!(ds["metadata"]["labels"]["app.kubernetes.io/managed-by"], "capstan");
    assert_eq!(ds["spec"]["template"]["spec"]["serviceAccountName"], "fluent-bit");
    assert_eq!(ds["spec"]["template"]["spec"]["tolerations"], json!([{ "operator": "Exists" }]));
    let mounts = ds.pointer("/spec/template/spec/containers/0/volumeMounts").unwrap();
    assert!(mounts.to_string().contains("\"/var/log\""), "{mounts}");

    let cfg = config_of(&plan);
    assert!(cfg.contains("Name             tail"), "{cfg}");
    assert!(cfg.contains("multiline.parser docker, cri"), "{cfg}");
    assert!(cfg.contains("Name                kubernetes"), "{cfg}");
    assert!(cfg.contains("Format json_lines"), "stdout is the default output:\n{cfg}");
    assert!(cfg.contains("Add    environment staging"), "{cfg}");
    let parsers = plan.expect_object("ConfigMap", "fluent-bit")["data"]["parsers.conf"].as_str().unwrap();
    assert!(parsers.contains("Name        cri") && parsers.contains("Name        docker"), "{parsers}");

    assert_eq!(
        plan.output("collector_endpoint"),
        Some(&json!("tcp://fluent-bit.logging.svc.cluster.local:24224"))
    );
    assert_eq!(
        plan.output("labels"),
        Some(&json!(["environment", "namespace", "app", "container", "pod", "node"]))
    );
}

#[test]
fn rbac_only_reads_pods_and_namespaces_for_the_collectors_service_account() {
    let plan = call(json!({})).run::<FluentBit>().unwrap();
    let role = plan.expect_object("ClusterRole", "logging-fluent-bit");
    assert_eq!(
        role["rules"],
        json!([{ "apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["get", "list", "watch"] }])
    );
    assert!(role["metadata"].get("namespace").is_none(), "cluster-scoped");
    let binding = plan.expect_object("ClusterRoleBinding", "logging-fluent-bit");
    assert_eq!(binding["roleRef"]["name"], "logging-fluent-bit");
    assert_eq!(
        binding["subjects"],
        json!([{ "kind": "ServiceAccount", "name": "fluent-bit", "namespace": "logging" }])
    );
}

#[test]
fn loki_output_ships_with_the_standard_stream_labels() {
    let plan = call(json!({
        "output": "loki",
        "loki": { "host": "loki-gateway.logging.svc.cluster.local", "labels": { "cluster": "br-1" } },
    }))
    .run::<FluentBit>()
    .unwrap();
    let cfg = config_of(&plan);
    assert!(cfg.contains("Name                   loki"), "{cfg}");
    assert!(cfg.contains("Host                   loki-gateway.logging.svc.cluster.local"), "{cfg}");
    assert!(cfg.contains("Port                   3100"), "{cfg}");
    assert!(
        cfg.contains(
            "Labels                 job=fluent-bit, environment=$environment, namespace=$namespace, \
             app=$app, container=$container, cluster=br-1"
        ),
        "{cfg}"
    );
    assert!(!cfg.contains("json_lines"), "one output only:\n{cfg}");
    assert!(plan.object("Secret", "fluent-bit-credentials").is_none(), "no credential, no Secret");
}

#[test]
fn elasticsearch_output_writes_to_the_index_with_its_password_from_a_secret() {
    let plan = call(json!({
        "output": "elasticsearch",
        "elasticsearch": {
            "host": "es.prod.example.com", "index": "oof-logs",
            "auth": { "user": "shipper", "password": "es-pass-123" },
        },
    }))
    .sensitive("/elasticsearch/auth/password")
    .run::<FluentBit>()
    .unwrap();
    let cfg = config_of(&plan);
    assert!(cfg.contains("Name               es"), "{cfg}");
    assert!(cfg.contains("Index              oof-logs"), "{cfg}");
    assert!(cfg.contains("Port               9200"), "{cfg}");
    assert!(cfg.contains("HTTP_Passwd        ${OUTPUT_HTTP_PASSWORD}"), "{cfg}");
    assert!(!cfg.contains("es-pass-123"));
    let secret = plan.expect_object("Secret", "fluent-bit-credentials");
    assert_eq!(secret["stringData"]["http-password"], "es-pass-123");
}

#[test]
fn splunk_token_lives_only_in_a_secret_referenced_from_the_daemonset() {
    let plan = call(json!({
        "output": "splunk",
        "splunk": { "host": "hec.splunk.example.com", "token": TOKEN, "index": "open_finance" },
    }))
    .sensitive("/splunk/token")
    .run::<FluentBit>()
    .unwrap();

    let cfg = config_of(&plan);
    assert!(cfg.contains("Name            splunk"), "{cfg}");
    assert!(cfg.contains("Splunk_Token    ${SPLUNK_HEC_TOKEN}"), "{cfg}");
    assert!(cfg.contains("Event_Index     open_finance"), "{cfg}");

    let secret = plan.expect_object("Secret", "fluent-bit-credentials");
    assert_eq!(secret["stringData"]["splunk-hec-token"], TOKEN);
    let ds = plan.expect_object("DaemonSet", "fluent-bit");
    assert_eq!(
        container_env(ds, "SPLUNK_HEC_TOKEN").unwrap()["valueFrom"]["secretKeyRef"],
        json!({ "name": "fluent-bit-credentials", "key": "splunk-hec-token" })
    );
    // The token appears nowhere but the Secret: not in the config, the
    // DaemonSet, the outputs or any other object.
    for object in plan.objects.iter().filter(|o| o["kind"] != "Secret") {
        assert!(!object.to_string().contains(TOKEN), "token leaked into {}", object["kind"]);
    }
    assert!(!format!("{:?}", plan.outputs).contains(TOKEN));
}

#[test]
fn a_splunk_token_in_plain_inputs_is_refused_at_its_path() {
    let err = call(json!({ "output": "splunk", "splunk": { "host": "hec.example.com", "token": TOKEN } }))
        .run::<FluentBit>()
        .unwrap_err();
    let d = diagnostics(err);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, "/splunk/token");
    assert!(d[0].1.contains("secrets file"), "{}", d[0].1);
    assert!(!d[0].1.contains(TOKEN), "the error must not repeat the token");
}

#[test]
fn splunk_without_a_token_is_refused_at_its_path() {
    let err = call(json!({ "output": "splunk", "splunk": { "host": "hec.example.com" } }))
        .run::<FluentBit>()
        .unwrap_err();
    assert_eq!(diagnostics(err)[0].0, "/splunk/token");
}

#[test]
fn choosing_an_output_without_its_section_names_the_missing_section() {
    let err = call(json!({ "output": "loki" })).run::<FluentBit>().unwrap_err();
    let d = diagnostics(err);
    assert_eq!(d[0].0, "/loki");
    assert!(d[0].1.contains("no `loki` section"), "{}", d[0].1);
}

#[test]
fn an_unknown_output_is_a_schema_error_at_output() {
    let err = call(json!({ "output": "kafka" })).run::<FluentBit>().unwrap_err();
    assert_eq!(diagnostics(err)[0].0, "/output");
}

#[test]
fn values_that_would_break_the_config_file_are_refused() {
    let err = call(json!({
        "output": "loki",
        "loki": { "host": "loki\n[OUTPUT]", "labels": { "bad-name": "x" } },
    }))
    .run::<FluentBit>()
    .unwrap_err();
    let paths: Vec<String> = diagnostics(err).into_iter().map(|d| d.0).collect();
    assert!(paths.contains(&"/loki/host".to_owned()), "{paths:?}");
    assert!(paths.contains(&"/loki/labels/bad-name".to_owned()), "{paths:?}");
}

#[test]
fn a_config_change_changes_the_pod_template_so_pods_roll() {
    let digest = |inputs: Value| {
        let plan = call(inputs).run::<FluentBit>().unwrap();
        plan.expect_object("DaemonSet", "fluent-bit")["spec"]["template"]["metadata"]["annotations"]
            ["capstan.dev/config-digest"]
            .clone()
    };
    assert_eq!(digest(json!({})), digest(json!({})));
    assert_ne!(digest(json!({})), digest(json!({ "log_level": "debug" })));
}

#[test]
fn without_the_forward_input_there_is_no_collector_endpoint() {
    let plan = call(json!({ "forward": { "enabled": false, "port": 24224 } })).run::<FluentBit>().unwrap();
    assert_eq!(plan.output("collector_endpoint"), Some(&json!("")));
    assert!(!config_of(&plan).contains("forward"));
    let svc = plan.expect_object("Service", "fluent-bit");
    assert_eq!(svc["spec"]["ports"].as_array().unwrap().len(), 1, "metrics port only");
}

/// One validator run for every variant: loading the Kubernetes schemas is
/// the slow part, so the objects of all outputs are checked together.
#[test]
fn every_output_renders_objects_valid_for_kubernetes_1_30() {
    let variants = [
        call(json!({})),
        call(json!({ "output": "loki", "loki": { "host": "loki", "tls": true, "tenant_id": "oof",
            "auth": { "user": "u", "password": "p" } } }))
        .sensitive("/loki/auth/password"),
        call(json!({ "output": "elasticsearch", "elasticsearch": { "host": "es", "index": "i" },
            "priority_class_name": "system-node-critical" })),
        call(json!({ "output": "splunk", "splunk": { "host": "hec", "token": TOKEN } }))
            .sensitive("/splunk/token"),
        call(json!({ "forward": { "enabled": false, "port": 24224 }, "tolerations": [] })),
    ];
    let objects: Vec<Value> = variants.iter().flat_map(|v| v.run::<FluentBit>().unwrap().objects).collect();
    assert_valid_manifests("all-outputs", &objects);
}

/// The `.wasm` built from this crate, run through the engine's host (the
/// wasmtime sandbox and WIT conversions `capstan plan` uses), plans exactly
/// what the native build plans, and refuses bad inputs the same way.
#[test]
fn the_built_wasm_component_plans_the_same_in_the_sandbox() {
    let workspace = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));
    let wasm = capstan_sdk::testkit::wasm::build(workspace, env!("CARGO_PKG_NAME")).unwrap();
    let variant = call(json!({ "output": "splunk", "splunk": { "host": "hec", "token": TOKEN } }))
        .sensitive("/splunk/token");
    assert_eq!(variant.run_wasm(&wasm).unwrap().unwrap(), variant.run::<FluentBit>().unwrap());

    let bad = call(json!({ "output": "splunk", "splunk": { "host": "hec", "token": TOKEN } }));
    assert_eq!(bad.run_wasm(&wasm).unwrap().unwrap_err(), bad.run::<FluentBit>().unwrap_err());
}
