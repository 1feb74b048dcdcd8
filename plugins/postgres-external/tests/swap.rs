//! The swap promise of the `postgres` type: one `apps` config plans on
//! cloudnative-pg, statefulset and external alike, and each backend gives
//! every app the same database, user and password Secret; only the host
//! (and for external, where the server is) differs.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use capstan_plugin_postgres_cloudnative_pg::PostgresCloudNativePg;
use capstan_plugin_postgres_external::PostgresExternal;
use capstan_plugin_postgres_statefulset::PostgresStatefulSet;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, merge};
use serde_json::{Value, json};

fn plan<P: Plugin>(backend_specific: Value, extra_sensitive: &[&str]) -> contracts::postgres::Outputs {
    let mut inputs = json!({
        "apps": {
            "oob-consent": { "password": "c", "extensions": ["pgcrypto"] },
            "payments": { "database": "pay", "password": "p" },
        },
        "default_app": "payments",
    });
    merge(&mut inputs, backend_specific);
    let mut call = PlanCall::new(inputs)
        .component("prod", "opus", "db")
        .sensitive("/apps/oob-consent/password")
        .sensitive("/apps/payments/password");
    for p in extra_sensitive {
        call = call.sensitive(p);
    }
    let plan =
        call.run::<P>().unwrap_or_else(|e| panic!("the shared config must plan on every backend: {e}"));
    let dep =
        Dependency { name: "db".into(), component_type: "postgres".into(), outputs: plan.outputs.into() };
    contracts::read(&dep).unwrap()
}

#[test]
fn one_apps_config_gives_every_app_the_same_access_on_every_backend() {
    let cnpg = plan::<PostgresCloudNativePg>(json!({}), &[]);
    let sts = plan::<PostgresStatefulSet>(json!({ "superuser_password": "s" }), &["/superuser_password"]);
    let ext = plan::<PostgresExternal>(json!({ "db_host": "opus.rds.example.com" }), &[]);

    assert_eq!(cnpg.host, "db-rw.opus.svc");
    assert_eq!(sts.host, "db.opus.svc");
    assert_eq!(ext.host, "opus.rds.example.com");
    for o in [&sts, &ext] {
        assert_eq!(o.port, cnpg.port);
        assert_eq!(
            (&o.database, &o.user, &o.password_secret),
            (&cnpg.database, &cnpg.user, &cnpg.password_secret)
        );
        assert_eq!(o.databases, cnpg.databases);
    }
    assert_eq!(cnpg.access_for("payments").database, "pay");
    assert_eq!(cnpg.access_for("oob-consent").password_secret.name, "db-oob-consent");
}

/// One secrets file serves every backend: the statefulset's superuser
/// password plans on the other two as well, each saying it ignores it.
#[test]
fn the_statefulset_secrets_plan_on_every_backend_and_the_others_say_what_they_ignore() {
    let with_superuser = json!({ "superuser_password": "s" });
    let cnpg = plan::<PostgresCloudNativePg>(with_superuser.clone(), &["/superuser_password"]);
    let ext = plan::<PostgresExternal>(
        json!({ "db_host": "opus.rds.example.com", "superuser_password": "s" }),
        &["/superuser_password"],
    );
    assert_eq!(cnpg.databases, ext.databases);

    // As the engine validates: the plugin's defaults, then the inputs.
    let inputs = |defaults: &Metadata, extra: Value| {
        let mut i = capstan_sdk::testkit::defaults_of(defaults);
        merge(&mut i, json!({ "apps": { "payments": { "password": "p" } }, "superuser_password": "s" }));
        merge(&mut i, extra);
        i
    };
    for (backend, diagnostics) in [
        (
            "cloudnative-pg",
            PostgresCloudNativePg::validate(&inputs(&PostgresCloudNativePg::metadata(), json!({}))),
        ),
        (
            "external",
            PostgresExternal::validate(&inputs(&PostgresExternal::metadata(), json!({ "db_host": "h" }))),
        ),
    ] {
        let ignored: Vec<_> = diagnostics.iter().filter(|d| d.path == "/superuser_password").collect();
        assert_eq!(ignored.len(), 1, "{backend}: {diagnostics:?}");
        assert_eq!(ignored[0].severity, Severity::Warning, "{backend}");
        assert!(ignored[0].message.starts_with(&format!("ignored by the {backend} backend")), "{backend}");
    }
}
