//! `messaging`: a broker (RabbitMQ, Kafka) or a cloud queue service (SQS).
//!
//! The outputs ([`Outputs`], schema `wit/contracts/messaging.v1.json`) and
//! the queues and users every messaging backend accepts ([`queues`],
//! schema `wit/contracts/messaging.queues.v1.json`). Documented for
//! consumers in `docs/contracts/messaging.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Contract;

pub mod queues;

/// The JSON Schema of the outputs.
pub const SCHEMA: &str = include_str!("../../../wit/contracts/messaging.v1.json");
/// The JSON Schema of the shared inputs (`name_prefix`, `queues`, `users`,
/// `credentials_user`).
pub const QUEUES_SCHEMA: &str = include_str!("../../../wit/contracts/messaging.queues.v1.json");

/// Values of [`Outputs::protocol`] the built-in backends write.
pub mod protocol {
    pub const AMQP: &str = "amqp";
    pub const KAFKA: &str = "kafka";
    pub const SQS: &str = "sqs";
}

/// Where a client's user name and password are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsSecret {
    pub name: String,
    pub username_key: String,
    pub password_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

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
}

impl Contract for Outputs {
    const COMPONENT_TYPE: &'static str = "messaging";
    const VERSION: u32 = 1;
    const SCHEMA: &'static str = SCHEMA;
}
