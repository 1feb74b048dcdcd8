//! The one error type of this crate.
//!
//! Every variant names the effect (or the connection) that failed and the
//! AWS service. None carries credentials, a signature or a signed header:
//! AWS messages are scrubbed of the key id, secret key and session token
//! before they are kept, and dropped entirely when the request body was
//! sensitive (an error message may quote the request).

/// Why an AWS effect could not be made or AWS refused it.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The `aws` connection block (or the AWS environment) is unusable.
    #[error("{source_name}: {what}")]
    Config {
        /// Which configuration was read: the connection label or the AWS environment.
        source_name: String,
        /// What is wrong with it.
        what: String,
    },

    /// The effect's target is not a service this driver calls.
    #[error("effect {effect}: target {target:?}: {reason}")]
    Target {
        /// The id of the effect being run.
        effect: String,
        /// The effect's target as declared.
        target: String,
        /// Why, in words (scrubbed of credentials).
        reason: String,
    },

    /// The declared call is not one the driver will make.
    #[error("effect {effect} on aws:{service}: refused: {reason}")]
    Refused {
        /// The id of the effect being run.
        effect: String,
        /// The AWS service name, such as `sqs`.
        service: String,
        /// Why, in words (scrubbed of credentials).
        reason: String,
    },

    /// No HTTP response came back.
    #[error("effect {effect} on aws:{service}: {endpoint} unreachable: {reason}")]
    Unreachable {
        /// The id of the effect being run.
        effect: String,
        /// The AWS service name, such as `sqs`.
        service: String,
        /// The URL the request was sent to.
        endpoint: String,
        /// Why, in words (scrubbed of credentials).
        reason: String,
    },

    /// AWS answered with an error status.
    #[error("effect {effect} on aws:{service}: HTTP {status}: {code}{}", .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Api {
        /// The id of the effect being run.
        effect: String,
        /// The AWS service name, such as `sqs`.
        service: String,
        /// The HTTP status code AWS answered with.
        status: u16,
        /// AWS's error code, such as `AccessDenied`.
        code: String,
        /// AWS's message; `None` when the request body was sensitive.
        message: Option<String>,
    },

    /// An existing resource was being brought to the effect's body, and every
    /// write was refused because someone else had written it since it was
    /// read (WAFv2's `WAFOptimisticLockException`).
    #[error(
        "effect {effect} on aws:{service}: {resource} kept changing while it was being updated \
         (WAFOptimisticLockException {attempts} times): something else is writing it; apply again once it is done"
    )]
    Contended {
        /// The id of the effect being run.
        effect: String,
        /// The AWS service name, such as `wafv2`.
        service: String,
        /// What was being updated, such as `WebACL edge`.
        resource: String,
        /// How many read-then-write attempts were made.
        attempts: usize,
    },

    /// AWS answered 2xx with something that is not JSON, or without what the
    /// engine needs from the answer.
    #[error("effect {effect} on aws:{service}: {reason}")]
    InvalidResponse {
        /// The id of the effect being run.
        effect: String,
        /// The AWS service name, such as `sqs`.
        service: String,
        /// Why, in words (scrubbed of credentials).
        reason: String,
    },
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
