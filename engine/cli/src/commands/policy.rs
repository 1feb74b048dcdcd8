//! `capstan policy test`: the policies alone, on plans made against nothing.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use serde::Serialize;

use capstan_plan::{ComponentError, Outcome, PolicyFinding};

use crate::progress::Progress;

/// One component's verdict.
#[derive(Serialize)]
struct Verdict<'a> {
    component: &'a str,
    plugin: Option<&'a str>,
    /// `passed`, `refused` (an enforcing policy blocks it), `failed` (it
    /// could not be planned or checked: `error` says why) or `skipped`.
    outcome: &'static str,
    findings: &'a [PolicyFinding],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Plans every component at or below `dir` against nothing and prints what
/// its policies found. Exit 1 when a component is refused or fails.
pub fn test(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let surroundings = crate::surroundings();
    let stack = capstan_run::load_stack(dir, &surroundings)?;
    let engine = crate::engine(Arc::new(Progress::quiet()))?;
    let catalog = engine.catalog(&stack, Vec::new(), false)?;
    let outcomes = capstan_run::check_policies(&stack, &catalog)?;
    let verdicts: Vec<Verdict<'_>> = outcomes
        .iter()
        .filter(|(key, _)| stack.component(key).is_some_and(|c| c.in_target))
        .map(|(key, outcome)| {
            let plugin = stack.component(key).map(|c| c.plugin.as_str());
            let (outcome, findings, error): (_, &[PolicyFinding], _) = match outcome {
                Outcome::Done(p) => ("passed", &p.policy_findings, None),
                Outcome::Failed(ComponentError::Policy { findings }) => ("refused", findings, None),
                Outcome::Failed(e) => ("failed", &[], Some(e.to_string())),
                Outcome::Skipped { .. } => ("skipped", &[], None),
            };
            Verdict { component: key, plugin, outcome, findings, error }
        })
        .collect();
    let refused = verdicts.iter().filter(|v| matches!(v.outcome, "refused" | "failed")).count();
    if json {
        crate::json::print(
            "policy test",
            serde_json::json!({ "passed": refused == 0, "refused": refused, "components": verdicts }),
        )?;
    } else {
        print!("{}", text(&verdicts, refused));
    }
    Ok(if refused == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn text(verdicts: &[Verdict<'_>], refused: usize) -> String {
    let mut out = String::new();
    for v in verdicts {
        let _ = writeln!(out, "{} ({}): {}", v.component, v.plugin.unwrap_or("?"), v.outcome);
        for f in v.findings {
            let _ = writeln!(out, "  {} {f}", finding_label(f));
        }
        if let Some(e) = &v.error {
            let _ = writeln!(out, "  error: {e}");
        }
    }
    let _ = writeln!(out, "\n{} components checked, {refused} refused or failed.", verdicts.len());
    out
}

/// How a finding is marked in text: whether it blocks, is only reported,
/// or is waived.
pub fn finding_label(f: &PolicyFinding) -> &'static str {
    if f.blocks() {
        "error:"
    } else if f.waived_by.is_some() {
        "waived:"
    } else {
        "warning:"
    }
}
