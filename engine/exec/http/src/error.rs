//! The one error type of this crate.
//!
//! Every variant names the effect (or the connection) that failed and the
//! AWS service. None carries credentials, a signature or a signed header:
//! AWS messages are scrubbed of the key id, secret key and session token
//! before they are kept, and dropped entirely when the request body was
//! sensitive (an error message may quote the request).

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The `aws` connection block (or the AWS environment) is unusable.
    #[error("{source_name}: {what}")]
    Config { source_name: String, what: String },

    /// The effect's target is not a service this driver calls.
    #[error("effect {effect}: target {target:?}: {reason}")]
    Target { effect: String, target: String, reason: String },

    /// The declared call is not one the driver will make.
    #[error("effect {effect} on aws:{service}: refused: {reason}")]
    Refused { effect: String, service: String, reason: String },

    /// No HTTP response came back.
    #[error("effect {effect} on aws:{service}: {endpoint} unreachable: {reason}")]
    Unreachable { effect: String, service: String, endpoint: String, reason: String },

    /// AWS answered with an error status.
    #[error("effect {effect} on aws:{service}: HTTP {status}: {code}{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Api { effect: String, service: String, status: u16, code: String, message: Option<String> },

    /// AWS answered 2xx with something that is not JSON.
    #[error("effect {effect} on aws:{service}: {reason}")]
    InvalidResponse { effect: String, service: String, reason: String },
}

impl HttpError {
    /// The AWS error code, for an API error.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            HttpError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}
