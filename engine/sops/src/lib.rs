//! SOPS documents for Kubernetes Secrets, so a rendered GitOps tree holds
//! no secret in clear.
//!
//! [`encrypt`] turns a Secret manifest into the YAML document SOPS itself
//! writes for age recipients: the values under `data` and `stringData`
//! sealed with AES-256-GCM under a fresh data key, every other key and all
//! metadata in clear (`encrypted_regex: ^(data|stringData)$`, as Flux users
//! configure SOPS), the data key sealed to each recipient as an age file,
//! and SOPS's MAC over all values. Flux's kustomize-controller and `sops -d`
//! open it. [`decrypt`] reads such a document back and checks the MAC;
//! [`unchanged`] tells a re-render that the file on disk already holds a
//! manifest, so an unchanged Secret's file is left byte-for-byte alone.
//! [`sops_config`] writes the `.sops.yaml` for the output root.
//!
//! ```
//! # fn main() -> Result<(), capstan_sops::SopsError> {
//! let key = age::x25519::Identity::generate();
//! let secret = serde_json::json!({
//!     "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
//!     "stringData": {"password": "hunter2"},
//! });
//! let now = std::time::SystemTime::now();
//! let document = capstan_sops::encrypt(&secret, &[key.to_public()], now)?;
//! assert!(document.contains("    name: db\n") && !document.contains("hunter2"));
//!
//! let opened = capstan_sops::decrypt(document.as_bytes(), std::slice::from_ref(&key))?;
//! assert_eq!(opened.manifest.expose(), &secret);
//! // A re-render with the same values keeps the file as it is.
//! assert!(capstan_sops::unchanged(document.as_bytes(), &secret, &[key.to_public()], &[key])?);
//! # Ok(())
//! # }
//! ```
//!
//! This crate does no I/O, reads no environment and holds no global state:
//! callers hand in recipients, identities, the time and the bytes of a file.
//! It writes documents for age recipients only (no KMS, PGP, Vault, key
//! groups) and does not decide which files are Secrets.

mod cipher;
mod error;
mod metadata;
mod tree;
mod yaml;

use std::fmt;
use std::time::SystemTime;

pub use error::SopsError;
pub use metadata::SOPS_FORMAT_VERSION;

/// The crypt rule Capstan writes: the values of a Secret's `data` and
/// `stringData`, and nothing else.
pub const ENCRYPTED_REGEX: &str = "^(data|stringData)$";

/// Encrypts a Secret manifest (`data` base64 values and/or `stringData`
/// values) to `recipients`, stamped `last_modified`, as SOPS would.
///
/// Keys keep the manifest's order. Every call makes a new data key and new
/// IVs, so two calls never give the same bytes: use [`unchanged`] to keep a
/// file that already holds the manifest.
pub fn encrypt(
    manifest: &serde_json::Value,
    recipients: &[age::x25519::Recipient],
    last_modified: SystemTime,
) -> Result<String, SopsError> {
    if recipients.is_empty() {
        return Err(SopsError::NoRecipients);
    }
    let mut document = tree::Node::Map(tree::from_json(manifest)?);
    let rule = tree::Rule::EncryptedRegex(
        regex::Regex::new(ENCRYPTED_REGEX).expect("the crypt rule is a valid expression"),
    );
    let key = cipher::DataKey::generate()?;
    let mut mac = tree::Mac::new();
    tree::encrypt(&mut document, &mut Vec::new(), &rule, &key, &mut mac)?;
    let last_modified = metadata::rfc3339_utc(last_modified);
    // SOPS binds the MAC to the timestamp it writes beside it.
    let mac = cipher::encrypt_value(&key, mac.finish().as_bytes(), cipher::ValueType::Str, &last_modified)?;
    let stanzas = recipients
        .iter()
        .map(|r| Ok((r.to_string(), metadata::seal_data_key(&key, r)?)))
        .collect::<Result<Vec<_>, SopsError>>()?;

    let tree::Node::Map(entries) = document else { unreachable!("the document is a mapping") };
    let mut out = String::new();
    yaml::write_mapping(&mut out, &entries);
    metadata::write_block(&mut out, &stanzas, &last_modified, &mac, ENCRYPTED_REGEX);
    Ok(out)
}

/// A decrypted manifest. Its `Debug` shows nothing of it, as
/// [`capstan_core::Sensitive`] does for single values: reach the values
/// through [`ClearManifest::expose`] where they are needed.
#[derive(Clone, PartialEq)]
pub struct ClearManifest(serde_json::Value);

impl ClearManifest {
    /// The manifest in clear. Call only where it is sent to what needs it.
    pub fn expose(&self) -> &serde_json::Value {
        &self.0
    }

    /// The manifest in clear, owned.
    pub fn into_exposed(self) -> serde_json::Value {
        self.0
    }
}

impl fmt::Debug for ClearManifest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClearManifest({})", capstan_core::REDACTED)
    }
}

/// What [`decrypt`] reads from a document.
#[derive(Debug)]
pub struct Decrypted {
    /// The manifest, with the `sops` block removed.
    pub manifest: ClearManifest,
    /// The age recipients the data key is sealed to, in document order.
    pub recipients: Vec<String>,
    /// The document's `lastmodified`, as written.
    pub last_modified: String,
    /// The document's `encrypted_regex`, when that is its crypt rule.
    pub encrypted_regex: Option<String>,
}

/// Decrypts a SOPS YAML document with any of `identities` and checks its
/// MAC, as `sops -d` does: an altered value, in clear or encrypted, or a
/// value moved to another key, is refused.
pub fn decrypt(document: &[u8], identities: &[age::x25519::Identity]) -> Result<Decrypted, SopsError> {
    let parsed = Parsed::read(document)?;
    parsed.open(identities)
}

/// Whether `existing` (the bytes of a file on disk) already holds
/// `manifest`, encrypted to exactly `recipients` with Capstan's crypt
/// rule, so a re-render can leave the file as it is.
///
/// `Ok(false)` when the file is not a SOPS document, was written with
/// another rule or other recipients (a rotated key), or holds other values.
/// An `Err` when it is a SOPS document that does not open or verify (no
/// identity fits, the MAC does not match): that needs a person's attention,
/// not a silent overwrite.
pub fn unchanged(
    existing: &[u8],
    manifest: &serde_json::Value,
    recipients: &[age::x25519::Recipient],
    identities: &[age::x25519::Identity],
) -> Result<bool, SopsError> {
    let parsed = match Parsed::read(existing) {
        Ok(parsed) => parsed,
        Err(SopsError::NotSops { .. } | SopsError::Unsupported { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    let mut wanted: Vec<String> = recipients.iter().map(ToString::to_string).collect();
    let mut found: Vec<String> = parsed.block.age.iter().map(|s| s.recipient.clone()).collect();
    wanted.sort();
    found.sort();
    if wanted != found || parsed.block.encrypted_regex() != Some(ENCRYPTED_REGEX) {
        return Ok(false);
    }
    let decrypted = parsed.open(identities)?;
    Ok(decrypted.manifest.expose() == manifest)
}

/// One rule of a `.sops.yaml`: files whose path (relative to the
/// `.sops.yaml`) matches `path_regex` are encrypted with Capstan's crypt
/// rule to `recipients` (`age1…`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CreationRule {
    /// Regular expression over file paths relative to the `.sops.yaml`,
    /// e.g. `^staging/.*/secret-[^/]*\.yaml$`.
    pub path_regex: String,
    /// Age recipients (`age1…`) the matching files are encrypted to.
    pub recipients: Vec<String>,
}

/// The text of a `.sops.yaml` for an output root holding `rules`, so
/// `sops edit` and `sops updatekeys` on a rendered Secret keep its form.
pub fn sops_config(rules: &[CreationRule]) -> String {
    let mut out = String::from(
        "# Written by Capstan: how sops encrypts the rendered Secrets in this tree.\ncreation_rules:\n",
    );
    for rule in rules {
        out.push_str(&format!(
            "    - path_regex: {}\n      encrypted_regex: {}\n      age: {}\n",
            yaml::scalar_text(&rule.path_regex),
            yaml::scalar_text(ENCRYPTED_REGEX),
            yaml::scalar_text(&rule.recipients.join(",")),
        ));
    }
    out
}

/// The rules of a `.sops.yaml` [`sops_config`] wrote; `None` when the text
/// is not one (another tool's or a person's `.sops.yaml`).
pub fn creation_rules(text: &str) -> Option<Vec<CreationRule>> {
    #[derive(serde::Deserialize)]
    struct Config {
        creation_rules: Vec<Rule>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Rule {
        path_regex: String,
        encrypted_regex: String,
        age: String,
    }
    let config: Config = serde_norway::from_str(text).ok()?;
    config
        .creation_rules
        .into_iter()
        .map(|r| {
            (r.encrypted_regex == ENCRYPTED_REGEX).then(|| CreationRule {
                path_regex: r.path_regex,
                recipients: r.age.split(',').map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect(),
            })
        })
        .collect()
}

/// A document split into its values and its `sops` block.
struct Parsed {
    entries: Vec<(String, tree::Node)>,
    block: metadata::Block,
}

impl Parsed {
    fn read(document: &[u8]) -> Result<Self, SopsError> {
        let not_sops = |reason: &str| SopsError::NotSops { reason: reason.to_owned() };
        let text = std::str::from_utf8(document).map_err(|_| not_sops("the file is not UTF-8"))?;
        // serde_norway's messages quote no values, only positions.
        let value: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| SopsError::NotSops { reason: e.to_string() })?;
        let serde_norway::Value::Mapping(mut map) = value else {
            return Err(not_sops("the document is not a mapping"));
        };
        let block = map.shift_remove("sops").ok_or_else(|| not_sops("there is no `sops` block"))?;
        let block = metadata::Block::parse(block)?;
        let tree::Node::Map(entries) = tree::from_yaml(serde_norway::Value::Mapping(map), "")? else {
            unreachable!("a mapping reads as a mapping")
        };
        Ok(Self { entries, block })
    }

    fn open(self, identities: &[age::x25519::Identity]) -> Result<Decrypted, SopsError> {
        let Parsed { entries, block } = self;
        let rule = block.rule()?;
        let mac_text =
            block.mac.as_deref().ok_or(SopsError::NotSops { reason: "there is no `mac`".to_owned() })?;
        let key = block.open_data_key(identities)?;
        let mut document = tree::Node::Map(entries);
        let mut mac = tree::Mac::new();
        tree::decrypt(&mut document, &mut Vec::new(), &rule, &key, &mut mac)?;
        let (stored, _) = cipher::decrypt_value(&key, mac_text, &block.lastmodified, "sops.mac")
            .map_err(|_| SopsError::MacMismatch)?;
        if !constant_time_eq(&stored, mac.finish().as_bytes()) {
            return Err(SopsError::MacMismatch);
        }
        Ok(Decrypted {
            manifest: ClearManifest(tree::to_json(document)),
            recipients: block.age.iter().map(|s| s.recipient.clone()).collect(),
            last_modified: block.lastmodified.clone(),
            encrypted_regex: block.encrypted_regex().map(str::to_owned),
        })
    }
}

/// Compares MACs without stopping at the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
