//! How a plan and a run's outcome are shown to a person.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use capstan_plan::{Action, ComponentPlanned};

/// The plan of every target component, Terraform-style: `+` create,
/// `~` update (with the fields), `-` delete, `!` effect to run.
pub fn plan_text(plans: &[&ComponentPlanned]) -> String {
    let mut out = String::new();
    for p in plans.iter().filter(|p| p.in_target) {
        if !p.has_changes() {
            continue;
        }
        let _ = writeln!(out, "\n{} ({} {})", p.key, p.plugin.name, p.plugin.version);
        for o in &p.objects {
            match &o.action {
                Action::Create => {
                    let _ = writeln!(out, "  + {}", o.object);
                }
                Action::Delete => {
                    let _ = writeln!(out, "  - {}", o.object);
                }
                Action::Unchanged => {}
                Action::Update(fields) => {
                    let _ = writeln!(out, "  ~ {}", o.object);
                    for f in fields {
                        let before = f.before.as_deref().unwrap_or("(none)");
                        let after = f.after.as_deref().unwrap_or("(removed)");
                        let _ = writeln!(out, "      {}: {before} -> {after}", f.path);
                    }
                }
            }
        }
        for e in p.effects.iter().filter(|e| e.run) {
            let _ = writeln!(out, "  ! {} on {}: {}", e.id, e.target, e.summary);
        }
        for name in &p.changed_outputs {
            let sensitive = p.outputs.iter().any(|o| &o.name == name && o.sensitive);
            let value = p
                .outputs
                .iter()
                .find(|o| &o.name == name)
                .map(|o| if sensitive { capstan_core::REDACTED.to_string() } else { o.value.to_string() })
                .unwrap_or_default();
            let _ = writeln!(out, "  > output {name} = {value}");
        }
    }
    out
}

/// `Plan: 3 to create, 1 to update, 0 to delete, 2 effects to run.`
pub fn plan_counts(plans: &[&ComponentPlanned]) -> (usize, usize, usize, usize) {
    let (mut create, mut update, mut delete, mut effects) = (0, 0, 0, 0);
    for p in plans.iter().filter(|p| p.in_target) {
        for o in &p.objects {
            match o.action {
                Action::Create => create += 1,
                Action::Update(_) => update += 1,
                Action::Delete => delete += 1,
                Action::Unchanged => {}
            }
        }
        effects += p.effects.iter().filter(|e| e.run).count();
    }
    (create, update, delete, effects)
}

pub fn plan_summary(plans: &[&ComponentPlanned]) -> String {
    let (c, u, d, e) = plan_counts(plans);
    if c + u + d + e == 0 && !plans.iter().any(|p| p.has_changes()) {
        return "No changes. The platform matches the configuration.".into();
    }
    format!("Plan: {c} to create, {u} to update, {d} to delete, {e} effects to run.")
}

/// One row a component of the closing table.
pub struct Row {
    pub key: String,
    pub result: String,
    pub detail: String,
}

pub fn table(rows: &[Row]) -> String {
    let w0 = rows.iter().map(|r| r.key.len()).max().unwrap_or(9).max(9);
    let w1 = rows.iter().map(|r| r.result.len()).max().unwrap_or(6).max(6);
    let mut out = format!("{:<w0$}  {:<w1$}  detail\n", "component", "result");
    for r in rows {
        let _ = writeln!(out, "{:<w0$}  {:<w1$}  {}", r.key, r.result, r.detail);
    }
    out
}

/// Counts of each result word, for the last line.
pub fn tally(rows: &[Row]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        *counts.entry(r.result.as_str()).or_default() += 1;
    }
    counts.iter().map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", ")
}
