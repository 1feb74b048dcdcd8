//! capstan/postgres-cloudnative-pg through the SDK test kit, and its objects
//! through the upstream CloudNativePG CRD schemas.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use capstan_plugin_testsupport as support;

use capstan_plugin_postgres_cloudnative_pg::PostgresCloudNativePg;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, merge};
use serde_json::{Value, json};

const CONSENT_PW: &str = "consent-s3cret-pw";

fn inputs() -> Value {
    json!({
        "storage": { "size": "20Gi", "class": "gp3" },
        "resources": { "requests": { "cpu": "500m", "memory": "1Gi" }, "limits": { "cpu": "2", "memory": "2Gi" } },
        "parameters": { "max_connections": "200" },
        "apps": {
            "oob-consent": { "password": CONSENT_PW, "extensions": ["pgcrypto"] },
            "payments": { "password": "payments-pw" },
        },
    })
}

fn call(patch: Value) -> PlanCall {
    let mut i = inputs();
    merge(&mut i, patch);
    PlanCall::new(i)
        .component("staging", "opus", "pg")
        .sensitive("/apps/oob-consent/password")
        .sensitive("/apps/payments/password")
}

fn diagnostics(patch: Value) -> Vec<Diagnostic> {
    match call(patch).run::<PostgresCloudNativePg>() {
        Err(PlanError::InvalidInputs(d)) => d,
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<PostgresCloudNativePg>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("postgres", "cloudnative-pg"));
    assert!(m.capabilities.is_empty(), "the operator does the SQL: no capability needed");
}

#[test]
fn renders_a_cluster_with_managed_roles_databases_and_secrets() {
    let plan = call(json!({})).run::<PostgresCloudNativePg>().unwrap();
    assert_eq!(
        plan.object_ids(),
        [
            "Secret/pg-oob-consent",
            "Secret/pg-payments",
            "Cluster/pg",
            "Database/pg-oob-consent",
            "Database/pg-payments"
        ]
    );
    let cluster = plan.expect_object("Cluster", "pg");
    assert_eq!(cluster["apiVersion"], "postgresql.cnpg.io/v1");
    assert_eq!(cluster["metadata"]["labels"]["app.kubernetes.io/managed-by"], "capstan");
    let spec = &cluster["spec"];
    assert_eq!(spec["instances"], 3, "the default");
    assert_eq!(spec["storage"], json!({ "size": "20Gi", "storageClass": "gp3" }));
    assert_eq!(spec["resources"]["limits"]["memory"], "2Gi");
    assert_eq!(spec["postgresql"]["parameters"]["max_connections"], "200");
    assert_eq!(spec["enableSuperuserAccess"], false);
    assert!(spec.get("backup").is_none(), "no backup section unless configured");
    let roles = spec["managed"]["roles"].as_array().unwrap();
    assert_eq!(roles.len(), 2);
    assert_eq!(roles[0]["name"], "oob_consent_user");
    assert_eq!(roles[0]["login"], true);
    assert_eq!(roles[0]["passwordSecret"], json!({ "name": "pg-oob-consent" }));

    let db = plan.expect_object("Database", "pg-oob-consent");
    assert_eq!(
        db["spec"],
        json!({
            "name": "oob_consent", "owner": "oob_consent_user", "cluster": { "name": "pg" },
            "ensure": "present", "databaseReclaimPolicy": "retain",
            "extensions": [{ "name": "pgcrypto", "ensure": "present" }],
        })
    );
    // CloudNativePG reads managed-role passwords from basic-auth Secrets.
    let secret = plan.expect_object("Secret", "pg-oob-consent");
    assert_eq!(secret["type"], "kubernetes.io/basic-auth");
    assert_eq!(secret["stringData"]["username"], "oob_consent_user");
    assert!(plan.effects.is_empty());
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn pg_hba_lets_each_app_user_into_its_own_database_only() {
    // What the lines do on a real server is proven in `pg_hba.rs`; this pins
    // their shape and order (allows first, then rejects, each sorted by app).
    let plan = call(json!({ "apps": { "payments": { "database": "all" } } }))
        .run::<PostgresCloudNativePg>()
        .unwrap();
    let spec = &plan.expect_object("Cluster", "pg")["spec"];
    assert_eq!(
        spec["postgresql"]["pg_hba"],
        json!([
            "hostssl \"oob_consent\" \"oob_consent_user\" all scram-sha-256",
            // Quoted: a database named `all` is that database, not every one.
            "hostssl \"all\" \"all_user\" all scram-sha-256",
            "host all \"oob_consent_user\" all reject",
            "host all \"all_user\" all reject",
        ])
    );
    assert_eq!(spec["postgresql"]["parameters"]["max_connections"], "200", "beside the parameters");
    support::assert_valid(&plan.objects, &[]);

    // Without parameters the pg_hba lines are still rendered.
    let plan = PlanCall::new(json!({ "apps": { "payments": { "password": "payments-pw" } } }))
        .component("staging", "opus", "pg")
        .sensitive("/apps/payments/password")
        .run::<PostgresCloudNativePg>()
        .unwrap();
    let postgresql = &plan.expect_object("Cluster", "pg")["spec"]["postgresql"];
    assert!(postgresql.get("parameters").is_none(), "{postgresql}");
    assert_eq!(
        postgresql["pg_hba"],
        json!([
            "hostssl \"payments\" \"payments_user\" all scram-sha-256",
            "host all \"payments_user\" all reject",
        ])
    );
}

#[test]
fn the_password_appears_only_inside_its_secret() {
    let plan = call(json!({})).run::<PostgresCloudNativePg>().unwrap();
    for object in &plan.objects {
        let text = object.to_string();
        if object["kind"] != "Secret" {
            assert!(!text.contains(CONSENT_PW), "password in {}", object["kind"]);
        }
    }
    assert!(!serde_json::to_string(&plan.outputs).unwrap().contains(CONSENT_PW));
}

#[test]
fn backup_section_when_configured() {
    let plan = call(json!({ "backup": {
        "destination_path": "s3://opus-backups/pg", "endpoint_url": "https://minio.local",
        "s3_credentials_secret": "pg-backup-s3", "retention": "30d",
    } }))
    .run::<PostgresCloudNativePg>()
    .unwrap();
    let backup = &plan.expect_object("Cluster", "pg")["spec"]["backup"];
    assert_eq!(backup["retentionPolicy"], "30d");
    assert_eq!(backup["barmanObjectStore"]["destinationPath"], "s3://opus-backups/pg");
    assert_eq!(backup["barmanObjectStore"]["endpointURL"], "https://minio.local");
    assert_eq!(
        backup["barmanObjectStore"]["s3Credentials"]["secretAccessKey"],
        json!({ "name": "pg-backup-s3", "key": "ACCESS_SECRET_KEY" })
    );
    support::assert_valid(&plan.objects, &[]);

    let iam =
        call(json!({ "backup": { "destination_path": "s3://b/p" } })).run::<PostgresCloudNativePg>().unwrap();
    let creds = &iam.expect_object("Cluster", "pg")["spec"]["backup"]["barmanObjectStore"]["s3Credentials"];
    assert_eq!(creds, &json!({ "inheritFromIAMRole": true }));
    support::assert_valid(&iam.objects, &[]);
}

#[test]
fn outputs_point_at_the_read_write_service() {
    let plan = call(json!({ "default_app": "payments" })).run::<PostgresCloudNativePg>().unwrap();
    assert_eq!(plan.output("host").unwrap(), "pg-rw.opus.svc");
    assert_eq!(plan.output("port").unwrap(), 5432);
    assert_eq!(plan.output("database").unwrap(), "payments");
    assert_eq!(plan.output("password_secret").unwrap()["name"], "pg-payments");
    assert_eq!(plan.output("databases").unwrap()["oob-consent"]["user"], "oob_consent_user");
}

#[test]
fn validate_refuses_what_the_operator_cannot_honour() {
    let d = diagnostics(json!({ "instances": 0 }));
    assert_eq!(d[0].path, "/instances");
    let d = diagnostics(json!({ "storage": { "size": "lots" } }));
    assert_eq!(d[0].path, "/storage/size");
    let d = diagnostics(json!({ "backup": { "destination_path": "/mnt/backups" } }));
    assert_eq!(d[0].path, "/backup/destination_path");
    let d = diagnostics(json!({ "backup": { "destination_path": "s3://b", "retention": "30 days" } }));
    assert_eq!(d[0].path, "/backup/retention");
    let d = diagnostics(json!({ "wal_level": "logical" }));
    assert!(d[0].message.contains("wal_level"), "unknown option refused: {d:?}");
    let d = diagnostics(json!({ "apps": { "payments": { "user": "postgres" } } }));
    assert_eq!(d[0].path, "/apps/payments/user");
}

#[test]
fn the_schema_check_catches_what_validate_would_have_stopped() {
    // Proves the validator can fail: plan without the plugin's own checks and
    // the CRD schema refuses a zero-instance Cluster.
    let mut i = inputs();
    merge(&mut i, json!({ "instances": 0 }));
    let plan = PlanCall::new(i)
        .without_defaults()
        .sensitive("/apps/oob-consent/password")
        .sensitive("/apps/payments/password")
        .run::<PostgresCloudNativePg>()
        .unwrap();
    let report = support::validate(&plan.objects, &[]).unwrap_err();
    assert!(report.contains("Cluster/app: 0 is less than the minimum of 1 at /spec/instances"), "{report}");
}
