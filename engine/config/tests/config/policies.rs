//! `policy` blocks: read in client.hcl, tightened (never loosened) by an
//! env.hcl, and matched to components.

use std::path::Path;

use capstan_config::{ConfigError, PolicyConfig, PolicyMode, Stack, load};
use serde_json::json;

use crate::support::{options, tree};

fn component(ty: &str) -> String {
    format!("component {{\n  type   = \"{ty}\"\n  plugin = \"capstan/{ty}\"\n}}\n")
}

/// client.hcl and a production env.hcl over two environments, each with a
/// `payments` namespace holding an `api` (app) and a `logs` (logs) component.
fn stack(client: &str, production_env: &str) -> Stack {
    let (app, logs) = (component("app"), component("logs"));
    let dir = tree(&[
        ("client.hcl", client),
        ("envs/production/env.hcl", production_env),
        ("envs/production/payments/namespace.hcl", "namespace = \"payments\"\n"),
        ("envs/production/payments/api/component.hcl", &app),
        ("envs/production/payments/logs/component.hcl", &logs),
        ("envs/staging/env.hcl", ""),
        ("envs/staging/payments/namespace.hcl", "namespace = \"payments\"\n"),
        ("envs/staging/payments/api/component.hcl", &app),
        ("envs/staging/payments/logs/component.hcl", &logs),
    ]);
    load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"))
}

fn at(l: &capstan_config::Location) -> (String, usize, usize) {
    (l.file.display().to_string(), l.line, l.col)
}

const BASELINE: &str = r#"policy "baseline" {
  plugin  = "capstan/policy-baseline"
  version = "^0.1"
  mode    = "audit"
  params  = { rules = { "read-only-root-filesystem" = true }, allowed_registries = ["ghcr.io/opus/"] }
  match   = { types = ["app", "logs"], namespaces = ["payments"], environments = ["production", "staging"] }
  exceptions = [
    { name = "log-collector-reads-node-logs", rules = ["run-as-non-root"], types = ["logs"], components = [], namespaces = [],
      reason = "fluent-bit reads the node's container logs, which only root may read" },
  ]
}

policy "labels" {
  plugin  = "acme/policy-labels"
  version = ">=1.2, <2"
}
"#;

#[test]
fn a_policy_block_is_read_whole_and_a_short_one_gets_the_defaults() {
    let s = stack(BASELINE, "");
    let [baseline, labels] = s.client.policies.as_slice() else { panic!("{:?}", s.client.policies) };
    assert_eq!(baseline.name, "baseline");
    assert_eq!(baseline.plugin, "capstan/policy-baseline");
    assert_eq!(baseline.version.to_string(), "^0.1");
    assert_eq!(baseline.mode, PolicyMode::Audit);
    assert_eq!(
        baseline.params,
        json!({"rules": {"read-only-root-filesystem": true}, "allowed_registries": ["ghcr.io/opus/"]})
    );
    assert_eq!(baseline.matches.types, ["app", "logs"]);
    assert_eq!(baseline.matches.namespaces, ["payments"]);
    assert_eq!(baseline.matches.environments, ["production", "staging"]);
    let [e] = baseline.exceptions.as_slice() else { panic!("{:?}", baseline.exceptions) };
    assert_eq!(e.name, "log-collector-reads-node-logs");
    assert_eq!(e.rules, ["run-as-non-root"]);
    assert_eq!(
        (e.types.as_slice(), e.components.len(), e.namespaces.len()),
        (&["logs".to_owned()][..], 0, 0)
    );
    assert!(e.reason.starts_with("fluent-bit reads"));
    assert_eq!(at(&e.set_at), ("client.hcl".to_owned(), 8, 5));
    assert_eq!(at(&baseline.set_at), ("client.hcl".to_owned(), 1, 1));
    assert_eq!(at(&baseline.mode_set_at), ("client.hcl".to_owned(), 4, 13));

    assert_eq!(labels.version.to_string(), ">=1.2, <2");
    assert_eq!(labels.mode, PolicyMode::Enforce, "enforce by default");
    assert_eq!(labels.params, json!({}));
    assert_eq!(labels.matches, capstan_config::PolicyMatch::default(), "every component");
    assert!(labels.exceptions.is_empty());
    assert_eq!(at(&labels.mode_set_at), ("client.hcl".to_owned(), 13, 1), "the block, for a default");
    // An environment without policy blocks has client.hcl's as they are.
    assert_eq!(s.env_policies["staging"], s.client.policies);
    let shown = serde_json::to_value(baseline).unwrap();
    assert_eq!(shown["mode"], "audit");
    assert_eq!(shown["match"]["types"], json!(["app", "logs"]));
}

#[test]
fn an_environment_tightens_a_client_policy_and_adds_one_of_its_own() {
    let env = r#"policy "baseline" {
  mode = "enforce"
  exceptions = [
    { name = "api-legacy-image", rules = ["allowed-registries"], components = ["api"], reason = "migrating by June" },
  ]
}

policy "production-only" {
  plugin  = "acme/policy-prod"
  version = "^3"
  match   = { environments = ["somewhere-else"], types = ["app"] }
}
"#;
    let s = stack(BASELINE, env);
    let names = |ps: &[PolicyConfig]| ps.iter().map(|p| p.name.clone()).collect::<Vec<_>>();
    let production = &s.env_policies["production"];
    assert_eq!(names(production), ["baseline", "labels", "production-only"]);
    let baseline = &production[0];
    assert_eq!(baseline.mode, PolicyMode::Enforce);
    assert_eq!(at(&baseline.mode_set_at), ("envs/production/env.hcl".to_owned(), 2, 10));
    assert_eq!(at(&baseline.set_at), ("client.hcl".to_owned(), 1, 1), "still client.hcl's policy");
    assert_eq!(baseline.plugin, "capstan/policy-baseline");
    let exceptions: Vec<_> = baseline.exceptions.iter().map(|e| (e.name.as_str(), at(&e.set_at))).collect();
    assert_eq!(
        exceptions,
        [
            ("log-collector-reads-node-logs", ("client.hcl".to_owned(), 8, 5)),
            ("api-legacy-image", ("envs/production/env.hcl".to_owned(), 4, 5)),
        ]
    );
    assert_eq!(production[2].matches.environments, ["production"], "an env.hcl's policy holds there only");
    assert_eq!(production[2].matches.types, ["app"]);

    // Nothing leaks to client.hcl's view or to the other environment.
    assert_eq!(s.client.policies[0].mode, PolicyMode::Audit);
    assert_eq!(s.client.policies[0].exceptions.len(), 1);
    assert_eq!(names(&s.env_policies["staging"]), ["baseline", "labels"]);
    assert_eq!(s.env_policies["staging"][0].mode, PolicyMode::Audit);
}

#[test]
fn policies_for_picks_by_type_namespace_and_environment_and_exceptions_by_rule_and_component() {
    let client = r#"policy "apps" {
  plugin  = "capstan/policy-baseline"
  version = "^0.1"
  match   = { types = ["app"] }
}
policy "staging-payments" {
  plugin  = "capstan/policy-baseline"
  version = "^0.1"
  match   = { namespaces = ["payments"], environments = ["staging"] }
  exceptions = [
    { name = "logs-root", rules = ["run-as-non-root"], types = ["logs"], reason = "reads node logs" },
    { name = "api-all", components = ["api"], namespaces = ["payments"], reason = "being rewritten" },
    { name = "elsewhere", namespaces = ["other"], reason = "not here" },
  ]
}
policy "everything" {
  plugin  = "capstan/policy-baseline"
  version = "^0.1"
}
"#;
    let env = "policy \"prod\" {\n  plugin  = \"acme/prod\"\n  version = \"^1\"\n}\n";
    let s = stack(client, env);
    let picked =
        |key: &str| s.policies_for(s.component(key).unwrap()).map(|p| p.name.as_str()).collect::<Vec<_>>();
    assert_eq!(picked("envs/production/payments/api"), ["apps", "everything", "prod"]);
    assert_eq!(picked("envs/production/payments/logs"), ["everything", "prod"]);
    assert_eq!(picked("envs/staging/payments/api"), ["apps", "staging-payments", "everything"]);
    assert_eq!(picked("envs/staging/payments/logs"), ["staging-payments", "everything"]);

    let policy = &s.env_policies["staging"][1];
    let (api, logs) = (
        s.component("envs/staging/payments/api").unwrap(),
        s.component("envs/staging/payments/logs").unwrap(),
    );
    assert!(policy.applies_to(api) && policy.applies_to(logs));
    assert!(!policy.applies_to(s.component("envs/production/payments/api").unwrap()));
    let [logs_root, api_all, elsewhere] = policy.exceptions.as_slice() else { panic!() };
    assert!(logs_root.covers("run-as-non-root", logs));
    assert!(!logs_root.covers("read-only-root-filesystem", logs), "another rule");
    assert!(!logs_root.covers("run-as-non-root", api), "another type");
    assert!(api_all.covers("run-as-non-root", api) && api_all.covers("anything", api), "every rule");
    assert!(!api_all.covers("anything", logs), "another component");
    assert!(!elsewhere.covers("anything", api), "another namespace");
    assert_eq!(policy.exception_for("run-as-non-root", logs).map(|e| e.name.as_str()), Some("logs-root"));
    assert_eq!(policy.exception_for("read-only-root-filesystem", logs), None);
}

#[test]
fn each_wrong_policy_is_an_error_at_its_place() {
    const OK: &str = "policy \"p\" {\n  plugin  = \"capstan/policy-baseline\"\n  version = \"^0.1\"\n}\n";
    // (client.hcl, production env.hcl, message, file, line, col)
    let cases: &[(&str, &str, &str, &str, usize, usize)] = &[
        ("policy \"p\" {\n  version = \"^0.1\"\n}\n", "", "policy `p` needs `plugin`", "client.hcl", 1, 1),
        (
            "policy \"p\" {\n  plugin  = \"capstan/policy-baseline\"\n  version = 1\n}\n",
            "",
            "`version` is a semver range",
            "client.hcl",
            3,
            13,
        ),
        (
            "policy \"p\" {\n  plugin  = \"nope\"\n  version = \"^0.1\"\n}\n",
            "",
            "`nope` is not a plugin name (publisher/name)",
            "client.hcl",
            2,
            13,
        ),
        (
            "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"one\"\n}\n",
            "",
            "`one` is not a semver range",
            "client.hcl",
            3,
            13,
        ),
        (
            "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"^1\"\n  mode = true\n}\n",
            "",
            "`mode` is \"enforce\" (the default) or \"audit\"",
            "client.hcl",
            4,
            10,
        ),
        (
            "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"^1\"\n  params = [1]\n}\n",
            "",
            "`params` is an object",
            "client.hcl",
            4,
            12,
        ),
        (
            "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"^1\"\n  match = { kinds = [\"app\"] }\n}\n",
            "",
            "unknown attribute `kinds` in the `match` of policy `p` (expected types, namespaces, environments)",
            "client.hcl",
            4,
            13,
        ),
        (
            "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"^1\"\n  match = { types = \"app\" }\n}\n",
            "",
            "`match.types` is a list of strings",
            "client.hcl",
            4,
            21,
        ),
        (
            "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"^1\"\n  exceptions = [{ name = \"x\", reason = \"y\", rule = [\"r\"], types = [\"app\"] }]\n}\n",
            "",
            "unknown attribute `rule` in exception `x` of policy `p`",
            "client.hcl",
            4,
            45,
        ),
        (
            "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"^1\"\n  exceptions = [{ reason = \"y\", types = [\"app\"] }]\n}\n",
            "",
            "exception 1 of policy `p` needs `name`",
            "client.hcl",
            4,
            17,
        ),
        (
            "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"^1\"\n  exceptions = [{ name = \"x\", reason = \"  \", types = [\"app\"] }]\n}\n",
            "",
            "exception `x` of policy `p` needs `reason`",
            "client.hcl",
            4,
            26,
        ),
        (
            "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"^1\"\n  exceptions = [{ name = \"x\", reason = \"y\", rules = [\"r\"] }]\n}\n",
            "",
            "disable the policy or narrow the exception",
            "client.hcl",
            4,
            26,
        ),
        (
            "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"^1\"\n  match {\n  }\n}\n",
            "",
            "`match` is an attribute, not a block",
            "client.hcl",
            4,
            3,
        ),
        (
            OK,
            "policy \"p\" {\n  mode = \"audit\"\n}\n",
            "an environment relaxes a policy only through a named exception with a reason",
            "envs/production/env.hcl",
            2,
            10,
        ),
        (
            OK,
            "policy \"p\" {\n  params = {}\n}\n",
            "an env.hcl cannot set `params` of policy `p`",
            "envs/production/env.hcl",
            2,
            3,
        ),
        (
            OK,
            "policy \"p\" {\n  match = {}\n}\n",
            "an env.hcl cannot set `match` of policy `p`",
            "envs/production/env.hcl",
            2,
            3,
        ),
        (
            OK,
            "policy \"p\" {\n  version = \"^2\"\n}\n",
            "an env.hcl cannot set `version` of policy `p`",
            "envs/production/env.hcl",
            2,
            3,
        ),
        (
            OK,
            "policy \"p\" {\n  colour = \"red\"\n}\n",
            "unknown attribute `colour` in policy `p`, which client.hcl defines (expected mode, exceptions)",
            "envs/production/env.hcl",
            2,
            3,
        ),
        (
            OK,
            "policy \"q\" {\n  plugin = \"a/b\"\n}\n",
            "policy `q` needs `version`",
            "envs/production/env.hcl",
            1,
            1,
        ),
        (OK, "policy {\n}\n", "a `policy` block needs a name", "envs/production/env.hcl", 1, 1),
    ];
    for &(client, env, message, file, line, col) in cases {
        let dir = tree(&[
            ("client.hcl", client),
            ("envs/production/env.hcl", env),
            ("envs/production/payments/namespace.hcl", "namespace = \"payments\"\n"),
            ("envs/production/payments/api/component.hcl", &component("app")),
        ]);
        let diags = load(dir.path(), &options()).err().unwrap_or_else(|| panic!("{client}{env} loads"));
        let [d] = diags.0.as_slice() else { panic!("one error expected for {client}{env}:\n{diags}") };
        assert!(d.message().contains(message), "{client}{env}: {}", d.message());
        let l = d.location.as_ref().unwrap();
        assert_eq!((l.file.as_path(), l.line, l.col), (Path::new(file), line, col), "{client}{env}: {d}");
    }
}

#[test]
fn a_policy_never_holds_a_secret_and_the_error_never_shows_it() {
    let client = "policy \"p\" {\n  plugin  = \"a/b\"\n  version = \"^1\"\n  params  = { registries = [\"ghcr.io/${secrets.org}/\"] }\n}\n";
    let dir = tree(&[
        ("client.hcl", client),
        ("secrets.enc.hcl", "org = \"hunter2-very-secret\"\n"),
        ("envs/production/env.hcl", ""),
        ("envs/production/payments/namespace.hcl", "namespace = \"payments\"\n"),
        ("envs/production/payments/api/component.hcl", &component("app")),
    ]);
    let diags = load(dir.path(), &options()).expect_err("a secret in params");
    let d = diags.iter().next().unwrap();
    assert!(matches!(d.error, ConfigError::Secret { .. }), "{diags}");
    assert!(d.message().contains("a policy never sees secrets"), "{diags}");
    assert_eq!((d.line(), d.location.as_ref().unwrap().col), (Some(4), 13));
    assert!(!diags.to_string().contains("hunter2"), "{diags}");
}
