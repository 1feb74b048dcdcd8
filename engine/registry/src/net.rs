//! What the network sources share: one way to build the blocking HTTP
//! client, and reading a body without ever holding more than a limit.

use std::io::Read as _;
use std::time::Duration;

/// A blocking client with a whole-request timeout. reqwest is built without
/// a crypto provider: this installs `ring`, the one the whole binary uses
/// (installing fails only when one already is, which is fine).
pub(crate) fn client() -> Result<reqwest::blocking::Client, reqwest::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build()
}

/// Why a capped read failed.
pub(crate) enum ReadError {
    TooLarge,
    Io(std::io::Error),
}

/// The body of `resp`, refused as soon as it is known to exceed `limit`
/// bytes: from its Content-Length before reading, or one byte past the limit.
pub(crate) fn read_capped(resp: reqwest::blocking::Response, limit: u64) -> Result<Vec<u8>, ReadError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::new();
    resp.take(limit + 1).read_to_end(&mut body).map_err(ReadError::Io)?;
    if body.len() as u64 > limit {
        return Err(ReadError::TooLarge);
    }
    Ok(body)
}
