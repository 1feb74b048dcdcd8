//! Side effects a plugin declares and the engine carries out
//! (the `effects` interface of the WIT contract).

use serde::{Deserialize, Serialize};

use crate::{Sensitive, Text};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlRole {
    pub name: String,
    pub password: Option<Sensitive>,
    pub login: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlDatabase {
    pub name: String,
    pub owner: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlGrant {
    pub privileges: Vec<String>,
    pub database: String,
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlExtension {
    pub name: String,
    pub database: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlStatement {
    pub database: Option<String>,
    pub sql: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SqlOp {
    EnsureRole(SqlRole),
    EnsureDatabase(SqlDatabase),
    Grant(SqlGrant),
    EnsureExtension(SqlExtension),
    Statement(SqlStatement),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmqpUser {
    pub name: String,
    pub password: Sensitive,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmqpPermission {
    pub vhost: String,
    pub user: String,
    pub configure: String,
    pub write: String,
    pub read: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmqpExchange {
    pub vhost: String,
    pub name: String,
    pub kind: String,
    pub durable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmqpQueue {
    pub vhost: String,
    pub name: String,
    pub durable: bool,
    /// Queue arguments as a JSON object.
    pub arguments: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmqpBinding {
    pub vhost: String,
    pub exchange: String,
    pub queue: String,
    pub routing_key: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AmqpOp {
    EnsureVhost(String),
    EnsureUser(AmqpUser),
    EnsurePermission(AmqpPermission),
    EnsureExchange(AmqpExchange),
    EnsureQueue(AmqpQueue),
    EnsureBinding(AmqpBinding),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCall {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Text>,
}

/// When a JetStream stream lets go of a message besides its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JetStreamRetention {
    Limits,
    Interest,
    WorkQueue,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JetStreamStorage {
    File,
    Memory,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JetStreamStream {
    pub name: String,
    pub subjects: Vec<String>,
    pub retention: JetStreamRetention,
    pub storage: JetStreamStorage,
    pub replicas: u32,
    /// Seconds a message is kept; 0 for no age limit.
    pub max_age_seconds: u64,
    pub max_bytes: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JetStreamConsumer {
    pub stream: String,
    /// The durable name.
    pub name: String,
    pub filter_subjects: Vec<String>,
    pub ack_wait_seconds: u64,
    pub max_deliver: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JetStreamOp {
    EnsureStream(JetStreamStream),
    EnsureConsumer(JetStreamConsumer),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EffectKind {
    Sql(Vec<SqlOp>),
    Amqp(Vec<AmqpOp>),
    Http(HttpCall),
    /// Since contract 0.2.
    #[serde(rename = "jetstream")]
    JetStream(Vec<JetStreamOp>),
}

impl EffectKind {
    /// The kind as the contract names it: `sql`, `amqp`, `http`, `jetstream`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sql(_) => "sql",
            Self::Amqp(_) => "amqp",
            Self::Http(_) => "http",
            Self::JetStream(_) => "jetstream",
        }
    }
}

/// One declared effect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    /// Stable within the component; results are handed back under it.
    pub id: String,
    /// The connection (sql, amqp, jetstream) or service (http) it runs on.
    pub target: String,
    /// One line for the plan.
    pub summary: String,
    pub kind: EffectKind,
}

impl Effect {
    /// The capability it runs under: its own kind, on its target.
    pub fn capability(&self) -> crate::Capability {
        let target = self.target.clone();
        match &self.kind {
            EffectKind::Sql(_) => crate::Capability::Sql(target),
            EffectKind::Amqp(_) => crate::Capability::Amqp(target),
            EffectKind::Http(_) => crate::Capability::Http(target),
            EffectKind::JetStream(_) => crate::Capability::JetStream(target),
        }
    }

    /// A copy with every sensitive value (a role's or user's password, a
    /// sensitive statement or request body) replaced by `hide` of it: what
    /// state keeps (a keyed hash) or what may be shown (a redaction mark).
    ///
    /// Exhaustive matches on purpose: a new effect field that can hold a
    /// secret must be handled here, not slip out in clear.
    pub fn map_sensitive(&self, hide: impl Fn(&Sensitive) -> Sensitive) -> Effect {
        let text = |t: &Text| match t {
            Text::Plain(p) => Text::Plain(p.clone()),
            Text::Sensitive(s) => Text::Sensitive(hide(s)),
        };
        let kind = match &self.kind {
            EffectKind::Sql(ops) => EffectKind::Sql(
                ops.iter()
                    .map(|op| match op {
                        SqlOp::EnsureRole(r) => {
                            let mut r = r.clone();
                            r.password = r.password.as_ref().map(&hide);
                            SqlOp::EnsureRole(r)
                        }
                        SqlOp::Statement(s) => {
                            let mut s = s.clone();
                            s.sql = text(&s.sql);
                            SqlOp::Statement(s)
                        }
                        SqlOp::EnsureDatabase(_) | SqlOp::Grant(_) | SqlOp::EnsureExtension(_) => op.clone(),
                    })
                    .collect(),
            ),
            EffectKind::Amqp(ops) => EffectKind::Amqp(
                ops.iter()
                    .map(|op| match op {
                        AmqpOp::EnsureUser(u) => {
                            let mut u = u.clone();
                            u.password = hide(&u.password);
                            AmqpOp::EnsureUser(u)
                        }
                        AmqpOp::EnsureVhost(_)
                        | AmqpOp::EnsurePermission(_)
                        | AmqpOp::EnsureExchange(_)
                        | AmqpOp::EnsureQueue(_)
                        | AmqpOp::EnsureBinding(_) => op.clone(),
                    })
                    .collect(),
            ),
            EffectKind::Http(call) => {
                let mut call = call.clone();
                call.body = call.body.as_ref().map(text);
                EffectKind::Http(call)
            }
            // Streams and consumers hold no secret.
            EffectKind::JetStream(ops) => EffectKind::JetStream(ops.clone()),
        };
        Effect { id: self.id.clone(), target: self.target.clone(), summary: self.summary.clone(), kind }
    }
}

/// What an effect returned (a queue URL, an ARN, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectResult {
    pub id: String,
    pub body: serde_json::Value,
}
