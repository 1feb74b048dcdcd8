use crate::support::web_stack;

#[test]
fn plan_apply_reapply_change_and_remove() {
    let s = web_stack(&["api", "worker"]);

    let plan = s.run(&["plan", "envs/dev", "--detailed-exitcode", "--no-color"]);
    assert_eq!(plan.code, 2, "changes pending must exit 2: {plan:?}");
    assert!(plan.stdout.contains("+ Deployment web/api"), "{plan:?}");
    assert!(plan.stdout.contains("Plan: 6 to create, 0 to update, 0 to delete"), "{plan:?}");
    assert!(!s.path("rendered").exists(), "plan must not write anything");

    s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]).ok();
    let deployment = s.read("rendered/dev/web/api/deployment-api.yaml");
    assert!(deployment.contains("replicas: 2"), "{deployment}");
    assert!(deployment.contains("app.kubernetes.io/managed-by: capstan"), "{deployment}");
    assert!(s.read("rendered/dev/web/kustomization.yaml").contains("api"));
    let state = s.run(&["state", "list", "."]).ok();
    assert!(
        state.stdout.contains("envs/dev/web/api") && state.stdout.contains("envs/dev/web/worker"),
        "{state:?}"
    );

    // Unchanged tree: nothing to do, nothing touched.
    let before =
        std::fs::metadata(s.path("rendered/dev/web/api/deployment-api.yaml")).unwrap().modified().unwrap();
    let again = s.run(&["apply", "envs/dev", "--auto-approve", "--no-color"]).ok();
    assert!(again.stdout.contains("No changes."), "{again:?}");
    let after =
        std::fs::metadata(s.path("rendered/dev/web/api/deployment-api.yaml")).unwrap().modified().unwrap();
    assert_eq!(before, after, "an unchanged apply must not rewrite files");
    assert_eq!(s.run(&["plan", "envs/dev", "--detailed-exitcode"]).code, 0);

    // One input changes: a field-level update of one object.
    s.write("envs/dev/env.hcl", "replicas = 3\n");
    let plan = s.run(&["plan", "envs/dev", "--no-color"]).ok();
    assert!(plan.stdout.contains("~ Deployment web/api"), "{plan:?}");
    assert!(plan.stdout.contains("/spec/replicas: 2 -> 3"), "{plan:?}");
    assert!(plan.stdout.contains("0 to create, 2 to update, 0 to delete"), "{plan:?}");
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert!(s.read("rendered/dev/web/api/deployment-api.yaml").contains("replicas: 3"));

    // A component leaves the tree: its objects and its state go with it.
    std::fs::remove_dir_all(s.path("envs/dev/web/worker")).unwrap();
    let plan = s.run(&["plan", "envs/dev", "--no-color", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(plan.stdout.contains("envs/dev/web/worker (removed from the tree)"), "{plan:?}");
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert!(!s.path("rendered/dev/web/worker").exists());
    assert!(s.path("rendered/dev/web/api/deployment-api.yaml").exists());
    let state = s.run(&["state", "list", "."]).ok();
    assert!(!state.stdout.contains("worker"), "{state:?}");

    let out = s.run(&["output", "envs/dev/web/api", "--json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (doc["format_version"].as_str(), doc["component"].as_str()),
        (Some("1"), Some("envs/dev/web/api"))
    );
    assert_eq!(doc["outputs"]["service_url"], "http://api.web.svc.cluster.local:8080");

    s.run(&["destroy", "envs/dev", "--auto-approve"]).ok();
    assert!(!s.path("rendered/dev/web/api").exists());
}

#[test]
fn a_saved_plan_applies_exactly_and_is_refused_once_the_tree_changed() {
    let s = web_stack(&["api"]);
    s.run(&["plan", "envs/dev", "--out", "first.plan"]).ok();
    s.run(&["apply", "envs/dev", "first.plan"]).ok();
    assert!(s.path("rendered/dev/web/api/deployment-api.yaml").exists());

    // The state moved on: the first plan is stale.
    let stale = s.run(&["apply", "envs/dev", "first.plan"]);
    assert_eq!(stale.code, 1, "{stale:?}");
    assert!(stale.stderr.contains("the state changed since this plan was saved"), "{stale:?}");

    s.write("envs/dev/env.hcl", "replicas = 5\n");
    s.run(&["plan", "envs/dev", "--out", "second.plan"]).ok();
    s.write("envs/dev/env.hcl", "replicas = 7\n");
    let changed = s.run(&["apply", "envs/dev", "second.plan"]);
    assert_eq!(changed.code, 1, "{changed:?}");
    assert!(changed.stderr.contains("the tree changed since this plan was saved"), "{changed:?}");
    assert!(s.read("rendered/dev/web/api/deployment-api.yaml").contains("replicas: 2"), "nothing applied");
}

#[test]
fn apply_without_a_terminal_asks_for_auto_approve_and_changes_nothing() {
    let s = web_stack(&["api"]);
    let run = s.run(&["apply", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("--auto-approve"), "{run:?}");
    assert!(!s.path("rendered").exists());
}
