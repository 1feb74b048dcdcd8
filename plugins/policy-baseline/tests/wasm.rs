//! The built `capstan_plugin_policy_baseline.wasm` through the real engine
//! host: proves the SDK's policy export glue and WIT conversions, which only
//! exist in the wasm build, give the same answers as the native crate the
//! unit tests run. The test builds the policy from source (target/wasm).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use capstan_plugin_policy_baseline::Baseline;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{CheckCall, CheckError, ViolationsExt, wasm};
use serde_json::{Value, json};

fn policy_wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        wasm::build(&manifest, "capstan-plugin-policy-baseline").expect("build the policy for wasm32-wasip2")
    })
}

/// A Deployment breaking several rules, an autoscaler without a budget, and
/// a Secret (whose values the policy must not see).
fn objects() -> Vec<Value> {
    vec![
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "core"},
            "spec": {"template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{
                "name": "api", "image": "nginx",
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1"}},
                "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": false,
                                    "capabilities": {"drop": ["ALL"]}},
            }]}}}
        }),
        json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "api", "namespace": "core"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                     "minReplicas": 2, "maxReplicas": 4}
        }),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "core"},
               "data": {"password": "aHVudGVyMg=="}}),
    ]
}

#[test]
fn the_component_describes_itself_as_the_crate_does() {
    let plugin = wasm::load(policy_wasm()).unwrap();
    assert!(plugin.is_policy());
    assert_eq!(plugin.metadata(), &Baseline::metadata());
}

#[test]
fn the_component_finds_exactly_what_the_crate_finds() {
    let call = CheckCall::new(objects()).params(json!({"allowed_registries": ["ghcr.io/acme/"]}));
    let native = call.run::<Baseline>().unwrap();
    let in_wasm = call.run_wasm(policy_wasm()).unwrap().unwrap();
    assert_eq!(in_wasm, native);
    assert_eq!(
        in_wasm.rules_broken(),
        vec!["resources", "run-as-non-root", "no-latest-tag", "allowed-registries", "probes", "pdb-for-hpa"]
    );
    assert_eq!(in_wasm.at("resources"), vec![(0, "/spec/template/spec/containers/0/resources/limits")]);
}

#[test]
fn params_the_policy_cannot_use_are_its_error_through_wit() {
    let call = CheckCall::new(objects()).params(json!({"rules": "all"})).without_defaults();
    let err = call.run_wasm(policy_wasm()).unwrap().unwrap_err();
    assert!(matches!(&err, CheckError::Failed(m) if m.starts_with("params at /rules")), "{err}");
}
