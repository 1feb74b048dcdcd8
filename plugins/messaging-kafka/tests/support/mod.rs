//! Runs `tests/validate_manifests.py` (Kubernetes 1.30 schemas for built-in
//! kinds, the upstream CRDs in `tests/crds` for custom resources) over a
//! plan's objects, the way the engine's render output would be checked.
//! Needs python3 with `kubernetes-validate`, `jsonschema` and `yaml`
//! (installed by tests/setup.sh).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The script, from this crate's directory (`plugins/<name>`).
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/validate_manifests.py")
}

/// Writes `objects` as one YAML file per object and validates the directory.
/// `allow_missing_crd` lists `group/version/Kind`s whose CRD is not in the
/// vendored set (each use says why).
pub fn validate(objects: &[Value], allow_missing_crd: &[&str]) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    for (i, object) in objects.iter().enumerate() {
        let kind = object["kind"].as_str().unwrap_or("object").to_lowercase();
        let name = object["metadata"]["name"].as_str().unwrap_or("unnamed");
        let yaml = serde_norway::to_string(object).expect("objects serialise to YAML");
        std::fs::write(dir.path().join(format!("{i:03}-{kind}-{name}.yaml")), yaml).expect("write YAML");
    }
    let mut cmd = Command::new("python3");
    cmd.arg(script());
    for kind in allow_missing_crd {
        cmd.arg("--allow-missing-crd").arg(kind);
    }
    cmd.arg(dir.path());
    let out = cmd.output().expect("python3 runs (install it and run tests/setup.sh)");
    let text = format!(
        "command: {cmd:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() { Ok(text) } else { Err(text) }
}

/// Panics with the validator's report unless every object is valid.
pub fn assert_valid(objects: &[Value], allow_missing_crd: &[&str]) {
    if let Err(report) = validate(objects, allow_missing_crd) {
        panic!("rendered objects are not valid:\n{report}");
    }
}
