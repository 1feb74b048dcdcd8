//! A PKI mount, its root CA and a role, then certificates issued under
//! them by the server itself.

use capstan_core::{VaultOp, VaultPkiRoot};
use serde_json::json;

use crate::support::{assert_settled, changes, config, effect, env, mount, outcomes, row, unique, words};

#[test]
fn a_pki_root_and_role_issue_inside_their_domain_and_are_never_regenerated() {
    let env = env();
    let pki = unique("pki");
    let role = format!("{pki}/roles/app");
    let e = effect(
        "pki",
        vec![
            mount(&pki, "pki", "app certificates", Some("87600h")),
            VaultOp::EnsurePkiRoot(VaultPkiRoot {
                mount: pki.clone(),
                common_name: "Capstan Test Root".into(),
                ttl: "87600h".into(),
            }),
            config(
                &role,
                json!({"allowed_domains": "apps.example.test", "allow_subdomains": true, "max_ttl": "72h"}),
            ),
        ],
    );
    assert_eq!(
        env.exec.check(&e).unwrap(),
        [format!("mount {pki}: not mounted"), format!("{pki}: no root CA"), format!("{role}: missing")]
    );
    let first = env.exec.apply(&e).unwrap();
    assert_eq!(
        outcomes(&first),
        [
            row("ensure-mount", &pki, "created"),
            row("ensure-pki-root", &pki, "created"),
            row("ensure-config", &role, "created"),
        ]
    );
    let ca = env.bao.ok("GET", &format!("{pki}/cert/ca"), None)["data"]["certificate"].clone();
    assert!(ca.as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");

    // A name inside the role's domain is issued, for at most max_ttl.
    let (status, issued) = env.bao.call(
        "POST",
        &format!("{pki}/issue/app"),
        Some(&json!({"common_name": "consent.apps.example.test", "ttl": "1h"})),
    );
    assert_eq!(status, 200, "{issued}");
    assert!(issued["data"]["certificate"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(issued["data"]["issuing_ca"], ca);
    // Outside it, the server refuses.
    let (status, refused) = env.bao.call(
        "POST",
        &format!("{pki}/issue/app"),
        Some(&json!({"common_name": "consent.evil.test", "ttl": "1h"})),
    );
    assert_eq!(status, 400, "{refused}");
    assert!(refused["errors"][0].as_str().unwrap().contains("not allowed by this role"), "{refused}");

    // Applied again: the root stays the one certificates were issued under.
    assert_settled(&env, &e);
    assert_eq!(env.bao.ok("GET", &format!("{pki}/cert/ca"), None)["data"]["certificate"], ca);

    // A path that takes writes only (its read answers 405) is sent every
    // time, and the outcome says so; `check` cannot see it differ.
    let tidy = effect(
        "tidy",
        vec![config(&format!("{pki}/tidy"), json!({"tidy_cert_store": true, "safety_buffer": "72h"}))],
    );
    for _ in 0..2 {
        let ran = env.exec.apply(&tidy).unwrap();
        assert_eq!(words(&ran), ["executed"]);
        assert_eq!(changes(&ran, 0), ["the server does not read this path back; sent as declared"]);
    }
    assert_eq!(env.exec.check(&tidy).unwrap(), Vec::<String>::new());
}
