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

/// The generate command of `deploy/argocd/plugin.yaml`, with `capstan`
/// pointing at the binary under test.
fn argo_generate_command() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("deploy/argocd/plugin.yaml")).unwrap();
    let plugin: serde_json::Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(plugin["kind"], "ConfigManagementPlugin");
    assert_eq!(plugin["spec"]["discover"]["fileName"], "./env.hcl");
    let mut command: Vec<String> = plugin["spec"]["generate"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(command[0], "capstan");
    command[0] = env!("CARGO_BIN_EXE_capstan").to_owned();
    command
}

/// Runs the plugin's generate command the way Argo CD's repo-server does:
/// in the Application's source path, with only the build environment Argo
/// CD sets (and the sidecar's own variables), no terminal, stdin closed.
fn argo_generate(repo: &Path, app_path: &str) -> std::process::Output {
    let command = argo_generate_command();
    let home = repo.join(".sidecar-home");
    std::fs::create_dir_all(&home).unwrap();
    Command::new(&command[0])
        .args(&command[1..])
        .current_dir(repo.join(app_path))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("CAPSTAN_AGE_KEY_FILE", repo.join("TEST-ONLY-age-key.txt"))
        .env("CAPSTAN_CACHE_DIR", Path::new(env!("CARGO_TARGET_TMPDIR")).join("capstan-plugin-cache"))
        .env("ARGOCD_APP_NAME", "open-finance-staging")
        .env("ARGOCD_APP_NAMESPACE", "argocd")
        .env("ARGOCD_APP_REVISION", "0123456789abcdef0123456789abcdef01234567")
        .env("ARGOCD_APP_SOURCE_PATH", app_path)
        .env("ARGOCD_APP_SOURCE_REPO_URL", "https://git.example/platform/open-finance.git")
        .env("ARGOCD_APP_SOURCE_TARGET_REVISION", "main")
        .env("ARGOCD_ENV_TEAM", "platform")
        .env("KUBE_VERSION", "1.30.0")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn validate_manifests(paths: &[PathBuf]) -> std::process::Output {
    Command::new("python3")
        .arg(repo_root().join("tests/validate_manifests.py"))
        .args(paths)
        .env("CAPSTAN_CRDS_DIR", repo_root().join("tests/crds"))
        .output()
        .unwrap()
}

#[test]
fn argo_cd_runs_the_plugin_as_its_repo_server_does_and_gets_a_valid_stream() {
    let s = example();
    let out = argo_generate(s.root(), "envs/staging");
    assert!(out.status.success(), "generate failed: {}", String::from_utf8_lossy(&out.stderr));
    let stream = String::from_utf8(out.stdout).unwrap();

    // Every object once, in a stable order, each after the file it would have in a tree.
    let sources: Vec<&str> = stream.lines().filter_map(|l| l.strip_prefix("# Source: ")).collect();
    assert!(sources.len() > 20, "{stream}");
    assert!(
        sources.contains(&"staging/open-finance/postgres/secret-postgres-oob-consent.yaml"),
        "{sources:?}"
    );
    assert!(sources.contains(&"staging/open-finance/oob-consent/deployment-oob-consent.yaml"), "{sources:?}");
    let again = argo_generate(s.root(), "envs/staging");
    assert_eq!(String::from_utf8(again.stdout).unwrap(), stream, "the same revision renders the same stream");

    // Straight to the cluster: Secrets in clear, as plugin.yaml asks.
    assert!(stream.contains("password: staging-oob-consent-TEST-ONLY"), "{stream}");
    // Nothing written where the repository was checked out.
    for written in [".capstan", "rendered", "envs/staging/.capstan", "envs/staging/rendered"] {
        assert!(!s.path(written).exists(), "{written} was written by generate");
    }

    let file = s.path("stream.yaml");
    std::fs::write(&file, &stream).unwrap();
    let check = validate_manifests(&[file]);
    assert!(
        check.status.success(),
        "the stream holds invalid objects:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn the_flux_example_is_valid_and_points_at_a_tree_whose_secrets_sops_opens() {
    let flux = repo_root().join("deploy/flux");
    let manifests = vec![flux.join("gitrepository.yaml"), flux.join("staging.yaml")];
    let check = validate_manifests(&manifests);
    assert!(
        check.status.success(),
        "deploy/flux is invalid against Flux's CRDs:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let kustomization: serde_json::Value =
        serde_norway::from_str(&std::fs::read_to_string(flux.join("staging.yaml")).unwrap()).unwrap();
    assert_eq!(kustomization["spec"]["decryption"]["provider"], "sops");
    let path = kustomization["spec"]["path"].as_str().unwrap().trim_start_matches("./").to_owned();

    // The tree the README's first command writes, where Flux looks for it.
    let s = example();
    with_key(&s, &["apply", "envs/staging", "--auto-approve", "--no-color"], None).ok();
    let tree = s.path(&path);
    assert!(tree.join("kustomization.yaml").is_file(), "{path} is a kustomize tree");
    // kustomize-controller decrypts with SOPS: the sops CLI stands in for it.
    let secrets: Vec<PathBuf> = walk(&tree)
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("secret-"))
        .collect();
    assert!(!secrets.is_empty());
    for file in secrets {
        let out = Command::new("sops")
            .args(["decrypt", "--input-type", "yaml", "--output-type", "json"])
            .arg(&file)
            .env("SOPS_AGE_KEY_FILE", s.path("TEST-ONLY-age-key.txt"))
            .current_dir(s.path("rendered"))
            .output()
            .expect("the sops CLI runs (tests/setup.sh installs it)");
        assert!(out.status.success(), "{}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
        let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(manifest["kind"], "Secret");
    }
}
