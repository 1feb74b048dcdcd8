//! `capstan plan`, `apply` and `destroy`: load, plan every component in
//! dependency order (independent ones in parallel), show the plan, and — for
//! apply — carry it out, recording state after each component.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};

use capstan_config::{Command, Stack};
use capstan_plan::{
    ComponentError, ComponentGraph, ComponentPlanned, Outcome, PlanContext, apply_component, plan_component,
    schedule,
};
use capstan_state::{AnyBackend, ComponentState, LockGuard, LockInfo, State, StateBackend, StateKey};

use crate::args::{ApplyArgs, DestroyArgs, PlanArgs, RunArgs, TargetKind};
use crate::catalog::Catalog;
use crate::progress::{Phase, Progress};
use crate::report::{self, Row};
use crate::wiring::{self, Drivers, Kube, Render, Target};

/// Everything one run works with.
struct Session {
    stack: Stack,
    graph: ComponentGraph,
    catalog: Arc<Catalog>,
    target: Target,
    backend: AnyBackend,
    state: State,
    key: StateKey,
    /// The run's directory relative to the stack root (`envs/staging`, or empty).
    scope: PathBuf,
}

impl Session {
    fn open(run: &RunArgs, rt: &tokio::runtime::Runtime) -> anyhow::Result<Self> {
        let stack = wiring::load_stack(&run.dir)?;
        let graph = capstan_plan::stack_graph(&stack)?;
        let catalog = Arc::new(Catalog::for_stack(
            crate::host()?,
            &stack,
            run.plugin_dirs.clone(),
            run.allow_unsigned,
        )?);
        let backend = rt.block_on(wiring::state_backend(&stack))?;
        let state = rt.block_on(backend.read()).context("reading state")?;
        let target = match run.target {
            TargetKind::Render if run.context.is_some() || run.kubeconfig.is_some() => {
                bail!(
                    "--context and --kubeconfig choose a cluster, and the render target has none: add --target kube"
                )
            }
            TargetKind::Render => Target::Render(Render::new(&stack, run.out_dir.as_deref())),
            TargetKind::Kube => {
                let kube = Kube::connect(
                    &stack,
                    &state,
                    run.context.as_deref(),
                    run.kubeconfig.as_deref(),
                    run.ready_timeout,
                    rt,
                )?;
                Target::Kube(Box::new(kube))
            }
        };
        let key = rt.block_on(backend.state_key()).context("reading the state key")?;
        let dir = std::path::absolute(&run.dir)?;
        let scope = dir.strip_prefix(&stack.root).map(Path::to_path_buf).unwrap_or_default();
        Ok(Self { stack, graph, catalog, target, backend, state, key, scope })
    }

    fn context(&self, command: Command) -> PlanContext<'_> {
        PlanContext {
            stack: &self.stack,
            plugins: self.catalog.as_ref(),
            target: &self.target,
            state: &self.state,
            state_key: &self.key,
            command,
        }
    }

    /// Recorded components in this run's scope that are no longer in the
    /// tree: everything they applied is to be removed.
    fn orphans(&self) -> Vec<(&String, &ComponentState)> {
        self.state
            .components
            .iter()
            .filter(|(k, _)| !self.stack.components.contains_key(*k) && Path::new(k).starts_with(&self.scope))
            .collect()
    }

    fn plan_all(
        &self,
        command: Command,
        parallelism: usize,
        progress: &Progress,
    ) -> BTreeMap<String, Outcome<ComponentPlanned, ComponentError>> {
        let cx = self.context(command);
        schedule::run(&self.graph, parallelism, |key, deps| {
            progress.update(key, Phase::Planning, None);
            let result = plan_component(&cx, key, deps);
            match &result {
                Ok(p) if !p.in_target => {}
                Ok(p) => progress.update(
                    key,
                    if p.has_changes() { Phase::Planned } else { Phase::Unchanged },
                    None,
                ),
                Err(_) => progress.update(key, Phase::Failed, None),
            }
            result
        })
    }

    fn lock(
        &self,
        operation: &str,
        run: &RunArgs,
        rt: &tokio::runtime::Runtime,
    ) -> anyhow::Result<LockGuard> {
        let holder = std::env::var("USER").unwrap_or_else(|_| "capstan".into());
        let info = LockInfo::new(holder, operation)?;
        Ok(rt.block_on(self.backend.lock(&info, run.lock_timeout))?)
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
            match &o.namespace {
                Some(ns) => out.push_str(&format!("  - {} {}/{}\n", o.kind, ns, o.name)),
                None => out.push_str(&format!("  - {} {}\n", o.kind, o.name)),
            }
        }
    }
    out
}

/// A digest of everything a plan would do, secrets keyed-hashed: two plans
/// with the same digest make the same changes.
fn plan_digest(
    key: &StateKey,
    plans: &[&ComponentPlanned],
    orphans: &[(&String, &ComponentState)],
) -> String {
    let mut h = Sha256::new();
    for p in plans {
        h.update(serde_json::to_string(p).unwrap_or_default());
        for o in &p.objects {
            if let Some(m) = &o.manifest {
                h.update(capstan_state::object_digest(key, m));
            }
        }
        for e in &p.effects {
            h.update(capstan_state::effect_digest(key, &e.effect));
        }
    }
    for (k, _) in orphans {
        h.update(k.as_bytes());
    }
    hex::encode(h.finalize())
}

/// What `plan --out` saves: enough to refuse a stale plan, no secret values.
#[derive(serde::Serialize, serde::Deserialize)]
struct SavedPlan {
    format: String,
    lineage: String,
    serial: u64,
    digest: String,
    plan: String,
}

const SAVED_PLAN_FORMAT: &str = "capstan-plan/v1";

pub fn plan(args: &PlanArgs, plain: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let session = Session::open(&args.run, rt)?;
    let progress = if args.json { Progress::quiet() } else { Progress::new(plain) };
    let outcomes = session.plan_all(Command::Plan, args.run.parallelism, &progress);
    let (plans, failures) = split(&outcomes);
    let orphans = session.orphans();
    let changes = plans.iter().any(|p| p.has_changes()) || !orphans.is_empty();

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
        let saved = SavedPlan {
            format: SAVED_PLAN_FORMAT.into(),
            lineage: session.state.lineage.clone(),
            serial: session.state.serial,
            digest: plan_digest(&session.key, &plans, &orphans),
            plan: report::plan_text(&plans),
        };
        write_new_file(out, serde_json::to_vec_pretty(&saved)?.as_slice())?;
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
    std::mem::forget(outcomes);
    std::mem::forget(session);
    Ok(ExitCode::from(if args.detailed_exitcode && changes { 2 } else { 0 }))
}

pub fn apply(args: &ApplyArgs, plain: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let mut session = Session::open(&args.run, rt)?;
    let progress = Progress::new(plain);
    let guard = session.lock("apply", &args.run, rt)?;
    // The state may have moved while we waited for the lock.
    let result = match rt.block_on(session.backend.read()) {
        Ok(state) => {
            session.state = state;
            apply_locked(&session, args, &progress, rt, &guard)
        }
        Err(e) => Err(e.into()),
    };
    rt.block_on(session.backend.unlock(guard)).context("releasing the state lock")?;
    result
}

/// The plan shown before asking, when it still holds for the apply: every
/// dependency now answers with the outputs it was planned with (no effect
/// changed them), and none may fall back on mock outputs, which a plan uses
/// and an apply never does. Planning again would give the same answer:
/// plugins are pure, state is as it was read, and no other component touches
/// this one's objects.
fn plan_still_valid<'p>(
    session: &Session,
    shown: &'p BTreeMap<String, Outcome<ComponentPlanned, ComponentError>>,
    key: &str,
    deps: &schedule::DepResults<ComponentPlanned>,
) -> Option<&'p ComponentPlanned> {
    let Outcome::Done(planned) = shown.get(key)? else { return None };
    let component = session.stack.component(key)?;
    for decl in component.dependencies.values() {
        let Outcome::Done(before) = shown.get(&decl.target)? else { return None };
        let now = deps.get(&decl.target)?;
        if decl.mocks_allowed(Command::Plan) || before.outputs != now.outputs {
            return None;
        }
    }
    Some(planned)
}

fn apply_locked(
    session: &Session,
    args: &ApplyArgs,
    progress: &Progress,
    rt: &tokio::runtime::Runtime,
    guard: &LockGuard,
) -> anyhow::Result<ExitCode> {
    let outcomes = session.plan_all(Command::Plan, args.run.parallelism, progress);
    let (plans, failures) = split(&outcomes);
    let orphans = session.orphans();
    print!("{}{}", report::plan_text(&plans), orphan_text(&orphans));
    println!("\n{}", report::plan_summary(&plans));

    if let Some(file) = &args.plan_file {
        check_saved_plan(file, session, &plans, &orphans)?;
    } else if !failures.is_empty() {
        eprintln!("\n{}", report::table(&failures));
        bail!("some components could not be planned; nothing was applied");
    }
    let changes = plans.iter().any(|p| p.has_changes()) || !orphans.is_empty();
    let unrecorded = plans.iter().any(|p| p.in_target && needs_record(session, p));
    if !changes && !unrecorded {
        return Ok(ExitCode::SUCCESS);
    }
    if args.plan_file.is_none() && !args.auto_approve && changes && !confirm()? {
        println!("Apply cancelled; nothing was changed.");
        return Ok(ExitCode::SUCCESS);
    }

    let mut rows = Vec::new();
    for (key, was) in &orphans {
        session.target.remove_component(key, was).with_context(|| format!("removing {key}"))?;
        rt.block_on(session.backend.write_component(key, None, guard))?;
        rows.push(Row { key: (*key).clone(), result: "removed".into(), detail: String::new() });
    }

    let drivers = Drivers::new(&session.stack, rt.handle().clone());
    let cx = session.context(Command::Apply);
    let shown = &outcomes;
    let outcomes = schedule::run(&session.graph, args.run.parallelism, |key, deps| {
        let mut planned = match plan_still_valid(session, shown, key, deps) {
            Some(p) => p.clone(),
            None => plan_component(&cx, key, deps)?,
        };
        if !planned.in_target || !(planned.has_changes() || needs_record(session, &planned)) {
            return Ok::<_, ComponentError>(planned);
        }
        progress.update(key, Phase::Applying, None);
        let applied = apply_component(&cx, &planned, &drivers)
            .inspect_err(|_| progress.update(key, Phase::Failed, None))?;
        rt.block_on(session.backend.write_component(key, Some(&applied.state), guard))
            .map_err(|e| ComponentError::State(e.to_string()))?;
        planned.outputs = applied.outputs;
        progress.update(key, Phase::Ready, None);
        Ok(planned)
    });
    session.target.flush()?;
    // Fold what each component recorded into one snapshot (the previous
    // snapshot is kept by the backend).
    let recorded = rt.block_on(session.backend.read()).context("reading state")?;
    rt.block_on(session.backend.write(&recorded, guard)).context("writing state")?;
    let mut failed = false;
    for (key, outcome) in &outcomes {
        let in_target = session.stack.component(key).is_some_and(|c| c.in_target);
        let row = match outcome {
            Outcome::Done(p) if !in_target => continue,
            Outcome::Done(p) => {
                let (c, u, d, e) = report::plan_counts(&[p.as_ref()]);
                let before = plans.iter().find(|q| &q.key == key).map(|q| q.has_changes()).unwrap_or(true);
                let result = if before { "applied" } else { "unchanged" };
                let detail = if before {
                    format!("{c} created, {u} updated, {d} deleted, {e} effects")
                } else {
                    String::new()
                };
                Row { key: key.clone(), result: result.into(), detail }
            }
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
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Whether state lacks or has a stale record of a component that otherwise
/// has nothing to change (a first apply onto an identical render, say).
fn needs_record(session: &Session, p: &ComponentPlanned) -> bool {
    match session.state.components.get(&p.key) {
        None => true,
        Some(r) => r.inputs_digest != p.inputs_digest || r.plugin != p.plugin,
    }
}

fn check_saved_plan(
    file: &Path,
    session: &Session,
    plans: &[&ComponentPlanned],
    orphans: &[(&String, &ComponentState)],
) -> anyhow::Result<()> {
    let text = std::fs::read(file).with_context(|| format!("reading saved plan {}", file.display()))?;
    let saved: SavedPlan = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a plan saved by capstan plan --out", file.display()))?;
    if saved.format != SAVED_PLAN_FORMAT {
        bail!("{}: plan format {} is not {SAVED_PLAN_FORMAT}", file.display(), saved.format);
    }
    // A stack with no state yet gets a fresh lineage on every read.
    let fresh = saved.serial == 0 && session.state.serial == 0 && session.state.components.is_empty();
    if !fresh && (saved.lineage != session.state.lineage || saved.serial != session.state.serial) {
        bail!(
            "{}: the state changed since this plan was saved (serial {} then, {} now); run capstan plan again",
            file.display(),
            saved.serial,
            session.state.serial
        );
    }
    if saved.digest != plan_digest(&session.key, plans, orphans) {
        bail!("{}: the tree changed since this plan was saved; run capstan plan again", file.display());
    }
    Ok(())
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

/// Writes a file that must not silently replace another's work half-way.
fn write_new_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

pub fn destroy(args: &DestroyArgs, plain: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let session = Session::open(&args.run, rt)?;
    let progress = Progress::new(plain);
    let order: Vec<String> = session
        .graph
        .reversed()
        .order()
        .iter()
        .filter(|k| {
            session.stack.component(k).is_some_and(|c| c.in_target)
                && session.state.components.contains_key(*k)
        })
        .cloned()
        .chain(session.orphans().into_iter().map(|(k, _)| k.clone()))
        .collect();
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
    let guard = session.lock("destroy", &args.run, rt)?;
    let result = (|| -> anyhow::Result<()> {
        for key in &order {
            let Some(was) = session.state.components.get(key) else { continue };
            progress.update(key, Phase::Applying, Some("removing"));
            session.target.remove_component(key, was).with_context(|| format!("removing {key}"))?;
            rt.block_on(session.backend.write_component(key, None, &guard))?;
            progress.update(key, Phase::Ready, Some("removed"));
        }
        session.target.flush()?;
        Ok(())
    })();
    rt.block_on(session.backend.unlock(guard)).context("releasing the state lock")?;
    result?;
    println!("Destroy complete: {} components removed.", order.len());
    Ok(ExitCode::SUCCESS)
}
