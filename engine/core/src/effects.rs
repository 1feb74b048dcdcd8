//! Side effects a plugin declares and the engine carries out
//! (the `effects` interface of the WIT contract).

use serde::{Deserialize, Serialize};

use crate::{Sensitive, Text};

/// A role (user) on a PostgreSQL server: created if missing, its LOGIN flag
/// and password fixed where they differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlRole {
    /// The role's name on the server, as [`SqlDatabase::owner`] and
    /// [`SqlGrant::role`] refer to it.
    pub name: String,
    /// Set, or rotated when it differs; never shown. `None` creates the role
    /// without one and leaves an existing role's password alone.
    pub password: Option<Sensitive>,
    /// `LOGIN` when true (a user an application connects as), `NOLOGIN`
    /// when false (a group role).
    pub login: bool,
}

/// A database, owned by a role and closed to PUBLIC: only its owner and the
/// roles granted privileges on it may connect.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlDatabase {
    /// Created if missing.
    pub name: String,
    /// The role that owns it, fixed when it differs. The role must already
    /// exist: ensure it in an earlier op.
    pub owner: String,
}

/// Privileges of a role on a database. Those it lacks are granted; none is
/// revoked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlGrant {
    /// Database privileges as SQL spells them: `ALL`, `CONNECT`, `CREATE`,
    /// `TEMPORARY`.
    pub privileges: Vec<String>,
    /// The database they are on.
    pub database: String,
    /// The role that receives them.
    pub role: String,
}

/// An extension in a database, created if missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlExtension {
    /// As `CREATE EXTENSION` names it, such as `pgcrypto`.
    pub name: String,
    /// The database it is created in.
    pub database: String,
}

/// A statement the plugin vouches is idempotent by itself: the executor
/// runs it as it is, without looking first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlStatement {
    /// The database to connect to; `None` for the connection's default.
    pub database: Option<String>,
    /// The SQL text. When sensitive, it runs with the session's statement
    /// logging turned off.
    pub sql: Text,
}

/// One step of a SQL effect; an effect's ops run in order on its connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SqlOp {
    /// Create the role, or fix its LOGIN flag and password.
    EnsureRole(SqlRole),
    /// Create the database, or fix its owner.
    EnsureDatabase(SqlDatabase),
    /// Grant the privileges the role lacks.
    Grant(SqlGrant),
    /// Create the extension if missing.
    EnsureExtension(SqlExtension),
    /// Run the statement.
    Statement(SqlStatement),
}

/// A RabbitMQ user: created, or its password and tags fixed where they
/// differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmqpUser {
    /// The username clients log in with.
    pub name: String,
    /// Sent to the broker only as a salted hash; never shown.
    pub password: Sensitive,
    /// RabbitMQ user tags, such as `management`; empty for none.
    pub tags: Vec<String>,
}

/// Configure, write and read permissions of a user on a vhost, each a regex
/// of resource names (`.*` for all, `^$` for none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmqpPermission {
    /// The vhost they apply on.
    pub vhost: String,
    /// The user they are given to.
    pub user: String,
    /// The queues and exchanges the user may declare and delete.
    pub configure: String,
    /// The exchanges the user may publish to.
    pub write: String,
    /// The queues the user may consume from.
    pub read: String,
}

/// An exchange, declared if missing. One that exists with another type or
/// durability is an error: RabbitMQ cannot change those in place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmqpExchange {
    /// The vhost it lives in.
    pub vhost: String,
    /// Unique within the vhost; what [`AmqpBinding::exchange`] refers to.
    pub name: String,
    /// The exchange type: `direct`, `fanout`, `topic` or `headers`.
    pub kind: String,
    /// Whether it survives a broker restart.
    pub durable: bool,
}

/// A queue, declared if missing. One that exists with another durability or
/// other arguments is an error: changing them would mean deleting the queue
/// and its messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmqpQueue {
    /// The vhost it lives in.
    pub vhost: String,
    /// Unique within the vhost; what [`AmqpBinding::queue`] refers to.
    pub name: String,
    /// Whether it survives a broker restart.
    pub durable: bool,
    /// Queue arguments as a JSON object.
    pub arguments: serde_json::Value,
}

/// A queue bound to an exchange by a routing key, bound if it is not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmqpBinding {
    /// The vhost of both the exchange and the queue.
    pub vhost: String,
    /// The exchange messages are published to.
    pub exchange: String,
    /// The queue they are routed to.
    pub queue: String,
    /// What a message's routing key must match to reach the queue (a
    /// pattern with `*` and `#` on a topic exchange).
    pub routing_key: String,
}

/// One step of an AMQP effect; an effect's ops run in order on its broker
/// connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AmqpOp {
    /// Create the virtual host of this name if missing.
    EnsureVhost(String),
    /// Create the user, or rotate its password and fix its tags.
    EnsureUser(AmqpUser),
    /// Set the user's permissions on the vhost, or correct them.
    EnsurePermission(AmqpPermission),
    /// Declare the exchange.
    EnsureExchange(AmqpExchange),
    /// Declare the queue.
    EnsureQueue(AmqpQueue),
    /// Bind the queue to the exchange.
    EnsureBinding(AmqpBinding),
}

/// A call to a cloud API. The engine signs it (AWS SigV4 for `aws:*`
/// services) with the operator's credentials and the region configured for
/// the connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpCall {
    /// The HTTP method, such as `POST`.
    pub method: String,
    /// The path and query, relative to the service endpoint, such as `/`.
    pub path: String,
    /// Request headers as (name, value), such as `X-Amz-Target`. Those
    /// that carry identity (`Authorization`, `Host`, …) are refused.
    pub headers: Vec<(String, String)>,
    /// The request body, such as a JSON document; sensitive when it holds a
    /// secret.
    pub body: Option<Text>,
}

/// When a JetStream stream lets go of a message besides its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JetStreamRetention {
    /// Only by age or size ([`JetStreamStream::max_age_seconds`],
    /// [`JetStreamStream::max_bytes`]).
    Limits,
    /// Once every consumer has acknowledged it.
    Interest,
    /// Once any consumer has acknowledged it; one consumer per subject.
    WorkQueue,
}

/// Where a JetStream stream keeps its messages. The server cannot change it
/// in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JetStreamStorage {
    /// On disk: kept across a server restart.
    File,
    /// In memory: lost when the server restarts.
    Memory,
}

/// A JetStream stream: the messages published on its subjects, kept.
/// Created, or updated to this configuration where the server allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JetStreamStream {
    /// Unique on the server; what [`JetStreamConsumer::stream`] refers to.
    pub name: String,
    /// The subjects whose messages it keeps.
    pub subjects: Vec<String>,
    /// Cannot be changed in place: the server refuses the update.
    pub retention: JetStreamRetention,
    /// Cannot be changed in place: the server refuses the update.
    pub storage: JetStreamStorage,
    /// Copies kept across the cluster's servers; 0 is taken as 1.
    pub replicas: u32,
    /// Seconds a message is kept; 0 for no age limit.
    pub max_age_seconds: u64,
    /// The most bytes kept; `None` for no limit.
    pub max_bytes: Option<u64>,
}

/// A durable pull consumer of a stream: it outlives the clients that read
/// from it and remembers what they acknowledged. Created, or updated where
/// it differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JetStreamConsumer {
    /// The stream it reads.
    pub stream: String,
    /// The durable name.
    pub name: String,
    /// Only the messages on these subjects; empty for all of the stream's.
    /// More than one needs NATS 2.10 or later.
    pub filter_subjects: Vec<String>,
    /// Seconds a delivered message waits for its acknowledgement before it
    /// is delivered again.
    pub ack_wait_seconds: u64,
    /// Deliveries before a message is given up on; `None` for no limit.
    pub max_deliver: Option<u32>,
}

/// One step of a JetStream effect; an effect's ops run in order on its NATS
/// connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JetStreamOp {
    /// Create the stream, or update it where it differs.
    EnsureStream(JetStreamStream),
    /// Create the consumer, or update it where it differs.
    EnsureConsumer(JetStreamConsumer),
}

/// The seconds of a duration as Vault parses one (its
/// `parseutil.ParseDurationSecond`): plain seconds (`"3600"`), or Go's units
/// (`ms`, `s`, `m`, `h`) plus `d` for days, combined and with fractions
/// (`1h30m`, `1.5h`). `None` when `text` is not one, surrounding spaces
/// included: a caller that accepts them trims first. Shared by the plugins
/// that check a duration before Vault sees it and the driver that compares
/// what Vault reads back.
pub fn vault_duration_seconds(text: &str) -> Option<f64> {
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let mut total = 0.0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number: f64 = rest.get(..digits).filter(|d| !d.is_empty())?.parse().ok()?;
        rest = &rest[digits..];
        let (unit, scale) = [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0)]
            .into_iter()
            .find(|(unit, _)| rest.starts_with(unit))?;
        rest = &rest[unit.len()..];
        total += number * scale;
    }
    Some(total)
}

/// A secrets engine mounted at `path`: mounted when the path is free; a
/// path holding another engine is refused, never remounted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultMount {
    /// Where it is mounted, such as `pki` or `database`.
    pub path: String,
    /// The engine: `kv-v2`, `pki`, `database`, `transit`, ...
    pub engine: String,
    /// Shown by `vault secrets list`.
    pub description: String,
    /// The longest lease or certificate it may hand out (`87600h`); `None`
    /// leaves the server's default.
    pub max_lease_ttl: Option<String>,
}

/// An auth method enabled at `path`, such as `kubernetes` or `jwt`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultAuth {
    /// Where it is enabled (`auth/<path>`).
    pub path: String,
    /// The method: `kubernetes`, `jwt`, `approle`, ...
    pub method: String,
    /// Shown by `vault auth list`.
    pub description: String,
}

/// An ACL policy in Vault's policy language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultPolicy {
    /// The policy's name, as roles refer to it.
    pub name: String,
    /// Its rules (`path "..." { capabilities = [...] }`).
    pub policy: String,
}

/// A configuration object written at `path` with the fields of `data`: a
/// role, a PKI role or its URLs, a database connection or role. Written when
/// a field read back differs, or when `data` holds a field the server never
/// reads back (a password), which is therefore sent on every run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultConfig {
    /// Relative to `/v1/`, such as `auth/kubernetes/role/app`.
    pub path: String,
    /// A JSON object; sensitive when it holds a secret.
    pub data: Text,
}

/// A root CA generated inside a PKI mount (its key never leaves the
/// server) unless the mount already has one: a new root would void every
/// certificate issued under the old.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultPkiRoot {
    /// The PKI mount's path.
    pub mount: String,
    /// The root's common name.
    pub common_name: String,
    /// How long it is valid, such as `87600h`.
    pub ttl: String,
}

/// An intermediate CA whose key is generated inside the PKI mount `mount`
/// (it never leaves the server) and whose certificate the CA of the PKI
/// mount `issuer_mount` signs, unless `mount` already has a CA: as for the
/// root, a new one would void every certificate issued under the old.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultPkiIntermediate {
    /// The PKI mount it is generated in.
    pub mount: String,
    /// The PKI mount whose CA signs it (another than `mount`).
    pub issuer_mount: String,
    /// The intermediate's common name.
    pub common_name: String,
    /// How long it is valid, such as `43800h`.
    pub ttl: String,
}

/// Deletes what `LIST path` names that `keep` does not, among the names
/// starting with `prefix`: the roles or policies of an app that left the
/// plan. The policies `root` and `default` are never deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultPrune {
    /// A path that lists names, such as `auth/kubernetes/role` or
    /// `sys/policies/acl`.
    pub path: String,
    /// Only names starting with it are candidates (empty: every name).
    pub prefix: String,
    /// The names that stay.
    pub keep: Vec<String>,
}

/// One step of a Vault effect, run in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VaultOp {
    /// Mount a secrets engine.
    EnsureMount(VaultMount),
    /// Enable an auth method.
    EnsureAuth(VaultAuth),
    /// Create or update an ACL policy.
    EnsurePolicy(VaultPolicy),
    /// Write a configuration object where it differs.
    EnsureConfig(VaultConfig),
    /// Generate a root CA unless the mount has one.
    EnsurePkiRoot(VaultPkiRoot),
    /// Generate an intermediate CA signed by another mount's CA unless the
    /// mount has one.
    EnsurePkiIntermediate(VaultPkiIntermediate),
    /// Delete what is no longer declared.
    Prune(VaultPrune),
}

/// What an effect does: its kind, which needs the capability of the same
/// name on the effect's target, and its ops.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EffectKind {
    /// SQL ops on a PostgreSQL connection.
    Sql(Vec<SqlOp>),
    /// RabbitMQ ops on a broker connection.
    Amqp(Vec<AmqpOp>),
    /// One signed call to a cloud API.
    Http(HttpCall),
    /// Since contract 0.2.
    #[serde(rename = "jetstream")]
    JetStream(Vec<JetStreamOp>),
    /// Since contract 0.2: Vault or OpenBao configuration, on its HTTP API
    /// with the operator's token.
    Vault(Vec<VaultOp>),
}

impl EffectKind {
    /// The kind as the contract names it: `sql`, `amqp`, `http`, `jetstream`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sql(_) => "sql",
            Self::Amqp(_) => "amqp",
            Self::Http(_) => "http",
            Self::JetStream(_) => "jetstream",
            Self::Vault(_) => "vault",
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
    /// What it does; its kind must be granted on `target`
    /// (see [`Effect::capability`]).
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
            EffectKind::Vault(_) => crate::Capability::Vault(target),
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
            EffectKind::Vault(ops) => EffectKind::Vault(
                ops.iter()
                    .map(|op| match op {
                        VaultOp::EnsureConfig(c) => {
                            VaultOp::EnsureConfig(VaultConfig { path: c.path.clone(), data: text(&c.data) })
                        }
                        VaultOp::EnsureMount(_)
                        | VaultOp::EnsureAuth(_)
                        | VaultOp::EnsurePolicy(_)
                        | VaultOp::EnsurePkiRoot(_)
                        | VaultOp::EnsurePkiIntermediate(_)
                        | VaultOp::Prune(_) => op.clone(),
                    })
                    .collect(),
            ),
        };
        Effect { id: self.id.clone(), target: self.target.clone(), summary: self.summary.clone(), kind }
    }
}

/// What an effect returned (a queue URL, an ARN, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectResult {
    /// The [`Effect::id`] it answers.
    pub id: String,
    /// The cloud API's response body (http), or the executor's
    /// [`EffectSummary`](crate::EffectSummary) (sql, amqp, jetstream).
    /// Kept in state in clear and handed to the next plan.
    pub body: serde_json::Value,
}
