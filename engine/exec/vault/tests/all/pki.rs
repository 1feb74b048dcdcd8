//! A PKI mount, its root CA and a role, then certificates issued under
//! them by the server itself; an intermediate CA signed by that root, and
//! certificates issued under it that `openssl verify` chains to the root.

use capstan_core::{VaultOp, VaultPkiIntermediate, VaultPkiRoot};
use capstan_vault::VaultError;
use capstan_vault::testing::{openssl, scratch};
use serde_json::json;

use crate::support::{assert_settled, changes, config, effect, env, mount, outcomes, row, unique, words};

fn root(mount: &str, common_name: &str) -> VaultOp {
    VaultOp::EnsurePkiRoot(VaultPkiRoot {
        mount: mount.into(),
        common_name: common_name.into(),
        ttl: "87600h".into(),
    })
}

fn intermediate(mount: &str, issuer_mount: &str, common_name: &str) -> VaultOp {
    VaultOp::EnsurePkiIntermediate(VaultPkiIntermediate {
        mount: mount.into(),
        issuer_mount: issuer_mount.into(),
        common_name: common_name.into(),
        ttl: "43800h".into(),
    })
}

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

#[test]
fn an_intermediate_signed_by_the_root_issues_certificates_that_chain_to_it_and_is_never_regenerated() {
    let env = env();
    let (pki, int) = (unique("pki"), unique("pki-int"));
    let role = format!("{int}/roles/app");
    let e = effect(
        "pki",
        vec![
            mount(&pki, "pki", "root", Some("87600h")),
            root(&pki, "Capstan Test Root"),
            mount(&int, "pki", "intermediate", Some("43800h")),
            intermediate(&int, &pki, "Capstan Test Intermediate"),
            config(
                &role,
                json!({"allowed_domains": "apps.example.test", "allow_subdomains": true, "max_ttl": "72h",
                       "key_type": "ec", "key_bits": 256}),
            ),
        ],
    );
    assert_eq!(
        env.exec.check(&e).unwrap(),
        [
            format!("mount {pki}: not mounted"),
            format!("{pki}: no root CA"),
            format!("mount {int}: not mounted"),
            format!("{int}: no intermediate CA (signed by {pki})"),
            format!("{role}: missing"),
        ]
    );
    let first = env.exec.apply(&e).unwrap();
    assert_eq!(
        outcomes(&first),
        [
            row("ensure-mount", &pki, "created"),
            row("ensure-pki-root", &pki, "created"),
            row("ensure-mount", &int, "created"),
            row("ensure-pki-intermediate", &int, "created"),
            row("ensure-config", &role, "created"),
        ]
    );
    let pem =
        |mount: &str| env.bao.ok("GET", &format!("{mount}/cert/ca"), None)["data"]["certificate"].clone();
    let (root_pem, int_pem) = (pem(&pki), pem(&int));
    assert_ne!(root_pem, int_pem, "the intermediate mount has a CA of its own");
    // The intermediate's chain is itself, then the root.
    let chain = env.bao.ok("GET", &format!("{int}/issuer/default"), None)["data"]["ca_chain"].clone();
    let chain: Vec<&str> = chain.as_array().unwrap().iter().map(|c| c.as_str().unwrap().trim()).collect();
    assert_eq!(chain, [int_pem.as_str().unwrap(), root_pem.as_str().unwrap()]);

    // A certificate issued under the intermediate's role is the
    // intermediate's, and verifies up to the root.
    let (status, issued) = env.bao.call(
        "POST",
        &format!("{int}/issue/app"),
        Some(&json!({"common_name": "consent.apps.example.test", "ttl": "1h"})),
    );
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["data"]["issuing_ca"], int_pem);
    let dir = scratch(&int);
    for (file, pem) in
        [("root.pem", &root_pem), ("int.pem", &int_pem), ("leaf.pem", &issued["data"]["certificate"])]
    {
        std::fs::write(dir.join(file), format!("{}\n", pem.as_str().unwrap())).unwrap();
    }
    let subject = |file: &str, field: &str| {
        openssl(&dir, &["x509", "-in", file, "-noout", field, "-nameopt", "multiline"]).unwrap()
    };
    assert!(subject("leaf.pem", "-issuer").contains("Capstan Test Intermediate"));
    assert!(subject("int.pem", "-issuer").contains("Capstan Test Root"));
    assert!(subject("int.pem", "-subject").contains("Capstan Test Intermediate"));
    let verified = openssl(&dir, &["verify", "-CAfile", "root.pem", "-untrusted", "int.pem", "leaf.pem"]);
    assert_eq!(verified.unwrap().trim(), "leaf.pem: OK");
    // Not without the intermediate, nor with it alone as the trust anchor:
    // the root is what it chains to.
    assert!(openssl(&dir, &["verify", "-CAfile", "root.pem", "leaf.pem"]).is_err());
    assert!(openssl(&dir, &["verify", "-CAfile", "int.pem", "leaf.pem"]).is_err());
    let _ = std::fs::remove_dir_all(&dir);

    // Applied again: unchanged, and neither CA is replaced.
    assert_settled(&env, &e);
    assert_eq!((pem(&pki), pem(&int)), (root_pem, int_pem));
}

#[test]
fn an_intermediate_whose_issuer_has_no_ca_is_refused_before_a_key_is_made() {
    let env = env();
    let (pki, int) = (unique("pki"), unique("pki-int"));
    let e = effect(
        "pki",
        vec![
            mount(&pki, "pki", "no root yet", None),
            mount(&int, "pki", "intermediate", None),
            intermediate(&int, &pki, "Capstan Test Intermediate"),
        ],
    );
    let err = env.exec.apply(&e).unwrap_err();
    assert!(matches!(err, VaultError::Conflict { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "effect pki: ensure-pki-intermediate {int} on {}: the issuer mount {pki} has no CA to sign the \
             intermediate with: ensure its root (or intermediate) first, in an earlier op",
            env.target()
        )
    );
    let (status, keys) = env.bao.call("LIST", &format!("{int}/keys"), None);
    assert_eq!(status, 404, "no key was generated: {keys}");
}
