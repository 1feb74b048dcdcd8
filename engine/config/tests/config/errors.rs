//! One broken tree per kind of error, against the exact expected text.
//!
//! Each directory under `fixtures/errors/` is a stack root. It is loaded; if
//! it loads, every component is resolved (with `plugins.json` and
//! `outputs.json` beside `client.hcl` when present, and the command named in
//! `command.txt`, plan by default). Every diagnostic is compared with
//! `expected.err`.

use std::path::Path;

use capstan_config::{Command, load};

use crate::support::{expect_file, fixtures, options, read_outputs, read_plugins, resolve_all};

fn run(case: &Path) -> String {
    let command = match std::fs::read_to_string(case.join("command.txt")).unwrap_or_default().trim() {
        "apply" => Command::Apply,
        "validate" => Command::Validate,
        _ => Command::Plan,
    };
    match load(case, &options()) {
        Err(d) => d.to_string(),
        Ok(stack) => {
            let plugins = read_plugins(&case.join("plugins.json"));
            let outputs = read_outputs(&case.join("outputs.json"));
            let mut out = String::new();
            for (key, r) in resolve_all(&stack, &plugins, &outputs, command) {
                if let Err(d) = r {
                    out.push_str(&format!("== resolving {key} ({command})\n{d}"));
                }
            }
            out
        }
    }
}

#[test]
fn every_broken_tree_reports_its_expected_errors() {
    let root = fixtures().join("errors");
    let mut cases: Vec<_> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    cases.sort();
    assert!(cases.len() >= 12, "expected the whole corpus, found {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let actual = run(case);
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
