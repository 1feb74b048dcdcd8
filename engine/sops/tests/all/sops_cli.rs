//! The real sops CLI (the release binary, the same code Flux's
//! kustomize-controller decrypts with) and the age CLI against what the
//! crate writes, and the crate against what sops writes.

use std::process::Command;

use serde_json::Value;

use crate::support::{self, Key, SETUP_HINT};

/// `sops decrypt` of `document` as `key`, to JSON.
fn sops_decrypt(document: &str, key: &Key) -> Result<Value, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("secret.yaml");
    std::fs::write(&file, document).expect("write document");
    let mut cmd = support::sops(dir.path());
    cmd.args(["decrypt", "--input-type", "yaml", "--output-type", "json"])
        .arg(&file)
        .env("SOPS_AGE_KEY", key.secret());
    let out = support::run(&mut cmd, SETUP_HINT);
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("sops prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn sops_decrypts_and_verifies_every_document_for_every_recipient() {
    let keys = [Key::generate(), Key::generate()];
    for manifest in
        [support::full_secret(), support::typed_secret(), support::shapes_secret(), support::empty_secret()]
    {
        let doc = support::encrypt(&manifest, &keys.iter().collect::<Vec<_>>());
        for key in &keys {
            let opened = sops_decrypt(&doc, key).unwrap_or_else(|e| panic!("sops refused:\n{e}\n{doc}"));
            assert_eq!(opened, manifest, "as {}", key.recipient);
        }
    }
}

#[test]
fn sops_refuses_a_document_whose_clear_part_was_altered() {
    let key = Key::generate();
    let doc = support::encrypt(&support::full_secret(), &[&key]);
    let altered = doc.replace("    namespace: payments\n", "    namespace: kube-system\n");
    let err = sops_decrypt(&altered, &key).expect_err("sops must check the MAC");
    assert!(err.contains("MAC mismatch"), "{err}");
}

#[test]
fn the_layout_is_the_one_sops_writes_for_the_same_manifest() {
    for manifest in [support::full_secret(), support::typed_secret(), support::shapes_secret()] {
        same_layout_as_sops(&manifest);
    }
}

fn same_layout_as_sops(manifest: &Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = [Key::generate(), Key::generate()];
    let ours = support::encrypt(manifest, &keys.iter().collect::<Vec<_>>());

    let input = dir.path().join("secret.json");
    std::fs::write(&input, serde_json::to_vec(manifest).expect("json")).expect("write manifest");
    let recipients = keys.iter().map(|k| k.recipient.to_string()).collect::<Vec<_>>().join(",");
    let mut cmd = support::sops(dir.path());
    // JSON is YAML; read as YAML, integers stay integers (sops's JSON
    // reader would make them floats).
    cmd.args(["encrypt", "--input-type", "yaml", "--output-type", "yaml"])
        .args(["--encrypted-regex", capstan_sops::ENCRYPTED_REGEX, "--age", &recipients])
        .arg(&input);
    let out = support::run(&mut cmd, SETUP_HINT);
    support::expect_success(&cmd, &out);
    let theirs = String::from_utf8(out.stdout).expect("utf-8");
    // Only the timestamp may differ once ciphertexts are set aside.
    let stamp = regex::Regex::new(r#"lastmodified: "[^"]*""#).expect("regex");
    let normal = |doc: &str| stamp.replace(&support::normalise(doc), "lastmodified: …").into_owned();
    assert_eq!(normal(&ours), normal(&theirs), "ours:\n{ours}\nsops:\n{theirs}");
}

#[test]
fn the_crate_decrypts_what_sops_writes_under_the_sops_yaml_it_generates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = [Key::generate(), Key::generate()];
    let recipients: Vec<_> = keys.iter().map(|k| k.recipient.clone()).collect();
    let rule = capstan_sops::CreationRule {
        path_regex: r"(^|/)secret-[^/]*\.yaml$".to_owned(),
        recipients: recipients.iter().map(ToString::to_string).collect(),
    };
    let config = capstan_sops::sops_config(std::slice::from_ref(&rule));
    assert_eq!(capstan_sops::creation_rules(&config), Some(vec![rule]), "{config}");
    std::fs::write(dir.path().join(".sops.yaml"), &config).expect("write .sops.yaml");
    let manifest = support::full_secret();
    // JSON is YAML: sops reads the file as YAML by its name.
    let plain = serde_json::to_vec(&manifest).expect("json");
    std::fs::write(dir.path().join("secret-db.yaml"), &plain).expect("write");
    std::fs::write(dir.path().join("deployment-db.yaml"), &plain).expect("write");

    let mut cmd = support::sops(dir.path());
    cmd.args(["encrypt", "secret-db.yaml"]);
    let out = support::run(&mut cmd, SETUP_HINT);
    support::expect_success(&cmd, &out);
    let written = String::from_utf8(out.stdout).expect("utf-8");
    assert!(written.contains("encrypted_regex: ^(data|stringData)$"), "{config}\n{written}");
    for key in &keys {
        let opened = capstan_sops::decrypt(written.as_bytes(), std::slice::from_ref(&key.identity))
            .unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert_eq!(opened.manifest.expose(), &manifest);
        assert_eq!(opened.recipients.len(), 2);
    }

    let mut cmd = support::sops(dir.path());
    cmd.args(["encrypt", "deployment-db.yaml"]);
    let out = support::run(&mut cmd, SETUP_HINT);
    assert!(!out.status.success(), "{config}: a file outside the path regex has no creation rule");
}

#[test]
fn the_age_cli_opens_each_data_key_stanza() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = [Key::generate(), Key::generate()];
    let doc = support::encrypt(&support::full_secret(), &keys.iter().collect::<Vec<_>>());
    let parsed: serde_norway::Value = serde_norway::from_str(&doc).expect("yaml");
    let stanzas = parsed["sops"]["age"].as_sequence().expect("age stanzas");
    assert_eq!(stanzas.len(), keys.len());
    for (stanza, key) in stanzas.iter().zip(&keys) {
        assert_eq!(stanza["recipient"].as_str(), Some(key.recipient.to_string().as_str()));
        let file = dir.path().join("stanza.age");
        std::fs::write(&file, stanza["enc"].as_str().expect("enc")).expect("write stanza");
        let mut cmd = Command::new("age");
        cmd.arg("-d").arg("-i").arg(key.file(dir.path(), "key.txt")).arg(&file);
        let out = support::run(&mut cmd, SETUP_HINT);
        support::expect_success(&cmd, &out);
        assert_eq!(out.stdout.len(), 32, "the stanza holds SOPS's 32-byte data key");
    }
}

/// A JSON value with every mapping's keys in sorted order, as Go's
/// `encoding/json` writes a map.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[test]
fn sops_decrypts_the_document_the_way_flux_reads_it_after_a_kustomize_build() {
    // Flux's kustomize-controller decrypts a resource after kustomize has
    // built (and possibly labelled) it, handing sops the resource as JSON
    // with sorted keys and not checking the MAC. Every value must still
    // open: its key path, not its position, is what binds it.
    let dir = tempfile::tempdir().expect("tempdir");
    let key = Key::generate();
    let manifest = support::full_secret();
    let doc = support::encrypt(&manifest, &[&key]);
    let yaml: serde_norway::Value = serde_norway::from_str(&doc).expect("yaml");
    let mut built = sorted(serde_json::to_value(yaml).expect("json"));
    built["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = "apps".into();
    let file = dir.path().join("resource.json");
    std::fs::write(&file, serde_json::to_vec(&built).expect("json")).expect("write");

    let mut cmd = support::sops(dir.path());
    cmd.args(["decrypt", "--input-type", "json", "--output-type", "json", "--ignore-mac"])
        .arg(&file)
        .env("SOPS_AGE_KEY", key.secret());
    let out = support::run(&mut cmd, SETUP_HINT);
    support::expect_success(&cmd, &out);
    let mut expected = manifest;
    expected["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] = "apps".into();
    let opened: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(opened, expected);
}
