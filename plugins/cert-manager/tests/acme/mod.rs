//! The ACME issuer's DNS-01 solvers (Route 53, Cloudflare, RFC 2136), the
//! wildcards they allow, and external account binding. What a user relies
//! on: wildcards are issued only through DNS-01, plain names keep their
//! HTTP-01 path, and credentials appear only as Secret references.

use capstan_core::Severity;
use capstan_plugin_cert_manager::CertManager;
use capstan_plugin_testsupport::validate;
use capstan_sdk::testkit::{PlanCall, PlanExt, invalid_inputs};
use serde_json::{Value, json};

use super::call;

const WAF: &str = "nginx-waf";
const ROLE: &str = "arn:aws:iam::123456789012:role/cert-manager-dns01";

/// An ACME issuer behind the WAF, with `acme` merged over its inputs and
/// one Certificate for a wildcard and its apex.
fn with_acme(acme: Value) -> PlanCall {
    let mut inputs = json!({ "email": "platform@example.com" });
    capstan_sdk::testkit::merge(&mut inputs, acme);
    call(json!({
        "acme": inputs,
        "certificates": [{ "name": "wild", "hosts": ["*.apps.example.com", "apps.example.com"] }],
    }))
    .dependency("waf", "waf", json!({ "ingress_class": WAF, "annotations": {} }))
}

fn solvers(plan: &capstan_core::ComponentPlan) -> Value {
    plan.expect_object("ClusterIssuer", "letsencrypt-staging")["spec"]["acme"]["solvers"].clone()
}

fn http01() -> Value {
    json!({ "http01": { "ingress": { "ingressClassName": WAF } } })
}

/// Every DNS-01 and EAB shape the plugin renders, for the CRD check in
/// `every_variant_renders_objects_valid_for_kubernetes_and_the_cert_manager_crds`.
pub fn variants() -> Vec<PlanCall> {
    vec![
        with_acme(json!({ "dns01": { "route53": {} } })),
        with_acme(json!({ "dns01": { "zones": ["apps.example.com"], "route53": {
            "region": "eu-west-1", "hosted_zone_id": "Z0123456789ABCDEFGHIJ", "role": ROLE,
            "access_key": { "access_key_id_secret": { "name": "route53", "key": "access-key-id" },
                            "secret_access_key_secret": { "name": "route53", "key": "secret-access-key" } } } } })),
        with_acme(json!({ "dns01": { "route53": {
            "role": ROLE, "service_account": { "name": "dns01", "audiences": ["sts.amazonaws.com"] } } } })),
        with_acme(json!({ "http01": false,
                          "dns01": { "cloudflare": { "api_token_secret": { "name": "cloudflare", "key": "api-token" } } } })),
        with_acme(json!({ "dns01": { "rfc2136": {
            "nameserver": "[2001:db8::53]:53", "tsig_key_name": "acme-update", "protocol": "TCP",
            "tsig_secret": { "name": "tsig", "key": "secret" } } } })),
        with_acme(json!({
            "server": "https://acme.zerossl.com/v2/DV90",
            "dns01": { "route53": {} },
            "external_account_binding": { "key_id": "kid-1", "key_algorithm": "HS256",
                                          "hmac_key_secret": { "name": "zerossl-eab", "key": "hmac-key" } } })),
    ]
}

#[test]
fn a_wildcard_without_dns01_is_refused_naming_the_input() {
    let d = invalid_inputs(with_acme(json!({})).run::<CertManager>().unwrap_err());
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].0, "/certificates/0/hosts/0");
    assert!(d[0].1.contains("acme.dns01"), "the message names the input to set: {}", d[0].1);
}

#[test]
fn route53_with_ambient_credentials_proves_wildcards_and_plain_names_keep_http01() {
    let plan = with_acme(json!({ "dns01": { "route53": {} } })).run::<CertManager>().unwrap();
    // HTTP-01 first: cert-manager takes the first of equally specific
    // solvers for a plain name; a wildcard is offered DNS-01 only.
    assert_eq!(solvers(&plan), json!([http01(), { "dns01": { "route53": {} } }]));
    let cert = plan.expect_object("Certificate", "wild");
    assert_eq!(cert["spec"]["dnsNames"], json!(["*.apps.example.com", "apps.example.com"]));
    assert_eq!(cert["spec"]["issuerRef"]["name"], "letsencrypt-staging");
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn route53_credentials_are_secret_references_or_a_service_account() {
    let plan = with_acme(json!({ "dns01": { "route53": {
        "region": "eu-west-1", "hosted_zone_id": "Z0123456789ABCDEFGHIJ", "role": ROLE,
        "access_key": { "access_key_id_secret": { "name": "route53", "key": "access-key-id" },
                        "secret_access_key_secret": { "name": "route53", "key": "secret-access-key" } } } } }))
    .run::<CertManager>()
    .unwrap();
    assert_eq!(
        solvers(&plan)[1]["dns01"]["route53"],
        json!({
            "region": "eu-west-1", "hostedZoneID": "Z0123456789ABCDEFGHIJ", "role": ROLE,
            "accessKeyIDSecretRef": { "name": "route53", "key": "access-key-id" },
            "secretAccessKeySecretRef": { "name": "route53", "key": "secret-access-key" },
        })
    );
    assert_eq!(plan.objects_of_kind("Secret").len(), 0, "the plugin names the Secret, it does not make one");

    let plan = with_acme(
        json!({ "dns01": { "route53": { "role": ROLE, "service_account": { "name": "dns01" } } } }),
    )
    .run::<CertManager>()
    .unwrap();
    assert_eq!(
        solvers(&plan)[1]["dns01"]["route53"],
        json!({ "role": ROLE, "auth": { "kubernetes": { "serviceAccountRef": { "name": "dns01" } } } })
    );
}

#[test]
fn cloudflare_alone_needs_no_ingress_and_references_its_token() {
    // DNS-01 only: no `waf` dependency and no ingress class needed.
    let plan = call(json!({
        "acme": { "email": "p@example.com", "http01": false,
                  "dns01": { "cloudflare": { "api_token_secret": { "name": "cloudflare", "key": "api-token" } } } },
        "certificates": [{ "name": "internal", "hosts": ["*.internal.example.com", "db.internal.example.com"] }],
    }))
    .run::<CertManager>()
    .unwrap();
    assert_eq!(
        solvers(&plan),
        json!([{ "dns01": { "cloudflare": { "apiTokenSecretRef": { "name": "cloudflare", "key": "api-token" } } } }])
    );
}

#[test]
fn rfc2136_requires_tsig_and_says_hmac_sha256_unless_told() {
    let plan = with_acme(json!({ "dns01": { "rfc2136": {
        "nameserver": "10.0.0.53:53", "tsig_key_name": "acme-update",
        "tsig_secret": { "name": "tsig", "key": "secret" } } } }))
    .run::<CertManager>()
    .unwrap();
    assert_eq!(
        solvers(&plan)[1]["dns01"]["rfc2136"],
        json!({ "nameserver": "10.0.0.53:53", "tsigKeyName": "acme-update", "tsigAlgorithm": "HMACSHA256",
                "tsigSecretSecretRef": { "name": "tsig", "key": "secret" } })
    );

    // An unsigned update server is refused at the schema: both TSIG inputs are required.
    let d = invalid_inputs(
        with_acme(json!({ "dns01": { "rfc2136": { "nameserver": "10.0.0.53" } } }))
            .run::<CertManager>()
            .unwrap_err(),
    );
    let missing: Vec<&str> =
        d.iter().filter(|d| d.0 == "/acme/dns01/rfc2136").map(|d| d.1.as_str()).collect();
    assert!(missing.iter().any(|m| m.contains("tsig_key_name")), "{d:?}");
    assert!(missing.iter().any(|m| m.contains("tsig_secret")), "{d:?}");
}

#[test]
fn dns01_zones_select_names_and_a_wildcard_outside_them_is_refused() {
    let plan = with_acme(json!({ "dns01": { "zones": ["example.com"], "route53": {} } }))
        .run::<CertManager>()
        .unwrap();
    assert_eq!(solvers(&plan)[1]["selector"], json!({ "dnsZones": ["example.com"] }));

    let err = with_acme(json!({ "dns01": { "zones": ["example.org"], "route53": {} } }))
        .run::<CertManager>()
        .unwrap_err();
    let d = invalid_inputs(err);
    assert_eq!(d.len(), 1, "the plain name still goes through HTTP-01: {d:?}");
    assert_eq!(d[0].0, "/certificates/0/hosts/0");
    assert!(d[0].1.contains("acme.dns01.zones"), "{}", d[0].1);

    // With HTTP-01 off, plain names outside the zones have no solver either.
    let d = invalid_inputs(
        with_acme(json!({ "http01": false, "dns01": { "zones": ["example.org"], "route53": {} } }))
            .run::<CertManager>()
            .unwrap_err(),
    );
    let paths: Vec<&str> = d.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(paths, ["/certificates/0/hosts/0", "/certificates/0/hosts/1"]);
}

#[test]
fn external_account_binding_names_the_hmac_key_secret() {
    let plan = with_acme(json!({
        "server": "https://acme.zerossl.com/v2/DV90",
        "dns01": { "route53": {} },
        "external_account_binding": { "key_id": "kid-1", "hmac_key_secret": { "name": "zerossl-eab", "key": "hmac-key" } },
    }))
    .run::<CertManager>()
    .unwrap();
    let acme = &plan.expect_object("ClusterIssuer", "letsencrypt-staging")["spec"]["acme"];
    assert_eq!(acme["server"], "https://acme.zerossl.com/v2/DV90");
    assert_eq!(
        acme["externalAccountBinding"],
        json!({ "keyID": "kid-1", "keySecretRef": { "name": "zerossl-eab", "key": "hmac-key" } }),
        "no keyAlgorithm unless asked: cert-manager ignores it"
    );

    // A non-HS256 algorithm is rendered as asked, with a warning that it has no effect.
    let plan = with_acme(json!({ "dns01": { "route53": {} }, "external_account_binding": {
        "key_id": "kid-1", "key_algorithm": "HS512", "hmac_key_secret": { "name": "eab", "key": "hmac" } } }))
    .run::<CertManager>()
    .unwrap();
    let acme = &plan.expect_object("ClusterIssuer", "letsencrypt-staging")["spec"]["acme"];
    assert_eq!(acme["externalAccountBinding"]["keyAlgorithm"], "HS512");
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert_eq!(plan.warnings[0].severity, Severity::Warning);
    assert_eq!(plan.warnings[0].path, "/acme/external_account_binding/key_algorithm");
}

#[test]
fn dns01_and_eab_mistakes_point_at_the_input_and_never_echo_a_credential() {
    let paths = |acme: Value| -> Vec<(String, String)> {
        invalid_inputs(with_acme(acme).run::<CertManager>().unwrap_err())
    };

    let d = paths(json!({ "dns01": {} }));
    assert_eq!((d[0].0.as_str(), d.len()), ("/acme/dns01", 1), "no provider: {d:?}");
    let d = paths(json!({ "dns01": { "route53": {},
        "cloudflare": { "api_token_secret": { "name": "cf", "key": "token" } } } }));
    assert_eq!(d[0].0, "/acme/dns01", "two providers: {d:?}");
    assert!(d[0].1.contains("exactly one"), "{}", d[0].1);

    // A token pasted where the Secret's name goes: refused, and not repeated.
    let token = "Xy9_TEST-ONLY-CLOUDFLARE-TOKEN";
    let d = paths(
        json!({ "dns01": { "cloudflare": { "api_token_secret": { "name": token, "key": "api-token" } } } }),
    );
    assert_eq!(d[0].0, "/acme/dns01/cloudflare/api_token_secret/name");
    assert!(d.iter().all(|(_, m)| !m.contains("TEST-ONLY")), "{d:?}");
    // And a value where no reference is expected is an unknown field.
    let d = paths(json!({ "dns01": { "cloudflare": { "api_token": token } } }));
    assert!(d[0].0.starts_with("/acme/dns01/cloudflare"), "{d:?}");
    assert!(d.iter().all(|(_, m)| !m.contains("TEST-ONLY")), "{d:?}");

    let d = paths(json!({ "dns01": { "route53": { "service_account": { "name": "dns01" } } } }));
    assert_eq!(d[0].0, "/acme/dns01/route53/role", "web identity needs a role: {d:?}");
    let d =
        paths(json!({ "dns01": { "route53": { "role": "dns01", "hosted_zone_id": "apps.example.com" } } }));
    let at: Vec<&str> = d.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(at, ["/acme/dns01/route53/hosted_zone_id", "/acme/dns01/route53/role"]);
    let d = paths(json!({ "dns01": { "route53": { "role": ROLE, "service_account": { "name": "sa" },
        "access_key": { "access_key_id_secret": { "name": "a", "key": "b" },
                        "secret_access_key_secret": { "name": "a", "key": "c" } } } } }));
    assert_eq!(d[0].0, "/acme/dns01/route53");

    let d = paths(json!({ "dns01": { "rfc2136": { "nameserver": "udp://10.0.0.53",
        "tsig_key_name": "k", "tsig_secret": { "name": "tsig", "key": "secret" }, "tsig_algorithm": "HMACSHA256" } } }));
    assert_eq!(d[0].0, "/acme/dns01/rfc2136/nameserver");
    let d = paths(json!({ "dns01": { "rfc2136": { "nameserver": "ns1.example.com",
        "tsig_key_name": "k", "tsig_secret": { "name": "tsig", "key": "secret" }, "tsig_algorithm": "SHA256" } } }));
    assert_eq!(d[0].0, "/acme/dns01/rfc2136/tsig_algorithm");

    let d = paths(json!({ "dns01": { "route53": {} }, "http01": false, "external_account_binding": {
        "key_id": "", "hmac_key_secret": { "name": "eab", "key": "hmac key" } } }));
    let at: Vec<&str> = d.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        at,
        ["/acme/external_account_binding/key_id", "/acme/external_account_binding/hmac_key_secret/key"]
    );

    let d = paths(json!({ "http01": false }));
    assert_eq!(d[0].0, "/acme/http01", "no solver at all: {d:?}");
}

/// Credentials never reach the rendered objects or the outputs: each
/// variant's referenced Secrets appear only as `{name, key}`, and no
/// `Secret` object is rendered for them.
#[test]
fn no_variant_renders_a_credential_secret() {
    for variant in variants() {
        let plan = variant.run::<CertManager>().unwrap();
        assert_eq!(plan.object_ids(), ["ClusterIssuer/letsencrypt-staging", "Certificate/wild"]);
    }
}

/// The CRD check catches a misspelt field in a rendered solver: the
/// control for the schema validation in the main test binary.
#[test]
fn the_crd_check_rejects_a_misspelt_solver_field() {
    let plan = with_acme(json!({ "dns01": { "route53": { "hosted_zone_id": "Z0123456789ABCDEFGHIJ" } } }))
        .run::<CertManager>()
        .unwrap();
    let mut issuer = plan.expect_object("ClusterIssuer", "letsencrypt-staging").clone();
    let route53 = issuer.pointer_mut("/spec/acme/solvers/1/dns01/route53").unwrap();
    let zone = route53.as_object_mut().unwrap().remove("hostedZoneID").unwrap();
    route53["hostedZoneId"] = zone;
    let report = validate(&[issuer], &[]).expect_err("hostedZoneId is not a cert-manager field");
    assert!(report.contains("hostedZoneId"), "{report}");
}
