//! Deleting what is no longer declared, and nothing else.

use capstan_core::{VaultOp, VaultPrune};
use capstan_vault::VaultExecutor;
use capstan_vault::testing::Bao;
use serde_json::json;

use crate::support::{
    CONNECTION, assert_settled, auth, changes, config, effect, env, outcomes, row, unique, words,
};

fn prune(path: &str, prefix: &str, keep: &[&str]) -> VaultOp {
    VaultOp::Prune(VaultPrune {
        path: path.into(),
        prefix: prefix.into(),
        keep: keep.iter().map(ToString::to_string).collect(),
    })
}

fn listed(bao: &Bao, path: &str) -> Vec<String> {
    let mut names: Vec<String> = bao.ok("LIST", path, None)["data"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn roles_undeclared_under_the_prefix_are_deleted_and_nothing_else() {
    let env = env();
    let approle = unique("approle");
    let roles = format!("auth/{approle}/role");
    let setup = ["app-consent", "app-billing", "app-old", "other"]
        .map(|r| config(&format!("{roles}/{r}"), json!({"token_ttl": "1h"})));
    env.exec.apply(&effect("roles", [vec![auth(&approle, "approle", "")], setup.to_vec()].concat())).unwrap();

    let e = effect("prune", vec![prune(&roles, "app-", &["app-consent", "app-billing"])]);
    assert_eq!(env.exec.check(&e).unwrap(), [format!("{roles}/app-old: not declared (pruned on apply)")]);
    let pruned = env.exec.apply(&e).unwrap();
    assert_eq!(outcomes(&pruned), [row("prune", &roles, "changed")]);
    assert_eq!(changes(&pruned, 0), ["deleted app-old"]);
    assert_eq!(listed(&env.bao, &roles), ["app-billing", "app-consent", "other"]);
    assert_settled(&env, &e);

    // A path nothing was ever written under has nothing to prune.
    let e = effect("prune", vec![prune(&format!("auth/{approle}-none/role"), "", &[])]);
    assert_eq!(
        outcomes(&env.exec.apply(&e).unwrap()),
        [row("prune", &format!("auth/{approle}-none/role"), "unchanged")]
    );
}

/// On a server of its own: the prune is of every policy but one.
#[test]
fn pruning_every_policy_keeps_root_and_default() {
    let bao = Bao::start();
    let exec = VaultExecutor::new(bao.connection(CONNECTION));
    for name in ["app-a", "app-b", "keep-me"] {
        bao.ok(
            "PUT",
            &format!("sys/policies/acl/{name}"),
            Some(&json!({"policy": "path \"x/*\" { capabilities = [\"read\"] }"})),
        );
    }
    assert_eq!(listed(&bao, "sys/policies/acl"), ["app-a", "app-b", "default", "keep-me", "root"]);

    let e = effect("prune", vec![prune("sys/policies/acl", "", &["Keep-Me"])]);
    assert_eq!(
        exec.check(&e).unwrap(),
        [
            "sys/policies/acl/app-a: not declared (pruned on apply)",
            "sys/policies/acl/app-b: not declared (pruned on apply)"
        ]
    );
    let pruned = exec.apply(&e).unwrap();
    assert_eq!(changes(&pruned, 0), ["deleted app-a", "deleted app-b"]);
    assert_eq!(listed(&bao, "sys/policies/acl"), ["default", "keep-me", "root"]);
    assert_eq!(words(&exec.apply(&e).unwrap()), ["unchanged"]);
}
