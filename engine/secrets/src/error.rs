//! The one error type of this crate.
//!
//! Every variant names *which* file, identity file or reference failed. None
//! carries a secret value: values only ever travel as
//! [`capstan_core::Sensitive`], and remote error bodies are reduced to the
//! service's error code.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    // --- identities -------------------------------------------------------
    #[error(
        "no age identity at {path}: run `capstan secrets keygen` or `capstan secrets import-keys`, or point CAPSTAN_AGE_KEY_FILE at your key file"
    )]
    IdentityMissing { path: PathBuf },

    #[error("{path}: line {line}: {reason}")]
    IdentityInvalid { path: PathBuf, line: usize, reason: String },

    #[error("{path}: an identity file already exists here; refusing to overwrite it")]
    IdentityExists { path: PathBuf },

    #[error("cannot tell where the age identity lives: neither CAPSTAN_AGE_KEY_FILE nor HOME is set")]
    IdentityPathUnknown,

    #[error("{file}: cannot be opened: {source}")]
    NoIdentityForFile {
        file: PathBuf,
        #[source]
        source: Box<SecretsError>,
    },

    #[error("{file}: none of the identities in {identity} is a recipient of this file")]
    WrongIdentity { file: PathBuf, identity: PathBuf },

    #[error("key backup JSON: {reason}")]
    KeysJson { reason: String },

    // --- encrypted files --------------------------------------------------
    #[error(
        "{file}: MAC mismatch: the file was changed outside Capstan (edit it with `capstan secrets edit`)"
    )]
    MacMismatch { file: PathBuf },

    #[error("{file}: corrupt or truncated secrets file: {reason}")]
    Corrupt { file: PathBuf, reason: String },

    #[error("{file}: secrets file format version {found} is not supported (this Capstan reads {supported})")]
    UnsupportedVersion { file: PathBuf, found: u64, supported: u64 },

    #[error("{file}: invalid secret name {key:?}: {reason}")]
    InvalidKeyName { file: PathBuf, key: String, reason: &'static str },

    #[error("recipient {recipient:?} is not an age X25519 recipient (expected `age1...`)")]
    InvalidRecipient { recipient: String },

    #[error("{file}: refusing to remove {recipient}: it is the last recipient, nobody could open the file")]
    LastRecipient { file: PathBuf, recipient: String },

    #[error("{file}: edited text is not valid: {reason}")]
    EditInvalid { file: PathBuf, reason: String },

    #[error("{file}: edit abandoned; the encrypted file is unchanged")]
    EditAbandoned { file: PathBuf },

    #[error("editor command {command:?} failed for {file}: {reason}")]
    Editor { command: String, file: PathBuf, reason: String },

    #[error("{dir}: no secrets files found")]
    NoSecretFiles { dir: PathBuf },

    #[error("{file}: injected failure (test-only fault point {point})")]
    InjectedFault { file: PathBuf, point: String },

    #[error("{file}: {source}; every file was restored and still opens with the old key")]
    RotationFailed {
        file: PathBuf,
        #[source]
        source: Box<SecretsError>,
    },

    #[error(
        "{file}: could not be restored after a failed multi-file rewrite ({source}); restore it from version control"
    )]
    RollbackFailed {
        file: PathBuf,
        #[source]
        source: Box<SecretsError>,
    },

    // --- references -------------------------------------------------------
    #[error("secret reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },

    #[error("secret reference {reference:?}: not found ({detail})")]
    RefNotFound { reference: String, detail: String },

    #[error("secret reference {reference:?}: access denied (HTTP {status}: {detail})")]
    RefDenied { reference: String, status: u16, detail: String },

    #[error("secret reference {reference:?}: {endpoint} unreachable: {reason}")]
    RefUnreachable { reference: String, endpoint: String, reason: String },

    #[error("secret reference {reference:?}: HTTP {status} from {endpoint}: {detail}")]
    RefHttp { reference: String, endpoint: String, status: u16, detail: String },

    #[error("secret reference {reference:?}: {what}")]
    RefConfig { reference: String, what: String },
}

pub type Result<T, E = SecretsError> = std::result::Result<T, E>;

/// Shorthand for the most common wrapping: an I/O error on a named path.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SecretsError {
    let path = path.into();
    move |source| SecretsError::Io { path, source }
}
