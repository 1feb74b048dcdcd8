//! A policy plugin written in Python: `acme/naming-policy`
//! (tests/python-policy/, on the SDK in sdk/python/), built from source with
//! componentize-py, packed, signed, served from a `dir` plugin source and
//! enforced by a `policy` block of client.hcl. `capstan plan` fails naming
//! the policy, the rule and the component, and passes when the objects are
//! labelled and named right (planned by a second Python component, a
//! fixture: the built-in app plugin sets no `part-of` label), in audit mode,
//! under an exception, or with the rules switched off. Its pytest suites run
//! against the same component and this binary.
//!
//! Each component is built once per test binary (about 10 s; see
//! [`policy_wasm`]). Nothing is skipped: without componentize-py or pytest
//! the tests fail, saying to run tests/setup.sh.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::{ACME_SIGNED_SOURCE, Run, Stack, repo_root};

const PLUGIN: &str = "acme/naming-policy";
/// Every rule the policy describes, in its order.
const RULES: [&str; 5] =
    ["name-label", "part-of-label", "pod-template-labels", "dns-1123-name", "name-prefix"];

/// The command's output with how it ran, for a failure message.
fn shown(command: &Command, out: &std::process::Output) -> String {
    format!(
        "$ {command:?}\nexit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Builds a component from tests/python-policy/ with the SDK's build module
/// (which runs componentize-py) into target/tmp, beside, then renamed: a
/// concurrent run never reads half a file.
fn build(target: &str, world: &str, search: &str, file: &str) -> PathBuf {
    let root = repo_root();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-policy");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(file);
    let partial = dir.join(format!("{file}.{}", std::process::id()));
    let mut command = Command::new("python3");
    command
        .args(["-m", "capstan_sdk.build", target, "--world", world, "-p"])
        .arg(root.join(search))
        .arg("-o")
        .arg(&partial)
        .env("PYTHONPATH", root.join("sdk/python"))
        .current_dir(&root);
    let built = command.output().unwrap_or_else(|e| {
        panic!("running python3 to build {target}: {e}; run tests/setup.sh (it installs componentize-py)")
    });
    assert!(
        built.status.success(),
        "building {target} failed; if componentize-py is missing, run tests/setup.sh:\n{}",
        shown(&command, &built)
    );
    std::fs::rename(&partial, &out).unwrap();
    out
}

/// The policy's component. Built once per test binary: the sources may
/// have changed since the last run, and a build takes ~10 s.
fn policy_wasm() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        build("naming_policy:NamingPolicy", "policy-plugin", "tests/python-policy", "naming-policy.wasm")
    })
}

/// `acme/labelled-app` (tests/python-policy/fixtures/labelled_app.py), a
/// component plugin of type `app` whose one Deployment carries the labels
/// its inputs give: the built-in capstan/app sets no
/// `app.kubernetes.io/part-of`, so a plan that satisfies the policy needs it.
fn labelled_app_wasm() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("labelled_app", "plugin", "tests/python-policy/fixtures", "labelled-app.wasm"))
}

/// Everything a run printed: the plan's verdict may reach either stream.
fn said(run: &Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

/// A `policy` block for the Python policy, in `mode`, with these params
/// (HCL) and more attributes (`exceptions = …`).
fn policy_block(mode: &str, params: &str, more: &str) -> String {
    format!(
        "policy \"naming\" {{\n  plugin  = \"{PLUGIN}\"\n  version = \"^0.1\"\n  mode    = \"{mode}\"\n  params  = {params}\n{more}}}\n"
    )
}

/// client.hcl: `dist/` as a plugin source, acme's key trusted for acme's
/// plugins, and `policy`.
fn client_hcl(policy: &str) -> String {
    format!("{ACME_SIGNED_SOURCE}\n{policy}")
}

/// The two components packed and signed by `acme`, once per test binary
/// (packing a 19 MB component takes a debug build half a minute): the
/// directory holds `keys/acme.pub` and `dist/<bundle>`.
fn published() -> &'static Path {
    static PUBLISHED: OnceLock<PathBuf> = OnceLock::new();
    PUBLISHED.get_or_init(|| {
        let publisher = Stack::new("");
        publisher.run(&["plugin", "keygen", "-o", "keys/acme"]).ok();
        for (wasm, bundle, name) in
            [(policy_wasm(), POLICY_BUNDLE, PLUGIN), (labelled_app_wasm(), APP_BUNDLE, "acme/labelled-app")]
        {
            let packed = publisher.run(&["plugin", "pack", wasm.to_str().unwrap(), "-o", bundle]).ok();
            assert!(packed.stdout.contains(&format!("{name} 0.1.0")), "{packed:?}");
            publisher.run(&["plugin", "sign", bundle, "--key", "keys/acme.key"]).ok();
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-policy").join("published");
        let _ = std::fs::remove_dir_all(&dir);
        for file in ["keys/acme.pub", POLICY_BUNDLE, APP_BUNDLE] {
            std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
            std::fs::copy(publisher.path(file), dir.join(file)).unwrap();
        }
        dir
    })
}

const POLICY_BUNDLE: &str = "dist/acme-naming-policy.bundle";
const APP_BUNDLE: &str = "dist/acme-labelled-app.bundle";

/// A stack enforcing `policy` (a block) over one component, `dev/web/api`
/// (the built-in `capstan/app`: its objects carry `app.kubernetes.io/name`
/// and no `part-of`), with acme's key and [`published`] bundles.
fn stack(policy: &str) -> Stack {
    let s = Stack::new(&client_hcl(policy));
    s.write("envs/dev/env.hcl", "");
    s.write("envs/dev/web/namespace.hcl", "namespace = \"web\"\n");
    s.write(
        "envs/dev/web/api/component.hcl",
        &crate::support::app_component("registry.example/api:1.0.0", "1"),
    );
    for file in ["keys/acme.pub", POLICY_BUNDLE, APP_BUNDLE] {
        std::fs::create_dir_all(s.path(file).parent().unwrap()).unwrap();
        std::fs::copy(published().join(file), s.path(file)).unwrap();
    }
    s
}

/// A component.hcl of the labelled-app fixture with these labels (HCL).
fn labelled_app(labels: &str) -> String {
    format!(
        r#"component {{
  type    = "app"
  plugin  = "acme/labelled-app"
  version = "^0.1"
}}
inputs = {{
  image  = "registry.example/api:1.0.0"
  labels = {labels}
}}
"#
    )
}

const ENFORCED: &str = r#"{ part_of = "open-finance", name_prefix = "of-" }"#;

#[test]
fn plugin_inspect_describes_the_python_policy_its_rules_and_params() {
    let s = stack("");
    for target in [policy_wasm().to_str().unwrap(), POLICY_BUNDLE] {
        let run = s.run(&["plugin", "inspect", target]).ok();
        let out = said(&run);
        for expected in [PLUGIN, "0.1.0", "policy", "part_of", "name_prefix"] {
            assert!(out.contains(expected), "`{expected}` missing: {run:?}");
        }
        // Each rule with its description: the WIT's `rule.description` is
        // "one line for `capstan plugin inspect`".
        for rule in RULES {
            assert!(out.contains(rule), "inspect does not list rule `{rule}`: {run:?}");
        }
    }
    let run = s.run(&["plugin", "inspect", POLICY_BUNDLE, "--json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let plugin = &doc["plugins"][0];
    assert_eq!(plugin["name"], PLUGIN, "{doc}");
    assert_eq!(plugin["component_type"], "policy", "{doc}");
    let ids: Vec<&str> =
        plugin["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, RULES, "{doc}");
    // The SDK's `rules` switch, every rule on by default.
    assert_eq!(plugin["input_schema"]["properties"]["rules"]["additionalProperties"], false, "{doc}");
    assert!(plugin["defaults"].as_str().unwrap().contains("  part-of-label: true\n"), "{doc}");
}

/// The conformance checks every policy keeps pass for the Python one too,
/// as they do for the built-in Rust policy.
#[test]
fn the_python_policy_passes_the_policy_checks_of_plugin_test() {
    let s = stack("");
    let run = s.run(&["plugin", "test", policy_wasm().to_str().unwrap(), "--json"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let report = &doc["reports"][0];
    assert_eq!(
        (report["plugin"].as_str(), report["kit_type"].as_str()),
        (Some(PLUGIN), Some("policy")),
        "{doc}"
    );
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 4, "{doc}");
    assert!(checks.iter().all(|c| c["status"] == "pass"), "{doc}");
}

#[test]
fn an_enforced_python_policy_fails_the_plan_naming_the_policy_the_rule_and_the_component() {
    let s = stack(&policy_block("enforce", r#"{ part_of = "open-finance" }"#, ""));
    let run = s.run(&["plan", "envs/dev"]);
    assert_ne!(run.code, 0, "{run:?}");
    let out = said(&run);
    // The policy block, the rules and the component: the app's objects lack
    // app.kubernetes.io/part-of, on themselves and on the pod template.
    for expected in ["naming", "part-of-label", "pod-template-labels", "api"] {
        assert!(out.contains(expected), "`{expected}` missing: {run:?}");
    }
    assert!(out.contains("open-finance"), "the message says what the label must be: {run:?}");
    // capstan/app sets app.kubernetes.io/name, and its names are fine.
    for kept in ["name-label", "dns-1123-name", "name-prefix"] {
        assert!(!out.contains(kept), "`{kept}` is not broken: {run:?}");
    }
}

#[test]
fn the_plan_passes_when_the_objects_are_labelled_and_named_right() {
    let s = stack(&policy_block("enforce", ENFORCED, ""));
    std::fs::remove_dir_all(s.path("envs/dev/web/api")).unwrap();
    let right = r#"{
    "app.kubernetes.io/name"    = "of-api"
    "app.kubernetes.io/part-of" = "open-finance"
  }"#;
    s.write("envs/dev/web/of-api/component.hcl", &labelled_app(right));
    let run = s.run(&["plan", "envs/dev"]).ok();
    assert!(run.stdout.contains("Deployment"), "{run:?}");
    let lock = s.read("capstan.lock");
    assert!(
        lock.contains(PLUGIN) && lock.contains("acme/labelled-app"),
        "the policy is locked like any plugin: {lock}"
    );

    // The same component, part of something else: refused, saying what.
    s.write("envs/dev/web/of-api/component.hcl", &labelled_app(&right.replace("open-finance", "payments")));
    let run = s.run(&["plan", "envs/dev"]);
    assert_ne!(run.code, 0, "{run:?}");
    let out = said(&run);
    assert!(out.contains("part-of-label") && out.contains("payments") && out.contains("of-api"), "{run:?}");
}

#[test]
fn audit_mode_exceptions_and_rule_switches_let_a_plan_through() {
    // Audit: reported, nothing fails.
    let s = stack(&policy_block("audit", ENFORCED, ""));
    let run = s.run(&["plan", "envs/dev"]).ok();
    assert!(said(&run).contains("part-of-label"), "audited violations are reported: {run:?}");

    // A named exception for the rules this component breaks.
    let exception = r#"  exceptions = [{ name = "legacy-api", reason = "labelled by its own chart until Q3", rules = ["part-of-label", "pod-template-labels", "name-prefix"], components = ["api"] }]
"#;
    s.write("client.hcl", &client_hcl(&policy_block("enforce", ENFORCED, exception)));
    s.run(&["plan", "envs/dev"]).ok();

    // The rules switched off in params; a prefix every name of the app has
    // passes, one none has fails.
    let off = r#"rules = { "part-of-label" = false, "pod-template-labels" = false }"#;
    s.write(
        "client.hcl",
        &client_hcl(&policy_block("enforce", &format!("{{ name_prefix = \"api\", {off} }}"), "")),
    );
    s.run(&["plan", "envs/dev"]).ok();
    s.write(
        "client.hcl",
        &client_hcl(&policy_block("enforce", &format!("{{ name_prefix = \"of-\", {off} }}"), "")),
    );
    let run = s.run(&["plan", "envs/dev"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(said(&run).contains("name-prefix"), "{run:?}");
}

#[test]
fn params_the_policys_schema_refuses_stop_the_plan() {
    let s = stack(&policy_block("enforce", r#"{ partof = "open-finance" }"#, ""));
    let run = s.run(&["plan", "envs/dev"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(said(&run).contains("partof"), "the refusal names the unknown param: {run:?}");
}

/// The policy's and the SDK's pytest suites (plain Python, the glue on
/// componentize-py's bindings, and tests/python-policy/test_through_capstan.py
/// through this binary with the bundle signed above).
#[test]
fn the_python_tests_pass() {
    let root = repo_root();
    let mut command = Command::new("python3");
    command
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", "."])
        .args(["tests/python-policy", "sdk/python/tests"])
        .current_dir(&root)
        .env("CAPSTAN_BIN", env!("CARGO_BIN_EXE_capstan"))
        .env("CAPSTAN_POLICY_BUNDLE", published().join(POLICY_BUNDLE))
        .env("CAPSTAN_POLICY_PUBLIC_KEY", published().join("keys/acme.pub"))
        .env("CAPSTAN_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("capstan-plugin-cache"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("CI")
        .env_remove("CAPSTAN_ALLOW_UNSIGNED");
    let out = command.output().unwrap_or_else(|e| panic!("running python3 -m pytest: {e}"));
    assert!(
        out.status.success(),
        "the Python tests failed; if pytest or componentize-py is missing, run tests/setup.sh:\n{}",
        shown(&command, &out)
    );
}
