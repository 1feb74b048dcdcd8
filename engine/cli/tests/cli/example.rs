//! The open-finance example (`examples/open-finance`), as a newcomer runs it:
//! both environments validate and apply to the render target (production's
//! SQL effects on the local PostgreSQL standing in for the managed server),
//! every rendered object is valid Kubernetes 1.30 / valid against the
//! upstream CRDs, the renders match the golden files, and the two
//! environments differ only in env.hcl and secrets — so their renders differ
//! only where a backend does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{PG_ADMIN, Stack, example, psql_as, repo_root, walk, with_test_key};

/// The example's test identity (TEST-ONLY-age-key.txt).
fn test_identity() -> age::x25519::Identity {
    let text =
        std::fs::read_to_string(repo_root().join("examples/open-finance/TEST-ONLY-age-key.txt")).unwrap();
    text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap().parse().unwrap()
}

#[test]
fn both_environments_validate_and_reapplying_staging_changes_nothing() {
    let s = example();
    with_test_key(&s, &["validate", "envs/staging"]).ok();
    with_test_key(&s, &["validate", "envs/production"]).ok();
    with_test_key(&s, &["plan", "envs/production", "--no-color"]).ok();

    let out = s.path("out");
    let apply = with_test_key(
        &s,
        &["apply", "envs/staging", "--auto-approve", "--no-color", "--out-dir", out.to_str().unwrap()],
    )
    .ok();
    assert!(apply.stdout.contains("Apply complete"), "{apply:?}");
    for app in ["oob-consent", "oob-payments", "oob-directory-sync"] {
        assert!(
            out.join(format!("staging/open-finance/{app}/deployment-{app}.yaml")).exists(),
            "{app} rendered: {apply:?}"
        );
    }
    let again =
        with_test_key(&s, &["apply", "envs/staging", "--auto-approve", "--out-dir", out.to_str().unwrap()])
            .ok();
    assert!(again.stdout.contains("No changes."), "{again:?}");
}

#[test]
fn production_creates_each_apps_database_and_role_on_the_managed_server() {
    let r = rendered();
    for app in ["oob_consent", "oob_payments", "oob_directory_sync", "dapr"] {
        assert_eq!(
            r.databases.get(app).map(String::as_str),
            Some(format!("{app}_user").as_str()),
            "database {app} owned by {app}_user after the production apply: {:?}",
            r.databases
        );
    }
}

#[test]
fn every_rendered_object_is_valid_kubernetes_in_both_environments() {
    let r = rendered();
    for env in ["staging", "production"] {
        assert_valid_kubernetes(&r.out.join(env));
    }
}

/// Every object file under `dir` (one environment's render; the
/// kustomization.yaml indexes are not Kubernetes objects) is valid
/// Kubernetes 1.30, or valid against its upstream CRD.
pub fn assert_valid_kubernetes(dir: &Path) {
    // The SOPS-encrypted Secrets are validated as Flux applies them: decrypted.
    let opened = tempfile::tempdir().unwrap();
    let objects: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("kustomization.yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            if !text.contains("\nsops:\n") {
                return p;
            }
            let manifest = capstan_sops::decrypt(text.as_bytes(), &[test_identity()]).unwrap().manifest;
            let flat = p.strip_prefix(dir).unwrap().to_string_lossy().replace('/', "_");
            let clear = opened.path().join(flat);
            std::fs::write(&clear, serde_json::to_vec(manifest.expose()).unwrap()).unwrap();
            clear
        })
        .collect();
    assert!(objects.len() > 20, "{} renders the whole platform: {objects:?}", dir.display());
    let check = Command::new("python3")
        .arg(repo_root().join("tests/validate_manifests.py"))
        .args(&objects)
        .env("CAPSTAN_CRDS_DIR", repo_root().join("tests/crds"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}: rendered objects are invalid:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

/// The rendered trees are compared file by file with `tests/cli/golden/open-finance/`,
/// so any change to what a plugin renders for the example shows up in review.
/// Secret values are masked in the golden files (they are the example's test
/// values, but a repository should not teach committing rendered secrets).
/// After an intended change: `CAPSTAN_BLESS=1 cargo test -p capstan-cli --test cli example`.
#[test]
fn rendered_trees_match_the_golden_files() {
    let r = rendered();
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/golden/open-finance");
    if std::env::var_os("CAPSTAN_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&golden_dir);
        for (rel, text) in &r.files {
            let p = golden_dir.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }
    let golden = read_tree(&golden_dir);
    let missing: Vec<&String> = r.files.keys().filter(|k| !golden.contains_key(*k)).collect();
    let extra: Vec<&String> = golden.keys().filter(|k| !r.files.contains_key(*k)).collect();
    let changed: Vec<&String> =
        r.files.iter().filter(|(k, v)| golden.get(*k).is_some_and(|g| g != *v)).map(|(k, _)| k).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && changed.is_empty(),
        "the rendered example differs from {}:\n  rendered but not in golden: {missing:?}\n  \
         in golden but not rendered: {extra:?}\n  different: {changed:?}\n\
         first difference:\n{}\nIf the change is intended, re-run with CAPSTAN_BLESS=1 and review the diff.",
        golden_dir.display(),
        changed.first().map(|k| first_difference(&golden[*k], &r.files[*k])).unwrap_or_default()
    );
}

/// Staging and production share every component file, so their renders
/// differ only where a backend or an env.hcl value differs: the postgres,
/// messaging and cert-manager backends change which objects exist (the log
/// output changes only the collector's configuration and credentials); the apps
/// keep the same objects and the same configuration keys, with values that
/// follow the backends (database host, broker protocol and endpoint).
#[test]
fn environments_render_the_same_objects_except_where_backends_differ() {
    let r = rendered();
    let per_env = |env: &str| -> BTreeMap<String, String> {
        r.files
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(&format!("{env}/")).map(|rel| (rel.to_string(), neutral(v, env)))
            })
            .collect()
    };
    let (staging, production) = (per_env("staging"), per_env("production"));
    let component_of = |rel: &String| rel.rsplit_once('/').map_or(String::new(), |(dir, _)| dir.to_string());

    // Objects only one environment has: exactly the backend-dependent components.
    let only: BTreeSet<String> = staging
        .keys()
        .filter(|k| !production.contains_key(*k))
        .chain(production.keys().filter(|k| !staging.contains_key(*k)))
        .map(component_of)
        .collect();
    let backends: BTreeSet<String> =
        ["open-finance/messaging", "open-finance/postgres", "platform/cert-manager"].map(String::from).into();
    assert_eq!(only, backends, "components whose objects differ in kind or name");

    // Every app renders the same objects in both environments, with the
    // same environment variable names in the same order.
    for app in ["oob-consent", "oob-payments", "oob-directory-sync"] {
        let files = |tree: &BTreeMap<String, String>| -> Vec<String> {
            tree.keys().filter(|k| k.starts_with(&format!("open-finance/{app}/"))).cloned().collect()
        };
        assert_eq!(files(&staging), files(&production), "{app} renders the same objects");
        let deployment = format!("open-finance/{app}/deployment-{app}.yaml");
        assert_eq!(
            env_names(&staging[&deployment]),
            env_names(&production[&deployment]),
            "{app} gets the same configuration keys in both environments"
        );
        // What only one protocol has: the AMQP exchange; Kafka's SASL and TLS CA.
        let all = |tree: &BTreeMap<String, String>| env_vars(&tree[&deployment]).into_iter().map(|(n, _)| n);
        assert!(all(&staging).any(|n| n == "MESSAGING_EXCHANGE"), "{app}: RabbitMQ in staging");
        assert!(all(&production).any(|n| n == "MESSAGING_CA_CERT"), "{app}: Kafka over TLS in production");
        let differing = differing_env(&staging[&deployment], &production[&deployment]);
        for name in &differing {
            assert!(
                BACKEND_OR_ENV_VALUES.contains(&name.as_str()),
                "{app}: {name} differs between staging and production, and it is neither \
                 backend-dependent nor set in env.hcl: {differing:?}"
            );
        }
        assert!(differing.contains(&"DATABASE_HOST".to_string()), "{app}: {differing:?}");
    }
    // The WAF keeps its objects; mTLS is switched on by production's env.hcl.
    let waf: Vec<&String> = staging.keys().filter(|k| k.starts_with("platform/waf/")).collect();
    assert_eq!(waf, production.keys().filter(|k| k.starts_with("platform/waf/")).collect::<Vec<_>>());
}

/// Environment variables of the apps whose values may differ between the two
/// environments: those from a backend's outputs and those env.hcl sets.
const BACKEND_OR_ENV_VALUES: &[&str] = &[
    "DATABASE_HOST",
    "DATABASE_SSLMODE",
    "DATABASE_URL",
    "MESSAGING_PROTOCOL",
    "MESSAGING_ENDPOINT",
    "DIRECTORY_URL",
    "ENVIRONMENT",
];

/// Held while a test owns the example's databases on the local PostgreSQL:
/// production's apply and the zero-trust environment's make the same ones.
pub static LOCAL_DATABASES: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Both environments rendered once per test run, from one copy of the example.
struct Rendered {
    out: PathBuf,
    /// Every rendered file (relative to the output, Secret values masked).
    files: BTreeMap<String, String>,
    /// Databases on the local PostgreSQL after the production apply, with their owners.
    databases: BTreeMap<String, String>,
}

fn rendered() -> &'static Rendered {
    static RENDERED: std::sync::OnceLock<Rendered> = std::sync::OnceLock::new();
    RENDERED.get_or_init(|| {
        let s = example();
        // A fixed state key (TEST ONLY): pod templates carry a digest of the
        // Secrets they read keyed by it, which must be the same at every run
        // for the golden files to compare.
        std::fs::create_dir_all(s.path(".capstan")).unwrap();
        std::fs::write(s.path(".capstan/state.key"), "07".repeat(32)).unwrap();
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("open-finance-rendered");
        let _ = std::fs::remove_dir_all(&out);
        let apply = |env: &str| {
            let path = format!("envs/{env}");
            with_test_key(
                &s,
                &["apply", &path, "--auto-approve", "--no-color", "--out-dir", out.to_str().unwrap()],
            )
        };
        let staging = apply("staging").ok();
        assert!(staging.stdout.contains("Apply complete"), "{staging:?}");
        // Production's postgres is `external`: its SQL effects run on the
        // local server standing in for the managed one. Read what they made,
        // then drop it, whatever the outcome.
        let databases = {
            let _owned = LOCAL_DATABASES.lock().unwrap_or_else(|e| e.into_inner());
            let production = apply("production");
            let databases = app_databases();
            drop_databases(&APP_DATABASES);
            let production = production.ok();
            assert!(production.stdout.contains("Apply complete"), "{production:?}");
            databases
        };

        let files = read_tree(&out)
            .into_iter()
            .filter(|(k, _)| k != ".capstan-render.json")
            .map(|(k, v)| (k, mask_secret_values(&v)))
            .collect();
        Rendered { out, files, databases }
    })
}

/// The example's databases on the local PostgreSQL, each owned by `<database>_user`.
pub const APP_DATABASES: [&str; 4] = ["oob_consent", "oob_payments", "oob_directory_sync", "dapr"];

fn app_databases() -> BTreeMap<String, String> {
    let list = APP_DATABASES.map(|d| format!("'{d}'")).join(",");
    psql_as(
        PG_ADMIN,
        &format!(
            "SELECT d.datname || '|' || r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba \
             WHERE d.datname IN ({list})"
        ),
    )
    .unwrap_or_default()
    .lines()
    .filter_map(|l| l.split_once('|').map(|(d, o)| (d.to_string(), o.to_string())))
    .collect()
}

/// Drops `databases` on the local PostgreSQL, their owners `<database>_user`,
/// and the roles made members of an owner (Vault's dynamic credentials),
/// whatever a test left behind.
pub fn drop_databases(databases: &[&str]) {
    for database in databases {
        let owner = format!("{database}_user");
        let members = psql_as(
            PG_ADMIN,
            &format!(
                "SELECT string_agg(quote_ident(m.rolname), ',') FROM pg_auth_members a \
                 JOIN pg_roles m ON m.oid = a.member JOIN pg_roles r ON r.oid = a.roleid \
                 WHERE r.rolname = '{owner}'"
            ),
        );
        if let Ok(members) = members.as_deref()
            && !members.is_empty()
        {
            let _ = psql_as(PG_ADMIN, &format!("DROP ROLE IF EXISTS {members}"));
        }
        let _ = psql_as(PG_ADMIN, &format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"));
        let _ = psql_as(PG_ADMIN, &format!("DROP ROLE IF EXISTS \"{owner}\""));
    }
}

/// Every file under `dir`, by `/`-separated relative path.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    if !dir.exists() {
        return BTreeMap::new();
    }
    walk(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// A rendered Secret with the values of its `data` and `stringData` replaced,
/// keeping the keys; other files unchanged. A value SOPS encrypted shows as
/// `(encrypted)`, one in clear as `(masked)`, and the `sops` block (fresh
/// data key and IVs on every encryption) as one line.
fn mask_secret_values(yaml: &str) -> String {
    if !yaml.lines().any(|l| l == "kind: Secret") {
        return yaml.to_string();
    }
    let mut out = String::new();
    let mut in_values = false;
    // The indentation of the keys under `data:` / `stringData:` (2 as
    // Capstan writes YAML, 4 as SOPS does).
    let mut key_indent = None;
    for line in yaml.lines() {
        if line == "sops:" {
            out.push_str("sops: (data key stanzas, MAC and timestamp masked)\n");
            break;
        }
        if !line.starts_with(' ') {
            in_values = line == "data:" || line == "stringData:";
            key_indent = None;
            out.push_str(line);
        } else if in_values {
            let indent = line.len() - line.trim_start().len();
            // A block scalar's continuation lines go with its masked value.
            if *key_indent.get_or_insert(indent) < indent {
                continue;
            }
            let (key, value) = line.split_once(':').unwrap_or((line, ""));
            let shown =
                if value.trim_start().starts_with("ENC[AES256_GCM,") { "(encrypted)" } else { "(masked)" };
            out.push_str(&format!("{key}: {shown}"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The file with the environment's name taken out of the header, labels and
/// annotations capstan adds, so two environments' renders can be compared.
fn neutral(text: &str, env: &str) -> String {
    text.replace(&format!("envs/{env}/"), "envs/<env>/")
        .replace(&format!("capstan.dev/environment: {env}"), "capstan.dev/environment: <env>")
}

/// The container env var names of a rendered Deployment, in order.
/// Variables only some backends give (the AMQP exchange, Kafka's SASL
/// mechanism, a broker's or a database server's CA, given by a backend
/// that names one): left out when environments are compared.
const PROTOCOL_ONLY: &[&str] =
    &["MESSAGING_EXCHANGE", "MESSAGING_SASL_MECHANISM", "MESSAGING_CA_CERT", "DATABASE_SSLROOTCERT"];

fn env_names(deployment: &str) -> Vec<String> {
    comparable_env(deployment).into_iter().map(|(n, _)| n).collect()
}

fn comparable_env(deployment: &str) -> Vec<(String, String)> {
    env_vars(deployment).into_iter().filter(|(n, _)| !PROTOCOL_ONLY.contains(&n.as_str())).collect()
}

fn differing_env(a: &str, b: &str) -> Vec<String> {
    let (a, b) = (comparable_env(a), comparable_env(b));
    a.iter().zip(&b).filter(|(x, y)| x != y).map(|(x, _)| x.0.clone()).collect()
}

/// `(name, the lines that follow it up to the next name)` for every
/// `- name: X` entry under an `env:` list of the Deployment.
fn env_vars(deployment: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut env_indent: Option<usize> = None;
    for line in deployment.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        match env_indent {
            // `env:` as a key, or as the first key of a container (`- env:`).
            None if trimmed == "env:" => env_indent = Some(indent),
            None if trimmed == "- env:" => env_indent = Some(indent + 2),
            Some(i) if indent <= i && !trimmed.starts_with("- ") => env_indent = None,
            Some(i) if indent < i => env_indent = None,
            Some(_) => {
                if let Some(name) = trimmed.strip_prefix("- name: ") {
                    out.push((name.to_string(), String::new()));
                } else if let Some(last) = out.last_mut() {
                    last.1.push_str(trimmed);
                    last.1.push('\n');
                }
            }
            None => {}
        }
    }
    out
}

fn first_difference(golden: &str, rendered: &str) -> String {
    let (g, r): (Vec<&str>, Vec<&str>) = (golden.lines().collect(), rendered.lines().collect());
    let at = g.iter().zip(&r).position(|(a, b)| a != b).unwrap_or(g.len().min(r.len()));
    format!(
        "  line {}:\n  golden:   {}\n  rendered: {}",
        at + 1,
        g.get(at).unwrap_or(&"(end of file)"),
        r.get(at).unwrap_or(&"(end of file)")
    )
}

#[test]
fn environments_differ_only_in_env_hcl_and_secrets() {
    let root = repo_root().join("examples/open-finance/envs");
    let files = |env: &str| -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.join(env)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.strip_prefix(root.join(env)).unwrap().to_path_buf());
                }
            }
        }
        out.retain(|p| p != Path::new("env.hcl") && !p.ends_with("secrets.enc.hcl"));
        out.sort();
        out
    };
    let (staging, production) = (files("staging"), files("production"));
    assert_eq!(staging, production, "the same components in both environments");
    for rel in &staging {
        let a = std::fs::read(root.join("staging").join(rel)).unwrap();
        let b = std::fs::read(root.join("production").join(rel)).unwrap();
        assert!(a == b, "{} differs between staging and production", rel.display());
    }

    // The zero-trust environment is staging plus the `security` namespace,
    // and each app includes the zero-trust template: nothing else differs.
    let zero_trust = files("zero-trust");
    let (security, shared): (Vec<PathBuf>, Vec<PathBuf>) =
        zero_trust.into_iter().partition(|p| p.starts_with("security"));
    assert_eq!(shared, staging, "zero-trust has staging's components, and security/");
    assert!(security.iter().any(|p| p.ends_with("vault/component.hcl")), "{security:?}");
    let include = "\ninclude \"zero_trust\" {\n  path           = find_in_parent_folders(\"_templates/zero-trust.hcl\")\n  merge_strategy = \"deep\"\n}\n";
    for rel in &shared {
        let a = std::fs::read_to_string(root.join("staging").join(rel)).unwrap();
        let b = std::fs::read_to_string(root.join("zero-trust").join(rel)).unwrap();
        let b = if a.contains("_templates/app.hcl") {
            assert!(b.contains(include), "zero-trust's {} includes the zero-trust template", rel.display());
            b.replacen(include, "", 1)
        } else {
            b
        };
        assert!(
            a == b,
            "{} differs between staging and zero-trust beyond the zero-trust include",
            rel.display()
        );
    }
}

/// The staging `messaging = { … }` block of env.hcl, replaced by `block`.
fn with_messaging(s: &Stack, block: &str) {
    let path = s.path("envs/staging/env.hcl");
    let env = std::fs::read_to_string(&path).unwrap();
    let start = env.find("messaging = {").expect("env.hcl has a messaging block");
    let end = start + env[start..].find("\n}\n").expect("the block ends") + 3;
    std::fs::write(&path, format!("{}{block}\n{}", &env[..start], &env[end..])).unwrap();
}

/// Every object `capstan render --stdout` gives for staging (nothing is
/// changed and no effect runs), whose `kind` is `kind`.
fn rendered_staging(s: &Stack, kind: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize as _;
    let run = with_test_key(s, &["render", "envs/staging", "--stdout", "--secrets", "plain"]);
    assert_eq!(run.code, 0, "{run:?}");
    serde_norway::Deserializer::from_str(&run.stdout)
        .filter_map(|doc| serde_json::Value::deserialize(doc).ok())
        .filter(|o| o["kind"] == kind)
        .collect()
}

#[test]
fn a_messaging_backend_swap_is_a_change_to_env_hcl_only() {
    // Each backend with its own settings; the queues, the users and their
    // passwords (messaging/secrets.enc.hcl) stay as they are.
    let swaps = [
        (
            "nats",
            r#"messaging = {
  backend  = "nats"
  settings = { mode = "in-cluster", url = "nats://nats.messaging.svc:4222" }
}"#,
            "pubsub.jetstream",
        ),
        (
            "kafka",
            r#"messaging = {
  backend  = "kafka"
  settings = { brokers = 1, storage = { size = "8Gi" }, topic_defaults = { partitions = 3, replicas = 1 } }
}"#,
            "pubsub.kafka",
        ),
        (
            "sqs",
            r#"messaging = {
  backend  = "sqs"
  grants   = ["http:aws:sqs"]
  settings = { region = "sa-east-1", account_id = "123456789012" }
}"#,
            "pubsub.aws.snssqs",
        ),
        ("rabbitmq", "", "pubsub.rabbitmq"),
    ];
    for (backend, block, pubsub) in swaps {
        let s = example();
        if !block.is_empty() {
            with_messaging(&s, block);
        }
        let dapr = rendered_staging(&s, "Component");
        let types: BTreeSet<&str> = dapr.iter().filter_map(|c| c["spec"]["type"].as_str()).collect();
        assert!(types.contains(pubsub), "{backend}: Dapr renders {pubsub}, got {types:?}");
        // Each app still gets its queues and its pub/sub Component.
        let deployments = rendered_staging(&s, "Deployment");
        for app in ["oob-consent", "oob-payments"] {
            let d = deployments
                .iter()
                .find(|d| d["metadata"]["name"] == app)
                .unwrap_or_else(|| panic!("{backend}: {app} rendered"));
            let vars = d["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
            assert!(
                vars.contains("MESSAGING_QUEUE_CONSENT_EVENTS"),
                "{backend}: {app} gets its queues: {vars}"
            );
            assert!(vars.contains("DAPR_PUBSUB_NAME"), "{backend}: {app} gets its pub/sub: {vars}");
        }
        // What the swap costs is said in the plan, under the component.
        if backend == "nats" {
            let plan = with_test_key(&s, &["plan", "envs/staging", "--no-color"]);
            assert_eq!(plan.code, 0, "{plan:?}");
            assert!(
                plan.stdout.contains(
                    "warning: envs/staging/open-finance/dapr (capstan/dapr): /pubsub: Dapr's pubsub.jetstream \
                     takes no user name or password, so it connects to dependency `messaging` without the \
                     credentials in Secret"
                ),
                "{}",
                plan.stdout
            );
        }
    }
}

/// `render --stdout` (Argo CD's plugin) plans without state. The digest of
/// the Secrets a pod template reads is then keyed by the operator's
/// identity, so two renders agree: a sync rolls nothing. (That a changed
/// value changes the digest is shown in `capstan-plan`'s tests.)
#[test]
fn stream_renders_carry_the_same_secrets_digest_each_time() {
    let s = example();
    let digests = || -> BTreeMap<String, String> {
        rendered_staging(&s, "Deployment")
            .iter()
            .filter_map(|d| {
                let annotations = &d["spec"]["template"]["metadata"]["annotations"];
                let digest = annotations["capstan.dev/secrets-digest"].as_str()?;
                Some((d["metadata"]["name"].as_str()?.to_owned(), digest.to_owned()))
            })
            .collect()
    };
    let first = digests();
    assert!(first.contains_key("oob-consent"), "the apps read their database password's Secret: {first:?}");
    assert_eq!(digests(), first, "a second render gives the same digests");
}
