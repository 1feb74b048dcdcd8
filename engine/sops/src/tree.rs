//! The document as SOPS sees it: an ordered tree of keyed values, which
//! values a rule encrypts, and the MAC over all of them.
//!
//! SOPS walks a document in order, key by key; a list does not add to the
//! path. Every non-null leaf feeds the MAC (SHA-512 over each value's byte
//! form, in clear, in document order); leaves whose path has a key matching
//! the document's rule are sealed with the key path as additional data.
//! This module converts from JSON (the manifest) and from parsed YAML (a
//! document on disk); it neither writes YAML nor touches age.

use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use crate::SopsError;
use crate::cipher::{self, DataKey, ValueType};

/// A value of the document. Deliberately not `Debug`: leaves hold secrets.
pub(crate) enum Node {
    Null,
    Bool(bool),
    /// An integer, as its decimal text (SOPS's byte form of an int).
    Int(String),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// Which leaves a document encrypts: SOPS's crypt rules (one per document).
pub(crate) enum Rule {
    /// Values under a key matching the expression (`encrypted_regex`).
    EncryptedRegex(regex::Regex),
    /// Values under no key matching the expression (`unencrypted_regex`).
    UnencryptedRegex(regex::Regex),
    /// Values under a key ending in the suffix (`encrypted_suffix`).
    EncryptedSuffix(String),
    /// Values under no key ending in the suffix (`unencrypted_suffix`, the
    /// SOPS default `_unencrypted` when a document names no rule).
    UnencryptedSuffix(String),
}

impl Rule {
    /// Whether the leaf at `path` is encrypted: any key on the path decides.
    pub(crate) fn encrypts(&self, path: &[&str]) -> bool {
        match self {
            Rule::EncryptedRegex(re) => path.iter().any(|k| re.is_match(k)),
            Rule::UnencryptedRegex(re) => !path.iter().any(|k| re.is_match(k)),
            Rule::EncryptedSuffix(s) => path.iter().any(|k| k.ends_with(s.as_str())),
            Rule::UnencryptedSuffix(s) => !path.iter().any(|k| k.ends_with(s.as_str())),
        }
    }
}

/// SOPS's byte form of a leaf: what is hashed and what is sealed.
fn leaf_bytes(node: &Node) -> Option<(Zeroizing<Vec<u8>>, ValueType)> {
    let (bytes, ty) = match node {
        Node::Str(s) => (s.as_bytes().to_vec(), ValueType::Str),
        Node::Int(i) => (i.as_bytes().to_vec(), ValueType::Int),
        // Shortest form that reads back to the same float, never an
        // exponent: what SOPS writes for floats.
        Node::Float(f) => (format!("{f}").into_bytes(), ValueType::Float),
        // SOPS inherited Python's title-case booleans.
        Node::Bool(b) => (if *b { b"True".to_vec() } else { b"False".to_vec() }, ValueType::Bool),
        Node::Null | Node::Seq(_) | Node::Map(_) => return None,
    };
    Some((Zeroizing::new(bytes), ty))
}

/// The MAC being computed over a walk.
pub(crate) struct Mac(Sha512);

impl Mac {
    pub(crate) fn new() -> Self {
        Self(Sha512::new())
    }

    /// SOPS's form: upper-case hex of the SHA-512.
    pub(crate) fn finish(self) -> String {
        hex::encode_upper(self.0.finalize())
    }
}

/// A key path as SOPS binds it to a value: `data:password:`.
fn aad(path: &[&str]) -> String {
    let mut s = path.join(":");
    s.push(':');
    s
}

/// A key path as errors show it: `data.password`.
fn shown(path: &[&str]) -> String {
    path.join(".")
}

/// Calls `visit` on every scalar leaf of `node` in document order, with the
/// key path that leads to it. Nulls are skipped: SOPS neither encrypts nor
/// MACs them.
fn for_each_leaf<'a>(
    node: &'a mut Node,
    path: &mut Vec<&'a str>,
    visit: &mut impl FnMut(&mut Node, &[&'a str]) -> Result<(), SopsError>,
) -> Result<(), SopsError> {
    match node {
        Node::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                path.push(k.as_str());
                for_each_leaf(v, path, visit)?;
                path.pop();
            }
        }
        Node::Seq(items) => {
            for item in items.iter_mut() {
                for_each_leaf(item, path, visit)?;
            }
        }
        Node::Null => {}
        leaf => visit(leaf, path)?,
    }
    Ok(())
}

/// Seals, in place, every leaf of `node` the rule encrypts, feeding every
/// leaf to `mac` first.
pub(crate) fn encrypt<'a>(
    node: &'a mut Node,
    path: &mut Vec<&'a str>,
    rule: &Rule,
    key: &DataKey,
    mac: &mut Mac,
) -> Result<(), SopsError> {
    for_each_leaf(node, path, &mut |leaf, path| {
        let (bytes, ty) = leaf_bytes(leaf).expect("scalars have a byte form");
        mac.0.update(&bytes[..]);
        if rule.encrypts(path) {
            *leaf = Node::Str(cipher::encrypt_value(key, &bytes, ty, &aad(path))?);
        }
        Ok(())
    })
}

/// Opens, in place, every leaf of `node` the rule encrypts, feeding every
/// leaf (in clear) to `mac`.
pub(crate) fn decrypt<'a>(
    node: &'a mut Node,
    path: &mut Vec<&'a str>,
    rule: &Rule,
    key: &DataKey,
    mac: &mut Mac,
) -> Result<(), SopsError> {
    for_each_leaf(node, path, &mut |leaf, path| {
        if rule.encrypts(path) {
            let Node::Str(text) = leaf else {
                return Err(SopsError::BadValue {
                    path: shown(path),
                    reason: "an encrypted value must be a string".to_owned(),
                });
            };
            let (plain, ty) = cipher::decrypt_value(key, text, &aad(path), &shown(path))?;
            *leaf = typed(&plain, ty).ok_or_else(|| SopsError::BadValue {
                path: shown(path),
                reason: "the decrypted value does not match its type".to_owned(),
            })?;
        }
        let (bytes, _) = leaf_bytes(leaf).expect("scalars have a byte form");
        mac.0.update(&bytes[..]);
        Ok(())
    })
}

/// A decrypted value back in its type; `None` when the bytes do not parse
/// as it (or a string is not UTF-8).
fn typed(plain: &[u8], ty: ValueType) -> Option<Node> {
    let text = std::str::from_utf8(plain).ok()?;
    Some(match ty {
        ValueType::Str => Node::Str(text.to_owned()),
        ValueType::Int => {
            text.parse::<i64>().ok()?;
            Node::Int(text.to_owned())
        }
        ValueType::Float => Node::Float(text.parse().ok()?),
        // The spellings SOPS's reader accepts.
        ValueType::Bool => match text {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Node::Bool(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Node::Bool(false),
            _ => return None,
        },
    })
}

/// The manifest as a tree. The top level must be a mapping without a
/// `sops` key (SOPS keeps its metadata there).
pub(crate) fn from_json(value: &serde_json::Value) -> Result<Vec<(String, Node)>, SopsError> {
    let serde_json::Value::Object(map) = value else {
        return Err(SopsError::InvalidManifest { reason: "the manifest is not a mapping".to_owned() });
    };
    if map.contains_key("sops") {
        return Err(SopsError::InvalidManifest {
            reason: "a top-level `sops` key is reserved for SOPS metadata".to_owned(),
        });
    }
    Ok(map.iter().map(|(k, v)| (k.clone(), json_node(v))).collect())
}

fn json_node(value: &serde_json::Value) -> Node {
    use serde_json::Value as J;
    match value {
        J::Null => Node::Null,
        J::Bool(b) => Node::Bool(*b),
        J::Number(n) if n.is_f64() => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
        J::Number(n) => Node::Int(n.to_string()),
        J::String(s) => Node::Str(s.clone()),
        J::Array(items) => Node::Seq(items.iter().map(json_node).collect()),
        J::Object(map) => Node::Map(map.iter().map(|(k, v)| (k.clone(), json_node(v))).collect()),
    }
}

/// The tree as JSON, for handing a decrypted manifest back.
pub(crate) fn to_json(node: Node) -> serde_json::Value {
    use serde_json::Value as J;
    match node {
        Node::Null => J::Null,
        Node::Bool(b) => J::Bool(b),
        Node::Int(i) => i.parse::<serde_json::Number>().map(J::Number).unwrap_or(J::String(i)),
        Node::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        Node::Str(s) => J::String(s),
        Node::Seq(items) => J::Array(items.into_iter().map(to_json).collect()),
        Node::Map(entries) => J::Object(entries.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
    }
}

/// A parsed YAML value as a tree; `path` names the place in errors.
pub(crate) fn from_yaml(value: serde_norway::Value, path: &str) -> Result<Node, SopsError> {
    use serde_norway::Value as Y;
    let not_sops = |reason: String| SopsError::NotSops { reason };
    Ok(match value {
        Y::Null => Node::Null,
        Y::Bool(b) => Node::Bool(b),
        Y::Number(n) if n.is_f64() => Node::Float(n.as_f64().unwrap_or(f64::NAN)),
        Y::Number(n) => Node::Int(n.to_string()),
        Y::String(s) => Node::Str(s),
        Y::Sequence(items) => {
            Node::Seq(items.into_iter().map(|v| from_yaml(v, path)).collect::<Result<_, _>>()?)
        }
        Y::Mapping(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                let Y::String(k) = k else {
                    return Err(not_sops(format!("a key under `{path}` is not a string")));
                };
                let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                let v = from_yaml(v, &child)?;
                entries.push((k, v));
            }
            Node::Map(entries)
        }
        Y::Tagged(_) => return Err(not_sops(format!("a value under `{path}` carries a YAML tag"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_regex_covers_everything_under_a_matching_key() {
        let rule = Rule::EncryptedRegex(regex::Regex::new("^(data|stringData)$").expect("regex"));
        assert!(rule.encrypts(&["data", "password"]));
        assert!(rule.encrypts(&["stringData", "a"]));
        assert!(!rule.encrypts(&["metadata", "name"]));
        assert!(!rule.encrypts(&["metadata", "labels", "database"]));
        let default = Rule::UnencryptedSuffix("_unencrypted".to_owned());
        assert!(default.encrypts(&["a", "b"]));
        assert!(!default.encrypts(&["a_unencrypted", "b"]));
    }

    #[test]
    fn leaves_take_sops_byte_forms() {
        let bytes = |n: Node| leaf_bytes(&n).map(|(b, _)| String::from_utf8(b.to_vec()).expect("utf-8"));
        assert_eq!(bytes(Node::Bool(true)).as_deref(), Some("True"));
        assert_eq!(bytes(Node::Bool(false)).as_deref(), Some("False"));
        assert_eq!(bytes(Node::Int("-42".to_owned())).as_deref(), Some("-42"));
        assert_eq!(bytes(Node::Float(1.5)).as_deref(), Some("1.5"));
        assert_eq!(bytes(Node::Float(1e21)).as_deref(), Some("1000000000000000000000"));
        assert_eq!(bytes(Node::Null), None);
    }
}
