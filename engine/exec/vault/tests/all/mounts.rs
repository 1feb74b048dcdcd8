//! Secrets engines and auth methods: mounted or enabled, tuned where they
//! differ, never replaced.

use capstan_vault::VaultError;
use serde_json::json;

use crate::support::{assert_settled, auth, changes, effect, env, mount, outcomes, row, unique, words};

#[test]
fn engines_and_auth_methods_are_created_then_unchanged() {
    let env = env();
    let (kv, pki, k8s) = (unique("kv"), unique("pki"), unique("kubernetes"));
    let e = effect(
        "mounts",
        vec![
            mount(&kv, "kv-v2", "app secrets", None),
            mount(&pki, "pki", "app certificates", Some("87600h")),
            auth(&k8s, "kubernetes", "the cluster's service accounts"),
        ],
    );
    assert_eq!(
        env.exec.check(&e).unwrap(),
        [
            format!("mount {kv}: not mounted"),
            format!("mount {pki}: not mounted"),
            format!("auth {k8s}: not enabled")
        ]
    );

    let first = env.exec.apply(&e).unwrap();
    assert_eq!(
        outcomes(&first),
        [
            row("ensure-mount", &kv, "created"),
            row("ensure-mount", &pki, "created"),
            row("ensure-auth", &k8s, "created")
        ]
    );
    assert_eq!((&first.body["target"], &first.body["changed"]), (&json!(env.target()), &json!(true)));

    // The server holds what was declared.
    let mounts = &env.bao.ok("GET", "sys/mounts", None)["data"];
    let m = &mounts[format!("{kv}/")];
    assert_eq!(
        (&m["type"], &m["options"]["version"], &m["description"]),
        (&json!("kv"), &json!("2"), &json!("app secrets"))
    );
    let m = &mounts[format!("{pki}/")];
    assert_eq!((&m["type"], &m["config"]["max_lease_ttl"]), (&json!("pki"), &json!(315_360_000)));
    let a = &env.bao.ok("GET", "sys/auth", None)["data"][format!("{k8s}/")];
    assert_eq!(
        (&a["type"], &a["description"]),
        (&json!("kubernetes"), &json!("the cluster's service accounts"))
    );

    assert_settled(&env, &e);
}

#[test]
fn a_description_and_ttl_tuned_by_hand_are_reported_and_put_back() {
    let env = env();
    let (pki, userpass) = (unique("pki"), unique("userpass"));
    let e = effect(
        "mounts",
        vec![mount(&pki, "pki", "certificates", Some("8760h")), auth(&userpass, "userpass", "people")],
    );
    env.exec.apply(&e).unwrap();
    env.bao.ok(
        "POST",
        &format!("sys/mounts/{pki}/tune"),
        Some(&json!({"description": "hand", "max_lease_ttl": "24h"})),
    );
    env.bao.ok("POST", &format!("sys/auth/{userpass}/tune"), Some(&json!({"description": "robots"})));

    assert_eq!(
        env.exec.check(&e).unwrap(),
        [
            format!("mount {pki}: description \"hand\" → declared \"certificates\""),
            format!("mount {pki}: max_lease_ttl 24h → declared 8760h"),
            format!("auth {userpass}: description \"robots\" → declared \"people\""),
        ]
    );
    let fixed = env.exec.apply(&e).unwrap();
    assert_eq!(words(&fixed), ["changed", "changed"]);
    assert_eq!(changes(&fixed, 0), ["description \"hand\" → \"certificates\"", "max_lease_ttl 24h → 8760h"]);
    assert_eq!(changes(&fixed, 1), ["description \"robots\" → \"people\""]);
    let m = &env.bao.ok("GET", "sys/mounts", None)["data"][format!("{pki}/")];
    assert_eq!(
        (&m["description"], &m["config"]["max_lease_ttl"]),
        (&json!("certificates"), &json!(8760 * 3600))
    );
    assert_settled(&env, &e);
}

#[test]
fn a_path_holding_another_engine_or_method_is_refused_and_left_alone() {
    let env = env();
    let (path, auth_path) = (unique("taken"), unique("taken-auth"));
    env.bao.ok(
        "POST",
        &format!("sys/mounts/{path}"),
        Some(&json!({"type": "kv", "options": {"version": "2"}})),
    );
    env.bao.ok("POST", &format!("sys/auth/{auth_path}"), Some(&json!({"type": "approle"})));

    let e = effect("pki", vec![mount(&path, "pki", "certificates", None)]);
    assert_eq!(
        env.exec.check(&e).unwrap(),
        [format!("mount {path}: holds the kv-v2 engine, declared pki (apply refuses to replace it)")]
    );
    let err = env.exec.apply(&e).unwrap_err();
    assert!(matches!(err, VaultError::Conflict { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "effect pki: ensure-mount {path} on {}: {path}/ holds the kv-v2 engine, not the declared pki; it is \
             left as it is, as replacing it would lose what it holds (declare another path, or move it by hand)",
            env.target()
        )
    );
    // A kv version 1 is another engine than kv-v2 too.
    let e = effect("kv1", vec![mount(&path, "kv", "", None)]);
    assert!(matches!(env.exec.apply(&e).unwrap_err(), VaultError::Conflict { .. }));
    assert_eq!(env.bao.ok("GET", "sys/mounts", None)["data"][format!("{path}/")]["type"], "kv");

    let e = effect("auth", vec![auth(&auth_path, "kubernetes", "")]);
    let err = env.exec.apply(&e).unwrap_err();
    assert!(err.to_string().contains("holds the approle method, not the declared kubernetes"), "{err}");
    assert_eq!(env.bao.ok("GET", "sys/auth", None)["data"][format!("{auth_path}/")]["type"], "approle");
}
