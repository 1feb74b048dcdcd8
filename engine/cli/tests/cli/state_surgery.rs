//! `capstan state mv|rm|import` through the binary: a component moved in the
//! tree keeps its objects, one forgotten leaves them in place, one whose
//! objects exist is adopted; each saves a backup that `state push --force`
//! restores, and refuses what it cannot do, saying why.

use serde_json::{Value, json};

use crate::kube::{KubeStack, deployment, network_policy, service};
use crate::support::{Run, Stack, web_stack};

/// An issuers component of the cert-manager plugin, whose one object (a
/// ClusterIssuer) is named by its inputs, not by the component's directory.
const ISSUERS: &str = r#"component {
  type    = "cert-manager"
  plugin  = "capstan/cert-manager"
  version = "^0.1"
}
inputs = {
  acme = { email = "platform@acme.example", ingress_class = "nginx" }
}
"#;

/// The web stack (apps `api` and `worker` in namespace `web`) with the
/// issuers in namespace `platform`, applied to the render target.
fn applied_stack() -> Stack {
    let s = web_stack(&["api", "worker"]);
    s.write("envs/dev/platform/namespace.hcl", "namespace = \"platform\"\n");
    s.write("envs/dev/platform/issuers/component.hcl", ISSUERS);
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    s
}

/// A plan's JSON document: each planned object's action by component, and
/// the components it removes from the tree.
struct Planned {
    actions: Vec<(String, String)>,
    removed: Vec<String>,
}

impl Planned {
    fn of(run: &Run) -> Self {
        let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
        let mut actions = Vec::new();
        for c in doc["components"].as_array().unwrap() {
            for o in c["objects"].as_array().unwrap() {
                actions.push((
                    c["key"].as_str().unwrap().to_string(),
                    o["action"].as_str().unwrap().to_string(),
                ));
            }
        }
        let removed = doc["removed_components"].as_array().unwrap();
        Self { actions, removed: removed.iter().map(|k| k.as_str().unwrap().to_string()).collect() }
    }

    fn count(&self, component: &str, action: &str) -> usize {
        self.actions.iter().filter(|(c, a)| c == component && a == action).count()
    }

    fn any(&self, action: &str) -> bool {
        self.actions.iter().any(|(_, a)| a == action)
    }
}

/// The backup a surgery's output names (`… is saved in <path> (…`).
fn backup_of(run: &Run) -> std::path::PathBuf {
    let after = run.stdout.split("is saved in ").nth(1).unwrap_or_else(|| panic!("no backup named: {run:?}"));
    std::path::PathBuf::from(after.split(" (").next().unwrap())
}

fn state_keys(s: &Stack) -> Vec<String> {
    let listed = s.run(&["state", "list", ".", "--json"]).ok();
    let doc: Value = serde_json::from_str(&listed.stdout).unwrap();
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["component"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn state_mv_of_a_renamed_component_directory_leads_to_a_plan_with_no_deletes() {
    let s = applied_stack();
    let rendered_before = s.read("rendered/dev/platform/issuers/clusterissuer-letsencrypt-staging.yaml");
    std::fs::rename(s.path("envs/dev/platform/issuers"), s.path("envs/dev/platform/cert-manager")).unwrap();

    // Without the move: the old component is removed, its object deleted and created again.
    let unmoved = Planned::of(&s.run(&["plan", "envs/dev", "--json"]).ok());
    assert_eq!(unmoved.removed, ["envs/dev/platform/issuers"]);
    assert_eq!(unmoved.count("envs/dev/platform/cert-manager", "create"), 1, "{:?}", unmoved.actions);

    // Without a terminal to ask on, nothing happens.
    let unasked = s.run(&["state", "mv", "envs/dev/platform/issuers", "envs/dev/platform/cert-manager"]);
    assert_eq!(unasked.code, 1, "{unasked:?}");
    assert!(unasked.stderr.contains("pass --auto-approve"), "{unasked:?}");
    assert!(state_keys(&s).contains(&"envs/dev/platform/issuers".to_string()));

    let moved = s
        .run(&[
            "state",
            "mv",
            "envs/dev/platform/issuers",
            "envs/dev/platform/cert-manager",
            "--auto-approve",
        ])
        .ok();
    assert!(
        moved.stdout.contains(
            "envs/dev/platform/issuers -> envs/dev/platform/cert-manager: 1 recorded object goes with it:\n    \
             ClusterIssuer letsencrypt-staging"
        ),
        "{moved:?}"
    );
    assert!(moved.stdout.contains("moved "), "the render target's files moved: {moved:?}");

    // The backup is the state from before, and private.
    let backup = backup_of(&moved);
    assert!(backup.starts_with(s.path(".capstan/backups")), "{backup:?}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&backup).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    assert!(saved["components"]["envs/dev/platform/issuers"].is_object(), "{saved}");
    assert!(saved["components"]["envs/dev/platform/cert-manager"].is_null(), "{saved}");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // The rendered file followed the component; the next plan deletes and creates nothing.
    assert!(!s.path("rendered/dev/platform/issuers").exists());
    let file = s.read("rendered/dev/platform/cert-manager/clusterissuer-letsencrypt-staging.yaml");
    assert_eq!(file, rendered_before, "moved byte for byte");
    let plan = Planned::of(&s.run(&["plan", "envs/dev", "--json"]).ok());
    assert!(plan.removed.is_empty(), "{:?}", plan.removed);
    assert!(!plan.any("delete") && !plan.any("create"), "{:?}", plan.actions);
    // Its object now names its new component: an update in place.
    assert_eq!(plan.count("envs/dev/platform/cert-manager", "update"), 1, "{:?}", plan.actions);
    let text = s.run(&["plan", "envs/dev", "--no-color"]).ok();
    assert!(text.stdout.contains("Plan: 0 to create, 1 to update, 0 to delete"), "{text:?}");
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert_eq!(s.run(&["plan", "envs/dev", "--detailed-exitcode"]).code, 0);

    // The backup puts the state back as it was.
    let restored = s.run(&["state", "push", backup.to_str().unwrap(), ".", "--force"]).ok();
    assert!(restored.stdout.contains("+ record envs/dev/platform/issuers"), "{restored:?}");
    let keys = state_keys(&s);
    assert!(keys.contains(&"envs/dev/platform/issuers".to_string()), "{keys:?}");
    assert!(!keys.contains(&"envs/dev/platform/cert-manager".to_string()), "{keys:?}");
}

#[test]
fn state_mv_refuses_what_it_cannot_move_and_says_why() {
    let s = applied_stack();
    let refused = |args: &[&str], why: &str| {
        let mut all = vec!["state", "mv"];
        all.extend(args);
        all.push("--auto-approve");
        let run = s.run(&all);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains(why), "{why}: {run:?}");
    };
    refused(
        &["envs/dev/web/nope", "envs/dev/web/api"],
        "state records nothing for envs/dev/web/nope (`capstan state list` shows what it records)",
    );
    std::fs::rename(s.path("envs/dev/web/worker"), s.path("envs/dev/web/jobs")).unwrap();
    refused(
        &["envs/dev/web/worker", "envs/dev/web/api"],
        "state already records envs/dev/web/api: a move would replace its record",
    );
    refused(
        &["envs/dev/web/worker", "envs/dev/web/elsewhere"],
        "envs/dev/web/elsewhere is not a component of the tree: move the component's directory there first",
    );
    refused(&["envs/dev/web/api", "envs/dev/web/jobs"], "envs/dev/web/api is still in the tree");
    assert!(s.read(".capstan/state.json").contains("envs/dev/web/worker"), "nothing changed");
    assert!(!s.path(".capstan/backups").exists(), "no surgery, no backup");

    // A move that renames the component itself says that its plugin may
    // plan other objects: the app names its objects after it.
    let moved = s.run(&["state", "mv", "envs/dev/web/worker", "envs/dev/web/jobs", "--auto-approve"]).ok();
    assert!(moved.stdout.contains("3 recorded objects go with it"), "{moved:?}");
    assert!(
        moved.stdout.contains("Note: the component is dev/web/jobs now, not dev/web/worker"),
        "{moved:?}"
    );
    let plan = Planned::of(&s.run(&["plan", "envs/dev", "--json"]).ok());
    assert_eq!(plan.count("envs/dev/web/jobs", "create"), 3, "{:?}", plan.actions);
    assert_eq!(plan.count("envs/dev/web/jobs", "delete"), 3, "{:?}", plan.actions);
}

#[test]
fn state_rm_forgets_a_component_and_leaves_its_objects_where_they_are() {
    let s = applied_stack();

    // Out of the tree, but its objects are to stay: forgotten first.
    std::fs::remove_dir_all(s.path("envs/dev/web/worker")).unwrap();
    let forgot = s.run(&["state", "rm", "envs/dev/web/worker", "--auto-approve"]).ok();
    assert!(
        forgot.stdout.contains("envs/dev/web/worker: forgotten, not deleted: 3 objects stay where they are"),
        "{forgot:?}"
    );
    assert!(forgot.stdout.contains("    Deployment web/worker"), "{forgot:?}");
    assert!(forgot.stdout.contains("nothing will remove these objects"), "{forgot:?}");
    assert!(backup_of(&forgot).is_file());
    assert!(!state_keys(&s).contains(&"envs/dev/web/worker".to_string()));
    let plan = Planned::of(&s.run(&["plan", "envs/dev", "--json"]).ok());
    assert!(plan.removed.is_empty(), "not removed from the tree any more: {:?}", plan.removed);
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert!(s.path("rendered/dev/web/worker/deployment-worker.yaml").exists(), "its files stay");

    // Still in the tree: the render target holds its files, so the next
    // plan finds its objects as they are and creates nothing; apply records it again.
    let forgot = s.run(&["state", "rm", "envs/dev/web/api", "--auto-approve"]).ok();
    assert!(forgot.stdout.contains("It is still in the tree"), "{forgot:?}");
    let plan = Planned::of(&s.run(&["plan", "envs/dev", "--json"]).ok());
    assert_eq!(plan.count("envs/dev/web/api", "unchanged"), 3, "{:?}", plan.actions);
    assert!(!plan.any("create") && !plan.any("delete"), "{:?}", plan.actions);
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert!(state_keys(&s).contains(&"envs/dev/web/api".to_string()));
    assert_eq!(s.run(&["plan", "envs/dev", "--detailed-exitcode"]).code, 0);

    let unknown = s.run(&["state", "rm", "envs/dev/web/nope", "--auto-approve"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(unknown.stderr.contains("state records nothing for envs/dev/web/nope"), "{unknown:?}");
}

/// `capstan <args>` on the kube stand-in, without the `--target kube` a
/// command with no target (`state rm`) does not take.
fn kube_state(k: &KubeStack, args: &[&str]) -> Run {
    k.stack.run_env(args, &[("KUBECONFIG", &k.kubeconfig)])
}

#[test]
fn state_import_adopts_live_objects_on_the_kube_stand_in() {
    let k = KubeStack::new(&[], "fake");
    k.app("api");
    k.capstan(&["apply", "envs/dev", "--auto-approve"]).ok();

    // Forgotten: its objects are live, state knows nothing of them.
    kube_state(&k, &["state", "rm", "envs/dev/web/api", "--auto-approve"]).ok();
    let imported = k.capstan(&["state", "import", "envs/dev/web/api", "--auto-approve"]).ok();
    assert!(
        imported
            .stdout
            .contains("envs/dev/web/api: 3 objects adopted as the target holds them, nothing applied"),
        "{imported:?}"
    );
    assert!(imported.stdout.contains("    Deployment web/api"), "{imported:?}");
    assert!(backup_of(&imported).is_file());
    let before = k.cluster.writes().len();
    let plan = k.capstan(&["plan", "envs/dev", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "adopted as they are: nothing to change: {plan:?}");
    assert_eq!(k.cluster.writes().len(), before, "import and plan write nothing to the cluster");

    let again = k.capstan(&["state", "import", "envs/dev/web/api", "--auto-approve"]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("state already records envs/dev/web/api"), "{again:?}");

    // Objects made by hand, one of them missing: refused, naming what is missing.
    k.app("worker");
    let by_hand = |key: &capstan_kube::ObjectRef, body: Value| {
        k.rt.block_on(k.cluster.force_apply_as("kubectl", key, body));
    };
    by_hand(
        &deployment("worker"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "worker", "namespace": "web"},
               "spec": {"replicas": 1}}),
    );
    by_hand(
        &service("worker"),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "worker", "namespace": "web"},
               "spec": {"ports": [{"port": 8080}]}}),
    );
    let partial = k.capstan(&["state", "import", "envs/dev/web/worker", "--auto-approve"]);
    assert_eq!(partial.code, 1, "{partial:?}");
    assert!(
        partial.stderr.contains(
            "cannot import envs/dev/web/worker: the target does not hold 1 of the objects its plugin plans:\n  - \
             NetworkPolicy web/worker"
        ),
        "{partial:?}"
    );
    by_hand(
        &network_policy("worker"),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "worker", "namespace": "web"}, "spec": {"podSelector": {}}}),
    );
    let imported = k.capstan(&["state", "import", "envs/dev/web/worker", "--auto-approve"]).ok();
    assert!(imported.stdout.contains("3 objects adopted"), "{imported:?}");
    let plan = k.capstan(&["plan", "envs/dev", "--json"]).ok();
    let plan = Planned::of(&plan);
    assert!(!plan.any("create") && !plan.any("delete"), "adopted, not created: {:?}", plan.actions);
    // Capstan owns none of their fields yet: the next apply takes them, in place.
    assert_eq!(plan.count("envs/dev/web/worker", "update"), 3, "{:?}", plan.actions);
    let shown = kube_state(&k, &["state", "show", "envs/dev/web/worker", "--json"]).ok();
    let record: Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(record["record"]["objects"].as_array().unwrap().len(), 3, "{record}");

    // An object another component applied is not taken from it.
    k.app("cron");
    let theirs = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "cron", "namespace": "web",
                     "annotations": {"capstan.dev/component": "envs/dev/web/other"}}});
    k.rt.block_on(k.cluster.apply_as("capstan", &deployment("cron"), theirs));
    by_hand(
        &service("cron"),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "cron", "namespace": "web"}}),
    );
    by_hand(
        &network_policy("cron"),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "cron", "namespace": "web"}}),
    );
    let taken = k.capstan(&["state", "import", "envs/dev/web/cron", "--auto-approve"]);
    assert_eq!(taken.code, 1, "{taken:?}");
    assert!(
        taken.stderr.contains(
            "cannot import envs/dev/web/cron: objects it plans belong to other components:\n  - \
             Deployment web/cron (component envs/dev/web/other)"
        ),
        "{taken:?}"
    );
}

#[test]
fn state_mv_on_the_kube_stand_in_hands_the_live_objects_over() {
    let k = KubeStack::new(&[], "fake");
    k.app("api");
    k.capstan(&["apply", "envs/dev", "--auto-approve"]).ok();
    // The namespace's directory is renamed; namespace.hcl keeps it `web`.
    std::fs::rename(k.stack.path("envs/dev/web"), k.stack.path("envs/dev/frontend")).unwrap();

    let moved =
        k.capstan(&["state", "mv", "envs/dev/web/api", "envs/dev/frontend/api", "--auto-approve"]).ok();
    assert!(moved.stdout.contains("3 objects keep their place"), "{moved:?}");
    assert!(moved.stdout.contains("  moved Deployment web/api"), "{moved:?}");
    for key in [deployment("api"), service("api"), network_policy("api")] {
        let live = k.get(&key).unwrap();
        assert_eq!(
            live["metadata"]["annotations"]["capstan.dev/component"], "envs/dev/frontend/api",
            "{key}"
        );
    }
    let before = k.cluster.writes().len();
    let plan = k.capstan(&["plan", "envs/dev", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "the objects are the moved component's as they are: {plan:?}");
    let applied = k.capstan(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert!(applied.stdout.contains("No changes."), "{applied:?}");
    assert!(k.cluster.writes()[before..].is_empty(), "{:#?}", &k.cluster.writes()[before..]);
}
