//! The one error type of this crate. Every variant names where it happened;
//! none carries the token, the URL as given, or a value of a sensitive
//! configuration.

use std::time::Duration;

use crate::Method;

#[derive(Debug, thiserror::Error)]
/// Why a Vault connection could not be set up or an effect's op failed.
/// `effect` fields hold the effect's id; `op` the op and what it is about
/// (`ensure-mount pki`); `connection` the operator's connection as messages
/// show it, `name (http://host:port)`, or only its name where the address
/// could not be read; `path` the API path below `/v1/`.
pub enum VaultError {
    #[error("Vault connection {connection}: url: {why} (the URL is not shown, as it may hold a secret)")]
    /// The connection's `url` is not a Vault server address.
    InvalidUrl {
        /// The operator's connection name from config, never its URL.
        connection: String,
        /// What is wrong, in words.
        why: String,
    },

    #[error("Vault connection {connection}: {why}")]
    /// The token or the namespace cannot be used.
    InvalidConnection {
        /// The operator's connection name.
        connection: String,
        /// What is wrong, in words (never the token).
        why: String,
    },

    #[error("Vault connection {connection}: {why}")]
    /// The HTTP client could not be built (TLS set-up).
    Client {
        /// `name (http://host:port)`.
        connection: String,
        /// The client's reason.
        why: String,
    },

    #[error("effect {effect}: {op} on {connection}: cannot reach the server: {reason}")]
    /// No HTTP answer at all: refused, unknown host, TLS, a dropped
    /// connection.
    Unreachable {
        /// The id of the effect being run.
        effect: String,
        /// The op and what it is about.
        op: String,
        /// `name (http://host:port)`.
        connection: String,
        /// Why, from the network stack (never the URL or the token).
        reason: String,
    },

    #[error("effect {effect}: {op} on {connection}: no answer within {}s", after.as_secs_f64())]
    /// A request did not finish in time.
    Timeout {
        /// The id of the effect being run.
        effect: String,
        /// The op and what it is about.
        op: String,
        /// `name (http://host:port)`.
        connection: String,
        /// The limit that ran out.
        after: Duration,
    },

    #[error(
        "effect {effect}: {op} on {connection}: {method} {path} denied: {message} \
         (the connection's token lacks a capability on this path, or is not valid)"
    )]
    /// The server answered 403: the token may not do this (or is unknown).
    Denied {
        /// The id of the effect being run.
        effect: String,
        /// The op and what it is about.
        op: String,
        /// `name (http://host:port)`.
        connection: String,
        /// The request's method.
        method: Method,
        /// Below `/v1/`.
        path: String,
        /// The server's message, such as `permission denied`.
        message: String,
    },

    #[error("effect {effect}: {op} on {connection}: {method} {path}: HTTP {status}: {detail}")]
    /// The server answered another error status.
    Http {
        /// The id of the effect being run.
        effect: String,
        /// The op and what it is about.
        op: String,
        /// `name (http://host:port)`.
        connection: String,
        /// The request's method.
        method: Method,
        /// Below `/v1/`.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The server's message (`{"errors": [...]}`), values of a
        /// sensitive configuration replaced.
        detail: String,
    },

    #[error("effect {effect}: {op} on {connection}: {method} {path}: {why}")]
    /// The server answered success with a body this crate cannot read.
    BadAnswer {
        /// The id of the effect being run.
        effect: String,
        /// The op and what it is about.
        op: String,
        /// `name (http://host:port)`.
        connection: String,
        /// The request's method.
        method: Method,
        /// Below `/v1/`.
        path: String,
        /// What was expected, in words.
        why: String,
    },

    #[error("effect {effect}: {op} on {connection}: {why}")]
    /// The server holds something the op must not change (a path mounted
    /// with another engine), or lacks what the op builds on (an issuer
    /// mount without a CA); nothing was written.
    Conflict {
        /// The id of the effect being run.
        effect: String,
        /// The op and what it is about.
        op: String,
        /// `name (http://host:port)`.
        connection: String,
        /// What is there, what was declared, and why it is left alone.
        why: String,
    },

    #[error("effect {effect}: {op}: {why}")]
    /// The op itself is malformed (an empty path, a TTL that is not a
    /// duration, data that is not a JSON object); nothing was sent.
    InvalidOp {
        /// The id of the effect being run.
        effect: String,
        /// The op and what it is about.
        op: String,
        /// What is wrong, in words (never a sensitive value).
        why: String,
    },

    #[error("effect {effect} is of kind {kind}, and this executor runs vault effects")]
    /// The effect handed to this executor is of another `kind`.
    NotVault {
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
