//! Secrets for Capstan: age-encrypted `secrets.enc.hcl` files, the identity
//! that opens them, key rotation, and external sources behind `secret_ref`.
//!
//! It implements [`capstan_core::SecretProvider`] ([`Secrets`]) for the config
//! layer and one plain function per `capstan secrets ...` command for the CLI.
//! It does **not** find secrets files in a stack (the config layer does and
//! hands over bytes), parse stack HCL, or decide where values flow; it never
//! reads the process environment itself (callers pass an [`Env`]).
//!
//! # File format: `secrets.enc.hcl`, version 1
//!
//! ```hcl
//! # Capstan secrets file, format 1. Names are clear, values are encrypted.
//! version = 1
//!
//! recipients = [
//!   "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
//! ]
//!
//! data_key = "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSB..."
//!
//! secrets = {
//!   db_password = "chacha20poly1305:<base64 nonce>:<base64 ciphertext+tag>"
//! }
//!
//! mac = "hmac-sha256:<hex>"
//! ```
//!
//! - Each file has one random 32-byte **data key**. `data_key` is base64 of
//!   a binary age file, encrypted to every X25519 recipient in `recipients`,
//!   whose plaintext is that key (`base64 -d | age -d -i keys.txt` shows it).
//! - Each **value** is ChaCha20-Poly1305 under the data key with a random
//!   96-bit nonce and associated data `"capstan-secrets/v1\0" ‖ name`, so a
//!   ciphertext copied to another name does not decrypt.
//! - **mac** is HMAC-SHA256 keyed by `HMAC-SHA256(data key, "capstan-secrets/v1 mac key")`
//!   over length-prefixed: the label `capstan-secrets/v1`, the version, the
//!   sorted recipients, and every (name, encoded value) in name order. It is
//!   checked before any value is decrypted: adding, removing, renaming or
//!   swapping a secret or recipient by hand is reported as a MAC mismatch.
//! - Names are identifiers (`[A-Za-z_][A-Za-z0-9_-]*`, ≤128): they become
//!   `secrets.<name>`. Secrets are sorted, one per line, and unchanged values
//!   keep their ciphertext on rewrite, so a diff shows which secret changed.
//! - `mac` comes last, so a file cut short is reported as truncated.
//! - A different `version` is refused with [`SecretsError::UnsupportedVersion`].
//!
//! # Identity
//!
//! A standard age identity file (`age-keygen` layout, mode 0600) at
//! `CAPSTAN_AGE_KEY_FILE` or `~/.config/capstan/age/keys.txt`
//! ([`identity_path`]). Debian's `age -d -i` reads Capstan's key files and
//! Capstan reads `age-keygen`'s.

mod commands;
mod env;
mod error;
mod format;
mod fsutil;
mod identity;
mod plaintext;
mod provider;
mod remote;
mod secret_file;
mod store;
mod transaction;

pub use commands::{
    CommandEditor, EditSummary, Editor, RotateOptions, RotateReport, edit, identity_recipients, open,
    recipients_add, recipients_remove, rotate_keys, set, show,
};
pub use env::Env;
pub use error::{Result, SecretsError};
pub use format::{FORMAT_VERSION, SECRETS_FILE_NAME};
pub use fsutil::find_secret_files;
pub use identity::{
    DEFAULT_IDENTITY_PATH, IDENTITY_PATH_VAR, Identities, export_keys, identity_path, import_keys, keygen,
    parse_recipient,
};
pub use provider::Secrets;
pub use remote::{DEFAULT_TIMEOUT, Reference, RemoteSources};
pub use secret_file::{SecretFile, recipients_of};
pub use store::{AwsSecretsManagerStore, Store, VaultStore};
pub use transaction::FaultPoint;
