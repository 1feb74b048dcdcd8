//! The npm package sops-age, an implementation nobody here wrote, decrypts
//! every document the crate writes back to the exact manifest.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::{self, Key, SETUP_HINT};

/// Decrypts `document` with sops-age as `key`, returning the manifest.
fn sops_age_decrypt(dir: &Path, document: &str, key: &Key) -> Value {
    let file = dir.join("secret.yaml");
    std::fs::write(&file, document).expect("write document");
    let node_dir = support::repo_tests_dir().join("node");
    assert!(
        node_dir.join("node_modules/sops-age").is_dir(),
        "sops-age is not installed in {}; {SETUP_HINT}",
        node_dir.display()
    );
    let mut cmd = Command::new("node");
    cmd.current_dir(&node_dir).arg("sops-decrypt.mjs").arg(&file).env("SOPS_AGE_KEY", key.secret());
    let out = support::run(&mut cmd, SETUP_HINT);
    support::expect_success(&cmd, &out);
    serde_json::from_slice(&out.stdout).expect("sops-age prints JSON")
}

#[test]
fn sops_age_decrypts_every_kind_of_value_for_every_recipient() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = [Key::generate(), Key::generate(), Key::generate()];
    let manifest = support::full_secret();
    let doc = support::encrypt(&manifest, &keys.iter().collect::<Vec<_>>());
    for key in &keys {
        assert_eq!(sops_age_decrypt(dir.path(), &doc, key), manifest, "as {}", key.recipient);
    }
}

#[test]
fn sops_age_decrypts_binary_data_to_the_same_bytes() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let key = Key::generate();
    let doc = support::encrypt(&support::full_secret(), &[&key]);
    let opened = sops_age_decrypt(dir.path(), &doc, &key);
    let b64 = opened["data"]["tls.key"].as_str().expect("tls.key");
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).expect("base64");
    assert_eq!(bytes, support::binary());
}

#[test]
fn sops_age_reads_documents_with_nothing_only_strings_or_typed_values_to_decrypt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = Key::generate();
    let string_data_only = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "only-strings"},
        "stringData": {"url": "postgres://app:pässwörd@db:5432/app?sslmode=require", "blank": ""}
    });
    for manifest in
        [support::empty_secret(), string_data_only, support::typed_secret(), support::shapes_secret()]
    {
        let doc = support::encrypt(&manifest, &[&key]);
        assert_eq!(sops_age_decrypt(dir.path(), &doc, &key), manifest);
    }
}
