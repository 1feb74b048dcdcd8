//! The open-finance example (`examples/open-finance`), as a newcomer runs it:
//! both environments validate, staging applies to the render target, and
//! every rendered object is valid Kubernetes 1.30 / valid against the
//! upstream CRDs. The two environments differ only in env.hcl and secrets.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::Stack;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A copy of the example, so runs leave nothing in the checkout.
fn example() -> Stack {
    let s = Stack { dir: tempfile::tempdir().unwrap() };
    copy_dir(&repo_root().join("examples/open-finance"), s.root());
    s
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name();
        if name == "rendered" || name == ".capstan" {
            continue;
        }
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(&name))
        } else {
            std::fs::copy(e.path(), to.join(&name)).map(|_| ()).unwrap()
        }
    }
}

fn with_test_key(s: &Stack, args: &[&str]) -> crate::support::Run {
    let mut c = s.command(args);
    c.env("CAPSTAN_AGE_KEY_FILE", s.path("TEST-ONLY-age-key.txt"));
    let out = c.output().unwrap();
    crate::support::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        command: format!("capstan {}", args.join(" ")),
    }
}

#[test]
fn both_environments_validate_and_staging_renders_valid_kubernetes() {
    let s = example();
    with_test_key(&s, &["validate", "envs/staging"]).ok();
    with_test_key(&s, &["validate", "envs/production"]).ok();
    with_test_key(&s, &["plan", "envs/production", "--no-color"]).ok();

    let out = s.path("out");
    let apply = with_test_key(
        &s,
        &["apply", "envs/staging", "--auto-approve", "--no-color", "--out-dir", out.to_str().unwrap()],
    )
    .ok();
    assert!(apply.stdout.contains("Apply complete"), "{apply:?}");
    for app in ["oob-consent", "oob-payments", "oob-directory-sync"] {
        assert!(
            out.join(format!("staging/open-finance/{app}/deployment-{app}.yaml")).exists(),
            "{app} rendered: {apply:?}"
        );
    }
    let again =
        with_test_key(&s, &["apply", "envs/staging", "--auto-approve", "--out-dir", out.to_str().unwrap()])
            .ok();
    assert!(again.stdout.contains("No changes."), "{again:?}");

    // Every object file; the kustomization.yaml indexes are not Kubernetes objects.
    let objects: Vec<PathBuf> = walk(&out)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("kustomization.yaml"))
        .collect();
    assert!(objects.len() > 20, "staging renders the whole platform: {objects:?}");
    let check = Command::new("python3")
        .arg(repo_root().join("tests/validate_manifests.py"))
        .args(&objects)
        .env("CAPSTAN_CRDS_DIR", repo_root().join("../shared/crds"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "rendered objects are invalid:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn environments_differ_only_in_env_hcl_and_secrets() {
    let root = repo_root().join("examples/open-finance/envs");
    let files = |env: &str| -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.join(env)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.strip_prefix(root.join(env)).unwrap().to_path_buf());
                }
            }
        }
        out.retain(|p| p != Path::new("env.hcl") && !p.ends_with("secrets.enc.hcl"));
        out.sort();
        out
    };
    let (staging, production) = (files("staging"), files("production"));
    assert_eq!(staging, production, "the same components in both environments");
    for rel in &staging {
        let a = std::fs::read(root.join("staging").join(rel)).unwrap();
        let b = std::fs::read(root.join("production").join(rel)).unwrap();
        assert!(a == b, "{} differs between staging and production", rel.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
