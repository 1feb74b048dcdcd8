//! `capstan init`, like `terraform init`: every plugin every environment of
//! the stack needs — ranges, env.hcl pins, `local` builds — resolved under
//! capstan.lock, fetched into the stack's bundle cache and verified, and
//! the lock written. Afterwards plan and apply need no network.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use capstan_config::PluginPin;
use capstan_plan::PluginResolver as _;
use capstan_run::plugins::{Catalog, Lookup};

use crate::progress::Progress;

pub fn run(dir: &Path, allow_unsigned: bool) -> anyhow::Result<ExitCode> {
    // The whole stack, whichever directory was named: a pin of another
    // environment must be cached too, and only the whole stack shows which
    // lock entries nothing uses any more.
    let root = capstan_config::find_stack_root(dir)
        .with_context(|| format!("no client.hcl in {} or above it", dir.display()))?;
    let stack = capstan_run::load_stack(&root, &crate::surroundings())?;
    let engine = crate::engine(std::sync::Arc::new(Progress::quiet()))?;
    let catalog = engine.catalog(&stack, Vec::new(), allow_unsigned)?;

    let wanted = capstan_run::plugins::plugins_wanted(&stack);
    let mut ranged = BTreeSet::new();
    let mut pinned = BTreeSet::new();
    for c in stack.components.values() {
        match &c.pin {
            Some(PluginPin::Version(v)) => {
                pinned.insert((c.plugin.clone(), v.clone()));
            }
            Some(PluginPin::Local { .. }) => {}
            None => {
                ranged.insert(c.plugin.clone());
            }
        }
    }

    println!("Initialising {}:", stack.root.display());
    let mut failed = 0;
    for (name, version) in &wanted {
        match describe(&catalog, name, version) {
            Ok(line) => println!("  {line}"),
            Err(e) => {
                failed += 1;
                eprintln!("error: {name} {version}: {e:#}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} plugin(s) could not be made ready; capstan.lock keeps what did.");
        return Ok(ExitCode::from(1));
    }
    for gone in catalog.prune_lock(&ranged, &pinned)? {
        println!("  {gone}: dropped from capstan.lock (nothing uses it)");
    }
    println!("{} plugin(s) ready; plan and apply need no network now.", wanted.len());
    Ok(ExitCode::SUCCESS)
}

/// Makes one plugin ready and says where it came from.
fn describe(catalog: &Catalog, name: &str, version: &semver::VersionReq) -> anyhow::Result<String> {
    if let Some((plugin, dir)) = Catalog::local_request(name) {
        if !catalog.local_allowed() {
            // Loading it would run unsigned code; init only says it is there.
            return Ok(format!(
                "{plugin}: local build in {} (not locked; unsigned: plan and apply need --allow-unsigned)",
                dir.display()
            ));
        }
        let (file, p) = catalog.resolve_local(plugin, dir, version)?;
        return Ok(format!("{plugin} {}: local build {} (not locked)", p.metadata().version, file.display()));
    }
    Ok(match catalog.resolve_bundle(name, version, capstan_registry::LockMode::Use)? {
        Lookup::Bundled(b) => {
            let e = &b.entry;
            let how =
                if b.from == "cache" { "cached".to_string() } else { format!("fetched from {}", b.from) };
            format!("{name} {}: {how}, {}, signed by {}", e.version, e.digest, e.signer)
        }
        Lookup::BuiltIn(_) => {
            let p = catalog.resolve(name, version).map_err(|e| anyhow::anyhow!("{e}"))?;
            format!("{name} {}: built-in", p.metadata().version)
        }
    })
}
