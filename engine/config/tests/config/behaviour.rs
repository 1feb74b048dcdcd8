//! Behaviours users rely on beyond the fixture corpus.

use std::collections::BTreeMap;
use std::path::Path;

use capstan_config::{Command, ConfigError, DependencyOutputs, LoadOptions, load, validate};
use capstan_core::Output;
use serde_json::{Value, json};

use crate::support::{options, tree};

const LEVELS: &[(&str, &str)] = &[
    ("client.hcl", "locals {\n  org = \"opus\"\n}\n"),
    ("envs/dev/env.hcl", "locals {\n  environment = \"dev\"\n}\nbackend = \"rabbitmq\"\n"),
    ("envs/dev/core/namespace.hcl", "namespace = \"core-dev\"\n"),
];

fn with_levels<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    LEVELS.iter().copied().chain(extra.iter().copied()).collect()
}

fn outputs(pairs: &[(&str, Value, bool)]) -> DependencyOutputs<'static> {
    DependencyOutputs::new(
        pairs
            .iter()
            .map(|(n, v, s)| Output { name: (*n).to_owned(), value: v.clone(), sensitive: *s })
            .collect::<Vec<_>>(),
    )
}

const SECRET: &str = "hunter2-very-secret";

/// A plugin asked without a stack (the conformance kit) gets its inputs
/// merged over its defaults as a component's are: objects key by key,
/// anything else replaced; defaults that are only comments are no inputs.
#[test]
fn inputs_merge_over_a_plugins_defaults_without_a_stack() {
    let defaults =
        "# the defaults\nreplicas: 2\nresources:\n  requests: { cpu: 100m, memory: 128Mi }\nports: [80]\n";
    let merged = capstan_config::merge_over_defaults(
        defaults,
        json!({ "image": "api:1", "resources": { "requests": { "cpu": "1" } }, "ports": [8080] }),
    )
    .unwrap();
    assert_eq!(
        merged,
        json!({ "replicas": 2, "resources": { "requests": { "cpu": "1", "memory": "128Mi" } },
                "ports": [8080], "image": "api:1" })
    );
    assert_eq!(
        capstan_config::merge_over_defaults("# nothing\n", json!({ "a": 1 })).unwrap(),
        json!({ "a": 1 })
    );
    let err = capstan_config::merge_over_defaults("a: [1\n", json!({})).unwrap_err();
    assert!(!err.is_empty());
}

#[test]
fn secrets_never_reach_messages_debug_output_or_redacted_views() {
    let dir = tree(&with_levels(&[
        ("envs/dev/secrets.enc.hcl", "db_password = \"hunter2-very-secret\"\n"),
        (
            "envs/dev/core/api/component.hcl",
            r#"component {
  type   = "app"
  plugin = "capstan/app"
}

inputs = {
  password = secrets.db_password
  url      = "postgres://app:${upper(secrets.db_password)}@db/app"
  replicas = secrets.db_password
}
"#,
        ),
    ]));
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let c = stack.component("envs/dev/core/api").unwrap();
    let schema = json!({"type": "object", "properties": {"replicas": {"type": "integer"}}});
    let err = c.resolve_inputs(&BTreeMap::new(), Command::Plan, "", &schema).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("/replicas"), "{text}");
    assert!(text.contains("(sensitive)"), "{text}");
    assert!(!text.contains("hunter2"), "a secret leaked into a diagnostic: {text}");
    assert!(!format!("{err:?}").contains("hunter2"));

    let ok = c.resolve_inputs(&BTreeMap::new(), Command::Plan, "", &Value::Null).unwrap();
    assert_eq!(ok.value["password"], SECRET, "the plugin gets the clear value");
    assert_eq!(ok.value["url"], "postgres://app:HUNTER2-VERY-SECRET@db/app");
    assert_eq!(ok.sensitive_paths, vec!["/password", "/replicas", "/url"]);
    let shown = ok.redacted().to_string() + &ok.show() + &format!("{ok:?}{stack:?}");
    assert!(!shown.to_lowercase().contains("hunter2"), "{shown}");
    assert!(ok.show().contains("password = \"(sensitive)\""), "{}", ok.show());
    assert_eq!(
        ok.show_json()["password"],
        json!({"value": "(sensitive)", "from": "envs/dev/core/api/component.hcl:7 (inputs)"})
    );
}

#[test]
fn a_type_error_on_a_secret_prints_sensitive_not_the_value() {
    let dir = tree(&with_levels(&[
        ("envs/dev/secrets.enc.hcl", "db_password = \"hunter2-very-secret\"\n"),
        (
            "envs/dev/core/api/component.hcl",
            "component {\n  type   = \"app\"\n  plugin = \"capstan/app\"\n}\n\ninputs = {\n  n = secrets.db_password + 1\n  m = local.env[secrets.db_password]\n}\n",
        ),
    ]));
    let err = load(dir.path(), &options()).unwrap_err().to_string();
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("component.hcl:7:7"), "{err}");
}

#[test]
fn a_value_refused_from_values_sensitive_custom_points_at_its_secrets_file() {
    let dir = tree(&with_levels(&[
        (
            "envs/dev/core/api/secrets.enc.hcl",
            "# the app's secret values\nvalues_sensitive_custom = <<EOT\nreplicas: hunter2-many\nbogus: 1\nEOT\n",
        ),
        (
            "envs/dev/core/api/component.hcl",
            "component {\n  type   = \"app\"\n  plugin = \"capstan/app\"\n}\n\ninputs = {\n  image = \"x\"\n}\n",
        ),
    ]));
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let c = stack.component("envs/dev/core/api").unwrap();
    let schema = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {"image": {"type": "string"}, "replicas": {"type": "integer"}},
    });
    let err = c.resolve_inputs(&BTreeMap::new(), Command::Plan, "", &schema).unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    // Both the wrong value and the key the schema does not allow came from
    // the secrets file's values_sensitive_custom (line 2), not component.hcl.
    assert_eq!(text.matches("--> envs/dev/core/api/secrets.enc.hcl:2:1").count(), 2, "{text}");
    assert!(!text.contains("component.hcl"), "{text}");
    assert!(
        text.contains(
            "/replicas comes from the encrypted values_sensitive_custom of envs/dev/core/api/secrets.enc.hcl"
        ),
        "{text}"
    );
    assert!(text.contains("/bogus comes from the encrypted values_sensitive_custom"), "{text}");
}

#[test]
fn apply_never_uses_mock_outputs_plan_does_when_allowed() {
    let dir = tree(&with_levels(&[
        (
            "envs/dev/core/db/component.hcl",
            "component {\n  type = \"postgres\"\n  plugin = \"capstan/postgres-external\"\n}\n",
        ),
        (
            "envs/dev/core/api/component.hcl",
            r#"component {
  type   = "app"
  plugin = "capstan/app"
}

dependency "db" {
  config_path = "../db"
  mock_outputs = { host = "mock-host", port = 1 }
  mock_outputs_allowed_commands = ["plan"]
}

inputs = {
  url = "${dependency.db.outputs.host}:${dependency.db.outputs.port}"
}
"#,
        ),
    ]));
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let c = stack.component("envs/dev/core/api").unwrap();
    let real = BTreeMap::from([("db".to_owned(), outputs(&[("host", json!("pg.dev"), false)]))]);

    let plan = c.resolve_inputs(&real, Command::Plan, "", &Value::Null).unwrap();
    assert_eq!(plan.value["url"], "pg.dev:1", "real outputs win; the missing one is mocked");

    let apply = c.resolve_inputs(&real, Command::Apply, "", &Value::Null).unwrap_err();
    let e = &apply.0[0];
    assert!(
        matches!(&e.error, ConfigError::MissingOutput { dependency, output, .. } if dependency == "db" && output == "port")
    );
    assert_eq!((e.file().unwrap(), e.line().unwrap()), (Path::new("envs/dev/core/api/component.hcl"), 13));

    let validate = c.resolve_inputs(&real, Command::Validate, "", &Value::Null);
    assert!(validate.is_err(), "validate is not in mock_outputs_allowed_commands");

    let all = BTreeMap::from([(
        "db".to_owned(),
        outputs(&[("host", json!("pg.dev"), false), ("port", json!(5432), false)]),
    )]);
    let applied = c.resolve_inputs(&all, Command::Apply, "", &Value::Null).unwrap();
    assert_eq!(applied.value["url"], "pg.dev:5432");
}

#[test]
fn a_sensitive_dependency_output_stays_sensitive_in_inputs() {
    let dir = tree(&with_levels(&[
        ("envs/dev/core/db/component.hcl", "component {\n  type = \"postgres\"\n  plugin = \"p\"\n}\n"),
        (
            "envs/dev/core/api/component.hcl",
            "component {\n  type = \"app\"\n  plugin = \"p\"\n}\ndependency \"db\" {\n  config_path = \"../db\"\n}\ninputs = {\n  dsn = \"pg://u:${dependency.db.outputs.password}@h\"\n}\n",
        ),
    ]));
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let deps = BTreeMap::from([("db".to_owned(), outputs(&[("password", json!(SECRET), true)]))]);
    let r = stack
        .component("envs/dev/core/api")
        .unwrap()
        .resolve_inputs(&deps, Command::Apply, "", &Value::Null)
        .unwrap();
    assert_eq!(r.value["dsn"], format!("pg://u:{SECRET}@h"));
    assert_eq!(r.sensitive_paths, vec!["/dsn"]);
}

#[test]
fn loading_a_component_also_loads_what_it_depends_on_but_nothing_else() {
    let dir = tree(&with_levels(&[
        ("envs/dev/core/db/component.hcl", "component {\n  type = \"postgres\"\n  plugin = \"p\"\n}\n"),
        ("envs/dev/core/other/component.hcl", "component {\n  type = \"app\"\n  plugin = \"p\"\n}\n"),
        (
            "envs/dev/core/api/component.hcl",
            "component {\n  type = \"app\"\n  plugin = \"p\"\n}\ndependency \"db\" {\n  config_path = \"../db\"\n}\n",
        ),
    ]));
    let stack = load(&dir.path().join("envs/dev/core/api"), &options()).unwrap_or_else(|d| panic!("{d}"));
    let keys: Vec<_> = stack.components.keys().map(String::as_str).collect();
    assert_eq!(keys, ["envs/dev/core/api", "envs/dev/core/db"]);
    let targets: Vec<_> = stack.targets().map(|c| c.key.as_str()).collect();
    assert_eq!(targets, ["envs/dev/core/api"]);
    assert_eq!(
        stack.order(),
        ["envs/dev/core/api", "envs/dev/core/db"].iter().rev().copied().collect::<Vec<_>>()
    );
    let api = stack.component("envs/dev/core/api").unwrap();
    assert_eq!(api.id.to_string(), "dev/core-dev/api");
}

#[test]
fn no_client_hcl_above_the_target_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(dir.path(), &LoadOptions::default()).unwrap_err();
    assert!(matches!(err.0[0].error, ConfigError::NoStackRoot { .. }));
    assert!(err.to_string().contains("no client.hcl in"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_symlink_inside_the_tree_cannot_lead_outside_it() {
    let dir = tree(&with_levels(&[(
        "envs/dev/core/api/component.hcl",
        "component {\n  type = \"app\"\n  plugin = \"p\"\n}\ninputs = {\n  x = file(\"escape\")\n}\n",
    )]));
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("envs/dev/core/api/escape")).unwrap();
    let err = load(dir.path(), &options()).unwrap_err().to_string();
    assert!(err.contains("file(): cannot read envs/dev/core/api/escape"), "{err}");
    assert!(err.contains("component.hcl:6:12"), "{err}");
    assert!(!err.contains("root:"), "the file's contents must not appear: {err}");
}

#[test]
fn a_secrets_file_without_a_provider_is_reported_not_ignored() {
    let dir = tree(&with_levels(&[
        ("envs/dev/secrets.enc.hcl", "x = \"y\"\n"),
        ("envs/dev/core/api/component.hcl", "component {\n  type = \"app\"\n  plugin = \"p\"\n}\n"),
    ]));
    let err = validate(dir.path(), &LoadOptions::default()).to_string();
    assert!(
        err.contains("envs/dev/secrets.enc.hcl is present but no secret provider is configured"),
        "{err}"
    );
}

#[test]
fn the_language_evaluates_like_terragrunt_users_expect() {
    let dir = tree(&with_levels(&[
        ("common/versions.hcl", "locals {\n  app = \"2.0.1\"\n}\nchart = \"oof-${local.app}\"\n"),
        (
            "envs/dev/core/api/component.hcl",
            r#"locals {
  # Locals may refer to each other in any order.
  full     = "${local.prefix}-${local.name}"
  prefix   = lower(local.client.org)
  name     = "api"
  versions = read_config(find_in_parent_folders("common/versions.hcl"))
  sizes    = { small = 1, large = 3 }
  doubled  = { for k, v in local.sizes : upper(k) => v * 2 if v > 1 }
  listing  = <<-EOT
    %{ for q in ["a", "b"] ~}
    ${q};
    %{ endfor ~}
  EOT
}

component {
  type   = "app"
  plugin = "capstan/app-${local.env.backend == "rabbitmq" ? "amqp" : "sqs"}"
}

inputs = {
  full     = local.full
  version  = local.versions.locals.app
  chart    = local.versions.chart
  doubled  = local.doubled
  listing  = trimspace(local.listing)
  rel      = path_relative_to_include()
  parent   = get_parent_dir()
  fmt      = format("%s-%03d", "x", 7)
  json     = jsondecode(jsonencode({ a = [1, 2] }))
  yaml     = yamldecode("k: v\n")
  look     = lookup({ a = 1 }, "b", "fallback")
  merged   = merge({ a = 1, b = 1 }, { b = 2 })
  replaced = replace("a.b.c", ".", "-")
  env      = get_env("OOF_LOG_LEVEL", "x")
  missing  = get_env("NOT_SET_ANYWHERE", "default")
  ns       = local.namespace.namespace
}
"#,
        ),
    ]));
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let c = stack.component("envs/dev/core/api").unwrap();
    assert_eq!(c.plugin, "capstan/app-amqp");
    let r = c.resolve_inputs(&BTreeMap::new(), Command::Plan, "", &Value::Null).unwrap();
    let v = &r.value;
    assert_eq!(v["full"], "opus-api");
    assert_eq!(v["version"], "2.0.1");
    assert_eq!(v["chart"], "oof-2.0.1");
    assert_eq!(v["doubled"], json!({"LARGE": 6}));
    assert_eq!(v["listing"], "a;\nb;");
    assert_eq!(v["rel"], ".");
    assert_eq!(v["parent"], "envs/dev/core");
    assert_eq!(v["json"], json!({"a": [1, 2]}));
    assert_eq!(v["yaml"], json!({"k": "v"}));
    assert_eq!(v["look"], "fallback");
    assert_eq!(v["merged"], json!({"a": 1, "b": 2}));
    assert_eq!(v["replaced"], "a-b-c");
    assert_eq!(v["env"], "INFO");
    assert_eq!(v["missing"], "default");
    assert_eq!(v["ns"], "core-dev");
}

#[test]
fn yamlencode_writes_yaml_that_reads_back_as_the_same_value() {
    // The render target's writer: keys in the object's order, YAML 1.1
    // lookalikes quoted, floats readable as floats by every reader, text of
    // several lines as a block and a lone line feed kept.
    let dir = tree(&with_levels(&[(
        "envs/dev/core/api/component.hcl",
        r#"locals {
  doc = { zeta = "yes", alpha = [1, 1e-7, "=", null], text = "a\nb\n", lf = "\n", nested = { on = "off" } }
}

component {
  type   = "app"
  plugin = "capstan/app-amqp"
}

inputs = {
  text = yamlencode(local.doc)
  back = yamldecode(yamlencode(local.doc))
  doc  = local.doc
  word = yamlencode("no")
}
"#,
    )]));
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let c = stack.component("envs/dev/core/api").unwrap();
    let v = c.resolve_inputs(&BTreeMap::new(), Command::Plan, "", &Value::Null).unwrap().value;
    assert_eq!(
        v["text"],
        "zeta: 'yes'\nalpha:\n- 1\n- 1.0e-7\n- '='\n- null\ntext: |\n  a\n  b\nlf: \"\\n\"\nnested:\n  'on': 'off'\n"
    );
    assert_eq!(v["back"], v["doc"]);
    assert_eq!(v["word"], "'no'\n");
}

#[test]
fn a_broken_env_hcl_does_not_hide_errors_elsewhere_nor_echo_below_it() {
    let mut files = with_levels(&[
        ("envs/prod/env.hcl", "locals {\n  environment = \n}\n"),
        ("envs/prod/core/namespace.hcl", "namespace = \"core\"\n"),
        (
            "envs/prod/core/api/component.hcl",
            "component {\n  type = \"app\"\n  plugin = local.env.plugin\n}\n",
        ),
        ("envs/dev/core/api/component.hcl", "component {\n  type = \"app\"\n  plugin = nope()\n}\n"),
    ]);
    files.sort();
    let dir = tree(&files);
    let err = load(dir.path(), &options()).unwrap_err();
    let files: Vec<_> = err.iter().map(|d| d.file().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(files, ["envs/dev/core/api/component.hcl", "envs/prod/env.hcl"], "{err}");
}

#[test]
fn include_merge_strategies_decide_how_the_component_overrides_the_template() {
    let template = "component {\n  type = \"app\"\n  plugin = \"p\"\n  version = \"^1\"\n}\ninputs = {\n  labels = { a = 1, b = 1 }\n  keep = true\n}\n";
    let child = |strategy: &str| {
        format!(
            "include \"t\" {{\n  path = \"../../../../t.hcl\"\n  merge_strategy = \"{strategy}\"\n}}\ncomponent {{\n  type = \"app\"\n  plugin = \"q\"\n}}\ninputs = {{\n  labels = {{ b = 2 }}\n}}\n"
        )
    };
    let (deep, shallow, none) = (child("deep"), child("shallow"), child("no_merge"));
    let dir = tree(&with_levels(&[
        ("t.hcl", template),
        ("envs/dev/core/deep/component.hcl", &deep),
        ("envs/dev/core/shallow/component.hcl", &shallow),
        ("envs/dev/core/none/component.hcl", &none),
    ]));
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let inputs = |k: &str| {
        let c = stack.component(k).unwrap();
        (
            c.version.to_string(),
            c.resolve_inputs(&BTreeMap::new(), Command::Plan, "", &Value::Null).unwrap().value,
        )
    };
    assert_eq!(
        inputs("envs/dev/core/deep"),
        ("^1".to_owned(), json!({"labels": {"a": 1, "b": 2}, "keep": true}))
    );
    assert_eq!(inputs("envs/dev/core/shallow"), ("*".to_owned(), json!({"labels": {"b": 2}, "keep": true})));
    assert_eq!(inputs("envs/dev/core/none"), ("*".to_owned(), json!({"labels": {"b": 2}})));
}

#[test]
fn a_loaded_stack_can_be_shared_across_planner_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<capstan_config::Stack>();
    assert_send_sync::<capstan_config::ResolvedInputs>();
    assert_send_sync::<capstan_config::Diagnostics>();
}

/// Counts the provider's `resolve_ref` calls (remote look-ups cost money and time).
struct Counting(std::sync::atomic::AtomicUsize);

impl capstan_core::SecretProvider for Counting {
    fn open_file(
        &self,
        _: &Path,
        _: &[u8],
    ) -> Result<BTreeMap<String, capstan_core::Sensitive>, capstan_core::SecretSourceError> {
        Ok(BTreeMap::new())
    }

    fn resolve_ref(&self, _: &str) -> Result<capstan_core::Sensitive, capstan_core::SecretSourceError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(capstan_core::Sensitive::new(SECRET))
    }
}

#[test]
fn a_secret_ref_is_fetched_once_per_run() {
    let dir = tree(&with_levels(&[(
        "envs/dev/core/api/component.hcl",
        "component {\n  type = \"app\"\n  plugin = \"p\"\n}\ninputs = {\n  a = secret_ref(\"ssm:/x\")\n  b = secret_ref(\"ssm:/x\")\n}\n",
    )]));
    let provider = std::sync::Arc::new(Counting(std::sync::atomic::AtomicUsize::new(0)));
    let options = LoadOptions { secrets: Some(provider.clone()), env: BTreeMap::new() };
    let stack = load(dir.path(), &options).unwrap_or_else(|d| panic!("{d}"));
    let r = stack
        .component("envs/dev/core/api")
        .unwrap()
        .resolve_inputs(&BTreeMap::new(), Command::Plan, "", &Value::Null)
        .unwrap();
    assert_eq!(r.value["a"], SECRET);
    assert_eq!(r.sensitive_paths, vec!["/a", "/b"]);
    assert_eq!(provider.0.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_component_sets_its_own_ready_timeout_or_inherits_it_from_an_include() {
    let dir = tree(&with_levels(&[
        (
            "_templates/slow.hcl",
            "component {\n  type          = \"app\"\n  plugin        = \"capstan/app\"\n  ready_timeout = \"15m\"\n}\n",
        ),
        (
            "envs/dev/core/api/component.hcl",
            "component {\n  type          = \"app\"\n  plugin        = \"capstan/app\"\n  ready_timeout = \"90s\"\n}\n",
        ),
        (
            "envs/dev/core/migrate/component.hcl",
            "include \"slow\" {\n  path           = find_in_parent_folders(\"_templates/slow.hcl\")\n  merge_strategy = \"deep\"\n}\n",
        ),
        (
            "envs/dev/core/web/component.hcl",
            "component {\n  type   = \"app\"\n  plugin = \"capstan/app\"\n}\n",
        ),
    ]));
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let timeout = |key: &str| stack.component(key).unwrap().ready_timeout;
    assert_eq!(timeout("envs/dev/core/api"), Some(std::time::Duration::from_secs(90)));
    assert_eq!(timeout("envs/dev/core/migrate"), Some(std::time::Duration::from_secs(900)));
    assert_eq!(timeout("envs/dev/core/web"), None, "the run's --ready-timeout applies");
}

#[test]
fn an_environment_pin_narrows_its_components_to_that_version_and_local_names_the_build_dir() {
    let app = "component {\n  type    = \"app\"\n  plugin  = \"capstan/app\"\n  version = \"^1.2\"\n}\n";
    let core = "component {\n  type    = \"app\"\n  plugin  = \"acme/core\"\n  version = \"^0.3\"\n}\n";
    let dir = tree(&[
        ("client.hcl", ""),
        (
            "envs/dev/env.hcl",
            "plugins = {\n  \"capstan/app\" = \"1.4.2\"\n  \"acme/core\" = \"local\"\n}\nplugins_local_dir = \"./build/../plugins\"\n",
        ),
        ("envs/dev/web/namespace.hcl", ""),
        ("envs/dev/web/api/component.hcl", app),
        ("envs/dev/web/core/component.hcl", core),
        ("envs/prod/env.hcl", ""),
        ("envs/prod/web/namespace.hcl", ""),
        ("envs/prod/web/api/component.hcl", app),
    ]);
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let dev = &stack.components["envs/dev/web/api"];
    assert_eq!(dev.version.to_string(), "=1.4.2");
    assert_eq!(dev.pin, Some(capstan_config::PluginPin::Version("1.4.2".parse().unwrap())));
    assert!(!dev.version.matches(&"1.4.3".parse().unwrap()));
    let core = &stack.components["envs/dev/web/core"];
    assert_eq!(core.pin, Some(capstan_config::PluginPin::Local { dir: "plugins".into() }));
    assert_eq!(core.version.to_string(), "^0.3", "a local build is checked against the range by the engine");
    // Another environment keeps the component's own range.
    let prod = &stack.components["envs/prod/web/api"];
    assert_eq!((prod.version.to_string(), &prod.pin), ("^1.2".to_string(), &None));
}

#[test]
fn a_component_sees_every_output_of_a_dependency_it_reads_whole_and_the_named_ones_otherwise() {
    let component = |inputs: &str| {
        format!(
            "component {{\n  type = \"app\"\n  plugin = \"p\"\n}}\ndependency \"db\" {{\n  config_path = \"../db\"\n}}\ninputs = {inputs}\n"
        )
    };
    let named =
        component("{\n  url = \"pg://${dependency.db.outputs.host}:${dependency.db.outputs.port}\"\n}");
    let whole = component("{\n  host = dependency.db.outputs.host\n  all  = dependency.db.outputs\n}");
    let listed = component("{\n  names = [for k, v in dependency.db.outputs : k]\n}");
    let dir = tree(&with_levels(&[
        ("envs/dev/core/db/component.hcl", "component {\n  type = \"postgres\"\n  plugin = \"p\"\n}\n"),
        ("envs/dev/core/named/component.hcl", &named),
        ("envs/dev/core/whole/component.hcl", &whole),
        ("envs/dev/core/listed/component.hcl", &listed),
    ]));
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let deps = BTreeMap::from([(
        "db".to_owned(),
        outputs(&[
            ("host", json!("db.data"), false),
            ("port", json!(5432), false),
            ("databases", json!({"a": 1}), false),
        ]),
    )]);
    let resolve = |key: &str| {
        stack.component(key).unwrap().resolve_inputs(&deps, Command::Apply, "", &Value::Null).unwrap().value
    };
    assert_eq!(resolve("envs/dev/core/named"), json!({"url": "pg://db.data:5432"}));
    assert_eq!(
        resolve("envs/dev/core/whole"),
        json!({"host": "db.data", "all": {"host": "db.data", "port": 5432, "databases": {"a": 1}}})
    );
    assert_eq!(resolve("envs/dev/core/listed"), json!({"names": ["host", "port", "databases"]}));
}

const APP: (&str, &str) =
    ("envs/dev/core/api/component.hcl", "component {\n  type   = \"app\"\n  plugin = \"capstan/app\"\n}\n");

#[test]
fn an_environments_target_blocks_override_client_defaults_attribute_by_attribute() {
    let dir = tree(&[
        (
            "client.hcl",
            "target \"render\" {\n  out_dir = \"gitops\"\n  secrets = \"sops\"\n}\n\
             target \"kube\" {\n  server = \"https://default.k8s.example/\"\n}\n",
        ),
        (
            "envs/dev/env.hcl",
            "locals {\n  environment = \"dev\"\n}\ntarget \"render\" {\n  secrets = \"plain\"\n}\n\
             target \"kube\" {\n  context = \"dev-eu\"\n  server  = \"https://dev.k8s.example:6443\"\n}\n",
        ),
        ("envs/dev/core/namespace.hcl", "namespace = \"core\"\n"),
        APP,
    ]);
    let stack = load(dir.path(), &options()).unwrap_or_else(|d| panic!("{d}"));
    let target = &stack.environments["dev"].target;
    assert_eq!(stack.environments["dev"].dir, Path::new("envs/dev"));
    assert_eq!(target.render.out_dir.as_ref().unwrap().value, Path::new("gitops"), "from client.hcl");
    assert_eq!(target.render.secrets.as_ref().unwrap().value, capstan_config::SecretsDelivery::Plain);
    let secrets_at = &target.render.secrets.as_ref().unwrap().at;
    assert_eq!((secrets_at.file.as_path(), secrets_at.line), (Path::new("envs/dev/env.hcl"), 5));
    assert_eq!(target.kube.context.as_ref().unwrap().value, "dev-eu");
    assert_eq!(target.kube.server.as_ref().unwrap().value, "https://dev.k8s.example:6443");
}

#[test]
fn a_wrong_target_block_is_an_error_at_its_line() {
    let cases = [
        ("target \"helm\" {\n}\n", "unknown target `helm`", 4),
        ("target \"render\" {\n  outdir = \"x\"\n}\n", "unknown attribute `outdir` in target \"render\"", 5),
        (
            "target \"render\" {\n  external_secrets = { backend = \"vault\" }\n}\n",
            "`store` names the SecretStore",
            5,
        ),
        ("target \"render\" {\n  recipients = [\"ssh-ed25519 AAAA\"]\n}\n", "list of age public keys", 5),
        ("target \"kube\" {\n  server = \"dev.k8s.example\"\n}\n", "API server URL", 5),
        ("target \"kube\" {\n  region = 1\n}\n", "unknown attribute `region` in target \"kube\"", 5),
    ];
    for (block, message, line) in cases {
        let env = format!("locals {{\n  environment = \"dev\"\n}}\n{block}");
        let dir = tree(&[
            ("client.hcl", ""),
            ("envs/dev/env.hcl", &env),
            ("envs/dev/core/namespace.hcl", "namespace = \"core\"\n"),
            APP,
        ]);
        let diags = load(dir.path(), &options()).err().unwrap_or_else(|| panic!("{block} loads"));
        let d = diags.iter().next().unwrap();
        assert!(d.message().contains(message), "{block}: {d:?}");
        let at = d.location.as_ref().unwrap();
        assert_eq!((at.file.as_path(), at.line), (Path::new("envs/dev/env.hcl"), line), "{block}");
    }
}

#[test]
fn every_dependency_cycle_is_reported_at_the_block_that_closes_it() {
    let component = |deps: &[&str]| {
        let mut text = "component {\n  type = \"app\"\n  plugin = \"p\"\n}\n".to_owned();
        for d in deps {
            text.push_str(&format!("dependency \"{d}\" {{\n  config_path = \"../{d}\"\n}}\n"));
        }
        text
    };
    let (a, b, c, d) = (component(&["b"]), component(&["a"]), component(&["d"]), component(&["c"]));
    let dir = tree(&with_levels(&[
        ("envs/dev/core/a/component.hcl", &a),
        ("envs/dev/core/b/component.hcl", &b),
        ("envs/dev/core/c/component.hcl", &c),
        ("envs/dev/core/d/component.hcl", &d),
    ]));
    let diags = load(dir.path(), &options()).expect_err("two cycles");
    let cycles: Vec<(String, String)> = diags
        .iter()
        .filter(|d| matches!(d.error, ConfigError::DependencyCycle { .. }))
        .map(|d| (d.message(), d.location.as_ref().unwrap().file.display().to_string()))
        .collect();
    assert_eq!(
        cycles,
        [
            (
                "dependency cycle: envs/dev/core/a -> envs/dev/core/b -> envs/dev/core/a".to_owned(),
                "envs/dev/core/b/component.hcl".to_owned()
            ),
            (
                "dependency cycle: envs/dev/core/c -> envs/dev/core/d -> envs/dev/core/c".to_owned(),
                "envs/dev/core/d/component.hcl".to_owned()
            ),
        ]
    );
}
