//! Plugin bundles through the real binary: a built-in plugin packed under
//! another publisher, signed, served by a real HTTP server (`python3 -m
//! http.server` on loopback) and from a directory, resolved into a fresh
//! stack's cache and run by `capstan plan`; the lock file's pinning and
//! rollback refusal; refusals of unsigned, untrusted and tampered bundles.

use std::path::Path;

use crate::support::Stack;

/// `python3 -m http.server` serving `dir` on a loopback port; stopped on drop.
struct HttpServer {
    child: std::process::Child,
    url: String,
}

impl HttpServer {
    fn start(dir: &Path) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new("python3")
            .args(["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"])
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.split(" port ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().to_string();
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything a run printed: refusals reach the operator on either stream.
fn said(run: &crate::support::Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

const COMPONENT: &str = r#"component {
  type    = "app"
  plugin  = "acme/app"
  version = "^0.1"
}
inputs = {
  image    = "registry.example/api:1.0.0"
  replicas = 1
  port     = 8080
}
"#;

/// A publisher's workspace: a key and the app plugin packed as acme/app.
fn publish(s: &Stack) {
    s.run(&["plugin", "keygen", "-o", "keys/acme"]).ok();
    let wasm = env!("CAPSTAN_TEST_APP_WASM");
    let packed = s.run(&["plugin", "pack", wasm, "--publisher", "acme", "-o", "dist/acme-app.bundle"]).ok();
    assert!(packed.stdout.contains("acme/app 0.1.0"), "{packed:?}");
    s.run(&["plugin", "sign", "dist/acme-app.bundle", "--key", "keys/acme.key"]).ok();
}

fn client_hcl(source: &str) -> String {
    format!(
        "{source}\ntrust \"acme\" {{\n  key_files = [\"keys/acme.pub\"]\n  plugins   = [\"acme/*\"]\n}}\n"
    )
}

fn stack_with(source: &str) -> Stack {
    let s = Stack::new(&client_hcl(source));
    s.write("envs/dev/env.hcl", "");
    s.write("envs/dev/web/namespace.hcl", "namespace = \"web\"\n");
    s.write("envs/dev/web/api/component.hcl", COMPONENT);
    s
}

#[test]
fn a_signed_bundle_from_an_http_index_is_fetched_locked_and_planned() {
    let s = stack_with("");
    publish(&s);
    let v = s.run(&["plugin", "verify", "dist/acme-app.bundle", "--key", "keys/acme.pub"]).ok();
    assert!(v.stdout.contains("components intact, signed by ed25519:"), "{v:?}");
    let v = s.run(&["plugin", "verify", "dist/acme-app.bundle", "--trust", "client.hcl"]).ok();
    assert!(v.stdout.contains("trusted by client.hcl"), "{v:?}");
    s.run(&["plugin", "index", "dist"]).ok();
    let server = HttpServer::start(&s.path("dist"));
    s.write(
        "client.hcl",
        &client_hcl(&format!(
            "plugin_source \"partner\" {{\n  type = \"http\"\n  url  = \"{}\"\n}}\n",
            server.url
        )),
    );

    let plan = s.run(&["plan", "envs/dev"]).ok();
    assert!(plan.stdout.contains("Deployment"), "{plan:?}");
    let lock: serde_json::Value = serde_json::from_str(&s.read("capstan.lock")).unwrap();
    let entry = &lock["plugins"]["acme/app"];
    assert_eq!(entry["version"], "0.1.0", "{lock}");
    assert!(entry["signer"].as_str().unwrap().starts_with("acme (ed25519:"), "{lock}");
    let digest = entry["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_string();
    assert!(s.path(&format!(".capstan/plugins/{digest}.bundle")).is_file());

    // Offline: with the lock and the cache, the server is not needed.
    drop(server);
    let again = s.run(&["plan", "envs/dev"]).ok();
    assert!(again.stdout.contains("Deployment"), "{again:?}");
}

#[test]
fn a_new_lock_entry_is_announced_and_a_read_only_lock_is_never_changed() {
    let s = stack_with("plugin_source \"local\" {\n  type = \"dir\"\n  path = \"dist\"\n}\n");
    publish(&s);
    let refused = |run: &crate::support::Run| {
        assert_eq!(run.code, 1, "{run:?}");
        assert!(
            said(run).contains("capstan.lock is read-only for this run (--lockfile=readonly, or CI=true), and acme/app's entry would change: it has none, and 0.1.0 sha256:"),
            "{run:?}"
        );
        assert!(!s.path("capstan.lock").exists(), "a refused run wrote capstan.lock");
    };
    // Nothing locked yet: a read-only run stops, naming the plugin.
    refused(&s.run(&["plan", "envs/dev", "--lockfile=readonly"]));
    // CI=true (as CI services set it) is read-only too.
    refused(&s.run_env(&["plan", "envs/dev"], &[("CI", Path::new("true"))]));

    // In a normal run the new entry is written and announced; in CI only
    // when the operator asks for it with --lockfile=write.
    let plan = s.run_env(&["plan", "envs/dev", "--lockfile=write"], &[("CI", Path::new("true"))]).ok();
    assert!(plan.stdout.contains("Deployment"), "{plan:?}");
    assert!(
        plan.stderr.contains("note: acme/app 0.1.0 (signed by acme (ed25519:")
            && plan.stderr.contains("capstan.lock: later runs use exactly this bundle; review and commit it"),
        "{plan:?}"
    );
    let locked = s.read("capstan.lock");
    assert!(locked.contains("acme/app"), "{locked}");

    // With the entry there, read-only plan, apply and destroy run, change
    // nothing and announce nothing.
    for args in [
        &["plan", "envs/dev", "--lockfile=readonly"][..],
        &["apply", "envs/dev", "--auto-approve", "--lockfile=readonly"],
        &["destroy", "envs/dev", "--auto-approve", "--lockfile=readonly"],
    ] {
        let run = s.run_env(args, &[("CI", Path::new("true"))]).ok();
        assert!(!run.stderr.contains("review and commit it"), "{run:?}");
        assert_eq!(s.read("capstan.lock"), locked, "{args:?} changed capstan.lock");
    }
    let again = s.run(&["plan", "envs/dev"]).ok();
    assert!(!again.stderr.contains("review and commit it"), "an unchanged entry is not announced: {again:?}");
}

#[test]
fn a_dir_source_bundle_is_pinned_by_the_lock_and_a_changed_bundle_is_refused() {
    let s = stack_with("plugin_source \"local\" {\n  type = \"dir\"\n  path = \"dist\"\n}\n");
    publish(&s);
    s.run(&["plan", "envs/dev"]).ok();
    let locked = s.read("capstan.lock");

    // The same version re-packed from other code (here: a second app build
    // would do; the bundle name is the same, the digest is not).
    std::fs::remove_dir_all(s.path(".capstan/plugins")).unwrap();
    let wasm = env!("CAPSTAN_TEST_APP_WASM");
    let mut bytes = std::fs::read(wasm).unwrap();
    // A custom section appended at the end is valid wasm with another digest.
    bytes.extend_from_slice(&[0, 6, 5, b'x', b'-', b'f', b'o', b'o']);
    s.write("build/app.wasm", "");
    std::fs::write(s.path("build/app.wasm"), bytes).unwrap();
    s.run(&["plugin", "pack", "build/app.wasm", "--publisher", "acme", "-o", "dist/acme-app.bundle"]).ok();
    s.run(&["plugin", "sign", "dist/acme-app.bundle", "--key", "keys/acme.key"]).ok();
    let run = s.run(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(said(&run).contains("refusing a changed bundle under an existing version"), "{run:?}");
    assert_eq!(s.read("capstan.lock"), locked);
    let run = s.run(&["plugin", "lock", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");

    // Asking for an older version than locked is refused until upgrade.
    s.write("envs/dev/web/api/component.hcl", &COMPONENT.replace("^0.1", "<0.1.0"));
    let run = s.run(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(said(&run).contains("capstan.lock pins 0.1.0, which does not match <0.1.0"), "{run:?}");
}

#[test]
fn unsigned_untrusted_and_tampered_bundles_are_refused_with_the_reason() {
    let s = stack_with("plugin_source \"local\" {\n  type = \"dir\"\n  path = \"dist\"\n}\n");
    s.run(&["plugin", "keygen", "-o", "keys/acme"]).ok();
    let wasm = env!("CAPSTAN_TEST_APP_WASM");
    s.run(&["plugin", "pack", wasm, "--publisher", "acme", "-o", "dist/acme-app.bundle"]).ok();
    let run = s.run(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(said(&run).contains("is not signed"), "{run:?}");
    let dev = s.run(&["plan", "envs/dev", "--allow-unsigned"]).ok();
    assert!(said(&dev).contains("WARNING: --allow-unsigned"), "{dev:?}");
    std::fs::remove_file(s.path("capstan.lock")).unwrap();

    s.run(&["plugin", "keygen", "-o", "keys/stranger"]).ok();
    s.run(&["plugin", "sign", "dist/acme-app.bundle", "--key", "keys/stranger.key"]).ok();
    let run = s.run(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(said(&run).contains("which no `trust` block of client.hcl lists"), "{run:?}");
    let v = s.run(&["plugin", "verify", "dist/acme-app.bundle", "--key", "keys/acme.pub"]);
    assert_eq!(v.code, 1, "{v:?}");

    let bytes = std::fs::read(s.path("dist/acme-app.bundle")).unwrap();
    std::fs::write(s.path("dist/acme-app.bundle"), &bytes[..bytes.len() / 2]).unwrap();
    let run = s.run(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(said(&run).contains("truncated or corrupt"), "{run:?}");
    let v = s.run(&["plugin", "verify", "dist/acme-app.bundle"]);
    assert!(v.code == 1 && said(&v).contains("truncated or corrupt"), "{v:?}");
}

#[test]
fn a_bundle_can_be_written_to_a_bare_file_name_in_the_current_directory() {
    let s = Stack::new("");
    let wasm = env!("CAPSTAN_TEST_APP_WASM");
    s.run(&["plugin", "pack", wasm, "--publisher", "acme", "-o", "app.bundle"]).ok();
    assert!(s.path("app.bundle").is_file());
}
