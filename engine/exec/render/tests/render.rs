//! Integration tests of the render target, on real directories:
//! golden output, determinism, no-op re-render, stale removal, user files, modes.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use capstan_core::ComponentId;
use capstan_render::{Delivery, RenderError, RenderReport, RenderedComponent, SecretsPolicy};

use serde_json::{Value, json};

/// These tests write Secrets in clear, as asked for by name; SOPS delivery
/// has its own tests (`sops.rs`).
fn plain() -> SecretsPolicy {
    SecretsPolicy::none().with("staging", Delivery::Plain)
}

fn render(out: &Path, components: &[RenderedComponent]) -> Result<RenderReport, RenderError> {
    capstan_render::render(out, components, &plain())
}

fn id(env: &str, ns: &str, name: &str) -> ComponentId {
    ComponentId { name: name.into(), environment: env.into(), namespace: ns.into() }
}

fn api() -> RenderedComponent {
    RenderedComponent {
        id: id("staging", "core", "api"),
        objects: vec![
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": "api", "namespace": "core", "labels": {"app": "api"}},
                   "spec": {"replicas": 2, "template": {"spec": {"containers": [
                       {"name": "api", "image": "registry.example/api:1.4.2",
                        "args": ["--port", "8080"], "env": [{"name": "FLAG", "value": "yes"}]}]}}}}),
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "api", "namespace": "core"},
                   "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "api"}}}),
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                   "metadata": {"name": "api-db", "namespace": "core"},
                   "stringData": {"password": "not-a-real-password", "config": "line one\nline two\n"}}),
        ],
    }
}

fn db() -> RenderedComponent {
    RenderedComponent {
        id: id("staging", "data", "postgres"),
        objects: vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "pg-settings", "namespace": "data"},
                             "data": {"max_connections": "100", "on": "true"}})],
    }
}

fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn paths(v: &[PathBuf]) -> Vec<String> {
    v.iter().map(|p| p.to_string_lossy().into_owned()).collect()
}

#[test]
fn golden_output() {
    let out = tempfile::tempdir().unwrap();
    render(out.path(), &[api(), db()]).unwrap();
    let actual = tree(out.path());
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    if std::env::var_os("CAPSTAN_UPDATE_GOLDEN").is_some() {
        let _ = fs::remove_dir_all(&golden_dir);
        for (rel, bytes) in &actual {
            let p = golden_dir.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, bytes).unwrap();
        }
    }
    let expected = tree(&golden_dir);
    assert_eq!(actual.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (rel, bytes) in &expected {
        assert_eq!(
            String::from_utf8_lossy(&actual[rel]),
            String::from_utf8_lossy(bytes),
            "{rel} differs from tests/golden (CAPSTAN_UPDATE_GOLDEN=1 rewrites it)"
        );
    }
}

/// The same objects with every map built in reverse key order.
fn reversed(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().rev().map(|(k, v)| (k.clone(), reversed(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(reversed).collect()),
        other => other.clone(),
    }
}

#[test]
fn output_is_deterministic_and_re_render_touches_nothing() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    render(a.path(), &[api(), db()]).unwrap();
    let mut shuffled = vec![db(), api()];
    for c in &mut shuffled {
        c.objects = c.objects.iter().map(reversed).collect();
    }
    render(b.path(), &shuffled).unwrap();
    assert_eq!(tree(a.path()), tree(b.path()));

    let deployment = a.path().join("staging/core/api/deployment-api.yaml");
    let before = fs::metadata(&deployment).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let report = render(a.path(), &[api(), db()]).unwrap();
    assert!(report.is_noop(), "{report:?}");
    assert_eq!(report.unchanged.len(), tree(a.path()).len() - 1, "every file but the marker is unchanged");
    assert_eq!(fs::metadata(&deployment).unwrap().modified().unwrap(), before);

    // One changed object rewrites exactly one file.
    let mut changed = api();
    changed.objects[0]["spec"]["replicas"] = json!(3);
    let report = render(a.path(), &[changed, db()]).unwrap();
    assert_eq!(paths(&report.written), ["staging/core/api/deployment-api.yaml"]);
}

#[test]
fn objects_and_components_that_leave_the_plan_disappear() {
    let out = tempfile::tempdir().unwrap();
    render(out.path(), &[api(), db()]).unwrap();

    let mut smaller = api();
    smaller.objects.remove(1); // the Service
    let report = render(out.path(), &[smaller.clone(), db()]).unwrap();
    assert_eq!(paths(&report.removed), ["staging/core/api/service-api.yaml"]);
    assert_eq!(paths(&report.written), ["staging/core/api/kustomization.yaml"]);
    let k = fs::read_to_string(out.path().join("staging/core/api/kustomization.yaml")).unwrap();
    assert!(!k.contains("service-api.yaml") && k.contains("deployment-api.yaml"), "{k}");

    // The whole data namespace goes: its directories go with it.
    let report = render(out.path(), &[smaller]).unwrap();
    assert!(!out.path().join("staging/data").exists());
    assert!(paths(&report.removed).contains(&"staging/data/postgres/configmap-pg-settings.yaml".to_string()));
    let env = fs::read_to_string(out.path().join("staging/kustomization.yaml")).unwrap();
    assert!(env.contains("- core") && !env.contains("data"), "{env}");

    // Nothing left at all: the tree is empty but the output directory stays.
    render(out.path(), &[]).unwrap();
    assert_eq!(tree(out.path()).keys().collect::<Vec<_>>(), [".capstan-render.json"]);
}

#[test]
fn files_capstan_did_not_write_are_kept_and_never_overwritten() {
    let out = tempfile::tempdir().unwrap();
    render(out.path(), &[api(), db()]).unwrap();
    fs::write(out.path().join("README.md"), "ours").unwrap();
    fs::write(out.path().join("staging/data/postgres/notes.txt"), "ours too").unwrap();

    render(out.path(), &[api()]).unwrap();
    assert_eq!(fs::read_to_string(out.path().join("README.md")).unwrap(), "ours");
    assert_eq!(fs::read_to_string(out.path().join("staging/data/postgres/notes.txt")).unwrap(), "ours too");
    assert!(!out.path().join("staging/data/postgres/configmap-pg-settings.yaml").exists());

    // A user's file where capstan would write: refused, and nothing is touched.
    let fresh = tempfile::tempdir().unwrap();
    fs::create_dir_all(fresh.path().join("staging/core/api")).unwrap();
    fs::write(fresh.path().join("staging/core/api/service-api.yaml"), "hand-written").unwrap();
    let err = render(fresh.path(), &[api()]).unwrap_err();
    assert!(matches!(err, RenderError::WouldOverwrite { .. }), "{err:?}");
    assert!(err.to_string().contains("service-api.yaml"), "{err}");
    assert!(!fresh.path().join("staging/core/api/deployment-api.yaml").exists());
}

#[cfg(unix)]
#[test]
fn secrets_are_written_0600_and_others_0644() {
    use std::os::unix::fs::PermissionsExt;
    let out = tempfile::tempdir().unwrap();
    render(out.path(), &[api()]).unwrap();
    let mode = |f: &str| fs::metadata(out.path().join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("staging/core/api/secret-api-db.yaml"), 0o600);
    assert_eq!(mode("staging/core/api/service-api.yaml"), 0o644);
    // A loosened Secret file is put back to 0600 on the next render.
    fs::set_permissions(
        out.path().join("staging/core/api/secret-api-db.yaml"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let report = render(out.path(), &[api()]).unwrap();
    assert_eq!(paths(&report.written), ["staging/core/api/secret-api-db.yaml"]);
    assert_eq!(mode("staging/core/api/secret-api-db.yaml"), 0o600);
}

#[test]
fn bad_input_is_refused_with_the_component_named() {
    let out = tempfile::tempdir().unwrap();
    let mut dup = db();
    dup.objects.push(dup.objects[0].clone());
    let err = render(out.path(), &[dup]).unwrap_err().to_string();
    assert!(err.contains("staging/data/postgres") && err.contains("configmap-pg-settings.yaml"), "{err}");

    let nameless = RenderedComponent {
        id: id("staging", "core", "x"),
        objects: vec![json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})],
    };
    let err = render(out.path(), &[nameless]).unwrap_err().to_string();
    assert_eq!(
        err,
        "component staging/core/x: object #0 cannot be rendered: it has no kind or no metadata.name"
    );

    let escape = RenderedComponent { id: id("..", "core", "x"), objects: db().objects };
    let err = render(out.path(), &[escape]).unwrap_err();
    assert!(matches!(err, RenderError::UnsafeName { what: "environment", .. }), "{err:?}");
    assert!(tree(out.path()).is_empty(), "nothing written on refusal");
}

/// Strings that YAML readers disagree on, and shapes the emitter must nest right.
fn tricky() -> Value {
    let strings = [
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "n",
        "true",
        "null",
        "~",
        "",
        " ",
        " lead",
        "trail ",
        "0777",
        "1:20",
        "1_000",
        "1e3",
        "-1",
        "+1",
        ".5",
        ".inf",
        ".dockerconfigjson",
        "0x1F",
        "a: b",
        "a #b",
        "#x",
        "- x",
        "-",
        "--",
        "--port",
        "-x",
        "-.5",
        "--1",
        "?x",
        "'quoted'",
        "\"dq\"",
        "back\\slash",
        "tab\there",
        "cr\rhere",
        "bell\u{7}",
        "ünïcødé",
        "a:b",
        "http://x/y?q=1&r=2",
        "<<",
        "line one\nline two\n",
        "no newline\nat end",
        "two\n\ntrailing\n\n",
        "\nstarts with newline",
        "\n  indented after empty",
        "\n\n x\n",
        "t\tab\nblock",
        "  indented\nblock",
        "x\n  indented second\n",
        "*alias",
        "&anchor",
        "!tag",
        "%directive",
        "@at",
        "`tick",
        "[list]",
        "{map}",
        ",comma",
        "|pipe",
        ">fold",
    ];
    let map: serde_json::Map<String, Value> =
        strings.iter().enumerate().map(|(i, s)| (format!("k{i:02}"), json!(s))).collect();
    let keys: serde_json::Map<String, Value> = strings.iter().map(|s| (s.to_string(), json!(1))).collect();
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tricky"},
           "data": map, "keys": keys, "list": strings.to_vec(),
           "nested": [[1, [2, []]], {}, [], {"a": [{"b": {"c": ["multi\nline\n", "x"]}}]}, null, true, 1.5, -7],
           "emptyMap": {}, "emptyList": []})
}

#[test]
fn yaml_reads_back_identically_in_yaml_1_2_and_yaml_1_1() {
    let object = tricky();
    let text = capstan_render::to_yaml(&object).unwrap();
    // YAML 1.2 (serde_norway).
    let back: Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(back, object, "YAML 1.2 read-back differs:\n{text}");
    // YAML 1.1 (PyYAML), which is what Kubernetes' go-yaml v2 lineage reads.
    let mut child = std::process::Command::new("python3")
        .args(["-c", "import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with PyYAML is needed for this test");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "PyYAML failed on:\n{text}");
    let back: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(back, object, "YAML 1.1 read-back differs:\n{text}");
}

#[test]
fn a_component_kept_in_this_run_keeps_its_last_output() {
    let out = tempfile::tempdir().unwrap();
    render(out.path(), &[api(), db()]).unwrap();
    let before = tree(out.path());

    // This run the db component failed: its files stay, untouched, and listed.
    let mut changed = api();
    changed.objects.remove(1);
    let report = capstan_render::render_keeping(out.path(), &[changed], &[db().id], &plain()).unwrap();
    assert!(report.removed.iter().all(|p| !p.starts_with("staging/data")), "{report:?}");
    let after = tree(out.path());
    for rel in before.keys().filter(|k| k.starts_with("staging/data/")) {
        assert_eq!(after[rel], before[rel], "{rel} kept byte for byte");
    }
    let env = String::from_utf8(after["staging/kustomization.yaml"].clone()).unwrap();
    assert!(env.contains("- data"), "{env}");

    // Next run it is gone from the plan for good: now it is removed.
    render(out.path(), &[api()]).unwrap();
    assert!(!out.path().join("staging/data").exists());
}

#[test]
fn components_applied_one_by_one_in_parallel_give_the_same_tree_as_one_render() {
    let whole = tempfile::tempdir().unwrap();
    render(whole.path(), &[api(), db()]).unwrap();

    let out = tempfile::tempdir().unwrap();
    let target = capstan_render::RenderTarget::new(out.path(), plain());
    std::thread::scope(|s| {
        s.spawn(|| target.apply_component(&api()).unwrap());
        s.spawn(|| target.apply_component(&db()).unwrap());
    });
    target.flush().unwrap();
    assert_eq!(tree(out.path()), tree(whole.path()));

    // Re-applying an unchanged component touches nothing.
    assert!(target.apply_component(&api()).unwrap().is_noop());

    // What the target holds reads back as the object that was applied.
    let service = target.current(&api().id, "Service", "api").unwrap().unwrap();
    assert_eq!(service, api().objects[1]);
    assert_eq!(target.current(&api().id, "Service", "nope").unwrap(), None);

    // Destroying one component leaves the tree a render without it would give.
    target.remove_component(&db().id).unwrap();
    target.flush().unwrap();
    let only_api = tempfile::tempdir().unwrap();
    render(only_api.path(), &[api()]).unwrap();
    assert_eq!(tree(out.path()), tree(only_api.path()));
}

/// `capstan state mv`: a component renamed in the tree takes its files
/// along, byte for byte and mode for mode, so its next plan finds them.
#[cfg(unix)]
#[test]
fn a_moved_component_takes_its_files_and_never_lands_on_another() {
    use std::os::unix::fs::PermissionsExt;
    let out = tempfile::tempdir().unwrap();
    let target = capstan_render::RenderTarget::new(out.path(), plain());
    target.apply_component(&api()).unwrap();
    target.apply_component(&db()).unwrap();
    let before = tree(out.path());
    let gateway = id("staging", "core", "gateway");

    let files = target.component_files(&api().id).unwrap();
    assert_eq!(files.len(), 4, "three objects and the component's kustomization");
    target.move_in(&gateway, files).unwrap();
    target.remove_component(&api().id).unwrap();
    target.flush().unwrap();

    let after = tree(out.path());
    for (rel, bytes) in before.iter().filter(|(rel, _)| rel.starts_with("staging/core/api/")) {
        let moved = rel.replacen("staging/core/api/", "staging/core/gateway/", 1);
        assert_eq!(after.get(&moved), Some(bytes), "{moved}");
    }
    assert!(!out.path().join("staging/core/api").exists());
    let mode = |f: &str| fs::metadata(out.path().join(f)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("staging/core/gateway/secret-api-db.yaml"), 0o600);
    assert_eq!(
        String::from_utf8_lossy(&after["staging/core/kustomization.yaml"]).matches("gateway").count(),
        1
    );
    assert!(!String::from_utf8_lossy(&after["staging/core/kustomization.yaml"]).contains("- api"));
    let service = target.current(&gateway, "Service", "api").unwrap().unwrap();
    assert_eq!(service, api().objects[1]);

    // Onto a component that has files of its own: refused, nothing changed.
    let files = target.component_files(&gateway).unwrap();
    let err = target.move_in(&db().id, files).unwrap_err();
    assert!(matches!(err, RenderError::Occupied { .. }), "{err:?}");
    assert!(err.to_string().contains("staging/data/postgres already holds rendered files"), "{err}");
    target.flush().unwrap();
    assert_eq!(tree(out.path()), after);
    // A component with nothing rendered has nothing to move.
    assert!(target.component_files(&id("staging", "core", "nothing")).unwrap().is_empty());
}

#[test]
fn a_lost_marker_does_not_block_the_next_render() {
    let out = tempfile::tempdir().unwrap();
    render(out.path(), &[api(), db()]).unwrap();
    // A crash before the marker was written: capstan's files are recognised by their header.
    fs::remove_file(out.path().join(".capstan-render.json")).unwrap();
    let mut changed = api();
    changed.objects[0]["spec"]["replicas"] = json!(5);
    let report = render(out.path(), &[changed.clone(), db()]).unwrap();
    assert_eq!(paths(&report.written), ["staging/core/api/deployment-api.yaml"]);
    // Same through the per-component target.
    fs::remove_file(out.path().join(".capstan-render.json")).unwrap();
    let target = capstan_render::RenderTarget::new(out.path(), plain());
    assert!(target.apply_component(&changed).unwrap().is_noop());
}

#[test]
fn a_temporary_file_left_by_a_crashed_run_is_replaced_not_in_the_way() {
    let out = tempfile::tempdir().unwrap();
    render(out.path(), &[api()]).unwrap();
    // What a run killed between creating its temporary file and renaming it
    // leaves behind (a later run can get the same process id).
    let dir = out.path().join("staging/core/api");
    let leftover = dir.join(format!(".deployment-api.yaml.capstan-tmp-{}", std::process::id()));
    fs::write(&leftover, "half a file").unwrap();

    let mut changed = api();
    changed.objects[0]["spec"]["replicas"] = json!(5);
    let report = render(out.path(), &[changed]).unwrap();
    assert_eq!(paths(&report.written), ["staging/core/api/deployment-api.yaml"]);
    assert!(!leftover.exists(), "the leftover was renamed into place as the new file");
    let written = fs::read_to_string(dir.join("deployment-api.yaml")).unwrap();
    assert!(written.contains("replicas: 5"), "{written}");
}

/// Kustomizations are written once, at the flush; a run that stops before
/// it leaves a pending file, and the next target's flush writes them all.
#[test]
fn kustomizations_wait_for_the_flush_and_a_run_that_stopped_before_it_is_repaired() {
    let whole = tempfile::tempdir().unwrap();
    render(whole.path(), &[api(), db()]).unwrap();

    let out = tempfile::tempdir().unwrap();
    let target = capstan_render::RenderTarget::new(out.path(), plain());
    target.apply_component(&api()).unwrap();
    assert!(
        !out.path().join("staging/core/kustomization.yaml").exists(),
        "written at the flush, not per component"
    );
    target.apply_component(&db()).unwrap();
    assert!(target.needs_repair());
    // The run dies here: no flush, no drop.
    std::mem::forget(target);
    assert!(!out.path().join("staging/kustomization.yaml").exists());

    let next = capstan_render::RenderTarget::new(out.path(), plain());
    assert!(next.needs_repair(), "the stopped run is seen");
    next.flush().unwrap();
    assert!(!next.needs_repair());
    assert_eq!(tree(out.path()), tree(whole.path()));
}

#[test]
fn the_record_knows_a_file_as_written_until_it_is_edited_and_never_records_a_secret() {
    let out = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let record = state.path().join("rendered/out.json");
    let component = api();
    let target = capstan_render::RenderTarget::new(out.path(), plain()).with_record(&record);
    target.apply_component(&component).unwrap();
    // A clock tick between the writes and the record's save, as in any
    // run longer than a few milliseconds: the stamps are trusted.
    std::thread::sleep(std::time::Duration::from_millis(50));
    target.flush().unwrap();
    drop(target);

    let next = capstan_render::RenderTarget::new(out.path(), plain()).with_record(&record);
    let [deployment, service, secret] = component.objects.as_slice() else { panic!() };
    assert!(next.holds(&component.id, deployment));
    assert!(next.holds(&component.id, service));
    assert!(!next.holds(&component.id, secret), "a Secret is always read back");
    let saved = fs::read_to_string(&record).unwrap();
    assert!(!saved.contains("secret-api-db"), "a Secret's file is recorded: {saved}");

    // Another object than the one written is not held.
    let mut scaled = deployment.clone();
    scaled["spec"]["replicas"] = json!(3);
    assert!(!next.holds(&component.id, &scaled));

    // Edited by hand to the same size: no longer known, and read back as it is now.
    let file = out.path().join("staging/core/api/deployment-api.yaml");
    let edited = fs::read_to_string(&file).unwrap().replace("replicas: 2", "replicas: 7");
    fs::write(&file, edited).unwrap();
    assert!(!next.holds(&component.id, deployment));
    let now = next.current(&component.id, "Deployment", "api").unwrap().unwrap();
    assert_eq!(now["spec"]["replicas"], json!(7));

    // Without a record, nothing is known.
    let bare = capstan_render::RenderTarget::new(out.path(), plain());
    assert!(!bare.holds(&component.id, service));
}
