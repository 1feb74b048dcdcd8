//! ACL policies: created, left alone, restored after a change by hand.

use serde_json::json;

use crate::support::{assert_settled, changes, effect, env, outcomes, policy, row, unique, words};

const RULES: &str = r#"path "secret/data/consent/*" {
  capabilities = ["read"]
}
"#;

#[test]
fn a_policy_is_created_then_unchanged_whatever_its_whitespace() {
    let env = env();
    let name = unique("capstan-consent");
    let e = effect("policy", vec![policy(&name, RULES)]);
    assert_eq!(env.exec.check(&e).unwrap(), [format!("policy {name}: missing")]);
    let first = env.exec.apply(&e).unwrap();
    assert_eq!(outcomes(&first), [row("ensure-policy", &name, "created")]);
    let read = env.bao.ok("GET", &format!("sys/policies/acl/{name}"), None);
    assert_eq!(read["data"]["policy"], RULES);
    assert_settled(&env, &e);

    // The same rules laid out otherwise are the same policy: nothing is sent.
    let reflowed = effect(
        "policy",
        vec![policy(&name, "  path \"secret/data/consent/*\" { capabilities = [\"read\"] }")],
    );
    assert_settled(&env, &reflowed);
    assert_eq!(
        env.bao.ok("GET", &format!("sys/policies/acl/{name}"), None)["data"]["version"],
        read["data"]["version"]
    );
}

#[test]
fn a_policy_changed_by_hand_is_reported_and_restored() {
    let env = env();
    let name = unique("capstan-billing");
    let e = effect("policy", vec![policy(&name, RULES)]);
    env.exec.apply(&e).unwrap();
    let widened = r#"path "secret/*" { capabilities = ["read", "list", "delete"] }"#;
    env.bao.ok("PUT", &format!("sys/policies/acl/{name}"), Some(&json!({"policy": widened})));

    assert_eq!(env.exec.check(&e).unwrap(), [format!("policy {name}: rules changed outside Capstan")]);
    // Checking wrote nothing.
    assert_eq!(env.bao.ok("GET", &format!("sys/policies/acl/{name}"), None)["data"]["policy"], widened);

    let restored = env.exec.apply(&e).unwrap();
    assert_eq!(words(&restored), ["changed"]);
    assert_eq!(changes(&restored, 0), ["rules differed from the declared ones; replaced"]);
    assert_eq!(env.bao.ok("GET", &format!("sys/policies/acl/{name}"), None)["data"]["policy"], RULES);
    assert_settled(&env, &e);
}
