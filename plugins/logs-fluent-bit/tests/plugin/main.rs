//! The fluent-bit logs plugin, planned through the SDK test kit as the engine
//! would plan it (defaults merged, schema and `validate` checked), and every
//! rendered object validated against the Kubernetes 1.30 schemas.
//!
//! Modules:
//! - `config_keys`: every key of the rendered fluent-bit config against the
//!   keys fluent-bit documents for each plugin;
//! - `forward`: the forward input, its shared key and TLS, and the outputs a
//!   client pushing logs reads.
#![allow(clippy::unwrap_used, reason = "tests")]

mod config_keys;
mod forward;

use capstan_plugin_logs_fluent_bit::FluentBit;
use capstan_plugin_testsupport::assert_valid_manifests;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, container_env, invalid_inputs};
use serde_json::{Value, json};

const TOKEN: &str = "hec-0f1e2d3c-not-a-real-token";

fn call(inputs: Value) -> PlanCall {
    PlanCall::new(inputs).component("staging", "logging", "fluent-bit")
}

fn config_of(plan: &capstan_core::ComponentPlan) -> String {
    plan.expect_object("ConfigMap", "fluent-bit")["data"]["fluent-bit.conf"].as_str().unwrap().to_owned()
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
    assert_eq!(value(&section_of(&cfg, "INPUT", "tail"), "multiline.parser"), Some("docker, cri"));
    section_of(&cfg, "FILTER", "kubernetes");
    assert_eq!(
        value(&section_of(&cfg, "OUTPUT", "stdout"), "Format"),
        Some("json_lines"),
        "the default output"
    );
    assert_eq!(value(&section_of(&cfg, "FILTER", "modify"), "Add"), Some("environment staging"));
    let parsers = plan.expect_object("ConfigMap", "fluent-bit")["data"]["parsers.conf"].as_str().unwrap();
    section_of(parsers, "PARSER", "cri");
    section_of(parsers, "PARSER", "docker");

    assert_eq!(plan.output("collector_endpoint"), Some(&json!("")), "the forward input is off by default");
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
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
    let loki = section_of(&cfg, "OUTPUT", "loki");
    assert_eq!(value(&loki, "Host"), Some("loki-gateway.logging.svc.cluster.local"));
    assert_eq!(value(&loki, "Port"), Some("3100"));
    assert_eq!(
        value(&loki, "Labels"),
        Some(
            "job=fluent-bit, environment=$environment, namespace=$namespace, \
             app=$app, container=$container, cluster=br-1"
        ),
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
    let es = section_of(&cfg, "OUTPUT", "es");
    assert_eq!(value(&es, "Index"), Some("oof-logs"));
    assert_eq!(value(&es, "Port"), Some("9200"));
    assert_eq!(value(&es, "HTTP_Passwd"), Some("${OUTPUT_HTTP_PASSWORD}"));
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
    let splunk = section_of(&cfg, "OUTPUT", "splunk");
    assert_eq!(value(&splunk, "Splunk_Token"), Some("${SPLUNK_HEC_TOKEN}"));
    assert_eq!(value(&splunk, "Event_Index"), Some("open_finance"));

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
    let d = invalid_inputs(err);
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
    assert_eq!(invalid_inputs(err)[0].0, "/splunk/token");
}

#[test]
fn choosing_an_output_without_its_section_names_the_missing_section() {
    let err = call(json!({ "output": "loki" })).run::<FluentBit>().unwrap_err();
    let d = invalid_inputs(err);
    assert_eq!(d[0].0, "/loki");
    assert!(d[0].1.contains("no `loki` section"), "{}", d[0].1);
}

#[test]
fn an_unknown_output_is_a_schema_error_at_output() {
    let err = call(json!({ "output": "kafka" })).run::<FluentBit>().unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/output");
}

#[test]
fn values_that_would_break_the_config_file_are_refused() {
    let err = call(json!({
        "output": "loki",
        "loki": { "host": "loki\n[OUTPUT]", "labels": { "bad-name": "x" } },
    }))
    .run::<FluentBit>()
    .unwrap_err();
    let paths: Vec<String> = invalid_inputs(err).into_iter().map(|d| d.0).collect();
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

/// Lines of the `[kind]` section whose `Name` is `name` (`""` for
/// `[SERVICE]`), as (key, value).
fn section_of(cfg: &str, kind: &str, name: &str) -> Vec<(String, String)> {
    cfg.split("\n\n")
        .filter(|s| s.trim_start().starts_with(&format!("[{kind}]")))
        .map(|s| {
            s.lines()
                .skip(1)
                .filter_map(|l| l.trim().split_once(' ').map(|(k, v)| (k.to_owned(), v.trim().to_owned())))
                .collect::<Vec<_>>()
        })
        .find(|kv| value(kv, "Name").unwrap_or_default() == name)
        .unwrap_or_else(|| panic!("no [{kind}] {name} in\n{cfg}"))
}

fn value<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kv.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A shell glob with `*` only, as fluent-bit's `Exclude_Path` uses here.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| glob(rest, &text[head.len() + i..]))
        }
    }
}

#[test]
fn every_output_retries_a_bounded_number_of_times_into_a_bounded_disk_queue() {
    let outputs = [
        ("stdout", call(json!({}))),
        ("loki", call(json!({ "output": "loki", "loki": { "host": "loki" } }))),
        ("es", call(json!({ "output": "elasticsearch", "elasticsearch": { "host": "es", "index": "i" } }))),
        (
            "splunk",
            call(json!({ "output": "splunk", "splunk": { "host": "hec", "token": TOKEN } }))
                .sensitive("/splunk/token"),
        ),
    ];
    for (name, call) in outputs {
        let cfg = config_of(&call.run::<FluentBit>().unwrap());
        let output = section_of(&cfg, "OUTPUT", name);
        assert_eq!(value(&output, "Retry_Limit"), Some("10"), "{name}:\n{cfg}");
        assert_eq!(value(&output, "storage.total_limit_size"), Some("1G"), "{name}:\n{cfg}");
        assert_eq!(value(&section_of(&cfg, "INPUT", "tail"), "storage.type"), Some("filesystem"));
        assert_eq!(value(&section_of(&cfg, "SERVICE", ""), "storage.max_chunks_up"), Some("32"));
    }

    let cfg = config_of(
        &call(json!({ "buffer": { "total_limit_size": "5G", "retry_limit": 3, "max_chunks_up": 64 } }))
            .run::<FluentBit>()
            .unwrap(),
    );
    let output = section_of(&cfg, "OUTPUT", "stdout");
    assert_eq!(value(&output, "Retry_Limit"), Some("3"));
    assert_eq!(value(&output, "storage.total_limit_size"), Some("5G"));
    assert_eq!(value(&section_of(&cfg, "SERVICE", ""), "storage.max_chunks_up"), Some("64"));
}

#[test]
fn buffer_sizes_that_are_not_fluent_bit_unit_sizes_are_refused() {
    let err = call(json!({ "mem_buf_limit": "lots", "buffer": { "total_limit_size": "1 TB" } }))
        .run::<FluentBit>()
        .unwrap_err();
    let paths: Vec<String> = invalid_inputs(err).into_iter().map(|d| d.0).collect();
    assert_eq!(paths, ["/mem_buf_limit", "/buffer/total_limit_size"]);
    let err = call(json!({ "buffer": { "retry_limit": 0 } })).run::<FluentBit>().unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/buffer/retry_limit", "retrying forever is not on offer");
}

#[test]
fn the_collectors_own_log_is_not_tailed() {
    let plan = call(json!({})).run::<FluentBit>().unwrap();
    let tail = section_of(&config_of(&plan), "INPUT", "tail");
    let exclude = value(&tail, "Exclude_Path").unwrap();
    assert_eq!(exclude, "/var/log/containers/fluent-bit-*_logging_fluent-bit-*.log");
    let ds = plan.expect_object("DaemonSet", "fluent-bit");
    assert_eq!(ds.pointer("/spec/template/spec/containers/0/name"), Some(&json!("fluent-bit")));
    // The kubelet's name for the log of one of the DaemonSet's pods, and of others.
    assert!(glob(exclude, "/var/log/containers/fluent-bit-x7k2p_logging_fluent-bit-0123abcd.log"));
    assert!(!glob(exclude, "/var/log/containers/fluent-bit-x7k2p_payments_fluent-bit-0123abcd.log"));
    assert!(!glob(exclude, "/var/log/containers/api-5d8f-x7k2p_logging_api-0123abcd.log"));
}

#[test]
fn stack_traces_are_joined_only_for_the_languages_asked_for_by_the_first_filter() {
    let cfg = config_of(&call(json!({})).run::<FluentBit>().unwrap());
    assert_eq!(cfg.matches("[FILTER]").count(), 4, "no multiline filter by default:\n{cfg}");
    assert_eq!(value(&section_of(&cfg, "INPUT", "tail"), "multiline.parser"), Some("docker, cri"));

    let cfg = config_of(
        &call(json!({ "multiline_languages": ["java", "python", "java"] })).run::<FluentBit>().unwrap(),
    );
    let filter = section_of(&cfg, "FILTER", "multiline");
    assert_eq!(value(&filter, "multiline.parser"), Some("java, python"), "one filter, each parser once");
    assert_eq!(value(&filter, "multiline.key_content"), Some("log"));
    assert_eq!(value(&filter, "emitter_mem_buf_limit"), Some("50MB"));
    assert_eq!(cfg.matches("[FILTER]").count(), 5, "{cfg}");
    assert!(
        cfg.find("multiline.key_content").unwrap() < cfg.find("Kube_URL").unwrap(),
        "the multiline filter comes first:\n{cfg}"
    );

    let err = call(json!({ "multiline_languages": ["cobol"] })).run::<FluentBit>().unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/multiline_languages/0");
}

#[test]
fn the_collector_runs_locked_down_with_a_cpu_limit() {
    let plan = call(json!({})).run::<FluentBit>().unwrap();
    let ds = plan.expect_object("DaemonSet", "fluent-bit");
    let container = ds.pointer("/spec/template/spec/containers/0").unwrap();
    assert_eq!(
        container["securityContext"],
        json!({
            "runAsUser": 0,
            "runAsNonRoot": false,
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "capabilities": { "drop": ["ALL"] },
            "seccompProfile": { "type": "RuntimeDefault" },
        })
    );
    assert_eq!(
        container["resources"],
        json!({ "requests": { "cpu": "50m", "memory": "64Mi" }, "limits": { "cpu": "500m", "memory": "256Mi" } })
    );
    // The read-only root filesystem leaves one writable path: the state
    // directory that holds the tail offsets and the disk buffer.
    let writable: Vec<&Value> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.get("readOnly") != Some(&json!(true)))
        .collect();
    assert_eq!(writable, [&json!({ "name": "state", "mountPath": "/var/fluent-bit/state" })]);
    let cfg = config_of(&plan);
    assert_eq!(
        value(&section_of(&cfg, "SERVICE", ""), "storage.path"),
        Some("/var/fluent-bit/state/flb-storage/")
    );
    assert_eq!(value(&section_of(&cfg, "INPUT", "tail"), "DB"), Some("/var/fluent-bit/state/flb_kube.db"));

    let plan = call(json!({ "run_as_user": 10001 })).run::<FluentBit>().unwrap();
    let sc = &plan.expect_object("DaemonSet", "fluent-bit")["spec"]["template"]["spec"]["containers"][0]["securityContext"];
    assert_eq!((&sc["runAsUser"], &sc["runAsNonRoot"]), (&json!(10001), &json!(true)));
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
        // TLS by default: the private CA, the certificate, the mounted Secret and the reloader.
        call(json!({
            "forward": { "enabled": true, "port": 24224, "shared_key": "k" },
            "multiline_languages": ["java", "go"],
            "run_as_user": 10001,
        }))
        .sensitive("/forward/shared_key"),
        call(json!({ "forward": { "enabled": true, "port": 24224,
            "tls": { "issuer": { "kind": "ClusterIssuer", "name": "internal-ca" } } } })),
        call(json!({ "forward": { "enabled": true, "port": 24224, "tls": { "enabled": false } } })),
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
    // The forward input's certificate, sidecar and outputs too.
    let forward = call(json!({ "forward": { "enabled": true, "port": 24224, "shared_key": "k" } }))
        .sensitive("/forward/shared_key");
    assert_eq!(forward.run_wasm(&wasm).unwrap().unwrap(), forward.run::<FluentBit>().unwrap());

    let bad = call(json!({ "output": "splunk", "splunk": { "host": "hec", "token": TOKEN } }));
    assert_eq!(bad.run_wasm(&wasm).unwrap().unwrap_err(), bad.run::<FluentBit>().unwrap_err());
}
