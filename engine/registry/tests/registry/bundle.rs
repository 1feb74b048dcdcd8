use capstan_registry::{Bundle, MAX_BUNDLE_BYTES, RegistryError};

use crate::support::{bundle, component, entries, raw_archive, rebuild};

#[test]
fn a_packed_bundle_opens_with_its_manifest_and_components() {
    let b = Bundle::pack(
        "acme",
        Some("acme/postgres"),
        capstan_core::CONTRACT_VERSION,
        vec![component("acme/postgres-external", "1.2.0"), component("acme/postgres-statefulset", "1.2.0")],
    )
    .unwrap();
    let bytes = b.to_bytes().unwrap();
    let opened = Bundle::open("test.bundle", &bytes).unwrap();
    assert_eq!(opened.manifest, b.manifest);
    assert_eq!(opened.manifest.name, "acme/postgres");
    assert_eq!(opened.manifest.version.to_string(), "1.2.0");
    assert_eq!(opened.manifest.contract, capstan_core::CONTRACT_VERSION);
    assert_eq!(opened.manifest.backends(), ["kubernetes", "kubernetes"]);
    assert_eq!(
        opened.wasm("acme/postgres-external").unwrap(),
        component("acme/postgres-external", "1.2.0").wasm
    );
    assert_eq!(opened.digest(), b.digest());
    assert!(opened.signature.is_none());
    // Same inputs, same bytes: bundles are reproducible.
    assert_eq!(bytes, b.to_bytes().unwrap());
}

#[test]
fn packing_refuses_components_of_different_versions_and_names_outside_the_publisher() {
    let err = Bundle::pack(
        "acme",
        Some("acme/x"),
        capstan_core::CONTRACT_VERSION,
        vec![component("acme/a", "1.0.0"), component("acme/b", "2.0.0")],
    )
    .unwrap_err();
    assert!(err.to_string().contains("disagree on the version"), "{err}");
    let err = Bundle::pack("acme", None, capstan_core::CONTRACT_VERSION, vec![component("other/a", "1.0.0")])
        .unwrap_err();
    assert!(err.to_string().contains("is not acme/<name>"), "{err}");
}

#[test]
fn a_truncated_archive_is_refused() {
    let bytes = bundle("acme/app", "1.0.0").to_bytes().unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 10, 12] {
        let err = Bundle::open("cut.bundle", &bytes[..cut]).unwrap_err();
        assert!(matches!(err, RegistryError::Corrupt { .. }), "cut at {cut}: {err}");
        assert!(err.to_string().contains("cut.bundle"), "{err}");
    }
}

#[test]
fn a_component_that_does_not_match_its_manifest_digest_is_refused() {
    let mut parts = entries(&bundle("acme/app", "1.0.0").to_bytes().unwrap());
    let wasm = parts.iter_mut().find(|(n, _)| n.starts_with("components/")).unwrap();
    wasm.1[0] ^= 0xff;
    let err = Bundle::open("tampered.bundle", &rebuild(&parts)).unwrap_err();
    match &err {
        RegistryError::DigestMismatch { component, .. } => assert_eq!(component, "acme/app"),
        other => panic!("expected a digest mismatch, got {other}"),
    }
    assert!(err.to_string().contains("tampered"), "{err}");
}

#[test]
fn path_traversal_and_unexpected_entries_are_refused() {
    let manifest = entries(&bundle("acme/app", "1.0.0").to_bytes().unwrap()).remove(0).1;
    for (entry, reason) in [
        ("../evil.wasm", "outside"),
        ("components/../../evil.wasm", "outside"),
        ("/etc/passwd", "outside"),
        ("components/sub/evil.wasm", "not manifest.json"),
        ("run.sh", "not manifest.json"),
    ] {
        let archive = raw_archive(&[("manifest.json", &manifest), (entry, b"x")]);
        let err = Bundle::open("evil.bundle", &archive).unwrap_err();
        assert!(matches!(err, RegistryError::UnsafeEntry { .. }), "{entry}: {err}");
        assert!(err.to_string().contains(reason), "{entry}: {err}");
    }
    // A well-named file the manifest does not list is refused too.
    let mut parts = entries(&bundle("acme/app", "1.0.0").to_bytes().unwrap());
    parts.push(("components/extra.wasm".into(), b"x".to_vec()));
    let err = Bundle::open("extra.bundle", &rebuild(&parts)).unwrap_err();
    assert!(err.to_string().contains("not listed in the manifest"), "{err}");
}

#[test]
fn bundles_over_the_size_limits_are_refused() {
    let huge = vec![0u8; usize::try_from(MAX_BUNDLE_BYTES).unwrap() + 1];
    let err = Bundle::open("huge.bundle", &huge).unwrap_err();
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");
    // A small archive whose entry claims to unpack beyond the limit.
    let mut header = tar::Header::new_gnu();
    header.set_path("components/app.wasm").unwrap();
    header.set_size(capstan_registry::MAX_UNPACKED_BYTES + 1);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut raw = header.as_bytes().to_vec();
    raw.extend_from_slice(&[0u8; 4096]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let err = Bundle::open("bomb.bundle", &gz.finish().unwrap()).unwrap_err();
    assert!(matches!(err, RegistryError::TooLarge { .. }), "{err}");
}

#[test]
fn a_bundle_without_a_valid_manifest_is_refused() {
    let err = Bundle::open("empty.bundle", &raw_archive(&[])).unwrap_err();
    assert!(err.to_string().contains("no manifest.json"), "{err}");
    let err = Bundle::open("bad.bundle", &raw_archive(&[("manifest.json", b"{\"format\": 1}")])).unwrap_err();
    assert!(matches!(err, RegistryError::BadManifest { .. }), "{err}");
    let mut parts = entries(&bundle("acme/app", "1.0.0").to_bytes().unwrap());
    parts.retain(|(n, _)| n == "manifest.json");
    let err = Bundle::open("missing.bundle", &rebuild(&parts)).unwrap_err();
    assert!(err.to_string().contains("missing from the archive"), "{err}");
}

/// A conformance result recorded at pack time is in the manifest the
/// signature covers, and reads back; a bundle packed without one writes no
/// such field, so its manifest bytes (and digest) are what they always were.
#[test]
fn a_recorded_conformance_result_is_part_of_the_signed_manifest() {
    let plain = bundle("acme/app", "1.0.0");
    assert!(!String::from_utf8_lossy(plain.manifest_bytes()).contains("conformance"));

    let mut tested = component("acme/app", "1.0.0");
    tested.conformance = Some(capstan_registry::Conformance {
        kit: "app".into(),
        kit_version: Some(1),
        engine: "0.1.0".into(),
        passed: false,
        failed: vec!["contract".into(), "sensitive".into()],
    });
    let b = Bundle::pack("acme", None, capstan_core::CONTRACT_VERSION, vec![tested]).unwrap();
    assert_ne!(b.digest(), plain.digest(), "the result is part of what the digest and signature cover");
    let opened = Bundle::open("t.bundle", &b.to_bytes().unwrap()).unwrap();
    let recorded = opened.manifest.components[0].conformance.clone().unwrap();
    assert_eq!(recorded.to_string(), "the `app` kit v1 failed: contract, sensitive (capstan 0.1.0)");
    assert_eq!(opened.manifest, b.manifest);
}
