//! Capstan's benchmark kit: a generator of stacks of N components (the
//! shapes are described in [`stack`]), the secrets those stacks read, and a
//! comparison of rendered objects ([`objects`]).
//! `bench/compare.sh` times the `capstan` binary on them against `helm
//! template` of `bench/chart`; the config and host crates' `cargo bench`
//! targets use the same generator.
//!
//! It does not plan or time anything itself and is not part of the engine.

pub mod objects;
pub mod stack;

use std::path::{Path, PathBuf};

use capstan_core::Sensitive;

pub use stack::{Generated, Shape, generate, helm_values};

/// Name of the age identity a generated stack's secrets are encrypted to,
/// written beside `client.hcl`. A throwaway key for benchmarks only.
pub const KEY_FILE: &str = "TEST-ONLY-age-key.txt";

/// What failed while writing a stack.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file of the generated stack could not be written.
    #[error("writing the generated stack under {}: {source}", root.display())]
    Write {
        /// The stack root being written.
        root: PathBuf,
        /// Why writing failed.
        source: std::io::Error,
    },
    /// The test identity could not be made (one already exists at
    /// [`KEY_FILE`], say) or the root secrets file not written.
    #[error("writing the generated stack's secrets file: {source}")]
    Secrets {
        /// What capstan-secrets said.
        source: capstan_secrets::SecretsError,
    },
    /// A rendered file, or a directory of a render output, could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// A rendered file is not YAML.
    #[error("{} is not YAML: {message}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The YAML parser's message.
        message: String,
    },
}

/// Writes a stack (see [`generate`]) and, when it needs one, a fresh test
/// identity at `root/`[`KEY_FILE`] and the root `secrets.enc.hcl` holding
/// [`stack::PASSWORD_SECRET`]. Returns what was written and the identity's
/// path, if any (for `CAPSTAN_AGE_KEY_FILE`).
///
/// # Errors
/// When a file cannot be written or the identity already exists.
pub fn write_stack(
    root: &Path,
    shape: Shape,
    components: usize,
) -> Result<(Generated, Option<PathBuf>), BenchError> {
    let generated = generate(root, shape, components)
        .map_err(|source| BenchError::Write { root: root.to_owned(), source })?;
    if !generated.needs_secrets {
        return Ok((generated, None));
    }
    let key = root.join(KEY_FILE);
    capstan_secrets::keygen(&key).map_err(|source| BenchError::Secrets { source })?;
    capstan_secrets::set(
        &key,
        &root.join(capstan_secrets::SECRETS_FILE_NAME),
        stack::PASSWORD_SECRET,
        Sensitive::new("bench-only-password"),
    )
    .map_err(|source| BenchError::Secrets { source })?;
    Ok((generated, Some(key)))
}
