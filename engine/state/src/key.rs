//! The per-stack key that turns sensitive values into comparable hashes.
//!
//! State must notice that a password changed without storing the password. A
//! plain SHA-256 of a short password can be brute-forced from a leaked state
//! file, so sensitive values are hashed with HMAC-SHA256 under a random 32-byte
//! key kept beside the state (a 0600 file for the local backend, a row for the
//! PostgreSQL one). Whoever has the state but not the key learns nothing.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::StateError;

const KEY_LEN: usize = 32;

/// A secret HMAC key; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct StateKey([u8; KEY_LEN]);

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateKey(..)")
    }
}

impl StateKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, StateError> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(StateError::Random)?;
        Ok(Self(bytes))
    }

    /// A key with these bytes: one derived from another secret, or a test
    /// fixture (a state's own key comes from [`Self::generate`]).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Hex form, for storage only.
    pub(crate) fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub(crate) fn from_hex(text: &str, location: &str) -> Result<Self, StateError> {
        let invalid = |why| StateError::InvalidKey { location: location.to_string(), why };
        let bytes = hex::decode(text.trim()).map_err(|_| invalid("not hex"))?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| invalid("not 32 bytes"))?;
        Ok(Self(bytes))
    }

    /// `hmac-sha256:<hex>` of `value`. The same value under the same key always
    /// gives the same text, so a change is visible; the value itself is not.
    pub fn hash(&self, value: &[u8]) -> String {
        // new_from_slice accepts every key length for HMAC; the fallback keeps
        // library code free of unwrap.
        match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mut mac) => {
                mac.update(value);
                format!("hmac-sha256:{}", hex::encode(mac.finalize().into_bytes()))
            }
            Err(_) => "hmac-sha256:unavailable".to_string(),
        }
    }

    /// A key of its own for `purpose` (HMAC of the purpose under this
    /// key): one secret serves several uses, none of which can stand in
    /// for another or for this key.
    pub fn derive(&self, purpose: &str) -> [u8; KEY_LEN] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(b"capstan derived key\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Reads the key at `path`, or creates it (mode 0600, exclusive create, so
    /// two first runs cannot end up with different keys).
    pub fn load_or_create(path: &Path) -> Result<Self, StateError> {
        let location = path.display().to_string();
        loop {
            match std::fs::File::open(path) {
                Ok(mut file) => {
                    let mut text = String::new();
                    file.read_to_string(&mut text).map_err(|e| StateError::io(path, e))?;
                    if text.trim().is_empty() {
                        // A creator that crashed between create and write: start over.
                        std::fs::remove_file(path).map_err(|e| StateError::io(path, e))?;
                        continue;
                    }
                    return Self::from_hex(&text, &location);
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(StateError::io(path, e)),
            }
            let key = Self::generate()?;
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(path) {
                Ok(mut file) => {
                    file.write_all(key.to_hex().as_bytes())
                        .and_then(|()| file.sync_all())
                        .map_err(|e| StateError::io(path, e))?;
                    return Ok(key);
                }
                // Someone else created it first: read theirs.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StateError::io(path, e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn keyed_hash_depends_on_key_and_value() {
        let a = StateKey::from_bytes([1; 32]);
        let b = StateKey::from_bytes([2; 32]);
        assert_eq!(a.hash(b"pw"), a.hash(b"pw"));
        assert_ne!(a.hash(b"pw"), a.hash(b"pw2"));
        assert_ne!(a.hash(b"pw"), b.hash(b"pw"));
        assert!(a.hash(b"pw").starts_with("hmac-sha256:"));
        assert_eq!(format!("{a:?}"), "StateKey(..)");
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_by_key() {
        let a = StateKey::from_bytes([1; 32]);
        assert_eq!(a.derive("plan cache"), a.derive("plan cache"));
        assert_ne!(a.derive("plan cache"), a.derive("other"));
        assert_ne!(a.derive("plan cache"), StateKey::from_bytes([2; 32]).derive("plan cache"));
        assert_ne!(a.derive("plan cache"), [1; 32]);
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.key");
        let k1 = StateKey::load_or_create(&path).unwrap();
        let k2 = StateKey::load_or_create(&path).unwrap();
        assert_eq!(k1, k2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
