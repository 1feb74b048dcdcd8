//! An opened secrets file: cryptography between [`SealedFile`] text and clear values.
//!
//! One random 32-byte data key per file. Each value is sealed with
//! ChaCha20-Poly1305 under that key, a fresh 96-bit nonce, and the secret's
//! name as associated data (so a ciphertext moved to another name fails).
//! The data key is age-encrypted to every recipient at once. The MAC is
//! HMAC-SHA256 under a key derived from the data key, over the version, the
//! sorted recipients and every (name, ciphertext) pair; it is checked before
//! any value is decrypted.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use capstan_core::Sensitive;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Result, SecretsError};
use crate::format::{FORMAT_VERSION, MAC_PREFIX, SealedFile, VALUE_PREFIX, check_name};
use crate::identity::{Identities, parse_recipient};

const DOMAIN: &[u8] = b"capstan-secrets/v1";

/// The file's symmetric key; wiped from memory on drop.
#[derive(Clone)]
struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    fn generate() -> Self {
        let key = ChaCha20Poly1305::generate_key(&mut OsRng);
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&key);
        Self(bytes)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(Key::from_slice(&self.0[..]))
    }

    fn mac_key(&self) -> Zeroizing<Vec<u8>> {
        // A MAC key separate from the encryption key, derived by HMAC with a label.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0[..]).expect("HMAC accepts keys of any length");
        mac.update(DOMAIN);
        mac.update(b" mac key");
        Zeroizing::new(mac.finalize().into_bytes().to_vec())
    }
}

/// A decrypted secrets file. `Debug` shows names and recipients, never values.
#[derive(Clone)]
pub struct SecretFile {
    recipients: Vec<String>,
    data_key: DataKey,
    values: BTreeMap<String, Sensitive>,
    /// What was on disk, so unchanged values and an unchanged key wrapping keep
    /// their exact text and a diff shows only what really changed.
    previous: Option<SealedFile>,
    previous_values: BTreeMap<String, Sensitive>,
}

impl fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretFile")
            .field("recipients", &self.recipients)
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The `age1…` recipients of a secrets file, read from its clear header
/// without opening it (no identity needed), sorted.
pub fn recipients_of(file: &Path, bytes: &[u8]) -> Result<Vec<String>> {
    Ok(SealedFile::parse(file, bytes)?.recipients)
}

impl SecretFile {
    /// An empty file for these recipients, with a fresh data key.
    pub fn new(recipients: impl IntoIterator<Item = String>) -> Result<Self> {
        let mut file = Self {
            recipients: Vec::new(),
            data_key: DataKey::generate(),
            values: BTreeMap::new(),
            previous: None,
            previous_values: BTreeMap::new(),
        };
        file.set_recipients(recipients)?;
        Ok(file)
    }

    /// Decrypts `bytes` (the contents of `file`) with `identities`.
    pub fn open(file: &Path, bytes: &[u8], identities: &Identities) -> Result<Self> {
        let sealed = SealedFile::parse(file, bytes)?;
        let corrupt =
            |reason: &str| SecretsError::Corrupt { file: file.to_path_buf(), reason: reason.to_owned() };

        let wrapped =
            B64.decode(sealed.data_key.as_bytes()).map_err(|_| corrupt("`data_key` is not base64"))?;
        let decryptor = age::Decryptor::new_buffered(&wrapped[..])
            .map_err(|_| corrupt("`data_key` is not an age file"))?;
        let mut reader = decryptor.decrypt(identities.as_age()).map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => SecretsError::WrongIdentity {
                file: file.to_path_buf(),
                identity: identities.path().to_path_buf(),
            },
            _ => corrupt("`data_key` does not decrypt (damaged age header)"),
        })?;
        let mut plain = Zeroizing::new(Vec::new());
        reader
            .read_to_end(&mut plain)
            .map_err(|_| corrupt("`data_key` does not decrypt (damaged age payload)"))?;
        let mut key = Zeroizing::new([0u8; 32]);
        if plain.len() != key.len() {
            return Err(corrupt("`data_key` does not hold a 32-byte key"));
        }
        key.copy_from_slice(&plain);
        let data_key = DataKey(key);

        // Authenticate the whole file before trusting any part of it.
        let expected = mac(&data_key, &sealed.recipients, &sealed.secrets);
        let found = sealed
            .mac
            .strip_prefix(MAC_PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| corrupt("`mac` is not an hmac-sha256 value"))?;
        if !constant_time_eq(&expected, &found) {
            return Err(SecretsError::MacMismatch { file: file.to_path_buf() });
        }

        let cipher = data_key.cipher();
        let mut values = BTreeMap::new();
        for (name, encoded) in &sealed.secrets {
            values.insert(name.clone(), decrypt_value(file, &cipher, name, encoded)?);
        }
        Ok(Self {
            recipients: sealed.recipients.clone(),
            data_key,
            previous_values: values.clone(),
            values,
            previous: Some(sealed),
        })
    }

    /// The clear values by name.
    pub fn values(&self) -> &BTreeMap<String, Sensitive> {
        &self.values
    }

    /// The clear values by name, consuming the file.
    pub fn into_values(self) -> BTreeMap<String, Sensitive> {
        self.values
    }

    /// The `age1...` recipients, sorted and deduplicated.
    pub fn recipients(&self) -> &[String] {
        &self.recipients
    }

    /// Sets one secret; `file` is only for the error if the name is invalid.
    pub fn set(&mut self, file: &Path, name: &str, value: Sensitive) -> Result<()> {
        check_name(file, name)?;
        self.values.insert(name.to_owned(), value);
        Ok(())
    }

    /// Replaces all values at once (after an edit).
    pub fn replace_values(&mut self, file: &Path, values: BTreeMap<String, Sensitive>) -> Result<()> {
        for name in values.keys() {
            check_name(file, name)?;
        }
        self.values = values;
        Ok(())
    }

    /// Replaces the recipient list (validated, sorted, deduplicated).
    pub fn set_recipients(&mut self, recipients: impl IntoIterator<Item = String>) -> Result<()> {
        let mut list = Vec::new();
        for r in recipients {
            list.push(parse_recipient(&r)?.to_string());
        }
        list.sort();
        list.dedup();
        self.recipients = list;
        Ok(())
    }

    /// A fresh data key: every value is re-encrypted on the next seal. Used
    /// when a recipient is removed or keys rotate, since the old data key is
    /// known to whoever could open the file before.
    pub fn rotate_data_key(&mut self) {
        self.data_key = DataKey::generate();
        self.previous = None;
        self.previous_values.clear();
    }

    /// The file's new contents. Unchanged values keep their ciphertext and an
    /// unchanged recipient list keeps its wrapped key.
    /// `file` is only named in errors.
    pub fn seal(&self, file: &Path) -> Result<Vec<u8>> {
        let recipients = self.recipients.iter().map(|r| parse_recipient(r)).collect::<Result<Vec<_>>>()?;
        if recipients.is_empty() {
            return Err(SecretsError::InvalidRecipient { recipient: String::new() });
        }
        let previous = self.previous.as_ref();

        let data_key = match previous {
            Some(p) if p.recipients == self.recipients => p.data_key.clone(),
            _ => {
                let encryptor =
                    age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                        .map_err(|e| SecretsError::InvalidRecipient { recipient: e.to_string() })?;
                let mut out = Vec::new();
                let io = |source| SecretsError::Io { path: file.to_path_buf(), source };
                let mut writer = encryptor.wrap_output(&mut out).map_err(io)?;
                writer.write_all(&self.data_key.0[..]).map_err(io)?;
                writer.finish().map_err(io)?;
                B64.encode(out)
            }
        };

        let cipher = self.data_key.cipher();
        let mut secrets = BTreeMap::new();
        for (name, value) in &self.values {
            let kept = previous
                .and_then(|p| p.secrets.get(name))
                .filter(|_| self.previous_values.get(name) == Some(value));
            let encoded = match kept {
                Some(encoded) => encoded.clone(),
                None => encrypt_value(file, &cipher, name, value)?,
            };
            secrets.insert(name.clone(), encoded);
        }
        let mac = format!("{MAC_PREFIX}{}", hex::encode(mac(&self.data_key, &self.recipients, &secrets)));
        Ok(SealedFile { recipients: self.recipients.clone(), data_key, secrets, mac }.render().into_bytes())
    }
}

fn aad(name: &str) -> Vec<u8> {
    let mut aad = DOMAIN.to_vec();
    aad.push(0);
    aad.extend_from_slice(name.as_bytes());
    aad
}

fn encrypt_value(file: &Path, cipher: &ChaCha20Poly1305, name: &str, value: &Sensitive) -> Result<String> {
    let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = aad(name);
    // ChaCha20-Poly1305 refuses only messages over 256 GiB.
    let ciphertext =
        cipher.encrypt(&nonce, Payload { msg: value.expose().as_bytes(), aad: &aad }).map_err(|_| {
            SecretsError::Corrupt {
                file: file.to_path_buf(),
                reason: format!("secret `{name}` is too large to encrypt"),
            }
        })?;
    Ok(format!("{VALUE_PREFIX}{}:{}", B64.encode(nonce), B64.encode(ciphertext)))
}

fn decrypt_value(file: &Path, cipher: &ChaCha20Poly1305, name: &str, encoded: &str) -> Result<Sensitive> {
    let corrupt = |reason: &str| SecretsError::Corrupt {
        file: file.to_path_buf(),
        reason: format!("secret `{name}`: {reason}"),
    };
    let (nonce, ciphertext) = encoded
        .strip_prefix(VALUE_PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(|| corrupt("not a chacha20poly1305 value"))?;
    let nonce = B64.decode(nonce).map_err(|_| corrupt("nonce is not base64"))?;
    if nonce.len() != 12 {
        return Err(corrupt("nonce is not 12 bytes"));
    }
    let ciphertext = B64.decode(ciphertext).map_err(|_| corrupt("ciphertext is not base64"))?;
    let aad = aad(name);
    let plain = cipher
        .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: &aad })
        .map_err(|_| corrupt("does not decrypt"))?;
    let text = String::from_utf8(plain).map_err(|_| corrupt("is not UTF-8"))?;
    Ok(Sensitive::new(text))
}

/// HMAC over an unambiguous (length-prefixed) encoding of everything but the
/// wrapped key, whose integrity age already guarantees.
fn mac(key: &DataKey, recipients: &[String], secrets: &BTreeMap<String, String>) -> Vec<u8> {
    let mac_key = key.mac_key();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&mac_key).expect("HMAC accepts keys of any length");
    let mut field = |bytes: &[u8]| {
        mac.update(&(bytes.len() as u64).to_be_bytes());
        mac.update(bytes);
    };
    field(DOMAIN);
    field(&FORMAT_VERSION.to_be_bytes());
    let mut sorted: Vec<&String> = recipients.iter().collect();
    sorted.sort();
    field(&(sorted.len() as u64).to_be_bytes());
    for r in sorted {
        field(r.as_bytes());
    }
    field(&(secrets.len() as u64).to_be_bytes());
    for (name, value) in secrets {
        field(name.as_bytes());
        field(value.as_bytes());
    }
    mac.finalize().into_bytes().to_vec()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
