//! The one error type of this crate. Every variant names where it happened;
//! none carries a password or the connection URL's credentials.

#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    #[error("AMQP connection {connection}: url: {why} (the URL is not shown, as it may hold a password)")]
    InvalidUrl { connection: String, why: String },

    #[error(
        "AMQP connection {connection}: no admin credentials (set `username` and `password`, \
         or put them in the url)"
    )]
    MissingCredentials { connection: String },

    #[error("AMQP connection {connection}: cannot build the HTTP client: {message}")]
    Client { connection: String, message: String },

    #[error("effect {effect}: {op}: cannot reach {target}: {message}")]
    Unreachable { effect: String, op: String, target: String, message: String },

    #[error(
        "effect {effect}: {op} on {target}: the broker refused the admin user {user} \
         (HTTP {status}: {reason}); check the connection's username and password, and that \
         the user has the `administrator` tag and permissions on the vhost"
    )]
    Unauthorized { effect: String, op: String, target: String, user: String, status: u16, reason: String },

    #[error("effect {effect}: {op} on {target}: {message}")]
    Op { effect: String, op: String, target: String, message: String },

    #[error("effect {effect}: {op} on {target}: {why}")]
    Conflict { effect: String, op: String, target: String, why: String },

    #[error("effect {effect}: {op}: {why}")]
    InvalidOp { effect: String, op: String, why: String },

    #[error("effect {effect} is a {kind} effect, not AMQP")]
    NotAmqp { effect: String, kind: &'static str },

    #[error("effect {effect} targets connection {wanted}, but this executor serves {serves}")]
    WrongTarget { effect: String, wanted: String, serves: String },
}
