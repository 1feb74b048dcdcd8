//! [`capstan_core::SecretProvider`] for the config layer: encrypted files
//! opened with the operator's identity, references resolved remotely.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use capstan_core::{SecretProvider, SecretSourceError, Sensitive};

use crate::env::Env;
use crate::error::{Result, SecretsError};
use crate::identity::{Identities, identity_path};
use crate::remote::RemoteSources;
use crate::secret_file::SecretFile;

/// The secret provider the CLI hands to the config layer.
///
/// The identity file is read on first use, so a stack without secrets files
/// needs no identity at all.
#[derive(Debug)]
pub struct Secrets {
    identity_path: PathBuf,
    identities: OnceLock<Identities>,
    remote: RemoteSources,
}

impl Secrets {
    /// Identity from `CAPSTAN_AGE_KEY_FILE` / `~/.config/capstan/age/keys.txt`,
    /// remote sources configured from the same `env`.
    pub fn from_env(env: Env) -> Result<Self> {
        Ok(Self::new(identity_path(&env)?, RemoteSources::new(env)))
    }

    /// Opens secrets files with the identity at `identity_path` (read on
    /// first use) and resolves references with `remote`.
    pub fn new(identity_path: PathBuf, remote: RemoteSources) -> Self {
        Self { identity_path, identities: OnceLock::new(), remote }
    }

    fn identities(&self) -> Result<&Identities> {
        if let Some(ids) = self.identities.get() {
            return Ok(ids);
        }
        let loaded = Identities::load(&self.identity_path)?;
        Ok(self.identities.get_or_init(|| loaded))
    }

    /// [`SecretProvider::open_file`] with this crate's typed error.
    pub fn open(&self, path: &Path, contents: &[u8]) -> Result<BTreeMap<String, Sensitive>> {
        let identities = self.identities().map_err(|source| SecretsError::NoIdentityForFile {
            file: path.to_path_buf(),
            source: Box::new(source),
        })?;
        Ok(SecretFile::open(path, contents, identities)?.into_values())
    }

    /// [`SecretProvider::resolve_ref`] with this crate's typed error.
    pub fn resolve(&self, reference: &str) -> Result<Sensitive> {
        self.remote.resolve(reference)
    }
}

impl SecretProvider for Secrets {
    fn open_file(
        &self,
        path: &Path,
        contents: &[u8],
    ) -> Result<BTreeMap<String, Sensitive>, SecretSourceError> {
        Ok(self.open(path, contents)?)
    }

    fn resolve_ref(&self, reference: &str) -> Result<Sensitive, SecretSourceError> {
        Ok(self.resolve(reference)?)
    }
}
