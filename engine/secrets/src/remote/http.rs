//! The HTTP client for remote sources, and turning transport failures into
//! [`SecretsError::RefUnreachable`].
//!
//! TLS is rustls with the `ring` provider. reqwest is built without a
//! provider of its own, so the process needs a default one; this installs
//! `ring` if none is set yet. The rest of the binary should use `ring` too
//! (see the toolchain notes on crypto providers).

use std::time::Duration;

use crate::error::{Result, SecretsError};

pub(crate) fn client(reference: &str, timeout: Duration) -> Result<reqwest::blocking::Client> {
    // Fails only if another provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .build()
        .map_err(|e| SecretsError::RefConfig {
            reference: reference.to_owned(),
            what: format!("cannot build an HTTP client: {}", innermost(&e)),
        })
}

/// The error for a request that got no HTTP response at all.
pub(crate) fn unreachable(reference: &str, endpoint: &str, e: &reqwest::Error) -> SecretsError {
    let reason = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        format!("cannot connect ({})", innermost(e))
    } else {
        innermost(e)
    };
    SecretsError::RefUnreachable { reference: reference.to_owned(), endpoint: endpoint.to_owned(), reason }
}

/// The root cause's message, which says *why* (refused, DNS, TLS) without
/// reqwest's URL prefix.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
