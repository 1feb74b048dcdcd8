//! `capstan plan`, `apply` and `destroy`: a capstan-run session, shown to
//! the operator, with apply and destroy asking before they change anything.
//! With `--json`, stdout holds one document instead (see [`crate::json`]):
//! for apply and destroy it is filled in as the run goes, so a run that
//! stops half-way still says what it did.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::bail;

use capstan_config::Command;
use capstan_plan::{ComponentError, ComponentPlanned, Outcome};
use capstan_run::report::RunRecorder;
use capstan_run::{Events, LockfileMode, Notice, Phase, Plan, RunOptions, Session, TargetChoice};
use capstan_state::{ComponentState, LockGuard};

use crate::args::{
    ApplyArgs, DestroyArgs, LockfileArg, PlanArgs, PlanningArgs, PluginArgs, RunArgs, TargetArgs, TargetKind,
};
use crate::json::{self, Changes, ComponentResult, PluginId, RunReport};
use crate::progress::{Progress, Step};
use crate::report::{self, Row};

/// Opens the session `run` describes, telling `events` what happens.
pub(crate) fn open(
    run: &RunArgs,
    events: Arc<dyn Events>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Session> {
    open_session(&run.dir, &run.target, run.ready_timeout, run.parallelism, &run.plugins, events, rt)
}

/// [`open`], reading effects' servers for drift and reusing plugins'
/// answers as `planning` says (plan and apply).
fn open_planning(
    run: &RunArgs,
    planning: &PlanningArgs,
    events: Arc<dyn Events>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Session> {
    let mut session = open(run, events, rt)?;
    session.set_refresh(planning.refresh);
    session.set_plan_cache(planning.plan_cache);
    Ok(session)
}

/// Opens a session at `dir` on `target` (the kube target waiting up to
/// `ready_timeout` for a component), `parallelism` components at once.
pub(crate) fn open_session(
    dir: &Path,
    target: &TargetArgs,
    ready_timeout: Duration,
    parallelism: usize,
    plugins: &PluginArgs,
    events: Arc<dyn Events>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Session> {
    let choice = match target.kind {
        TargetKind::Render if target.context.is_some() || target.kubeconfig.is_some() => {
            bail!(
                "--context and --kubeconfig choose a cluster, and the render target has none: add --target kube"
            )
        }
        TargetKind::Render => TargetChoice::Render { out_dir: target.out_dir.clone() },
        TargetKind::Kube => TargetChoice::Kube { context: target.context.clone(), ready_timeout },
    };
    let options = RunOptions {
        dir: dir.to_path_buf(),
        target: choice,
        parallelism,
        plugin_dirs: plugins.dirs.clone(),
        allow_unsigned: plugins.allow_unsigned,
        lockfile: lockfile_mode(plugins.lockfile, std::env::var("CI").ok().as_deref()),
        work_dir: std::env::current_dir()?,
    };
    let mut surroundings = crate::surroundings();
    // `--kubeconfig` replaces what KUBECONFIG lists, as kubectl's does; so,
    // inside a pod too, that file is used, never the pod's ServiceAccount.
    if let Some(file) = &target.kubeconfig {
        surroundings.kubeconfig.kubeconfig_env = Some(file.as_os_str().to_owned());
    }
    Ok(crate::engine_in(surroundings, events)?.open(&options, rt.handle().clone())?)
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
                // An enforcing policy's verdict, not a breakage: said as such.
                let result = if matches!(e, ComponentError::Policy { .. }) { "refused" } else { "failed" };
                failures.push(Row { key: key.clone(), result: result.into(), detail: e.to_string() })
            }
            Outcome::Skipped { because } => {
                failures.push(Row { key: key.clone(), result: "skipped".into(), detail: because.clone() })
            }
        }
    }
    (plans, failures)
}

/// A line on what a stopped run left the target to write, if it did.
fn behind_text(session: &Session) -> &'static str {
    if session.target_behind() {
        "\nThe rendered tree's kustomizations are behind its components (a run stopped before writing them): apply writes them.\n"
    } else {
        ""
    }
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
    let recorder = Arc::new(RunRecorder::new(progress.clone()));
    let result = plan_recorded(args, &progress, &recorder, rt);
    crate::runs::save(&recorder, "plan", &args.run.dir, args.report.file.as_deref(), result)
}

fn plan_recorded(
    args: &PlanArgs,
    progress: &Progress,
    recorder: &Arc<RunRecorder>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<ExitCode> {
    // Nothing was planned; a CI job reading stdout still gets its document.
    let nothing_planned = |e: anyhow::Error| -> anyhow::Result<ExitCode> {
        if args.json {
            let doc = serde_json::json!({
                "components": [], "removed_components": [], "failed": [], "changes": null,
                "errors": [json::Error::run(&e)],
            });
            json::print("plan", doc)?;
        }
        Err(e)
    };
    let session = match open_planning(&args.run, &args.planning, recorder.clone(), rt) {
        Ok(session) => session,
        Err(e) => return nothing_planned(e),
    };
    recorder.loaded(&session);
    let plan = match progress
        .during(Step::Planning(session.stack()), || session.plan(Command::Plan).map_err(anyhow::Error::from))
    {
        Ok(plan) => plan,
        Err(e) => return nothing_planned(e),
    };
    recorder.planned(&session, &plan);
    let (plans, failures) = split(&plan.outcomes);
    let orphans = session.orphans();
    let changes = session.has_changes(&plan);

    if args.json {
        let doc = serde_json::json!({
            "components": plans.iter().filter(|p| p.in_target).collect::<Vec<_>>(),
            "removed_components": orphans.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            "failed": failures.iter().map(|r| serde_json::json!({"component": r.key, "result": r.result, "error": r.detail})).collect::<Vec<_>>(),
            "changes": changes,
            "errors": [],
        });
        json::print("plan", doc)?;
    } else {
        let text = format!(
            "{}{}{}",
            report::plan_text(&plans, args.run.verbose),
            orphan_text(&orphans),
            behind_text(&session)
        );
        print!("{text}");
        if failures.is_empty() {
            println!("\n{}", report::plan_summary(&plans));
        } else {
            println!("\nPlanning failed for {} component(s); see below.", failures.len());
        }
    }
    if let Some(out) = &args.out {
        session.save_plan(&plan, report::plan_text(&plans, false), out)?;
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
    let mut report = RunReport::default();
    let progress = Arc::new(Progress::new(plain));
    let recorder = Arc::new(RunRecorder::new(progress.clone()));
    let result = apply_reporting(args, &progress, &recorder, rt, &mut report);
    if args.json {
        report.print("apply", result.as_ref().err())?;
    }
    crate::runs::save(&recorder, "apply", &args.run.dir, args.report.file.as_deref(), result)
}

fn apply_reporting(
    args: &ApplyArgs,
    progress: &Progress,
    recorder: &Arc<RunRecorder>,
    rt: &tokio::runtime::Runtime,
    report: &mut RunReport,
) -> anyhow::Result<ExitCode> {
    let mut session = open_planning(&args.run, &args.planning, recorder.clone(), rt)?;
    recorder.loaded(&session);
    let guard = session.lock("apply", args.run.lock_timeout)?;
    let result = apply_locked(&session, args, &guard, progress, recorder, report);
    session.unlock(guard)?;
    result
}

fn apply_locked(
    session: &Session,
    args: &ApplyArgs,
    guard: &LockGuard,
    progress: &Progress,
    recorder: &RunRecorder,
    report: &mut RunReport,
) -> anyhow::Result<ExitCode> {
    let shown = progress.during(Step::Planning(session.stack()), || {
        session.plan(Command::Plan).map_err(anyhow::Error::from)
    })?;
    recorder.planned(session, &shown);
    let (plans, failures) = split(&shown.outcomes);
    let orphans = session.orphans();
    if !args.json {
        print!(
            "{}{}{}",
            report::plan_text(&plans, args.run.verbose),
            orphan_text(&orphans),
            behind_text(session)
        );
        println!("\n{}", report::plan_summary(&plans));
    }

    if let Some(file) = &args.plan_file {
        session.check_saved_plan(file, &shown)?;
    } else if !failures.is_empty() {
        eprintln!("\n{}", report::table(&failures));
        // Nothing is applied: the planned components are skipped too.
        for (key, outcome) in &shown.outcomes {
            let result = match outcome {
                Outcome::Done(p) if !p.in_target => continue,
                Outcome::Done(_) => {
                    failed(session, &shown, key, json::Outcome::Skipped, "nothing was applied")
                }
                Outcome::Failed(e) => failed(session, &shown, key, json::Outcome::Failed, &e.to_string()),
                Outcome::Skipped { because } => failed(session, &shown, key, json::Outcome::Skipped, because),
            };
            report.push(result);
        }
        bail!("some components could not be planned; nothing was applied");
    }
    let changes = session.has_changes(&shown);
    if !changes && !session.has_unrecorded(&shown) {
        for p in plans.iter().filter(|p| p.in_target) {
            report.push(applied_result(session, p, &shown));
        }
        report.nothing_to_do = true;
        if !args.json {
            let rows: Vec<Row> =
                plans.iter().filter(|p| p.in_target).map(|p| applied_row(&p.key, p, &shown)).collect();
            print!("\n{}", report::outcome_table(&rows, args.run.verbose));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.plan_file.is_none() && !args.auto_approve && changes && !confirm("Apply these changes?")? {
        println!("Apply cancelled; nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }

    let to_apply = Step::Applying(plans.iter().filter(|p| p.in_target && p.has_changes()).count());
    let applied = progress.during(to_apply, || session.apply(&shown, guard).map_err(anyhow::Error::from))?;
    recorder.applied(session, &shown, &applied);
    let mut rows: Vec<Row> = applied
        .removed
        .iter()
        .map(|key| Row { key: key.clone(), result: "removed".into(), detail: String::new() })
        .collect();
    for key in &applied.removed {
        report.push(deleted_result(session, key));
    }
    let mut failed_any = false;
    for (key, outcome) in &applied.outcomes {
        let in_target = session.stack().component(key).is_some_and(|c| c.in_target);
        let row = match outcome {
            Outcome::Done(_) if !in_target => continue,
            Outcome::Done(p) => {
                report.push(applied_result(session, p, &shown));
                applied_row(key, p, &shown)
            }
            Outcome::Failed(e) => {
                failed_any = true;
                report.push(failed(session, &shown, key, json::Outcome::Failed, &e.to_string()));
                Row { key: key.clone(), result: "failed".into(), detail: e.to_string() }
            }
            Outcome::Skipped { because } => {
                failed_any = true;
                report.push(failed(session, &shown, key, json::Outcome::Skipped, because));
                Row { key: key.clone(), result: "skipped".into(), detail: because.clone() }
            }
        };
        rows.push(row);
    }
    if !args.json {
        println!("\n{}", report::outcome_table(&rows, args.run.verbose));
        println!(
            "Apply {}: {}.",
            if failed_any { "finished with failures" } else { "complete" },
            report::tally(&rows)
        );
        for (environment, number) in &applied.revisions {
            println!("Recorded as revision {number} of {environment} (capstan history lists them).");
        }
    }
    report.revisions = applied
        .revisions
        .iter()
        .map(|(environment, number)| json::RevisionId { environment: environment.clone(), number: *number })
        .collect();
    if let Some(e) = &applied.revision_failed {
        eprintln!("warning: the apply stands, but no revision of it could be recorded: {e}");
    }
    if let Some(e) = applied.not_flushed {
        return Err(e.into());
    }
    if let Some(e) = applied.not_stored {
        return Err(e.into());
    }
    Ok(if failed_any { ExitCode::from(1) } else { ExitCode::SUCCESS })
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

/// The JSON result of a component that applied, as [`applied_row`] words it:
/// created when state recorded nothing for it before this run, updated when
/// it did, unchanged when the plan shown had no change for it.
fn applied_result(session: &Session, applied: &ComponentPlanned, shown: &Plan) -> ComponentResult {
    let key = &applied.key;
    let (create, update, delete, effects) = report::plan_counts(&[applied]);
    let changed = shown.planned().iter().find(|q| &q.key == key).map(|q| q.has_changes()).unwrap_or(true);
    let outcome = match (changed, session.state().components.contains_key(key)) {
        (false, _) => json::Outcome::Unchanged,
        (true, false) => json::Outcome::Created,
        (true, true) => json::Outcome::Updated,
    };
    ComponentResult {
        component: key.clone(),
        plugin: Some(PluginId {
            name: applied.plugin.name.clone(),
            version: Some(applied.plugin.version.clone()),
        }),
        outcome,
        changes: Some(Changes { create, update, delete, effects }),
        error: None,
        warnings: applied.warnings.clone(),
    }
}

/// The plugin build state recorded for `key` (as this run read it, before it changed anything).
fn recorded_plugin(session: &Session, key: &str) -> Option<PluginId> {
    let was = session.state().components.get(key)?;
    Some(PluginId { name: was.plugin.name.clone(), version: Some(was.plugin.version.clone()) })
}

/// The JSON result of a recorded component whose objects were removed.
fn deleted_result(session: &Session, key: &str) -> ComponentResult {
    let objects = session.state().components.get(key).map_or(0, |c| c.objects.len());
    ComponentResult {
        component: key.to_string(),
        plugin: recorded_plugin(session, key),
        outcome: json::Outcome::Deleted,
        changes: Some(Changes { delete: objects, ..Changes::default() }),
        error: None,
        warnings: Vec::new(),
    }
}

/// The JSON result of a component that failed or did not run, naming the
/// plugin that ran (or would have): the planned build when it was planned,
/// else what component.hcl asks for, else what state recorded.
fn failed(session: &Session, shown: &Plan, key: &str, outcome: json::Outcome, why: &str) -> ComponentResult {
    let planned = shown.outcomes.get(key).and_then(|o| o.done());
    let plugin = match (planned, session.stack().component(key)) {
        (Some(p), _) => {
            Some(PluginId { name: p.plugin.name.clone(), version: Some(p.plugin.version.clone()) })
        }
        (None, Some(c)) => Some(PluginId { name: c.plugin.clone(), version: None }),
        (None, None) => recorded_plugin(session, key),
    };
    ComponentResult {
        component: key.to_string(),
        plugin,
        outcome,
        changes: None,
        error: Some(why.to_string()),
        warnings: planned.map(|p| p.warnings.clone()).unwrap_or_default(),
    }
}

/// Asks `question`; only `yes` approves.
pub(crate) fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "standard input is not a terminal, so capstan cannot ask: pass --auto-approve to go ahead without asking"
        );
    }
    print!("\n{question} Only 'yes' is accepted: ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

pub fn destroy(args: &DestroyArgs, plain: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let mut report = RunReport::default();
    let removed = Arc::new(Removed { display: Progress::new(plain), keys: Mutex::default() });
    let recorder = Arc::new(RunRecorder::new(removed.clone()));
    let result = destroy_reporting(args, &removed, &recorder, rt, &mut report);
    if args.json {
        report.print("destroy", result.as_ref().err())?;
    }
    crate::runs::save(&recorder, "destroy", &args.run.dir, args.report.file.as_deref(), result)
}

fn destroy_reporting(
    args: &DestroyArgs,
    removed: &Removed,
    recorder: &Arc<RunRecorder>,
    rt: &tokio::runtime::Runtime,
    report: &mut RunReport,
) -> anyhow::Result<ExitCode> {
    let mut session = open(&args.run, recorder.clone(), rt)?;
    recorder.loaded(&session);
    // Locked before the order is worked out: what is removed is what state
    // records now, not what it recorded before another run finished.
    let guard = session.lock("destroy", args.run.lock_timeout)?;
    let result = destroy_locked(&session, args, &guard, removed, recorder, report);
    session.unlock(guard)?;
    result
}

fn destroy_locked(
    session: &Session,
    args: &DestroyArgs,
    guard: &LockGuard,
    removed: &Removed,
    recorder: &RunRecorder,
    report: &mut RunReport,
) -> anyhow::Result<ExitCode> {
    let order = session.destroy_order();
    if order.is_empty() {
        report.nothing_to_do = true;
        let text =
            format!("Nothing to destroy: state records no component below {}.", args.run.dir.display());
        if args.json {
            eprintln!("{text}")
        } else {
            println!("{text}")
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.json {
        println!(
            "Destroy will remove everything these components applied (databases and other effects are left in place):"
        );
        for k in &order {
            println!("  - {k}");
        }
    }
    if !args.auto_approve && !confirm("Destroy these components?")? {
        println!("Destroy cancelled; nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }
    let removing = Step::Removing(order.len());
    let error =
        removed.display.during(removing, || session.destroy(&order, guard).err()).map(anyhow::Error::from);
    recorder.destroyed(session, &order, error.as_ref().map(|e| format!("{e:#}")).as_deref());
    // The components go one at a time in `order` and the first failure
    // stops the rest: the first one not removed is the one that failed.
    let done = removed.keys.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let mut stopped = false;
    for key in &order {
        if done.contains(key) {
            report.push(deleted_result(session, key));
            continue;
        }
        let (outcome, why) = match &error {
            Some(e) if !stopped => (json::Outcome::Failed, format!("{e:#}")),
            _ => (json::Outcome::Skipped, "not removed: the destroy stopped at an earlier failure".into()),
        };
        stopped = true;
        report.push(ComponentResult {
            component: key.clone(),
            plugin: recorded_plugin(session, key),
            outcome,
            changes: None,
            error: Some(why),
            warnings: Vec::new(),
        });
    }
    if let Some(e) = error {
        eprintln!("error: {e:#}");
        // A component's failure is reported with it; one after every
        // component was removed (the target's flush) is the run's.
        if !stopped {
            report.errors.push(json::Error::run(&e));
        }
        return Ok(ExitCode::from(1));
    }
    if !args.json {
        println!("Destroy complete: {} components removed.", order.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// The display of a destroy, and which components it removed: the engine
/// says `Ready` for each once its objects are gone and state forgets it.
struct Removed {
    display: Progress,
    keys: Mutex<BTreeSet<String>>,
}

impl Events for Removed {
    fn phase(&self, component: &str, phase: Phase, detail: Option<&str>) {
        if phase == Phase::Ready {
            self.keys.lock().unwrap_or_else(PoisonError::into_inner).insert(component.to_string());
        }
        self.display.phase(component, phase, detail);
    }

    fn notice(&self, notice: &Notice) {
        self.display.notice(notice);
    }
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
