//! The cert-manager plugin through the SDK test kit; rendered objects are
//! validated against Kubernetes 1.30 and cert-manager's CRDs.
//!
//! Modules: `acme` — the ACME issuer's DNS-01 solvers, wildcards and
//! external account binding. The rest (issuers, Certificates, health, the
//! CRD check of every variant, the sandboxed build) is here.
#![allow(clippy::unwrap_used, reason = "tests")]

mod acme;

use capstan_core::{Health, PlanError};
use capstan_plugin_cert_manager::CertManager;
use capstan_plugin_testsupport::assert_valid_manifests;
use capstan_sdk::Plugin;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, invalid_inputs};
use serde_json::{Value, json};

// Placeholders with PEM armour: the plugin passes them through, it does not parse them.
const CA_CERT: &str = "-----BEGIN CERTIFICATE-----\nTEST-ONLY-CA-CERT\n-----END CERTIFICATE-----\n";
const CA_KEY: &str = "-----BEGIN EC PRIVATE KEY-----\nTEST-ONLY-CA-KEY\n-----END EC PRIVATE KEY-----\n";
const CLIENT_CA: &str = "-----BEGIN CERTIFICATE-----\nTEST-ONLY-DIRECTORY-CA\n-----END CERTIFICATE-----\n";

fn call(inputs: Value) -> PlanCall {
    PlanCall::new(inputs).component("staging", "cert-manager", "certs")
}

fn acme() -> PlanCall {
    call(json!({ "acme": { "email": "platform@example.com" } })).dependency(
        "waf",
        "waf",
        json!({ "ingress_class": "nginx-waf", "annotations": {} }),
    )
}

fn ca() -> PlanCall {
    call(json!({
        "default_issuer": "ca",
        "acme": { "enabled": false },
        "ca": { "enabled": true, "name": "oof-ca", "certificate": CA_CERT, "private_key": CA_KEY,
                "trust_bundle": CLIENT_CA },
    }))
    .sensitive("/ca/private_key")
}

#[test]
fn metadata_and_defaults_agree_with_the_schema() {
    let m = check_metadata::<CertManager>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("cert-manager", "cert-manager"));
}

#[test]
fn acme_issuer_uses_lets_encrypt_staging_and_the_wafs_ingress_class() {
    let plan = acme().run::<CertManager>().unwrap();
    assert_eq!(plan.object_ids(), ["ClusterIssuer/letsencrypt-staging"]);
    let issuer = plan.expect_object("ClusterIssuer", "letsencrypt-staging");
    assert_eq!(issuer["apiVersion"], "cert-manager.io/v1");
    assert!(issuer["metadata"].get("namespace").is_none(), "cluster-scoped");
    let spec = &issuer["spec"]["acme"];
    assert_eq!(spec["server"], "https://acme-staging-v02.api.letsencrypt.org/directory");
    assert_eq!(spec["email"], "platform@example.com");
    assert_eq!(spec["privateKeySecretRef"]["name"], "letsencrypt-staging-account-key");
    assert_eq!(spec["solvers"], json!([{ "http01": { "ingress": { "ingressClassName": "nginx-waf" } } }]));

    assert_eq!(
        plan.output("issuer"),
        Some(&json!({ "kind": "ClusterIssuer", "name": "letsencrypt-staging" }))
    );
    assert_eq!(plan.output("ca_bundle_secret"), None, "ACME publishes no CA bundle");
}

#[test]
fn acme_without_a_waf_uses_the_given_ingress_class_or_says_what_is_missing() {
    let plan = call(json!({ "acme": { "email": "p@example.com", "ingress_class": "nginx" } }))
        .run::<CertManager>()
        .unwrap();
    let issuer = plan.expect_object("ClusterIssuer", "letsencrypt-staging");
    assert_eq!(issuer["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"], "nginx");

    let err = call(json!({ "acme": { "email": "p@example.com" } })).run::<CertManager>().unwrap_err();
    assert!(matches!(&err, PlanError::MissingDependency(m) if m.contains("waf")), "{err:?}");
}

#[test]
fn ca_issuer_keeps_the_key_pair_in_a_tls_secret_and_publishes_only_certificates() {
    let plan = ca().run::<CertManager>().unwrap();
    assert_eq!(
        plan.object_ids(),
        ["Secret/oof-ca-keypair", "ClusterIssuer/oof-ca", "Secret/certs-ca-bundle"]
    );
    let keypair = plan.expect_object("Secret", "oof-ca-keypair");
    assert_eq!(keypair["type"], "kubernetes.io/tls");
    assert_eq!(keypair["metadata"]["namespace"], "cert-manager", "the cluster resource namespace");
    assert_eq!(keypair["stringData"]["tls.crt"], CA_CERT);
    assert_eq!(keypair["stringData"]["tls.key"], CA_KEY);

    let issuer = plan.expect_object("ClusterIssuer", "oof-ca");
    assert_eq!(issuer["spec"], json!({ "ca": { "secretName": "oof-ca-keypair" } }));

    let bundle = plan.expect_object("Secret", "certs-ca-bundle");
    let pem = bundle["stringData"]["ca.crt"].as_str().unwrap();
    assert_eq!(pem, format!("{}\n{}\n", CA_CERT.trim_end(), CLIENT_CA.trim_end()));
    assert!(!bundle.to_string().contains("PRIVATE KEY"), "the bundle carries no key");

    // The private key is in the key pair Secret and nowhere else.
    for o in plan.objects.iter().filter(|o| o["metadata"]["name"] != "oof-ca-keypair") {
        assert!(!o.to_string().contains("TEST-ONLY-CA-KEY"), "key leaked into {}", o["metadata"]["name"]);
    }
    assert!(!format!("{:?}", plan.outputs).contains("TEST-ONLY-CA-KEY"));

    assert_eq!(plan.output("issuer"), Some(&json!({ "kind": "ClusterIssuer", "name": "oof-ca" })));
    assert_eq!(
        plan.output("ca_bundle_secret"),
        Some(&json!({ "name": "certs-ca-bundle", "key": "ca.crt", "namespace": "cert-manager" }))
    );
}

#[test]
fn a_ca_key_in_plain_inputs_is_refused_without_echoing_it() {
    let err = call(json!({
        "default_issuer": "ca", "acme": { "enabled": false },
        "ca": { "enabled": true, "certificate": CA_CERT, "private_key": CA_KEY },
    }))
    .run::<CertManager>()
    .unwrap_err();
    let d = invalid_inputs(err);
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, "/ca/private_key");
    assert!(d[0].1.contains("secrets file"), "{}", d[0].1);
    assert!(!d[0].1.contains("TEST-ONLY"), "{}", d[0].1);
}

#[test]
fn certificates_reference_the_chosen_cluster_issuer() {
    let plan = call(json!({
        "acme": { "email": "p@example.com", "ingress_class": "nginx" },
        "ca": { "enabled": true, "name": "oof-ca", "certificate": CA_CERT, "private_key": CA_KEY },
        "certificates": [
            { "name": "consent-api", "hosts": ["consent.staging.example.com"], "namespace": "oob" },
            { "name": "mtls-gw", "hosts": ["*.mtls.example.com"], "issuer": "ca",
              "secret_name": "gw-cert", "duration": "2160h", "renew_before": "360h" },
        ],
    }))
    .sensitive("/ca/private_key")
    .run::<CertManager>()
    .unwrap();
    let consent = plan.expect_object("Certificate", "consent-api");
    assert_eq!(consent["metadata"]["namespace"], "oob");
    assert_eq!(consent["spec"]["secretName"], "consent-api-tls");
    assert_eq!(consent["spec"]["dnsNames"], json!(["consent.staging.example.com"]));
    assert_eq!(
        consent["spec"]["issuerRef"],
        json!({ "group": "cert-manager.io", "kind": "ClusterIssuer", "name": "letsencrypt-staging" })
    );
    let gw = plan.expect_object("Certificate", "mtls-gw");
    assert_eq!(gw["metadata"]["namespace"], "cert-manager", "the component's namespace by default");
    assert_eq!(gw["spec"]["issuerRef"]["name"], "oof-ca");
    assert_eq!(gw["spec"]["secretName"], "gw-cert");
    assert_eq!(gw["spec"]["duration"], "2160h");
    assert_eq!(gw["spec"]["renewBefore"], "360h");
}

#[test]
fn invalid_inputs_are_reported_at_their_attribute() {
    let err = call(json!({})).run::<CertManager>().unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/acme/email");

    let err = call(json!({ "default_issuer": "ca", "acme": { "email": "p@example.com" } }))
        .run::<CertManager>()
        .unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/default_issuer");

    let err = call(json!({
        "acme": { "email": "p@example.com" },
        "certificates": [{ "name": "w", "hosts": ["*.example.com", "not a host"] }],
    }))
    .run::<CertManager>()
    .unwrap_err();
    let d = invalid_inputs(err);
    assert_eq!(d[0].0, "/certificates/0/hosts/0");
    assert!(d[0].1.contains("DNS-01"), "{}", d[0].1);
    assert_eq!(d[1].0, "/certificates/0/hosts/1");

    let err = call(json!({ "acme": { "enabled": false }, "default_issuer": "ca",
                           "ca": { "enabled": true, "certificate": "not pem" } }))
    .run::<CertManager>()
    .unwrap_err();
    let paths: Vec<String> = invalid_inputs(err).into_iter().map(|d| d.0).collect();
    assert_eq!(paths, ["/ca/certificate", "/ca/private_key"]);
}

#[test]
fn health_follows_the_ready_condition() {
    let issuer = |status: &str| {
        json!({ "kind": "ClusterIssuer", "status": { "conditions": [
            { "type": "Ready", "status": status, "message": "ACME account registered" } ] } })
    };
    assert_eq!(CertManager::health(&issuer("True")), Health::Ready);
    assert!(matches!(CertManager::health(&issuer("False")), Health::Degraded(_)));
    assert!(matches!(
        CertManager::health(&json!({ "kind": "Certificate", "status": {} })),
        Health::Progressing(_)
    ));
}

/// One validator run for every variant (loading the schemas is the slow part).
#[test]
fn every_variant_renders_objects_valid_for_kubernetes_and_the_cert_manager_crds() {
    let variants = [
        acme(),
        ca(),
        call(json!({
            "acme": { "email": "p@example.com", "ingress_class": "nginx" },
            "ca": { "enabled": true, "certificate": CA_CERT, "private_key": CA_KEY },
            "certificates": [{ "name": "a", "hosts": ["a.example.com"], "namespace": "apps",
                               "duration": "2160h", "renew_before": "360h" }],
        }))
        .sensitive("/ca/private_key"),
    ]
    .into_iter()
    .chain(acme::variants());
    let objects: Vec<Value> = variants.flat_map(|v| v.run::<CertManager>().unwrap().objects).collect();
    assert_valid_manifests("all-variants", &objects);
}

/// The `.wasm` built from this crate, run through the engine's host (the
/// wasmtime sandbox and WIT conversions `capstan plan` uses), plans exactly
/// what the native build plans, and refuses bad inputs the same way.
#[test]
fn the_built_wasm_component_plans_the_same_in_the_sandbox() {
    let workspace = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));
    let wasm = capstan_sdk::testkit::wasm::build(workspace, env!("CARGO_PKG_NAME")).unwrap();
    let variant = call(json!({
        "acme": { "email": "p@example.com" },
        "ca": { "enabled": true, "certificate": CA_CERT, "private_key": CA_KEY },
        "certificates": [{ "name": "a", "hosts": ["a.example.com"], "namespace": "apps" }],
    }))
    .dependency("waf", "waf", json!({ "ingress_class": "nginx-waf", "annotations": {} }))
    .sensitive("/ca/private_key");
    assert_eq!(variant.run_wasm(&wasm).unwrap().unwrap(), variant.run::<CertManager>().unwrap());

    // DNS-01, external account binding and a warning cross the sandbox too.
    let variant = call(json!({
        "acme": { "email": "p@example.com", "http01": false,
                  "dns01": { "rfc2136": { "nameserver": "10.0.0.53", "tsig_key_name": "acme",
                                          "tsig_secret": { "name": "tsig", "key": "secret" } } },
                  "external_account_binding": { "key_id": "kid", "key_algorithm": "HS384",
                                                "hmac_key_secret": { "name": "eab", "key": "hmac" } } },
        "certificates": [{ "name": "w", "hosts": ["*.example.com"] }],
    }));
    let planned = variant.run::<CertManager>().unwrap();
    assert_eq!(planned.warnings.len(), 1);
    assert_eq!(variant.run_wasm(&wasm).unwrap().unwrap(), planned);

    let bad = call(json!({ "acme": { "email": "nobody" } }));
    assert_eq!(bad.run_wasm(&wasm).unwrap().unwrap_err(), bad.run::<CertManager>().unwrap_err());
}
