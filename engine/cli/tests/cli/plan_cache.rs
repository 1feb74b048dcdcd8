//! The plan cache (`.capstan/plan-cache/`) is an optimisation only: a plan
//! that reuses plugins' answers is the plan that asks every plugin, byte for
//! byte, and a damaged entry is ignored and written again.

use std::path::{Path, PathBuf};

use capstan_bench::{KEY_FILE, Shape, write_stack};
use serde_json::Value;

use crate::support::{Run, Stack, walk, web_stack};

/// The generated mixed stack (every built-in plugin of the platform, apps
/// with their databases, queues and Secrets), with its key.
fn mixed_stack() -> (Stack, PathBuf) {
    let stack = Stack::new("");
    let (_, key) = write_stack(stack.root(), Shape::Mixed, 30).unwrap();
    let key = key.unwrap_or_else(|| stack.path(KEY_FILE));
    (stack, key)
}

fn run(stack: &Stack, key: &Path, args: &[&str]) -> Run {
    stack.run_env(args, &[("CAPSTAN_AGE_KEY_FILE", key)])
}

/// The plan as `--json` prints it, and for each component whether its
/// plugin's answer came from the cache (from the run report).
fn plan(stack: &Stack, key: &Path, extra: &[&str]) -> (String, Vec<(String, bool)>) {
    let report = stack.path("report.json");
    let mut args = vec!["plan", ".", "--json", "--report", report.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = run(stack, key, &args).ok();
    let report: Value = serde_json::from_str(&stack.read("report.json")).unwrap();
    let cached = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["component"].as_str().unwrap().to_owned(), c["answer_cached"] == Value::Bool(true)))
        .collect();
    (run.stdout, cached)
}

fn entries(stack: &Stack) -> Vec<PathBuf> {
    walk(&stack.path(".capstan/plan-cache"))
}

#[test]
fn a_plan_from_the_cache_is_the_plan_every_plugin_gives_byte_for_byte() {
    let (stack, key) = mixed_stack();

    let (asked, cached) = plan(&stack, &key, &["--plan-cache=false"]);
    assert!(cached.iter().all(|(_, c)| !c), "nothing is cached with --plan-cache=false: {cached:?}");
    assert!(entries(&stack).is_empty(), "--plan-cache=false writes no entry");
    let components = cached.len();
    assert!(components >= 30, "{cached:?}");

    let (first, cached) = plan(&stack, &key, &[]);
    assert_eq!(first, asked, "the first plan with the cache differs from the plan without it");
    assert!(cached.iter().all(|(_, c)| !c), "an empty cache answered: {cached:?}");
    assert_eq!(entries(&stack).len(), components, "one entry per component");

    let (second, cached) = plan(&stack, &key, &[]);
    assert_eq!(second, asked, "the plan from the cache differs from the plan without it");
    assert!(cached.iter().all(|(_, c)| *c), "every answer should come from the cache: {cached:?}");

    // Applied from cached answers, the tree is the one every plugin plans.
    run(&stack, &key, &["apply", ".", "--auto-approve"]).ok();
    let unchanged = run(&stack, &key, &["plan", ".", "--plan-cache=false", "--detailed-exitcode"]);
    assert_eq!(
        unchanged.code, 0,
        "the plugins plan a change to what was applied from the cache: {unchanged:?}"
    );

    // Nothing sensitive is in an entry in clear.
    for entry in entries(&stack) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("apiVersion"), "{} is not sealed", entry.display());
    }
}

#[test]
fn a_damaged_entry_is_ignored_and_written_again() {
    let (stack, key) = mixed_stack();
    let (asked, _) = plan(&stack, &key, &[]);
    let kept = entries(&stack);
    assert!(!kept.is_empty());

    // Each entry damaged a different way: a bit flipped, cut short,
    // emptied, replaced by another entry's bytes.
    let other = std::fs::read(&kept[0]).unwrap();
    for (i, entry) in kept.iter().enumerate() {
        let mut bytes = std::fs::read(entry).unwrap();
        match i % 4 {
            0 => bytes[20] ^= 0x40,
            1 => bytes.truncate(bytes.len() / 2),
            2 => bytes.clear(),
            _ => bytes.clone_from(&other),
        }
        std::fs::write(entry, bytes).unwrap();
    }
    let (damaged, cached) = plan(&stack, &key, &[]);
    assert_eq!(damaged, asked, "a damaged entry changed the plan");
    assert!(cached.iter().all(|(_, c)| !c), "a damaged entry was used: {cached:?}");

    let (again, cached) = plan(&stack, &key, &[]);
    assert_eq!(again, asked);
    assert!(cached.iter().all(|(_, c)| *c), "the damaged entries were not written again: {cached:?}");
}

#[test]
fn a_rendered_file_edited_by_hand_shows_in_the_next_plan_though_the_record_knew_it() {
    let s = web_stack(&["api", "worker"]);
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    let unchanged = s.run(&["plan", "envs/dev", "--detailed-exitcode"]);
    assert_eq!(unchanged.code, 0, "{unchanged:?}");

    // The record lists the files written, none of them read back since.
    let [record] = walk(&s.path(".capstan/rendered")).try_into().unwrap();
    let record: Value = serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    let deployment = "dev/web/api/deployment-api.yaml";
    assert!(record["files"].get(deployment).is_some(), "{record}");

    // Edited by hand, keeping its size: only its time says so.
    let edited = s.read(&format!("rendered/{deployment}")).replace("replicas: 2", "replicas: 9");
    s.write(&format!("rendered/{deployment}"), &edited);
    let plan = s.run(&["plan", "envs/dev", "--detailed-exitcode"]);
    assert_eq!(plan.code, 2, "the hand edit does not show: {plan:?}");
    assert!(plan.stdout.contains("replicas"), "{plan:?}");
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert!(s.read(&format!("rendered/{deployment}")).contains("replicas: 2"));
    assert_eq!(s.run(&["plan", "envs/dev", "--detailed-exitcode"]).code, 0);
}

#[test]
fn a_plan_trusts_the_record_of_a_file_kept_as_written_and_plan_cache_false_reads_it_back() {
    let s = web_stack(&["api", "worker"]);
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    // The record is trusted for files older than itself; a run this short
    // may save it in the tick it wrote them, so it is dated a second on.
    let [record] = walk(&s.path(".capstan/rendered")).try_into().unwrap();
    let later = std::fs::metadata(&record).unwrap().modified().unwrap() + std::time::Duration::from_secs(1);
    std::fs::File::options().append(true).open(&record).unwrap().set_modified(later).unwrap();

    // A file changed in place, keeping its size, inode, mode and time, as
    // only a tool meaning to hide the change would: the record's stamp
    // still matches, so a plan does not read it back.
    let file = s.path("rendered/dev/web/api/deployment-api.yaml");
    let written = std::fs::metadata(&file).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&file).unwrap().replace("replicas: 2", "replicas: 9");
    let mut handle = std::fs::File::options().write(true).open(&file).unwrap();
    std::io::Write::write_all(&mut handle, text.as_bytes()).unwrap();
    handle.set_modified(written).unwrap();
    drop(handle);
    assert_eq!(s.run(&["plan", "envs/dev", "--detailed-exitcode"]).code, 0, "the record was not used");

    // --plan-cache=false reads every file back and finds it.
    let asked = s.run(&["plan", "envs/dev", "--detailed-exitcode", "--plan-cache=false"]);
    assert_eq!(asked.code, 2, "{asked:?}");
    assert!(asked.stdout.contains("replicas"), "{asked:?}");
}
