//! The `spec` of each Dapr Component, from a dependency's outputs contract.
//!
//! Metadata values are strings, as Dapr documents them; credentials are
//! always `secretKeyRef`s into the dependency's Secret.

use capstan_sdk::contracts::{messaging, postgres};
use capstan_sdk::{ComponentId, Dependency, PlanError};
use serde_json::{Value, json};

use crate::inputs::{PubSub, StateStore};

fn value(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": name, "value": value.into() })
}

fn secret(name: &str, secret: &str, key: &str) -> Value {
    json!({ "name": name, "secretKeyRef": { "name": secret, "key": key } })
}

/// Dapr resolves a `secretKeyRef` in the Component's namespace only.
fn secret_is_local(
    c: &ComponentId,
    dep: &Dependency,
    namespace: Option<&str>,
    secret: &str,
) -> Result<(), PlanError> {
    match namespace {
        Some(ns) if ns != c.namespace => Err(PlanError::MissingDependency(format!(
            "dependency `{}` keeps its credentials in Secret `{ns}/{secret}`, but Dapr reads a \
             Component's secrets from its own namespace `{}`; publish the Secret there",
            dep.name, c.namespace
        ))),
        _ => Ok(()),
    }
}

pub fn pubsub(
    c: &ComponentId,
    dep: &Dependency,
    msg: &messaging::Outputs,
    inputs: &PubSub,
) -> Result<Value, PlanError> {
    if let Some(cred) = &msg.credentials_secret {
        secret_is_local(c, dep, cred.namespace.as_deref(), &cred.name)?;
    }
    let group = inputs.consumer_group.as_str();
    let (kind, metadata) = match msg.protocol.as_str() {
        messaging::protocol::KAFKA => {
            let mut m = vec![value("brokers", &msg.endpoint), value("consumerGroup", group)];
            match &msg.credentials_secret {
                Some(cred) => {
                    m.push(value("authType", "password"));
                    m.push(secret("saslUsername", &cred.name, &cred.username_key));
                    m.push(secret("saslPassword", &cred.name, &cred.password_key));
                    m.push(value("saslMechanism", "SHA-512"));
                }
                None => m.push(value("authType", "none")),
            }
            ("pubsub.kafka", m)
        }
        messaging::protocol::AMQP => {
            // Dapr builds `protocol://user:password@hostname`, so the host
            // part keeps the endpoint's port and vhost.
            let (scheme, rest) = msg.endpoint.split_once("://").ok_or_else(|| {
                PlanError::MissingDependency(format!(
                    "dependency `{}` has an amqp endpoint without a scheme: `{}`",
                    dep.name, msg.endpoint
                ))
            })?;
            let mut m = vec![value("protocol", scheme), value("hostname", rest)];
            if let Some(cred) = &msg.credentials_secret {
                m.push(secret("username", &cred.name, &cred.username_key));
                m.push(secret("password", &cred.name, &cred.password_key));
            }
            m.extend([
                value("consumerID", group),
                value("durable", "true"),
                value("deliveryMode", "2"),
                value("enableDeadLetter", "true"),
            ]);
            ("pubsub.rabbitmq", m)
        }
        messaging::protocol::SQS => {
            let region = msg.region.as_deref().ok_or_else(|| {
                PlanError::MissingDependency(format!(
                    "dependency `{}` uses sqs but publishes no `region`, which pubsub.aws.snssqs needs",
                    dep.name
                ))
            })?;
            let mut m = vec![value("region", region), value("consumerID", group)];
            // An AWS endpoint is implied by the region; only an emulator or a
            // private endpoint is worth naming (it then serves SNS too).
            if !endpoint_host(&msg.endpoint).ends_with(".amazonaws.com") {
                m.push(value("endpoint", &msg.endpoint));
            }
            if let Some(cred) = &msg.credentials_secret {
                m.push(secret("accessKey", &cred.name, &cred.username_key));
                m.push(secret("secretKey", &cred.name, &cred.password_key));
            }
            ("pubsub.aws.snssqs", m)
        }
        other => {
            return Err(PlanError::MissingDependency(format!(
                "dependency `{}` speaks `{other}`; Dapr pub/sub here supports kafka, amqp and sqs",
                dep.name
            )));
        }
    };
    Ok(json!({ "type": kind, "version": "v1", "metadata": metadata }))
}

fn endpoint_host(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let host_port = rest.split('/').next().unwrap_or(rest);
    host_port.split(':').next().unwrap_or(host_port)
}

/// `state.postgresql` v2: the non-secret connection parameters in
/// `connectionString`, the password from the database's Secret (v2 lets
/// individual parameters override the string's).
pub fn statestore(
    c: &ComponentId,
    dep: &Dependency,
    pg: &postgres::Outputs,
    inputs: &StateStore,
) -> Result<Value, PlanError> {
    let access = pg.access_for(&c.name);
    let password = &access.password_secret;
    secret_is_local(c, dep, password.namespace.as_deref(), &password.name)?;
    let connection = format!(
        "host={} port={} dbname={} user={} sslmode={} connect_timeout=10",
        pg.host,
        pg.port,
        access.database,
        access.user,
        inputs.sslmode.as_str()
    );
    let mut metadata =
        vec![value("connectionString", connection), secret("password", &password.name, &password.key)];
    if inputs.actor_state_store {
        metadata.push(value("actorStateStore", "true"));
    }
    Ok(json!({ "type": "state.postgresql", "version": "v2", "metadata": metadata }))
}
