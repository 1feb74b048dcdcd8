//! `capstan state mv|rm|import`: state changed by hand, each shown as a
//! plan is (what changes, what stays where it is), asked about as apply
//! asks, and preceded by a backup of the whole state that `capstan state
//! push <backup> --force` restores. The engine checks and carries them out
//! (`capstan_run::Session::plan_move` and its neighbours); this module
//! names the components, shows and asks.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};

use capstan_config::Command;
use capstan_run::{Operated, Session};
use capstan_state::ComponentState;

use crate::args::{ImportArgs, PluginArgs, SurgeryArgs, TargetArgs, TargetKind};
use crate::progress::{Progress, Step};

/// `capstan state mv <from> <to>`.
pub fn mv(
    from: &Path,
    to: &Path,
    target: &TargetArgs,
    surgery: &SurgeryArgs,
    plain: bool,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<ExitCode> {
    let root = stack_root(to)?;
    let (from, to) = (key_of(&root, from)?, key_of(&root, to)?);
    // Loaded from the directory both are below: every environment a move
    // touches is known, and nothing else of a large stack is loaded.
    let common: PathBuf = Path::new(&from)
        .components()
        .zip(Path::new(&to).components())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a)
        .collect();
    let mut session = open(&root.join(common), target, &no_plugins(), Arc::new(Progress::new(plain)), rt)?;
    let guard = session.lock("state mv", surgery.lock_timeout)?;
    let result = (|| {
        let change = session.plan_move(&from, &to)?;
        let was = session.state().components.get(&from).map(|c| &c.id);
        let renamed = was.filter(|was| **was != change.record.id);
        println!("{from} -> {to}: {}{}", go_along(&change.record, renamed.is_none()), colon(&change.record));
        list_objects(&change.record);
        println!(
            "  its {} and {} stay recorded",
            count(change.record.effects.len(), "effect"),
            count(change.record.outputs.len(), "output")
        );
        match target.kind {
            TargetKind::Render => {
                println!(
                    "The render target's files follow it (--target kube moves a cluster's live objects)."
                )
            }
            TargetKind::Kube => {
                println!("Each live object is marked as {to}'s (its capstan.dev/component annotation).")
            }
        }
        if let Some(was) = renamed {
            // Plugins name objects after the component and place them in its
            // namespace: those are other objects now, whatever state says.
            println!(
                "Note: the component is {} now, not {was}: objects its plugin names after it or places in its \
                 namespace are planned as new ones, and the plan deletes the old ones (`capstan plan` shows which).",
                change.record.id
            );
        }
        if !ask(surgery, "Move this record?")? {
            return Ok(cancelled());
        }
        let done = session.move_recorded(change, &guard)?;
        report(&root, &done);
        println!("Moved {from} to {to}: `capstan plan` compares its objects where they are.");
        Ok(ExitCode::SUCCESS)
    })();
    session.unlock(guard)?;
    result
}

/// `capstan state rm <component>`.
pub fn rm(
    component: &Path,
    surgery: &SurgeryArgs,
    plain: bool,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<ExitCode> {
    let root = stack_root(component)?;
    let key = key_of(&root, component)?;
    // Its directory if it is still there, else the nearest one that is.
    let dir = root.join(&key).ancestors().find(|d| d.is_dir()).map(Path::to_path_buf).unwrap_or(root.clone());
    let target = TargetArgs { kind: TargetKind::Render, out_dir: None, context: None, kubeconfig: None };
    let mut session = open(&dir, &target, &no_plugins(), Arc::new(Progress::new(plain)), rt)?;
    let guard = session.lock("state rm", surgery.lock_timeout)?;
    let result = (|| {
        let change = session.plan_forget(&key)?;
        println!(
            "{key}: forgotten, not deleted: {} stay where they are{}",
            count(change.record.objects.len(), "object"),
            colon(&change.record)
        );
        list_objects(&change.record);
        if change.in_tree {
            let effects = match change.record.effects.len() {
                0 => String::new(),
                n => format!(", running its {} again (they ensure: what exists is kept)", count(n, "effect")),
            };
            println!(
                "It is still in the tree: the next plan compares its objects with what the target holds, and the \
                 next apply records it again{effects}."
            );
        } else {
            println!("It is no longer in the tree: nothing will remove these objects.");
        }
        if !ask(surgery, "Forget this component?")? {
            return Ok(cancelled());
        }
        let done = session.forget(change, &guard)?;
        report(&root, &done);
        println!("Forgot {key}.");
        Ok(ExitCode::SUCCESS)
    })();
    session.unlock(guard)?;
    result
}

/// `capstan state import <component_dir>`.
pub fn import(args: &ImportArgs, plain: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let (dir, target, surgery) = (&args.component_dir, &args.target, &args.surgery);
    if !dir.join("component.hcl").is_file() {
        bail!("{} holds no component.hcl: give the directory of the component to import", dir.display());
    }
    let root = stack_root(dir)?;
    let key = key_of(&root, dir)?;
    let progress = Arc::new(Progress::new(plain));
    let mut session = open(dir, target, &args.plugins, progress.clone(), rt)?;
    let guard = session.lock("state import", surgery.lock_timeout)?;
    let result = (|| {
        // Planned as apply plans: what is recorded never comes from mock outputs.
        let plan = progress.during(Step::Planning(session.stack()), || {
            session.plan(Command::Apply).map_err(anyhow::Error::from)
        })?;
        let change = session.plan_import(&plan, &key)?;
        let planned: Vec<_> = plan.planned().into_iter().filter(|p| p.key == key).collect();
        print!("{}", crate::report::plan_text(&planned, true));
        println!(
            "\n{key}: {} adopted as the target holds them, nothing applied{}",
            count(change.record.objects.len(), "object"),
            colon(&change.record)
        );
        list_objects(&change.record);
        if !change.effects.is_empty() {
            println!("Not recorded as run, so the next apply runs them (they ensure: what exists is kept):");
            for e in &change.effects {
                println!("  ! {e}");
            }
        }
        println!("The next plan shows where the live objects differ from the plan above, as updates.");
        if !ask(surgery, "Import this component?")? {
            return Ok(cancelled());
        }
        let done = session.import(change, &guard)?;
        report(&root, &done);
        println!("Imported {key}.");
        Ok(ExitCode::SUCCESS)
    })();
    session.unlock(guard)?;
    result
}

/// For a surgery that plans nothing: no extra plugins, none unsigned.
fn no_plugins() -> PluginArgs {
    PluginArgs { dirs: Vec::new(), allow_unsigned: false, lockfile: None }
}

/// A session at `dir` whose target is `target`. Surgery applies nothing,
/// so nothing waits for readiness.
fn open(
    dir: &Path,
    target: &TargetArgs,
    plugins: &PluginArgs,
    progress: Arc<Progress>,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<Session> {
    super::run::open_session(dir, target, Duration::ZERO, 4, plugins, progress, rt)
}

/// The root of the stack `path` is in, found from its nearest existing
/// directory (a moved component's old directory is gone).
fn stack_root(path: &Path) -> anyhow::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    let existing = abs.ancestors().find(|d| d.is_dir()).unwrap_or(&abs);
    capstan_config::find_stack_root(existing)
        .with_context(|| format!("{} is not in a stack: no client.hcl at or above it", path.display()))
}

/// The state key of a component named by its directory or by its key: a
/// path from the working directory when it lies in the stack (as for every
/// other command), else a key, from the stack root (`envs/staging/core/api`,
/// as `capstan state list` shows it).
fn key_of(root: &Path, arg: &Path) -> anyhow::Result<String> {
    let abs = normalise(&std::path::absolute(arg)?);
    let rel = match abs.strip_prefix(root) {
        Ok(rel) => rel.to_path_buf(),
        Err(_) if arg.is_relative() => normalise(arg),
        Err(_) => bail!("{} is not in the stack at {}", arg.display(), root.display()),
    };
    let parts: Vec<String> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => Ok(s.to_string_lossy().into_owned()),
            _ => bail!("{} does not name a component below the stack root {}", arg.display(), root.display()),
        })
        .collect::<anyhow::Result<_>>()?;
    if parts.is_empty() {
        bail!("{} is the stack root, not a component", arg.display());
    }
    Ok(parts.join("/"))
}

/// `path` with `.` dropped and each `..` taking away the part before it.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// What happens to the recorded objects: they keep their place when the
/// component keeps its environment, namespace and name.
fn go_along(record: &ComponentState, same_identity: bool) -> String {
    match (record.objects.len(), same_identity) {
        (0, _) => "no objects are recorded".into(),
        (1, true) => "1 object keeps its place".into(),
        (n, true) => format!("{n} objects keep their place"),
        (1, false) => "1 recorded object goes with it".into(),
        (n, false) => format!("{n} recorded objects go with it"),
    }
}

/// `:` before a list of the record's objects, if it has any.
fn colon(record: &ComponentState) -> &'static str {
    if record.objects.is_empty() { "" } else { ":" }
}

fn list_objects(record: &ComponentState) {
    for o in &record.objects {
        println!("    {}", o.object);
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// What the target did and where the backup is.
fn report(root: &Path, done: &Operated) {
    if let Some(relocated) = &done.relocated {
        for line in &relocated.moved {
            println!("  moved {line}");
        }
        for (what, why) in &relocated.kept {
            println!("  left {what} as it is: {why}");
        }
    }
    println!(
        "The state before this change is saved in {} (`capstan state push {} {} --force` restores it).",
        done.backup.display(),
        done.backup.display(),
        root.display()
    );
    println!("Stored in {} as serial {}.", done.location, done.serial);
}

/// Asks `question` unless --auto-approve; as apply, never without a terminal to ask on.
fn ask(surgery: &SurgeryArgs, question: &str) -> anyhow::Result<bool> {
    if surgery.auto_approve {
        return Ok(true);
    }
    super::run::confirm(&format!("{question} A backup of the whole state is saved first."))
}

fn cancelled() -> ExitCode {
    println!("Cancelled; the state was not changed.");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_component_is_named_by_its_path_from_here_or_by_its_key() {
        let root = std::path::absolute("stack").unwrap();
        let here = std::env::current_dir().unwrap();
        assert_eq!(key_of(&root, Path::new("stack/envs/dev/web/api")).unwrap(), "envs/dev/web/api");
        assert_eq!(key_of(&root, Path::new("./stack/envs/dev/../dev/web/api/")).unwrap(), "envs/dev/web/api");
        // Not in the stack from here: a key, from the stack root.
        assert_eq!(key_of(&root, Path::new("envs/dev/web/gone")).unwrap(), "envs/dev/web/gone");
        let outside = here.join("elsewhere/envs/dev/web/api");
        assert!(key_of(&root, &outside).unwrap_err().to_string().contains("is not in the stack"));
        assert!(key_of(&root, Path::new("stack")).unwrap_err().to_string().contains("is the stack root"));
        assert!(key_of(&root, Path::new("../x")).is_err());
    }
}
