//! SOPS's value cipher: AES-256-GCM under the document's data key.
//!
//! Every leaf value is sealed on its own with a fresh 32-byte nonce (SOPS
//! uses 32 bytes, not GCM's usual 12), with the value's key path as
//! additional data so a value cannot be moved to another key unnoticed, and
//! written as `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`. Empty strings stay
//! empty, as SOPS leaves them. This module knows nothing of YAML or age.

use std::fmt;

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::SopsError;

/// AES-256-GCM with SOPS's 32-byte nonce and the usual 16-byte tag.
type SopsGcm = AesGcm<Aes256, U32>;

const NONCE_LEN: usize = 32;
const TAG_LEN: usize = 16;

/// The document's 32-byte data key. Wiped on drop, never printed.
pub(crate) struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random key, as SOPS makes one per document.
    pub(crate) fn generate() -> Result<Self, SopsError> {
        let mut key = Zeroizing::new([0u8; 32]);
        OsRng.try_fill_bytes(&mut key[..]).map_err(|e| SopsError::Random(e.to_string()))?;
        Ok(Self(key))
    }

    /// A key recovered from an age stanza; `None` unless it is 32 bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != key.len() {
            return None;
        }
        key.copy_from_slice(bytes);
        Some(Self(key))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0[..]
    }

    fn cipher(&self) -> SopsGcm {
        SopsGcm::new_from_slice(&self.0[..]).expect("a 32-byte key is a valid AES-256 key")
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(capstan_core::REDACTED)
    }
}

/// The type a value had before encryption, written as `type:…` so it comes
/// back as the same YAML type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    Str,
    Int,
    Float,
    Bool,
}

impl ValueType {
    fn name(self) -> &'static str {
        match self {
            ValueType::Str => "str",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        match name {
            "str" => Some(ValueType::Str),
            "int" => Some(ValueType::Int),
            "float" => Some(ValueType::Float),
            "bool" => Some(ValueType::Bool),
            _ => None,
        }
    }
}

/// Seals `plain` (the value's SOPS byte form) of type `ty` under `key`,
/// bound to `aad` (the key path, `a:b:`). An empty string stays `""`.
pub(crate) fn encrypt_value(
    key: &DataKey,
    plain: &[u8],
    ty: ValueType,
    aad: &str,
) -> Result<String, SopsError> {
    if plain.is_empty() && ty == ValueType::Str {
        return Ok(String::new());
    }
    let mut iv = [0u8; NONCE_LEN];
    OsRng.try_fill_bytes(&mut iv).map_err(|e| SopsError::Random(e.to_string()))?;
    let sealed = key
        .cipher()
        .encrypt(Nonce::<U32>::from_slice(&iv), Payload { msg: plain, aad: aad.as_bytes() })
        .expect("AES-GCM sealing of an in-memory value cannot fail");
    let (data, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    Ok(format!(
        "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
        B64.encode(data),
        B64.encode(iv),
        B64.encode(tag),
        ty.name()
    ))
}

/// The parts of an `ENC[…]` value.
struct Sealed {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    ty: ValueType,
}

fn parse_sealed(text: &str) -> Result<Sealed, &'static str> {
    let inner = text
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or("not of the form ENC[AES256_GCM,…]")?;
    let mut fields = inner.split(',');
    let mut field =
        |name: &str| fields.next().and_then(|f| f.strip_prefix(name)).and_then(|f| f.strip_prefix(':'));
    let data = field("data").ok_or("no data field")?;
    let iv = field("iv").ok_or("no iv field")?;
    let tag = field("tag").ok_or("no tag field")?;
    let ty = field("type").ok_or("no type field")?;
    let decode = |s: &str| B64.decode(s).map_err(|_| "a field is not base64");
    Ok(Sealed {
        data: decode(data)?,
        iv: decode(iv)?,
        tag: decode(tag)?,
        ty: ValueType::parse(ty).ok_or("unknown type")?,
    })
}

/// Opens an `ENC[…]` value bound to `aad`; `path` only names it in errors.
/// An empty string is the empty string, as SOPS writes it.
pub(crate) fn decrypt_value(
    key: &DataKey,
    text: &str,
    aad: &str,
    path: &str,
) -> Result<(Zeroizing<Vec<u8>>, ValueType), SopsError> {
    if text.is_empty() {
        return Ok((Zeroizing::new(Vec::new()), ValueType::Str));
    }
    let bad = |reason: &str| SopsError::BadValue { path: path.to_owned(), reason: reason.to_owned() };
    let sealed = parse_sealed(text).map_err(bad)?;
    if sealed.iv.len() != NONCE_LEN || sealed.tag.len() != TAG_LEN {
        return Err(bad("iv or tag has the wrong length"));
    }
    let mut ciphertext = sealed.data;
    ciphertext.extend_from_slice(&sealed.tag);
    let plain = key
        .cipher()
        .decrypt(Nonce::<U32>::from_slice(&sealed.iv), Payload { msg: &ciphertext, aad: aad.as_bytes() })
        .map_err(|_| SopsError::ValueTampered { path: path.to_owned() })?;
    Ok((Zeroizing::new(plain), sealed.ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_at_its_own_path() {
        let key = DataKey::generate().expect("random");
        let sealed = encrypt_value(&key, b"hunter2", ValueType::Str, "data:password:").expect("seal");
        assert!(sealed.starts_with("ENC[AES256_GCM,data:") && sealed.ends_with(",type:str]"));
        let (plain, ty) = decrypt_value(&key, &sealed, "data:password:", "data.password").expect("open");
        assert_eq!((&plain[..], ty), (&b"hunter2"[..], ValueType::Str));
        let moved = decrypt_value(&key, &sealed, "data:other:", "data.other").unwrap_err();
        assert!(matches!(moved, SopsError::ValueTampered { .. }), "{moved}");
    }

    #[test]
    fn empty_strings_stay_empty_and_keys_do_not_print() {
        let key = DataKey::generate().expect("random");
        assert_eq!(encrypt_value(&key, b"", ValueType::Str, "a:").expect("seal"), "");
        assert_eq!(format!("{key:?}"), capstan_core::REDACTED);
    }
}
