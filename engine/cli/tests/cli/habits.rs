//! The command-line habits terraform, kubectl and helm users rely on: exit
//! codes a CI job can trust, colour only where a person reads it, help for
//! every argument, shell completions.

use crate::support::{app_component, web_stack};

/// A usage error is an error (1), never 2, which `--detailed-exitcode`
/// uses for "changes present".
#[test]
fn usage_errors_exit_1_and_help_and_version_exit_0() {
    let s = web_stack(&["api"]);
    for args in [
        &["plan", "envs/dev", "--bogus"][..],
        &["plan"],
        &["frobnicate"],
        &[],
        &["plan", "envs/dev", "--parallelism", "many"],
        &["--no-color", "apply"],
    ] {
        let run = s.run(args);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains("error:") || run.stderr.contains("Usage:"), "{run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
    }
    for args in [&["--help"][..], &["--version"], &["plan", "--help"], &["help", "apply"], &["state", "-h"]] {
        let run = s.run(args).ok();
        assert!(!run.stdout.is_empty(), "{run:?}");
    }
    assert!(s.run(&["--version"]).stdout.starts_with("capstan "));
}

#[test]
fn detailed_exitcode_keeps_0_for_no_changes_and_2_for_changes() {
    let s = web_stack(&["api"]);
    assert_eq!(s.run(&["plan", "envs/dev", "--detailed-exitcode"]).code, 2);
    assert_eq!(s.run(&["plan", "envs/dev"]).code, 0, "without the flag, changes are not an exit code");
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert_eq!(s.run(&["plan", "envs/dev", "--detailed-exitcode"]).code, 0);
    s.write("envs/dev/web/api/component.hcl", &app_component("registry.example/api:2", "local.env.nope"));
    let broken = s.run(&["plan", "envs/dev", "--detailed-exitcode"]);
    assert_eq!(broken.code, 1, "{broken:?}");
}
