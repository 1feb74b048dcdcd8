//! What an operator sees of a run of many components. On a terminal (a
//! tmux pane of fixed size, read back with its scrollback): one overall line
//! per step and the failures, not a line per component. Piped: one line per
//! event, as CI logs want. The closing table lists what changed or failed
//! and counts the rest; `--verbose` lists every component.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{Stack, app_component, web_stack};

/// How many components the terminal test runs: enough that a line per
/// component could not hide in a screenful.
const MANY: usize = 200;

fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("app-{i:03}")).collect()
}

fn apps(n: usize) -> Stack {
    let names = names(n);
    web_stack(&names.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The lines of stdout that are rows of the closing table (or of the plan)
/// for one of the generated apps.
fn app_rows(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("envs/dev/web/app-")).collect()
}

/// A tmux server of its own (its socket in the stack's directory), killed
/// when the test ends, passed or not.
struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket);
        c
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
    }
}

/// Runs `capstan args` in a detached tmux pane of 100×30 cells, as a person
/// at a terminal would, and waits for it to exit. Returns its exit code and
/// everything the pane showed, scrollback included, wrapped lines joined,
/// trailing blank lines dropped.
fn in_tmux(s: &Stack, args: &[&str]) -> (i32, String) {
    if Command::new("tmux").arg("-V").output().is_err() {
        panic!(
            "tmux is not installed: the live display is tested in a tmux pane \
             (tests/setup.sh installs it: apt-get install tmux)"
        );
    }
    let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
    let code_file = s.path(".tmux-exit-code");
    let line = format!(
        "{} {}; echo $? > {}",
        quote(env!("CARGO_BIN_EXE_capstan")),
        args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
        quote(&code_file.to_string_lossy()),
    );
    // The pane stays after the command exits, so that it can be read.
    s.write(".tmux.conf", "set-option -g remain-on-exit on\nset-option -g history-limit 100000\n");
    let tmux = Tmux { socket: s.path(".tmux.sock") };
    // The server, started by this first command, passes its environment to
    // the pane: the test's own (private HOME, shared plugin cache).
    let mut start = tmux.command();
    start
        .arg("-f")
        .arg(s.path(".tmux.conf"))
        .args(["new-session", "-d", "-x", "100", "-y", "30", "-c"])
        .arg(s.root())
        .arg(&line)
        .env_remove("TMUX");
    for (k, v) in s.command(&[]).get_envs() {
        match v {
            Some(v) => start.env(k, v),
            None => start.env_remove(k),
        };
    }
    let started = start.output().unwrap();
    assert!(started.status.success(), "tmux new-session: {}", String::from_utf8_lossy(&started.stderr));

    let begun = Instant::now();
    let code = loop {
        if let Ok(text) = std::fs::read_to_string(&code_file)
            && let Ok(code) = text.trim().parse()
        {
            break code;
        }
        assert!(begun.elapsed() < Duration::from_secs(300), "capstan {args:?} did not end in tmux");
        std::thread::sleep(Duration::from_millis(200));
    };
    let captured = tmux.command().args(["capture-pane", "-p", "-J", "-S", "-", "-E", "-"]).output().unwrap();
    assert!(captured.status.success(), "tmux capture-pane: {}", String::from_utf8_lossy(&captured.stderr));
    let shown = String::from_utf8_lossy(&captured.stdout);
    let lines: Vec<&str> =
        shown.lines().map(str::trim_end).filter(|l| !l.starts_with("Pane is dead")).collect();
    let last = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
    (code, lines[..last].join("\n"))
}

/// A component that plans and then fails when applied: a file capstan did
/// not write is where its Deployment goes.
fn add_failing(s: &Stack, name: &str) {
    s.write(&format!("envs/dev/web/{name}/component.hcl"), &app_component("registry.example/api:1.0.0", "1"));
    s.write(&format!("rendered/dev/web/{name}/deployment-{name}.yaml"), "kind: Deployment # by hand\n");
}

#[test]
fn a_terminal_shows_one_line_per_step_and_the_failures_not_a_line_per_component() {
    let s = apps(MANY);
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();

    // One app changes, one new app fails, one that depends on it is skipped;
    // the other 199 are unchanged.
    s.write("envs/dev/web/app-007/component.hcl", &app_component("registry.example/api:1.0.0", "3"));
    add_failing(&s, "blocked");
    s.write(
        "envs/dev/web/after-blocked/component.hcl",
        r#"component {
  type    = "app"
  plugin  = "capstan/app"
  version = "^0.1"
}
dependency "blocked" {
  config_path = "../blocked"
}
inputs = {
  image    = "registry.example/api:1.0.0"
  replicas = 1
  port     = 8080
  env      = { BLOCKED_URL = dependency.blocked.outputs.service_url }
}
"#,
    );
    let (code, shown) = in_tmux(&s, &["apply", "envs/dev", "--auto-approve"]);
    assert_eq!(code, 1, "a component failed:\n{shown}");
    let lines = shown.lines().count();
    assert!(lines < 40, "{lines} lines on the terminal for {MANY} components:\n{shown}");
    // The line each step leaves, and the closing summary.
    assert!(shown.contains(&format!("planning: {}/{} done", MANY + 2, MANY + 2)), "{shown}");
    assert!(shown.contains("applying: 2/3 done, 1 failed"), "{shown}");
    assert!(
        shown.contains("Apply finished with failures: 1 applied, 1 failed, 1 skipped, 199 unchanged."),
        "{shown}"
    );
    // The failure as it happened, then its error in the table.
    assert!(shown.contains("envs/dev/web/blocked: failed after"), "{shown}");
    // (The plan names it first; the table's row is the last line that does.)
    let row = shown.lines().rfind(|l| l.starts_with("envs/dev/web/blocked ")).unwrap_or_default();
    assert!(row.contains("failed") && row.contains("was not written by capstan"), "{shown}");
    assert!(
        shown.lines().any(|l| l.starts_with("envs/dev/web/after-blocked ") && l.contains("skipped")),
        "{shown}"
    );
    assert!(shown.contains("199 components unchanged (--verbose lists them)"), "{shown}");
    let rows = app_rows(&shown);
    assert!(
        rows.iter().all(|l| l.starts_with("envs/dev/web/app-007 ")),
        "only the changed app has a row (plan and table): {rows:#?}\n{shown}"
    );
}

#[test]
fn piped_a_line_per_event_and_the_table_lists_only_what_changed_unless_verbose() {
    let n = 40;
    let s = apps(n);
    let keys: Vec<String> = names(n).iter().map(|a| format!("envs/dev/web/{a}")).collect();

    let first = s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    // Each component's every event is one line of stderr, as CI logs want it.
    for key in &keys {
        for phase in ["planning", "planned", "applying", "ready"] {
            let said = format!("] {key}: {phase}");
            let times = first.stderr.lines().filter(|l| l.ends_with(&said)).count();
            assert_eq!(times, 1, "{said}: {first:?}");
        }
    }
    assert!(!first.stderr.contains('\r') && !first.stderr.contains('\x1b'), "{first:?}");
    // Every component was created: every one has its row, nothing is counted aside.
    let rows: Vec<&str> = app_rows(&first.stdout).into_iter().filter(|l| l.contains("  applied  ")).collect();
    assert_eq!(rows.len(), n, "{first:?}");
    assert!(!first.stdout.contains("unchanged"), "{first:?}");

    // Nothing changed: no row, one count.
    let again = s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert!(again.stdout.contains("No changes."), "{again:?}");
    assert!(again.stdout.contains(&format!("{n} components unchanged (--verbose lists them)")), "{again:?}");
    assert_eq!(app_rows(&again.stdout), Vec::<&str>::new(), "{again:?}");
    let verbose = s.run(&["apply", "envs/dev", "--auto-approve", "--verbose"]).ok();
    for key in &keys {
        let row = verbose.stdout.lines().rfind(|l| l.starts_with(&format!("{key} "))).unwrap_or_default();
        assert!(row.contains(" unchanged"), "{key}: {verbose:?}");
    }
    assert!(!verbose.stdout.contains("--verbose lists"), "{verbose:?}");

    // One changes: its plan and its row, the rest counted.
    s.write("envs/dev/web/app-003/component.hcl", &app_component("registry.example/api:1.0.0", "5"));
    let plan = s.run(&["plan", "envs/dev"]).ok();
    assert_eq!(app_rows(&plan.stdout), ["envs/dev/web/app-003 (capstan/app 0.1.0)"], "{plan:?}");
    let plan = s.run(&["plan", "envs/dev", "--verbose"]).ok();
    assert_eq!(app_rows(&plan.stdout).len(), n, "{plan:?}");
    assert_eq!(plan.stdout.matches("  = no changes").count(), n - 1, "{plan:?}");
    let one = s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    let rows = app_rows(&one.stdout);
    assert_eq!(rows.len(), 2, "the plan's block and the table's row: {one:?}");
    assert!(rows[1].starts_with("envs/dev/web/app-003 ") && rows[1].contains("applied"), "{one:?}");
    assert!(one.stdout.contains(&format!("{} components unchanged", n - 1)), "{one:?}");
    assert!(one.stdout.contains(&format!("Apply complete: 1 applied, {} unchanged.", n - 1)), "{one:?}");
}
