//! What the plugin renders, through the SDK test kit, and every object
//! through the Kubernetes 1.30 schemas and the vendored cert-manager CRDs.

use capstan_plugin_postgres_statefulset::PostgresStatefulSet;
use capstan_plugin_testsupport as testsupport;
use capstan_sdk::prelude::*;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, container_env, defaults_of, merge};
use serde_json::{Value, json};

use crate::support::{SUPER_PW, job, script};

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

fn plan(patch: Value) -> ComponentPlan {
    call(patch).run::<PostgresStatefulSet>().unwrap()
}

fn diagnostics(patch: Value) -> Vec<Diagnostic> {
    match call(patch).run::<PostgresStatefulSet>() {
        Err(PlanError::InvalidInputs(d)) => d,
        other => panic!("expected invalid inputs, got {other:?}"),
    }
}

/// What `validate` says, warnings included, as the engine calls it: on the
/// defaults with the inputs merged over them.
fn validate(patch: Value) -> Vec<Diagnostic> {
    let mut inputs = defaults_of(&PostgresStatefulSet::metadata());
    merge(&mut inputs, call(patch).request().inputs);
    PostgresStatefulSet::validate(&inputs)
}

fn pod(plan: &ComponentPlan) -> &Value {
    &plan.expect_object("StatefulSet", "pg")["spec"]["template"]["spec"]
}

fn server_args(plan: &ComponentPlan) -> Vec<String> {
    serde_json::from_value(pod(plan)["containers"][0]["args"].clone()).unwrap()
}

fn hba(plan: &ComponentPlan) -> String {
    plan.expect_object("ConfigMap", "pg-pg-hba")["data"]["pg_hba.conf"].as_str().unwrap().to_owned()
}

fn volume<'a>(pod: &'a Value, name: &str) -> &'a Value {
    pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("{name}"))
}

#[test]
fn metadata_and_defaults_are_consistent() {
    let m = check_metadata::<PostgresStatefulSet>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("postgres", "statefulset"));
    assert!(m.description.contains("TLS"), "{}", m.description);
}

#[test]
fn renders_server_certificate_services_secrets_and_init_job() {
    let plan = plan(json!({}));
    let job_name = job(&plan)["metadata"]["name"].as_str().unwrap().to_owned();
    assert!(job_name.starts_with("pg-init-") && job_name.len() == "pg-init-".len() + 10, "{job_name}");
    assert_eq!(
        plan.object_ids(),
        [
            "Secret/pg-superuser".to_owned(),
            "Secret/pg-oob-consent".into(),
            "Secret/pg-payments".into(),
            // The private CA, made for this server alone, and the server's certificate.
            "Issuer/pg-selfsigned".into(),
            "Certificate/pg-ca".into(),
            "Issuer/pg-ca-issuer".into(),
            "Certificate/pg-tls".into(),
            "Service/pg-headless".into(),
            "Service/pg".into(),
            "ConfigMap/pg-pg-hba".into(),
            "StatefulSet/pg".into(),
            format!("ConfigMap/{job_name}"),
            format!("Job/{job_name}"),
        ]
    );
    let sts = plan.expect_object("StatefulSet", "pg");
    assert_eq!(sts["spec"]["replicas"], 1);
    assert_eq!(sts["spec"]["serviceName"], "pg-headless");
    let pod = pod(&plan);
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
    testsupport::assert_valid(&plan.objects, &[]);
}

#[test]
fn tls_is_on_by_default_with_a_certificate_for_the_host_clients_use() {
    let plan = plan(json!({}));
    let host = plan.output("host").unwrap().as_str().unwrap().to_owned();
    assert_eq!(host, "pg.opus.svc");
    assert_eq!(plan.output("sslmode").unwrap(), "verify-full");
    assert_eq!(
        plan.output("ca_secret").unwrap(),
        &json!({ "name": "pg-tls", "key": "ca.crt", "namespace": "opus" })
    );

    let cert = &plan.expect_object("Certificate", "pg-tls")["spec"];
    assert_eq!(cert["secretName"], "pg-tls");
    assert_eq!(cert["issuerRef"]["name"], "pg-ca-issuer");
    let names: Vec<&str> = cert["dnsNames"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
    assert!(names.contains(&host.as_str()) && names.contains(&"pg"), "{names:?}");

    // The server starts with TLS on, the certificate mounted so that
    // PostgreSQL accepts its key: root-owned (the kubelet), group-readable
    // by the postgres gid (fsGroup), nobody else.
    let args = server_args(&plan);
    for setting in [
        "ssl=on",
        "ssl_cert_file=/etc/capstan/tls/tls.crt",
        "ssl_key_file=/etc/capstan/tls/tls.key",
        "hba_file=/etc/capstan/pg_hba/pg_hba.conf",
    ] {
        assert!(args.windows(2).any(|w| w == ["-c", setting]), "{setting} in {args:?}");
    }
    let pod = pod(&plan);
    assert_eq!(pod["securityContext"]["fsGroup"], 999);
    let tls = &volume(pod, "tls")["secret"];
    assert_eq!((tls["secretName"].as_str(), tls["defaultMode"].as_u64()), (Some("pg-tls"), Some(0o440)));
    let mounts = &pod["containers"][0]["volumeMounts"];
    assert!(
        mounts
            .as_array()
            .unwrap()
            .contains(&json!({ "name": "tls", "mountPath": "/etc/capstan/tls", "readOnly": true }))
    );

    // Over the network, TLS only; the reloader picks up renewed certificates.
    let rules: Vec<String> = hba(&plan).lines().filter(|l| !l.starts_with('#')).map(String::from).collect();
    assert_eq!(
        rules,
        [
            "local   all postgres     trust",
            "hostssl all all      all scram-sha-256",
            "host    all all      all reject",
        ]
    );
    assert_eq!(pod["containers"][1]["name"], "tls-reloader");

    // The init Job verifies the server as the apps do.
    let j = job(&plan);
    assert_eq!(container_env(j, "PGHOST").unwrap()["value"], host);
    assert_eq!(container_env(j, "PGSSLMODE").unwrap()["value"], "verify-full");
    assert_eq!(container_env(j, "PGSSLROOTCERT").unwrap()["value"], "/etc/capstan/ca/ca.crt");
    assert_eq!(volume(&j["spec"]["template"]["spec"], "ca")["secret"]["secretName"], "pg-tls");
}

#[test]
fn a_named_issuer_signs_the_certificate_and_no_ca_is_made() {
    let plan = plan(json!({ "tls": { "issuer": { "kind": "ClusterIssuer", "name": "internal-ca" } } }));
    assert!(plan.objects_of_kind("Issuer").is_empty(), "{:?}", plan.object_ids());
    assert_eq!(plan.objects_of_kind("Certificate").len(), 1);
    let cert = plan.expect_object("Certificate", "pg-tls");
    assert_eq!(
        cert["spec"]["issuerRef"],
        json!({ "kind": "ClusterIssuer", "name": "internal-ca", "group": "cert-manager.io" })
    );
    assert_eq!(plan.output("ca_secret").unwrap()["name"], "pg-tls");
    testsupport::assert_valid(&plan.objects, &[]);

    let d = diagnostics(json!({ "tls": { "issuer": { "kind": "Letsencrypt", "name": "x" } } }));
    assert!(d[0].path.starts_with("/tls/issuer"), "{d:?}");
    let d = diagnostics(json!({ "tls": { "issuer": { "kind": "Issuer", "name": " " } } }));
    assert_eq!(d[0].path, "/tls/issuer/name");
}

#[test]
fn tls_off_serves_plaintext_and_says_so() {
    let plan = plan(json!({ "tls": { "enabled": false } }));
    assert_eq!(plan.output("sslmode").unwrap(), "disable");
    assert!(plan.output("ca_secret").is_none());
    assert!(plan.objects_of_kind("Certificate").is_empty() && plan.objects_of_kind("Issuer").is_empty());
    let args = server_args(&plan);
    assert_eq!(args, ["postgres", "-c", "hba_file=/etc/capstan/pg_hba/pg_hba.conf"]);
    let pod = pod(&plan);
    assert_eq!(pod["containers"].as_array().unwrap().len(), 1, "no reloader without a certificate");
    let rules: Vec<String> = hba(&plan).lines().filter(|l| !l.starts_with('#')).map(String::from).collect();
    assert_eq!(rules, ["local   all postgres     trust", "host    all all      all scram-sha-256"]);
    assert_eq!(container_env(job(&plan), "PGSSLMODE").unwrap()["value"], "disable");
    testsupport::assert_valid(&plan.objects, &[]);

    let issuer_ignored =
        validate(json!({ "tls": { "enabled": false, "issuer": { "kind": "Issuer", "name": "ca" } } }));
    assert!(
        issuer_ignored.iter().any(|d| d.path == "/tls/issuer" && d.severity == Severity::Warning),
        "{issuer_ignored:?}"
    );
}

#[test]
fn passwords_reach_the_job_only_as_files_from_the_apps_secrets() {
    let plan = plan(json!({}));
    for object in plan.objects.iter().filter(|o| o["kind"] != "Secret") {
        let text = object.to_string();
        assert!(!text.contains(CONSENT_PW) && !text.contains(SUPER_PW), "password in {}", object["kind"]);
    }
    let pod = &job(&plan)["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(
        c["command"],
        json!([
            "psql",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-v",
            "app_passwords=/etc/capstan/app-passwords",
            "-f",
            "/sql/init.sql"
        ])
    );
    assert!(container_env(job(&plan), "APP_PASSWORD_0").is_none());
    assert_eq!(
        volume(pod, "passwords")["projected"],
        json!({ "defaultMode": 0o440, "sources": [
            { "secret": { "name": "pg-oob-consent", "items": [{ "key": "password", "path": "oob-consent" }] } },
            { "secret": { "name": "pg-payments", "items": [{ "key": "password", "path": "payments" }] } },
        ] })
    );
    assert!(script(&plan).contains("`cat :'app_passwords'/oob-consent && printf .`"));
    assert_eq!(plan.output("password_secret").unwrap()["name"], "pg-oob-consent");
}

#[test]
fn the_job_changes_when_what_it_runs_changes_and_only_then() {
    let name = |patch: Value| {
        let plan = call(patch).sensitive("/apps/billing/password").run::<PostgresStatefulSet>().unwrap();
        job(&plan)["metadata"]["name"].as_str().unwrap().to_owned()
    };
    let base = name(json!({}));
    assert_eq!(base, name(json!({})), "the same config plans the same Job");
    assert_ne!(base, name(json!({ "apps": { "payments": { "password": "rotated" } } })));
    assert_ne!(base, name(json!({ "apps": { "billing": { "password": "b" } } })));
    // Its pod template cannot be changed in place: a new template is a new Job.
    assert_ne!(base, name(json!({ "tls": { "enabled": false } })), "TLS settings are in its template");
    assert_ne!(base, name(json!({ "image": "postgres:14.13" })), "so is the image");
    assert_eq!(
        base,
        name(json!({ "resources": { "limits": { "cpu": "2" } } })),
        "server sizing is not the Job's business"
    );
    assert_eq!(
        base,
        name(json!({ "tls": { "issuer": { "kind": "ClusterIssuer", "name": "internal-ca" } } })),
        "nor who signs the certificate"
    );
}

#[test]
fn the_network_output_selects_the_server_pod_and_not_the_jobs() {
    let plan = plan(json!({}));
    let dep = Dependency {
        name: "db".into(),
        component_type: "postgres".into(),
        outputs: plan.outputs.clone().into(),
    };
    let outputs: contracts::postgres::Outputs = contracts::read(&dep).unwrap();
    let [peer] = outputs.network.as_slice() else { panic!("{:?}", outputs.network) };
    assert_eq!((peer.namespace.as_deref(), peer.ports.as_slice()), (Some("opus"), &[5432][..]));
    let labels = |o: &Value| o["spec"]["template"]["metadata"]["labels"].as_object().unwrap().clone();
    let server = labels(plan.expect_object("StatefulSet", "pg"));
    let init = labels(job(&plan));
    let selects = |pod: &serde_json::Map<String, Value>| {
        peer.pod_labels.iter().all(|(k, v)| pod.get(k) == Some(&json!(v)))
    };
    assert!(selects(&server) && !selects(&init), "{:?}", peer.pod_labels);
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
