//! The crate against itself: what it writes it reads back exactly, and what
//! was altered it refuses.

use base64::Engine as _;
use capstan_sops::{SopsError, decrypt, encrypt, unchanged};
use serde_json::json;

use crate::support::{self, CANARY, Key};

#[test]
fn values_are_encrypted_and_everything_else_is_clear() {
    let key = Key::generate();
    let doc = support::encrypt(&support::full_secret(), &[&key]);
    assert!(!doc.contains(CANARY), "the canary is in clear:\n{doc}");
    let canary_b64 = base64::engine::general_purpose::STANDARD.encode(CANARY);
    assert!(!doc.contains(&canary_b64), "the canary's base64 is in the document:\n{doc}");
    assert!(!doc.contains("line one"), "a multi-line value is in clear:\n{doc}");
    for clear in [
        "apiVersion: v1\n",
        "kind: Secret\n",
        "    name: postgres-app\n",
        "    namespace: payments\n",
        "        \"n\": \"1\"\n",
        "        tier: \"true\"\n",
        "        capstan.dev/component: 'db: primary # main'\n",
        "        capstan.dev/note: ' it''s [here]'\n",
        "immutable: true\n",
        "    empty: \"\"\n",
        "    encrypted_regex: ^(data|stringData)$\n",
        "    lastmodified: \"2026-12-06T13:41:51Z\"\n",
        "    version: 3.11.0\n",
    ] {
        assert!(doc.contains(clear), "missing {clear:?} in:\n{doc}");
    }
    assert!(doc.contains("    password: ENC[AES256_GCM,data:"), "{doc}");
    assert!(doc.contains("    .dockerconfigjson: ENC[AES256_GCM,data:"), "{doc}");
    assert!(doc.contains("    mac: ENC[AES256_GCM,data:"), "{doc}");
    assert!(doc.contains(&format!("        - recipient: {}\n          enc: |\n", key.recipient)), "{doc}");
}

#[test]
fn decrypt_gives_back_the_exact_manifest_with_every_recipient() {
    let keys = [Key::generate(), Key::generate(), Key::generate()];
    let manifest = support::full_secret();
    let doc = support::encrypt(&manifest, &keys.iter().collect::<Vec<_>>());
    let others = [support::typed_secret(), support::shapes_secret()];
    let other_docs: Vec<_> =
        others.iter().map(|m| support::encrypt(m, &keys.iter().collect::<Vec<_>>())).collect();
    for key in &keys {
        let ids = std::slice::from_ref(&key.identity);
        for (other, other_doc) in others.iter().zip(&other_docs) {
            assert_eq!(decrypt(other_doc.as_bytes(), ids).expect("decrypt").manifest.expose(), other);
        }
        let opened = decrypt(doc.as_bytes(), ids).expect("decrypt");
        assert_eq!(opened.manifest.expose(), &manifest);
        assert_eq!(opened.recipients, keys.iter().map(|k| k.recipient.to_string()).collect::<Vec<_>>());
        assert_eq!(opened.last_modified, "2026-12-06T13:41:51Z");
        assert_eq!(opened.encrypted_regex.as_deref(), Some(capstan_sops::ENCRYPTED_REGEX));
    }
}

#[test]
fn a_secret_with_no_data_is_still_a_valid_document() {
    let key = Key::generate();
    let manifest = support::empty_secret();
    let doc = support::encrypt(&manifest, &[&key]);
    assert!(!doc.contains("\ndata:") && !doc.contains("\nstringData:"), "{doc}");
    assert!(doc.contains("    mac: ENC[AES256_GCM,data:"), "the MAC still covers the clear values:\n{doc}");
    let opened = decrypt(doc.as_bytes(), &[key.identity]).expect("decrypt");
    assert_eq!(opened.manifest.expose(), &manifest);
}

#[test]
fn a_tampered_value_is_refused() {
    let key = Key::generate();
    let doc = support::encrypt(&support::full_secret(), &[&key]);
    // Flip one character of the password's ciphertext.
    let at = doc.find("    password: ENC[AES256_GCM,data:").expect("password") + 34;
    let mut bytes = doc.clone().into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let err = decrypt(&bytes, std::slice::from_ref(&key.identity)).unwrap_err();
    assert!(matches!(err, SopsError::ValueTampered { ref path } if path == "data.password"), "{err}");
}

#[test]
fn a_value_moved_to_another_key_is_refused() {
    let key = Key::generate();
    let doc = support::encrypt(&json!({"stringData": {"a": "first", "b": "second"}}), &[&key]);
    let lines: Vec<&str> = doc.lines().collect();
    let a = lines.iter().position(|l| l.starts_with("    a: ")).expect("a");
    let b = lines.iter().position(|l| l.starts_with("    b: ")).expect("b");
    let mut swapped: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    swapped[a] = format!("    a: {}", &lines[b][7..]);
    swapped[b] = format!("    b: {}", &lines[a][7..]);
    let err = decrypt(swapped.join("\n").as_bytes(), &[key.identity]).unwrap_err();
    assert!(matches!(err, SopsError::ValueTampered { .. }), "{err}");
}

#[test]
fn altered_clear_metadata_or_timestamp_or_a_removed_value_fails_the_mac() {
    let key = Key::generate();
    let doc = support::encrypt(&support::full_secret(), &[&key]);
    let renamed = doc.replace("    name: postgres-app\n", "    name: postgres-evil\n");
    let retimed = doc.replace("2026-12-06T13:41:51Z", "2026-12-06T13:41:52Z");
    let dropped: String =
        doc.lines().filter(|l| !l.starts_with("    password: ")).map(|l| format!("{l}\n")).collect();
    for altered in [renamed, retimed, dropped] {
        assert_ne!(altered, doc);
        let err = decrypt(altered.as_bytes(), std::slice::from_ref(&key.identity)).unwrap_err();
        assert!(matches!(err, SopsError::MacMismatch), "{err}");
    }
}

#[test]
fn a_wrong_identity_gets_a_clear_error_without_secrets() {
    let key = Key::generate();
    let stranger = Key::generate();
    let doc = support::encrypt(&support::full_secret(), &[&key]);
    let err = decrypt(doc.as_bytes(), &[stranger.identity]).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, SopsError::WrongIdentity { .. }), "{message}");
    assert!(message.contains(&key.recipient.to_string()), "the message names the recipients: {message}");
    assert!(!message.contains(CANARY) && !format!("{err:?}").contains(CANARY));
}

#[test]
fn debug_output_never_shows_decrypted_values() {
    let key = Key::generate();
    let doc = support::encrypt(&support::full_secret(), &[&key]);
    let opened = decrypt(doc.as_bytes(), &[key.identity]).expect("decrypt");
    let shown = format!("{opened:?}");
    assert!(!shown.contains(CANARY) && !shown.contains("line one"), "{shown}");
    assert!(shown.contains(capstan_core::REDACTED), "{shown}");
}

#[test]
fn the_clear_parts_are_the_same_on_every_encryption() {
    let key = Key::generate();
    let manifest = support::full_secret();
    let first = support::encrypt(&manifest, &[&key]);
    let second = support::encrypt(&manifest, &[&key]);
    assert_ne!(first, second, "each encryption uses a fresh data key and IVs");
    assert_eq!(support::normalise(&first), support::normalise(&second));
}

#[test]
fn unchanged_tells_a_rerender_when_the_file_already_holds_the_manifest() {
    let key = Key::generate();
    let other = Key::generate();
    let manifest = support::full_secret();
    let doc = support::encrypt(&manifest, &[&key]);
    let recipients = [key.recipient.clone()];
    let ids = std::slice::from_ref(&key.identity);
    assert!(unchanged(doc.as_bytes(), &manifest, &recipients, ids).expect("compare"));

    let mut changed = manifest.clone();
    changed["stringData"]["canary"] = json!("rotated");
    assert!(!unchanged(doc.as_bytes(), &changed, &recipients, ids).expect("compare"));

    let rotated = [key.recipient.clone(), other.recipient.clone()];
    assert!(
        !unchanged(doc.as_bytes(), &manifest, &rotated, ids).expect("compare"),
        "a new recipient rewrites"
    );

    let plain = b"apiVersion: v1\nkind: Secret\nstringData:\n  a: b\n";
    assert!(!unchanged(plain, &manifest, &recipients, ids).expect("compare"), "a clear file is replaced");

    let tampered = doc.replace("    name: postgres-app\n", "    name: postgres-evil\n");
    let err = unchanged(tampered.as_bytes(), &manifest, &recipients, ids).unwrap_err();
    assert!(matches!(err, SopsError::MacMismatch), "{err}");

    let err = unchanged(doc.as_bytes(), &manifest, &recipients, &[other.identity]).unwrap_err();
    assert!(matches!(err, SopsError::WrongIdentity { .. }), "{err}");
}

#[test]
fn manifests_that_cannot_be_documents_are_refused() {
    let key = Key::generate();
    let to = [key.recipient.clone()];
    let err = encrypt(&json!(["not", "a", "mapping"]), &to, support::when()).unwrap_err();
    assert!(matches!(err, SopsError::InvalidManifest { .. }), "{err}");
    let err = encrypt(&json!({"sops": {}}), &to, support::when()).unwrap_err();
    assert!(matches!(err, SopsError::InvalidManifest { .. }), "{err}");
    let err = encrypt(&support::full_secret(), &[], support::when()).unwrap_err();
    assert!(matches!(err, SopsError::NoRecipients), "{err}");
}
