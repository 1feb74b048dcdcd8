//! The one error type of this crate. Every variant names where it happened;
//! none carries a password, a connection URL or a sensitive statement.

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error(
        "SQL connection {connection}: the URL cannot be parsed (it is not shown, as it may hold a password)"
    )]
    InvalidUrl { connection: String },

    #[error("SQL connection {connection}: TLS settings: {why}")]
    TlsConfig { connection: String, why: String },

    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },

    #[error("effect {effect}: {op} on {target}: {message}")]
    Op { effect: String, op: String, target: String, message: String },

    #[error("effect {effect}: {op}: {why}")]
    InvalidOp { effect: String, op: String, why: String },

    #[error("effect {effect} is a {kind} effect, not SQL")]
    NotSql { effect: String, kind: &'static str },

    #[error("effect {effect} targets connection {wanted}, but this executor serves {serves}")]
    WrongTarget { effect: String, wanted: String, serves: String },
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
