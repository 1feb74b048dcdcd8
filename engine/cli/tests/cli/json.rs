//! `--json` as a CI job reads it: one document on stdout per command, each
//! with the same `format_version` (docs/json-output.md), the values a job
//! decides on (outcomes, counts, file/line/column), and no secret.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{Run, Stack, app_component, example, walk, web_stack, with_test_key};

/// The one version every document carries.
const FORMAT_VERSION: &str = "1";

/// The document a run printed, checked for the envelope every one has.
#[track_caller]
fn document(run: &Run, command: &str) -> Value {
    let doc: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not one JSON document: {e}\n{run:?}"));
    assert_eq!(doc["format_version"], FORMAT_VERSION, "{run:?}");
    assert_eq!(doc["command"], command, "{run:?}");
    doc
}

/// The keys of the components below `dir` (each directory holding a component.hcl).
fn components_below(s: &Stack, dir: &str) -> BTreeSet<String> {
    walk(&s.path(dir))
        .into_iter()
        .filter(|p| p.ends_with("component.hcl"))
        .map(|p| p.parent().unwrap().strip_prefix(s.root()).unwrap().to_string_lossy().replace('\\', "/"))
        .collect()
}

/// The `component` of each entry of `list`.
fn keys(list: &Value) -> BTreeSet<String> {
    list.as_array().unwrap().iter().map(|c| c["component"].as_str().unwrap().to_string()).collect()
}

/// Every component of the array has `outcome`.
#[track_caller]
fn all_have_outcome(doc: &Value, outcome: &str) {
    for c in doc["components"].as_array().unwrap() {
        assert_eq!(c["outcome"], outcome, "{c}");
    }
}

/// Validate, plan, apply, state list and show, a second apply and destroy of
/// the example's staging environment, each read as a CI job would: every
/// component and its outcome, the counts, the plugins, and — the example's
/// secrets all being marked TEST-ONLY — not one secret value anywhere.
#[test]
fn the_examples_staging_environment_reports_every_step_as_json_without_a_secret() {
    let s = example();
    let staging = components_below(&s, "envs/staging");
    assert_eq!(staging.len(), 9, "the example's staging components: {staging:?}");
    let mut runs = Vec::new();

    let run = with_test_key(&s, &["validate", "envs/staging", "--json"]).ok();
    let validate = document(&run, "validate");
    assert_eq!(validate["valid"], true, "{run:?}");
    assert_eq!(validate["error_count"], 0, "{run:?}");
    assert!(validate["components"].as_u64().unwrap() >= staging.len() as u64, "{run:?}");
    runs.push(run);

    let run = with_test_key(&s, &["plan", "envs/staging", "--json"]).ok();
    let plan = document(&run, "plan");
    assert_eq!(plan["changes"], true, "{run:?}");
    let planned: BTreeSet<String> = plan["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        planned, staging,
        "plan's components keep their `key` (its shape before --json was versioned): {run:?}"
    );
    runs.push(run);

    let run = with_test_key(&s, &["apply", "envs/staging", "--json", "--auto-approve"]).ok();
    let apply = document(&run, "apply");
    assert_eq!(apply["status"], "complete", "{run:?}");
    assert_eq!(keys(&apply["components"]), staging, "{run:?}");
    all_have_outcome(&apply, "created");
    assert_eq!(
        apply["counts"],
        serde_json::json!({"created": 9, "updated": 0, "deleted": 0, "unchanged": 0, "failed": 0, "skipped": 0}),
        "{run:?}"
    );
    assert_eq!(apply["errors"], serde_json::json!([]), "{run:?}");
    for c in apply["components"].as_array().unwrap() {
        assert!(c["plugin"]["name"].as_str().unwrap().starts_with("capstan/"), "{c}");
        assert_eq!(c["plugin"]["version"], "0.1.0", "{c}");
        assert!(c["changes"]["create"].as_u64().unwrap() > 0, "{c}");
    }
    let postgres = apply["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "envs/staging/open-finance/postgres")
        .unwrap();
    assert_eq!(postgres["plugin"]["name"], "capstan/postgres-cloudnative-pg", "{postgres}");
    assert!(s.path("rendered/staging/open-finance").is_dir(), "the apply rendered: {run:?}");
    runs.push(run);

    let run = with_test_key(&s, &["state", "list", "envs/staging", "--json"]).ok();
    let list = document(&run, "state list");
    assert_eq!(keys(&list["components"]), staging, "{run:?}");
    assert_eq!(list["lock"], Value::Null, "{run:?}");
    for c in list["components"].as_array().unwrap() {
        assert!(c["objects"].as_u64().unwrap() > 0, "{c}");
        assert!(c["plugin"]["digest"].as_str().unwrap().len() == 64, "{c}");
    }
    runs.push(run);

    let run = with_test_key(&s, &["state", "show", "envs/staging/open-finance/postgres", "--json"]).ok();
    let show = document(&run, "state show");
    assert_eq!(show["component"], "envs/staging/open-finance/postgres", "{run:?}");
    assert_eq!(show["record"]["plugin"]["name"], "capstan/postgres-cloudnative-pg", "{run:?}");
    for output in show["record"]["outputs"].as_array().unwrap() {
        if output["sensitive"] == true {
            assert!(output.get("value").is_none(), "a sensitive output is a hash only: {output}");
        }
    }
    runs.push(run);

    let run = with_test_key(&s, &["apply", "envs/staging", "--json", "--auto-approve"]).ok();
    let again = document(&run, "apply");
    assert_eq!(again["status"], "no_changes", "{run:?}");
    assert_eq!(again["counts"]["unchanged"], 9, "{run:?}");
    all_have_outcome(&again, "unchanged");
    runs.push(run);

    let run = with_test_key(&s, &["destroy", "envs/staging", "--json", "--auto-approve"]).ok();
    let destroy = document(&run, "destroy");
    assert_eq!(destroy["status"], "complete", "{run:?}");
    assert_eq!(keys(&destroy["components"]), staging, "{run:?}");
    all_have_outcome(&destroy, "deleted");
    assert_eq!(destroy["counts"]["deleted"], 9, "{run:?}");
    runs.push(run);

    let run = with_test_key(&s, &["state", "list", "envs/staging", "--json"]).ok();
    assert_eq!(document(&run, "state list")["components"], serde_json::json!([]), "{run:?}");
    let run = with_test_key(&s, &["destroy", "envs/staging", "--json", "--auto-approve"]).ok();
    let nothing = document(&run, "destroy");
    assert_eq!(nothing["status"], "no_changes", "{run:?}");
    assert_eq!(nothing["components"], serde_json::json!([]), "{run:?}");
    runs.push(run);

    // The marker is in the secrets these runs used, so its absence means something.
    let revealed = with_test_key(
        &s,
        &["secrets", "show", "envs/staging/open-finance/postgres/secrets.enc.hcl", "--reveal"],
    );
    assert!(revealed.ok().stdout.contains("staging-oob-consent-TEST-ONLY"));
    for run in &runs {
        assert!(!run.stdout.contains("TEST-ONLY") && !run.stderr.contains("TEST-ONLY"), "{run:?}");
    }
}

/// Each problem of `validate --json` says where it is: a configuration
/// error the HCL position, a plugin's refusal of an input the position the
/// input was set at; each names its component, and the plugin when a plugin
/// judged. The exit code is validate's.
#[test]
fn validate_json_names_the_file_line_and_column_of_each_problem() {
    let s = web_stack(&["api"]);
    let run = s.run(&["validate", ".", "--json"]).ok();
    let valid = document(&run, "validate");
    assert_eq!(valid["valid"], true, "{run:?}");
    assert_eq!(valid["diagnostics"], serde_json::json!([]), "{run:?}");

    // A configuration error: the tree does not load.
    s.write("envs/dev/web/api/component.hcl", &app_component("registry.example/api:1", "local.env.replicaz"));
    let run = s.run(&["validate", ".", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let broken = document(&run, "validate");
    assert_eq!(broken["valid"], false, "{run:?}");
    assert_eq!(broken["error_count"], 1, "{run:?}");
    let d = &broken["diagnostics"][0];
    assert_eq!(d["severity"], "error", "{d}");
    assert_eq!(d["file"], "envs/dev/web/api/component.hcl", "{d}");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(8), Some(23)), "{d}");
    assert_eq!(d["component"], "envs/dev/web/api", "{d}");
    assert!(d["message"].as_str().unwrap().contains("replicaz"), "{d}");

    // An input the plugin's schema refuses: the tree loads, the component fails.
    s.write("envs/dev/web/api/component.hcl", &app_component("registry.example/api:1", "0"));
    let run = s.run(&["validate", ".", "--json"]);
    assert_eq!(run.code, 1, "{run:?}");
    let refused = document(&run, "validate");
    assert_eq!(refused["error_count"], 1, "{run:?}");
    let d = &refused["diagnostics"][0];
    assert_eq!(d["file"], "envs/dev/web/api/component.hcl", "{d}");
    assert_eq!((d["line"].as_u64(), d["column"].as_u64()), (Some(8), Some(3)), "{d}");
    assert_eq!(d["component"], "envs/dev/web/api", "{d}");
    assert_eq!(d["plugin"], "capstan/app", "{d}");
    assert!(d["message"].as_str().unwrap().contains("replicas"), "{d}");
    assert!(!d["message"].as_str().unwrap().contains(" --> "), "the message alone, not the snippet: {d}");
}

/// A component that cannot be planned fails the apply before anything is
/// applied: the JSON names it and its plugin, marks the other component
/// skipped, and the exit code is 1.
#[test]
fn apply_json_names_the_failed_component_and_its_plugin() {
    let s = web_stack(&["api", "worker"]);
    s.write("envs/dev/web/worker/component.hcl", &app_component("registry.example/worker:1", "0"));
    let run = s.run(&["apply", "envs/dev", "--json", "--auto-approve"]);
    assert_eq!(run.code, 1, "{run:?}");
    let doc = document(&run, "apply");
    assert_eq!(doc["status"], "failed", "{run:?}");
    assert_eq!(
        (doc["counts"]["failed"].as_u64(), doc["counts"]["skipped"].as_u64()),
        (Some(1), Some(1)),
        "{run:?}"
    );
    let by_key = |key: &str| {
        doc["components"].as_array().unwrap().iter().find(|c| c["component"] == key).cloned().unwrap()
    };
    let worker = by_key("envs/dev/web/worker");
    assert_eq!(worker["outcome"], "failed", "{worker}");
    assert_eq!(worker["plugin"]["name"], "capstan/app", "{worker}");
    assert_eq!(by_key("envs/dev/web/api")["outcome"], "skipped", "{run:?}");
    let failure = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["component"] == "envs/dev/web/worker")
        .unwrap_or_else(|| panic!("the failure is among the errors: {run:?}"));
    assert_eq!(failure["plugin"], "capstan/app", "{failure}");
    assert!(failure["message"].as_str().unwrap().contains("replicas"), "{failure}");
    assert!(
        doc["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["component"].is_null()
                && e["message"].as_str().unwrap().contains("nothing was applied")),
        "{run:?}"
    );
    let list = s.run(&["state", "list", ".", "--json"]).ok();
    assert_eq!(
        document(&list, "state list")["components"],
        serde_json::json!([]),
        "nothing applied: {list:?}"
    );
}

/// `--json` leaves no way to ask, so apply needs --auto-approve or a saved
/// plan and destroy needs --auto-approve; without one it is a usage error
/// (exit 1, nothing on stdout, the flag named) and nothing runs.
#[test]
fn json_without_auto_approve_is_a_usage_error_and_a_saved_plan_is_an_answer() {
    let s = web_stack(&["api"]);
    for args in [&["apply", "envs/dev", "--json"][..], &["destroy", "envs/dev", "--json"]] {
        let run = s.run(args);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
        assert!(run.stderr.contains("--json cannot ask") && run.stderr.contains("--auto-approve"), "{run:?}");
        assert!(run.stderr.contains("Usage: capstan"), "{run:?}");
    }
    assert!(!s.path(".capstan/state.json").exists(), "nothing ran");

    s.run(&["plan", "envs/dev", "--out", "plan.json"]).ok();
    let run = s.run(&["apply", "envs/dev", "plan.json", "--json"]).ok();
    let doc = document(&run, "apply");
    assert_eq!(doc["status"], "complete", "{run:?}");
    assert_eq!(doc["components"][0]["outcome"], "created", "{run:?}");
    assert_eq!(
        doc["components"][0]["changes"]["create"], 3,
        "a Deployment, a Service, a NetworkPolicy: {run:?}"
    );
}
