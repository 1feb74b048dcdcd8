//! `messaging`: a broker (RabbitMQ, Kafka) or a cloud queue service (SQS).
//!
//! The outputs ([`Outputs`], schema `wit/contracts/messaging.v1.json`) and
//! the queues and users every messaging backend accepts ([`queues`],
//! schema `wit/contracts/messaging.queues.v1.json`). Documented for
//! consumers in `docs/contracts/messaging.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Contract, SecretKeyRef};

pub mod queues;

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/messaging.v1.json");
/// The JSON Schema of the shared inputs (`name_prefix`, `queues`, `users`,
/// `credentials_user`).
pub const QUEUES_SCHEMA: &str = include_str!("../../../wit/contracts/messaging.queues.v1.json");

/// Values of [`Outputs::protocol`] the built-in backends write.
pub mod protocol {
    /// AMQP 0-9-1 (RabbitMQ): the endpoint is `amqp://host:port/vhost`.
    pub const AMQP: &str = "amqp";
    /// Kafka: the endpoint is the bootstrap servers, `host:port[,host:port…]`.
    pub const KAFKA: &str = "kafka";
    /// Amazon SQS: the endpoint is the service URL, each queue a queue URL.
    pub const SQS: &str = "sqs";
    /// NATS JetStream: the endpoint is a server URL (`nats://host:port`),
    /// each queue a stream whose name is its one subject, and a consumer's
    /// `group_prefix` the durable consumer made for it on each of its queues.
    pub const NATS: &str = "nats";
}

/// Values of [`Outputs::sasl_mechanism`], as IANA names them.
pub mod sasl {
    /// SCRAM with SHA-512, what Strimzi's `KafkaUser`s use.
    pub const SCRAM_SHA_512: &str = "SCRAM-SHA-512";
    /// SCRAM with SHA-256.
    pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
    /// User name and password sent as they are; safe only over TLS.
    pub const PLAIN: &str = "PLAIN";
}

/// Where a client's user name and password are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsSecret {
    /// Name of the Secret.
    pub name: String,
    /// Key holding the user name, e.g. `username`.
    pub username_key: String,
    /// Key holding the password, e.g. `password`.
    pub password_key: String,
    /// Namespace of the Secret; `None` means the consumer's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Key of the same Secret holding the whole connection URI, this user's
    /// credentials in it, for clients configured with one string (Dapr's
    /// `connectionString`). AMQP: `amqp(s)://user:password@host:port/vhost`
    /// as the RabbitMQ URI spec writes it: user, password and vhost
    /// percent-encoded (a `/` in the vhost as `%2F`). `None`: the backend
    /// writes no URI, and a client assembles one from the endpoint and the
    /// user name and password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_key: Option<String>,
}

/// What one consumer (an app) of the broker uses: its own user, the queues
/// it may use, and the prefix of the names it may create itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    /// The Secret with this consumer's own user name and password.
    pub credentials_secret: CredentialsSecret,
    /// Logical names of the queues it may publish to and consume from.
    pub queues: Vec<String>,
    /// Consumer groups (Kafka) and queues it declares itself (AMQP, as Dapr
    /// declares `<prefix>-<topic>`) must start with this; the broker refuses
    /// any other. Dapr uses it as the consumer group or consumer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_prefix: Option<String>,
}

/// The broker serves TLS only; clients verify it with this CA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The PEM CA certificate that signed the broker's certificate.
    pub ca_secret: SecretKeyRef,
}

/// The credentials and rights one consumer uses: its own when the broker
/// publishes per-consumer access, else the shared ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access<'a> {
    /// The Secret with the user name and password to connect as.
    pub credentials_secret: &'a CredentialsSecret,
    /// Prefix of the consumer groups and queues this consumer may create itself;
    /// `None` for the shared credentials.
    pub group_prefix: Option<&'a str>,
}

/// The outputs of a `messaging` component: the endpoint, the queues and
/// who may use them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    /// How clients talk to it: one of [`protocol`] for the built-in
    /// backends; a third-party backend may name its own.
    pub protocol: String,
    /// `amqp://host:5672/vhost`, `broker:9092,…`, or the SQS endpoint URL.
    pub endpoint: String,
    /// None where credentials come from elsewhere (an IAM role for SQS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<CredentialsSecret>,
    /// Logical queue or topic name → the physical one (a queue URL for SQS).
    #[serde(default)]
    pub queues: BTreeMap<String, String>,
    /// The cloud region, for SQS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Each consumer's own access, keyed by its name (an app's component
    /// name): a broker with per-app users publishes them here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub consumers: BTreeMap<String, Consumer>,
    /// How clients authenticate with the credentials: one of [`sasl`]
    /// (Kafka); absent where the protocol says (AMQP PLAIN, SQS SigV4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl_mechanism: Option<String>,
    /// Present when the endpoint speaks TLS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// AMQP: the topic exchange every queue is bound to by its logical name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// What a client must be allowed to reach (NetworkPolicies); empty:
    /// not said, and a client with a default-deny policy cannot reach it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network: Vec<super::NetworkPeer>,
}

impl Outputs {
    /// The access of consumer `name`: its own entry under `consumers`, else
    /// the shared `credentials_secret`; none when neither exists (credentials
    /// come from elsewhere, or the broker has no user for this consumer).
    pub fn access_for(&self, name: &str) -> Option<Access<'_>> {
        self.own_access(name).or_else(|| {
            self.credentials_secret.as_ref().map(|c| Access { credentials_secret: c, group_prefix: None })
        })
    }

    /// The access of consumer `name` from its own entry under `consumers` only.
    pub fn own_access(&self, name: &str) -> Option<Access<'_>> {
        self.consumers.get(name).map(|c| Access {
            credentials_secret: &c.credentials_secret,
            group_prefix: c.group_prefix.as_deref(),
        })
    }
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "messaging";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
