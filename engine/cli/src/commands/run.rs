//! `capstan plan`, `apply` and `destroy`: a capstan-run session, shown to
//! the operator, with apply and destroy asking before they change anything.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;

use capstan_config::Command;
use capstan_plan::{ComponentError, ComponentPlanned, Outcome};
use capstan_run::{LockfileMode, Plan, RunOptions, Session, TargetChoice};
use capstan_state::{ComponentState, LockGuard};

use crate::args::{ApplyArgs, DestroyArgs, LockfileArg, PlanArgs, RunArgs, TargetKind};
use crate::progress::Progress;
use crate::report::{self, Row};

/// Opens the session `run` describes, telling `progress` what happens.
fn open(run: &RunArgs, progress: Arc<Progress>, rt: &tokio::runtime::Runtime) -> anyhow::Result<Session> {
    let target = match run.target {
        TargetKind::Render if run.context.is_some() || run.kubeconfig.is_some() => {
            bail!(
                "--context and --kubeconfig choose a cluster, and the render target has none: add --target kube"
            )
        }
        TargetKind::Render => TargetChoice::Render { out_dir: run.out_dir.clone() },
        TargetKind::Kube => {
            TargetChoice::Kube { context: run.context.clone(), ready_timeout: run.ready_timeout }
        }
    };
    let options = RunOptions {
        dir: run.dir.clone(),
        target,
        parallelism: run.parallelism,
        plugin_dirs: run.plugin_dirs.clone(),
        allow_unsigned: run.allow_unsigned,
        lockfile: lockfile_mode(run.lockfile, std::env::var("CI").ok().as_deref()),
        work_dir: std::env::current_dir()?,
    };
    let mut surroundings = crate::surroundings();
    // `--kubeconfig` replaces what KUBECONFIG lists, as kubectl's does; so,
    // inside a pod too, that file is used, never the pod's ServiceAccount.
    if let Some(file) = &run.kubeconfig {
        surroundings.kubeconfig.kubeconfig_env = Some(file.as_os_str().to_owned());
    }
    Ok(crate::engine_in(surroundings, progress)?.open(&options, rt.handle().clone())?)
}

/// What the run may do to capstan.lock: the flag, else read-only in CI
/// (`CI=true`, as CI services set it), where a lock change is a surprise
/// nobody reviews.
fn lockfile_mode(flag: Option<LockfileArg>, ci: Option<&str>) -> LockfileMode {
    match flag {
        Some(LockfileArg::Write) => LockfileMode::Write,
        Some(LockfileArg::Readonly) => LockfileMode::ReadOnly,
        None if ci.is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1") => LockfileMode::ReadOnly,
        None => LockfileMode::Write,
    }
}

/// The plans that succeeded, in key order, and the failures as rows.
fn split(
    outcomes: &BTreeMap<String, Outcome<ComponentPlanned, ComponentError>>,
) -> (Vec<&ComponentPlanned>, Vec<Row>) {
    let mut plans = Vec::new();
    let mut failures = Vec::new();
    for (key, outcome) in outcomes {
        match outcome {
            Outcome::Done(p) => plans.push(p.as_ref()),
            Outcome::Failed(e) => {
                failures.push(Row { key: key.clone(), result: "failed".into(), detail: e.to_string() })
            }
            Outcome::Skipped { because } => {
                failures.push(Row { key: key.clone(), result: "skipped".into(), detail: because.clone() })
            }
        }
    }
    (plans, failures)
}

fn orphan_text(orphans: &[(&String, &ComponentState)]) -> String {
    let mut out = String::new();
    for (key, was) in orphans {
        out.push_str(&format!("\n{key} (removed from the tree)\n"));
        for o in &was.objects {
            out.push_str(&format!("  - {}\n", o.object));
        }
    }
    out
}

pub fn plan(args: &PlanArgs, plain: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let progress = Arc::new(if args.json { Progress::quiet() } else { Progress::new(plain) });
    let session = open(&args.run, progress, rt)?;
    let plan = session.plan(Command::Plan);
    let (plans, failures) = split(&plan.outcomes);
    let orphans = session.orphans();
    let changes = session.has_changes(&plan);

    if args.json {
        let doc = serde_json::json!({
            "components": plans.iter().filter(|p| p.in_target).collect::<Vec<_>>(),
            "removed_components": orphans.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "failed": failures.iter().map(|r| serde_json::json!({"component": r.key, "result": r.result, "error": r.detail})).collect::<Vec<_>>(),
            "changes": changes,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let text = format!("{}{}", report::plan_text(&plans), orphan_text(&orphans));
        print!("{text}");
        if failures.is_empty() {
            println!("\n{}", report::plan_summary(&plans));
        } else {
            println!("\nPlanning failed for {} component(s); see below.", failures.len());
        }
    }
    if let Some(out) = &args.out {
        session.save_plan(&plan, report::plan_text(&plans), out)?;
        eprintln!(
            "Saved the plan to {}. Apply exactly it with: capstan apply {} {}",
            out.display(),
            args.run.dir.display(),
            out.display()
        );
    }
    if !failures.is_empty() {
        eprintln!("\n{}", report::table(&failures));
        return Ok(ExitCode::from(1));
    }
    // A plan writes nothing, and the process ends with this command: freeing
    // every component's tree, plan and parsed file one by one took a seventh
    // of a 1,000-component plan. The operating system reclaims it at once.
    std::mem::forget(plan);
    std::mem::forget(session);
    Ok(ExitCode::from(if args.detailed_exitcode && changes { 2 } else { 0 }))
}

pub fn apply(args: &ApplyArgs, plain: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let mut session = open(&args.run, Arc::new(Progress::new(plain)), rt)?;
    let guard = session.lock("apply", args.run.lock_timeout)?;
    let result = apply_locked(&session, args, &guard);
    session.unlock(guard)?;
    result
}

fn apply_locked(session: &Session, args: &ApplyArgs, guard: &LockGuard) -> anyhow::Result<ExitCode> {
    let shown = session.plan(Command::Plan);
    let (plans, failures) = split(&shown.outcomes);
    let orphans = session.orphans();
    print!("{}{}", report::plan_text(&plans), orphan_text(&orphans));
    println!("\n{}", report::plan_summary(&plans));

    if let Some(file) = &args.plan_file {
        session.check_saved_plan(file, &shown)?;
    } else if !failures.is_empty() {
        eprintln!("\n{}", report::table(&failures));
        bail!("some components could not be planned; nothing was applied");
    }
    let changes = session.has_changes(&shown);
    if !changes && !session.has_unrecorded(&shown) {
        return Ok(ExitCode::SUCCESS);
    }
    if args.plan_file.is_none() && !args.auto_approve && changes && !confirm()? {
        println!("Apply cancelled; nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }

    let applied = session.apply(&shown, guard)?;
    let mut rows: Vec<Row> = applied
        .removed
        .iter()
        .map(|key| Row { key: key.clone(), result: "removed".into(), detail: String::new() })
        .collect();
    let mut failed = false;
    for (key, outcome) in &applied.outcomes {
        let in_target = session.stack().component(key).is_some_and(|c| c.in_target);
        let row = match outcome {
            Outcome::Done(_) if !in_target => continue,
            Outcome::Done(p) => applied_row(key, p, &shown),
            Outcome::Failed(e) => {
                failed = true;
                Row { key: key.clone(), result: "failed".into(), detail: e.to_string() }
            }
            Outcome::Skipped { because } => {
                failed = true;
                Row { key: key.clone(), result: "skipped".into(), detail: because.clone() }
            }
        };
        rows.push(row);
    }
    println!("\n{}", report::table(&rows));
    println!(
        "Apply {}: {}.",
        if failed { "finished with failures" } else { "complete" },
        report::tally(&rows)
    );
    if let Some(e) = applied.not_stored {
        return Err(e.into());
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The row of a component that applied: what changed, or nothing when the
/// plan shown had no change for it (it was only recorded).
fn applied_row(key: &str, applied: &ComponentPlanned, shown: &Plan) -> Row {
    let (c, u, d, e) = report::plan_counts(&[applied]);
    let before = shown.planned().iter().find(|q| q.key == key).map(|q| q.has_changes()).unwrap_or(true);
    let result = if before { "applied" } else { "unchanged" };
    let detail =
        if before { format!("{c} created, {u} updated, {d} deleted, {e} effects") } else { String::new() };
    Row { key: key.to_string(), result: result.into(), detail }
}

fn confirm() -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "standard input is not a terminal, so capstan cannot ask: pass --auto-approve to apply without asking"
        );
    }
    print!("\nApply these changes? Only 'yes' is accepted: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

pub fn destroy(args: &DestroyArgs, plain: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let mut session = open(&args.run, Arc::new(Progress::new(plain)), rt)?;
    // Locked before the order is worked out: what is removed is what state
    // records now, not what it recorded before another run finished.
    let guard = session.lock("destroy", args.run.lock_timeout)?;
    let result = destroy_locked(&session, args, &guard);
    session.unlock(guard)?;
    result
}

fn destroy_locked(session: &Session, args: &DestroyArgs, guard: &LockGuard) -> anyhow::Result<ExitCode> {
    let order = session.destroy_order();
    if order.is_empty() {
        println!("Nothing to destroy: state records no component below {}.", args.run.dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Destroy will remove everything these components applied (databases and other effects are left in place):"
    );
    for k in &order {
        println!("  - {k}");
    }
    if !args.auto_approve && !confirm()? {
        println!("Destroy cancelled; nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }
    session.destroy(&order, guard)?;
    println!("Destroy complete: {} components removed.", order.len());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lockfile_flag_wins_and_ci_alone_makes_the_lock_read_only() {
        use LockfileMode::{ReadOnly, Write};
        assert_eq!(lockfile_mode(None, None), Write);
        assert_eq!(lockfile_mode(None, Some("true")), ReadOnly);
        assert_eq!(lockfile_mode(None, Some("TRUE")), ReadOnly);
        assert_eq!(lockfile_mode(None, Some("1")), ReadOnly);
        assert_eq!(lockfile_mode(None, Some("false")), Write);
        assert_eq!(lockfile_mode(Some(LockfileArg::Write), Some("true")), Write);
        assert_eq!(lockfile_mode(Some(LockfileArg::Readonly), None), ReadOnly);
    }
}
