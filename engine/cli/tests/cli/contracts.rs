use crate::support::{Stack, app_component};

/// A component whose HCL `type` is not its plugin's is refused at once,
/// naming the component, its file, both types and the plugin; the app that
/// depends on it is skipped rather than planned against the wrong contract.
#[test]
fn a_postgres_component_served_by_a_messaging_plugin_is_refused_at_once() {
    let s = Stack::new("");
    s.write("envs/dev/env.hcl", "");
    s.write("envs/dev/data/namespace.hcl", "namespace = \"data\"\n");
    s.write(
        "envs/dev/data/db/component.hcl",
        "component {\n  type    = \"postgres\"\n  plugin  = \"capstan/messaging-rabbitmq\"\n  version = \"^0.1\"\n}\n\
         inputs = {}\n",
    );
    s.write(
        "envs/dev/data/api/component.hcl",
        &format!(
            "{}dependency \"db\" {{\n  config_path = \"../db\"\n}}\n",
            app_component("registry.example/api:1", "1")
        ),
    );
    for command in ["plan", "validate"] {
        let run = s.run(&[command, "envs/dev"]);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(
            run.stderr.contains(
                "component envs/dev/data/db (envs/dev/data/db/component.hcl:1:1) declares type `postgres`, \
                 but its plugin capstan/messaging-rabbitmq 0.1.0 plans `messaging` components"
            ),
            "{run:?}"
        );
        assert!(!run.stderr.contains("missing"), "the mismatch surfaced as a missing dependency: {run:?}");
    }
    let run = s.run(&["plan", "envs/dev"]);
    assert!(
        run.stderr.contains("skipped") && run.stderr.contains("dependency envs/dev/data/db failed"),
        "{run:?}"
    );
}
