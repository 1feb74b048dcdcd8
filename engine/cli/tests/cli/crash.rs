//! A run killed with SIGKILL in the middle of an apply leaves state readable,
//! and the next apply finishes the job without redoing what was recorded.

use std::time::{Duration, Instant};

use crate::support::web_stack;

#[test]
fn kill_9_mid_apply_then_apply_again_converges() {
    let names: Vec<String> = (0..300).map(|i| format!("svc{i:03}")).collect();
    let s = web_stack(&names.iter().map(String::as_str).collect::<Vec<_>>());
    // Warm the compiled-plugin cache so the kill lands in the apply itself.
    s.run(&["plan", "envs/dev"]).ok();

    let mut child =
        s.command(&["apply", "envs/dev", "--auto-approve", "--parallelism", "2"]).spawn().unwrap();
    let journal = s.path(".capstan/state.journal");
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "apply recorded nothing in 120 s");
        assert!(child.try_wait().unwrap().is_none(), "apply finished before it could be killed");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the apply was killed, not finished");

    // State is readable and records part of the work.
    let listed = s.run(&["state", "list", "."]).ok();
    let recorded = listed.stdout.lines().count();
    assert!(recorded > 0 && recorded < names.len(), "killed mid-run, recorded {recorded}:\n{listed:?}");

    // The next apply takes over the dead run's lock, finishes, and then all is done.
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    let listed = s.run(&["state", "list", "."]).ok();
    assert_eq!(listed.stdout.lines().count(), names.len(), "{listed:?}");
    for n in &names {
        assert!(s.path(&format!("rendered/dev/web/{n}/deployment-{n}.yaml")).exists(), "{n} rendered");
    }
    let listed = s.read("rendered/dev/web/kustomization.yaml");
    assert!(names.iter().all(|n| listed.contains(&format!("- {n}\n"))), "{listed}");
    assert_eq!(s.run(&["plan", "envs/dev", "--detailed-exitcode"]).code, 0, "converged: nothing left to do");
}

/// A run that wrote every component and was killed before writing the
/// kustomizations above them (which the render target writes once, at the
/// end): the next plan says so, and the next apply writes them, though no
/// component changes.
#[test]
fn kustomizations_a_killed_run_left_behind_are_written_by_the_next_apply() {
    let s = web_stack(&["api", "worker"]);
    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    let listed = s.read("rendered/dev/web/kustomization.yaml");
    // What the kill leaves: the pending mark, the kustomizations not written.
    s.write("rendered/.capstan-kustomize-pending", "");
    std::fs::remove_file(s.path("rendered/dev/web/kustomization.yaml")).unwrap();
    std::fs::remove_file(s.path("rendered/dev/kustomization.yaml")).unwrap();

    let plan = s.run(&["plan", "envs/dev", "--detailed-exitcode", "--no-color"]);
    assert_eq!(plan.code, 2, "{plan:?}");
    assert!(plan.stdout.contains("kustomizations are behind its components"), "{plan:?}");
    assert!(!s.path("rendered/dev/web/kustomization.yaml").exists(), "a plan writes nothing");

    s.run(&["apply", "envs/dev", "--auto-approve"]).ok();
    assert_eq!(s.read("rendered/dev/web/kustomization.yaml"), listed);
    assert!(s.path("rendered/dev/kustomization.yaml").exists());
    assert!(!s.path("rendered/.capstan-kustomize-pending").exists());
    assert_eq!(s.run(&["plan", "envs/dev", "--detailed-exitcode"]).code, 0);
}
