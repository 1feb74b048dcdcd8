//! Commands that read the tree without changing anything: `validate`,
//! `config show`, `graph`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;

use capstan_plan::Outcome;

use crate::args::GraphFormat;
use crate::progress::Progress;

/// The stack below `dir`, or `None` once its problems are printed (they are
/// diagnostics with file, line and column, shown as they are).
fn load_or_report(dir: &Path, surroundings: &capstan_run::Surroundings) -> Option<capstan_config::Stack> {
    capstan_run::load_stack(dir, surroundings).inspect_err(|e| eprintln!("{e}")).ok()
}

/// Every problem in the tree: configuration first, then each component's
/// inputs against its plugin (with mock outputs where allowed).
pub fn validate(dir: &Path) -> anyhow::Result<ExitCode> {
    let surroundings = crate::surroundings();
    let Some(stack) = load_or_report(dir, &surroundings) else { return Ok(ExitCode::from(1)) };
    let engine = crate::engine(Arc::new(Progress::quiet()))?;
    let catalog = engine.catalog(&stack, Vec::new(), false)?;
    let outcomes = capstan_run::validate(&stack, &catalog)?;
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

/// `capstan render DIR --stdout`: the objects below DIR as one YAML stream.
pub fn render_stream(dir: &Path, secrets: Option<crate::args::SecretsArg>) -> anyhow::Result<ExitCode> {
    let surroundings = crate::surroundings();
    let Some(stack) = load_or_report(dir, &surroundings) else { return Ok(ExitCode::from(1)) };
    let progress = Arc::new(Progress::quiet());
    let engine = crate::engine(progress.clone())?;
    let catalog = engine.catalog(&stack, Vec::new(), false)?;
    let secrets = secrets.map(|s| match s {
        crate::args::SecretsArg::Plain => capstan_config::SecretsDelivery::Plain,
        crate::args::SecretsArg::Sops => capstan_config::SecretsDelivery::Sops,
    });
    match capstan_run::stream(&stack, &catalog, secrets, &surroundings, progress.as_ref())? {
        capstan_run::Stream::Ready(text) => {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        capstan_run::Stream::Failed(failed) => {
            for (key, e) in &failed {
                eprintln!("error: component {key}: {e}\n");
            }
            eprintln!("{} component(s) could not be rendered; nothing was written.", failed.len());
            Ok(ExitCode::from(1))
        }
    }
}

/// The resolved inputs of one component, each top-level value with its origin.
pub fn config_show(component_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let stack = capstan_run::load_stack(component_dir, &crate::surroundings())?;
    let dir = std::path::absolute(component_dir)?;
    let rel = dir.strip_prefix(&stack.root).unwrap_or(&dir).to_string_lossy().replace('\\', "/");
    if stack.component(&rel).is_none() {
        bail!("{} is not a component directory (it has no component.hcl)", component_dir.display());
    }
    let engine = crate::engine(Arc::new(Progress::quiet()))?;
    let catalog = engine.catalog(&stack, Vec::new(), false)?;
    let (plugin, inputs) = capstan_run::resolved_inputs(&stack, &catalog, &rel)?;
    let meta = plugin.metadata();
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
    let stack = capstan_run::load_stack(dir, &crate::surroundings())?;
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
