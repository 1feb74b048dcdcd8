//! One broken tree per kind of error, against the exact expected text.
//!
//! Each directory under `fixtures/errors/` is a stack root. It is loaded; if
//! it loads, every component is resolved (with `plugins.json` and
//! `outputs.json` beside `client.hcl` when present, and the command named in
//! `command.txt`, plan by default). Every diagnostic is compared with
//! `expected.err`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use capstan_config::{Command, ConfigError, Diagnostics, load};
use strum::VariantNames;

use crate::support::{expect_file, fixtures, options, read_outputs, read_plugins, resolve_all};

/// What a broken tree reports: the text users see, and the kind of each error.
fn run(case: &Path) -> (String, BTreeSet<&'static str>) {
    let command = match std::fs::read_to_string(case.join("command.txt")).unwrap_or_default().trim() {
        "apply" => Command::Apply,
        "validate" => Command::Validate,
        _ => Command::Plan,
    };
    let kinds = |d: &Diagnostics| d.0.iter().map(|d| <&'static str>::from(&d.error)).collect::<Vec<_>>();
    match load(case, &options()) {
        // The one error that names an absolute path: where the search started.
        Err(d) => {
            (d.to_string().replace(&case.display().to_string(), "<case>"), kinds(&d).into_iter().collect())
        }
        Ok(stack) => {
            let plugins = read_plugins(&case.join("plugins.json"));
            let outputs = read_outputs(&case.join("outputs.json"));
            let mut out = String::new();
            let mut seen = BTreeSet::new();
            for (key, r) in resolve_all(&stack, &plugins, &outputs, command) {
                if let Err(d) = r {
                    out.push_str(&format!("== resolving {key} ({command})\n{d}"));
                    seen.extend(kinds(&d));
                }
            }
            (out, seen)
        }
    }
}

fn cases() -> Vec<PathBuf> {
    let root = fixtures().join("errors");
    let mut cases: Vec<_> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    cases
}

#[test]
fn every_broken_tree_reports_its_expected_errors() {
    let cases = cases();
    assert!(cases.len() >= 12, "expected the whole corpus, found {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let (actual, _) = run(case);
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if actual.trim().is_empty() {
            failures.push(format!("{name}: no error reported"));
            continue;
        }
        if let Err(e) = std::panic::catch_unwind(|| expect_file(&case.join("expected.err"), &actual)) {
            failures.push(format!("{name}: {}", e.downcast_ref::<String>().cloned().unwrap_or_default()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every kind of error has a broken tree that shows it, so its message is
/// read by someone at least once.
#[test]
fn every_kind_of_error_has_a_fixture() {
    let shown: BTreeSet<&'static str> = cases().iter().flat_map(|case| run(case).1).collect();
    let missing: Vec<_> = ConfigError::VARIANTS.iter().filter(|v| !shown.contains(*v)).collect();
    assert!(missing.is_empty(), "no fixture under fixtures/errors/ shows {missing:?}");
}
