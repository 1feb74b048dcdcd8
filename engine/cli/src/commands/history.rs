//! `capstan history` (the revisions each environment kept), `history show`
//! (one of them) and `capstan rollback` (back to one, after showing how and
//! asking, as apply does).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use capstan_plan::Action;
use capstan_run::report::RunRecorder;
use capstan_run::{Rollback, StepChange};
use capstan_state::{Revision, RevisionHead, StateBackend as _};

use crate::args::RollbackArgs;
use crate::progress::Progress;

/// The revisions of the environments at, above or below `dir`.
pub fn list(dir: &Path, json: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let heads = heads_in_scope(dir, rt)?;
    if json {
        crate::json::print("history", serde_json::json!({ "revisions": heads }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if heads.is_empty() {
        println!("No revisions yet: an apply that changes an environment records one.");
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", history_table(&heads));
    Ok(ExitCode::SUCCESS)
}

/// One revision: its head, then each component with its plugin and objects.
pub fn show(
    revision: &str,
    dir: &Path,
    json: bool,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<ExitCode> {
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
    let environments = capstan_run::environments_in_scope(&stack, dir)?;
    let (environment, number) = capstan_run::parse_revision(revision, &environments)?;
    let backend = rt.block_on(capstan_run::state_backend(&stack))?;
    let Some(found) = rt.block_on(backend.revision(&environment, number))? else {
        return Err(capstan_run::RunError::NoSuchRevision { environment, number }.into());
    };
    if json {
        crate::json::print("history show", serde_json::to_value(&found)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", revision_text(&found));
    Ok(ExitCode::SUCCESS)
}

/// The heads kept for the environments in `dir`'s scope, and those environments.
fn heads_in_scope(dir: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<Vec<RevisionHead>> {
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
    let environments = capstan_run::environments_in_scope(&stack, dir)?;
    let backend = rt.block_on(capstan_run::state_backend(&stack))?;
    let heads = rt.block_on(backend.revision_heads())?;
    Ok(heads.into_iter().filter(|h| environments.contains(&h.environment)).collect())
}

fn history_table(heads: &[RevisionHead]) -> String {
    let rows: Vec<[String; 7]> = heads
        .iter()
        .map(|h| {
            [
                h.environment.clone(),
                h.number.to_string(),
                h.at.clone(),
                h.by.clone(),
                h.operation.clone(),
                h.changed.len().to_string(),
                h.git_commit.as_deref().map(|c| c.chars().take(12).collect()).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let titles = ["ENVIRONMENT", "REVISION", "AT", "BY", "OPERATION", "CHANGED", "COMMIT"];
    let widths: Vec<usize> = (0..titles.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([titles[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[&str]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(&titles);
    for r in &rows {
        out.push('\n');
        out.push_str(&line(&r.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out
}

fn revision_text(revision: &Revision) -> String {
    let h = &revision.head;
    let mut out = String::new();
    let _ =
        writeln!(out, "Revision {} of {}: {} at {} by {}", h.number, h.environment, h.operation, h.at, h.by);
    let _ = writeln!(out, "  plan   {}", h.plan_digest);
    let _ = writeln!(out, "  tree   {}", h.tree_digest);
    if let Some(commit) = &h.git_commit {
        let _ = writeln!(out, "  commit {commit}");
    }
    for (key, c) in &revision.components {
        let mark = if h.removed.contains(key) {
            " (removed)"
        } else if h.changed.contains(key) {
            " (changed)"
        } else {
            ""
        };
        let p = &c.state.plugin;
        let _ = writeln!(out, "\n{key} ({} {}){mark}", p.name, p.version);
        for o in &c.state.objects {
            let _ = writeln!(out, "  {}", o.object);
        }
        for e in &c.state.effects {
            let summary = c.effects.get(&e.id).map(|s| format!(": {s}")).unwrap_or_default();
            let _ = writeln!(out, "  ! {}{summary}", e.id);
        }
    }
    for key in &h.removed {
        let _ = writeln!(out, "\n{key} (removed)");
    }
    out
}

/// `capstan rollback <dir> --to <revision>`: the plan of the return, then,
/// once approved, the return itself, under the state lock throughout.
pub fn rollback(args: &RollbackArgs, plain: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let progress = Arc::new(if args.json { Progress::quiet() } else { Progress::new(plain) });
    let recorder = Arc::new(RunRecorder::new(progress));
    let result = rollback_recorded(args, &recorder, rt);
    crate::runs::save(&recorder, "rollback", &args.run.dir, args.report.file.as_deref(), result)
}

fn rollback_recorded(
    args: &RollbackArgs,
    recorder: &Arc<RunRecorder>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<ExitCode> {
    let mut session = super::run::open(&args.run, recorder.clone(), rt)?;
    recorder.loaded(&session);
    let environments = capstan_run::environments_in_scope(session.stack(), &args.run.dir)?;
    let (environment, number) = capstan_run::parse_revision(&args.to, &environments)?;
    let guard = session.lock("rollback", args.run.lock_timeout)?;
    let result = rollback_locked(&session, args, &environment, number, &guard, recorder);
    session.unlock(guard)?;
    result
}

fn rollback_locked(
    session: &capstan_run::Session,
    args: &RollbackArgs,
    environment: &str,
    number: u64,
    guard: &capstan_state::LockGuard,
    recorder: &RunRecorder,
) -> anyhow::Result<ExitCode> {
    let plan = session.plan_rollback(environment, number)?;
    if !args.json {
        print!("{}", rollback_text(&plan));
    }
    if !plan.refused.is_empty() {
        if args.json {
            crate::json::print("rollback", serde_json::json!({ "rollback": plan, "revision": null }))?;
        }
        let reasons = plan.refused;
        return Err(capstan_run::RunError::RollbackRefused {
            environment: environment.into(),
            number,
            reasons,
        }
        .into());
    }
    if !plan.has_changes() {
        if args.json {
            crate::json::print("rollback", serde_json::json!({ "rollback": plan, "revision": null }))?;
        } else {
            println!("\nNothing to roll back: {environment} is as revision {number} left it.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.auto_approve && !super::run::confirm("Roll back to this revision?")? {
        println!("Rollback cancelled; nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }
    let shown = serde_json::to_value(&plan)?;
    let steps: Vec<(String, StepChange)> =
        plan.components.iter().map(|c| (c.component.clone(), c.change)).collect();
    let done = session.rollback(plan, guard);
    let error = done.as_ref().err().map(|e| format!("{e:#}"));
    recorder.rolled_back(session, &steps, error.as_deref());
    let done = done?;
    if let Some(e) = &done.revision_failed {
        eprintln!("warning: the rollback is done, but no revision could be recorded for it: {e}");
    }
    if args.json {
        crate::json::print("rollback", serde_json::json!({ "rollback": shown, "revision": done.revision }))?;
    } else {
        match done.revision {
            Some(n) => {
                println!("\nRolled back {environment} to revision {number} (recorded as revision {n}).")
            }
            None => println!("\nRolled back {environment} to revision {number}."),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The rollback as a plan: `+`, `~` (with the fields), `-` per object, a
/// drifted object marked. (Why it is refused, if it is, is its error.)
fn rollback_text(plan: &Rollback) -> String {
    let mut out = String::new();
    let to = &plan.to;
    let _ = writeln!(
        out,
        "Rollback of {} to revision {} ({} at {} by {}):",
        to.environment, to.number, to.operation, to.at, to.by
    );
    for step in plan.components.iter().filter(|s| s.change != StepChange::Unchanged) {
        let what = match step.change {
            StepChange::Remove => " (added after this revision: removed)",
            _ => "",
        };
        let _ = writeln!(out, "\n{}{what}", step.component);
        for o in &step.objects {
            let drift =
                if o.drifted { "  (drifted: changed outside Capstan since the last apply)" } else { "" };
            match &o.action {
                Action::Create => {
                    let _ = writeln!(out, "  + {}{drift}", o.object);
                }
                Action::Delete => {
                    let _ = writeln!(out, "  - {}{drift}", o.object);
                }
                Action::Unchanged => {}
                Action::Update(fields) => {
                    let _ = writeln!(out, "  ~ {}{drift}", o.object);
                    for f in fields {
                        crate::report::field_change(&mut out, f);
                    }
                }
            }
        }
    }
    out
}
