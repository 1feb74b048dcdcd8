//! The one error type of this crate.
//!
//! Every variant names *which* file, identity file or reference failed. None
//! carries a secret value: values only ever travel as
//! [`capstan_core::Sensitive`], and remote error bodies are reduced to the
//! service's error code.

use std::path::PathBuf;

/// Why a secrets file, an identity file or a `secret_ref` could not be read,
/// written or resolved.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// Reading or writing a file failed at the OS level (permissions, disk
    /// full, missing directory).
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved; `<output>` for the command's output stream.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    // --- identities -------------------------------------------------------
    /// There is no identity file at the identity path.
    #[error(
        "no age identity at {path}: run `capstan secrets keygen` or `capstan secrets import-keys`, or point CAPSTAN_AGE_KEY_FILE at your key file"
    )]
    IdentityMissing {
        /// Where the identity file was looked for.
        path: PathBuf,
    },

    /// The identity file holds a line that is not an `AGE-SECRET-KEY-1...`
    /// X25519 identity, or no identity at all.
    #[error("{path}: line {line}: {reason}")]
    IdentityInvalid {
        /// The identity file.
        path: PathBuf,
        /// 1-based line of the bad entry; 0 when the file holds no identity.
        line: usize,
        /// What is wrong; never quotes the line, which may be a key.
        reason: String,
    },

    /// `keygen` found a file at the identity path; it never overwrites one.
    #[error("{path}: an identity file already exists here; refusing to overwrite it")]
    IdentityExists {
        /// The existing identity file.
        path: PathBuf,
    },

    /// Neither `CAPSTAN_AGE_KEY_FILE` nor `HOME` is set, so there is no
    /// identity path.
    #[error("cannot tell where the age identity lives: neither CAPSTAN_AGE_KEY_FILE nor HOME is set")]
    IdentityPathUnknown,

    /// A stack's secrets file needs the identity, and loading it failed.
    #[error("{file}: cannot be opened: {source}")]
    NoIdentityForFile {
        /// The secrets file that was being opened.
        file: PathBuf,
        /// Why the identity could not be loaded.
        #[source]
        source: Box<SecretsError>,
    },

    /// The identity loaded, but none of its keys is among the file's
    /// recipients: ask someone who can open it to `recipients add` yours.
    #[error("{file}: none of the identities in {identity} is a recipient of this file")]
    WrongIdentity {
        /// The secrets file.
        file: PathBuf,
        /// The identity file that was tried.
        identity: PathBuf,
    },

    /// Key backup JSON could not be written, or `import-keys` input is
    /// malformed, of an unknown format, empty, or has a public key that does
    /// not match its secret key.
    #[error("key backup JSON: {reason}")]
    KeysJson {
        /// What is wrong; never quotes a key.
        reason: String,
    },

    // --- encrypted files --------------------------------------------------
    /// The MAC does not match: a name, value or recipient was added, removed
    /// or changed by hand (or with another tool).
    #[error(
        "{file}: MAC mismatch: the file was changed outside Capstan (edit it with `capstan secrets edit`)"
    )]
    MacMismatch {
        /// The secrets file.
        file: PathBuf,
    },

    /// The file does not have the `secrets.enc.hcl` layout, is cut short, or
    /// a part does not decode or decrypt; also a value too large to encrypt.
    #[error("{file}: corrupt or truncated secrets file: {reason}")]
    Corrupt {
        /// The secrets file.
        file: PathBuf,
        /// What is wrong, with a line and column or a secret name; never a value.
        reason: String,
    },

    /// The file declares a `version` this build does not read (written by a
    /// newer Capstan): upgrade Capstan.
    #[error("{file}: secrets file format version {found} is not supported (this Capstan reads {supported})")]
    UnsupportedVersion {
        /// The secrets file.
        file: PathBuf,
        /// The `version` in the file.
        found: u64,
        /// The version this build reads, [`crate::FORMAT_VERSION`].
        supported: u64,
    },

    /// A secret name is not an identifier (`[A-Za-z_][A-Za-z0-9_-]*`, at
    /// most 128 characters), so it cannot become `secrets.<name>`.
    #[error("{file}: invalid secret name {key:?}: {reason}")]
    InvalidKeyName {
        /// The secrets file the name was for.
        file: PathBuf,
        /// The refused name.
        key: String,
        /// Which rule it breaks, e.g. "longer than 128 characters".
        reason: &'static str,
    },

    /// A recipient is not an `age1...` X25519 public key, or a file would be
    /// sealed to no recipient at all.
    #[error("recipient {recipient:?} is not an age X25519 recipient (expected `age1...`)")]
    InvalidRecipient {
        /// The text given as a recipient; empty when the list was empty.
        recipient: String,
    },

    /// `recipients remove` would leave a file with no recipient.
    #[error("{file}: refusing to remove {recipient}: it is the last recipient, nobody could open the file")]
    LastRecipient {
        /// The file that lists only this recipient.
        file: PathBuf,
        /// The `age1...` recipient to be removed.
        recipient: String,
    },

    /// The text saved by `capstan secrets edit` is not `name = "value"`
    /// lines (bad HCL, a block, interpolation, a name given twice).
    #[error("{file}: edited text is not valid: {reason}")]
    EditInvalid {
        /// The secrets file being edited.
        file: PathBuf,
        /// What is wrong, with a line and column or a name; never the text.
        reason: String,
    },

    /// The edited text did not parse and the user chose not to reopen the editor.
    #[error("{file}: edit abandoned; the encrypted file is unchanged")]
    EditAbandoned {
        /// The secrets file being edited.
        file: PathBuf,
    },

    /// The editor command did not start or exited with a failure status.
    #[error("editor command {command:?} failed for {file}: {reason}")]
    Editor {
        /// The shell command run, e.g. `code --wait`.
        command: String,
        /// The temporary clear-text file it was run on.
        file: PathBuf,
        /// The spawn error or the exit status.
        reason: String,
    },

    /// A command that works on a whole stack found no `secrets.enc.hcl` under it.
    #[error("{dir}: no secrets files found")]
    NoSecretFiles {
        /// The stack directory searched.
        dir: PathBuf,
    },

    /// A test asked for a failure with [`crate::FaultPoint`]; never happens
    /// in production.
    #[error("{file}: injected failure (test-only fault point {point})")]
    InjectedFault {
        /// The file being staged or renamed when the fault fired.
        file: PathBuf,
        /// The fault point, in `Debug` form, e.g. `Committing(1)`.
        point: String,
    },

    /// A multi-file rewrite (`recipients add`/`remove`, `rotate-keys`) failed
    /// on one file and every file was put back as it was.
    #[error("{file}: {source}; every file was restored and still opens with the old key")]
    RotationFailed {
        /// The file whose staging or rename failed.
        file: PathBuf,
        /// Why it failed.
        #[source]
        source: Box<SecretsError>,
    },

    /// After a failed multi-file rewrite, writing a renamed file's original
    /// bytes back failed too. Files restored before it are as they were; the
    /// rest are not tried. Restore them from version control.
    #[error(
        "{file}: could not be restored after a failed multi-file rewrite ({source}); restore it from version control"
    )]
    RollbackFailed {
        /// The file left with its new contents.
        file: PathBuf,
        /// Why writing the original bytes back failed.
        #[source]
        source: Box<SecretsError>,
    },

    // --- references -------------------------------------------------------
    /// A `secret_ref` string does not parse (unknown source, empty name,
    /// `vault:` without `<mount>/<path>#<key>`).
    #[error("secret reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as written, e.g. `vault:secret/app#`.
        reference: String,
        /// What is wrong with it and what is expected.
        reason: String,
    },

    /// The source has no such variable, parameter, secret or JSON key.
    #[error("secret reference {reference:?}: not found ({detail})")]
    RefNotFound {
        /// The reference as written.
        reference: String,
        /// What was missing, or the service's error code (`ParameterNotFound`).
        detail: String,
    },

    /// The service refused the credentials or the permission (HTTP 403 or an
    /// AWS auth error code): check the token or IAM policy.
    #[error("secret reference {reference:?}: access denied (HTTP {status}: {detail})")]
    RefDenied {
        /// The reference as written.
        reference: String,
        /// The HTTP status of the answer.
        status: u16,
        /// The service's error code or first error message, never a body.
        detail: String,
    },

    /// No HTTP response came back (DNS, connection, TLS, timeout).
    #[error("secret reference {reference:?}: {endpoint} unreachable: {reason}")]
    RefUnreachable {
        /// The reference as written.
        reference: String,
        /// The server address or endpoint URL tried.
        endpoint: String,
        /// Why there was no response.
        reason: String,
    },

    /// The service answered with an error status that is neither "not found"
    /// nor "denied".
    #[error("secret reference {reference:?}: HTTP {status} from {endpoint}: {detail}")]
    RefHttp {
        /// The reference as written.
        reference: String,
        /// The server address or endpoint URL.
        endpoint: String,
        /// The HTTP status of the answer.
        status: u16,
        /// The service's error code or first error message, never a body.
        detail: String,
    },

    /// The source is not configured (`VAULT_ADDR`, a token, AWS credentials
    /// or region missing), the HTTP client could not be built, or the answer
    /// does not have the expected shape.
    #[error("secret reference {reference:?}: {what}")]
    RefConfig {
        /// The reference as written, or the store's `vault:<mount>` / `secretsmanager:`.
        reference: String,
        /// What is missing or wrong.
        what: String,
    },
}

/// This crate's `Result`, with [`SecretsError`] as the default error.
pub type Result<T, E = SecretsError> = std::result::Result<T, E>;

/// Shorthand for the most common wrapping: an I/O error on a named path.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SecretsError {
    let path = path.into();
    move |source| SecretsError::Io { path, source }
}
