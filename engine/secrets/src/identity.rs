//! age identity files: where they live, reading, writing, backup JSON.
//!
//! The file format is the one `age-keygen` writes (comment lines, then one
//! `AGE-SECRET-KEY-1...` per line), so Debian's `age -d -i` reads Capstan's
//! key files and Capstan reads age's. Only X25519 identities are supported:
//! that is what recipients in secrets files are.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519;
use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::error::{Result, SecretsError, io_err};
use crate::fsutil;

/// Where the identity lives under `$HOME` unless `CAPSTAN_AGE_KEY_FILE` says otherwise.
pub const DEFAULT_IDENTITY_PATH: &str = ".config/capstan/age/keys.txt";
/// The variable that overrides the identity path.
pub const IDENTITY_PATH_VAR: &str = "CAPSTAN_AGE_KEY_FILE";
/// Identity files are private to their owner.
pub const IDENTITY_MODE: u32 = 0o600;

/// `CAPSTAN_AGE_KEY_FILE`, else `$HOME/.config/capstan/age/keys.txt`.
pub fn identity_path(env: &Env) -> Result<PathBuf> {
    if let Some(path) = env.get(IDENTITY_PATH_VAR) {
        return Ok(PathBuf::from(path));
    }
    env.home().map(|home| home.join(DEFAULT_IDENTITY_PATH)).ok_or(SecretsError::IdentityPathUnknown)
}

/// The identities of one key file. `Debug` shows the path and public keys only.
pub struct Identities {
    path: PathBuf,
    keys: Vec<x25519::Identity>,
}

impl Identities {
    /// Reads an identity file; a missing file is [`SecretsError::IdentityMissing`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SecretsError::IdentityMissing { path: path.to_path_buf() });
            }
            Err(e) => return Err(io_err(path)(e)),
        };
        let keys = parse_identity_text(path, &text)?;
        Ok(Self { path: path.to_path_buf(), keys })
    }

    /// The identity file these were read from; named in errors.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public recipients (`age1...`) of these identities.
    pub fn recipients(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.to_public().to_string()).collect()
    }

    /// The X25519 identities themselves (SOPS documents are opened with them).
    pub fn keys(&self) -> &[x25519::Identity] {
        &self.keys
    }

    /// A 32-byte key for `purpose`, derived from these identities'
    /// secrets (HMAC-SHA256 keyed by them): the same identity file always
    /// gives the same key, and the key reveals nothing of the identities.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let mut secret = Vec::new();
        for key in &self.keys {
            secret.extend_from_slice(key.to_string().expose_secret().as_bytes());
            secret.push(b'\n');
        }
        let mut mac =
            <Hmac<sha2::Sha256> as Mac>::new_from_slice(&secret).expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    pub(crate) fn as_age(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|k| k as &dyn age::Identity)
    }
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identities")
            .field("path", &self.path)
            .field("recipients", &self.recipients())
            .finish()
    }
}

fn parse_identity_text(path: &Path, text: &str) -> Result<Vec<x25519::Identity>> {
    let mut keys = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let invalid = |reason: &str| SecretsError::IdentityInvalid {
            path: path.to_path_buf(),
            line: index + 1,
            reason: reason.to_owned(),
        };
        if !line.starts_with("AGE-SECRET-KEY-1") {
            // Never echo the line: it may be a key of another kind.
            return Err(invalid(
                "not an age X25519 identity (expected AGE-SECRET-KEY-1...; plugin and SSH identities are not supported)",
            ));
        }
        let key =
            x25519::Identity::from_str(line).map_err(|_| invalid("malformed AGE-SECRET-KEY-1 identity"))?;
        keys.push(key);
    }
    if keys.is_empty() {
        return Err(SecretsError::IdentityInvalid {
            path: path.to_path_buf(),
            line: 0,
            reason: "the file holds no identity".to_owned(),
        });
    }
    Ok(keys)
}

/// The text of an identity file, in `age-keygen`'s layout.
pub(crate) fn identity_file_text(keys: &[x25519::Identity]) -> String {
    let mut text = String::new();
    let created = capstan_aws::clock::UtcTime::now().rfc3339();
    for key in keys {
        text.push_str(&format!("# created: {created}\n"));
        text.push_str(&format!("# public key: {}\n", key.to_public()));
        text.push_str(key.to_string().expose_secret());
        text.push('\n');
    }
    text
}

/// Writes a brand-new identity file (mode 0600, parent dirs 0700) and returns
/// its public recipient. Refuses to overwrite an existing file.
pub fn keygen(path: &Path) -> Result<String> {
    if path.exists() {
        return Err(SecretsError::IdentityExists { path: path.to_path_buf() });
    }
    let key = x25519::Identity::generate();
    let recipient = key.to_public().to_string();
    fsutil::write_new(path, identity_file_text(&[key]).as_bytes(), IDENTITY_MODE).map_err(|e| match e {
        SecretsError::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists => {
            SecretsError::IdentityExists { path: path.to_path_buf() }
        }
        e => e,
    })?;
    Ok(recipient)
}

/// Parses an `age1...` recipient, or says what is wrong with it.
pub fn parse_recipient(text: &str) -> Result<x25519::Recipient> {
    x25519::Recipient::from_str(text.trim())
        .map_err(|_| SecretsError::InvalidRecipient { recipient: text.to_owned() })
}

// --- backup JSON -------------------------------------------------------------

const KEYS_JSON_FORMAT: &str = "capstan-age-keys/v1";

#[derive(Serialize, Deserialize)]
struct KeysJson {
    format: String,
    identities: Vec<KeyJson>,
}

#[derive(Serialize, Deserialize)]
struct KeyJson {
    public_key: String,
    secret_key: String,
}

/// Writes the identities of `path` as JSON to `out`, for backup in a safe place:
/// `{"format": "capstan-age-keys/v1", "identities": [{"public_key", "secret_key"}]}`.
pub fn export_keys(path: &Path, out: &mut dyn std::io::Write) -> Result<()> {
    let ids = Identities::load(path)?;
    let doc = KeysJson {
        format: KEYS_JSON_FORMAT.to_owned(),
        identities: ids
            .keys
            .iter()
            .map(|k| KeyJson {
                public_key: k.to_public().to_string(),
                secret_key: k.to_string().expose_secret().to_owned(),
            })
            .collect(),
    };
    let json =
        serde_json::to_string_pretty(&doc).map_err(|e| SecretsError::KeysJson { reason: e.to_string() })?;
    out.write_all(json.as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(io_err("<output>"))
}

/// Reads backup JSON (from [`export_keys`]) into the identity file at `path`.
/// Identities already in the file are kept; new ones are added. Returns the
/// public keys that were added.
pub fn import_keys(path: &Path, json: &str) -> Result<Vec<String>> {
    // serde_json's messages quote at most a type name and a position, never input text.
    let doc: KeysJson =
        serde_json::from_str(json).map_err(|e| SecretsError::KeysJson { reason: e.to_string() })?;
    if doc.format != KEYS_JSON_FORMAT {
        return Err(SecretsError::KeysJson {
            reason: format!("unknown format {:?} (expected {KEYS_JSON_FORMAT:?})", doc.format),
        });
    }
    let mut imported = Vec::new();
    for (i, entry) in doc.identities.iter().enumerate() {
        let key =
            x25519::Identity::from_str(entry.secret_key.trim()).map_err(|_| SecretsError::KeysJson {
                reason: format!("identities[{i}].secret_key is not an AGE-SECRET-KEY-1 identity"),
            })?;
        if key.to_public().to_string() != entry.public_key.trim() {
            return Err(SecretsError::KeysJson {
                reason: format!("identities[{i}]: public_key does not match secret_key"),
            });
        }
        imported.push(key);
    }
    if imported.is_empty() {
        return Err(SecretsError::KeysJson { reason: "no identities in the backup".to_owned() });
    }
    let mut keys = match Identities::load(path) {
        Ok(existing) => existing.keys,
        Err(SecretsError::IdentityMissing { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut added = Vec::new();
    for key in imported {
        let public = key.to_public().to_string();
        if !keys.iter().any(|k| k.to_public().to_string() == public) {
            keys.push(key);
            added.push(public);
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fsutil::create_private_dir(dir)?;
    }
    fsutil::write_atomic(path, identity_file_text(&keys).as_bytes(), IDENTITY_MODE)?;
    Ok(added)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn identity_path_prefers_the_override() {
        let env = Env::from_pairs([("HOME", "/home/op"), (IDENTITY_PATH_VAR, "/keys/k.txt")]);
        assert_eq!(identity_path(&env).unwrap(), PathBuf::from("/keys/k.txt"));
        let env = Env::from_pairs([("HOME", "/home/op")]);
        assert_eq!(identity_path(&env).unwrap(), PathBuf::from("/home/op/.config/capstan/age/keys.txt"));
        assert!(matches!(identity_path(&Env::default()), Err(SecretsError::IdentityPathUnknown)));
    }

    #[test]
    fn a_derived_key_is_the_same_for_an_identity_and_purpose_and_differs_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
        keygen(&a).unwrap();
        keygen(&b).unwrap();
        let key = |path: &Path, purpose: &str| Identities::load(path).unwrap().derive_key(purpose);
        assert_eq!(key(&a, "digest"), key(&a, "digest"), "the same file, read twice");
        assert_ne!(key(&a, "digest"), key(&b, "digest"), "another identity");
        assert_ne!(key(&a, "digest"), key(&a, "other"), "another purpose");
    }
}
