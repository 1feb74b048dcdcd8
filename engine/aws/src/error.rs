//! Why the standard credentials chain found no credentials.
//!
//! The variants name the token file, the role ARN, the STS endpoint and
//! STS's own error code and message. None carries the web-identity token or
//! the temporary secret key and session token STS returns: the token only
//! travels as a [`capstan_core::Sensitive`], and STS's message is scrubbed of
//! it before it is kept (see `sts.rs`).

use std::path::PathBuf;

/// Why [`crate::settings::credentials`] could not produce credentials.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// None of the chain's sources is configured.
    #[error(
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or AWS_PROFILE (tried profile `{profile}`)"
    )]
    Missing {
        /// The profile that was looked for (`AWS_PROFILE`, else `default`).
        profile: String,
    },

    /// `AWS_WEB_IDENTITY_TOKEN_FILE` cannot be read.
    #[error("AWS web identity: cannot read the token file {path} (AWS_WEB_IDENTITY_TOKEN_FILE): {source}")]
    TokenFile {
        /// The file `AWS_WEB_IDENTITY_TOKEN_FILE` names.
        path: PathBuf,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },

    /// The token file holds nothing but whitespace (the platform has not
    /// written the token yet, or wrote it elsewhere).
    #[error("AWS web identity: the token file {path} (AWS_WEB_IDENTITY_TOKEN_FILE) is empty")]
    EmptyToken {
        /// The file `AWS_WEB_IDENTITY_TOKEN_FILE` names.
        path: PathBuf,
    },

    /// The STS request got no HTTP response.
    #[error("AWS web identity for role {role_arn}: STS at {endpoint} unreachable: {reason}")]
    StsUnreachable {
        /// The role asked for (`AWS_ROLE_ARN`).
        role_arn: String,
        /// Where the request went.
        endpoint: String,
        /// Why, in words (refused, DNS, TLS, timeout).
        reason: String,
    },

    /// STS answered with an error: the token was refused, the role does not
    /// trust its issuer, the session name is invalid, …
    #[error(
        "AWS web identity for role {role_arn}: STS at {endpoint} refused the exchange: HTTP {status}: {code}{}",
        .message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
    )]
    StsRefused {
        /// The role asked for (`AWS_ROLE_ARN`).
        role_arn: String,
        /// Where the request went.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// STS's error code (`InvalidIdentityToken`, `AccessDenied`, …).
        code: String,
        /// STS's message, first line, scrubbed of the token.
        message: Option<String>,
    },

    /// STS answered success without usable credentials.
    #[error("AWS web identity for role {role_arn}: STS at {endpoint} answered HTTP {status} but {reason}")]
    StsInvalidResponse {
        /// The role asked for (`AWS_ROLE_ARN`).
        role_arn: String,
        /// Where the request went.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// What is missing, naming elements, never their values.
        reason: String,
    },
}
