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
