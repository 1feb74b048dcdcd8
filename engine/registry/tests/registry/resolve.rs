use std::path::Path;

use capstan_registry::{
    Bundle, BundleCache, DirSource, HttpSource, Index, IndexEntry, LockFile, LockMode, RegistryError,
    Resolver, SecretKey, Source,
};

use crate::support::{HttpServer, bundle, component, policy, signed, trust, write};

fn req(s: &str) -> semver::VersionReq {
    s.parse().unwrap()
}

struct World {
    tmp: tempfile::TempDir,
    key: SecretKey,
}

impl World {
    fn new() -> Self {
        Self { tmp: tempfile::tempdir().unwrap(), key: SecretKey::generate().unwrap() }
    }
    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.tmp.path().join(rel)
    }
    fn publish(&self, dir: &str, plugin: &str, version: &str) {
        let file = format!("{}-{version}.bundle", plugin.replace('/', "-"));
        write(&self.path(dir), &file, &signed(plugin, version, &self.key));
    }
    fn resolver(&self, sources: Vec<Box<dyn Source>>, cache: &str) -> Resolver {
        Resolver::new(
            sources,
            policy(&[trust("acme", &self.key, &[])]),
            BundleCache::new(self.path(cache)),
            false,
        )
    }
    fn dir_source(&self, dir: &str) -> Box<dyn Source> {
        Box::new(DirSource::new("local", self.path(dir)))
    }
    fn lock(&self) -> LockFile {
        LockFile::load(self.tmp.path()).unwrap()
    }
}

fn version(r: &capstan_registry::Resolved) -> String {
    r.bundle.manifest.version.to_string()
}

#[test]
fn the_highest_matching_version_across_a_dir_and_an_http_index_wins_and_is_locked() {
    let w = World::new();
    for v in ["1.2.0", "1.3.0", "2.0.0"] {
        w.publish("dir", "acme/app", v);
    }
    w.publish("http", "acme/app", "1.4.0");
    w.publish("http", "acme/app", "0.9.0");
    Index::of_dir(&w.path("http")).unwrap().write_to(&w.path("http")).unwrap();
    let server = HttpServer::start(&w.path("http"));
    let http = || -> Box<dyn Source> { Box::new(HttpSource::new("index", &server.url).unwrap()) };

    let resolver = w.resolver(vec![w.dir_source("dir"), http()], "cache");
    let mut lock = w.lock();
    let got = resolver.resolve("acme/app", &req("^1.2"), &mut lock, LockMode::Use).unwrap();
    assert_eq!(version(&got), "1.4.0");
    assert_eq!(got.from, "index");
    assert_eq!(got.wasm(), component("acme/app", "1.4.0").wasm);
    lock.save().unwrap();
    let entry = &w.lock().plugins["acme/app"];
    assert_eq!(entry.version.to_string(), "1.4.0");
    assert_eq!(entry.digest, got.bundle.digest());
    assert_eq!(entry.signer, format!("acme ({})", w.key.public().id()));

    // A range only the dir satisfies.
    let mut fresh = LockFile::load(&w.path("elsewhere")).unwrap();
    let got = resolver.resolve("acme/app", &req("^2"), &mut fresh, LockMode::Use).unwrap();
    assert_eq!((version(&got), got.from.as_str()), ("2.0.0".into(), "local"));
    let mut fresh = LockFile::load(&w.path("elsewhere")).unwrap();
    let err = resolver.resolve("acme/app", &req("^3"), &mut fresh, LockMode::Use).unwrap_err();
    assert!(matches!(err, RegistryError::NoMatchingVersion { .. }), "{err}");
    assert!(err.to_string().contains("2.0.0, 1.4.0, 1.3.0, 1.2.0, 0.9.0"), "{err}");
    let err = resolver.resolve("acme/nope", &req("*"), &mut fresh, LockMode::Use).unwrap_err();
    assert!(err.to_string().contains("no source offers plugin acme/nope (looked in: local, index)"), "{err}");
}

#[test]
fn a_locked_version_is_kept_until_lock_refreshes_and_going_back_needs_upgrade() {
    let w = World::new();
    w.publish("dir", "acme/app", "1.2.0");
    w.publish("dir", "acme/app", "1.3.0");
    let resolver = w.resolver(vec![w.dir_source("dir")], "cache");
    let mut lock = w.lock();
    assert_eq!(
        version(&resolver.resolve("acme/app", &req("^1"), &mut lock, LockMode::Use).unwrap()),
        "1.3.0"
    );

    w.publish("dir", "acme/app", "1.4.0");
    assert_eq!(
        version(&resolver.resolve("acme/app", &req("^1"), &mut lock, LockMode::Use).unwrap()),
        "1.3.0"
    );
    assert_eq!(
        version(&resolver.resolve("acme/app", &req("^1"), &mut lock, LockMode::Refresh).unwrap()),
        "1.4.0"
    );
    assert_eq!(lock.plugins["acme/app"].version.to_string(), "1.4.0");

    // The component now asks for an older version than locked.
    let err = resolver.resolve("acme/app", &req("=1.2.0"), &mut lock, LockMode::Use).unwrap_err();
    assert!(matches!(err, RegistryError::LockOutOfRange { .. }), "{err}");
    let err = resolver.resolve("acme/app", &req("=1.2.0"), &mut lock, LockMode::Refresh).unwrap_err();
    assert!(matches!(err, RegistryError::Rollback { .. }), "{err}");
    assert!(err.to_string().contains("capstan plugin upgrade"), "{err}");
    assert_eq!(lock.plugins["acme/app"].version.to_string(), "1.4.0");
    let got = resolver.resolve("acme/app", &req("=1.2.0"), &mut lock, LockMode::Upgrade).unwrap();
    assert_eq!(version(&got), "1.2.0");
    assert_eq!(lock.plugins["acme/app"].version.to_string(), "1.2.0");
}

#[test]
fn a_different_bundle_under_a_locked_version_is_refused() {
    let w = World::new();
    w.publish("dir", "acme/app", "1.0.0");
    let mut lock = w.lock();
    w.resolver(vec![w.dir_source("dir")], "cache")
        .resolve("acme/app", &req("^1"), &mut lock, LockMode::Use)
        .unwrap();

    // Same name and version, other code (and validly signed by the same key).
    let mut other = component("acme/app", "1.0.0");
    other.wasm = b"rebuilt".to_vec();
    let mut b = Bundle::pack("acme", None, capstan_core::CONTRACT_VERSION, vec![other]).unwrap();
    capstan_registry::sign(&mut b, &w.key);
    write(&w.path("dir"), "acme-app-1.0.0.bundle", &b);

    // With a fresh cache the source's copy is all there is.
    let fresh = w.resolver(vec![w.dir_source("dir")], "cache2");
    for mode in [LockMode::Use, LockMode::Refresh] {
        let err = fresh.resolve("acme/app", &req("^1"), &mut lock, mode).unwrap_err();
        assert!(matches!(err, RegistryError::LockedDigestMismatch { .. }), "{mode:?}: {err}");
    }
}

#[test]
fn with_a_lock_and_a_cache_no_source_is_needed() {
    let w = World::new();
    w.publish("dir", "acme/app", "1.0.0");
    let mut lock = w.lock();
    w.resolver(vec![w.dir_source("dir")], "cache")
        .resolve("acme/app", &req("^1"), &mut lock, LockMode::Use)
        .unwrap();
    std::fs::remove_dir_all(w.path("dir")).unwrap();
    let offline = w.resolver(vec![], "cache");
    let got = offline.resolve("acme/app", &req("^1"), &mut lock, LockMode::Use).unwrap();
    assert_eq!(got.from, "cache");
    // Without the cache, the same lock has nowhere to get the bundle.
    let err =
        w.resolver(vec![], "empty").resolve("acme/app", &req("^1"), &mut lock, LockMode::Use).unwrap_err();
    assert!(matches!(err, RegistryError::LockedUnavailable { .. }), "{err}");
    // The cache holds whole bundles only: no temp files left behind.
    let names: Vec<String> = std::fs::read_dir(w.path("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".bundle") && !n.starts_with('.')), "{names:?}");
}

#[test]
fn unsigned_tampered_and_foreign_contract_bundles_are_refused_at_resolve_time() {
    let w = World::new();
    write(&w.path("unsigned"), "a.bundle", &bundle("acme/app", "1.0.0"));
    let err = w.resolver(vec![w.dir_source("unsigned")], "c").resolve(
        "acme/app",
        &req("*"),
        &mut w.lock(),
        LockMode::Use,
    );
    assert!(matches!(err.unwrap_err(), RegistryError::Unsigned { .. }));

    // A tampered bundle cannot even be listed; its reason is what resolution reports.
    let bytes = signed("acme/app", "1.0.0", &w.key).to_bytes().unwrap();
    let mut parts = crate::support::entries(&bytes);
    parts.iter_mut().find(|(n, _)| n.starts_with("components/")).unwrap().1.push(0);
    std::fs::create_dir_all(w.path("tampered")).unwrap();
    std::fs::write(w.path("tampered/a.bundle"), crate::support::rebuild(&parts)).unwrap();
    let err = w.resolver(vec![w.dir_source("tampered")], "c").resolve(
        "acme/app",
        &req("*"),
        &mut w.lock(),
        LockMode::Use,
    );
    assert!(matches!(err.unwrap_err(), RegistryError::DigestMismatch { .. }));

    let mut future =
        Bundle::pack("acme", None, semver::Version::new(0, 3, 0), vec![component("acme/app", "1.0.0")])
            .unwrap();
    capstan_registry::sign(&mut future, &w.key);
    write(&w.path("future"), "a.bundle", &future);
    let err = w.resolver(vec![w.dir_source("future")], "c").resolve(
        "acme/app",
        &req("*"),
        &mut w.lock(),
        LockMode::Use,
    );
    let err = err.unwrap_err();
    assert!(matches!(err, RegistryError::ContractUnsupported { .. }), "{err}");
    assert!(err.to_string().contains("capstan:plugin@0.3.0"), "{err}");
    assert!(err.to_string().contains("newer than 0.1.0"), "{err}");
}

#[test]
fn an_index_entry_whose_bundle_holds_another_plugin_is_refused() {
    let w = World::new();
    let dir = w.path("http");
    let other = signed("acme/other", "1.0.0", &w.key);
    write(&dir, "app.bundle", &other);
    let index = Index {
        format: 1,
        bundles: vec![IndexEntry {
            name: "acme/app".into(),
            version: "1.0.0".parse().unwrap(),
            plugins: vec!["acme/app".into()],
            path: "app.bundle".into(),
            digest: other.digest(),
        }],
    };
    index.write_to(&dir).unwrap();
    let server = HttpServer::start(&dir);
    let resolver = w.resolver(vec![Box::new(HttpSource::new("index", &server.url).unwrap())], "c");
    let err = resolver.resolve("acme/app", &req("*"), &mut w.lock(), LockMode::Use).unwrap_err();
    assert!(matches!(err, RegistryError::NameMismatch { .. }), "{err}");
    assert!(err.to_string().contains("acme/other"), "{err}");
    assert!(!Path::new(&w.path("c")).exists() || std::fs::read_dir(w.path("c")).unwrap().next().is_none());
}

#[test]
fn pinned_versions_are_locked_beside_the_range_entry_and_never_move() {
    let w = World::new();
    for v in ["1.2.0", "1.3.0", "1.4.0"] {
        w.publish("dir", "acme/app", v);
    }
    let resolver = w.resolver(vec![w.dir_source("dir")], "cache");
    let mut lock = w.lock();
    // Staging pins 1.2.0, production 1.3.0, dev follows the range.
    for v in ["1.2.0", "1.3.0"] {
        let got = resolver.resolve_pinned("acme/app", &v.parse().unwrap(), &mut lock).unwrap();
        assert_eq!(version(&got), v);
    }
    assert_eq!(
        version(&resolver.resolve("acme/app", &req("^1"), &mut lock, LockMode::Use).unwrap()),
        "1.4.0"
    );
    lock.save().unwrap();
    let saved = w.lock();
    let pinned: Vec<String> = saved.pins["acme/app"].iter().map(|e| e.version.to_string()).collect();
    assert_eq!(pinned, ["1.2.0", "1.3.0"]);
    assert_eq!(saved.plugins["acme/app"].version.to_string(), "1.4.0");

    // A pin of the range's version is recorded with the range entry's digest.
    resolver.resolve_pinned("acme/app", &"1.4.0".parse().unwrap(), &mut lock).unwrap();
    assert_eq!(lock.pins["acme/app"].len(), 3);
    assert_eq!(lock.pins["acme/app"][2], lock.plugins["acme/app"]);

    // A republished 1.3.0 is refused under the pin, from a fresh cache.
    let mut other = component("acme/app", "1.3.0");
    other.wasm = b"rebuilt".to_vec();
    let mut b = Bundle::pack("acme", None, capstan_core::CONTRACT_VERSION, vec![other]).unwrap();
    capstan_registry::sign(&mut b, &w.key);
    write(&w.path("dir"), "acme-app-1.3.0.bundle", &b);
    let fresh = w.resolver(vec![w.dir_source("dir")], "cache2");
    let err = fresh.resolve_pinned("acme/app", &"1.3.0".parse().unwrap(), &mut lock).unwrap_err();
    assert!(matches!(err, RegistryError::LockedDigestMismatch { .. }), "{err}");
    // A version no source has is a clear error.
    let err = fresh.resolve_pinned("acme/app", &"1.9.0".parse().unwrap(), &mut lock).unwrap_err();
    assert!(err.to_string().contains("no version of plugin acme/app matches =1.9.0"), "{err}");

    // What the stack stopped asking for is dropped.
    let ranged = std::collections::BTreeSet::new();
    let pinned = std::collections::BTreeSet::from([("acme/app".to_string(), "1.2.0".parse().unwrap())]);
    let dropped = lock.retain(&ranged, &pinned);
    assert_eq!(dropped, ["acme/app 1.4.0", "acme/app 1.3.0 (pinned)", "acme/app 1.4.0 (pinned)"]);
    assert!(lock.plugins.is_empty());
}
