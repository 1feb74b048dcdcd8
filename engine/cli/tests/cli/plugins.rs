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
