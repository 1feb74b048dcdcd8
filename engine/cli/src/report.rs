//! How a plan and a run's outcome are shown to a person.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use capstan_plan::{Action, ComponentPlanned, FieldChange};
use similar::{ChangeTag, TextDiff};

/// The plan of every target component, Terraform-style: `+` create,
/// `~` update (with the fields), `-` delete, `!` effect to run. A component
/// with nothing to change is left out (on 5,000 components of which ten
/// change, the ten are what the operator reads), unless `verbose`
/// (`--verbose`), which names it with `= no changes`.
pub fn plan_text(plans: &[&ComponentPlanned], verbose: bool) -> String {
    let mut out = String::new();
    for p in plans.iter().filter(|p| p.in_target) {
        if !p.has_changes() {
            if verbose {
                let _ = writeln!(out, "\n{} ({} {})\n  = no changes", p.key, p.plugin.name, p.plugin.version);
            }
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
                        field_change(&mut out, f);
                    }
                }
            }
        }
        for e in p.effects.iter().filter(|e| e.run) {
            let _ = writeln!(out, "  ! {} on {}: {}", e.id, e.target, e.summary);
            for line in &e.drift {
                let _ = writeln!(out, "      changed outside Capstan: {line}");
            }
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
    // Shown whether or not the component changes: a warning is about its
    // configuration (an input the backend ignores, a setting that weakens it).
    for p in plans.iter().filter(|p| p.in_target) {
        for warning in &p.warnings {
            let _ = writeln!(out, "\nwarning: {} ({}): {warning}", p.key, p.plugin.name);
        }
        // Waived findings are the exceptions' business: `policy test` lists them.
        for finding in p.policy_findings.iter().filter(|f| f.waived_by.is_none()) {
            let label = crate::commands::policy::finding_label(finding);
            let _ = writeln!(out, "\n{label} {} ({}): policy {finding}", p.key, p.plugin.name);
        }
    }
    out
}

/// Lines of unchanged text shown around each changed line of a multi-line value.
// Two: enough to recognise the section of a config file (its `[OUTPUT]`
// header, the key above) without repeating the whole file.
const CONTEXT_LINES: usize = 2;

/// One changed field: `path: before -> after`, or, when both sides are
/// strings and either spans several lines (a config file in a ConfigMap, a
/// script), a line diff of the two, so a one-word edit shows as the lines
/// it touched rather than one escaped line of the whole file.
pub(crate) fn field_change(out: &mut String, f: &FieldChange) {
    let texts = f.before.as_deref().and_then(unquote).zip(f.after.as_deref().and_then(unquote));
    match texts {
        Some((before, after)) if before.contains('\n') || after.contains('\n') => {
            let _ = writeln!(out, "      {}: (multi-line text, changed lines)", f.path);
            line_diff(out, &before, &after);
        }
        _ => {
            let before = f.before.as_deref().unwrap_or("(none)");
            let after = f.after.as_deref().unwrap_or("(removed)");
            let _ = writeln!(out, "      {}: {before} -> {after}", f.path);
        }
    }
}

/// The changed lines of `before` → `after` (`-` removed, `+` added) with
/// [`CONTEXT_LINES`] of context, `...` between distant changes.
fn line_diff(out: &mut String, before: &str, after: &str) {
    let diff = TextDiff::from_lines(before, after);
    for (i, group) in diff.grouped_ops(CONTEXT_LINES).iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out, "          ...");
        }
        for change in group.iter().flat_map(|op| diff.iter_changes(op)) {
            let sign = match change.tag() {
                ChangeTag::Delete => '-',
                ChangeTag::Insert => '+',
                ChangeTag::Equal => ' ',
            };
            let line = change.value().strip_suffix('\n').unwrap_or(change.value());
            let line = line.strip_suffix('\r').unwrap_or(line);
            let _ = writeln!(out, "        {sign} {}", visible(line));
            if change.missing_newline() && change.tag() != ChangeTag::Equal {
                let _ = writeln!(out, "          (no newline at end)");
            }
        }
    }
}

/// `line` with its control characters escaped (`\t`, `\u{1b}`): a value
/// must not move the cursor or colour the terminal that shows the plan.
fn visible(line: &str) -> String {
    line.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
}

/// The string a field's `before`/`after` shows, when it shows one: the
/// planner writes strings as Rust debug literals (`"a\nb"`); anything else
/// (numbers, objects, `(sensitive)`) is `None`.
fn unquote(shown: &str) -> Option<String> {
    let inner = shown.strip_prefix('"')?.strip_suffix('"')?;
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.push(match chars.next()? {
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                '0' => '\0',
                '\\' => '\\',
                '"' => '"',
                '\'' => '\'',
                'u' => {
                    let rest = chars.as_str().strip_prefix('{')?;
                    let (hex, tail) = rest.split_once('}')?;
                    let c = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                    chars = tail.chars();
                    c
                }
                _ => return None,
            }),
            '"' => return None,
            c => text.push(c),
        }
    }
    Some(text)
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

/// The result of a component a run left as it was: counted in the closing
/// table, not listed.
const UNCHANGED: &str = "unchanged";

/// Every row, in a table.
pub fn table(rows: &[Row]) -> String {
    table_of(&rows.iter().collect::<Vec<_>>())
}

/// The closing table of a run: a row for each component that changed,
/// failed or was skipped, then one line counting the unchanged ones, which
/// `verbose` (`--verbose`) lists as well. On 5,000 components of which ten
/// changed, the ten are what the operator reads.
pub fn outcome_table(rows: &[Row], verbose: bool) -> String {
    let (listed, unchanged): (Vec<&Row>, Vec<&Row>) =
        rows.iter().partition(|r| verbose || r.result != UNCHANGED);
    let mut out = if listed.is_empty() { String::new() } else { table_of(&listed) };
    match unchanged.len() {
        0 => {}
        1 => out.push_str("1 component unchanged (--verbose lists it)\n"),
        n => {
            let _ = writeln!(out, "{n} components unchanged (--verbose lists them)");
        }
    }
    out
}

fn table_of(rows: &[&Row]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_literals_read_back_as_the_string() {
        for s in
            ["", "plain", "a\nb\r\n\tc", "quote \" and 'apostrophe' \\", "nul \0 bell \u{7} \u{2028} ü 🦀"]
        {
            assert_eq!(unquote(&format!("{s:?}")).as_deref(), Some(s), "{s:?}");
        }
        for shown in ["3", "true", "(sensitive)", "{\"a\":1}", "\"unterminated", "\"bad \\q escape\""] {
            assert_eq!(unquote(shown), None, "{shown}");
        }
    }

    #[test]
    fn the_closing_table_lists_what_changed_and_counts_the_unchanged() {
        let row =
            |key: &str, result: &str| Row { key: key.into(), result: result.into(), detail: String::new() };
        let rows = [row("a", "applied"), row("b", "unchanged"), row("c", "failed"), row("d", "unchanged")];
        let shown = outcome_table(&rows, false);
        assert_eq!(
            shown.lines().collect::<Vec<_>>(),
            [
                "component  result   detail",
                "a          applied  ",
                "c          failed   ",
                "2 components unchanged (--verbose lists them)"
            ]
        );
        assert_eq!(outcome_table(&rows, true), table(&rows));
        assert_eq!(outcome_table(&rows[1..2], false), "1 component unchanged (--verbose lists it)\n");
        assert_eq!(outcome_table(&[], false), "");
    }

    #[test]
    fn a_one_word_change_in_a_long_text_shows_the_lines_around_it() {
        let before: String = (0..200).map(|i| format!("    key_{i} value_{i}\n")).collect();
        let after = before.replace("key_100 value_100", "key_100 changed");
        let change = FieldChange {
            path: "/data/fluent-bit.conf".into(),
            before: Some(format!("{before:?}")),
            after: Some(format!("{after:?}")),
        };
        let mut out = String::new();
        field_change(&mut out, &change);
        let expected = "      /data/fluent-bit.conf: (multi-line text, changed lines)
              key_98 value_98
              key_99 value_99
        -     key_100 value_100
        +     key_100 changed
              key_101 value_101
              key_102 value_102
";
        assert_eq!(out, expected);
    }
}
