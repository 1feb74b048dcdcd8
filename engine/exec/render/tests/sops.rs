//! SOPS delivery of rendered Secrets, on real directories: nothing in
//! clear, no churn on re-render, `.sops.yaml` per environment, a rotated
//! recipient re-encrypts, an environment with no delivery is refused.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::fs;
use std::path::Path;

use age::x25519::Identity;
use capstan_core::ComponentId;
use capstan_render::{Delivery, RenderError, RenderTarget, RenderedComponent, SecretsPolicy, SopsKeys};
use serde_json::{Value, json};

const PASSWORD: &str = "canary-7d1f0c-not-a-real-password";

fn id(env: &str) -> ComponentId {
    ComponentId { name: "api".into(), environment: env.into(), namespace: "core".into() }
}

fn secret(password: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": "api-db", "namespace": "core"},
           "stringData": {"password": password, "user": "api"}})
}

fn api(env: &str, password: &str) -> RenderedComponent {
    RenderedComponent {
        id: id(env),
        objects: vec![
            secret(password),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api", "namespace": "core"},
                   "data": {"mode": "strict"}}),
        ],
    }
}

fn sops(env: &str, key: &Identity) -> SecretsPolicy {
    SecretsPolicy::none().with(
        env,
        Delivery::Sops(SopsKeys { recipients: vec![key.to_public()], identities: vec![key.clone()] }),
    )
}

fn read(out: &Path, rel: &str) -> String {
    fs::read_to_string(out.join(rel)).unwrap()
}

const SECRET_FILE: &str = "staging/core/api/secret-api-db.yaml";

#[test]
fn a_secret_is_written_as_a_sops_document_that_opens_to_the_exact_manifest() {
    let out = tempfile::tempdir().unwrap();
    let key = Identity::generate();
    capstan_render::render(out.path(), &[api("staging", PASSWORD)], &sops("staging", &key)).unwrap();

    for (rel, text) in walk(out.path()) {
        assert!(!text.contains(PASSWORD), "{rel} holds the password in clear:\n{text}");
    }
    let text = read(out.path(), SECRET_FILE);
    assert!(text.starts_with("# Rendered by capstan from envs/staging/core/api;"), "{text}");
    // Keys and metadata stay readable in review; values do not.
    assert!(text.contains("    name: api-db\n") && text.contains("    password: ENC[AES256_GCM,"), "{text}");
    let opened = capstan_sops::decrypt(text.as_bytes(), std::slice::from_ref(&key)).unwrap();
    assert_eq!(opened.manifest.expose(), &secret(PASSWORD));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(out.path().join(SECRET_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "an encrypted Secret is meant for Git");
    }

    let config = read(out.path(), ".sops.yaml");
    let rules = capstan_sops::creation_rules(&config).unwrap();
    assert_eq!(rules.len(), 1, "{config}");
    assert_eq!(rules[0].recipients, [key.to_public().to_string()]);
    let matches = regex_matches(&rules[0].path_regex);
    assert!(matches(SECRET_FILE) && !matches("staging/core/api/configmap-api.yaml"), "{config}");
    assert!(!matches("production/core/api/secret-api-db.yaml"), "{config}");
}

#[test]
fn re_rendering_keeps_an_unchanged_secret_byte_for_byte_and_a_changed_one_changes_alone() {
    let out = tempfile::tempdir().unwrap();
    let key = Identity::generate();
    let policy = sops("staging", &key);
    capstan_render::render(out.path(), &[api("staging", PASSWORD)], &policy).unwrap();
    let first = read(out.path(), SECRET_FILE);

    let again = capstan_render::render(out.path(), &[api("staging", PASSWORD)], &policy).unwrap();
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(read(out.path(), SECRET_FILE), first);

    let changed = capstan_render::render(out.path(), &[api("staging", "rotated")], &policy).unwrap();
    let written: Vec<String> = changed.written.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    assert_eq!(written, [SECRET_FILE]);
    let opened = capstan_sops::decrypt(read(out.path(), SECRET_FILE).as_bytes(), &[key]).unwrap();
    assert_eq!(opened.manifest.expose(), &secret("rotated"));
}

#[test]
fn a_new_recipient_re_encrypts_the_secret_to_every_recipient() {
    let out = tempfile::tempdir().unwrap();
    let (old, new) = (Identity::generate(), Identity::generate());
    capstan_render::render(out.path(), &[api("staging", PASSWORD)], &sops("staging", &old)).unwrap();
    let both = SecretsPolicy::none().with(
        "staging",
        Delivery::Sops(SopsKeys {
            recipients: vec![old.to_public(), new.to_public()],
            identities: vec![old.clone()],
        }),
    );
    let report = capstan_render::render(out.path(), &[api("staging", PASSWORD)], &both).unwrap();
    assert!(report.written.iter().any(|p| p.ends_with("secret-api-db.yaml")), "{report:?}");
    let text = read(out.path(), SECRET_FILE);
    for key in [old, new] {
        let opened = capstan_sops::decrypt(text.as_bytes(), &[key]).unwrap();
        assert_eq!(opened.manifest.expose(), &secret(PASSWORD));
    }
}

#[test]
fn an_identity_that_cannot_open_the_rendered_secret_is_an_error_naming_the_file() {
    let out = tempfile::tempdir().unwrap();
    let (writer, stranger) = (Identity::generate(), Identity::generate());
    capstan_render::render(out.path(), &[api("staging", PASSWORD)], &sops("staging", &writer)).unwrap();
    // Same recipients, but this operator holds another key: the file cannot
    // be compared, and is neither trusted nor silently replaced.
    let policy = SecretsPolicy::none().with(
        "staging",
        Delivery::Sops(SopsKeys { recipients: vec![writer.to_public()], identities: vec![stranger] }),
    );
    let err = capstan_render::render(out.path(), &[api("staging", PASSWORD)], &policy).unwrap_err();
    assert!(matches!(err, RenderError::Sops { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("secret-api-db.yaml") && message.contains("CAPSTAN_AGE_KEY_FILE"), "{message}");
    assert!(!message.contains(PASSWORD));
}

#[test]
fn an_environment_without_a_delivery_renders_no_secret_and_names_the_component() {
    let out = tempfile::tempdir().unwrap();
    let err =
        capstan_render::render(out.path(), &[api("staging", PASSWORD)], &SecretsPolicy::none()).unwrap_err();
    assert!(matches!(err, RenderError::NoSecretsDelivery { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("staging/core/api") && message.contains("secrets = \"plain\""), "{message}");
    assert!(walk(out.path()).iter().all(|(_, text)| !text.contains(PASSWORD)));
}

#[test]
fn the_target_reads_a_sops_secret_back_decrypted_so_an_unchanged_plan_is_unchanged() {
    let out = tempfile::tempdir().unwrap();
    let key = Identity::generate();
    let target = RenderTarget::new(out.path(), sops("staging", &key));
    target.apply_component(&api("staging", PASSWORD)).unwrap();
    let current = target.current(&id("staging"), "Secret", "api-db").unwrap();
    assert_eq!(current, Some(secret(PASSWORD)));
}

#[test]
fn sops_yaml_keeps_the_rules_of_other_environments_and_never_overwrites_a_foreign_one() {
    let out = tempfile::tempdir().unwrap();
    let (staging, production) = (Identity::generate(), Identity::generate());
    capstan_render::render(out.path(), &[api("staging", PASSWORD)], &sops("staging", &staging)).unwrap();
    // Another run renders production into the same directory.
    let target = RenderTarget::new(out.path(), sops("production", &production));
    target.apply_component(&api("production", PASSWORD)).unwrap();
    let rules = capstan_sops::creation_rules(&read(out.path(), ".sops.yaml")).unwrap();
    let recipients: Vec<&str> = rules.iter().map(|r| r.recipients[0].as_str()).collect();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert!(recipients.contains(&staging.to_public().to_string().as_str()));
    assert!(recipients.contains(&production.to_public().to_string().as_str()));

    let foreign = tempfile::tempdir().unwrap();
    fs::write(foreign.path().join(".sops.yaml"), "creation_rules:\n  - kms: arn:aws:kms:eu-west-1:1:key/x\n")
        .unwrap();
    let err = capstan_render::render(foreign.path(), &[api("staging", PASSWORD)], &sops("staging", &staging))
        .unwrap_err();
    assert!(matches!(err, RenderError::WouldOverwrite { .. }), "{err:?}");
    assert!(read(foreign.path(), ".sops.yaml").contains("kms"));
}

/// Every file under `dir`, relative path → text.
fn walk(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, fs::read_to_string(&path).unwrap()));
            }
        }
    }
    out
}

fn regex_matches(pattern: &str) -> impl Fn(&str) -> bool {
    let re = regex::Regex::new(pattern).unwrap();
    move |path| re.is_match(path)
}
