//! The `spec` of each Dapr Component, from a dependency's outputs contract.
//!
//! Metadata values are strings, as Dapr documents them; credentials are
//! always `secretKeyRef`s into the dependency's Secret.

use capstan_sdk::contracts::postgres::SslMode;
use capstan_sdk::contracts::{messaging, postgres};
use capstan_sdk::{ComponentId, Dependency, Diagnostic, PlanError};
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

/// The Dapr `saslMechanism` value for a contract's SASL mechanism.
fn dapr_sasl(dep: &Dependency, mechanism: &str) -> Result<&'static str, PlanError> {
    match mechanism {
        messaging::sasl::SCRAM_SHA_512 => Ok("SHA-512"),
        messaging::sasl::SCRAM_SHA_256 => Ok("SHA-256"),
        messaging::sasl::PLAIN => Ok("PLAINTEXT"),
        other => Err(PlanError::MissingDependency(format!(
            "dependency `{}` asks for SASL mechanism `{other}`; Dapr's Kafka pub/sub speaks {}, {} and {}",
            dep.name,
            messaging::sasl::SCRAM_SHA_512,
            messaging::sasl::SCRAM_SHA_256,
            messaging::sasl::PLAIN
        ))),
    }
}

/// The spec of a pub/sub Component on `msg`, connecting with `access`
/// (one app's own user, or the shared one). Where the broker enforces a
/// group prefix, it is the consumer group; else `inputs.consumer_group`.
pub fn pubsub(
    c: &ComponentId,
    dep: &Dependency,
    msg: &messaging::Outputs,
    access: Option<&messaging::Access<'_>>,
    inputs: &PubSub,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Value, PlanError> {
    // pubsub.jetstream reads no credentials (see its arm below), so where
    // NATS keeps them does not matter.
    if let Some(a) = access
        && msg.protocol != messaging::protocol::NATS
    {
        let cred = a.credentials_secret;
        secret_is_local(c, dep, cred.namespace.as_deref(), &cred.name)?;
    }
    if let Some(tls) = &msg.tls {
        secret_is_local(c, dep, tls.ca_secret.namespace.as_deref(), &tls.ca_secret.name)?;
    }
    let group = access.and_then(|a| a.group_prefix).unwrap_or(inputs.consumer_group.as_str());
    let ca = |m: &mut Vec<Value>| {
        if let Some(tls) = &msg.tls {
            m.push(secret("caCert", &tls.ca_secret.name, &tls.ca_secret.key));
        }
    };
    let (kind, metadata) = match msg.protocol.as_str() {
        messaging::protocol::KAFKA => {
            let mut m = vec![value("brokers", &msg.endpoint), value("consumerGroup", group)];
            match access {
                Some(a) => {
                    let cred = a.credentials_secret;
                    m.push(value("authType", "password"));
                    m.push(secret("saslUsername", &cred.name, &cred.username_key));
                    m.push(secret("saslPassword", &cred.name, &cred.password_key));
                    if let Some(mechanism) = &msg.sasl_mechanism {
                        m.push(value("saslMechanism", dapr_sasl(dep, mechanism)?));
                    }
                }
                None => m.push(value("authType", "none")),
            }
            // Dapr's Kafka client speaks TLS unless told otherwise.
            match &msg.tls {
                Some(_) => ca(&mut m),
                None => m.push(value("disableTls", "true")),
            }
            ("pubsub.kafka", m)
        }
        messaging::protocol::AMQP => {
            let mut m = rabbitmq_connection(dep, msg, access)?;
            ca(&mut m);
            // Dapr declares an exchange per topic and a queue `<consumerID>-<topic>`
            // (with `dlx-`/`dlq-` for dead letters): what the broker's grants allow.
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
            if let Some(a) = access {
                let cred = a.credentials_secret;
                m.push(secret("accessKey", &cred.name, &cred.username_key));
                m.push(secret("secretKey", &cred.name, &cred.password_key));
            }
            ("pubsub.aws.snssqs", m)
        }
        messaging::protocol::NATS => {
            // Dapr's jetstream client trusts only the system's roots (its
            // TLS options are a client certificate's files on the sidecar):
            // a CA in a Secret cannot reach it, so it could not verify the server.
            if let Some(tls) = &msg.tls {
                return Err(PlanError::MissingDependency(format!(
                    "dependency `{}` asks clients to verify its server with the CA in Secret `{}`, which \
                     Dapr's pubsub.jetstream cannot take",
                    dep.name, tls.ca_secret.name
                )));
            }
            // Credentials: pubsub.jetstream authenticates with a JWT and
            // seed, a token or a client certificate, never a user name and
            // password. The contract gives a Secret's user and password
            // keys, so they cannot become secretKeyRefs here, and writing
            // them into `natsURL` would copy the password into this
            // Component. It connects without them, which works where the
            // NATS server accepts that (no authorization, or a `no_auth_user`)
            // and otherwise fails loudly when the sidecar starts; the plan
            // says so. Refusing instead would rule out the servers where it
            // works, for no safer outcome.
            if let Some(a) = access {
                warnings.push(Diagnostic::warning(
                    "/pubsub",
                    format!(
                        "Dapr's pubsub.jetstream takes no user name or password, so it connects to \
                         dependency `{}` without the credentials in Secret `{}`: the NATS server must \
                         accept clients without them",
                        dep.name, a.credentials_secret.name
                    ),
                ));
            }
            // Dapr subscribes by creating a durable push consumer named
            // `durableName`, delivering to the queue group `queueGroupName`,
            // on the stream that holds the topic's subject (components-contrib
            // pubsub/jetstream: `AddConsumer` then `QueueSubscribe` bound to
            // it). The group prefix is the name of the pull consumer the
            // messaging backend already made for this app on each stream:
            // used as the durable name, Dapr would try to turn that pull
            // consumer into a push one, which the server refuses. So the
            // durable name is `dapr_<group>`: `_` is in no user name (they
            // are DNS labels), so it names no consumer the backend made, and
            // it is still one per app. The group itself is only a delivery
            // group, shared by the app's replicas, and collides with nothing.
            if !is_nats_name(group) {
                return Err(match access.and_then(|a| a.group_prefix) {
                    Some(prefix) => PlanError::MissingDependency(format!(
                        "dependency `{}` gives the group prefix `{prefix}`, which is no NATS consumer name \
                         (no `.`, `*`, `>`, `/`, `\\` or spaces)",
                        dep.name
                    )),
                    None => PlanError::InvalidInputs(vec![Diagnostic::error(
                        "/pubsub/consumer_group",
                        "NATS names the queue group and durable consumer after it: no `.`, `*`, `>`, \
                         `/`, `\\` or spaces",
                    )]),
                });
            }
            let m = vec![
                value("natsURL", &msg.endpoint),
                value("durableName", format!("dapr_{group}")),
                value("queueGroupName", group),
            ];
            ("pubsub.jetstream", m)
        }
        other => {
            return Err(PlanError::MissingDependency(format!(
                "dependency `{}` speaks `{other}`; Dapr pub/sub here supports kafka, amqp, sqs and nats",
                dep.name
            )));
        }
    };
    Ok(json!({ "type": kind, "version": "v1", "metadata": metadata }))
}

/// How `pubsub.rabbitmq` connects: a whole URI (`connectionString`), or
/// `protocol`, `hostname`, `username` and `password`, from which Dapr builds
/// the URI with Go's `url.URL{Scheme, Host, User}`. That escapes every `/`
/// in the host part (`%2F`), the one before the vhost included, so built
/// that way the URI reaches the default vhost only. Hence the URI from the
/// dependency's Secret where its credentials name one (`uri_key`), the parts
/// for the default vhost, and a refusal otherwise.
fn rabbitmq_connection(
    dep: &Dependency,
    msg: &messaging::Outputs,
    access: Option<&messaging::Access<'_>>,
) -> Result<Vec<Value>, PlanError> {
    let cred = access.map(|a| a.credentials_secret);
    if let Some(cred) = cred
        && let Some(key) = &cred.uri_key
    {
        return Ok(vec![secret("connectionString", &cred.name, key)]);
    }
    let (scheme, rest) = msg.endpoint.split_once("://").ok_or_else(|| {
        PlanError::MissingDependency(format!(
            "dependency `{}` has an amqp endpoint without a scheme: `{}`",
            dep.name, msg.endpoint
        ))
    })?;
    let (authority, vhost) = match rest.split_once('/') {
        Some((authority, vhost)) => (authority, Some(vhost)),
        None => (rest, None),
    };
    if let Some(vhost) = vhost.filter(|v| !is_default_vhost(v)) {
        return Err(PlanError::MissingDependency(format!(
            "dependency `{}` serves the vhost {vhost:?} but names no Secret key holding its connection URI \
             (`uri_key` in its credentials): Dapr's pubsub.rabbitmq would build the URI from `hostname` \
             itself and percent-encode the `/` before the vhost, so it could reach the default vhost `/` only; \
             the backend must write the URI into the Secret and name its key",
            dep.name
        )));
    }
    let mut m = vec![value("protocol", scheme), value("hostname", authority)];
    if let Some(cred) = cred {
        m.push(secret("username", &cred.name, &cred.username_key));
        m.push(secret("password", &cred.name, &cred.password_key));
    }
    Ok(m)
}

/// Whether an AMQP endpoint's vhost segment is the default vhost `/`, which
/// the RabbitMQ URI spec writes `%2F`: an empty segment is the vhost named
/// "". (An endpoint without the segment leaves the vhost to the client,
/// and Dapr's client takes `/`.)
fn is_default_vhost(segment: &str) -> bool {
    segment.eq_ignore_ascii_case("%2F")
}

/// A name NATS takes for a consumer and a queue group (`{appID}` and the
/// like included, as Dapr replaces them with a DNS label).
fn is_nats_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(|c: char| matches!(c, '.' | '*' | '>' | '/' | '\\') || c.is_whitespace())
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
    warnings: &mut Vec<Diagnostic>,
) -> Result<Value, PlanError> {
    let access = pg.access_for(&c.name);
    let password = &access.password_secret;
    secret_is_local(c, dep, password.namespace.as_deref(), &password.name)?;
    let sslmode = match (inputs.sslmode, pg.sslmode) {
        (Some(mode), _) => mode,
        // Dapr's sidecar has no file to read a CA from: the connection is
        // still encrypted, but the server is not verified. Said in the plan.
        (None, Some(mode)) if mode.verifies() => {
            warnings.push(Diagnostic::warning(
                "/statestore",
                format!(
                    "dependency `{}` asks clients to verify its certificate, which a Dapr sidecar cannot \
                     (no CA file): the state store connects with sslmode=require (set \
                     `statestore.sslmode` to choose)",
                    dep.name
                ),
            ));
            SslMode::Require
        }
        (None, Some(mode)) => mode,
        (None, None) => SslMode::Prefer,
    };
    let sslmode = sslmode.as_str();
    let connection = format!(
        "host={} port={} dbname={} user={} sslmode={sslmode} connect_timeout=10",
        pg.host, pg.port, access.database, access.user
    );
    let mut metadata =
        vec![value("connectionString", connection), secret("password", &password.name, &password.key)];
    if inputs.actor_state_store {
        metadata.push(value("actorStateStore", "true"));
    }
    Ok(json!({ "type": "state.postgresql", "version": "v2", "metadata": metadata }))
}
