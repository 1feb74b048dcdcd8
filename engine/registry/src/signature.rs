//! Signing keys and bundle signatures (ed25519).
//!
//! Signature payload, version 1: the ASCII bytes `capstan-bundle-signature/v1`,
//! a newline, then the exact bytes of the bundle's `manifest.json`. The
//! manifest holds the sha256 of every component, so the signature covers the
//! code; the prefix keeps a signature made for something else (or for a later
//! payload version) from ever verifying as a bundle signature.
//!
//! Key files are one line of text: `capstan-ed25519-v1:<64 hex>` for a public
//! key (`<prefix>.pub`, also what a `trust` block lists) and
//! `capstan-ed25519-secret-v1:<64 hex>` for a secret key (`<prefix>.key`,
//! mode 0600).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::error::{RegistryError, Result};
use crate::manifest::sha256_hex;

/// The signature format (and payload version) this engine writes and checks.
pub const SIGNATURE_FORMAT: &str = "capstan-bundle-signature/v1";
const PUBLIC_PREFIX: &str = "capstan-ed25519-v1:";
const SECRET_PREFIX: &str = "capstan-ed25519-secret-v1:";

/// What `signature.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// Always [`SIGNATURE_FORMAT`].
    pub format: String,
    /// Always `ed25519`.
    pub algorithm: String,
    /// The signer's public key, `capstan-ed25519-v1:<hex>`.
    pub public_key: String,
    /// 64 bytes, hex.
    pub signature: String,
}

impl SignatureFile {
    pub(crate) fn parse(bundle: &str, bytes: &[u8]) -> Result<Self> {
        let bad = |reason: String| RegistryError::BadSignatureFile { bundle: bundle.to_string(), reason };
        let sig: Self = serde_json::from_slice(bytes).map_err(|e| bad(format!("signature.json: {e}")))?;
        if sig.format != SIGNATURE_FORMAT || sig.algorithm != "ed25519" {
            return Err(bad(format!(
                "signature format {} / {} (this engine checks {SIGNATURE_FORMAT} / ed25519)",
                sig.format, sig.algorithm
            )));
        }
        Ok(sig)
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// A public key, as trusted in client.hcl.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Reads `capstan-ed25519-v1:<hex>` (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<Self, String> {
        let hex_part = text
            .trim()
            .strip_prefix(PUBLIC_PREFIX)
            .ok_or_else(|| format!("a public key starts with {PUBLIC_PREFIX}"))?;
        let bytes: [u8; 32] = hex::decode(hex_part)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or("a public key is 32 bytes in hex")?;
        VerifyingKey::from_bytes(&bytes).map(Self).map_err(|e| format!("not an ed25519 public key: {e}"))
    }

    /// Reads a public key file (`<prefix>.pub`).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(RegistryError::io(path))?;
        Self::parse(&text).map_err(|reason| RegistryError::Key { path: path.to_path_buf(), reason })
    }

    /// `ed25519:<16 hex>`: a short, stable name for the key in messages and the lock file.
    pub fn id(&self) -> String {
        format!("ed25519:{}", &sha256_hex(self.0.as_bytes())[..16])
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", hex::encode(self.0.as_bytes()))
    }
}

/// A signing key. It has no `Display`, and `Debug` shows only its public half.
pub struct SecretKey(SigningKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.public().id())
    }
}

impl SecretKey {
    /// A new key from the operating system's random source; the error
    /// says why that failed.
    pub fn generate() -> Result<Self, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("no randomness from the OS: {e}"))?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    /// The public half, what a `trust` block lists.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Reads a secret key file (`<prefix>.key`, as
    /// `capstan plugin keygen` writes it).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(RegistryError::io(path))?;
        let bad = |reason: &str| RegistryError::Key { path: path.to_path_buf(), reason: reason.to_string() };
        let hex_part = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or_else(|| bad("not a capstan signing key (made by `capstan plugin keygen`)"))?;
        let bytes: [u8; 32] = hex::decode(hex_part)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("a damaged signing key"))?;
        Ok(Self(SigningKey::from_bytes(&bytes)))
    }

    /// Writes `<prefix>.key` (mode 0600, never over an existing file) and
    /// `<prefix>.pub`; returns both paths.
    pub fn write_pair(&self, prefix: &Path) -> Result<(PathBuf, PathBuf)> {
        let with_ext = |ext: &str| {
            let mut p = prefix.as_os_str().to_owned();
            p.push(ext);
            PathBuf::from(p)
        };
        let (key_path, pub_path) = (with_ext(".key"), with_ext(".pub"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&key_path).map_err(RegistryError::io(&key_path))?;
        let secret = format!("{SECRET_PREFIX}{}\n", hex::encode(self.0.to_bytes()));
        file.write_all(secret.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(RegistryError::io(&key_path))?;
        std::fs::write(&pub_path, format!("{}\n", self.public())).map_err(RegistryError::io(&pub_path))?;
        Ok((key_path, pub_path))
    }
}

fn payload(manifest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SIGNATURE_FORMAT.len() + 1 + manifest.len());
    out.extend_from_slice(SIGNATURE_FORMAT.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(manifest);
    out
}

/// Signs the bundle's manifest, replacing any earlier signature.
pub fn sign(bundle: &mut Bundle, key: &SecretKey) {
    let signature = key.0.sign(&payload(bundle.manifest_bytes()));
    bundle.signature = Some(SignatureFile {
        format: SIGNATURE_FORMAT.to_string(),
        algorithm: "ed25519".to_string(),
        public_key: key.public().to_string(),
        signature: hex::encode(signature.to_bytes()),
    });
}

/// The key the bundle claims to be signed by, after checking that the
/// signature is that key's over this manifest. `None` when unsigned.
pub fn verified_signer(bundle: &Bundle) -> Result<Option<PublicKey>> {
    let Some(sig) = &bundle.signature else { return Ok(None) };
    let bad = |reason: String| RegistryError::BadSignatureFile { bundle: bundle.label.clone(), reason };
    let key = PublicKey::parse(&sig.public_key).map_err(bad)?;
    let bytes: [u8; 64] = hex::decode(&sig.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| bad("the signature is not 64 bytes in hex".into()))?;
    let signature = ed25519_dalek::Signature::from_bytes(&bytes);
    // Strict verification also refuses weak (small-order) keys, for which a
    // signature could be forged over many messages.
    key.0
        .verify_strict(&payload(bundle.manifest_bytes()), &signature)
        .map_err(|_| RegistryError::BadSignature { bundle: bundle.label.clone(), key_id: key.id() })?;
    Ok(Some(key))
}
