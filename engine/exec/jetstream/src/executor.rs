//! Running one effect's ops in order on one server, over one client made on
//! first use.

use std::future::Future;
use std::time::Duration;

use async_nats::{Client, ConnectErrorKind, ConnectOptions};
use capstan_core::{Effect, EffectKind, EffectResult, EffectSummary, JetStreamOp};
use tokio::sync::OnceCell;

use crate::connection::Auth;
use crate::ops::{self, Ctx};
use crate::{JetStreamConnection, JetStreamError};

/// How long connecting, and then each op, may take. An op is a few requests
/// to the JetStream API (look, then create or update); a server that has not
/// answered in 30 s is not going to, and the run should say so rather than
/// hang. [`JetStreamExecutor::with_timeout`] changes it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Carries out JetStream effects on one operator-configured NATS server.
pub struct JetStreamExecutor {
    connection: JetStreamConnection,
    timeout: Duration,
    /// One client per executor, connected by the first effect that needs it.
    client: OnceCell<Client>,
}

impl std::fmt::Debug for JetStreamExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamExecutor")
            .field("connection", &self.connection)
            .field("timeout", &self.timeout)
            .field("connected", &self.client.initialized())
            .finish()
    }
}

impl JetStreamExecutor {
    /// An executor for `connection`. The server is not contacted until an
    /// effect runs, so a down server fails the effect that needs it, not the
    /// run's start.
    pub fn new(connection: JetStreamConnection) -> Self {
        Self { connection, timeout: DEFAULT_TIMEOUT, client: OnceCell::new() }
    }

    /// The same executor with another limit for connecting and for each op.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The operator's connection this executor serves; effects naming
    /// another connection are refused with [`JetStreamError::WrongTarget`].
    pub fn connection(&self) -> &JetStreamConnection {
        &self.connection
    }

    /// Runs `ops` in order, stopping at the first failure. `effect_id` is
    /// for messages.
    pub async fn run(&self, effect_id: &str, ops: &[JetStreamOp]) -> Result<EffectSummary, JetStreamError> {
        let client = self.client(effect_id).await?;
        let mut jetstream = async_nats::jetstream::new(client.clone());
        jetstream.set_timeout(self.timeout);
        let ctx = Ctx {
            effect: effect_id,
            connection: self.connection.target(),
            jetstream: &jetstream,
            server_version: client.server_info().version,
        };
        let mut outcomes = Vec::with_capacity(ops.len());
        for op in ops {
            let what = ops::describe(op);
            let outcome = self.bounded(effect_id, &what, ops::run(&ctx, op)).await??;
            tracing::debug!(effect = effect_id, op = outcome.op, subject = %outcome.subject, outcome = ?outcome.outcome, "JetStream op");
            outcomes.push(outcome);
        }
        Ok(EffectSummary { target: self.connection.target(), ops: outcomes })
    }

    /// Runs one declared effect; it must be a JetStream effect for this connection.
    pub async fn apply(&self, effect: &Effect) -> Result<EffectResult, JetStreamError> {
        let ops = match &effect.kind {
            EffectKind::JetStream(ops) => ops,
            other => {
                return Err(JetStreamError::NotJetStream { effect: effect.id.clone(), kind: other.name() });
            }
        };
        if effect.target != self.connection.name() {
            return Err(JetStreamError::WrongTarget {
                effect: effect.id.clone(),
                wanted: effect.target.clone(),
                serves: self.connection.name().to_string(),
            });
        }
        let summary = self.run(&effect.id, ops).await?;
        Ok(EffectResult { id: effect.id.clone(), body: summary.to_json() })
    }

    /// The client, connected on first use. A failed connection is not kept:
    /// the next effect tries again.
    async fn client(&self, effect: &str) -> Result<&Client, JetStreamError> {
        self.client
            .get_or_try_init(|| async {
                let connect = self.options().connect(self.connection.server_address());
                self.bounded(effect, "connect", connect).await?.map_err(|e| match e.kind() {
                    // The client's own limit is ours: one error for both.
                    ConnectErrorKind::TimedOut => self.timed_out(effect, "connect"),
                    _ => JetStreamError::Connection {
                        effect: effect.to_string(),
                        connection: self.connection.target(),
                        // The client was given the address without
                        // credentials, so its message cannot hold them.
                        message: e.to_string(),
                    },
                })
            })
            .await
    }

    fn options(&self) -> ConnectOptions {
        let options = ConnectOptions::new()
            .name("capstan")
            .connection_timeout(self.timeout)
            .request_timeout(Some(self.timeout));
        match self.connection.auth() {
            Auth::None => options,
            Auth::UserPassword { user, password } => {
                options.user_and_password(user.clone(), password.expose().to_string())
            }
            Auth::Token(token) => options.token(token.expose().to_string()),
        }
    }

    /// `work`, or [`JetStreamError::Timeout`] once the limit runs out.
    async fn bounded<T>(
        &self,
        effect: &str,
        op: &str,
        work: impl Future<Output = T>,
    ) -> Result<T, JetStreamError> {
        tokio::time::timeout(self.timeout, work).await.map_err(|_| self.timed_out(effect, op))
    }

    fn timed_out(&self, effect: &str, op: &str) -> JetStreamError {
        JetStreamError::Timeout {
            effect: effect.to_string(),
            op: op.to_string(),
            connection: self.connection.target(),
            after: self.timeout,
        }
    }
}
