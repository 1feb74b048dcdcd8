use capstan_registry::{Bundle, PublicKey, RegistryError, SecretKey, sign, verified_signer};

use crate::support::{bundle, entries, rebuild, signed};

#[test]
fn keygen_writes_a_private_key_file_and_a_public_key_that_verifies_its_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let (key_path, pub_path) = key.write_pair(&dir.path().join("acme")).unwrap();
    assert_eq!(key_path, dir.path().join("acme.key"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A second keygen never overwrites a key.
    assert!(key.write_pair(&dir.path().join("acme")).is_err());
    let read = SecretKey::read(&key_path).unwrap();
    let public = PublicKey::read(&pub_path).unwrap();
    assert_eq!(read.public(), public);
    assert!(!format!("{read:?}").contains(&std::fs::read_to_string(&key_path).unwrap()[30..60]));

    let b = Bundle::open("b", &signed("acme/app", "1.0.0", &read).to_bytes().unwrap()).unwrap();
    assert_eq!(verified_signer(&b).unwrap(), Some(public));
}

#[test]
fn signing_keeps_the_bundle_digest_and_an_unsigned_bundle_has_no_signer() {
    let key = SecretKey::generate().unwrap();
    let plain = bundle("acme/app", "1.0.0");
    let mut s = plain.clone();
    sign(&mut s, &key);
    assert_eq!(plain.digest(), s.digest());
    assert_eq!(verified_signer(&plain).unwrap(), None);
}

#[test]
fn a_signature_over_another_manifest_is_refused() {
    let key = SecretKey::generate().unwrap();
    let a = entries(&signed("acme/app", "1.0.0", &key).to_bytes().unwrap());
    let b = entries(&signed("acme/app", "1.0.1", &key).to_bytes().unwrap());
    // 1.0.1's manifest and component with 1.0.0's signature.
    let mixed: Vec<(String, Vec<u8>)> = b
        .iter()
        .map(|(n, d)| {
            if n == "signature.json" {
                a.iter().find(|(m, _)| m == n).unwrap().clone()
            } else {
                (n.clone(), d.clone())
            }
        })
        .collect();
    let opened = Bundle::open("mixed.bundle", &rebuild(&mixed)).unwrap();
    let err = verified_signer(&opened).unwrap_err();
    assert!(matches!(err, RegistryError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains(&key.public().id()), "{err}");
}

#[test]
fn a_signature_with_a_substituted_public_key_is_refused() {
    let real = SecretKey::generate().unwrap();
    let other = SecretKey::generate().unwrap();
    let mut parts = entries(&signed("acme/app", "1.0.0", &real).to_bytes().unwrap());
    let sig = parts.iter_mut().find(|(n, _)| n == "signature.json").unwrap();
    let mut doc: serde_json::Value = serde_json::from_slice(&sig.1).unwrap();
    doc["public_key"] = other.public().to_string().into();
    sig.1 = serde_json::to_vec(&doc).unwrap();
    let opened = Bundle::open("swapped.bundle", &rebuild(&parts)).unwrap();
    assert!(matches!(verified_signer(&opened).unwrap_err(), RegistryError::BadSignature { .. }));
}

#[test]
fn key_files_of_the_wrong_kind_are_refused_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let (key_path, pub_path) = SecretKey::generate().unwrap().write_pair(&dir.path().join("k")).unwrap();
    let err = SecretKey::read(&pub_path).unwrap_err();
    assert!(err.to_string().contains("k.pub"), "{err}");
    assert!(PublicKey::read(&key_path).is_err());
    assert!(PublicKey::parse("capstan-ed25519-v1:abcd").is_err());
}
