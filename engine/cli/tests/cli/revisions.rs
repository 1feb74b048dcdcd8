//! Revisions and rollback through the real binary: every apply that changes
//! an environment records a revision; `history` lists them; `rollback`
//! writes a revision's objects back, and refuses, naming why, what it
//! cannot restore.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::{Stack, example, psql, walk, with_test_key};

const APP: &str = "envs/staging/open-finance/oob-payments/component.hcl";

/// Every rendered file, by path below `rendered/`.
fn rendered(s: &Stack) -> BTreeMap<String, String> {
    walk(&s.path("rendered"))
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(s.path("rendered")).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read_to_string(&p).unwrap_or_default())
        })
        .collect()
}

/// The files whose content differs between two renders (SOPS documents are
/// encrypted afresh on every write, so they compare by their clear fields).
fn differing(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| {
            let (x, y) = (a.get(*k), b.get(*k));
            match (x, y) {
                (Some(x), Some(y)) if x.contains("\nsops:\n") => clear_lines(x) != clear_lines(y),
                _ => x != y,
            }
        })
        .cloned()
        .collect()
}

fn clear_lines(sops: &str) -> Vec<&str> {
    sops.lines().take_while(|l| *l != "sops:").filter(|l| !l.contains("ENC[")).collect()
}

/// The example's payments app with one more environment variable, which
/// changes its Deployment.
fn set_mark(s: &Stack, original: &str, mark: u32) {
    let with = original.replacen(
        "inputs = {\n",
        &format!("inputs = {{\n  env = {{ ROLLOUT_MARK = \"{mark}\" }}\n"),
        1,
    );
    assert_ne!(with, original, "{APP} has an inputs block");
    s.write(APP, &with);
}

#[test]
fn three_revisions_then_a_rollback_to_the_first_leaves_nothing_to_plan_against_it() {
    let s = example();
    let original = s.read(APP);
    with_test_key(&s, &["apply", "envs/staging", "--auto-approve", "--no-color"]).ok();
    let first = rendered(&s);

    set_mark(&s, &original, 3);
    let second = with_test_key(&s, &["apply", "envs/staging", "--auto-approve", "--json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(doc["revisions"], serde_json::json!([{"environment": "staging", "number": 2}]), "{second:?}");
    set_mark(&s, &original, 4);
    let third = with_test_key(&s, &["apply", "envs/staging", "--auto-approve", "--no-color"]).ok();
    assert!(third.stdout.contains("Recorded as revision 3 of staging"), "{third:?}");
    // An apply that changes nothing records no revision.
    with_test_key(&s, &["apply", "envs/staging", "--auto-approve", "--no-color"]).ok();

    let history = with_test_key(&s, &["history", "envs/staging", "--json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let revisions = doc["revisions"].as_array().unwrap();
    let numbers: Vec<u64> = revisions.iter().map(|r| r["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3], "{history:?}");
    assert!(revisions.iter().all(|r| r["environment"] == "staging" && r["operation"] == "apply"));
    assert!(revisions[0]["changed"].as_array().unwrap().len() > 5, "the first apply changed everything");
    assert_eq!(revisions[1]["changed"], serde_json::json!(["envs/staging/open-finance/oob-payments"]));
    assert_ne!(revisions[0]["tree_digest"], revisions[1]["tree_digest"]);
    let table = with_test_key(&s, &["history", "envs/staging", "--no-color"]).ok();
    assert!(table.stdout.starts_with("ENVIRONMENT  REVISION"), "{table:?}");

    let shown = with_test_key(&s, &["history", "show", "2", "envs/staging", "--no-color"]).ok();
    assert!(shown.stdout.contains("Revision 2 of staging: apply"), "{shown:?}");
    assert!(shown.stdout.contains("envs/staging/open-finance/oob-payments (capstan/app"), "{shown:?}");
    assert!(shown.stdout.contains("(changed)"), "{shown:?}");

    // Someone edits a rendered file by hand: the rollback overwrites it too,
    // and says it drifted.
    let service = "rendered/staging/open-finance/oob-consent/service-oob-consent.yaml";
    let edited = s.read(service).replace("managed-by: capstan", "managed-by: someone-else");
    s.write(service, &edited);

    // The rollback shows its plan: the Deployment goes back to its variables of then.
    let report = s.path("rollback-report.json");
    let args = ["rollback", "envs/staging", "--to", "1", "--auto-approve", "--no-color", "--report"];
    let rollback = with_test_key(&s, &[&args[..], &[report.to_str().unwrap()]].concat()).ok();
    assert!(rollback.stdout.contains("Rollback of staging to revision 1"), "{rollback:?}");
    assert!(rollback.stdout.contains("~ Deployment open-finance/oob-payments"), "{rollback:?}");
    assert!(
        rollback.stdout.contains("~ Service open-finance/oob-consent  (drifted: changed outside Capstan"),
        "{rollback:?}"
    );
    assert!(!rollback.stdout.contains("~ Deployment open-finance/oob-payments  (drifted"), "{rollback:?}");
    assert!(rollback.stdout.contains("recorded as revision 4"), "{rollback:?}");
    assert_eq!(
        differing(&first, &rendered(&s)),
        Vec::<String>::new(),
        "the render is the first revision's again"
    );
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["command"], "rollback");
    let payments = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "envs/staging/open-finance/oob-payments")
        .unwrap();
    assert_eq!(payments["outcome"], "applied", "{report}");

    // With the first revision's tree, there is nothing to plan.
    s.write(APP, &original);
    let plan = with_test_key(&s, &["plan", "envs/staging", "--detailed-exitcode", "--no-color"]);
    assert_eq!(plan.code, 0, "{plan:?}");

    let history = with_test_key(&s, &["history", "envs/staging", "--json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(doc["revisions"][3]["operation"], "rollback to 1", "{history:?}");

    // Going back to where it is already changes nothing.
    let again = with_test_key(&s, &["rollback", "envs/staging", "--to", "staging/4", "--auto-approve"]).ok();
    assert!(again.stdout.contains("Nothing to roll back"), "{again:?}");

    // A revision that is not kept is named as such.
    let missing = with_test_key(&s, &["rollback", "envs/staging", "--to", "9", "--auto-approve"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("environment staging has no revision 9"), "{missing:?}");
}

#[test]
fn revisions_kept_are_bounded_by_the_state_block() {
    let s = crate::support::web_stack(&["api"]);
    let client = s.read("client.hcl");
    s.write("client.hcl", &format!("{client}\nstate {{\n  backend   = \"local\"\n  revisions = 2\n}}\n"));
    for replicas in 1..=4 {
        s.write("envs/dev/env.hcl", &format!("replicas = {replicas}\n"));
        s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    }
    let history = s.run(&["history", ".", "--json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    let numbers: Vec<u64> =
        doc["revisions"].as_array().unwrap().iter().map(|r| r["number"].as_u64().unwrap()).collect();
    assert_eq!(numbers, [3, 4], "{history:?}");
    let gone = s.run(&["history", "show", "dev/1", "."]);
    assert!(gone.stderr.contains("environment dev has no revision 1"), "{gone:?}");

    s.write("client.hcl", &format!("{client}\nstate {{\n  backend   = \"local\"\n  revisions = 0\n}}\n"));
    let bad = s.run(&["history", "."]);
    assert!(bad.stderr.contains("client.hcl:") && bad.stderr.contains("`revisions`"), "{bad:?}");
}

/// Drops the test's databases and roles on the real server.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.0 {
            for sql in [format!("DROP DATABASE IF EXISTS {name}"), format!("DROP ROLE IF EXISTS {name}_user")]
            {
                let _ = Command::new("psql")
                    .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
                    .arg(sql)
                    .output();
            }
        }
    }
}

fn postgres_component(apps: &[&str]) -> String {
    let apps: Vec<String> = apps.iter().map(|a| format!("{a} = {{}}")).collect();
    format!(
        r#"component {{
  type    = "postgres"
  plugin  = "capstan/postgres-external"
  version = "^0.1"
  grants  = ["sql:platform"]
}}
inputs = {{
  db_host    = "127.0.0.1"
  connection = "platform"
  apps       = {{ {} }}
}}
"#,
        apps.join(", ")
    )
}

fn set_passwords(s: &Stack, passwords: &[(&str, &str)]) {
    let yaml: String = passwords.iter().map(|(app, pw)| format!("  {app}:\n    password: {pw}\n")).collect();
    s.run_with_stdin(
        &["secrets", "set", "envs/prod/data/db/secrets.enc.hcl", "values_sensitive_custom"],
        &format!("apps:\n{yaml}"),
    )
    .ok();
}

/// Against the real PostgreSQL on 127.0.0.1:5432: a database created after
/// a revision, and a password rotated after one, cannot be undone, and the
/// rollback says so for each, changing nothing.
#[test]
fn a_rollback_across_an_effect_is_refused_with_the_reason() {
    let pid = std::process::id();
    let (a, b) = (format!("capstan_rb_a_{pid}"), format!("capstan_rb_b_{pid}"));
    let _cleanup = Cleanup(vec![a.clone(), b.clone()]);
    let (ka, kb) = (a.replace('_', "-"), b.replace('_', "-"));
    let s = Stack::new(
        "connection \"platform\" {\n  type = \"postgres\"\n  url  = \"postgres://postgres@127.0.0.1:5432/postgres\"\n}\n",
    );
    s.write("envs/prod/env.hcl", "");
    s.write("envs/prod/data/namespace.hcl", "namespace = \"data\"\n");
    s.run(&["secrets", "keygen"]).ok();

    s.write("envs/prod/data/db/component.hcl", &postgres_component(&[&ka]));
    set_passwords(&s, &[(&ka, "first-pw-never-shown")]);
    s.run(&["apply", "envs/prod", "--auto-approve"]).ok();
    s.write("envs/prod/data/db/component.hcl", &postgres_component(&[&ka, &kb]));
    set_passwords(&s, &[(&ka, "first-pw-never-shown"), (&kb, "second-pw-never-shown")]);
    s.run(&["apply", "envs/prod", "--auto-approve"]).ok();
    assert_eq!(psql(&format!("SELECT count(*) FROM pg_database WHERE datname = '{b}'")), "1");

    let refused = s.run(&["rollback", "envs/prod", "--to", "1", "--auto-approve", "--no-color"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("cannot roll back prod to revision 1"), "{refused:?}");
    assert!(
        refused.stderr.contains("ran after revision 1") && refused.stderr.contains("does not undo effects"),
        "{refused:?}"
    );
    assert!(refused.stderr.contains(&kb), "the effect is named: {refused:?}");

    // A rotated password: the old one exists only as a keyed hash.
    set_passwords(&s, &[(&ka, "rotated-pw-never-shown"), (&kb, "second-pw-never-shown")]);
    s.run(&["apply", "envs/prod", "--auto-approve"]).ok();
    let refused = s.run(&["rollback", "envs/prod", "--to", "2", "--auto-approve", "--no-color"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("changed after revision 2"), "{refused:?}");
    assert!(refused.stderr.contains("secrets file"), "{refused:?}");

    // Nothing was changed by either refusal, and no value was shown or kept.
    let history = s.run(&["history", "envs/prod", "--json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(doc["revisions"].as_array().unwrap().len(), 3, "{history:?}");
    for text in [&refused.stdout, &refused.stderr, &history.stdout] {
        assert!(!text.contains("pw-never-shown"), "{text}");
    }
    for file in walk(&s.path(".capstan")) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(!text.contains("pw-never-shown"), "{} holds a password", file.display());
    }
    assert!(Path::new(&s.path(".capstan/revisions/prod/000003.json")).exists());
}

/// On the kube stand-in: two revisions, the second adding a component;
/// the rollback to the first puts the Deployment's replicas back and
/// removes the component added since, live.
#[test]
fn a_rollback_on_the_kube_stand_in_restores_live_objects_and_removes_what_came_later() {
    let k = crate::kube::KubeStack::new(&[], "fake");
    k.app("api");
    k.capstan(&["apply", "envs/dev", "--auto-approve"]).ok();
    let replicas = |k: &crate::kube::KubeStack| {
        k.get(&crate::kube::deployment("api")).unwrap()["spec"]["replicas"].clone()
    };
    assert_eq!(replicas(&k), 2);

    k.stack.write("envs/dev/env.hcl", "replicas = 5\n");
    k.app("worker");
    k.capstan(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert_eq!(replicas(&k), 5);
    assert!(k.get(&crate::kube::deployment("worker")).is_some());

    let rollback = k.capstan(&["rollback", "envs/dev", "--to", "1", "--auto-approve"]).ok();
    assert!(
        rollback.stdout.contains("envs/dev/web/worker (added after this revision: removed)"),
        "{rollback:?}"
    );
    assert!(rollback.stdout.contains("~ Deployment web/api"), "{rollback:?}");
    assert_eq!(replicas(&k), 2, "{rollback:?}");
    assert!(k.get(&crate::kube::deployment("worker")).is_none(), "{rollback:?}");

    // With the first revision's tree, the cluster holds what it plans.
    k.stack.write("envs/dev/env.hcl", "replicas = 2\n");
    std::fs::remove_dir_all(k.stack.path("envs/dev/web/worker")).unwrap();
    let plan = k.capstan(&["plan", "envs/dev", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{plan:?}");
}
