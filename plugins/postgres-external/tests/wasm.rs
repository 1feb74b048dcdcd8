//! The three postgres plugins built for wasm32-wasip2 and run through the
//! engine's real host (wasmtime sandbox, limits, WIT conversions): the
//! sandboxed plan equals the native one, sensitive values included, and a
//! refusal comes back as the same typed error.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};

use capstan_plugin_postgres_cloudnative_pg::PostgresCloudNativePg;
use capstan_plugin_postgres_external::PostgresExternal;
use capstan_plugin_postgres_statefulset::PostgresStatefulSet;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, wasm};
use serde_json::json;

fn built(package: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    wasm::build(&manifest, package).unwrap_or_else(|e| panic!("{package}: {e}"))
}

fn call() -> PlanCall {
    PlanCall::new(json!({
        "db_host": "db.example.com",
        "superuser_password": "super",
        "apps": { "consent": { "password": "consent-pw", "extensions": ["pgcrypto"] } },
    }))
    .component("prod", "opus", "db")
    .sensitive("/apps/consent/password")
    .sensitive("/superuser_password")
}

fn same_in_sandbox<P: Plugin>(package: &str, call: PlanCall) {
    let wasm = built(package);
    let native = call.run::<P>().unwrap();
    let sandboxed = call.run_wasm(&wasm).unwrap().unwrap();
    assert_eq!(sandboxed, native, "{package}: the .wasm plans what the Rust code plans");
}

#[test]
fn every_postgres_plugin_plans_the_same_in_the_sandbox() {
    let only = |keep: &[&str]| {
        let mut inputs = call().request().inputs;
        inputs.as_object_mut().unwrap().retain(|k, _| keep.contains(&k.as_str()));
        PlanCall::new(inputs)
            .component("prod", "opus", "db")
            .sensitive("/apps/consent/password")
            .sensitive("/superuser_password")
    };
    same_in_sandbox::<PostgresExternal>("capstan-plugin-postgres-external", only(&["db_host", "apps"]));
    same_in_sandbox::<PostgresCloudNativePg>("capstan-plugin-postgres-cloudnative-pg", only(&["apps"]));
    same_in_sandbox::<PostgresStatefulSet>(
        "capstan-plugin-postgres-statefulset",
        only(&["apps", "superuser_password"]),
    );

    // The SQL effect's password crossed the boundary as a sensitive value.
    let plan =
        only(&["db_host", "apps"]).run_wasm(&built("capstan-plugin-postgres-external")).unwrap().unwrap();
    let EffectKind::Sql(ops) = &plan.effects[0].kind else { panic!() };
    assert!(
        matches!(&ops[0], capstan_sdk::capstan_core::SqlOp::EnsureRole(r) if r.password.as_ref().unwrap().expose() == "consent-pw")
    );
}

#[test]
fn refusals_come_back_from_the_sandbox_as_typed_errors() {
    let wasm = built("capstan-plugin-postgres-external");
    let clear = PlanCall::new(json!({ "db_host": "h", "apps": { "consent": { "password": "pw" } } }));
    match clear.run_wasm(&wasm).unwrap() {
        Err(PlanError::InvalidInputs(d)) => assert_eq!(d[0].path, "/apps/consent/password"),
        other => panic!("expected invalid inputs, got {other:?}"),
    }
    let bad = PlanCall::new(
        json!({ "db_host": "h", "privileges": ["SUPERUSER"], "apps": { "c": { "password": "pw" } } }),
    )
    .sensitive("/apps/c/password");
    match bad.run_wasm(&wasm).unwrap() {
        Err(PlanError::InvalidInputs(d)) => assert_eq!(d[0].path, "/privileges/0"),
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}
