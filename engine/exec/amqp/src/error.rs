//! The one error type of this crate. Every variant names where it happened;
//! none carries a password or the connection URL's credentials.

#[derive(Debug, thiserror::Error)]
/// Why an AMQP connection could not be set up or an effect's op failed.
/// `effect` fields hold the effect's id, `op` the op's kind (such as
/// `ensure-user`), `target` the vhost, user or queue it acts on, and
/// `connection` the operator's connection name.
pub enum AmqpError {
    #[error("AMQP connection {connection}: url: {why} (the URL is not shown, as it may hold a password)")]
    /// The connection's `url` does not parse as a management API address.
    InvalidUrl {
        /// The operator's connection name from config, never its URL.
        connection: String,
        /// What is wrong, in words.
        why: String,
    },

    #[error(
        "AMQP connection {connection}: no admin credentials (set `username` and `password`, \
         or put them in the url)"
    )]
    /// Neither the connection nor its URL gives the admin user and password.
    MissingCredentials {
        /// The operator's connection name from config, never its URL.
        connection: String,
    },

    #[error("AMQP connection {connection}: cannot build the HTTP client: {message}")]
    /// The HTTP client (TLS setup) could not be built; `message` says why.
    Client {
        /// The operator's connection name from config, never its URL.
        connection: String,
        /// The HTTP client's or the broker's own message.
        message: String,
    },

    #[error("effect {effect}: {op}: cannot reach {target}: {message}")]
    /// The management API did not answer (connection refused, DNS, timeout).
    Unreachable {
        /// The id of the effect being run.
        effect: String,
        /// The op's kind, such as `ensure-user`.
        op: String,
        /// What the op acts on: a vhost, user, queue or exchange name.
        target: String,
        /// The HTTP client's or the broker's own message.
        message: String,
    },

    #[error(
        "effect {effect}: {op} on {target}: the broker refused the admin user {user} \
         (HTTP {status}: {reason}); check the connection's username and password, and that \
         the user has the `administrator` tag and permissions on the vhost"
    )]
    /// The broker answered 401 or 403 to the admin `user`; `status` and
    /// `reason` are the HTTP status code and reason phrase.
    Unauthorized {
        /// The id of the effect being run.
        effect: String,
        /// The op's kind, such as `ensure-user`.
        op: String,
        /// What the op acts on: a vhost, user, queue or exchange name.
        target: String,
        /// The admin user the connection logs in as (never its password).
        user: String,
        /// The HTTP status code of the refusal (401 or 403).
        status: u16,
        /// The error text of the broker's response body.
        reason: String,
    },

    #[error("effect {effect}: {op} on {target}: {message}")]
    /// The broker refused or failed the op for another reason; `message`
    /// is its answer.
    Op {
        /// The id of the effect being run.
        effect: String,
        /// The op's kind, such as `ensure-user`.
        op: String,
        /// What the op acts on: a vhost, user, queue or exchange name.
        target: String,
        /// The HTTP client's or the broker's own message.
        message: String,
    },

    #[error("effect {effect}: {op} on {target}: {why}")]
    /// What exists on the broker contradicts what the op asks for and this
    /// crate does not change it in place (`why` says what differs).
    Conflict {
        /// The id of the effect being run.
        effect: String,
        /// The op's kind, such as `ensure-user`.
        op: String,
        /// What the op acts on: a vhost, user, queue or exchange name.
        target: String,
        /// What is wrong, in words.
        why: String,
    },

    #[error("effect {effect}: {op}: {why}")]
    /// The op itself is malformed (an empty name, a reserved `amq.` name, an empty password); nothing was sent.
    InvalidOp {
        /// The id of the effect being run.
        effect: String,
        /// The op's kind, such as `ensure-user`.
        op: String,
        /// What is wrong, in words.
        why: String,
    },

    #[error("effect {effect} is a {kind} effect, not AMQP")]
    /// The effect handed to this executor is of another `kind`.
    NotAmqp {
        /// The id of the effect being run.
        effect: String,
        /// The kind the effect actually is, such as `http`.
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
