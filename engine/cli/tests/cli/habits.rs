//! The command-line habits terraform, kubectl and helm users rely on: exit
//! codes a CI job can trust, colour only where a person reads it, help for
//! every argument, shell completions, plans a person can read.

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
        // Destroy compares no effect with its server: the flag would be ignored.
        &["destroy", "envs/dev", "--refresh=false"],
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

#[test]
fn configuration_errors_are_drawn_with_their_source_in_colour_on_a_terminal() {
    let s = web_stack(&["api"]);
    s.write("envs/dev/env.hcl", "replicas = undefined_thing\n");
    for command in [&["validate", "envs/dev"][..], &["plan", "envs/dev"]] {
        let piped = s.run(command);
        assert_eq!(piped.code, 1, "{piped:?}");
        // Said once, as it is drawn (not `error: error: …`), with its source.
        assert!(piped.stderr.starts_with("error: undefined variable `undefined_thing`"), "{piped:?}");
        assert!(piped.stderr.contains(" --> envs/dev/env.hcl:1:12\n"), "{piped:?}");
        assert!(
            piped.stderr.contains("1 | replicas = undefined_thing\n  |            ^^^^^^^^^^^^^^^\n"),
            "{piped:?}"
        );

        let shown = on_terminal(&s, command, &[]);
        assert!(shown.contains("\x1b[1;31merror\x1b[0m"), "{command:?}: the error is red:\n{shown:?}");
        assert!(
            shown.contains("\x1b[1;31m^^^^^^^^^^^^^^^\x1b[0m"),
            "{command:?}: so is its underline:\n{shown:?}"
        );
        assert!(!has_colour(&on_terminal(&s, command, &[("NO_COLOR", "1")])), "{command:?}");
    }
}

/// Every `CAPSTAN_*` variable named in the engine's sources (tests and
/// benches aside): what `--help` must list.
fn capstan_variables() -> std::collections::BTreeSet<String> {
    fn walk(dir: &std::path::Path, in_src: bool, out: &mut std::collections::BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() && !matches!(name.as_str(), "target" | "tests" | "benches") {
                walk(&path, in_src || name == "src", out);
            } else if in_src && name.ends_with(".rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices("CAPSTAN_") {
                    let var: String = text[i..]
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    // A bare `CAPSTAN_*` in prose names no variable.
                    if var.len() > "CAPSTAN_".len() {
                        out.insert(var);
                    }
                }
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), false, &mut out);
    out
}

#[test]
fn help_lists_the_environment_variables_the_engine_reads() {
    let s = web_stack(&[]);
    let help = s.run(&["--help"]).ok().stdout;
    let vars = capstan_variables();
    assert!(vars.contains("CAPSTAN_LOG") && vars.contains("CAPSTAN_AGE_KEY_FILE"), "{vars:?}");
    for var in vars.iter().map(String::as_str).chain(["KUBECONFIG", "KUBERNETES_SERVICE_HOST", "NO_COLOR"]) {
        let line =
            help.lines().find(|l| l.trim_start().starts_with(&format!("{var} "))).unwrap_or_else(|| {
                panic!("{var} is not listed in --help:\n{help}");
            });
        assert!(line.trim().len() > var.len() + 10, "{var} has a one-line explanation: {line}");
    }
}

/// Each argument line of `-h` (`  <DIR>`, `  --auto-approve`, …) carries a
/// description, on that line or wrapped onto the next.
#[test]
fn every_argument_shown_by_help_has_a_description() {
    let s = web_stack(&[]);
    let commands: &[&[&str]] = &[
        &[],
        &["validate"],
        &["plan"],
        &["apply"],
        &["destroy"],
        &["graph"],
        &["init"],
        &["output"],
        &["config", "show"],
        &["state", "list"],
        &["state", "show"],
        &["state", "unlock"],
        &["state", "push"],
        &["plugin", "inspect"],
        &["plugin", "list"],
        &["plugin", "test"],
        &["plugin", "pack"],
        &["plugin", "sign"],
        &["plugin", "verify"],
        &["plugin", "push"],
        &["plugin", "lock"],
        &["secrets", "set"],
        &["secrets", "show"],
        &["secrets", "recipients", "add"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("-h");
        let help = s.run(&args).ok().stdout;
        let lines: Vec<&str> = help.lines().collect();
        let mut entries = 0;
        for (i, line) in lines.iter().enumerate() {
            let item = line.trim_start();
            let is_entry = line.starts_with("  ")
                && (item.starts_with('-') || item.starts_with('<') || item.starts_with('['));
            if !is_entry {
                continue;
            }
            entries += 1;
            let described = item.split("  ").filter(|p| !p.trim().is_empty()).count() >= 2
                || lines
                    .get(i + 1)
                    .is_some_and(|next| next.len() - next.trim_start().len() > line.len() - item.len());
            assert!(described, "capstan {} -h: no description for `{item}`:\n{help}", command.join(" "));
        }
        assert!(entries > 0, "{help}");
    }
    let apply = s.run(&["apply", "-h"]).ok().stdout;
    for flag in ["--auto-approve", "<DIR>", "--kubeconfig <FILE>", "--target <TARGET>"] {
        assert!(apply.contains(flag), "{flag} in:\n{apply}");
    }
}

/// `--kubeconfig FILE` picks the cluster whatever KUBECONFIG says, as
/// kubectl's flag does.
#[test]
fn the_kubeconfig_flag_overrides_kubeconfig() {
    use capstan_kube::testing::FakeCluster;

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cluster = rt.block_on(FakeCluster::start());
    let url = rt.block_on(cluster.serve());
    let s = web_stack(&["api"]);
    s.write(
        "elsewhere/config.yaml",
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n\
             users:\n- name: tester\n  user:\n    token: test-token-not-a-secret\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: tester\n"
        ),
    );
    let nowhere = s.path("no-such-kubeconfig");
    let kube = ["plan", "envs/dev", "--target", "kube"];

    let without = s.run_env(&kube, &[("KUBECONFIG", &nowhere)]);
    assert_eq!(without.code, 1, "KUBECONFIG names no file: {without:?}");
    assert!(without.stderr.contains("KUBECONFIG"), "{without:?}");

    let with = s.run_env(
        &[&kube[..], &["--kubeconfig", "elsewhere/config.yaml"]].concat(),
        &[("KUBECONFIG", &nowhere)],
    );
    assert_eq!(with.code, 0, "{with:?}");
    assert!(
        with.stdout.contains("deployment") || with.stdout.contains("Deployment"),
        "planned against the fake: {with:?}"
    );
    assert!(with.stdout.contains("to create"), "{with:?}");

    let typo = s.run(&[&kube[..], &["--kubeconfig", "elsewhere/confg.yaml"]].concat());
    assert_eq!(typo.code, 1, "{typo:?}");
    assert!(typo.stderr.contains("--kubeconfig") && typo.stderr.contains("no such file"), "{typo:?}");

    let render = s.run(&["plan", "envs/dev", "--kubeconfig", "elsewhere/config.yaml"]);
    assert_eq!(render.code, 1, "{render:?}");
    assert!(render.stderr.contains("--target kube"), "{render:?}");
    drop(cluster);
}

/// The subcommands `capstan --help` lists (`help` aside).
fn subcommands(s: &Stack, path: &[&str]) -> Vec<String> {
    let help = s.run(&[path, &["--help"]].concat()).ok().stdout;
    let listed = help.split("Commands:\n").nth(1).unwrap_or_else(|| panic!("no commands in:\n{help}"));
    listed
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(String::from)
        .collect()
}

/// What bash offers for the words typed so far, with the script sourced as
/// a user's shell would source it.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}' || exit 9\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n\
         _capstan capstan '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out =
        std::process::Command::new("bash").args(["--norc", "--noprofile", "-c", &program]).output().unwrap();
    assert!(out.status.success(), "{program}\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect()
}

#[test]
fn completion_scripts_parse_and_complete_every_subcommand() {
    let s = web_stack(&[]);
    let top = subcommands(&s, &[]);
    assert!(top.contains(&"completion".to_string()) && top.contains(&"plan".to_string()), "{top:?}");

    let bash = s.run(&["completion", "bash"]).ok().stdout;
    s.write("capstan.bash", &bash);
    let script = s.path("capstan.bash");
    let syntax = std::process::Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}", String::from_utf8_lossy(&syntax.stderr));

    let offered = bash_completes(&script, &["capstan", ""]);
    for name in &top {
        assert!(offered.contains(name), "`capstan <TAB>` offers {name}: {offered:?}");
    }
    assert_eq!(bash_completes(&script, &["capstan", "pl"]), ["plan", "plugin"]);
    let plugin = bash_completes(&script, &["capstan", "plugin", ""]);
    for name in subcommands(&s, &["plugin"]) {
        assert!(plugin.contains(&name), "`capstan plugin <TAB>` offers {name}: {plugin:?}");
    }
    assert!(bash_completes(&script, &["capstan", "apply", "--auto"]).contains(&"--auto-approve".to_string()));
    assert!(bash_completes(&script, &["capstan", "plan", "--kube"]).contains(&"--kubeconfig".to_string()));

    // No zsh or fish here to run them: each script names every subcommand.
    for shell in ["zsh", "fish"] {
        let text = s.run(&["completion", shell]).ok().stdout;
        for name in top.iter().chain(&subcommands(&s, &["secrets"])) {
            assert!(text.contains(name.as_str()), "{shell} script names {name}");
        }
    }
    let unknown = s.run(&["completion", "tcsh"]);
    assert_eq!(unknown.code, 1, "{unknown:?}");
}

/// A multi-line value: 120 lines of a fluent-bit-like configuration.
fn long_config(flush: &str) -> String {
    let mut text = String::from("[SERVICE]\\n    Flush 1\\n");
    for i in 0..40 {
        text.push_str(&format!("[OUTPUT]\\n    Name forward_{i}\\n    Match app.{i}.*\\n"));
    }
    text.replace("Flush 1", &format!("Flush {flush}")).replace("Name forward_20", "Name forward_20 # tuned")
}

#[test]
fn a_one_word_change_in_a_multi_line_value_is_shown_as_a_line_diff() {
    let s = web_stack(&[]);
    let component = |config: &str| {
        app_component("registry.example/api:1", "1").replace(
            "  port     = 8080\n",
            &format!("  port     = 8080\n  env = {{\n    FLUENT_CONF = \"{config}\"\n  }}\n"),
        )
    };
    let before = long_config("1").replace(" # tuned", "");
    s.write("envs/dev/web/api/component.hcl", &component(&before));
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();

    s.write("envs/dev/web/api/component.hcl", &component(&long_config("5")));
    let plan = s.run(&["plan", "envs/dev", "--no-color"]).ok();
    let out = &plan.stdout;
    assert!(out.contains("/env/0/value: (multi-line text, changed lines)"), "{plan:?}");
    for line in ["-     Flush 1", "+     Flush 5", "-     Name forward_20", "+     Name forward_20 # tuned"] {
        assert!(out.lines().any(|l| l.trim_start() == line), "{line:?} in:\n{out}");
    }
    assert!(out.lines().any(|l| l.trim() == "[SERVICE]"), "context around the change: {out}");
    assert!(out.lines().all(|l| l.len() < 120), "no line holds the whole value:\n{out}");
    assert!(!out.contains("\\n"), "no escaped newlines:\n{out}");
    assert!(out.lines().count() < 40, "only the changed lines and their context:\n{out}");
}
