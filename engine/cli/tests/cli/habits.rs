//! The command-line habits terraform, kubectl and helm users rely on: exit
//! codes a CI job can trust, colour only where a person reads it, help for
//! every argument, shell completions.

use crate::support::{Stack, app_component, web_stack};

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

/// Runs `capstan` with stdout and stderr on a pseudo-terminal (util-linux
/// `script`), as a person at a terminal would; returns what the terminal
/// showed.
fn on_terminal(s: &Stack, args: &[&str], env: &[(&str, &str)]) -> String {
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_capstan"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let mut command = s.command(&[]);
    command.env_remove("NO_COLOR").envs(env.iter().copied());
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &quoted.join(" "), "/dev/null"])
        .current_dir(s.root())
        .stdin(std::process::Stdio::null());
    for (k, v) in command.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let out = script.output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `text` holds an ANSI colour (SGR) sequence: ESC `[` digits `m`.
fn has_colour(text: &str) -> bool {
    text.split("\x1b[").skip(1).any(|rest| {
        let params: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == ';').collect();
        rest[params.len()..].starts_with('m')
    })
}

/// Debug logs of the plugin host: every run of `validate` writes one.
const SOME_LOGS: (&str, &str) = ("CAPSTAN_LOG", "wasmtime::runtime::vm=debug");

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let s = web_stack(&["api"]);
    // Piped: logs, progress, plan, tables and usage errors carry no escape codes at all.
    let mut piped = s.command(&["validate", "."]);
    piped.env(SOME_LOGS.0, SOME_LOGS.1).env_remove("NO_COLOR");
    let out = piped.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DEBUG"), "the logs this test relies on are written: {stderr}");
    assert!(!stderr.contains('\x1b') && !out.stdout.contains(&0x1b), "{stderr}");
    for args in [&["plan", "envs/dev"][..], &["apply", "envs/dev", "--auto-approve"], &["plan", "--bogus"]] {
        let run = s.run(args);
        assert!(!run.stdout.contains('\x1b') && !run.stderr.contains('\x1b'), "{run:?}");
    }

    // On a terminal: colour, unless NO_COLOR is set to something or --no-color is given.
    let validate = ["validate", "."];
    assert!(has_colour(&on_terminal(&s, &validate, &[SOME_LOGS])), "logs are coloured on a terminal");
    assert!(has_colour(&on_terminal(&s, &["plan", "--bogus"], &[])), "so are usage errors");
    assert!(
        has_colour(&on_terminal(&s, &validate, &[SOME_LOGS, ("NO_COLOR", "")])),
        "an empty NO_COLOR counts as unset"
    );
    for (args, env) in [
        (&validate[..], &[SOME_LOGS, ("NO_COLOR", "1")][..]),
        (&["--no-color", "validate", "."], &[SOME_LOGS]),
        (&["plan", "--bogus"], &[("NO_COLOR", "yes")]),
        (&["plan", "--bogus", "--no-color"], &[]),
        (&["plan", "envs/dev"], &[SOME_LOGS, ("NO_COLOR", "1")]),
    ] {
        let shown = on_terminal(&s, args, env);
        assert!(shown.contains("DEBUG") || shown.contains("error") || shown.contains("Plan:"), "{shown}");
        assert!(!has_colour(&shown), "{args:?} with {env:?}:\n{shown}");
    }
}
