//! Running one effect's ops in order on one server, over one HTTP client
//! made on first use.

use std::sync::OnceLock;
use std::time::Duration;

use capstan_core::{Effect, EffectKind, EffectResult, EffectSummary, VaultOp};

use crate::api::Api;
use crate::ops::Step;
use crate::{VaultConnection, VaultError};

/// How long each request may take. An op is one to three requests (look,
/// then write); a server that has not answered one in 30 s is not going
/// to, and the run should say so rather than hang. Connecting is bounded
/// by 5 s of it. [`VaultExecutor::with_timeout`] changes it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Carries out Vault effects on one operator-configured server. Blocking:
/// call it from a worker thread, not from inside an async runtime (the
/// HTTP client runs one of its own, which may not be dropped there).
pub struct VaultExecutor {
    connection: VaultConnection,
    timeout: Duration,
    /// Built by the first effect that needs it; a failure (TLS set-up) is
    /// kept, as it would fail again.
    client: OnceLock<Result<reqwest::blocking::Client, String>>,
}

impl std::fmt::Debug for VaultExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultExecutor")
            .field("connection", &self.connection)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl VaultExecutor {
    /// An executor for `connection`. The server is not contacted until an
    /// effect runs, so a down server fails the effect that needs it, not the
    /// run's start.
    pub fn new(connection: VaultConnection) -> Self {
        Self { connection, timeout: DEFAULT_TIMEOUT, client: OnceLock::new() }
    }

    /// The same executor with another limit for each request.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.client = OnceLock::new();
        self
    }

    /// The operator's connection this executor serves; effects naming
    /// another connection are refused with [`VaultError::WrongTarget`].
    pub fn connection(&self) -> &VaultConnection {
        &self.connection
    }

    /// Runs one declared effect; it must be a Vault effect for this
    /// connection. Its ops run in order, and the first failure stops it.
    /// The result's body is the [`EffectSummary`].
    pub fn apply(&self, effect: &Effect) -> Result<EffectResult, VaultError> {
        let ops = self.ops_of(effect)?;
        let summary = self.run(&effect.id, ops)?;
        Ok(EffectResult { id: effect.id.clone(), body: summary.to_json() })
    }

    /// Runs `ops` in order, stopping at the first failure; `effect_id` is
    /// for messages. Every op is checked before the first request, so a
    /// malformed op sends nothing at all.
    pub fn run(&self, effect_id: &str, ops: &[VaultOp]) -> Result<EffectSummary, VaultError> {
        let steps = steps(effect_id, ops)?;
        let client = self.client()?;
        let mut outcomes = Vec::with_capacity(steps.len());
        for step in &steps {
            let outcome = step.apply(&self.api(client, effect_id, step))?;
            tracing::debug!(
                effect = effect_id,
                op = outcome.op,
                subject = %outcome.subject,
                outcome = ?outcome.outcome,
                "Vault op"
            );
            outcomes.push(outcome);
        }
        Ok(EffectSummary { target: self.connection.target(), ops: outcomes })
    }

    /// What on the server differs from what the effect declares, one line
    /// per difference in words (`policy app: rules changed outside
    /// Capstan`); empty when the server matches. Only reads: nothing is
    /// written, whatever it finds. Fields the server never reads back (a
    /// password) cannot be compared and are not reported.
    ///
    /// The effect must hold its sensitive values in clear, as the plugin
    /// declared it: a copy from state, whose values are hashed, would
    /// differ wherever one is compared.
    pub fn check(&self, effect: &Effect) -> Result<Vec<String>, VaultError> {
        let ops = self.ops_of(effect)?;
        let steps = steps(&effect.id, ops)?;
        let client = self.client()?;
        let mut lines = Vec::new();
        for step in &steps {
            lines.extend(step.check(&self.api(client, &effect.id, step))?);
        }
        Ok(lines)
    }

    /// The effect's ops, if it is a Vault effect for this connection.
    fn ops_of<'e>(&self, effect: &'e Effect) -> Result<&'e [VaultOp], VaultError> {
        let ops = match &effect.kind {
            EffectKind::Vault(ops) => ops,
            other => return Err(VaultError::NotVault { effect: effect.id.clone(), kind: other.name() }),
        };
        if effect.target != self.connection.name() {
            return Err(VaultError::WrongTarget {
                effect: effect.id.clone(),
                wanted: effect.target.clone(),
                serves: self.connection.name().to_string(),
            });
        }
        Ok(ops)
    }

    fn api<'a>(&'a self, client: &'a reqwest::blocking::Client, effect: &'a str, step: &Step) -> Api<'a> {
        Api {
            client,
            connection: &self.connection,
            timeout: self.timeout,
            effect,
            op: step.describe(),
            hidden: step.hidden(),
        }
    }

    fn client(&self) -> Result<&reqwest::blocking::Client, VaultError> {
        let built = self.client.get_or_init(|| {
            // reqwest is built without a TLS provider of its own: the
            // process needs a default one, and the binary uses `ring`
            // throughout. Fails only if one is installed already, which is
            // fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::blocking::Client::builder()
                .connect_timeout(self.timeout.min(Duration::from_secs(5)))
                .timeout(self.timeout)
                // A redirect would resend the token to wherever it points.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| format!("cannot build an HTTP client: {e}"))
        });
        built
            .as_ref()
            .map_err(|why| VaultError::Client { connection: self.connection.target(), why: why.clone() })
    }
}

/// Every op checked, or the first that cannot run.
fn steps(effect: &str, ops: &[VaultOp]) -> Result<Vec<Step>, VaultError> {
    ops.iter()
        .map(|op| {
            Step::new(op).map_err(|(op, why)| VaultError::InvalidOp { effect: effect.to_string(), op, why })
        })
        .collect()
}
