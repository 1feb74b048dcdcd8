//! Runs the repository's manifest validator (Kubernetes 1.30 schemas and the
//! upstream CRDs) over a plan's objects. Shared by this crate's tests.

use std::path::PathBuf;
use std::process::Command;

/// Writes `objects` as a multi-document YAML file (JSON is YAML) and runs
/// `tests/validate_manifests.py` on it; panics with its report when invalid.
pub fn assert_valid_manifests(label: &str, objects: &[serde_json::Value]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("tests/validate_manifests.py");
    let file = std::env::temp_dir().join(format!(
        "capstan-{}-{}-{label}.yaml",
        env!("CARGO_PKG_NAME"),
        std::process::id()
    ));
    let text: Vec<String> = objects.iter().map(|o| o.to_string()).collect();
    std::fs::write(&file, text.join("\n---\n")).expect("write the manifests");
    let out =
        Command::new("python3").arg(&script).arg(&file).output().expect("run python3 (see tests/setup.sh)");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{label}: `python3 {} <manifests>` failed:\n{}{}",
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Parses ModSecurity rules with libmodsecurity's own checker
/// (`modsec-rules-check`, Debian `libmodsecurity3`). Returns whether they
/// loaded and the checker's report.
pub fn modsecurity_rules_check(label: &str, rules: &str) -> (bool, String) {
    let checker = std::fs::read_dir("/usr/lib")
        .expect("read /usr/lib")
        .filter_map(Result::ok)
        .map(|d| d.path().join("libexec/modsec-rules-check"))
        .find(|p| p.exists())
        .expect(
            "modsec-rules-check not found: apt-get install libmodsecurity3 modsecurity-crs (tests/setup.sh)",
        );
    let file = std::env::temp_dir().join(format!("capstan-modsec-{}-{label}.conf", std::process::id()));
    std::fs::write(&file, rules).expect("write the rules");
    let out = Command::new(&checker).arg(&file).output().expect("run modsec-rules-check");
    let _ = std::fs::remove_file(&file);
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success() && report.contains("Test ok"), report)
}
