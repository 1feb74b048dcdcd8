//! Shared helpers: a plaintext secret provider and fixture plumbing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_config::{Command, DependencyOutputs, Diagnostics, LoadOptions, ResolvedInputs, Stack};
use capstan_core::{Output, SecretProvider, SecretSourceError, Sensitive};
use serde_json::Value;

/// A test double for the `SecretProvider` seam: "encrypted" files here are
/// plaintext `name = "value"` lines (or `name = <<EOT … EOT` blocks), and
/// references resolve from a fixed map. Real decryption (age) is another
/// crate's job and is tested there; this crate only needs the seam.
pub struct PlaintextProvider {
    pub refs: BTreeMap<String, String>,
}

impl SecretProvider for PlaintextProvider {
    fn open_file(
        &self,
        path: &Path,
        contents: &[u8],
    ) -> Result<BTreeMap<String, Sensitive>, SecretSourceError> {
        let text = std::str::from_utf8(contents).map_err(|_| format!("{} is not UTF-8", path.display()))?;
        let mut out = BTreeMap::new();
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            let Some((name, value)) = line.split_once('=') else { continue };
            let (name, value) = (name.trim(), value.trim());
            if let Some(delim) = value.strip_prefix("<<") {
                let mut body = String::new();
                for l in lines.by_ref() {
                    if l.trim() == delim {
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                out.insert(name.to_owned(), Sensitive::new(body));
            } else {
                out.insert(name.to_owned(), Sensitive::new(value.trim_matches('"')));
            }
        }
        Ok(out)
    }

    fn resolve_ref(&self, reference: &str) -> Result<Sensitive, SecretSourceError> {
        self.refs
            .get(reference)
            .map(|v| Sensitive::new(v.clone()))
            .ok_or_else(|| format!("no secret at `{reference}`").into())
    }
}

/// Writes `files` (path → contents) under a fresh temporary directory.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }
    dir
}

pub fn options() -> LoadOptions {
    let refs = BTreeMap::from([(
        "ssm:/oof/production/sentry-dsn".to_owned(),
        "https://key@sentry.example/42".to_owned(),
    )]);
    LoadOptions {
        secrets: Some(Arc::new(PlaintextProvider { refs })),
        env: BTreeMap::from([("OOF_LOG_LEVEL".to_owned(), "INFO".to_owned())]),
    }
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Plugin name → (defaults YAML, input schema).
pub type Plugins = BTreeMap<String, (String, Value)>;

pub fn read_plugins(path: &Path) -> Plugins {
    let Ok(text) = std::fs::read_to_string(path) else { return Plugins::new() };
    let v: Value = serde_json::from_str(&text).unwrap();
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, p)| (k.clone(), (p["defaults"].as_str().unwrap_or("").to_owned(), p["schema"].clone())))
        .collect()
}

/// Component key → outputs.
pub fn read_outputs(path: &Path) -> BTreeMap<String, Vec<Output>> {
    let Ok(text) = std::fs::read_to_string(path) else { return BTreeMap::new() };
    serde_json::from_str(&text).unwrap()
}

/// Resolves every target component in dependency order, as a planner would.
pub fn resolve_all(
    stack: &Stack,
    plugins: &Plugins,
    outputs: &BTreeMap<String, Vec<Output>>,
    command: Command,
) -> BTreeMap<String, Result<ResolvedInputs, Diagnostics>> {
    let mut out = BTreeMap::new();
    for key in stack.order() {
        let c = stack.component(key).unwrap();
        if !c.in_target {
            continue;
        }
        let deps: BTreeMap<String, DependencyOutputs> = c
            .dependencies
            .values()
            .map(|d| {
                (d.name.clone(), DependencyOutputs::new(outputs.get(&d.target).cloned().unwrap_or_default()))
            })
            .collect();
        let (defaults, schema) = plugins.get(&c.plugin).cloned().unwrap_or((String::new(), Value::Null));
        out.insert(key.to_owned(), c.resolve_inputs(&deps, command, &defaults, &schema));
    }
    out
}

/// Compares `actual` with the file at `path`, or writes it when UPDATE_EXPECT is set.
pub fn expect_file(path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("{} is missing; run with UPDATE_EXPECT=1 to create it", path.display()));
    assert!(
        expected == actual,
        "{} differs from the actual output:\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}
