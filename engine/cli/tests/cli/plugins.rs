use crate::support::Stack;

#[test]
fn inspect_prints_the_app_plugins_metadata() {
    let s = Stack::new("");
    let wasm = env!("CAPSTAN_TEST_APP_WASM");
    let text = s.run(&["plugin", "inspect", wasm]).ok();
    assert!(text.stdout.contains("name:           capstan/app"), "{text:?}");
    assert!(text.stdout.contains("component type: app"), "{text:?}");
    let json = s.run(&["plugin", "inspect", wasm, "--json"]).ok();
    let meta: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(meta["name"], "capstan/app");
    assert_eq!(meta["component_type"], "app");
    assert_eq!(meta["contract"], "capstan:plugin@0.1.0");
    assert!(meta["input_schema"]["properties"]["image"].is_object(), "{meta}");
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
    let rows: Vec<serde_json::Value> = serde_json::from_str(&run.stdout).unwrap();
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
