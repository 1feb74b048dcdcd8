//! The built `capstan_plugin_app.wasm` through the real engine host: proves
//! the SDK's export glue and WIT conversions, which only exist in the wasm
//! build, give the same answers as the native crate the other tests run.
//! The test builds the plugin from source (target/wasm) before using it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use capstan_host::{HostConfig, LogSink};

use capstan_plugin_app::App;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, wasm};
use serde_json::json;

fn app_wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        wasm::build(&manifest, "capstan-plugin-app").expect("build the app plugin for wasm32-wasip2")
    })
}

fn wired() -> PlanCall {
    PlanCall::new(json!({
        "image": "registry.example.com/oob/consent:1.4.2", "port": 8080,
        "env": {"LOG_LEVEL": "info", "API_TOKEN": "tok-123"},
        "autoscaling": {"min": 2, "max": 4, "cpu": 75}, "pdb": {"min_available": 1},
        "ingress": {"host": "consent.example.com"}, "service_monitor": {},
        "service_account": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/consent"}},
    }))
    .component("staging", "core", "oob-consent")
    .sensitive("/env/API_TOKEN")
    .dependency(
        "db",
        "postgres",
        json!({"host": "db", "port": 5432, "database": "consent", "user": "consent",
        "password_secret": {"name": "db-consent", "key": "password"}}),
    )
    .dependency("dapr", "dapr", json!({"pubsub": "pubsub", "configuration": "tracing"}))
    .dependency("waf", "waf", json!({"ingress_class": "nginx-waf"}))
    .dependency(
        "certs",
        "cert-manager",
        json!({"issuer": {"kind": "ClusterIssuer", "name": "acme-staging"}}),
    )
}

#[test]
fn the_component_describes_itself_as_the_crate_does() {
    let plugin = wasm::load(app_wasm()).unwrap();
    assert_eq!(plugin.metadata(), &App::metadata());
}

#[test]
fn the_component_plans_exactly_what_the_crate_plans() {
    let call = wired();
    let native = call.run::<App>().unwrap();
    let in_wasm = call.run_wasm(app_wasm()).unwrap().unwrap();
    assert_eq!(in_wasm, native);
    assert_eq!(in_wasm.objects.len(), 9, "with the ServiceAccount and the NetworkPolicy");
}

#[test]
fn a_spiffe_identity_a_vault_login_and_a_plan_warning_cross_the_boundary_unchanged() {
    let spire = json!({"trust_domain": "staging.example", "server_address": "spire-server.spire.svc:8081",
        "workload_api_socket": {"volume": "host-path", "host_path": "/run/spire/agent-sockets",
            "mount_path": "/spiffe-workload-api", "socket_path": "/spiffe-workload-api/spire-agent.sock",
            "endpoint": "unix:///spiffe-workload-api/spire-agent.sock"},
        "apps": {"oob-consent": {"spiffe_id": "spiffe://staging.example/ns/core/sa/oob-consent"}}});
    let vault = json!({"address": "https://openbao.security.svc:8200", "auth": {"jwt": "jwt"},
        "apps": {"oob-consent": {"policy": "capstan-staging-oob-consent", "jwt_role": "oob-consent"}}});
    let app = || {
        PlanCall::new(json!({"image": "x", "port": 8080}))
            .component("staging", "core", "oob-consent")
            .dependency("vault", "vault", vault.clone())
    };
    let identity = app().dependency("spire", "spire", spire);
    let in_wasm = identity.run_wasm(app_wasm()).unwrap().unwrap();
    assert_eq!(in_wasm, identity.run::<App>().unwrap());
    assert!(in_wasm.object("ServiceAccount", "oob-consent").is_some());
    // Without spire the JWT role is no use: a warning, carried as the crate gives it.
    let in_wasm = app().run_wasm(app_wasm()).unwrap().unwrap();
    assert_eq!(in_wasm, app().run::<App>().unwrap());
    assert_eq!(in_wasm.warnings.len(), 1, "{:?}", in_wasm.warnings);
}

#[test]
fn invalid_inputs_cross_the_boundary_as_typed_diagnostics() {
    // Straight to plan, no schema: the plugin's own check, through WIT.
    let request = PlanCall::new(json!({"replicas": 1})).request();
    let err = wasm::run_plan(app_wasm(), &request).unwrap().unwrap_err();
    match err {
        PlanError::InvalidInputs(d) => {
            assert_eq!((d[0].path.as_str(), d[0].message.as_str()), ("/image", "missing field `image`"));
        }
        other => panic!("{other:?}"),
    }
    // Cross-field rules from the plugin's validate export.
    let err = PlanCall::new(json!({"image": "x", "ingress": {"host": "h"}}))
        .run_wasm(app_wasm())
        .unwrap()
        .unwrap_err();
    assert!(matches!(&err, PlanError::InvalidInputs(d) if d[0].path == "/ingress"), "{err:?}");
}

#[test]
fn a_dependency_error_crosses_as_missing_dependency() {
    let err = PlanCall::new(json!({"image": "x"}))
        .dependency("db", "postgres", json!({"port": 5432}))
        .run_wasm(app_wasm())
        .unwrap()
        .unwrap_err();
    assert!(matches!(&err, PlanError::MissingDependency(m) if m.contains("`db`")), "{err:?}");
}

#[test]
fn health_is_answered_by_the_component() {
    let plugin = wasm::load(app_wasm()).unwrap();
    let cx = capstan_host::CallContext::default();
    let ready = json!({"kind": "Deployment", "metadata": {"generation": 3}, "spec": {"replicas": 2},
        "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}});
    assert_eq!(plugin.health(&cx, &ready).unwrap(), Health::Ready);
    let stuck = json!({"kind": "Deployment", "status": {"conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "timed out"}]}});
    assert_eq!(plugin.health(&cx, &stuck).unwrap(), Health::Degraded("timed out".into()));
}

/// Keeps what plugins log, as the engine's sink would receive it.
#[derive(Default)]
struct Captured(Mutex<Vec<String>>);

impl LogSink for Captured {
    fn log(
        &self,
        plugin: &str,
        component: Option<&ComponentId>,
        level: capstan_sdk::capstan_core::LogLevel,
        message: &str,
    ) {
        let component = component.map(ToString::to_string).unwrap_or_default();
        self.0.lock().unwrap().push(format!("{plugin} {component} {level:?}: {message}"));
    }
}

#[test]
fn sdk_log_calls_reach_the_engine_tagged_with_plugin_and_component() {
    let sink = Arc::new(Captured::default());
    let config = HostConfig { pooling: false, log_sink: sink.clone(), ..HostConfig::default() };
    let plugin = wasm::load_with(app_wasm(), config).unwrap();
    let request = PlanCall::new(json!({"image": "x", "replicas": 1, "env": {"DATABASE_HOST": "pgbouncer"},
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}))
    .component("staging", "core", "oob-consent")
    .dependency(
        "db",
        "postgres",
        json!({"host": "db", "port": 5432, "database": "consent", "user": "consent",
            "password_secret": {"name": "db-consent", "key": "password"}}),
    )
    .request();
    let cx = capstan_host::CallContext::for_component(request.component.clone());
    plugin.plan(&cx, &request).unwrap().unwrap();
    let logs = sink.0.lock().unwrap().clone();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        logs,
        [format!(
            "capstan/app {version} staging/core/oob-consent Info: env DATABASE_HOST: the value from inputs replaces the one from dependencies"
        )]
    );
}
