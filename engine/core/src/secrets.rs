//! The seam between configuration and secret sources.
//!
//! The config layer finds encrypted files and `secret_ref(...)` calls in the
//! tree; it does not know how to decrypt or where remote secrets live. The
//! secrets layer implements this trait; the CLI wires the two together.

use std::collections::BTreeMap;
use std::path::Path;

use crate::Sensitive;

/// An error from a secret source. Its text must name the file or the
/// reference, never a secret value.
pub type SecretSourceError = Box<dyn std::error::Error + Send + Sync>;

/// Opens encrypted secrets files and resolves `secret_ref(...)` references
/// for the config layer. The secrets layer implements it.
pub trait SecretProvider: Send + Sync {
    /// Decrypts one encrypted secrets file into its named values.
    /// `path` is relative to the stack root (for messages); `contents` are its bytes.
    fn open_file(
        &self,
        path: &Path,
        contents: &[u8],
    ) -> Result<BTreeMap<String, Sensitive>, SecretSourceError>;

    /// Resolves one `secret_ref("...")` reference, such as `env:DB_PASSWORD`,
    /// `ssm:/app/homolog/MSG`, `secretsmanager:prod/db#password` or
    /// `vault:secret/app#password` (KV v2: mount, then path).
    fn resolve_ref(&self, reference: &str) -> Result<Sensitive, SecretSourceError>;
}
