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

/// The warning the CloudNativePG backend gives for a superuser password it
/// does not use.
const IGNORED_SUPERUSER_PASSWORD: &str = "warning: envs/dev/data/db (capstan/postgres-cloudnative-pg): \
    /superuser_password: ignored by the cloudnative-pg backend";

/// A plugin's validate warnings are shown by `plan` and by `validate`,
/// each naming the component, the input and where it was set;
/// the plan goes on. (The secrets file serves every postgres backend, and
/// CloudNativePG manages its own superuser.)
#[test]
fn plan_shows_a_plugins_warnings_with_where_the_input_was_set() {
    let s = Stack::new("");
    s.write("envs/dev/env.hcl", "");
    s.write("envs/dev/data/namespace.hcl", "namespace = \"data\"\n");
    s.write(
        "envs/dev/data/db/component.hcl",
        "component {\n  type    = \"postgres\"\n  plugin  = \"capstan/postgres-cloudnative-pg\"\n  version = \"^0.1\"\n}\n\
         inputs = {\n  apps = { api = {} }\n}\n",
    );
    s.run(&["secrets", "keygen"]).ok();
    s.run_with_stdin(
        &["secrets", "set", "envs/dev/data/db/secrets.enc.hcl", "values_sensitive_custom"],
        "apps:\n  api: { password: app-pw-1 }\nsuperuser_password: not-needed-here\n",
    )
    .ok();
    let run = s.run(&["plan", "envs/dev", "--no-color"]).ok();
    assert!(run.stdout.contains(IGNORED_SUPERUSER_PASSWORD), "{run:?}");
    assert!(
        run.stdout.contains("(set at envs/dev/data/db/secrets.enc.hcl (values_sensitive_custom))"),
        "{run:?}"
    );
    assert!(!run.stdout.contains("not-needed-here"), "{run:?}");
    assert!(run.stdout.contains("+ Cluster data/db"), "the plan goes on: {run:?}");
    let json = s.run(&["plan", "envs/dev", "--json"]).ok();
    assert!(json.stdout.contains("\"warnings\""), "{json:?}");
    // `validate` says them too, and passes.
    let validate = s.run(&["validate", "envs/dev", "--no-color"]).ok();
    assert!(validate.stderr.contains(IGNORED_SUPERUSER_PASSWORD), "{validate:?}");
    assert!(validate.stdout.contains("Valid: 1 components."), "{validate:?}");
}
