//! Bundles pushed to and resolved from a real registry (Debian's
//! docker-registry on loopback, started per test by `LocalRegistry`).

use capstan_core::Sensitive;
use capstan_registry::oci::{
    CONFIG_MEDIA_TYPE, Credentials, LAYER_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, OciReference, push,
};
use capstan_registry::testing::LocalRegistry;
use capstan_registry::{
    Bundle, BundleCache, DirSource, LockFile, LockMode, OciSource, RegistryError, Resolver, SecretKey, Source,
};

use crate::support::{component, policy, signed, trust, write};

fn req(s: &str) -> semver::VersionReq {
    s.parse().unwrap()
}

fn bytes(b: &Bundle) -> Vec<u8> {
    b.to_bytes().unwrap()
}

struct World {
    tmp: tempfile::TempDir,
    key: SecretKey,
    registry: LocalRegistry,
}

impl World {
    fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().unwrap(),
            key: SecretKey::generate().unwrap(),
            registry: LocalRegistry::start(),
        }
    }

    fn push(&self, plugin: &str, version: &str) -> Bundle {
        let b = signed(plugin, version, &self.key);
        push("test bundle", &bytes(&b), &self.registry.host, None).unwrap();
        b
    }

    fn oci(&self) -> Box<dyn Source> {
        Box::new(OciSource::new("registry", &self.registry.host, None).unwrap())
    }

    fn resolver(&self, sources: Vec<Box<dyn Source>>, cache: &str) -> Resolver {
        Resolver::new(
            sources,
            policy(&[trust("acme", &self.key, &[])]),
            BundleCache::new(self.tmp.path().join(cache)),
            false,
        )
    }

    fn lock(&self, dir: &str) -> LockFile {
        LockFile::load(&self.tmp.path().join(dir)).unwrap()
    }
}

#[test]
fn a_pushed_bundle_is_an_oci_artifact_that_resolves_from_a_fresh_cache() {
    let w = World::new();
    let b = signed("acme/app", "1.2.0", &w.key);
    let archive = bytes(&b);
    let reference = format!("{}/acme/app:1.2.0", w.registry.host);
    let pushed = push("acme-app.bundle", &archive, &reference, None).unwrap();
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0].reference, reference);

    // What the registry holds is a plain OCI image manifest any tool can read.
    let (status, raw) = w.registry.get("acme/app/manifests/1.2.0", MANIFEST_MEDIA_TYPE);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&raw));
    let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
    assert_eq!(manifest["config"]["mediaType"], CONFIG_MEDIA_TYPE);
    assert_eq!(manifest["layers"][0]["mediaType"], LAYER_MEDIA_TYPE);
    assert_eq!(manifest["layers"][0]["size"], archive.len());
    assert_eq!(manifest["annotations"]["dev.capstan.bundle.digest"], b.digest());
    let (_, config) =
        w.registry.get(&format!("acme/app/blobs/{}", manifest["config"]["digest"].as_str().unwrap()), "*/*");
    assert_eq!(config, b.manifest_bytes());

    let resolver = w.resolver(vec![w.oci()], "cache");
    let mut lock = w.lock("stack");
    let got = resolver.resolve("acme/app", &req("^1"), &mut lock, LockMode::Use).unwrap();
    assert_eq!(got.from, "registry");
    assert_eq!(got.bundle.manifest.version.to_string(), "1.2.0");
    assert_eq!(got.wasm(), component("acme/app", "1.2.0").wasm);
    // The signature travelled inside the layer and was checked.
    assert_eq!(lock.plugins["acme/app"].signer, format!("acme ({})", w.key.public().id()));
    assert_eq!(lock.plugins["acme/app"].digest, b.digest());

    // Pushing the same bundle again changes nothing (same manifest digest).
    let again = push("acme-app.bundle", &archive, &w.registry.host, None).unwrap();
    assert_eq!(again, pushed);
}

#[test]
fn the_highest_matching_version_across_a_dir_and_a_registry_wins() {
    let w = World::new();
    let dir = w.tmp.path().join("dir");
    for v in ["1.2.0", "2.0.0"] {
        write(&dir, &format!("app-{v}.bundle"), &signed("acme/app", v, &w.key));
    }
    w.push("acme/app", "1.3.0");
    w.push("acme/app", "1.4.0");
    let sources = || vec![Box::new(DirSource::new("local", &dir)) as Box<dyn Source>, w.oci()];
    let resolver = w.resolver(sources(), "cache");

    let got = resolver.resolve("acme/app", &req("^1.2"), &mut w.lock("a"), LockMode::Use).unwrap();
    assert_eq!((got.bundle.manifest.version.to_string(), got.from.as_str()), ("1.4.0".into(), "registry"));
    let got = resolver.resolve("acme/app", &req("^2"), &mut w.lock("b"), LockMode::Use).unwrap();
    assert_eq!((got.bundle.manifest.version.to_string(), got.from.as_str()), ("2.0.0".into(), "local"));
    let got = resolver.resolve("acme/app", &req("~1.3"), &mut w.lock("c"), LockMode::Use).unwrap();
    assert_eq!(got.bundle.manifest.version.to_string(), "1.3.0");
    let err = resolver.resolve("acme/app", &req("^3"), &mut w.lock("d"), LockMode::Use).unwrap_err();
    assert!(err.to_string().contains("found: 2.0.0, 1.4.0, 1.3.0, 1.2.0"), "{err}");
}

#[test]
fn a_bundle_of_several_plugins_is_pushed_under_each_plugins_repository() {
    let w = World::new();
    let mut b = Bundle::pack(
        "acme",
        Some("acme/messaging"),
        capstan_core::CONTRACT_VERSION,
        vec![component("acme/messaging-sqs", "1.0.0"), component("acme/messaging-rabbitmq", "1.0.0")],
    )
    .unwrap();
    capstan_registry::sign(&mut b, &w.key);
    let pushed = push("m.bundle", &bytes(&b), &format!("{}/mirror", w.registry.host), None).unwrap();
    let refs: Vec<&str> = pushed.iter().map(|p| p.reference.as_str()).collect();
    let host = &w.registry.host;
    assert_eq!(
        refs,
        [
            format!("{host}/mirror/acme/messaging-sqs:1.0.0"),
            format!("{host}/mirror/acme/messaging-rabbitmq:1.0.0")
        ]
    );
    let source = OciSource::new("registry", &format!("http://{host}/mirror"), None).unwrap();
    let resolver = w.resolver(vec![Box::new(source)], "cache");
    for plugin in ["acme/messaging-sqs", "acme/messaging-rabbitmq"] {
        let got = resolver.resolve(plugin, &req("^1"), &mut w.lock("s"), LockMode::Use).unwrap();
        assert_eq!(got.wasm(), component(plugin, "1.0.0").wasm, "{plugin}");
    }
}

#[test]
fn a_blob_changed_in_the_registry_is_refused_and_never_cached() {
    let w = World::new();
    let b = w.push("acme/app", "1.0.0");
    let (_, raw) = w.registry.get("acme/app/manifests/1.0.0", MANIFEST_MEDIA_TYPE);
    let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_string();
    // The stored layer changes behind the registry's back (its last byte flipped).
    let file = w.registry.blob_file(&layer);
    let mut other = bytes(&b);
    let last = other.len() - 1;
    other[last] ^= 0xff;
    std::fs::write(&file, &other).unwrap();

    let resolver = w.resolver(vec![w.oci()], "cache");
    let err = resolver.resolve("acme/app", &req("*"), &mut w.lock("s"), LockMode::Use).unwrap_err();
    assert!(matches!(err, RegistryError::BlobDigestMismatch { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&layer) && text.contains("/acme/app:1.0.0"), "{text}");
    assert!(
        !w.tmp.path().join("cache").exists()
            || std::fs::read_dir(w.tmp.path().join("cache")).unwrap().next().is_none()
    );
}

#[test]
fn a_missing_repository_or_tag_is_a_clear_error() {
    let w = World::new();
    w.push("acme/app", "1.0.0");
    let resolver = w.resolver(vec![w.oci()], "cache");
    let err = resolver.resolve("acme/other", &req("*"), &mut w.lock("a"), LockMode::Use).unwrap_err();
    assert!(err.to_string().contains("no source offers plugin acme/other (looked in: registry)"), "{err}");
    let err = resolver.resolve("acme/app", &req("=1.1.0"), &mut w.lock("b"), LockMode::Use).unwrap_err();
    assert!(err.to_string().contains("no version of plugin acme/app matches =1.1.0 (found: 1.0.0)"), "{err}");

    // A lock that pins a version the registry no longer has.
    let mut lock = w.lock("c");
    resolver.resolve("acme/app", &req("*"), &mut lock, LockMode::Use).unwrap();
    lock.plugins.get_mut("acme/app").unwrap().version = "1.0.1".parse().unwrap();
    let fresh = w.resolver(vec![w.oci()], "empty");
    let err = fresh.resolve("acme/app", &req("*"), &mut lock, LockMode::Use).unwrap_err();
    assert!(matches!(err, RegistryError::LockedUnavailable { .. }), "{err}");

    // The manifest of a tag that is not there, fetched directly.
    let offer = capstan_registry::Offer {
        plugin: "acme/app".into(),
        version: "9.9.9".parse().unwrap(),
        bundle: "acme/app".into(),
        locator: format!("{}/acme/app:9.9.9", w.registry.host),
        digest: None,
    };
    let err = w.oci().fetch(&offer).unwrap_err();
    assert!(err.to_string().contains("manifest unknown"), "{err}");
}

#[test]
fn an_artifact_that_is_not_a_capstan_bundle_is_refused() {
    let w = World::new();
    w.registry.push_raw(
        "acme/app",
        "1.0.0",
        "application/vnd.oci.image.config.v1+json",
        b"{}",
        b"not a bundle",
    );
    let err = w
        .resolver(vec![w.oci()], "c")
        .resolve("acme/app", &req("*"), &mut w.lock("s"), LockMode::Use)
        .unwrap_err();
    assert!(err.to_string().contains("not a Capstan plugin bundle"), "{err}");
}

#[test]
fn a_registry_that_wants_a_login_gets_it_and_refuses_anonymous_pulls() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let registry = LocalRegistry::start_with_login("publisher", "s3cret-pw");
    let login = || Some(Credentials { username: "publisher".into(), password: Sensitive::new("s3cret-pw") });
    let b = signed("acme/app", "1.0.0", &key);
    let err = push("b", &bytes(&b), &registry.host, None).unwrap_err();
    assert!(err.to_string().contains("give a username and password"), "{err}");
    let bad = Some(Credentials { username: "publisher".into(), password: Sensitive::new("wrong-pw") });
    let err = push("b", &bytes(&b), &registry.host, bad).unwrap_err();
    assert!(err.to_string().contains("refused the login"), "{err}");
    assert!(!err.to_string().contains("wrong-pw"), "{err}");
    push("b", &bytes(&b), &registry.host, login()).unwrap();

    let resolver = |creds| {
        Resolver::new(
            vec![Box::new(OciSource::new("private", &registry.host, creds).unwrap())],
            policy(&[trust("acme", &key, &[])]),
            BundleCache::new(tmp.path().join("cache")),
            false,
        )
    };
    let mut lock = LockFile::load(tmp.path()).unwrap();
    let err = resolver(None).resolve("acme/app", &req("*"), &mut lock, LockMode::Use).unwrap_err();
    assert!(err.to_string().contains("plugin source private"), "{err}");
    let got = resolver(login()).resolve("acme/app", &req("*"), &mut lock, LockMode::Use).unwrap();
    assert_eq!(got.from, "private");
}

#[test]
fn references_choose_plain_http_only_for_loopback_registries() {
    let r = OciReference::parse("127.0.0.1:5000/acme/app:1.2.0").unwrap();
    assert_eq!(
        (r.base.as_str(), r.path.as_str(), r.tag.as_deref()),
        ("http://127.0.0.1:5000/", "acme/app", Some("1.2.0"))
    );
    assert_eq!(OciReference::parse("localhost:5000").unwrap().base.scheme(), "http");
    assert_eq!(OciReference::parse("[::1]:5000/x").unwrap().base.scheme(), "http");
    assert_eq!(
        OciReference::parse("registry.example/acme").unwrap().base.as_str(),
        "https://registry.example/"
    );
    assert_eq!(OciReference::parse("https://127.0.0.1:5000").unwrap().base.scheme(), "https");
    assert_eq!(OciReference::parse("oci://registry.example/x").unwrap().base.scheme(), "https");
    assert_eq!(OciReference::parse("oci://127.0.0.1:5000/x").unwrap().base.scheme(), "http");
    let err = OciReference::parse("http://registry.example/acme").unwrap_err();
    assert!(err.contains("plain HTTP is allowed only to a loopback registry"), "{err}");
    assert!(OciReference::parse("user:pw@registry.example/acme").unwrap_err().contains("credentials"));
    assert!(OciReference::parse("registry.example/Acme").unwrap_err().contains("\"Acme\""));
    assert!(OciReference::parse("ftp://registry.example").is_err());
}

#[test]
fn a_push_reference_must_name_a_plugin_of_the_bundle_and_its_version() {
    let key = SecretKey::generate().unwrap();
    let archive = bytes(&signed("acme/app", "1.2.0", &key));
    // Refused before any connection: nothing listens on port 9.
    for target in ["127.0.0.1:9/acme/app:1.3.0", "127.0.0.1:9/acme/other:1.2.0", "127.0.0.1:9/app:1.2.0"] {
        let err = push("b", &archive, target, None).unwrap_err();
        assert!(matches!(err, RegistryError::Push { .. }), "{target}: {err}");
        assert!(err.to_string().contains("<registry>/acme/app:1.2.0"), "{target}: {err}");
    }
    let err = OciSource::new("s", "127.0.0.1:9/acme/app:1.2.0", None).err().unwrap();
    assert!(err.to_string().contains("names a tag"), "{err}");
}

#[test]
fn a_registry_behind_a_token_server_is_reached_through_the_bearer_handshake() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let registry = LocalRegistry::start_with_token_auth("publisher", "t0ken-pw");
    let login = || Some(Credentials { username: "publisher".into(), password: Sensitive::new("t0ken-pw") });
    let b = signed("acme/app", "1.0.0", &key);
    let err = push("b", &bytes(&b), &registry.host, None).unwrap_err();
    assert!(err.to_string().contains("a login is needed"), "{err}");
    let wrong = Some(Credentials { username: "publisher".into(), password: Sensitive::new("nope-pw") });
    let err = push("b", &bytes(&b), &registry.host, wrong).unwrap_err();
    assert!(
        err.to_string().contains("the login was refused") && !err.to_string().contains("nope-pw"),
        "{err}"
    );
    // Push asks for pull,push tokens; the registry checks each token's grants and signature.
    push("b", &bytes(&b), &format!("{}/acme/app:1.0.0", registry.host), login()).unwrap();

    let source = OciSource::new("private", &registry.host, login()).unwrap();
    let resolver = Resolver::new(
        vec![Box::new(source)],
        policy(&[trust("acme", &key, &[])]),
        BundleCache::new(tmp.path().join("c")),
        false,
    );
    let got = resolver
        .resolve("acme/app", &req("^1"), &mut LockFile::load(tmp.path()).unwrap(), LockMode::Use)
        .unwrap();
    assert_eq!(got.wasm(), component("acme/app", "1.0.0").wasm);
}

#[test]
fn a_manifest_announcing_a_layer_over_the_bundle_limit_is_refused_before_downloading_it() {
    let w = World::new();
    let b = signed("acme/app", "1.0.0", &w.key);
    let pushed = push("b", &bytes(&b), &w.registry.host, None).unwrap();
    // The stored manifest is rewritten behind the registry's back.
    let file = w.registry.blob_file(&pushed[0].manifest_digest);
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    manifest["layers"][0]["size"] = serde_json::json!(capstan_registry::MAX_BUNDLE_BYTES + 1);
    std::fs::write(&file, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let err = w
        .resolver(vec![w.oci()], "c")
        .resolve("acme/app", &req("*"), &mut w.lock("s"), LockMode::Use)
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::TooLarge { limit: capstan_registry::MAX_BUNDLE_BYTES, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("/acme/app:1.0.0"), "{err}");
}
