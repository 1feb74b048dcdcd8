//! A rendered tree meant for Git: the example's Secrets are SOPS documents
//! that an implementation nobody here wrote (npm `sops-age`) opens, a
//! canary password set with `capstan secrets set` reaches no file and no
//! output in clear, `plain` is refused in a work tree that does not ignore
//! it, and the `target "render"` block's errors point at the file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{Run, Stack, walk};

const CANARY: &str = "canary-5f3e9b-oob-consent";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A copy of the example with the test key, so runs leave nothing in the checkout.
fn example() -> Stack {
    let s = Stack { dir: tempfile::tempdir().unwrap() };
    let copy = Command::new("cp")
        .arg("-r")
        .arg(repo_root().join("examples/open-finance/."))
        .arg(s.root())
        .status()
        .unwrap();
    assert!(copy.success());
    for leftover in ["rendered", ".capstan"] {
        let _ = std::fs::remove_dir_all(s.path(leftover));
    }
    s
}

fn with_key(s: &Stack, args: &[&str], stdin: Option<&str>) -> Run {
    use std::io::Write as _;
    let mut command = s.command(args);
    command.env("CAPSTAN_AGE_KEY_FILE", s.path("TEST-ONLY-age-key.txt"));
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin.unwrap_or_default().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command: format!("capstan {}", args.join(" ")),
    }
}

/// Decrypts a SOPS document with npm's `sops-age` (installed by tests/setup.sh).
fn sops_age(file: &Path, key_file: &Path) -> serde_json::Value {
    let key = std::fs::read_to_string(key_file).unwrap();
    let key = key.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap();
    let node_dir = repo_root().join("tests/node");
    let out = Command::new("node")
        .current_dir(&node_dir)
        .arg("sops-decrypt.mjs")
        .arg(file)
        .env("SOPS_AGE_KEY", key)
        .output()
        .expect("node runs (tests/setup.sh installs Node.js and sops-age)");
    assert!(
        out.status.success(),
        "sops-age could not open {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_canary_password_reaches_no_file_or_output_in_clear_and_sops_age_opens_every_secret() {
    let s = example();
    let secrets = "envs/staging/open-finance/postgres/secrets.enc.hcl";
    let shown = with_key(&s, &["secrets", "show", secrets, "--reveal"], None).ok();
    let current = shown.stdout.lines().find_map(|l| l.strip_prefix("values_sensitive_custom = ")).unwrap();
    let current: String = serde_json::from_str(current).unwrap();
    assert!(current.contains("staging-oob-consent-TEST-ONLY"), "{current}");
    let with_canary = current.replace("staging-oob-consent-TEST-ONLY", CANARY);
    with_key(&s, &["secrets", "set", secrets, "values_sensitive_custom"], Some(&with_canary)).ok();

    // The output directory comes from env.hcl's target block, no flag.
    let mut outputs = vec![
        with_key(&s, &["plan", "envs/staging", "--no-color"], None).ok(),
        with_key(&s, &["apply", "envs/staging", "--auto-approve", "--no-color"], None).ok(),
        with_key(&s, &["plan", "envs/staging", "--no-color", "--detailed-exitcode"], None).ok(),
        with_key(&s, &["state", "list", "envs/staging"], None).ok(),
        with_key(&s, &["output", "envs/staging/open-finance/postgres"], None).ok(),
    ];
    outputs.push(with_key(&s, &["plan", "envs/staging", "--json"], None).ok());
    for run in &outputs {
        assert!(!run.stdout.contains(CANARY) && !run.stderr.contains(CANARY), "{run:?}");
    }
    for file in walk(s.root()) {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        assert!(!text.contains(CANARY), "{} holds the canary in clear", file.display());
    }

    let rendered = s.path("rendered/staging");
    let secret_files: Vec<PathBuf> = walk(&rendered)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("secret-"))
        .collect();
    assert!(secret_files.len() >= 4, "the example renders its Secrets: {secret_files:?}");
    let key_file = s.path("TEST-ONLY-age-key.txt");
    let mut canaries = Vec::new();
    for file in &secret_files {
        let manifest = sops_age(file, &key_file);
        assert_eq!(manifest["kind"], "Secret", "{}", file.display());
        if manifest.to_string().contains(CANARY) {
            canaries.push((file.clone(), manifest));
        }
    }
    let [(file, manifest)] = canaries.as_slice() else { panic!("one Secret holds the canary: {canaries:?}") };
    assert!(file.ends_with("open-finance/postgres/secret-postgres-oob-consent.yaml"), "{}", file.display());
    assert_eq!(manifest["stringData"]["password"], CANARY);

    let config = s.read("rendered/.sops.yaml");
    assert!(config.contains("path_regex: ^staging/.*/secret-[^/]*\\.yaml$"), "{config}");
}

#[test]
fn plain_secrets_are_refused_in_a_git_work_tree_that_does_not_ignore_them() {
    let s = example();
    let git = |args: &[&str]| {
        let status = Command::new("git").args(args).current_dir(s.root()).stdout(Stdio::null()).status();
        assert!(status.unwrap().success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    let env_hcl = s.read("envs/staging/env.hcl").replace("secrets = \"sops\"", "secrets = \"plain\"");
    s.write("envs/staging/env.hcl", &env_hcl);

    let refused = with_key(&s, &["apply", "envs/staging", "--auto-approve", "--no-color"], None);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("secrets = \"plain\" (envs/staging/env.hcl:"), "{refused:?}");
    assert!(refused.stderr.contains("does not ignore it"), "{refused:?}");
    assert!(!s.path("rendered").exists(), "nothing written before the refusal");

    s.write(".gitignore", "rendered/\n");
    with_key(&s, &["apply", "envs/staging", "--auto-approve", "--no-color"], None).ok();
    let secret = s.read("rendered/staging/open-finance/postgres/secret-postgres-oob-consent.yaml");
    assert!(secret.contains("password: staging-oob-consent-TEST-ONLY"), "plain, as asked: {secret}");
}

#[test]
fn an_out_dir_flag_overrides_the_target_block_loudly_and_a_bad_block_points_at_the_file() {
    let s = example();
    let elsewhere = s.path("elsewhere");
    let run =
        with_key(&s, &["plan", "envs/staging", "--no-color", "--out-dir", elsewhere.to_str().unwrap()], None)
            .ok();
    assert!(run.stderr.contains("WARNING: environment staging: out_dir is"), "{run:?}");

    let env_hcl = s.read("envs/staging/env.hcl").replace("secrets = \"sops\"", "secrets = \"clear\"");
    s.write("envs/staging/env.hcl", &env_hcl);
    let bad = with_key(&s, &["plan", "envs/staging", "--no-color"], None);
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("envs/staging/env.hcl:"), "{bad:?}");
    assert!(bad.stderr.contains("`secrets` is \"sops\""), "{bad:?}");
}
