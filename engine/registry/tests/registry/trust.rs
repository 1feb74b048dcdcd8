use capstan_registry::{RegistryError, SecretKey, Signer, TrustPolicy, glob_match};

use crate::support::{bundle, policy, signed, trust};

#[test]
fn a_trusted_key_signs_only_the_names_its_block_allows() {
    let key = SecretKey::generate().unwrap();
    let policy = policy(&[trust("acme", &key, &["acme/messaging-*"])]);
    let ok = signed("acme/messaging-sqs", "1.0.0", &key);
    assert_eq!(
        policy.check(&ok, "acme/messaging-sqs", false).unwrap(),
        Signer::Trusted { publisher: "acme".into(), key_id: key.public().id() }
    );
    let other = signed("acme/postgres", "1.0.0", &key);
    let err = policy.check(&other, "acme/postgres", false).unwrap_err();
    assert!(matches!(err, RegistryError::UntrustedSigner { .. }), "{err}");
    assert!(err.to_string().contains("acme/messaging-*"), "{err}");
}

#[test]
fn the_default_glob_is_the_publishers_names() {
    let key = SecretKey::generate().unwrap();
    let policy = policy(&[trust("acme", &key, &[])]);
    assert!(policy.check(&signed("acme/app", "1.0.0", &key), "acme/app", false).is_ok());
}

#[test]
fn an_unknown_key_and_an_unsigned_bundle_are_refused_with_the_reason() {
    let known = SecretKey::generate().unwrap();
    let stranger = SecretKey::generate().unwrap();
    let policy = policy(&[trust("acme", &known, &[])]);
    let err = policy.check(&signed("acme/app", "1.0.0", &stranger), "acme/app", false).unwrap_err();
    assert!(matches!(err, RegistryError::UnknownSigner { .. }), "{err}");
    assert!(err.to_string().contains(&stranger.public().id()), "{err}");

    let err = policy.check(&bundle("acme/app", "1.0.0"), "acme/app", false).unwrap_err();
    assert!(matches!(err, RegistryError::Unsigned { .. }), "{err}");
    assert!(err.to_string().contains("--allow-unsigned"), "{err}");
    // --allow-unsigned admits unsigned code, never a bad signer.
    assert_eq!(policy.check(&bundle("acme/app", "1.0.0"), "acme/app", true).unwrap(), Signer::Unsigned);
    assert!(policy.check(&signed("acme/app", "1.0.0", &stranger), "acme/app", true).is_err());
}

#[test]
fn trust_blocks_without_keys_or_with_bad_keys_are_refused() {
    let root = std::path::Path::new("/nonexistent");
    let block = |settings: serde_json::Value| capstan_config::Trust {
        name: Some("acme".into()),
        settings: settings.as_object().unwrap().clone(),
    };
    let err =
        TrustPolicy::from_config(&[block(serde_json::json!({"plugins": ["acme/*"]}))], root).unwrap_err();
    assert!(err.to_string().contains("trust \"acme\": lists no key"), "{err}");
    let err =
        TrustPolicy::from_config(&[block(serde_json::json!({"key": "ed25519:0a1b2c3d"}))], root).unwrap_err();
    assert!(err.to_string().contains("capstan-ed25519-v1:"), "{err}");
    let err = TrustPolicy::from_config(&[block(serde_json::json!({"kye": "x"}))], root).unwrap_err();
    assert!(err.to_string().contains("unknown setting `kye`"), "{err}");
}

#[test]
fn key_files_are_read_relative_to_the_stack_root() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    key.write_pair(&dir.path().join("keys/acme")).unwrap();
    let block = capstan_config::Trust {
        name: Some("acme".into()),
        settings: serde_json::json!({"key_files": ["keys/acme.pub"]}).as_object().unwrap().clone(),
    };
    let policy = TrustPolicy::from_config(&[block], dir.path()).unwrap();
    assert!(policy.check(&signed("acme/app", "1.0.0", &key), "acme/app", false).is_ok());
}

#[test]
fn globs() {
    assert!(glob_match("acme/*", "acme/app"));
    assert!(glob_match("*", "x/y"));
    assert!(glob_match("acme/messaging-?qs", "acme/messaging-sqs"));
    assert!(!glob_match("acme/*", "acmex/app"));
    assert!(!glob_match("acme/app", "acme/app2"));
    assert!(glob_match("a*b*c", "a--b--c"));
    assert!(!glob_match("a*b*c", "a--b--"));
}
