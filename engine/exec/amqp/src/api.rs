//! The management HTTP API client: GET to look, PUT/POST to change, and
//! every failure turned into an [`AmqpError`] that names the effect, the op
//! and the broker.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{AmqpConnection, AmqpError};

/// Long enough for a quorum queue declaration on a loaded cluster, short
/// enough that an unreachable broker fails the component instead of hanging it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which op a request belongs to, for messages.
pub(crate) struct Ctx<'e> {
    pub effect: &'e str,
    pub op: String,
    pub target: String,
}

impl Ctx<'_> {
    pub(crate) fn conflict(&self, why: impl Into<String>) -> AmqpError {
        AmqpError::Conflict {
            effect: self.effect.to_string(),
            op: self.op.clone(),
            target: self.target.clone(),
            why: why.into(),
        }
    }

    pub(crate) fn invalid(&self, why: impl Into<String>) -> AmqpError {
        AmqpError::InvalidOp { effect: self.effect.to_string(), op: self.op.clone(), why: why.into() }
    }

    pub(crate) fn failed(&self, message: impl Into<String>) -> AmqpError {
        AmqpError::Op {
            effect: self.effect.to_string(),
            op: self.op.clone(),
            target: self.target.clone(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Api {
    http: reqwest::Client,
    connection: AmqpConnection,
}

impl Api {
    pub(crate) fn new(connection: AmqpConnection) -> Result<Self, AmqpError> {
        // reqwest is built without a crypto provider of its own: make sure the
        // process has ring (a no-op when the binary installed it already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| AmqpError::Client {
                connection: connection.name().to_string(),
                message: innermost(&e),
            })?;
        Ok(Self { http, connection })
    }

    pub(crate) fn connection(&self) -> &AmqpConnection {
        &self.connection
    }

    /// The resource, or `None` when the broker says it does not exist.
    pub(crate) async fn get(&self, ctx: &Ctx<'_>, segments: &[&str]) -> Result<Option<Value>, AmqpError> {
        let response = self.send(ctx, Method::GET, segments, None).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = self.check(ctx, response).await?;
        let body = response.json::<Value>().await.map_err(|e| {
            ctx.failed(format!("the management API answered something that is not JSON: {}", innermost(&e)))
        })?;
        Ok(Some(body))
    }

    pub(crate) async fn put(&self, ctx: &Ctx<'_>, segments: &[&str], body: &Value) -> Result<(), AmqpError> {
        let response = self.send(ctx, Method::PUT, segments, Some(body)).await?;
        self.check(ctx, response).await.map(drop)
    }

    pub(crate) async fn post(&self, ctx: &Ctx<'_>, segments: &[&str], body: &Value) -> Result<(), AmqpError> {
        let response = self.send(ctx, Method::POST, segments, Some(body)).await?;
        self.check(ctx, response).await.map(drop)
    }

    async fn send(
        &self,
        ctx: &Ctx<'_>,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
    ) -> Result<reqwest::Response, AmqpError> {
        let mut request = self
            .http
            .request(method, self.connection.api_url(segments))
            .basic_auth(self.connection.username(), Some(self.connection.password().expose()));
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.map_err(|e| AmqpError::Unreachable {
            effect: ctx.effect.to_string(),
            op: ctx.op.clone(),
            target: ctx.target.clone(),
            message: if e.is_timeout() { "timed out".to_string() } else { innermost(&e) },
        })
    }

    /// The response when it succeeded; otherwise the broker's reason, typed.
    async fn check(
        &self,
        ctx: &Ctx<'_>,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, AmqpError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let reason = reason(&response.text().await.unwrap_or_default());
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(AmqpError::Unauthorized {
                effect: ctx.effect.to_string(),
                op: ctx.op.clone(),
                target: ctx.target.clone(),
                user: self.connection.username().to_string(),
                status: status.as_u16(),
                reason,
            });
        }
        Err(ctx.failed(format!("HTTP {}: {reason}", status.as_u16())))
    }
}

/// The `reason` of the API's `{"error": …, "reason": …}` answers, or the
/// start of whatever else came back. Request bodies never hold a password
/// (only its hash), so nothing secret can be echoed here.
fn reason(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    match parsed.as_ref().and_then(|v| v.get("reason")) {
        Some(Value::String(r)) => r.clone(),
        Some(other) => other.to_string(),
        None => {
            let text = body.trim();
            if text.is_empty() { "no reason given".to_string() } else { text.chars().take(300).collect() }
        }
    }
}

/// The root cause's message, which says *why* (refused, DNS, TLS) without
/// reqwest's URL prefix.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
