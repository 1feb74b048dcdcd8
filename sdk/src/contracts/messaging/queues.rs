//! The queues (topics) and client users a `messaging` component provides: the
//! input shape every messaging backend accepts, so switching backend in
//! env.hcl needs no change to `queues` or `users`. A backend that has no use
//! for a setting says so with a warning instead of refusing the config.
//!
//! A backend puts `name_prefix`, `queues: BTreeMap<String, QueueSpec>`,
//! `users: BTreeMap<String, UserSpec>` and `credentials_user` in its own
//! inputs and uses the checks and helpers here; the shape is the schema
//! `wit/contracts/messaging.queues.v1.json`. How queues and users are
//! made on the broker is the backend's own business.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Consumer, CredentialsSecret};
use crate::k8s::is_dns_label;
use crate::pointer;
use crate::prelude::*;

/// Deliveries before a message goes to the dead-letter queue, by default.
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 5;

/// One queue or topic, by its logical name (the key under `queues`).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    /// The physical name; default: `name_prefix` followed by the logical name.
    #[serde(default)]
    pub name: Option<String>,
    /// How long an unconsumed message is kept, in hours (Kafka retention,
    /// SQS message retention, RabbitMQ message TTL).
    #[serde(default)]
    pub retention_hours: Option<u32>,
    /// Send messages that keep failing to a dead-letter queue `<name>-dlq`
    /// (Kafka: a `<name>-dlq` topic for consumers to publish to).
    #[serde(default)]
    pub dead_letter: bool,
    /// Deliveries before a message is dead-lettered (SQS maxReceiveCount,
    /// RabbitMQ quorum-queue delivery limit). Default 5.
    #[serde(default)]
    pub max_receive_count: Option<u32>,
    /// First-in-first-out, exactly-once processing (SQS FIFO queue; RabbitMQ
    /// single active consumer; Kafka: ordering is per partition).
    #[serde(default)]
    pub fifo: bool,
    /// Kafka partitions.
    #[serde(default)]
    pub partitions: Option<u32>,
    /// Kafka replication factor.
    #[serde(default)]
    pub replicas: Option<u32>,
    /// SQS visibility timeout, in seconds.
    #[serde(default)]
    pub visibility_timeout_seconds: Option<u32>,
}

/// A client (an app) of the broker.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// The user's password, from the component's encrypted secrets file.
    #[schemars(with = "String")]
    pub password: Sensitive,
    /// Logical names of the queues it may use; default: all of them.
    #[serde(default)]
    pub queues: Option<Vec<String>>,
}

/// The settings in [`QueueSpec`] that only some backends use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// `max_receive_count`: the delivery limit before dead-lettering.
    MaxReceiveCount,
    /// `fifo`: first-in-first-out delivery.
    Fifo,
    /// `partitions`: Kafka topic partitions.
    Partitions,
    /// `replicas`: copies of each message (Kafka replication factor).
    Replicas,
    /// `visibility_timeout_seconds`: how long a received message stays hidden (SQS).
    VisibilityTimeout,
}

impl Setting {
    fn field(self) -> &'static str {
        match self {
            Setting::MaxReceiveCount => "max_receive_count",
            Setting::Fifo => "fifo",
            Setting::Partitions => "partitions",
            Setting::Replicas => "replicas",
            Setting::VisibilityTimeout => "visibility_timeout_seconds",
        }
    }

    fn is_set(self, q: &QueueSpec) -> bool {
        match self {
            Setting::MaxReceiveCount => q.max_receive_count.is_some(),
            Setting::Fifo => q.fifo,
            Setting::Partitions => q.partitions.is_some(),
            Setting::Replicas => q.replicas.is_some(),
            Setting::VisibilityTimeout => q.visibility_timeout_seconds.is_some(),
        }
    }
}

fn warning(path: String, message: String) -> Diagnostic {
    Diagnostic { path, severity: Severity::Warning, message }
}

/// The physical name of a queue.
pub fn physical_name(prefix: &str, logical: &str, spec: &QueueSpec) -> String {
    spec.name.clone().unwrap_or_else(|| format!("{prefix}{logical}"))
}

/// Checks shared by every backend: queue references, users, counts; and a
/// warning for each setting this backend (`backend`) ignores.
pub fn validate(
    queues: &BTreeMap<String, QueueSpec>,
    users: &BTreeMap<String, UserSpec>,
    credentials_user: Option<&str>,
    backend: &str,
    ignored: &[(Setting, &str)],
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (logical, q) in queues {
        if logical.is_empty() {
            out.push(Diagnostic::error("/queues", "a queue needs a non-empty logical name"));
        }
        if q.max_receive_count == Some(0) {
            out.push(Diagnostic::error(
                pointer(&["queues", logical, "max_receive_count"]),
                "0 deliveries would dead-letter every message unread; use at least 1",
            ));
        }
        if q.retention_hours == Some(0) {
            out.push(Diagnostic::error(
                pointer(&["queues", logical, "retention_hours"]),
                "a retention of 0 hours would drop every message; use at least 1",
            ));
        }
        if q.max_receive_count.is_some() && !q.dead_letter {
            out.push(warning(
                pointer(&["queues", logical, "max_receive_count"]),
                "max_receive_count has no effect without dead_letter: true".to_owned(),
            ));
        }
        for (setting, why) in ignored {
            if setting.is_set(q) {
                out.push(warning(
                    pointer(&["queues", logical, setting.field()]),
                    format!("ignored by the {backend} backend: {why}"),
                ));
            }
        }
    }
    for (user, spec) in users {
        if !is_dns_label(user) {
            out.push(Diagnostic::error(
                pointer(&["users", user]),
                format!("user `{user}`: names must be DNS labels (a-z, 0-9, `-`), they name its Secret"),
            ));
        }
        if spec.password.expose().is_empty() {
            out.push(Diagnostic::error(pointer(&["users", user, "password"]), "the password is empty"));
        }
        for (i, q) in spec.queues.iter().flatten().enumerate() {
            if !queues.contains_key(q) {
                out.push(Diagnostic::error(
                    pointer(&["users", user, "queues", &i.to_string()]),
                    format!("`{q}` is not one of the queues"),
                ));
            }
        }
    }
    if let Some(u) = credentials_user
        && !users.contains_key(u)
    {
        out.push(Diagnostic::error("/credentials_user", format!("`{u}` is not one of the users")));
    }
    out
}

/// Refuses a user password that did not come from the encrypted secrets file.
pub fn check_sensitive(req: &PlanRequest, users: &BTreeMap<String, UserSpec>) -> Result<(), PlanError> {
    let errors: Vec<Diagnostic> = users
        .keys()
        .map(|u| pointer(&["users", u, "password"]))
        .filter(|p| !req.is_sensitive(p))
        .map(|p| {
            Diagnostic::error(
                p,
                "this password is not from the encrypted secrets file; move it to `values_sensitive_custom`",
            )
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(PlanError::InvalidInputs(errors)) }
}

/// The logical queues a user may use.
pub fn user_queues<'a>(spec: &'a UserSpec, queues: &'a BTreeMap<String, QueueSpec>) -> Vec<&'a str> {
    match &spec.queues {
        Some(list) => list.iter().map(String::as_str).collect(),
        None => queues.keys().map(String::as_str).collect(),
    }
}

/// The user whose credentials the contract publishes: `credentials_user`,
/// else the only user, else none (with several users and no choice, a
/// consumer must be told which one it is).
pub fn contract_user<'a>(
    users: &'a BTreeMap<String, UserSpec>,
    credentials_user: Option<&'a str>,
) -> Option<&'a str> {
    match credentials_user {
        Some(u) => Some(u),
        None if users.len() == 1 => users.keys().next().map(String::as_str),
        None => None,
    }
}

/// The name of a user's credentials Secret (keys `username`, `password`).
pub fn credentials_secret_name(component: &str, user: &str) -> String {
    format!("{component}-{user}-credentials")
}

/// A user's credentials Secret (the contract's reference to it is
/// [`credentials_ref`]).
pub fn credentials_secret(
    req: &PlanRequest,
    user: &str,
    username: &str,
    spec: &UserSpec,
) -> serde_json::Value {
    let meta = k8s::Meta::new(
        &req.component,
        credentials_secret_name(&req.component.name, user),
        "messaging-credentials",
    )
    .label("capstan.dev/user", user);
    let data = BTreeMap::from([
        ("username".to_owned(), Sensitive::new(username)),
        ("password".to_owned(), spec.password.clone()),
    ]);
    k8s::secret(&meta, &data)
}

/// The outputs' reference to `user`'s credentials Secret (keys `username`,
/// `password`), in the component's namespace.
pub fn credentials_ref(req: &PlanRequest, user: &str) -> CredentialsSecret {
    CredentialsSecret {
        name: credentials_secret_name(&req.component.name, user),
        username_key: "username".to_owned(),
        password_key: "password".to_owned(),
        namespace: Some(req.component.namespace.clone()),
        uri_key: None,
    }
}

/// The prefix of the consumer groups (Kafka) and self-declared queues (AMQP)
/// a user may create: `<user>.<component>`. User names are DNS labels, which
/// have no `.`, so no user's prefix begins another user's names.
pub fn group_prefix(component: &str, user: &str) -> String {
    format!("{user}.{component}")
}

/// Every user as a consumer in the outputs: its own Secret, its queues and,
/// where the backend enforces one, its group prefix.
pub fn consumers(
    req: &PlanRequest,
    users: &BTreeMap<String, UserSpec>,
    queues: &BTreeMap<String, QueueSpec>,
    with_group_prefix: bool,
) -> BTreeMap<String, Consumer> {
    users
        .iter()
        .map(|(user, spec)| {
            let consumer = Consumer {
                credentials_secret: credentials_ref(req, user),
                queues: user_queues(spec, queues).into_iter().map(str::to_owned).collect(),
                group_prefix: with_group_prefix.then(|| group_prefix(&req.component.name, user)),
            };
            (user.clone(), consumer)
        })
        .collect()
}
