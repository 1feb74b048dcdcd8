//! What an effect executor reports after carrying out one declared effect.
//!
//! To a user, an outcome answers "what did this apply do to my database (or
//! broker)?": for each op of the effect, in order, whether it **created**
//! something, **changed** something that existed (and what, in words),
//! found it already as declared (**unchanged**), or ran a statement whose
//! effect it cannot tell (**executed**). A second apply of the same plan
//! reports `unchanged` throughout, which is how an operator sees that the
//! executors are idempotent. The [`EffectSummary`] of an effect is the
//! result handed back to the plugin and recorded in state, so it never holds
//! a secret: subjects and changes are names and words, never values.
//!
//! This module only describes outcomes; it does not run anything, and the
//! HTTP executor does not use it (its result is the cloud API's response).

use serde::Serialize;

/// What one op did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It did not exist; now it does.
    Created,
    /// It existed and was corrected (see [`OpOutcome::changes`]).
    Changed,
    /// It already was as declared; nothing was sent.
    Unchanged,
    /// A plain statement ran (it cannot tell whether it changed anything).
    Executed,
}

/// One op's report, e.g. `ensure-role app: changed (password rotated)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpOutcome {
    /// The op's kind as the contract spells it (`ensure-role`, `ensure-queue`, `statement`).
    pub op: &'static str,
    /// What it was about: a role, a database, `vhost/queue`, `#<index>` for a statement.
    pub subject: String,
    /// What happened.
    pub outcome: Outcome,
    /// What changed, in words (`password rotated`, `owner app → billing`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

impl OpOutcome {
    /// `subject` was created.
    pub fn created(op: &'static str, subject: impl Into<String>) -> Self {
        Self { op, subject: subject.into(), outcome: Outcome::Created, changes: Vec::new() }
    }

    /// `subject` was already as declared.
    pub fn unchanged(op: &'static str, subject: impl Into<String>) -> Self {
        Self { op, subject: subject.into(), outcome: Outcome::Unchanged, changes: Vec::new() }
    }

    /// `subject` existed: changed if `changes` lists anything, else unchanged.
    pub fn corrected(op: &'static str, subject: impl Into<String>, changes: Vec<String>) -> Self {
        let outcome = if changes.is_empty() { Outcome::Unchanged } else { Outcome::Changed };
        Self { op, subject: subject.into(), outcome, changes }
    }

    /// A statement ran.
    pub fn executed(op: &'static str, subject: impl Into<String>) -> Self {
        Self { op, subject: subject.into(), outcome: Outcome::Executed, changes: Vec::new() }
    }

    /// The same report, with what was done on the way (such as a membership
    /// granted before a database could be created).
    #[must_use]
    pub fn with_changes(mut self, changes: Vec<String>) -> Self {
        self.changes = changes;
        self
    }
}

/// The result of one effect: where it ran and each op's outcome, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EffectSummary {
    /// The server or broker it ran on, as errors name it (`host:port/db`).
    pub target: String,
    /// One report per op.
    pub ops: Vec<OpOutcome>,
}

impl EffectSummary {
    /// True when some op created or changed something (or ran a statement).
    pub fn changed(&self) -> bool {
        self.ops.iter().any(|o| o.outcome != Outcome::Unchanged)
    }

    /// The effect result body: `{"target", "changed", "ops"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "target": self.target,
            "changed": self.changed(),
            "ops": self.ops,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_is_changed_unless_every_op_is_unchanged() {
        let mut summary = EffectSummary {
            target: "db:5432/app".to_owned(),
            ops: vec![
                OpOutcome::unchanged("ensure-role", "app"),
                OpOutcome::corrected("grant", "app", vec![]),
            ],
        };
        assert!(!summary.changed());
        assert_eq!(
            summary.to_json(),
            serde_json::json!({
                "target": "db:5432/app",
                "changed": false,
                "ops": [
                    { "op": "ensure-role", "subject": "app", "outcome": "unchanged" },
                    { "op": "grant", "subject": "app", "outcome": "unchanged" },
                ],
            })
        );
        summary.ops.push(OpOutcome::executed("statement", "#2"));
        assert!(summary.changed());
        summary.ops[1] = OpOutcome::corrected("grant", "app", vec!["granted CONNECT".to_owned()]);
        assert_eq!(summary.ops[1].outcome, Outcome::Changed);
        assert_eq!(summary.to_json()["ops"][1]["changes"], serde_json::json!(["granted CONNECT"]));
    }
}
