use crate::support::Stack;

#[test]
fn inspect_prints_the_app_plugins_metadata() {
    let s = Stack::new("");
    let wasm = env!("CAPSTAN_TEST_APP_WASM");
    let text = s.run(&["plugin", "inspect", wasm]).ok();
    assert!(text.stdout.contains("name:           capstan/app"), "{text:?}");
    assert!(text.stdout.contains("component type: app"), "{text:?}");
    let json = s.run(&["plugin", "inspect", wasm, "--json"]).ok();
    let [meta] = plugins(&json, "plugin inspect").try_into().unwrap();
    assert_eq!(meta["name"], "capstan/app");
    assert_eq!(meta["component_type"], "app");
    assert_eq!(meta["contract"], "capstan:plugin@0.2.0");
    assert!(meta["input_schema"]["properties"]["image"].is_object(), "{meta}");
}

#[test]
fn inspect_takes_a_plugin_name_as_plugin_list_shows_it() {
    let s = Stack::new("");
    let text = s.run(&["plugin", "inspect", "capstan/app"]).ok();
    assert!(text.stdout.contains("name:           capstan/app"), "{text:?}");
    let json = s.run(&["plugin", "inspect", "capstan/app", "--json"]).ok();
    let [meta] = plugins(&json, "plugin inspect").try_into().unwrap();
    assert_eq!(meta["component_type"], "app");

    let unknown = s.run(&["plugin", "inspect", "acme/nope"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("no plugin of that name (known: ") && unknown.stderr.contains("capstan/app"),
        "{unknown:?}"
    );
    assert!(
        unknown.stderr.contains("`plugin_source` block") && unknown.stderr.contains("`trust` block"),
        "{unknown:?}"
    );
}

#[test]
fn inspect_of_a_file_that_is_not_a_plugin_says_so() {
    let s = Stack::new("");
    s.write("junk.wasm", "not wasm at all");
    let run = s.run(&["plugin", "inspect", "junk.wasm"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("junk.wasm"), "{run:?}");
}

#[test]
fn list_shows_every_built_in_plugin() {
    let s = Stack::new("");
    let run = s.run(&["plugin", "list", "--json"]).ok();
    let rows = plugins(&run, "plugin list");
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    for expected in [
        "capstan/app",
        "capstan/postgres-external",
        "capstan/postgres-statefulset",
        "capstan/postgres-cloudnative-pg",
        "capstan/messaging-kafka",
        "capstan/messaging-rabbitmq",
        "capstan/messaging-sqs",
        "capstan/dapr",
        "capstan/cert-manager",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(rows.iter().all(|r| r["source"] == "built-in"));
}

#[test]
fn client_hcl_gives_one_plugin_its_own_limits() {
    let s = crate::support::web_stack(&["api"]);
    // The app plugin's plan is far larger than 2 KiB.
    s.write(
        "client.hcl",
        "locals {\n  org = \"acme\"\n}\nplugin_limits \"capstan/app\" {\n  output  = \"2KiB\"\n  timeout = \"3s\"\n}\n",
    );
    let run = s.run(&["plan", "envs/dev", "--no-color"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("capstan/app")
            && run.stderr.contains("returned more than its output limit of 2048 bytes from `plan`"),
        "{run:?}"
    );
    assert!(run.stderr.contains("envs/dev/web/api") || run.stdout.contains("envs/dev/web/api"), "{run:?}");

    // Without the block, the host's default (8 MiB) lets it plan.
    s.write("client.hcl", "locals {\n  org = \"acme\"\n}\n");
    s.run(&["plan", "envs/dev", "--no-color"]).ok();

    s.write("client.hcl", "plugin_limits \"capstan/app\" {\n  output = \"8MB\"\n}\n");
    let bad = s.run(&["plan", "envs/dev", "--no-color"]);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("client.hcl:1:1") && bad.stderr.contains("unknown unit"), "{bad:?}");
}

/// The kit's report of `capstan plugin test <what> --json`, with the run.
fn kit_reports(s: &Stack, args: &[&str]) -> (crate::support::Run, Vec<serde_json::Value>) {
    let mut all = vec!["plugin", "test"];
    all.extend_from_slice(args);
    all.push("--json");
    let run = s.run(&all);
    let doc = document(&run, "plugin test");
    let reports = doc["reports"].as_array().unwrap_or_else(|| panic!("no reports: {run:?}")).clone();
    (run, reports)
}

/// [`kit_reports`] of a plugin of one component.
fn kit_report(s: &Stack, args: &[&str]) -> (crate::support::Run, serde_json::Value) {
    let (run, mut reports) = kit_reports(s, args);
    assert_eq!(reports.len(), 1, "{run:?}");
    (run, reports.remove(0))
}

/// The one JSON document a `--json` run printed, its envelope checked.
#[track_caller]
fn document(run: &crate::support::Run, command: &str) -> serde_json::Value {
    let doc: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not one JSON document: {e}: {run:?}"));
    assert_eq!(
        (doc["format_version"].as_str(), doc["command"].as_str()),
        (Some("1"), Some(command)),
        "{doc}"
    );
    doc
}

/// The plugins of `plugin list --json` or `plugin inspect --json`.
fn plugins(run: &crate::support::Run, command: &str) -> Vec<serde_json::Value> {
    document(run, command)["plugins"].as_array().unwrap_or_else(|| panic!("no plugins: {run:?}")).clone()
}

/// Every built-in plugin, found by name as `plugin list` shows it and run
/// as the real wasm component, passes every check of its type's kit.
#[test]
fn every_built_in_plugin_passes_the_conformance_kit() {
    let s = Stack::new("");
    let run = s.run(&["plugin", "list", "--json"]).ok();
    let rows = plugins(&run, "plugin list");
    assert!(rows.len() >= 12, "{rows:?}");
    for row in &rows {
        let name = row["name"].as_str().unwrap();
        if row["component_type"] == "policy" {
            // A policy has no type's kit: the checks every policy promises.
            let (run, report) = kit_report(&s, &[name]);
            assert_eq!(run.code, 0, "{name} fails the policy checks: {run:?}");
            let checks: Vec<&str> =
                report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
            assert_eq!(checks, ["params", "checks", "determinism", "rules"], "{report}");
            assert!(report["checks"].as_array().unwrap().iter().all(|c| c["status"] == "pass"), "{report}");
            continue;
        }
        let (run, report) = kit_report(&s, &[name]);
        assert_eq!(run.code, 0, "{name} fails the kit: {run:?}");
        assert_eq!(report["plugin"], row["name"]);
        assert_eq!(report["kit_type"], row["component_type"]);
        assert_eq!(report["kit_version"], 1, "{name}: every built-in type has a kit");
        let checks = report["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 8, "{report}");
        assert!(checks.iter().all(|c| c["status"] == "pass"), "{name}: {report}");
    }
}

/// A plugin file and a bundle are tested as well as a name; the text
/// report has one line per check.
#[test]
fn plugin_test_takes_a_wasm_file_or_a_bundle_and_prints_a_line_per_check() {
    let s = Stack::new("");
    let wasm = env!("CAPSTAN_TEST_APP_WASM");
    let run = s.run(&["plugin", "test", wasm]).ok();
    assert!(run.stdout.starts_with("capstan/app 0.1.0: the `app` kit v1\n"), "{run:?}");
    for check in
        ["type", "plans", "contract", "bad-inputs", "determinism", "sensitive", "effects", "manifests"]
    {
        assert!(run.stdout.contains(&format!("  pass    {check}: ")), "{check}: {run:?}");
    }
    assert!(run.stdout.trim_end().ends_with("passed: 8 checks"), "{run:?}");

    s.run(&["plugin", "pack", wasm, "-o", "dist/app.bundle"]).ok();
    let (run, report) = kit_report(&s, &["dist/app.bundle"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(report["plugin"], "capstan/app");

    // A bundle of several components: one report each, as a JSON array.
    let external = std::path::Path::new(wasm).with_file_name("capstan_plugin_postgres_external.wasm");
    let external = external.to_str().unwrap();
    s.run(&["plugin", "pack", wasm, external, "--name", "capstan/pair", "-o", "dist/pair.bundle"]).ok();
    let (run, reports) = kit_reports(&s, &["dist/pair.bundle"]);
    assert_eq!(run.code, 0, "{run:?}");
    let kits: Vec<(&str, &str)> =
        reports.iter().map(|r| (r["plugin"].as_str().unwrap(), r["kit_type"].as_str().unwrap())).collect();
    assert_eq!(kits, [("capstan/app", "app"), ("capstan/postgres-external", "postgres")]);
}

/// A real wasm plugin run against another type's kit fails, naming both
/// types, and the report says which of the kit's cases it could not plan.
#[test]
fn a_plugin_tested_against_another_types_kit_fails_with_a_pointed_report() {
    let s = Stack::new("");
    let run = s.run(&["plugin", "test", "capstan/messaging-rabbitmq", "--type", "postgres"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "FAIL    type: the plugin plans `messaging` components, but this is the kit of `postgres`"
        ),
        "{run:?}"
    );
    assert!(run.stdout.contains("case `one app`: `validate` refused the kit's inputs"), "{run:?}");
    assert!(run.stdout.contains("NOT RUN contract"), "{run:?}");
    assert!(run.stdout.trim_end().ends_with("of 8 checks"), "{run:?}");
}

/// Without its validator the kit does not pass what it could not check.
#[test]
fn plugin_test_without_its_manifest_validator_fails_saying_which_check_did_not_run() {
    let s = Stack::new("");
    let (run, report) = kit_report(&s, &["capstan/app", "--validator", "nowhere/validate.py"]);
    assert_eq!(run.code, 1, "{run:?}");
    let manifests = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "manifests").unwrap();
    assert_eq!(manifests["status"], "not-run", "{report}");
    assert!(
        manifests["reasons"][0].as_str().unwrap().contains("nowhere/validate.py does not exist"),
        "{report}"
    );
}

#[test]
fn plugin_test_of_an_unknown_name_says_where_to_look() {
    let s = Stack::new("");
    let run = s.run(&["plugin", "test", "acme/nothing"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("acme/nothing: not a file, and no plugin of that name"), "{run:?}");
}

/// A partner packs with `--test`: the kit's result goes into the manifest,
/// the signature covers it, and `plugin verify` shows it per component.
#[test]
fn a_bundle_packed_with_test_records_the_kits_result_and_verify_shows_it() {
    let s = Stack::new("");
    let wasm = env!("CAPSTAN_TEST_APP_WASM");
    s.run(&["plugin", "keygen", "-o", "keys/acme"]).ok();
    let packed =
        s.run(&["plugin", "pack", wasm, "--publisher", "acme", "--test", "-o", "dist/tested.bundle"]).ok();
    assert!(packed.stdout.contains("capstan/app 0.1.0: the `app` kit v1\n"), "{packed:?}");
    assert!(packed.stdout.contains("    conformance: the `app` kit v1 passed (capstan 0.1.0)"), "{packed:?}");
    s.run(&["plugin", "sign", "dist/tested.bundle", "--key", "keys/acme.key"]).ok();
    let v = s.run(&["plugin", "verify", "dist/tested.bundle", "--key", "keys/acme.pub"]).ok();
    assert!(v.stdout.contains("signed by ed25519:"), "{v:?}");
    assert!(v.stdout.contains("  acme/app  conformance: the `app` kit v1 passed (capstan 0.1.0)"), "{v:?}");

    s.run(&["plugin", "pack", wasm, "--publisher", "acme", "-o", "dist/untested.bundle"]).ok();
    s.run(&["plugin", "sign", "dist/untested.bundle", "--key", "keys/acme.key"]).ok();
    let v = s.run(&["plugin", "verify", "dist/untested.bundle", "--key", "keys/acme.pub"]).ok();
    assert!(v.stdout.contains("  acme/app  conformance: not recorded (pack with --test)"), "{v:?}");
}
