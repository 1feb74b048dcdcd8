//! Whether rendered objects are valid Kubernetes 1.30, or valid against the
//! CRDs of the custom resources they are: a seam, so the kit's other checks
//! are tested without Python, and one implementation that runs the
//! repository's validator (`tests/validate_manifests.py`, as
//! capstan-plugin-testsupport does for the built-in plugins' own tests).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// What a validator made of a set of objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every object is valid (a custom resource whose CRD is listed as
    /// missing passes unchecked).
    Valid,
    /// At least one object is invalid; the validator's report names it.
    Invalid(String),
    /// The check could not run (no python3, a missing Python module, no
    /// script): the kit fails it rather than pass what nobody checked.
    Unavailable(String),
}

/// Checks rendered objects, each with a label that names where it came from.
pub trait ManifestValidator {
    /// `missing_crds` lists `group/version/Kind`s whose CRD the validator
    /// may lack without calling the object invalid (the kit names them).
    fn validate(&self, objects: &[(String, Value)], missing_crds: &[&str]) -> Verdict;
}

/// Runs `python3 <script> [--crds DIR] <dir of one file per object>`.
#[derive(Debug, Clone)]
pub struct ScriptValidator {
    /// The validator script: the repository's `tests/validate_manifests.py`
    /// unless `CAPSTAN_MANIFEST_VALIDATOR` or the caller names another.
    pub script: PathBuf,
    /// The CRDs custom resources are checked against; `None`: the script's
    /// own default (`$CAPSTAN_CRDS_DIR`, else `crds/` beside it).
    pub crds: Option<PathBuf>,
}

impl ManifestValidator for ScriptValidator {
    fn validate(&self, objects: &[(String, Value)], missing_crds: &[&str]) -> Verdict {
        if !self.script.is_file() {
            return Verdict::Unavailable(format!(
                "the manifest validator {} does not exist",
                self.script.display()
            ));
        }
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => return Verdict::Unavailable(format!("no temporary directory for the manifests: {e}")),
        };
        for (i, (label, object)) in objects.iter().enumerate() {
            // JSON is YAML: the validator reads each file as YAML documents.
            let name = format!("{i:03}-{}.yaml", file_safe(label));
            if let Err(e) = std::fs::write(dir.path().join(name), object.to_string()) {
                return Verdict::Unavailable(format!("writing the manifests: {e}"));
            }
        }
        let mut cmd = Command::new("python3");
        cmd.arg(&self.script);
        if let Some(crds) = &self.crds {
            cmd.arg("--crds").arg(crds);
        }
        for kind in missing_crds {
            cmd.arg("--allow-missing-crd").arg(kind);
        }
        cmd.arg(dir.path());
        let out = match cmd.output() {
            Ok(out) => out,
            Err(e) => return Verdict::Unavailable(format!("python3 does not run ({e}): install it")),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return Verdict::Valid;
        }
        // A Python module the validator imports is missing: an environment
        // problem, not an answer about the objects.
        if stderr.contains("ModuleNotFoundError") || stderr.contains("missing Python module") {
            let line = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
            return Verdict::Unavailable(format!(
                "the manifest validator lacks a Python module ({}): install kubernetes-validate, jsonschema and PyYAML (tests/setup.sh)",
                line.trim()
            ));
        }
        if out.status.code() == Some(2) {
            return Verdict::Unavailable(format!("the manifest validator refused to run: {}", stderr.trim()));
        }
        Verdict::Invalid(
            format!("{}{}", stdout.trim(), if stderr.trim().is_empty() { "" } else { "\n" }) + stderr.trim(),
        )
    }
}

/// A label as part of a file name: the validator's report names the file.
fn file_safe(label: &str) -> String {
    label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect()
}
