use crate::support::{Stack, app_component, web_stack};

#[test]
fn an_undefined_local_is_reported_with_file_line_and_column() {
    let s = web_stack(&[]);
    s.write("envs/dev/web/api/component.hcl", &app_component("registry.example/api:1", "local.env.replicaz"));
    let run = s.run(&["validate", "."]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("envs/dev/web/api/component.hcl:8:23"), "{run:?}");
    assert!(run.stderr.contains("replicaz"), "{run:?}");
}

#[test]
fn every_broken_file_is_reported_not_just_the_first() {
    let s = web_stack(&[]);
    s.write("envs/dev/web/a/component.hcl", "component {\n  plugin = \n}\n");
    s.write("envs/dev/web/b/component.hcl", &app_component("x", "nope()"));
    let run = s.run(&["validate", "."]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("envs/dev/web/a/component.hcl:"), "{run:?}");
    assert!(run.stderr.contains("envs/dev/web/b/component.hcl:"), "{run:?}");
}

#[test]
fn inputs_the_plugin_refuses_name_the_component_and_the_attribute() {
    let s = web_stack(&[]);
    s.write("envs/dev/web/api/component.hcl", &app_component("registry.example/api:1", "0"));
    let run = s.run(&["validate", "."]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("envs/dev/web/api"), "{run:?}");
    assert!(run.stderr.contains("replicas"), "{run:?}");
}

#[test]
fn a_plugin_that_does_not_exist_is_named() {
    let s = web_stack(&[]);
    s.write(
        "envs/dev/web/api/component.hcl",
        "component {\n  type = \"app\"\n  plugin = \"acme/nope\"\n  version = \"^1\"\n}\ninputs = {}\n",
    );
    let run = s.run(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("no plugin named acme/nope"), "{run:?}");
    assert!(run.stderr.contains("`plugin_source` block") && run.stderr.contains("`trust` block"), "{run:?}");
}

#[test]
fn a_dependency_cycle_prints_the_loop() {
    let s = Stack::new("");
    s.write("envs/dev/env.hcl", "");
    s.write("envs/dev/web/namespace.hcl", "namespace = \"web\"\n");
    for (me, other) in [("a", "b"), ("b", "a")] {
        s.write(
            &format!("envs/dev/web/{me}/component.hcl"),
            &format!("{}dependency \"x\" {{\n  config_path = \"../{other}\"\n}}\n", app_component("i", "1")),
        );
    }
    let run = s.run(&["validate", "."]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("cycle"), "{run:?}");
    assert!(run.stderr.contains("envs/dev/web/a") && run.stderr.contains("envs/dev/web/b"), "{run:?}");
}
