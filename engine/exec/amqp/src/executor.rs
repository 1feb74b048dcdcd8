//! Running one effect's ops in order on one broker.

use capstan_core::{AmqpOp, Effect, EffectKind, EffectResult};
use serde::Serialize;

use crate::api::Api;
use crate::{AmqpConnection, AmqpError, ops};

/// What an op did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    Changed,
    Unchanged,
}

/// One op's report, e.g. `ensure-user events-payments-api: changed (password rotated)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpOutcome {
    /// `ensure-vhost`, `ensure-user`, `ensure-permission`, `ensure-exchange`,
    /// `ensure-queue`, `ensure-binding`.
    pub op: &'static str,
    /// What it was about: `opus`, `opus/orders`, `events-api@opus`, `opus/events → orders (orders)`.
    pub subject: String,
    pub outcome: Outcome,
    /// What changed, in words (`password rotated`, `read ^$ → ^(orders)$`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

/// The result of one AMQP effect: the effect result handed back to the
/// plugin and recorded in state. Holds no secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AmqpSummary {
    pub target: String,
    pub ops: Vec<OpOutcome>,
}

impl AmqpSummary {
    /// True when some op created or changed something.
    pub fn changed(&self) -> bool {
        self.ops.iter().any(|o| o.outcome != Outcome::Unchanged)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "target": self.target,
            "changed": self.changed(),
            "ops": self.ops,
        })
    }
}

/// Carries out AMQP effects on one operator-configured broker.
#[derive(Clone, Debug)]
pub struct AmqpExecutor {
    api: Api,
}

impl AmqpExecutor {
    pub fn new(connection: AmqpConnection) -> Result<Self, AmqpError> {
        Ok(Self { api: Api::new(connection)? })
    }

    pub fn connection(&self) -> &AmqpConnection {
        self.api.connection()
    }

    /// Runs `ops` in order, stopping at the first failure. `effect_id` is
    /// for messages.
    pub async fn run(&self, effect_id: &str, ops: &[AmqpOp]) -> Result<AmqpSummary, AmqpError> {
        let mut outcomes = Vec::with_capacity(ops.len());
        for op in ops {
            let outcome = ops::run(&self.api, effect_id, op).await?;
            tracing::debug!(effect = effect_id, op = outcome.op, subject = %outcome.subject, outcome = ?outcome.outcome, "AMQP op");
            outcomes.push(outcome);
        }
        Ok(AmqpSummary { target: self.connection().target(), ops: outcomes })
    }

    /// Runs one declared effect; it must be an AMQP effect for this connection.
    pub async fn apply(&self, effect: &Effect) -> Result<EffectResult, AmqpError> {
        let ops = match &effect.kind {
            EffectKind::Amqp(ops) => ops,
            EffectKind::Sql(_) => return Err(AmqpError::NotAmqp { effect: effect.id.clone(), kind: "sql" }),
            EffectKind::Http(_) => {
                return Err(AmqpError::NotAmqp { effect: effect.id.clone(), kind: "http" });
            }
        };
        if effect.target != self.connection().name() {
            return Err(AmqpError::WrongTarget {
                effect: effect.id.clone(),
                wanted: effect.target.clone(),
                serves: self.connection().name().to_string(),
            });
        }
        let summary = self.run(&effect.id, ops).await?;
        Ok(EffectResult { id: effect.id.clone(), body: summary.to_json() })
    }
}
