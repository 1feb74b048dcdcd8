//! The plan's SQL effects, carried out by the engine's SQL executor
//! (capstan-sql) on the real PostgreSQL server of this machine
//! (127.0.0.1:5432, user postgres): what `capstan apply` does for this plugin.
//!
//! The local server trusts loopback connections, so a login would succeed
//! with any password; the tests check the stored SCRAM verifier instead,
//! which is exactly what password authentication compares against.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::process::Command;

use capstan_plugin_postgres_external::PostgresExternal;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::PlanCall;
use capstan_sql::{SqlConnection, SqlExecutor, verifier_matches};
use serde_json::{Value, json};

const URL: &str = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";

fn query(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-tAc", sql])
        .output()
        .expect("psql runs");
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn plan(db: &str, user: &str, password: &str) -> ComponentPlan {
    PlanCall::new(json!({
        "db_host": "127.0.0.1",
        "connection": "local",
        "apps": { "consent": { "database": db, "user": user, "password": password, "extensions": ["pgcrypto"] } },
    }))
    .sensitive("/apps/consent/password")
    .run::<PostgresExternal>()
    .unwrap()
}

async fn apply(plan: &ComponentPlan) -> Vec<Value> {
    let executor = SqlExecutor::new(SqlConnection::from_url("local", &Sensitive::new(URL)).unwrap());
    let mut results = Vec::new();
    for effect in &plan.effects {
        let result =
            executor.apply(effect).await.unwrap_or_else(|e| panic!("effect {} failed: {e}", effect.id));
        results.push(result.body);
    }
    results
}

#[tokio::test]
async fn apply_creates_owns_and_grants_then_is_a_no_op_then_rotates() {
    let tag = format!("x{}", std::process::id());
    let (db, user) = (format!("capstan_{tag}_db"), format!("capstan_{tag}_user"));

    let first = apply(&plan(&db, &user, "first-pw")).await;
    assert_eq!(first[0]["changed"], true, "{first:?}");
    let stored = query("postgres", &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'"));
    assert!(verifier_matches("first-pw", &stored), "the role's password is the one from the secrets file");
    assert_eq!(query("postgres", &format!("SELECT rolcanlogin FROM pg_roles WHERE rolname = '{user}'")), "t");
    assert_eq!(
        query("postgres", &format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}'")),
        user
    );
    assert_eq!(query(&db, "SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'"), "pgcrypto");
    assert_eq!(query("postgres", &format!("SELECT has_database_privilege('{user}', '{db}', 'CREATE')")), "t");

    let second = apply(&plan(&db, &user, "first-pw")).await;
    assert_eq!(second[0]["changed"], false, "a second apply changes nothing: {second:?}");

    let third = apply(&plan(&db, &user, "rotated-pw")).await;
    assert_eq!(third[0]["changed"], true);
    let stored = query("postgres", &format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'"));
    assert!(verifier_matches("rotated-pw", &stored) && !verifier_matches("first-pw", &stored), "rotated");
    assert!(!third[0].to_string().contains("rotated-pw"), "results hold no password");

    // The executor's sessions may not have closed yet.
    query("postgres", &format!("DROP DATABASE {db} WITH (FORCE)"));
    query("postgres", &format!("DROP ROLE {user}"));
}
