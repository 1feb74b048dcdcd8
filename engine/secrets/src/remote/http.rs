//! The HTTP client for remote sources (capstan-aws's, with its rustls/ring
//! set-up), and turning failures into this crate's errors.

use std::time::Duration;

use crate::error::{Result, SecretsError};

pub(crate) fn client(reference: &str, timeout: Duration) -> Result<reqwest::blocking::Client> {
    capstan_aws::transport::client(timeout)
        .map_err(|what| SecretsError::RefConfig { reference: reference.to_owned(), what })
}

/// The error for a request that got no HTTP response at all.
pub(crate) fn unreachable(reference: &str, endpoint: &str, e: &reqwest::Error) -> SecretsError {
    unreachable_because(reference, endpoint, capstan_aws::transport::no_response_reason(e))
}

pub(crate) fn unreachable_because(reference: &str, endpoint: &str, reason: String) -> SecretsError {
    SecretsError::RefUnreachable { reference: reference.to_owned(), endpoint: endpoint.to_owned(), reason }
}
