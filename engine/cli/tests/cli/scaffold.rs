//! `capstan plugin new` and `capstan plugin build`, as a plugin author runs
//! them, in a temporary directory outside this workspace: the scaffold's
//! own tests pass, it builds, a component plugin passes the conformance kit,
//! and both kinds, packed and signed, are used in a copy of the open-finance
//! example that `capstan plan` plans (and the policy refuses once it asks
//! for a label the example's objects lack).
//!
//! The Rust scaffolds compile the SDK for the host and for wasm: they share
//! `target/scaffold-test` of this workspace (CARGO_TARGET_DIR), so only the
//! first run pays for it. The Python test needs pytest and componentize-py
//! (tests/setup.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{ACME_SIGNED_SOURCE, Run, Stack, example, repo_root, with_test_key};

/// Where the scaffolds' cargo builds go, kept between runs.
fn target_dir() -> PathBuf {
    repo_root().join("target/scaffold-test")
}

/// The stack's commands run with a private HOME: give cargo and rustup
/// back the real ones, and the shared target directory.
fn with_toolchain(mut command: Command) -> Command {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME").map_or_else(|| home.join(".cargo"), PathBuf::from);
    let rustup_home = std::env::var_os("RUSTUP_HOME").map_or_else(|| home.join(".rustup"), PathBuf::from);
    command
        .env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    command
}

/// Runs `capstan args` in `dir` (below the stack) with the toolchain.
fn capstan_in(s: &Stack, dir: &str, args: &[&str]) -> Run {
    let mut command = with_toolchain(s.command(args));
    command.current_dir(s.path(dir));
    run(command, &format!("capstan {} (in {dir})", args.join(" ")))
}

/// Runs another program (cargo, python3) in `dir` with the toolchain.
fn program_in(dir: &Path, program: &str, args: &[&str]) -> Run {
    let mut command = with_toolchain(Command::new(program));
    command.args(args).current_dir(dir).env_remove("RUSTFLAGS");
    run(command, &format!("{program} {} (in {})", args.join(" "), dir.display()))
}

fn run(mut command: Command, shown: &str) -> Run {
    let out = command.output().unwrap_or_else(|e| panic!("running {shown}: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command: shown.to_owned(),
    }
}

/// `capstan plugin build` in `dir`: the `.wasm` it printed, which exists.
fn build(s: &Stack, dir: &str) -> PathBuf {
    let run = capstan_in(s, dir, &["plugin", "build"]).ok();
    let wasm = s.path(dir).join(run.stdout.trim());
    assert!(wasm.extension().is_some_and(|e| e == "wasm") && wasm.is_file(), "{run:?}");
    wasm
}

/// client.hcl: `dist/` as a plugin source, acme trusted for acme/*, and a
/// `policy` block for acme/labels in enforce mode with these params.
fn client_hcl(params: &str) -> String {
    format!(
        r#"{ACME_SIGNED_SOURCE}
policy "labels" {{
  plugin  = "acme/labels"
  version = "^0.1"
  mode    = "enforce"
  params  = {params}
}}
"#
    )
}

#[test]
fn plugin_new_refuses_bad_names_shipped_types_python_components_and_a_used_directory() {
    let s = Stack::new("");
    for (args, said) in [
        (&["cache", "--type", "cache", "--lang", "rust"][..], "publisher/name"),
        (&["acme/Cache", "--type", "cache", "--lang", "rust"], "publisher/name"),
        (&["acme/x", "--type", "app", "--lang", "rust"], "capstan_sdk::contracts"),
        (&["acme/x", "--type", "cache", "--lang", "python"], "policies only"),
        (&["acme/x", "--type", "policy", "--lang", "rust", "--sdk", "/nonexistent"], "--sdk"),
    ] {
        let run = s.run(&[&["plugin", "new"][..], args].concat());
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains(said), "`{said}` missing: {run:?}");
    }
    s.write("used/file", "");
    let run = s.run(&["plugin", "new", "acme/x", "--type", "policy", "--lang", "rust", "--dir", "used"]);
    assert!(run.code == 1 && run.stderr.contains("not empty"), "{run:?}");
    assert!(!s.path("x").exists(), "nothing written on a refusal");
}

#[test]
fn rust_plugins_from_plugin_new_test_build_pass_the_kit_and_are_planned_signed() {
    let publisher = Stack::new("");
    let new = ["plugin", "new", "acme/cache-redis", "--type", "cache", "--lang", "rust"];
    let made = capstan_in(&publisher, ".", &new).ok();
    assert!(made.stdout.contains("a Rust component plugin"), "{made:?}");
    capstan_in(&publisher, ".", &["plugin", "new", "acme/labels", "--type", "policy", "--lang", "rust"]).ok();
    let manifest = publisher.read("cache-redis/Cargo.toml");
    assert!(manifest.contains("[workspace]") && manifest.contains("[profile.plugin]"), "{manifest}");
    assert!(manifest.contains(&repo_root().join("sdk").display().to_string()), "{manifest}");

    // Its own tests, on the SDK's test kit.
    for dir in ["cache-redis", "labels"] {
        let tested = program_in(&publisher.path(dir), "cargo", &["test", "--quiet"]).ok();
        assert!(tested.stdout.contains("3 passed"), "{tested:?}");
    }

    let component = build(&publisher, "cache-redis");
    let policy = build(&publisher, "labels");
    let kit = publisher.run(&["plugin", "test", component.to_str().unwrap()]).ok();
    assert!(kit.stdout.contains("passed: 8 checks"), "{kit:?}");

    publisher.run(&["plugin", "keygen", "-o", "keys/acme"]).ok();
    for (wasm, bundle, test) in
        [(&component, "dist/acme-cache-redis.bundle", true), (&policy, "dist/acme-labels.bundle", false)]
    {
        let mut args = vec!["plugin", "pack", wasm.to_str().unwrap(), "-o", bundle];
        if test {
            args.push("--test");
        }
        publisher.run(&args).ok();
        publisher.run(&["plugin", "sign", bundle, "--key", "keys/acme.key"]).ok();
    }

    // A copy of the example: the bundles from a directory, the key trusted,
    // a `cache` component added beside the apps, the policy enforced.
    let s = example_with(&publisher, &["dist/acme-cache-redis.bundle", "dist/acme-labels.bundle"], "{}");
    s.write(
        "envs/staging/open-finance/sessions/component.hcl",
        r#"component {
  type    = "cache"
  plugin  = "acme/cache-redis"
  version = "^0.1"
}
inputs = {
  image = "registry.opus.example/oof/redis:7.4.1"
}
"#,
    );
    let plan = with_test_key(&s, &["plan", "envs/staging"]).ok();
    assert!(plan.stdout.contains("Deployment") && plan.stdout.contains("sessions"), "{plan:?}");

    // A label the objects lack: the policy refuses the plan, saying which.
    refused_for_a_missing_label(&s);
}

/// A copy of the open-finance example whose client.hcl also serves
/// `bundles` (copied from `publisher`, with its key) from `dist/`, trusts
/// acme, and enforces acme/labels with `params`.
fn example_with(publisher: &Stack, bundles: &[&str], params: &str) -> Stack {
    let s = example();
    for file in bundles.iter().copied().chain(["keys/acme.pub"]) {
        std::fs::create_dir_all(s.path(file).parent().unwrap()).unwrap();
        std::fs::copy(publisher.path(file), s.path(file)).unwrap();
    }
    let client = s.read("client.hcl");
    s.write("client.hcl", &format!("{client}\n{}", client_hcl(params)));
    s
}

/// With acme/labels asking for a `team` label, which no object of the
/// example carries, the plan is refused naming the rule and the label.
fn refused_for_a_missing_label(s: &Stack) {
    let client = s.read("client.hcl").replace("params  = {}\n}", "params  = { label = \"team\" }\n}");
    s.write("client.hcl", &client);
    let refused = with_test_key(s, &["plan", "envs/staging"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(said.contains("required-label") && said.contains("team"), "{refused:?}");
}

#[test]
fn a_python_policy_from_plugin_new_tests_builds_and_is_enforced() {
    let publisher = Stack::new("");
    capstan_in(&publisher, ".", &["plugin", "new", "acme/labels", "--type", "policy", "--lang", "python"])
        .ok();
    let dir = publisher.path("labels");
    let mut pytest = with_toolchain(Command::new("python3"));
    pytest
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(&dir)
        .env("PYTHONPATH", repo_root().join("sdk/python"));
    let tested = run(pytest, "python3 -m pytest (in labels); without pytest, run tests/setup.sh").ok();
    assert!(tested.stdout.contains("3 passed"), "{tested:?}");

    let wasm = build(&publisher, "labels");
    publisher.run(&["plugin", "keygen", "-o", "keys/acme"]).ok();
    publisher.run(&["plugin", "pack", wasm.to_str().unwrap(), "-o", "dist/acme-labels.bundle"]).ok();
    publisher.run(&["plugin", "sign", "dist/acme-labels.bundle", "--key", "keys/acme.key"]).ok();

    // The example's objects carry app.kubernetes.io/name: it plans.
    let s = example_with(&publisher, &["dist/acme-labels.bundle"], "{}");
    let plan = with_test_key(&s, &["plan", "envs/staging"]).ok();
    assert!(plan.stdout.contains("Deployment"), "{plan:?}");
    refused_for_a_missing_label(&s);
}
