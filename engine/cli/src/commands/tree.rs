//! Commands that read the tree without changing anything: `validate`,
//! `config show`, `graph`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;

use capstan_plan::{ComponentError, Outcome};

use crate::args::GraphFormat;
use crate::json::{self, Problem, Severity};
use crate::progress::Progress;

/// The stack below `dir`, or `None` once its problems are printed (they are
/// diagnostics with file, line and column, shown as they are).
fn load_or_report(dir: &Path, surroundings: &capstan_run::Surroundings) -> Option<capstan_config::Stack> {
    capstan_run::load_stack(dir, surroundings)
        .map_err(anyhow::Error::from)
        .inspect_err(crate::report_error)
        .ok()
}

/// One component's failure on stderr: configuration diagnostics about its
/// inputs drawn with their source (their file names the component), any
/// other error after the component's name.
fn component_error(key: &str, e: &ComponentError) -> String {
    match e {
        ComponentError::Inputs(found) => crate::diagnostics_text(found),
        e => format!("error: component {key}: {e}\n"),
    }
}

/// Every problem in the tree: configuration first, then each component's
/// inputs against its plugin (with mock outputs where allowed).
pub fn validate(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        return validate_json(dir);
    }
    let surroundings = crate::surroundings();
    let Some(stack) = load_or_report(dir, &surroundings) else { return Ok(ExitCode::from(1)) };
    let engine = crate::engine(Arc::new(Progress::quiet()))?;
    let catalog = engine.catalog(&stack, Vec::new(), false)?;
    let outcomes = capstan_run::validate(&stack, &catalog)?;
    let mut problems = 0;
    for (k, o) in &outcomes {
        match o {
            Outcome::Failed(e) => {
                problems += 1;
                eprintln!("{}", component_error(k, e));
            }
            // Warnings do not fail the check, but are said, as plan says them.
            Outcome::Done(p) => {
                for warning in &p.warnings {
                    eprintln!("warning: {k} ({}): {warning}\n", p.plugin.name);
                }
            }
            Outcome::Skipped { .. } => {}
        }
    }
    if problems > 0 {
        eprintln!("{problems} component(s) have problems.");
        return Ok(ExitCode::from(1));
    }
    println!("Valid: {} components.", stack.components.len());
    Ok(ExitCode::SUCCESS)
}

/// `validate --json`: the same checks, every problem a diagnostic of one
/// document, those that stop the check early (no age key, no plugin)
/// included, so stdout always holds the document. Plugin warnings, which do
/// not fail validation, are diagnostics too.
fn validate_json(dir: &Path) -> anyhow::Result<ExitCode> {
    let mut diagnostics = Vec::new();
    let mut components = 0;
    if let Err(e) = check(dir, &mut diagnostics, &mut components) {
        diagnostics.push(json::Diagnostic::general(format!("{e:#}")));
    }
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let doc = serde_json::json!({
        "valid": errors == 0,
        "stack_root": capstan_config::find_stack_root(dir),
        "components": components,
        "error_count": errors,
        "warning_count": diagnostics.len() - errors,
        "diagnostics": diagnostics,
    });
    json::print("validate", doc)?;
    Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The checks of `validate`, each problem found added to `diagnostics`.
fn check(dir: &Path, diagnostics: &mut Vec<json::Diagnostic>, components: &mut usize) -> anyhow::Result<()> {
    let stack = match capstan_run::load_stack(dir, &crate::surroundings()) {
        Ok(stack) => stack,
        Err(capstan_run::RunError::Config(found)) => {
            // The stack did not load, so its components are not known: a
            // file in a directory holding a component.hcl (that file, a
            // secrets file) is that component's; another (env.hcl, a
            // template) may be many components', and none is named.
            let root = capstan_config::find_stack_root(dir);
            let owner = |d: &capstan_config::Diagnostic| {
                let dir = d.file()?.parent().filter(|p| !p.as_os_str().is_empty())?;
                root.as_ref()?
                    .join(dir)
                    .join("component.hcl")
                    .is_file()
                    .then(|| dir.to_string_lossy().replace('\\', "/"))
            };
            diagnostics.extend(found.iter().map(|d| json::Diagnostic::config(d, owner(d))));
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    *components = stack.components.len();
    let engine = crate::engine(Arc::new(Progress::quiet()))?;
    let catalog = engine.catalog(&stack, Vec::new(), false)?;
    for (key, outcome) in capstan_run::validate(&stack, &catalog)? {
        let Some(component) = stack.component(&key) else { continue };
        let found = match &outcome {
            Outcome::Done(p) => p
                .warnings
                .iter()
                .flat_map(|w| json::Diagnostic::component(Severity::Warning, component, Problem::Input(w)))
                .collect(),
            Outcome::Failed(ComponentError::Invalid { problems, .. }) => problems
                .iter()
                .flat_map(|p| json::Diagnostic::component(Severity::Error, component, Problem::Input(p)))
                .collect(),
            Outcome::Failed(ComponentError::Inputs(found)) => {
                json::Diagnostic::component(Severity::Error, component, Problem::Config(found))
            }
            Outcome::Failed(e) => {
                json::Diagnostic::component(Severity::Error, component, Problem::Plain(e.to_string()))
            }
            // A dependency's failure is reported with the dependency.
            Outcome::Skipped { .. } => Vec::new(),
        };
        diagnostics.extend(found);
    }
    Ok(())
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
                eprintln!("{}", component_error(key, e));
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
        json::print("config show", doc)?;
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
