//! `capstan output` and `capstan state list|show|unlock`.

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
        println!("{}", serde_json::to_string_pretty(&shown)?);
    } else {
        for (k, v) in &shown {
            println!("{k} = {v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list(dir: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
    let backend = rt.block_on(capstan_run::state_backend(&stack))?;
    let state = rt.block_on(backend.read())?;
    for (key, c) in &state.components {
        println!(
            "{key}  {} {}  {} objects  applied {}",
            c.plugin.name,
            c.plugin.version,
            c.objects.len(),
            c.applied_at
        );
    }
    if let Some(lock) = rt.block_on(backend.current_lock())? {
        eprintln!(
            "locked by {} ({}, pid {} on {}, since {}), lock id {}",
            lock.holder, lock.operation, lock.pid, lock.host, lock.since, lock.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(dir: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
    let key = component_key(&stack, dir)?;
    let backend = rt.block_on(capstan_run::state_backend(&stack))?;
    let state = rt.block_on(backend.read())?;
    let recorded = state.components.get(&key).with_context(|| format!("state records nothing for {key}"))?;
    // Sensitive outputs are stored as keyed hashes only, so this shows no secret.
    println!("{}", serde_json::to_string_pretty(recorded)?);
    Ok(ExitCode::SUCCESS)
}

pub fn unlock(dir: &Path, lock_id: &str, rt: &tokio::runtime::Runtime) -> anyhow::Result<ExitCode> {
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
    let backend = rt.block_on(capstan_run::state_backend(&stack))?;
    rt.block_on(backend.force_unlock(lock_id))?;
    println!("Released lock {lock_id} on {}.", backend.location());
    Ok(ExitCode::SUCCESS)
}
