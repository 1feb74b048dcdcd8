//! capstan/postgres-statefulset through the SDK test kit, its objects through
//! the Kubernetes 1.30 schemas, and its init script through the real
//! PostgreSQL server on this machine (127.0.0.1:5432, user postgres).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use capstan_plugin_testsupport as support;

use std::process::Command;

use capstan_plugin_postgres_statefulset::PostgresStatefulSet;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, container_env, merge};
use serde_json::{Value, json};

const SUPER_PW: &str = "super-s3cret";
const CONSENT_PW: &str = "consent-s3cret-pw";

fn call(patch: Value) -> PlanCall {
    let mut i = json!({
        "superuser_password": SUPER_PW,
        "storage": { "class": "standard" },
        "apps": {
            "oob-consent": { "password": CONSENT_PW, "extensions": ["pgcrypto"] },
            "payments": { "password": "payments-pw" },
        },
    });
    merge(&mut i, patch);
    PlanCall::new(i)
        .component("staging", "opus", "pg")
        .sensitive("/superuser_password")
        .sensitive("/apps/oob-consent/password")
        .sensitive("/apps/payments/password")
}

fn diagnostics(patch: Value) -> Vec<Diagnostic> {
    match call(patch).run::<PostgresStatefulSet>() {
        Err(PlanError::InvalidInputs(d)) => d,
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

fn job(plan: &ComponentPlan) -> &Value {
    let jobs = plan.objects_of_kind("Job");
    assert_eq!(jobs.len(), 1, "{:?}", plan.object_ids());
    jobs[0]
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<PostgresStatefulSet>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("postgres", "statefulset"));
}

#[test]
fn renders_server_services_secrets_and_init_job() {
    let plan = call(json!({})).run::<PostgresStatefulSet>().unwrap();
    let ids = plan.object_ids();
    let job_name = job(&plan)["metadata"]["name"].as_str().unwrap().to_owned();
    assert!(job_name.starts_with("pg-init-") && job_name.len() == "pg-init-".len() + 10, "{job_name}");
    assert_eq!(
        ids,
        [
            "Secret/pg-superuser".to_owned(),
            "Secret/pg-oob-consent".into(),
            "Secret/pg-payments".into(),
            "Service/pg-headless".into(),
            "Service/pg".into(),
            "StatefulSet/pg".into(),
            format!("ConfigMap/{job_name}"),
            format!("Job/{job_name}"),
        ]
    );
    let sts = plan.expect_object("StatefulSet", "pg");
    assert_eq!(sts["spec"]["replicas"], 1);
    assert_eq!(sts["spec"]["serviceName"], "pg-headless");
    let pod = &sts["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 999);
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "postgres:16.4");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["readinessProbe"]["exec"]["command"][0], "pg_isready");
    assert_eq!(c["resources"]["limits"]["memory"], "1Gi");
    assert_eq!(
        container_env(sts, "POSTGRES_PASSWORD").unwrap()["valueFrom"]["secretKeyRef"],
        json!({ "name": "pg-superuser", "key": "password" })
    );
    let claim = &sts["spec"]["volumeClaimTemplates"][0];
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "10Gi");
    assert_eq!(claim["spec"]["storageClassName"], "standard");
    assert_eq!(plan.expect_object("Service", "pg-headless")["spec"]["clusterIP"], "None");

    // The Job's pod must not be selected by the server's Services.
    let selector = &plan.expect_object("Service", "pg")["spec"]["selector"];
    let job_labels = &job(&plan)["spec"]["template"]["metadata"]["labels"];
    assert_ne!(job_labels["app.kubernetes.io/component"], selector["app.kubernetes.io/component"]);
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn passwords_reach_the_job_only_through_secret_references() {
    let plan = call(json!({})).run::<PostgresStatefulSet>().unwrap();
    for object in plan.objects.iter().filter(|o| o["kind"] != "Secret") {
        let text = object.to_string();
        assert!(!text.contains(CONSENT_PW) && !text.contains(SUPER_PW), "password in {}", object["kind"]);
    }
    let j = job(&plan);
    assert_eq!(
        container_env(j, "APP_PASSWORD_0").unwrap()["valueFrom"]["secretKeyRef"],
        json!({ "name": "pg-oob-consent", "key": "password" })
    );
    assert_eq!(plan.output("host").unwrap(), "pg.opus.svc");
    assert_eq!(plan.output("password_secret").unwrap()["name"], "pg-oob-consent");
}

#[test]
fn the_job_changes_when_a_password_or_an_app_changes_and_only_then() {
    let name = |patch: Value| {
        let plan = call(patch).sensitive("/apps/billing/password").run::<PostgresStatefulSet>().unwrap();
        job(&plan)["metadata"]["name"].as_str().unwrap().to_owned()
    };
    let base = name(json!({}));
    assert_eq!(base, name(json!({})), "the same config plans the same Job");
    assert_ne!(base, name(json!({ "apps": { "payments": { "password": "rotated" } } })));
    assert_ne!(base, name(json!({ "apps": { "billing": { "password": "b" } } })));
    assert_eq!(
        base,
        name(json!({ "resources": { "limits": { "cpu": "2" } } })),
        "server sizing is not the Job's business"
    );
}

#[test]
fn validate_refuses_replicas_it_cannot_honour() {
    let d = diagnostics(json!({ "replicas": 0 }));
    assert_eq!(d[0].path, "/replicas");
    let d = diagnostics(json!({ "replicas": 3 }));
    assert_eq!(d[0].path, "/replicas");
    assert!(d[0].message.contains("cloudnative-pg"), "{}", d[0].message);
    let d = diagnostics(json!({ "instances": 3 }));
    assert!(d[0].message.contains("instances"), "unknown option refused: {d:?}");
    let clear = PlanCall::new(call(json!({})).request().inputs)
        .sensitive("/apps/oob-consent/password")
        .sensitive("/apps/payments/password")
        .run::<PostgresStatefulSet>();
    assert!(matches!(clear, Err(PlanError::InvalidInputs(d)) if d[0].path == "/superuser_password"));
}

// ---- the init script against the real server ---------------------------

fn psql(args: &[&str], env: &[(String, String)]) -> std::process::Output {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("psql runs (PostgreSQL client)")
}

fn query(sql: &str) -> String {
    let out = psql(&["-tAc", sql], &[]);
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn the_init_script_creates_owns_rotates_and_is_idempotent_on_a_real_server() {
    // Unique names so parallel or repeated runs do not collide.
    let tag = format!("t{}", std::process::id());
    let (db, user) = (format!("capstan_{tag}_db"), format!("capstan_{tag}_user"));
    let run_with = |password: &str| {
        let plan = PlanCall::new(json!({
            "superuser_password": SUPER_PW,
            "apps": { "oob-consent": {
                "database": db, "user": user, "password": password, "extensions": ["pgcrypto"],
            } },
        }))
        .sensitive("/superuser_password")
        .sensitive("/apps/oob-consent/password")
        .run::<PostgresStatefulSet>()
        .unwrap();
        let script = plan.objects_of_kind("ConfigMap")[0]["data"]["init.sql"].as_str().unwrap().to_owned();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &script).unwrap();
        let out = psql(&["-f", file.path().to_str().unwrap()], &[("APP_PASSWORD_0".into(), password.into())]);
        assert!(out.status.success(), "script failed:\n{script}\n{}", String::from_utf8_lossy(&out.stderr));
        query(&format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'"))
    };

    let first = run_with("first-pw");
    assert!(first.starts_with("SCRAM-SHA-256$"), "password set: {first}");
    assert_eq!(
        query(&format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{db}'")),
        user
    );
    assert_eq!(query(&format!("SELECT rolcanlogin FROM pg_roles WHERE rolname = '{user}'")), "t");
    let ext = psql(&["-d", &db, "-tAc", "SELECT extname FROM pg_extension WHERE extname = 'pgcrypto'"], &[]);
    assert_eq!(String::from_utf8_lossy(&ext.stdout).trim(), "pgcrypto");

    // Again with the same password: no error, database and owner unchanged.
    run_with("first-pw");
    assert_eq!(query(&format!("SELECT count(*) FROM pg_database WHERE datname = '{db}'")), "1");
    // A new password is rotated (SCRAM salts differ, so compare verifiers).
    let rotated = run_with("second-pw");
    assert_ne!(first, rotated);

    query(&format!("DROP DATABASE {db}"));
    query(&format!("DROP ROLE {user}"));
}

#[test]
fn the_init_script_fails_loudly_without_the_password_variable() {
    let plan = call(json!({})).run::<PostgresStatefulSet>().unwrap();
    let script = plan.objects_of_kind("ConfigMap")[0]["data"]["init.sql"].as_str().unwrap().to_owned();
    assert!(script.contains("\\getenv password APP_PASSWORD_0"), "{script}");
    assert!(!script.contains(CONSENT_PW));
    query("DROP ROLE IF EXISTS capstan_never_created_user");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), script.replace("oob_consent", "capstan_never_created")).unwrap();
    let out = psql(&["-f", file.path().to_str().unwrap()], &[]);
    assert!(!out.status.success(), "an unset password variable must stop the script");
    assert_eq!(query("SELECT count(*) FROM pg_roles WHERE rolname = 'capstan_never_created_user'"), "0");
}

/// Connects as `user` (password auth over TCP, as the app would) and runs a
/// trivial query, returning psql's output.
fn connect_as(user: &str, password: &str, db: &str) -> std::process::Output {
    Command::new("psql")
        .args(["-X", "-h", "127.0.0.1", "-U", user, "-d", db, "-tAc", "SELECT current_user"])
        .env("PGPASSWORD", password)
        .output()
        .expect("psql runs (PostgreSQL client)")
}

#[test]
fn each_app_connects_to_its_own_database_and_is_refused_on_another() {
    let tag = format!("t{}", std::process::id());
    let (db_a, user_a) = (format!("capstan_{tag}_iso_a_db"), format!("capstan_{tag}_iso_a_user"));
    let (db_b, user_b) = (format!("capstan_{tag}_iso_b_db"), format!("capstan_{tag}_iso_b_user"));
    let plan = PlanCall::new(json!({
        "superuser_password": SUPER_PW,
        "apps": {
            "a": { "database": db_a, "user": user_a, "password": "a-pw" },
            "b": { "database": db_b, "user": user_b, "password": "b-pw" },
        },
    }))
    .sensitive("/superuser_password")
    .sensitive("/apps/a/password")
    .sensitive("/apps/b/password")
    .run::<PostgresStatefulSet>()
    .unwrap();
    let script = plan.objects_of_kind("ConfigMap")[0]["data"]["init.sql"].as_str().unwrap().to_owned();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &script).unwrap();
    let env =
        [("APP_PASSWORD_0".to_owned(), "a-pw".to_owned()), ("APP_PASSWORD_1".to_owned(), "b-pw".to_owned())];
    // Twice: the second run must converge, not fail or re-open access.
    for _ in 0..2 {
        let out = psql(&["-f", file.path().to_str().unwrap()], &env);
        assert!(out.status.success(), "script failed:\n{script}\n{}", String::from_utf8_lossy(&out.stderr));
    }

    for (user, pw, own, other) in [(&user_a, "a-pw", &db_a, &db_b), (&user_b, "b-pw", &db_b, &db_a)] {
        let ok = connect_as(user, pw, own);
        assert!(ok.status.success(), "{user} on {own}: {}", String::from_utf8_lossy(&ok.stderr));
        assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), user.as_str());
        let refused = connect_as(user, pw, other);
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success() && err.contains("permission denied for database"),
            "{user} on {other}: {err}"
        );
    }
    // Nor can any other role reach them through PUBLIC.
    assert_eq!(
        query(&format!(
            "SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a
             WHERE d.datname IN ('{db_a}', '{db_b}') AND a.grantee = 0"
        )),
        "0"
    );

    query(&format!("DROP DATABASE {db_a}"));
    query(&format!("DROP DATABASE {db_b}"));
    query(&format!("DROP ROLE {user_a}"));
    query(&format!("DROP ROLE {user_b}"));
}
