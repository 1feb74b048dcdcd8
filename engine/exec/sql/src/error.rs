//! The one error type of this crate. Every variant names where it happened;
//! none carries a password, a connection URL or a sensitive statement.

/// What went wrong setting up a connection or carrying out a SQL effect.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The operator's connection URL does not parse as a libpq URL or
    /// key=value string.
    #[error(
        "SQL connection {connection}: the URL cannot be parsed (it is not shown, as it may hold a password)"
    )]
    InvalidUrl {
        /// The connection's name in the operator's config.
        connection: String,
    },

    /// The TLS client cannot be built, e.g. `sslrootcert` is missing or
    /// holds no usable certificate.
    #[error("SQL connection {connection}: TLS settings: {why}")]
    TlsConfig {
        /// The connection's name in the operator's config.
        connection: String,
        /// What is wrong with the TLS settings.
        why: String,
    },

    /// No session could be opened (refused, authentication failed, TLS
    /// handshake failed, connect timeout), or the blocking runtime did not start.
    #[error("cannot connect to {target}: {message}")]
    Connect {
        /// The server, as `name (host:port/db)`.
        target: String,
        /// The server's or client's message.
        message: String,
    },

    /// The server rejected a statement of an op. For a statement carrying
    /// a secret only the SQLSTATE is kept.
    #[error("effect {effect}: {op} on {target}: {message}")]
    Op {
        /// The effect's id.
        effect: String,
        /// The op, e.g. `ensure-role app` or `statement #2`.
        op: String,
        /// The server, as `name (host:port/db)`.
        target: String,
        /// The server's message with its SQLSTATE.
        message: String,
    },

    /// An op cannot be carried out as declared: an empty name, no
    /// privileges listed, a grant on a database or role that does not exist.
    #[error("effect {effect}: {op}: {why}")]
    InvalidOp {
        /// The effect's id.
        effect: String,
        /// The op, e.g. `grant CONNECT on database app to app`.
        op: String,
        /// What is wrong, and where it helps, what to do.
        why: String,
    },

    /// The effect handed to the SQL executor is of another kind.
    #[error("effect {effect} is a {kind} effect, not SQL")]
    NotSql {
        /// The effect's id.
        effect: String,
        /// The effect's kind, e.g. `http`.
        kind: &'static str,
    },

    /// The effect names a connection other than the one this executor
    /// serves.
    #[error("effect {effect} targets connection {wanted}, but this executor serves {serves}")]
    WrongTarget {
        /// The effect's id.
        effect: String,
        /// The connection the effect names.
        wanted: String,
        /// The connection this executor was made for.
        serves: String,
    },
}

/// The server's message for a failed statement, without anything that could
/// echo the statement's text (the caller decides whether that is safe).
pub(crate) fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => {
            // tokio-postgres shows only the kind ("error performing TLS
            // handshake"); the cause says why.
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !text.contains(&cause_text) {
                    text.push_str(": ");
                    text.push_str(&cause_text);
                }
                source = cause.source();
            }
            text
        }
    }
}
