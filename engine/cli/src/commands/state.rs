//! `capstan output` and `capstan state list|show|unlock|push`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use capstan_state::StateBackend;

/// The key of the component in `dir` (its path below the stack root).
fn component_key(stack: &capstan_config::Stack, dir: &Path) -> anyhow::Result<String> {
    let abs = std::path::absolute(dir)?;
    Ok(abs.strip_prefix(&stack.root).unwrap_or(&abs).to_string_lossy().replace('\\', "/"))
}

pub fn output(dir: &Path, json: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
    let key = component_key(&stack, dir)?;
    let backend = rt.block_on(capstan_run::state_backend(&stack))?;
    let state = rt.block_on(backend.read())?;
    let recorded = state.components.get(&key).with_context(|| {
        format!("{key} has no recorded outputs: it has not been applied (run capstan apply)")
    })?;
    let shown: serde_json::Map<String, serde_json::Value> = recorded
        .outputs
        .iter()
        .map(|o| {
            let v =
                if o.sensitive { capstan_core::REDACTED.into() } else { o.value.clone().unwrap_or_default() };
            (o.name.clone(), v)
        })
        .collect();
    if json {
        crate::json::print("output", serde_json::json!({ "component": key, "outputs": shown }))?;
    } else {
        for (k, v) in &shown {
            println!("{k} = {v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list(dir: &Path, json: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
    let backend = rt.block_on(capstan_run::state_backend(&stack))?;
    let state = rt.block_on(backend.read())?;
    let lock = rt.block_on(backend.current_lock())?;
    if json {
        let components: Vec<serde_json::Value> = state
            .components
            .iter()
            .map(|(key, c)| {
                serde_json::json!({
                    "component": key,
                    "plugin": { "name": c.plugin.name, "version": c.plugin.version, "digest": c.plugin.digest },
                    "objects": c.objects.len(),
                    "effects": c.effects.len(),
                    "outputs": c.outputs.len(),
                    "applied_at": c.applied_at,
                })
            })
            .collect();
        let lock = lock.map(|l| {
            serde_json::json!({
                "id": l.id, "holder": l.holder, "operation": l.operation,
                "pid": l.pid, "host": l.host, "since": l.since,
            })
        });
        let doc = serde_json::json!({
            "location": backend.location(), "serial": state.serial, "lineage": state.lineage,
            "components": components, "lock": lock,
        });
        crate::json::print("state list", doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    for (key, c) in &state.components {
        println!(
            "{key}  {} {}  {} objects  applied {}",
            c.plugin.name,
            c.plugin.version,
            c.objects.len(),
            c.applied_at
        );
    }
    if let Some(lock) = lock {
        eprintln!(
            "locked by {} ({}, pid {} on {}, since {}), lock id {}",
            lock.holder, lock.operation, lock.pid, lock.host, lock.since, lock.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(dir: &Path, json: bool, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
    let key = component_key(&stack, dir)?;
    let backend = rt.block_on(capstan_run::state_backend(&stack))?;
    let state = rt.block_on(backend.read())?;
    let recorded = state.components.get(&key).with_context(|| format!("state records nothing for {key}"))?;
    // Sensitive outputs are stored as keyed hashes only, so this shows no secret.
    if json {
        crate::json::print("state show", serde_json::json!({ "component": key, "record": recorded }))?;
    } else {
        println!("{}", serde_json::to_string_pretty(recorded)?);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn unlock(dir: &Path, lock_id: &str, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
    let backend = rt.block_on(capstan_run::state_backend(&stack))?;
    rt.block_on(backend.force_unlock(lock_id))?;
    println!("Released lock {lock_id} on {}.", backend.location());
    Ok(ExitCode::SUCCESS)
}

pub fn push(
    file: &Path,
    dir: &Path,
    force: bool,
    lock_timeout: std::time::Duration,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<ExitCode> {
    let pushed = capstan_state::load_state_file(file)?;
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
    let backend = rt.block_on(capstan_run::state_backend(&stack))?;
    let holder = std::env::var("USER").unwrap_or_else(|_| "capstan".to_string());
    let guard =
        rt.block_on(backend.lock(&capstan_state::LockInfo::new(holder, "state push")?, lock_timeout))?;
    let result = push_locked(&backend, &pushed, file, &guard, force, rt);
    rt.block_on(backend.unlock(guard))?;
    result
}

fn push_locked(
    backend: &capstan_state::AnyBackend,
    pushed: &capstan_state::State,
    file: &Path,
    guard: &capstan_state::LockGuard,
    force: bool,
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<ExitCode> {
    // Read under the lock: this is exactly what the push replaces.
    let current = rt.block_on(backend.read())?;
    let stored = rt.block_on(guard.stored());
    println!(
        "{} holds serial {}{}:",
        backend.location(),
        stored.serial,
        match &stored.lineage {
            Some(l) => format!(", lineage {l}"),
            None => String::new(),
        }
    );
    println!("{} is serial {}, lineage {}; storing it will:", file.display(), pushed.serial, pushed.lineage);
    let mut changes = 0;
    for (key, c) in &pushed.components {
        match current.components.get(key) {
            None => println!("  + record {key} ({} objects, {} effects)", c.objects.len(), c.effects.len()),
            Some(was) if was != c => {
                println!("  ~ change {key} (applied {} → {})", was.applied_at, c.applied_at)
            }
            Some(_) => continue,
        }
        changes += 1;
    }
    for key in current.components.keys().filter(|k| !pushed.components.contains_key(*k)) {
        println!("  - forget {key}");
        changes += 1;
    }
    if changes == 0 {
        println!("  change no component");
    }
    let serial = rt.block_on(capstan_state::push(backend, pushed, guard, force))?;
    println!("Stored {} in {} as serial {serial}.", file.display(), backend.location());
    Ok(ExitCode::SUCCESS)
}
