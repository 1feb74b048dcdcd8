//! The ingress-nginx WAF plugin through the SDK test kit, with the rendered
//! objects validated against the Kubernetes 1.30 schemas.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use capstan_core::PlanError;
use capstan_plugin_testsupport::assert_valid_manifests;
use capstan_plugin_waf_ingress_nginx::IngressNginxWaf;
use capstan_sdk::testkit::{PlanCall, PlanExt, check_metadata, invalid_inputs};
use serde_json::{Value, json};

fn call(inputs: Value) -> PlanCall {
    PlanCall::new(inputs).component("production", "ingress-nginx", "waf")
}

/// Outputs of a cert-manager component with a CA issuer, per the contract.
fn cert_manager() -> Value {
    json!({
        "issuer": { "kind": "ClusterIssuer", "name": "oof-ca" },
        "ca_bundle_secret": { "name": "cert-manager-ca-bundle", "key": "ca.crt", "namespace": "cert-manager" },
    })
}

fn snippet(plan: &capstan_core::ComponentPlan) -> String {
    plan.expect_object("ConfigMap", "ingress-nginx-controller")["data"]["modsecurity-snippet"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn metadata_and_defaults_agree_with_the_schema() {
    let m = check_metadata::<IngressNginxWaf>();
    assert_eq!((m.component_type.as_str(), m.backend.as_str()), ("waf", "ingress-nginx"));
}

#[test]
fn defaults_turn_on_modsecurity_and_the_crs_in_blocking_mode() {
    let plan = call(json!({})).run::<IngressNginxWaf>().unwrap();
    assert_eq!(plan.object_ids(), ["ConfigMap/ingress-nginx-controller", "IngressClass/nginx"]);
    let cm = plan.expect_object("ConfigMap", "ingress-nginx-controller");
    assert_eq!(cm["metadata"]["namespace"], "ingress-nginx");
    assert_eq!(cm["data"]["enable-modsecurity"], "true");
    assert_eq!(cm["data"]["enable-owasp-modsecurity-crs"], "true");
    assert_eq!(cm["data"]["allow-snippet-annotations"], "false");
    assert_eq!(cm["data"]["ssl-protocols"], "TLSv1.2 TLSv1.3");
    let s = snippet(&plan);
    assert!(s.starts_with("Include /etc/nginx/modsecurity/modsecurity.conf\n"), "{s}");
    assert!(s.contains("\nSecRuleEngine On\n"), "{s}");
    assert!(s.contains("setvar:tx.blocking_paranoia_level=1,setvar:tx.paranoia_level=1"), "{s}");
    assert!(s.contains("setvar:tx.inbound_anomaly_score_threshold=5"), "{s}");

    let class = plan.expect_object("IngressClass", "nginx");
    assert_eq!(class["spec"]["controller"], "k8s.io/ingress-nginx");
    assert!(class["metadata"].get("namespace").is_none());

    assert_eq!(plan.output("ingress_class"), Some(&json!("nginx")));
    assert_eq!(
        plan.output("annotations"),
        Some(&json!({
            "nginx.ingress.kubernetes.io/enable-modsecurity": "true",
            "nginx.ingress.kubernetes.io/enable-owasp-core-rules": "true",
            "nginx.ingress.kubernetes.io/proxy-body-size": "1m",
            "nginx.ingress.kubernetes.io/limit-rps": "50",
            "nginx.ingress.kubernetes.io/limit-burst-multiplier": "5",
            "nginx.ingress.kubernetes.io/limit-connections": "100",
        }))
    );
    assert_eq!(plan.output("mtls_ca_secret"), None, "no mTLS, no CA");
    assert_eq!(
        plan.output("ingress_from"),
        Some(&json!([{ "namespace": "ingress-nginx", "pod_labels": {
            "app.kubernetes.io/component": "controller", "app.kubernetes.io/name": "ingress-nginx" } }])),
        "the upstream chart's controller pods, in the component's namespace"
    );
}

/// Without an input, every app ingress is bounded: a 1 MiB body (nginx and
/// ModSecurity agreeing on it) and per-IP limits answered with 429.
#[test]
fn defaults_bound_bodies_and_request_rates() {
    let plan = call(json!({})).run::<IngressNginxWaf>().unwrap();
    let cm = plan.expect_object("ConfigMap", "ingress-nginx-controller");
    assert_eq!(cm["data"]["proxy-body-size"], "1m");
    assert_eq!(cm["data"]["limit-req-status-code"], "429");
    assert_eq!(cm["data"]["limit-conn-status-code"], "429");
    assert!(snippet(&plan).contains("\nSecRequestBodyLimit 1048576\n"), "{}", snippet(&plan));

    let plan = call(json!({
        "max_body_size": "10M",
        "rate_limit": { "requests_per_second": 5, "burst_multiplier": 2, "connections": 8 },
    }))
    .run::<IngressNginxWaf>()
    .unwrap();
    let a = plan.output("annotations").unwrap();
    assert_eq!(a["nginx.ingress.kubernetes.io/proxy-body-size"], "10M");
    assert_eq!(a["nginx.ingress.kubernetes.io/limit-rps"], "5");
    assert_eq!(a["nginx.ingress.kubernetes.io/limit-burst-multiplier"], "2");
    assert_eq!(a["nginx.ingress.kubernetes.io/limit-connections"], "8");
    assert!(snippet(&plan).contains("\nSecRequestBodyLimit 10485760\n"));

    // Turned off, no limit annotation is left behind on the apps.
    let plan = call(json!({ "rate_limit": { "enabled": false } })).run::<IngressNginxWaf>().unwrap();
    let a = plan.output("annotations").unwrap().as_object().unwrap();
    assert!(a.keys().all(|k| !k.contains("/limit-")), "{a:?}");
}

#[test]
fn the_extra_config_cannot_lift_the_body_or_rate_limits() {
    for key in ["proxy-body-size", "limit-req-status-code", "limit-conn-status-code"] {
        let err = call(json!({ "extra_config": { key: "0" } })).run::<IngressNginxWaf>().unwrap_err();
        assert_eq!(invalid_inputs(err)[0].0, format!("/extra_config/{key}"));
    }
}

#[test]
fn mtls_can_pin_the_client_subject() {
    let plan =
        call(json!({ "mtls": { "enabled": true, "match_cn": "^CN=(tpp-gateway|partner-[a-z]+)(,|$)" } }))
            .dependency("certs", "cert-manager", cert_manager())
            .run::<IngressNginxWaf>()
            .unwrap();
    let a = plan.output("annotations").unwrap();
    assert_eq!(a["nginx.ingress.kubernetes.io/auth-tls-match-cn"], "^CN=(tpp-gateway|partner-[a-z]+)(,|$)");

    // Not set: no annotation, any certificate the CA signed is let in.
    let plan = call(json!({ "mtls": { "enabled": true } }))
        .dependency("certs", "cert-manager", cert_manager())
        .run::<IngressNginxWaf>()
        .unwrap();
    assert!(
        plan.output("annotations").unwrap().get("nginx.ingress.kubernetes.io/auth-tls-match-cn").is_none()
    );
}

/// ingress-nginx reads a CRL from `ca.crl` beside `ca.crt`: with a CRL
/// required, the operator's Secret is used even when cert-manager is a
/// dependency, and without one the plan is refused at the input.
#[test]
fn a_required_crl_points_at_the_operators_ca_secret_or_is_refused() {
    let plan =
        call(json!({ "mtls": { "enabled": true, "require_crl": true, "ca_secret": "pki/clients-ca" } }))
            .dependency("certs", "cert-manager", cert_manager())
            .run::<IngressNginxWaf>()
            .unwrap();
    assert_eq!(
        plan.output("annotations").unwrap()["nginx.ingress.kubernetes.io/auth-tls-secret"],
        "pki/clients-ca"
    );
    assert_eq!(plan.output("mtls_ca_secret"), Some(&json!({ "name": "clients-ca", "namespace": "pki" })));

    let err = call(json!({ "mtls": { "enabled": true, "require_crl": true } }))
        .dependency("certs", "cert-manager", cert_manager())
        .run::<IngressNginxWaf>()
        .unwrap_err();
    let problems = invalid_inputs(err);
    assert_eq!(problems[0].0, "/mtls/require_crl");
    assert!(problems[0].1.contains("ca.crl"), "{problems:?}");
}

#[test]
fn paranoia_mode_and_exclusions_reach_the_modsecurity_snippet() {
    let plan = call(json!({
        "mode": "detect",
        "paranoia_level": 3,
        "rule_exclusions": [
            { "id": 920350 },
            { "id": 942100, "path": "/open-banking/consents", "reason": "JWS bodies look like SQL" },
        ],
    }))
    .run::<IngressNginxWaf>()
    .unwrap();
    let s = snippet(&plan);
    assert!(s.contains("\nSecRuleEngine DetectionOnly\n"), "{s}");
    assert!(s.contains("tx.blocking_paranoia_level=3"), "{s}");
    assert!(s.contains("SecAction \"id:1010000,phase:1,pass,nolog,ctl:ruleRemoveById=920350\""), "{s}");
    assert!(
        s.contains(
            "SecRule REQUEST_URI \"@beginsWith /open-banking/consents\" \
             \"id:1010001,phase:1,pass,nolog,ctl:ruleRemoveById=942100\""
        ),
        "{s}"
    );
    assert!(s.contains("# 942100: JWS bodies look like SQL"), "{s}");
}

#[test]
fn mtls_annotations_point_at_the_ca_bundle_from_cert_manager() {
    let plan = call(json!({ "mtls": { "enabled": true, "verify_depth": 2 } }))
        .dependency("certs", "cert-manager", cert_manager())
        .run::<IngressNginxWaf>()
        .unwrap();
    let a = plan.output("annotations").unwrap();
    assert_eq!(a["nginx.ingress.kubernetes.io/auth-tls-verify-client"], "on");
    assert_eq!(a["nginx.ingress.kubernetes.io/auth-tls-secret"], "cert-manager/cert-manager-ca-bundle");
    assert_eq!(a["nginx.ingress.kubernetes.io/auth-tls-verify-depth"], "2");
    assert_eq!(a["nginx.ingress.kubernetes.io/auth-tls-pass-certificate-to-upstream"], "true");
    assert_eq!(a["nginx.ingress.kubernetes.io/enable-modsecurity"], "true");
    assert_eq!(
        plan.output("mtls_ca_secret"),
        Some(&json!({ "name": "cert-manager-ca-bundle", "namespace": "cert-manager" }))
    );
}

#[test]
fn mtls_without_a_cert_manager_dependency_uses_the_given_ca_secret() {
    let plan = call(json!({ "mtls": { "enabled": true, "ca_secret": "security/directory-ca" } }))
        .run::<IngressNginxWaf>()
        .unwrap();
    assert_eq!(
        plan.output("annotations").unwrap()["nginx.ingress.kubernetes.io/auth-tls-secret"],
        "security/directory-ca"
    );
}

#[test]
fn mtls_with_no_ca_anywhere_is_a_missing_dependency() {
    let err = call(json!({ "mtls": { "enabled": true } })).run::<IngressNginxWaf>().unwrap_err();
    assert!(matches!(&err, PlanError::MissingDependency(m) if m.contains("cert-manager")), "{err:?}");
}

#[test]
fn mtls_with_a_cert_manager_that_has_no_ca_bundle_names_the_dependency() {
    let err = call(json!({ "mtls": { "enabled": true } }))
        .dependency("certs", "cert-manager", json!({ "issuer": { "kind": "ClusterIssuer", "name": "le" } }))
        .run::<IngressNginxWaf>()
        .unwrap_err();
    assert!(
        matches!(&err, PlanError::MissingDependency(m) if m.contains("`certs`") && m.contains("ca_bundle_secret")),
        "{err:?}"
    );
}

#[test]
fn invalid_inputs_are_reported_at_their_attribute() {
    let err = call(json!({ "paranoia_level": 5 })).run::<IngressNginxWaf>().unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/paranoia_level");

    let err = call(json!({ "rule_exclusions": [{ "id": 42 }, { "id": 942100, "path": "/x' ; evil" }] }))
        .run::<IngressNginxWaf>()
        .unwrap_err();
    let paths: Vec<String> = invalid_inputs(err).into_iter().map(|d| d.0).collect();
    assert_eq!(paths, ["/rule_exclusions/0/id", "/rule_exclusions/1/path"]);

    let err = call(json!({ "extra_config": { "enable-modsecurity": "false" } }))
        .run::<IngressNginxWaf>()
        .unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/extra_config/enable-modsecurity");

    let err = call(json!({ "mtls": { "enabled": true, "ca_secret": "no-namespace" } }))
        .run::<IngressNginxWaf>()
        .unwrap_err();
    assert_eq!(invalid_inputs(err)[0].0, "/mtls/ca_secret");

    let path =
        |inputs: Value| invalid_inputs(call(inputs).run::<IngressNginxWaf>().unwrap_err())[0].0.clone();
    // ingress-nginx drops a match-cn without `CN=` silently; quotes or
    // braces would reach the nginx configuration.
    assert_eq!(path(json!({ "mtls": { "match_cn": "tpp-gateway" } })), "/mtls/match_cn");
    assert_eq!(path(json!({ "mtls": { "match_cn": "CN=a\" ) { return 200; } #" } })), "/mtls/match_cn");
    assert_eq!(path(json!({ "mtls": { "match_cn": "CN=$host" } })), "/mtls/match_cn", "an nginx variable");
    for size in ["0", "1x", "m", "-1m", "2g", "1.5m"] {
        assert_eq!(path(json!({ "max_body_size": size })), "/max_body_size", "{size}");
    }
    assert_eq!(
        path(json!({ "rate_limit": { "requests_per_second": 0 } })),
        "/rate_limit/requests_per_second"
    );
    assert_eq!(path(json!({ "rate_limit": { "connections": 0 } })), "/rate_limit/connections");
}

#[test]
fn the_ingress_class_can_be_left_to_the_controllers_chart() {
    let plan = call(
        json!({ "manage_ingress_class": false, "ingress_class": "waf", "controller_namespace": "edge" }),
    )
    .run::<IngressNginxWaf>()
    .unwrap();
    assert_eq!(plan.object_ids(), ["ConfigMap/ingress-nginx-controller"]);
    assert_eq!(plan.objects[0]["metadata"]["namespace"], "edge");
    assert_eq!(plan.output("ingress_class"), Some(&json!("waf")));
    assert_eq!(
        plan.output("ingress_from").unwrap()[0]["namespace"],
        "edge",
        "the controller's pods run beside its ConfigMap"
    );
}

#[test]
fn the_controller_pods_apps_let_in_follow_the_inputs() {
    // Given labels replace the chart's: a selector must name what the pods carry, no more.
    let plan =
        call(json!({ "controller_namespace": "edge", "controller_pod_labels": { "app": "edge-proxy" } }))
            .run::<IngressNginxWaf>()
            .unwrap();
    assert_eq!(
        plan.output("ingress_from"),
        Some(&json!([{ "namespace": "edge", "pod_labels": { "app": "edge-proxy" } }]))
    );
    let err =
        call(json!({ "controller_namespace": "Edge", "controller_pod_labels": { "app": "edge proxy" } }))
            .run::<IngressNginxWaf>()
            .unwrap_err();
    assert_eq!(
        invalid_inputs(err),
        [
            (
                "/controller_namespace".to_owned(),
                "must be a namespace name (lower-case letters, digits and `-`, at most 63)".to_owned()
            ),
            (
                "/controller_pod_labels/app".to_owned(),
                "`app: edge proxy` is not a Kubernetes label".to_owned()
            ),
        ]
    );
}

/// One validator run for every variant (loading the schemas is the slow part).
#[test]
fn every_variant_renders_objects_valid_for_kubernetes_1_30() {
    let variants = [
        call(json!({})),
        call(json!({ "mode": "detect", "paranoia_level": 4,
            "rule_exclusions": [{ "id": 942100, "path": "/a" }] })),
        call(json!({ "mtls": { "enabled": true } })).dependency("certs", "cert-manager", cert_manager()),
        call(json!({ "max_body_size": "20m", "rate_limit": { "enabled": false },
            "mtls": { "enabled": true, "require_crl": true, "ca_secret": "pki/clients-ca", "match_cn": "CN=tpp" } })),
    ];
    let objects: Vec<Value> =
        variants.iter().flat_map(|v| v.run::<IngressNginxWaf>().unwrap().objects).collect();
    assert_valid_manifests("all-variants", &objects);
}

/// The two plugins composed the way the engine composes them: the
/// cert-manager plugin's outputs (CA issuer) become the WAF's dependency in
/// production, and the WAF's outputs become cert-manager's dependency for
/// ACME in staging. Both directions go through the outputs contracts only.
#[test]
fn outputs_of_the_real_cert_manager_plugin_drive_mtls_and_back() {
    use capstan_plugin_cert_manager::CertManager;
    const PEM: &str = "-----BEGIN CERTIFICATE-----\nTEST-ONLY\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nTEST-ONLY\n-----END PRIVATE KEY-----\n";

    let certs = PlanCall::new(json!({
        "default_issuer": "ca", "acme": { "enabled": false },
        "ca": { "enabled": true, "name": "oof-ca", "certificate": PEM, "private_key": KEY },
    }))
    .component("production", "cert-manager", "certs")
    .sensitive("/ca/private_key")
    .run::<CertManager>()
    .unwrap();
    let waf = call(json!({ "mtls": { "enabled": true } }))
        .dependency_outputs("certs", "cert-manager", certs.outputs.clone())
        .run::<IngressNginxWaf>()
        .unwrap();
    let secret = waf.output("annotations").unwrap()["nginx.ingress.kubernetes.io/auth-tls-secret"].clone();
    assert_eq!(secret, "cert-manager/certs-ca-bundle");
    assert!(certs.object("Secret", "certs-ca-bundle").is_some(), "the Secret the WAF points at is planned");

    let waf = call(json!({})).component("staging", "ingress-nginx", "waf").run::<IngressNginxWaf>().unwrap();
    let staging_certs = PlanCall::new(json!({ "acme": { "email": "platform@example.com" } }))
        .component("staging", "cert-manager", "certs")
        .dependency_outputs("waf", "waf", waf.outputs.clone())
        .run::<CertManager>()
        .unwrap();
    let issuer = staging_certs.expect_object("ClusterIssuer", "letsencrypt-staging");
    assert_eq!(issuer["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"], "nginx");
}

/// The snippet is parsed by the real ModSecurity v3 library, followed by the
/// OWASP CRS the way ingress-nginx loads it after the snippet. Paths are
/// Debian's (`modsecurity-crs`); ingress-nginx's stock `modsecurity.conf`,
/// which the snippet includes first, is not on this machine and is left out.
#[test]
fn the_modsecurity_snippet_parses_with_libmodsecurity_and_the_owasp_crs() {
    const CRS: &str =
        "Include /etc/modsecurity/crs/crs-setup.conf\nInclude /usr/share/modsecurity-crs/rules/*.conf\n";
    let plan = call(json!({
        "mode": "detect",
        "paranoia_level": 2,
        "max_body_size": "8m",
        "rule_exclusions": [
            { "id": 920350, "reason": "load balancer health checks use an IP Host header" },
            { "id": 942100, "path": "/open-banking/consents/v3", "reason": "JWS bodies look like SQL" },
        ],
    }))
    .run::<IngressNginxWaf>()
    .unwrap();
    let s = snippet(&plan);
    let rest =
        s.strip_prefix("Include /etc/nginx/modsecurity/modsecurity.conf\n").expect("stock config first");
    let (ok, report) = support::modsecurity_rules_check("snippet", &format!("{rest}{CRS}"));
    assert!(ok, "libmodsecurity rejected the snippet:\n{report}\n--- snippet ---\n{rest}");

    // The checker does reject bad rules, so the pass above means something.
    let (ok, _) = support::modsecurity_rules_check(
        "broken",
        &format!("{}{CRS}", rest.replace("DetectionOnly", "Maybe")),
    );
    assert!(!ok, "a broken SecRuleEngine value must not load");
}

/// The `.wasm` built from this crate, run through the engine's host (the
/// wasmtime sandbox and WIT conversions `capstan plan` uses), plans exactly
/// what the native build plans, and refuses bad inputs the same way.
#[test]
fn the_built_wasm_component_plans_the_same_in_the_sandbox() {
    let workspace = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml"));
    let wasm = capstan_sdk::testkit::wasm::build(workspace, env!("CARGO_PKG_NAME")).unwrap();
    let variant =
        call(json!({ "mtls": { "enabled": true }, "rule_exclusions": [{ "id": 942100, "path": "/a" }] }))
            .dependency("certs", "cert-manager", cert_manager());
    assert_eq!(variant.run_wasm(&wasm).unwrap().unwrap(), variant.run::<IngressNginxWaf>().unwrap());

    let bad = call(json!({ "rule_exclusions": [{ "id": 42 }] }));
    assert_eq!(bad.run_wasm(&wasm).unwrap().unwrap_err(), bad.run::<IngressNginxWaf>().unwrap_err());
}
