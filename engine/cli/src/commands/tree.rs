//! Commands that read the tree without changing anything: `validate`,
//! `config show`, `graph`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use capstan_config::{Command, DependencyOutputs};
use capstan_plan::{Outcome, PluginResolver as _};

use crate::args::GraphFormat;
use crate::catalog::Catalog;
use crate::wiring;

/// Every problem in the tree: configuration first, then each component's
/// inputs against its plugin (with mock outputs where allowed).
pub fn validate(dir: &Path) -> anyhow::Result<ExitCode> {
    let stack = match wiring::load_stack(dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(1));
        }
    };
    let graph = capstan_plan::stack_graph(&stack)?;
    let catalog = Catalog::for_stack(crate::host()?, &stack, Vec::new(), false)?;
    let render = wiring::Render::new(&stack, None);
    let state = capstan_state::State::new()?;
    let key = capstan_state::StateKey::generate()?;
    let cx = capstan_plan::PlanContext {
        stack: &stack,
        plugins: &catalog,
        target: &render,
        state: &state,
        state_key: &key,
        command: Command::Validate,
    };
    let outcomes =
        capstan_plan::schedule::run(&graph, 4, |k, deps| capstan_plan::plan_component(&cx, k, deps));
    let mut problems = 0;
    for (k, o) in &outcomes {
        if let Outcome::Failed(e) = o {
            problems += 1;
            eprintln!("error: component {k}: {e}\n");
        }
    }
    if problems > 0 {
        eprintln!("{problems} component(s) have problems.");
        return Ok(ExitCode::from(1));
    }
    println!("Valid: {} components.", stack.components.len());
    Ok(ExitCode::SUCCESS)
}

/// The resolved inputs of one component, each top-level value with its origin.
pub fn config_show(component_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let stack = wiring::load_stack(component_dir)?;
    let dir = std::path::absolute(component_dir)?;
    let rel = dir.strip_prefix(&stack.root).unwrap_or(&dir).to_string_lossy().replace('\\', "/");
    let component = stack.component(&rel).with_context(|| {
        format!("{} is not a component directory (it has no component.hcl)", component_dir.display())
    })?;
    let catalog = Arc::new(Catalog::for_stack(crate::host()?, &stack, Vec::new(), false)?);
    let graph = capstan_plan::stack_graph(&stack)?;
    let render = wiring::Render::new(&stack, None);
    let state = capstan_state::State::new()?;
    let key = capstan_state::StateKey::generate()?;
    let cx = capstan_plan::PlanContext {
        stack: &stack,
        plugins: catalog.as_ref(),
        target: &render,
        state: &state,
        state_key: &key,
        command: Command::Plan,
    };
    // Dependencies are planned (pure, cheap) for their outputs.
    let outcomes = capstan_plan::schedule::run(&graph, 4, |k, deps| {
        if k == rel { Err(None) } else { capstan_plan::plan_component(&cx, k, deps).map_err(Some) }
    });
    let mut deps = BTreeMap::new();
    for (name, decl) in &component.dependencies {
        if let Some(Outcome::Done(p)) = outcomes.get(&decl.target) {
            deps.insert(name.clone(), DependencyOutputs::new(&*p.outputs));
        }
    }
    let plugin =
        catalog.resolve(&component.plugin, &component.version).map_err(|e| anyhow::anyhow!("{e}"))?;
    let meta = plugin.metadata();
    let inputs = component
        .resolve_inputs(&deps, Command::Plan, &meta.defaults, &meta.input_schema)
        .map_err(|d| anyhow::anyhow!("{d}"))?;
    if json {
        let origins: BTreeMap<&String, String> =
            inputs.origins.iter().map(|(k, o)| (k, o.to_string())).collect();
        let doc = serde_json::json!({
            "component": rel, "plugin": meta.name, "version": meta.version.to_string(),
            "inputs": inputs.redacted(), "origins": origins,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("# {rel}: {} {}", meta.name, meta.version);
        print!("{}", inputs.show());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn graph(dir: &Path, format: GraphFormat) -> anyhow::Result<ExitCode> {
    let stack = wiring::load_stack(dir)?;
    let graph = capstan_plan::stack_graph(&stack)?;
    print!(
        "{}",
        match format {
            GraphFormat::Dot => graph.to_dot(),
            GraphFormat::Mermaid => graph.to_mermaid(),
        }
    );
    Ok(ExitCode::SUCCESS)
}
