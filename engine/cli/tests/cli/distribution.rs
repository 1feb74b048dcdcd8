//! Plugin distribution through the real binary, against a real OCI registry
//! (Debian's docker-registry on loopback, one per test): pack → sign →
//! `plugin push` → `plan` from a fresh cache through an `oci` plugin_source;
//! `capstan init` fetching every environment's plugins (pins included) so a
//! plan needs no registry, and drops lock entries nothing uses; env.hcl
//! pins and `local` builds; a token-auth registry's login from a secrets
//! file (push: from the environment), never shown.

use std::path::Path;

use capstan_registry::testing::LocalRegistry;

use crate::support::Stack;

fn said(run: &crate::support::Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

fn component(plugin: &str, version: &str) -> String {
    format!(
        "component {{\n  type    = \"app\"\n  plugin  = \"{plugin}\"\n  version = \"{version}\"\n}}\n\
         inputs = {{\n  image    = \"registry.example/api:1.0.0\"\n  replicas = 1\n  port     = 8080\n}}\n"
    )
}

fn client_hcl(registry: &str) -> String {
    format!(
        "plugin_source \"registry\" {{\n  type = \"oci\"\n  url  = \"{registry}/mirror\"\n}}\n\
         trust \"acme\" {{\n  key_files = [\"keys/acme.pub\"]\n}}\n"
    )
}

/// Two environments using acme/app: dev pins it, prod takes the range.
fn stack(registry: &str, dev_env: &str) -> Stack {
    let s = Stack::new(&client_hcl(registry));
    s.write("envs/dev/env.hcl", dev_env);
    s.write("envs/prod/env.hcl", "");
    for env in ["dev", "prod"] {
        s.write(&format!("envs/{env}/web/namespace.hcl",), "namespace = \"web\"\n");
        s.write(&format!("envs/{env}/web/api/component.hcl"), &component("acme/app", "^0.1"));
    }
    s
}

/// The app plugin packed as acme/app 0.1.0, signed, pushed under `mirror/`.
fn publish(s: &Stack, registry: &LocalRegistry) {
    s.run(&["plugin", "keygen", "-o", "keys/acme"]).ok();
    let wasm = env!("CAPSTAN_TEST_APP_WASM");
    s.run(&["plugin", "pack", wasm, "--publisher", "acme", "-o", "dist/acme-app.bundle"]).ok();
    s.run(&["plugin", "sign", "dist/acme-app.bundle", "--key", "keys/acme.key"]).ok();
    let target = format!("{}/mirror/acme/app:0.1.0", registry.host);
    let pushed = s.run(&["plugin", "push", "dist/acme-app.bundle", &target]).ok();
    assert!(pushed.stdout.contains(&format!("  {target}  manifest sha256:")), "{pushed:?}");
}

fn lock(s: &Stack) -> serde_json::Value {
    serde_json::from_str(&s.read("capstan.lock")).unwrap()
}

#[test]
fn a_pushed_bundle_is_planned_from_the_registry_then_init_makes_plans_offline() {
    let registry = LocalRegistry::start();
    let s = stack(&registry.host, "plugins = {\n  \"acme/app\" = \"0.1.0\"\n}\n");
    publish(&s, &registry);

    let plan = s.run(&["plan", "envs/prod"]).ok();
    assert!(plan.stdout.contains("Deployment"), "{plan:?}");
    let locked = lock(&s);
    assert_eq!(locked["plugins"]["acme/app"]["version"], "0.1.0", "{locked}");
    assert!(locked.get("pins").is_none(), "prod has no pins: {locked}");

    // init resolves dev's pin too, from a fresh cache, and says what it did.
    std::fs::remove_dir_all(s.path(".capstan/plugins")).unwrap();
    let init = s.run(&["init", "envs/prod"]).ok();
    assert!(init.stdout.contains("acme/app 0.1.0: fetched from registry, sha256:"), "{init:?}");
    assert!(
        init.stdout.contains("acme/app 0.1.0: cached"),
        "the second request finds the first's bundle: {init:?}"
    );
    let locked = lock(&s);
    assert_eq!(locked["pins"]["acme/app"][0]["version"], "0.1.0", "{locked}");
    assert_eq!(locked["pins"]["acme/app"][0]["digest"], locked["plugins"]["acme/app"]["digest"]);

    // With the registry gone, every environment still plans.
    drop(registry);
    let offline = s.run(&["plan", "envs"]).ok();
    assert_eq!(offline.stdout.matches("Deployment").count(), 2, "{offline:?}");
    let again = s.run(&["init", "."]).ok();
    assert!(!again.stdout.contains("fetched"), "{again:?}");
    // A pin nobody makes any more leaves capstan.lock at the next init.
    s.write("envs/dev/env.hcl", "");
    let unpinned = s.run(&["init", "."]).ok();
    assert!(unpinned.stdout.contains("acme/app 0.1.0 (pinned): dropped from capstan.lock"), "{unpinned:?}");
    assert!(lock(&s).get("pins").is_none(), "{}", lock(&s));

    // Without the cache, the lock has nowhere to get the bundle: a clear error.
    std::fs::remove_dir_all(s.path(".capstan/plugins")).unwrap();
    let run = s.run(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(said(&run).contains("plugin source registry"), "{run:?}");
}

#[test]
fn a_changed_blob_and_a_missing_tag_are_refused_with_the_reason() {
    let registry = LocalRegistry::start();
    let s = stack(&registry.host, "plugins = {\n  \"acme/app\" = \"0.2.0\"\n}\n");
    // A pin outside the component's range is an error naming both.
    let run = s.run(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        said(&run).contains("envs/dev/env.hcl pins acme/app to 0.2.0, outside the range ^0.1 that envs/dev/web/api/component.hcl asks for"),
        "{run:?}"
    );
    s.write("envs/dev/env.hcl", "plugins = {\n  \"acme/app\" = \"0.1.5\"\n}\n");
    publish(&s, &registry);
    let run = s.run(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(said(&run).contains("no version of plugin acme/app matches =0.1.5 (found: 0.1.0)"), "{run:?}");

    let (_, raw) =
        registry.get("mirror/acme/app/manifests/0.1.0", capstan_registry::oci::MANIFEST_MEDIA_TYPE);
    let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let file = registry.blob_file(manifest["layers"][0]["digest"].as_str().unwrap());
    let mut blob = std::fs::read(&file).unwrap();
    blob[100] ^= 1;
    std::fs::write(&file, blob).unwrap();
    let run = s.run(&["plan", "envs/prod"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(said(&run).contains("changed in the registry or in transit"), "{run:?}");
    assert!(!s.path("capstan.lock").exists(), "nothing was accepted, so nothing is locked");
}

#[test]
fn a_local_pin_runs_the_repositorys_build_unlocked_and_picks_up_a_rebuild() {
    let s = Stack::new("");
    s.write(
        "envs/dev/env.hcl",
        "plugins = {\n  \"capstan/app\" = \"local\"\n}\nplugins_local_dir = \"build/plugins\"\n",
    );
    s.write("envs/dev/web/namespace.hcl", "namespace = \"web\"\n");
    s.write("envs/dev/web/api/component.hcl", &component("capstan/app", "^0.1"));

    // The repository alone cannot run unsigned code: the operator must say so.
    let run = s.run(&["plan", "envs/dev"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        said(&run).contains(
            "envs/dev/env.hcl pins capstan/app to \"local\": the unsigned build in build/plugins runs only \
             when the operator allows unsigned plugins (--allow-unsigned, or CAPSTAN_ALLOW_UNSIGNED=1)"
        ),
        "{run:?}"
    );
    let init = s.run(&["init", "."]).ok();
    assert!(
        init.stdout.contains("capstan/app: local build in build/plugins (not locked; unsigned"),
        "init names the local pin without loading it: {init:?}"
    );

    let run = s.run(&["plan", "envs/dev", "--allow-unsigned"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        said(&run).contains("reading plugins_local_dir build/plugins (build the plugin there first)"),
        "{run:?}"
    );

    s.write("build/plugins/README", "build output lands here\n");
    std::fs::copy(env!("CAPSTAN_TEST_APP_WASM"), s.path("build/plugins/app.wasm")).unwrap();
    // The environment variable is the operator's leave too.
    let by_env = s.run_env(&["plan", "envs/dev"], &[("CAPSTAN_ALLOW_UNSIGNED", Path::new("1"))]).ok();
    assert!(by_env.stdout.contains("Deployment"), "{by_env:?}");
    let plan = s.run(&["plan", "envs/dev", "--allow-unsigned"]).ok();
    assert!(plan.stdout.contains("Deployment"), "{plan:?}");
    assert!(
        plan.stderr.contains("note: capstan/app 0.1.0 runs from the local build build/plugins/app.wasm"),
        "{plan:?}"
    );
    assert!(!s.path("capstan.lock").exists(), "a local build is never locked");
    let init = s.run(&["init", ".", "--allow-unsigned"]).ok();
    assert!(
        init.stdout.contains("capstan/app 0.1.0: local build build/plugins/app.wasm (not locked)"),
        "{init:?}"
    );

    // A rebuild (here: the same code with a custom section) is what the next run uses.
    let digest = |s: &Stack| {
        let plan: serde_json::Value =
            serde_json::from_str(&s.run(&["plan", "envs/dev", "--json", "--allow-unsigned"]).ok().stdout)
                .unwrap();
        plan["components"][0]["plugin"]["digest"].as_str().unwrap().to_string()
    };
    let before = digest(&s);
    let mut wasm = std::fs::read(s.path("build/plugins/app.wasm")).unwrap();
    wasm.extend_from_slice(&[0, 6, 5, b'x', b'-', b'd', b'e', b'v']);
    std::fs::write(s.path("build/plugins/app.wasm"), &wasm).unwrap();
    let after = digest(&s);
    assert_ne!(before, after);
    assert_eq!(after, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&wasm)));
    assert!(!s.path("capstan.lock").exists());

    // The build must still match the component's range.
    s.write("envs/dev/web/api/component.hcl", &component("capstan/app", "^0.2"));
    let run = s.run(&["plan", "envs/dev", "--allow-unsigned"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        said(&run).contains("is version 0.1.0, outside the range ^0.2 its component asks for"),
        "{run:?}"
    );
}

#[test]
fn a_registry_login_comes_from_a_secrets_file_and_never_shows() {
    const PASSWORD: &str = "registry-pw-8d1f0c";
    let registry = LocalRegistry::start_with_token_auth("ci", PASSWORD);
    let s = stack(&registry.host, "");
    s.write(
        "client.hcl",
        &client_hcl(&registry.host)
            .replace("url  = ", "username = \"ci\"\n  password = secrets.registry_password\n  url  = "),
    );
    s.run(&["secrets", "keygen"]).ok();
    s.run_with_stdin(&["secrets", "set", "secrets.enc.hcl", "registry_password"], PASSWORD).ok();

    s.run(&["plugin", "keygen", "-o", "keys/acme"]).ok();
    s.run(&["plugin", "pack", env!("CAPSTAN_TEST_APP_WASM"), "--publisher", "acme", "-o", "dist/a.bundle"])
        .ok();
    s.run(&["plugin", "sign", "dist/a.bundle", "--key", "keys/acme.key"]).ok();
    let target = format!("{}/mirror", registry.host);
    let anonymous = s.run(&["plugin", "push", "dist/a.bundle", &target]);
    assert_eq!(anonymous.code, 1, "{anonymous:?}");
    assert!(said(&anonymous).contains("a login is needed"), "{anonymous:?}");
    let out = s
        .command(&["plugin", "push", "dist/a.bundle", &target])
        .env("CAPSTAN_REGISTRY_USERNAME", "ci")
        .env("CAPSTAN_REGISTRY_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let plan = s.run(&["plan", "envs", "--json"]).ok();
    assert!(plan.stdout.contains("Deployment"), "{plan:?}");
    // A wrong password is refused with the reason, and shown nowhere.
    s.run_with_stdin(&["secrets", "set", "secrets.enc.hcl", "registry_password"], "wrong-pw-77ad").ok();
    std::fs::remove_dir_all(s.path(".capstan/plugins")).unwrap();
    let refused = s.run(&["plan", "envs"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(said(&refused).contains("the login was refused"), "{refused:?}");
    for run in [&plan, &refused] {
        assert!(!said(run).contains(PASSWORD) && !said(run).contains("wrong-pw-77ad"), "{run:?}");
    }
    for file in crate::support::walk(s.root()) {
        if file.extension().is_some_and(|e| e == "lock" || e == "json") {
            assert!(
                !std::fs::read_to_string(&file).unwrap_or_default().contains(PASSWORD),
                "{}",
                file.display()
            );
        }
    }
}
