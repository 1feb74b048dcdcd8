//! What can go wrong writing or reading a SOPS document.
//!
//! No variant carries a value from the document's encrypted part, a data
//! key or an identity: messages name the key path and what failed, never
//! what was there.

/// Errors of [`crate::encrypt`], [`crate::decrypt`] and [`crate::unchanged`].
#[derive(Debug, thiserror::Error)]
pub enum SopsError {
    /// The manifest handed to [`crate::encrypt`] cannot become a SOPS document.
    #[error("the manifest cannot be encrypted: {reason}")]
    InvalidManifest {
        /// What is wrong: not a mapping, or a top-level `sops` key.
        reason: String,
    },

    /// No recipient was given: nobody could ever decrypt the document.
    #[error("a SOPS document needs at least one age recipient")]
    NoRecipients,

    /// The bytes are not a SOPS document this crate can read.
    #[error("not a SOPS document: {reason}")]
    NotSops {
        /// What is missing or malformed, e.g. "there is no `sops` block" or
        /// the YAML parser's message (which quotes positions, not values).
        reason: String,
    },

    /// The document uses a SOPS feature this crate does not read.
    #[error("the SOPS document uses {feature}, which Capstan does not read")]
    Unsupported {
        /// The SOPS setting met, e.g. `key_groups` or `shamir_threshold`.
        feature: String,
    },

    /// None of the identities opens any of the document's age stanzas.
    #[error(
        "none of the {identities} age identities given decrypts this SOPS document (it is encrypted to {recipients})"
    )]
    WrongIdentity {
        /// How many identities were tried.
        identities: usize,
        /// The document's age recipients, comma-separated.
        recipients: String,
    },

    /// An age stanza opened but is damaged or holds no 32-byte data key.
    #[error("the age stanza for {recipient} is damaged: {reason}")]
    BadStanza {
        /// The stanza's age recipient (`age1…`).
        recipient: String,
        /// What is wrong with it, from age or the data key's length.
        reason: String,
    },

    /// A value does not decrypt under the data key at its path: it was
    /// altered, moved to another key, or encrypted with another data key.
    #[error("the value at `{path}` does not decrypt (altered or moved)")]
    ValueTampered {
        /// Dotted key path of the value, e.g. `data.password`.
        path: String,
    },

    /// A value at an encrypted path is not in SOPS's `ENC[...]` form.
    #[error("the value at `{path}` is not a SOPS encrypted value: {reason}")]
    BadValue {
        /// Dotted key path of the value, e.g. `data.password`.
        path: String,
        /// What is wrong with its form: not a string, a bad IV or tag, a
        /// type that does not match the decrypted bytes.
        reason: String,
    },

    /// The MAC over the document's values does not match: some value, in
    /// clear or encrypted, was changed after the document was written.
    #[error("the SOPS document's MAC does not match its values: the document was altered")]
    MacMismatch,

    /// The operating system's random source failed.
    #[error("no randomness for a data key or IV: {0}")]
    Random(String),
}
