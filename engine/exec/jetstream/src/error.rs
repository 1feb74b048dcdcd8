//! The one error type of this crate. Every variant names where it happened;
//! none carries a password, a token or the connection URL's credentials.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
/// Why a NATS connection could not be set up or an effect's op failed.
/// `effect` fields hold the effect's id; `connection` is the operator's
/// connection as messages show it, `name (nats://host:port)` (its URL without
/// credentials), or only its name where the URL could not be read.
pub enum JetStreamError {
    #[error("NATS connection {connection}: url: {why} (the URL is not shown, as it may hold a password)")]
    /// The connection's `url` is not a NATS server address.
    InvalidUrl {
        /// The operator's connection name from config, never its URL.
        connection: String,
        /// What is wrong, in words.
        why: String,
    },

    #[error("NATS connection {connection}: credentials: {why}")]
    /// The username, password and token settings do not make one way to log in.
    InvalidCredentials {
        /// The operator's connection name from config, never its URL.
        connection: String,
        /// What is wrong, in words (never a credential).
        why: String,
    },

    #[error("effect {effect}: cannot connect to {connection}: {message}")]
    /// The server did not accept a connection: refused, unknown host, TLS,
    /// or the credentials were refused.
    Connection {
        /// The id of the effect being run.
        effect: String,
        /// `name (nats://host:port)`.
        connection: String,
        /// The client's or the server's own message.
        message: String,
    },

    #[error("effect {effect}: ensure-stream {stream} on {connection}: {why}")]
    /// A stream could not be read, created or updated; `why` says which and
    /// gives the server's answer.
    Stream {
        /// The id of the effect being run.
        effect: String,
        /// The stream's name.
        stream: String,
        /// `name (nats://host:port)`.
        connection: String,
        /// What went wrong, with the server's reason.
        why: String,
    },

    #[error("effect {effect}: ensure-consumer {stream}/{consumer} on {connection}: {why}")]
    /// A durable consumer could not be read, created or updated.
    Consumer {
        /// The id of the effect being run.
        effect: String,
        /// The stream it reads.
        stream: String,
        /// The consumer's durable name.
        consumer: String,
        /// `name (nats://host:port)`.
        connection: String,
        /// What went wrong, with the server's reason.
        why: String,
    },

    #[error("effect {effect}: {op}: {why}")]
    /// The op itself is malformed (an empty name, a zero ack wait); nothing was sent.
    InvalidOp {
        /// The id of the effect being run.
        effect: String,
        /// The op and what it is about, such as `ensure-stream ORDERS`.
        op: String,
        /// What is wrong, in words.
        why: String,
    },

    #[error("effect {effect}: {op} on {connection}: no answer within {}s", after.as_secs_f64())]
    /// The server did not finish an op (or the connection) in time.
    Timeout {
        /// The id of the effect being run.
        effect: String,
        /// The op and what it is about, such as `ensure-stream ORDERS`, or `connect`.
        op: String,
        /// `name (nats://host:port)`.
        connection: String,
        /// The limit that ran out.
        after: Duration,
    },

    #[error("effect {effect} is of kind {kind}, and this executor runs jetstream effects")]
    /// The effect handed to this executor is of another `kind`.
    NotJetStream {
        /// The id of the effect being run.
        effect: String,
        /// The kind the effect actually is, such as `amqp`.
        kind: &'static str,
    },

    #[error("effect {effect} targets connection {wanted}, but this executor serves {serves}")]
    /// The effect names connection `wanted`, but this executor serves `serves`.
    WrongTarget {
        /// The id of the effect being run.
        effect: String,
        /// The connection name the effect targets.
        wanted: String,
        /// The connection name this executor was built for.
        serves: String,
    },
}
