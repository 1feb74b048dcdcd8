//! The manifest checks every built-in plugin's tests run: a plan's objects
//! are written out as YAML and handed to the repository's validator,
//! `tests/validate_manifests.py`, which checks built-in kinds against the
//! Kubernetes 1.30 OpenAPI schemas (strict: unknown fields are errors) and
//! custom resources against the upstream CRDs vendored in `tests/crds`. It
//! needs python3 with `kubernetes-validate`, `jsonschema` and `yaml`
//! (`tests/setup.sh` installs them); a missing tool fails the test, it
//! never skips.
//!
//! Why a crate of its own and not a feature of `capstan_sdk::testkit`: the
//! test kit is what a third-party plugin author gets from the SDK, and it
//! must work wherever the SDK is used. These checks work only inside this
//! repository, next to its validator script and its vendored CRDs, so they
//! live in an unpublished crate the built-in plugins take as a
//! dev-dependency. A plugin's own checks (the WAF plugin's ModSecurity rule
//! check) stay in that plugin's `tests/support`.
//!
//! It also runs the programs plugin tests start (`initdb`, `openssl`, …)
//! so that a failure shows the command and what it printed ([`run`]), and
//! the real `promtool` on the alert rules plugins render
//! ([`promtool_check_rules`]).
//!
//! It does not plan anything (the SDK's test kit does), and does not talk to
//! a cluster.

#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The validator, found from this crate's directory (`sdk/testsupport`).
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/validate_manifests.py")
}

/// Writes `objects` as one YAML file per object (named after its position,
/// kind and name, so the report points at the object) and validates them.
/// `allow_missing_crd` lists `group/version/Kind`s whose CRD is not in the
/// vendored set (each caller says why). `Ok` and `Err` both carry the
/// command and its output; `Err` when some object is invalid.
pub fn validate(objects: &[Value], allow_missing_crd: &[&str]) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("a temp dir for the manifests");
    for (i, object) in objects.iter().enumerate() {
        let kind = object["kind"].as_str().unwrap_or("object").to_lowercase();
        let name = object["metadata"]["name"].as_str().unwrap_or("unnamed");
        let yaml = serde_norway::to_string(object).expect("objects serialise to YAML");
        std::fs::write(dir.path().join(format!("{i:03}-{kind}-{name}.yaml")), yaml)
            .expect("write a manifest");
    }
    let mut cmd = Command::new("python3");
    cmd.arg(script());
    for kind in allow_missing_crd {
        cmd.arg("--allow-missing-crd").arg(kind);
    }
    cmd.arg(dir.path());
    let out = cmd.output().expect("python3 runs (install it and run tests/setup.sh)");
    let report = format!(
        "command: {cmd:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() { Ok(report) } else { Err(report) }
}

/// Panics with the validator's report unless every object is valid.
pub fn assert_valid(objects: &[Value], allow_missing_crd: &[&str]) {
    if let Err(report) = validate(objects, allow_missing_crd) {
        panic!("rendered objects are not valid:\n{report}");
    }
}

/// As [`assert_valid`] with every CRD required, naming the case (`label`)
/// in the failure, for tests that check several plans.
pub fn assert_valid_manifests(label: &str, objects: &[Value]) {
    if let Err(report) = validate(objects, &[]) {
        panic!("{label}: rendered objects are not valid:\n{report}");
    }
}

/// Runs `command`, panicking with [`try_run`]'s message on failure.
pub fn run(command: &mut Command) {
    if let Err(e) = try_run(command) {
        panic!("{e}");
    }
}

/// Runs `command`; a failure names it, the working directory, stdout and stderr.
pub fn try_run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{command:?} failed ({}) in {}:\nstdout:\n{}\nstderr:\n{}",
        output.status,
        std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// Runs `promtool <args>` in `dir` (Debian's `prometheus` package provides
/// it; `tests/setup.sh` installs it). `Ok` and `Err` both carry the command
/// and what it printed; `Err` when promtool failed. A missing promtool fails
/// the test with how to install it: it never skips.
pub fn promtool(dir: &Path, args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new("promtool");
    cmd.args(args).current_dir(dir);
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run promtool ({e}): install Debian's `prometheus` package, which provides \
             /usr/bin/promtool (tests/setup.sh does)"
        )
    });
    let report = format!(
        "command: {cmd:?} in {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() { Ok(report) } else { Err(report) }
}

/// `promtool check rules` on `rules` (a Prometheus rules file, or a
/// PrometheusRule's `spec`, which is one), written as YAML in a directory
/// of its own.
pub fn promtool_check_rules(rules: &Value) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("a temp dir for the rules");
    let yaml = serde_norway::to_string(rules).expect("rules serialise to YAML");
    std::fs::write(dir.path().join("rules.yaml"), yaml).expect("write the rules");
    promtool(dir.path(), &["check", "rules", "rules.yaml"])
}

/// The alerts of a PrometheusRule, by name, in their order; every rule
/// must be an alert.
pub fn alert_names(rule: &Value) -> Vec<&str> {
    rule["spec"]["groups"]
        .as_array()
        .expect("a PrometheusRule has spec.groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("each group has rules"))
        .map(|r| r["alert"].as_str().expect("every rule is an alert"))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config_map(name: &str, data: Value) -> Value {
        json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name }, "data": data })
    }

    #[test]
    fn valid_objects_pass_and_the_report_names_an_invalid_one() {
        validate(&[config_map("settings", json!({ "level": "info" }))], &[])
            .unwrap_or_else(|r| panic!("{r}"));

        let report = validate(
            &[config_map("settings", json!({})), config_map("Not_A_Name", json!({ "level": 3 }))],
            &[],
        )
        .expect_err("a bad name and a non-string value are invalid");
        assert!(report.contains("001-configmap-Not_A_Name.yaml"), "{report}");
        assert!(report.contains("ConfigMap/Not_A_Name"), "{report}");
    }

    #[test]
    fn a_custom_resource_needs_its_crd_unless_the_caller_allows_it() {
        let unknown = json!({
            "apiVersion": "example.invalid/v1", "kind": "Widget", "metadata": { "name": "w" }, "spec": {},
        });
        let report = validate(std::slice::from_ref(&unknown), &[]).expect_err("no CRD for Widget");
        assert!(report.contains("Widget"), "{report}");
        validate(&[unknown], &["example.invalid/v1/Widget"]).unwrap_or_else(|r| panic!("{r}"));
    }
}
