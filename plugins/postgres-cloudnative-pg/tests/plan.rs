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
        "s3_credentials_secret": "pg-backup-s3", "retention": "14d",
    } }))
    .run::<PostgresCloudNativePg>()
    .unwrap();
    let backup = &plan.expect_object("Cluster", "pg")["spec"]["backup"];
    assert_eq!(backup["retentionPolicy"], "14d");
    assert_eq!(backup["barmanObjectStore"]["destinationPath"], "s3://opus-backups/pg");
    assert_eq!(backup["barmanObjectStore"]["endpointURL"], "https://minio.local");
    assert_eq!(
        backup["barmanObjectStore"]["s3Credentials"]["secretAccessKey"],
        json!({ "name": "pg-backup-s3", "key": "ACCESS_SECRET_KEY" })
    );
    support::assert_valid(&plan.objects, &[]);

    let iam =
        call(json!({ "backup": { "destination_path": "s3://b/p" } })).run::<PostgresCloudNativePg>().unwrap();
    let backup = &iam.expect_object("Cluster", "pg")["spec"]["backup"];
    assert_eq!(backup["barmanObjectStore"]["s3Credentials"], json!({ "inheritFromIAMRole": true }));
    assert_eq!(backup["retentionPolicy"], "30d", "a window by default: without one the store only grows");
    support::assert_valid(&iam.objects, &[]);
}

#[test]
fn a_backup_destination_brings_a_daily_scheduled_backup() {
    let plan =
        call(json!({ "backup": { "destination_path": "s3://b/p" } })).run::<PostgresCloudNativePg>().unwrap();
    assert!(plan.object_ids().contains(&"ScheduledBackup/pg".to_owned()), "{:?}", plan.object_ids());
    let scheduled = plan.expect_object("ScheduledBackup", "pg");
    assert_eq!(scheduled["apiVersion"], "postgresql.cnpg.io/v1");
    assert_eq!(
        scheduled["spec"],
        json!({
            "cluster": { "name": "pg" },
            "schedule": "0 0 0 * * *",
            "immediate": true,
            "method": "barmanObjectStore",
            "backupOwnerReference": "self",
        })
    );
    support::assert_valid(&plan.objects, &[]);

    let hourly = call(json!({ "backup": { "destination_path": "s3://b/p", "schedule": "0 0 * * * *", "immediate": false } }))
        .run::<PostgresCloudNativePg>()
        .unwrap();
    let spec = &hourly.expect_object("ScheduledBackup", "pg")["spec"];
    assert_eq!((spec["schedule"].as_str(), spec["immediate"].as_bool()), (Some("0 0 * * * *"), Some(false)));

    // No destination, no schedule: a ScheduledBackup without an object store fails in the operator.
    let none = call(json!({})).run::<PostgresCloudNativePg>().unwrap();
    assert!(k8s::find(&none.objects, "ScheduledBackup", "pg").is_none());

    // Control: the CRD is loaded and can refuse a ScheduledBackup (here, one without its schedule).
    let mut broken = scheduled.clone();
    broken["spec"].as_object_mut().unwrap().remove("schedule");
    let report = support::validate(&[broken], &[]).unwrap_err();
    assert!(report.contains("ScheduledBackup/pg") && report.contains("schedule"), "{report}");
}

#[test]
fn a_crontab_line_without_seconds_is_refused() {
    let d = diagnostics(json!({ "backup": { "destination_path": "s3://b/p", "schedule": "0 3 * * *" } }));
    assert_eq!(d[0].path, "/backup/schedule");
    assert!(d[0].message.contains("has 5 fields") && d[0].message.contains("seconds first"), "{d:?}");
}

#[test]
fn resources_default_to_guaranteed_qos_and_each_can_be_overridden() {
    let mut without = inputs();
    without.as_object_mut().unwrap().remove("resources");
    let plan = PlanCall::new(without.clone())
        .component("staging", "opus", "pg")
        .sensitive("/apps/oob-consent/password")
        .sensitive("/apps/payments/password")
        .run::<PostgresCloudNativePg>()
        .unwrap();
    let resources = &plan.expect_object("Cluster", "pg")["spec"]["resources"];
    assert_eq!(
        resources,
        &json!({ "requests": { "cpu": "1", "memory": "1Gi" }, "limits": { "cpu": "1", "memory": "1Gi" } }),
        "requests equal limits: Guaranteed QoS"
    );
    support::assert_valid(&plan.objects, &[]);

    // One quantity overridden, the others keep their defaults.
    merge(&mut without, json!({ "resources": { "limits": { "memory": "4Gi" } } }));
    let plan = PlanCall::new(without)
        .sensitive("/apps/oob-consent/password")
        .sensitive("/apps/payments/password")
        .run::<PostgresCloudNativePg>()
        .unwrap();
    let resources = &plan.expect_object("Cluster", "app")["spec"]["resources"];
    assert_eq!(
        (resources["limits"]["memory"].as_str(), resources["requests"]["memory"].as_str()),
        (Some("4Gi"), Some("1Gi"))
    );

    let d = diagnostics(
        json!({ "resources": { "requests": { "memory": "4Gi" }, "limits": { "memory": "2Gi" } } }),
    );
    assert_eq!(d[0].path, "/resources/requests/memory", "{d:?}");
    assert!(d[0].message.contains("above its limit"), "{d:?}");
}

#[test]
fn recovery_bootstraps_from_another_clusters_backups_up_to_a_point_in_time() {
    let plan = call(json!({
        "backup": { "destination_path": "s3://opus-backups/pg-v2", "s3_credentials_secret": "pg-backup-s3" },
        "recovery": {
            "source_cluster": "pg", "destination_path": "s3://opus-backups/pg",
            "s3_credentials_secret": "old-s3", "target_time": "2025-03-01T08:30:00Z",
        },
    }))
    .run::<PostgresCloudNativePg>()
    .unwrap();
    let spec = &plan.expect_object("Cluster", "pg")["spec"];
    assert_eq!(
        spec["bootstrap"],
        json!({ "recovery": { "source": "recovery-source", "recoveryTarget": { "targetTime": "2025-03-01T08:30:00Z" } } })
    );
    let external = &spec["externalClusters"][0];
    assert_eq!(external["name"], "recovery-source", "the name bootstrap.recovery.source refers to");
    let store = &external["barmanObjectStore"];
    assert_eq!(store["destinationPath"], "s3://opus-backups/pg");
    assert_eq!(store["serverName"], "pg", "the source Cluster's folder");
    assert_eq!(store["s3Credentials"]["accessKeyId"]["name"], "old-s3", "the recovery's own credentials");
    assert_eq!(spec["backup"]["barmanObjectStore"]["destinationPath"], "s3://opus-backups/pg-v2");
    // The test support writes manifests with serde_norway (YAML 1.2), which
    // leaves a timestamp unquoted, and the validator reads them with PyYAML
    // (YAML 1.1), which turns it into a datetime that is "not a string".
    // Capstan's own writer quotes it (engine/yaml). The schema types
    // `targetTime` as a plain string, so a stand-in string checks the same.
    let mut objects = plan.objects.clone();
    assert_eq!(objects[2]["kind"], "Cluster");
    objects[2]["spec"]["bootstrap"]["recovery"]["recoveryTarget"]["targetTime"] =
        json!("at 2025-03-01T08:30:00Z");
    support::assert_valid(&objects, &[]);

    // Without its own store, a recovery reads the backup's, credentials and all,
    // and without a target it replays every archived WAL.
    let plan = call(json!({
        "backup": { "destination_path": "s3://opus-backups/pg", "endpoint_url": "https://minio.local", "s3_credentials_secret": "pg-backup-s3" },
        "recovery": { "source_cluster": "pg-old" },
    }))
    .run::<PostgresCloudNativePg>()
    .unwrap();
    let spec = &plan.expect_object("Cluster", "pg")["spec"];
    assert_eq!(spec["bootstrap"], json!({ "recovery": { "source": "recovery-source" } }));
    let store = &spec["externalClusters"][0]["barmanObjectStore"];
    assert_eq!(
        (store["destinationPath"].as_str(), store["endpointURL"].as_str(), store["serverName"].as_str()),
        (Some("s3://opus-backups/pg"), Some("https://minio.local"), Some("pg-old"))
    );
    assert_eq!(store["s3Credentials"]["secretAccessKey"]["name"], "pg-backup-s3");
    support::assert_valid(&plan.objects, &[]);

    // Off by default: the Cluster starts empty (initdb).
    let plain = call(json!({})).run::<PostgresCloudNativePg>().unwrap();
    let spec = &plain.expect_object("Cluster", "pg")["spec"];
    assert!(spec.get("bootstrap").is_none() && spec.get("externalClusters").is_none(), "{spec}");
}

#[test]
fn recovery_inputs_the_operator_would_trip_on_are_refused() {
    let d = diagnostics(json!({ "recovery": { "source_cluster": "pg-old" } }));
    assert_eq!(d[0].path, "/recovery/destination_path", "no store to read from: {d:?}");
    let d = diagnostics(json!({ "recovery": {
        "source_cluster": "pg-old", "destination_path": "s3://b/p", "target_time": "2025-03-01 08:30:00",
    } }));
    assert_eq!(d[0].path, "/recovery/target_time", "a time without its zone: {d:?}");
    let d =
        diagnostics(json!({ "recovery": { "source_cluster": "Old_PG", "destination_path": "s3://b/p" } }));
    assert_eq!(d[0].path, "/recovery/source_cluster");

    // Restoring this Cluster's own archive while archiving to it again.
    let d = diagnostics(json!({
        "backup": { "destination_path": "s3://opus-backups/pg" },
        "recovery": { "source_cluster": "pg" },
    }));
    assert_eq!(d[0].path, "/recovery/source_cluster", "{d:?}");
    assert!(
        d[0].message.contains("s3://opus-backups/pg/pg") && d[0].message.contains("new destination_path"),
        "{d:?}"
    );
}

#[test]
fn pod_monitors_are_opt_in_and_scrape_over_tls() {
    let plan = call(json!({})).run::<PostgresCloudNativePg>().unwrap();
    assert!(k8s::find(&plan.objects, "PodMonitor", "pg").is_none(), "off by default");
    assert!(plan.expect_object("Cluster", "pg")["spec"].get("monitoring").is_none());

    let plan = call(
        json!({ "monitoring": { "pod_monitor": true, "labels": { "release": "kube-prometheus-stack" } } }),
    )
    .run::<PostgresCloudNativePg>()
    .unwrap();
    let monitor = plan.expect_object("PodMonitor", "pg");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["metadata"]["labels"]["release"], "kube-prometheus-stack");
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"],
        json!({ "cnpg.io/cluster": "pg", "cnpg.io/podRole": "instance" })
    );
    let endpoint = &monitor["spec"]["podMetricsEndpoints"][0];
    assert_eq!((endpoint["port"].as_str(), endpoint["scheme"].as_str()), (Some("metrics"), Some("https")));
    assert_eq!(endpoint["tlsConfig"]["ca"]["secret"], json!({ "name": "pg-ca", "key": "ca.crt" }));
    assert_eq!(endpoint["tlsConfig"]["serverName"], "pg-rw", "a name the server certificate carries");
    // The Cluster serves metrics over TLS and does not use the field 1.30 deprecates.
    let monitoring = &plan.expect_object("Cluster", "pg")["spec"]["monitoring"];
    assert_eq!(monitoring, &json!({ "tls": { "enabled": true } }));
    support::assert_valid(&plan.objects, &[]);
}

#[test]
fn the_pooler_fronts_the_primary_and_the_apps_are_pointed_at_it() {
    let plan = call(json!({ "pooler": { "enabled": true } })).run::<PostgresCloudNativePg>().unwrap();
    let pooler = plan.expect_object("Pooler", "pg-pooler-rw");
    let spec = &pooler["spec"];
    assert_eq!(spec["cluster"], json!({ "name": "pg" }));
    assert_eq!((spec["type"].as_str(), spec["instances"].as_u64()), (Some("rw"), Some(2)));
    assert_eq!(
        spec["pgbouncer"],
        json!({ "poolMode": "session", "parameters": { "max_client_conn": "1000", "default_pool_size": "10" } })
    );
    let container = &spec["template"]["spec"]["containers"][0];
    assert_eq!(
        container["name"], "pgbouncer",
        "the operator's container name, or the resources land nowhere"
    );
    assert_eq!(container["resources"]["limits"], json!({ "cpu": "500m", "memory": "256Mi" }));

    // The apps connect through the pooler, verifying its name against the Cluster's certificate.
    let host = plan.output("host").unwrap();
    assert_eq!(host, "pg-pooler-rw.opus.svc");
    let names = &plan.expect_object("Cluster", "pg")["spec"]["certificates"]["serverAltDNSNames"];
    assert!(names.as_array().unwrap().contains(host), "{names}");
    assert_eq!(plan.output("sslmode").unwrap(), "verify-full");
    support::assert_valid(&plan.objects, &[]);

    // Transaction pooling and a PodMonitor for PgBouncer too.
    let plan = call(json!({ "pooler": { "enabled": true, "pool_mode": "transaction" }, "monitoring": { "pod_monitor": true } }))
        .run::<PostgresCloudNativePg>()
        .unwrap();
    let spec = &plan.expect_object("Pooler", "pg-pooler-rw")["spec"];
    assert_eq!(spec["pgbouncer"]["poolMode"], "transaction");
    assert_eq!(spec["monitoring"], json!({ "tls": { "enabled": true } }));
    let monitor = plan.expect_object("PodMonitor", "pg-pooler-rw");
    assert_eq!(monitor["spec"]["selector"]["matchLabels"]["cnpg.io/poolerName"], "pg-pooler-rw");
    support::assert_valid(&plan.objects, &[]);

    // Off by default: no Pooler, the apps go to the primary's Service.
    let plan = call(json!({})).run::<PostgresCloudNativePg>().unwrap();
    assert!(k8s::find(&plan.objects, "Pooler", "pg-pooler-rw").is_none());
    assert!(plan.expect_object("Cluster", "pg")["spec"].get("certificates").is_none());

    let d = diagnostics(json!({ "pooler": { "enabled": true, "pool_mode": "statement" } }));
    assert!(d[0].path.starts_with("/pooler"), "{d:?}");
    let d = diagnostics(json!({ "pooler": { "enabled": true, "instances": 0 } }));
    assert_eq!(d[0].path, "/pooler/instances");
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
