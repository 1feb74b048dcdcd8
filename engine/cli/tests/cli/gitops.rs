//! A rendered tree meant for Git: the example's Secrets are SOPS documents
//! that an implementation nobody here wrote (npm `sops-age`) opens, a
//! canary password set with `capstan secrets set` reaches no file and no
//! output in clear, `plain` is refused in a work tree that does not ignore
//! it, and the `target "render"` block's errors point at the file.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{Run, Stack, example, repo_root, walk};

const CANARY: &str = "canary-5f3e9b-oob-consent";

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

/// `bao server -dev` (OpenBao, installed by tests/setup.sh) on a free
/// loopback port, KV v2 at `secret/`; killed on drop.
struct Bao {
    child: std::process::Child,
    addr: String,
    _home: tempfile::TempDir,
}

const BAO_TOKEN: &str = "capstan-test-root";

impl Bao {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let home = tempfile::tempdir().unwrap();
        let child = Command::new("bao")
            .args(["server", "-dev", "-dev-no-store-token"])
            .arg(format!("-dev-root-token-id={BAO_TOKEN}"))
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("HOME", home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bao runs (tests/setup.sh installs OpenBao)");
        let bao = Bao { child, addr: format!("http://127.0.0.1:{port}"), _home: home };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !bao.ready() {
            assert!(std::time::Instant::now() < deadline, "bao did not start on {}", bao.addr);
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        bao
    }

    fn ready(&self) -> bool {
        Command::new("bao")
            .args(["status"])
            .env("BAO_ADDR", &self.addr)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `bao kv <args>` against this server.
    fn kv(&self, args: &[&str]) -> std::process::Output {
        Command::new("bao")
            .arg("kv")
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", BAO_TOKEN)
            .env("HOME", self._home.path())
            .output()
            .unwrap()
    }

    /// The data of the secret at `key` under `secret/`, as `bao kv get` reads it.
    fn get(&self, key: &str) -> serde_json::Value {
        let out = self.kv(&["get", "-format=json", "-mount=secret", key]);
        assert!(out.status.success(), "bao kv get {key}: {}", String::from_utf8_lossy(&out.stderr));
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        body["data"]["data"].clone()
    }

    fn version(&self, key: &str) -> u64 {
        let out = self.kv(&["metadata", "get", "-format=json", "-mount=secret", key]);
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        body["data"]["current_version"].as_u64().unwrap()
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A secret store the external-secrets tests read behind Capstan's back.
trait Store {
    /// The values under `key`.
    fn get(&self, key: &str) -> serde_json::Value;
    /// Changes one value under `key`, as someone else would.
    fn tamper(&self, key: &str, field: &str, value: &str);
    /// How many versions `key` has had.
    fn versions(&self, key: &str) -> u64;
}

impl Store for Bao {
    fn get(&self, key: &str) -> serde_json::Value {
        Bao::get(self, key)
    }

    fn tamper(&self, key: &str, field: &str, value: &str) {
        let out = self.kv(&["patch", "-mount=secret", key, &format!("{field}={value}")]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    fn versions(&self, key: &str) -> u64 {
        self.version(key)
    }
}

impl Store for capstan_http::testing::Moto {
    fn get(&self, key: &str) -> serde_json::Value {
        let reply =
            self.ok("secretsmanager", "secretsmanager.GetSecretValue", &serde_json::json!({"SecretId": key}));
        serde_json::from_str(reply["SecretString"].as_str().unwrap()).unwrap()
    }

    fn tamper(&self, key: &str, field: &str, value: &str) {
        let mut values = Store::get(self, key);
        values[field] = serde_json::json!(value);
        let body = serde_json::json!({"SecretId": key, "SecretString": values.to_string()});
        self.ok("secretsmanager", "secretsmanager.PutSecretValue", &body);
    }

    fn versions(&self, key: &str) -> u64 {
        let body = serde_json::json!({"SecretId": key, "IncludeDeprecated": true});
        let reply = self.ok("secretsmanager", "secretsmanager.ListSecretVersionIds", &body);
        reply["Versions"].as_array().unwrap().len() as u64
    }
}

/// The example's staging environment delivered through `store` (the
/// `external_secrets` block `settings`, the variables `env`): the tree holds
/// references only, the store holds the values, an unchanged apply writes
/// no new version, and a value changed in the store shows in the plan and
/// is put back.
fn external_secrets_round_trip(store: &dyn Store, settings: &str, env: &[(&str, &str)]) {
    let s = example();
    let secrets = "envs/staging/open-finance/postgres/secrets.enc.hcl";
    let shown = with_key(&s, &["secrets", "show", secrets, "--reveal"], None).ok();
    let current = shown.stdout.lines().find_map(|l| l.strip_prefix("values_sensitive_custom = ")).unwrap();
    let current: String = serde_json::from_str(current).unwrap();
    with_key(
        &s,
        &["secrets", "set", secrets, "values_sensitive_custom"],
        Some(&current.replace("staging-oob-consent-TEST-ONLY", CANARY)),
    )
    .ok();
    let env_hcl = s.read("envs/staging/env.hcl").replace(
        "  secrets = \"sops\"\n",
        &format!("  secrets = \"external-secrets\"\n  external_secrets = {{\n{settings}  }}\n"),
    );
    s.write("envs/staging/env.hcl", &env_hcl);

    let capstan = |args: &[&str]| {
        let mut command = s.command(args);
        command.env("CAPSTAN_AGE_KEY_FILE", s.path("TEST-ONLY-age-key.txt")).envs(env.iter().copied());
        let out = command.output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            command: format!("capstan {}", args.join(" ")),
        }
    };
    let apply = capstan(&["apply", "envs/staging", "--auto-approve", "--no-color"]).ok();
    assert!(!apply.stdout.contains(CANARY) && !apply.stderr.contains(CANARY), "{apply:?}");

    // The tree holds references only: no Secret, no value.
    for file in walk(&s.path("rendered")) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.starts_with("secret-"), "{} is a Secret", file.display());
        assert!(!std::fs::read_to_string(&file).unwrap().contains(CANARY), "{}", file.display());
    }
    let external = s.read("rendered/staging/open-finance/postgres/externalsecret-postgres-oob-consent.yaml");
    assert!(
        external.contains("kind: ExternalSecret") && external.contains("name: platform-store"),
        "{external}"
    );
    assert!(external.contains("key: platform/staging/open-finance/postgres-oob-consent"), "{external}");
    let externals: Vec<PathBuf> = walk(&s.path("rendered/staging"))
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("externalsecret-"))
        .collect();
    assert!(externals.len() >= 4, "{externals:?}");
    let check = validate_manifests(&externals);
    assert!(
        check.status.success(),
        "rendered ExternalSecrets are invalid:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    // The values are in the store, where the operator reads them.
    let key = "platform/staging/open-finance/postgres-oob-consent";
    assert_eq!(store.get(key)["password"], CANARY);
    assert_eq!(store.get(key)["username"], "oob_consent_user");

    // Nothing changed: the plan says so, and no new version is written.
    let versions = store.versions(key);
    let plan = capstan(&["plan", "envs/staging", "--no-color", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{plan:?}");
    capstan(&["apply", "envs/staging", "--auto-approve", "--no-color"]).ok();
    assert_eq!(store.versions(key), versions, "an unchanged Secret writes no new version");

    // A value changed in the store behind Capstan's back shows in the plan and is put back.
    store.tamper(key, "password", "tampered");
    let plan = capstan(&["plan", "envs/staging", "--no-color", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(!plan.stdout.contains("tampered") && !plan.stdout.contains(CANARY), "{plan:?}");
    capstan(&["apply", "envs/staging", "--auto-approve", "--no-color"]).ok();
    assert_eq!(store.get(key)["password"], CANARY);
}

#[test]
fn external_secrets_delivery_to_openbao_keeps_values_out_of_the_tree() {
    let bao = Bao::start();
    let settings = "    store   = \"platform-store\"\n    backend = \"vault\"\n    prefix  = \"platform\"\n";
    external_secrets_round_trip(&bao, settings, &[("VAULT_ADDR", &bao.addr), ("VAULT_TOKEN", BAO_TOKEN)]);
}

#[test]
fn external_secrets_delivery_to_aws_secrets_manager_keeps_values_out_of_the_tree() {
    let moto = capstan_http::testing::Moto::start();
    let settings = "    store   = \"platform-store\"\n    backend = \"aws-secrets-manager\"\n    prefix  = \"platform\"\n";
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIDCAPSTANE2E"),
        ("AWS_SECRET_ACCESS_KEY", "moto-secret-never-shown"),
        ("AWS_REGION", "sa-east-1"),
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
    ];
    external_secrets_round_trip(&moto, settings, &env);
}

#[test]
fn the_example_environments_refuse_each_others_cluster_before_any_request() {
    let s = example();
    // Both clusters as an operator's kubeconfig names them; neither is
    // reachable from here, and neither needs to be: the check comes first.
    s.write(
        ".kube/config",
        "apiVersion: v1\nkind: Config\ncurrent-context: opus-staging\nclusters:\n\
         - name: staging\n  cluster:\n    server: https://staging.k8s.opus.example:6443\n\
         - name: production\n  cluster:\n    server: https://production.k8s.opus.example:6443\n\
         users:\n- name: ops\n  user:\n    token: test-token-not-a-secret\n\
         contexts:\n- name: opus-staging\n  context:\n    cluster: staging\n    user: ops\n\
         - name: opus-production\n  context:\n    cluster: production\n    user: ops\n",
    );
    let kubeconfig = s.path(".kube/config");
    for (env, other) in [("production", "staging"), ("staging", "production")] {
        let run = s.run_env(
            &[
                "apply",
                &format!("envs/{env}"),
                "--auto-approve",
                "--target",
                "kube",
                "--context",
                &format!("opus-{other}"),
                "--no-color",
            ],
            &[("KUBECONFIG", &kubeconfig), ("CAPSTAN_AGE_KEY_FILE", &s.path("TEST-ONLY-age-key.txt"))],
        );
        assert_eq!(run.code, 1, "{run:?}");
        assert!(
            run.stderr.contains(&format!(
                "environment {env} is bound to the cluster at https://{env}.k8s.opus.example:6443 (envs/{env}/env.hcl:"
            )),
            "{run:?}"
        );
        assert!(
            run.stderr.contains(&format!(
                "context \"opus-{other}\" is the cluster at https://{other}.k8s.opus.example:6443"
            )),
            "{run:?}"
        );
        assert!(!run.stderr.contains("connecting to the cluster"), "no request was made: {run:?}");
        assert!(!s.path(".capstan/state.json").exists(), "nothing recorded");
    }
}
