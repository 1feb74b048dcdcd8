//! Running one effect's ops in order on one broker.

use capstan_core::{AmqpOp, Effect, EffectKind, EffectResult, EffectSummary};

use crate::api::Api;
use crate::{AmqpConnection, AmqpError, ops};

/// Carries out AMQP effects on one operator-configured broker.
#[derive(Clone, Debug)]
pub struct AmqpExecutor {
    api: Api,
}

impl AmqpExecutor {
    /// An executor for `connection`. Only builds the HTTP client; the broker
    /// is not contacted until an effect runs, so a down broker fails the
    /// effect that needs it, not the run's start. Fails with
    /// [`AmqpError::InvalidUrl`], [`AmqpError::MissingCredentials`] or
    /// [`AmqpError::Client`].
    pub fn new(connection: AmqpConnection) -> Result<Self, AmqpError> {
        Ok(Self { api: Api::new(connection)? })
    }

    /// The operator's connection this executor serves; effects naming
    /// another connection are refused with [`AmqpError::WrongTarget`].
    pub fn connection(&self) -> &AmqpConnection {
        self.api.connection()
    }

    /// Runs `ops` in order, stopping at the first failure. `effect_id` is
    /// for messages.
    pub async fn run(&self, effect_id: &str, ops: &[AmqpOp]) -> Result<EffectSummary, AmqpError> {
        let mut outcomes = Vec::with_capacity(ops.len());
        for op in ops {
            let outcome = ops::run(&self.api, effect_id, op).await?;
            tracing::debug!(effect = effect_id, op = outcome.op, subject = %outcome.subject, outcome = ?outcome.outcome, "AMQP op");
            outcomes.push(outcome);
        }
        Ok(EffectSummary { target: self.connection().target(), ops: outcomes })
    }

    /// Runs one declared effect; it must be an AMQP effect for this connection.
    pub async fn apply(&self, effect: &Effect) -> Result<EffectResult, AmqpError> {
        let ops = match &effect.kind {
            EffectKind::Amqp(ops) => ops,
            other => return Err(AmqpError::NotAmqp { effect: effect.id.clone(), kind: other.name() }),
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
