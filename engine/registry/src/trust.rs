//! The trust policy of client.hcl: which publisher keys may sign which
//! plugin names.
//!
//! ```hcl
//! trust "acme" {
//!   keys    = ["capstan-ed25519-v1:…"]   # and/or key_files = ["keys/acme.pub"]
//!   plugins = ["acme/*"]                 # globs; default "<label>/*"
//! }
//! ```
//!
//! A key listed in no trust block signs nothing; a key signs only the names
//! its blocks allow. Built-in plugins are outside this policy (they ship
//! inside the engine binary).

use std::path::Path;

use serde_json::Value;

use crate::bundle::Bundle;
use crate::error::{RegistryError, Result};
use crate::signature::{PublicKey, verified_signer};

/// One `trust` block: a publisher's keys and the plugin names they may sign.
#[derive(Clone, Debug)]
pub struct TrustRule {
    /// The block's label, e.g. `acme`; what the lock file records as signer.
    pub publisher: String,
    /// Every key of the block's `keys` and `key_files`.
    pub keys: Vec<PublicKey>,
    /// Globs over plugin names: `*` is any run of characters, `?` one.
    pub plugins: Vec<String>,
}

/// Every `trust` block of client.hcl. The default, no rules, trusts no key.
#[derive(Clone, Debug, Default)]
pub struct TrustPolicy {
    /// The blocks, in file order.
    pub rules: Vec<TrustRule>,
}

/// Who vouched for a bundle, as recorded in capstan.lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Signer {
    /// Signed by a key whose `trust` block allows the plugin.
    Trusted {
        /// That block's label, e.g. `acme`.
        publisher: String,
        /// The signing key, `ed25519:<16 hex>`.
        key_id: String,
    },
    /// Accepted only because the operator passed `--allow-unsigned`.
    Unsigned,
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Trusted { publisher, key_id } => write!(f, "{publisher} ({key_id})"),
            Signer::Unsigned => f.write_str("unsigned"),
        }
    }
}

impl TrustPolicy {
    /// Reads client.hcl's `trust` blocks; `root` is the stack root that
    /// `key_files` are relative to.
    pub fn from_config(blocks: &[capstan_config::Trust], root: &Path) -> Result<Self> {
        let mut rules = Vec::new();
        for block in blocks {
            let publisher = block.name.clone().ok_or_else(|| RegistryError::Trust {
                publisher: String::new(),
                reason: "a trust block needs the publisher as its label: trust \"acme\" { … }".into(),
            })?;
            let err = |reason: String| RegistryError::Trust { publisher: publisher.clone(), reason };
            if let Some(unknown) = block
                .settings
                .keys()
                .find(|k| !["key", "keys", "key_file", "key_files", "plugins"].contains(&k.as_str()))
            {
                return Err(err(format!("unknown setting `{unknown}` (expected keys, key_files, plugins)")));
            }
            let mut keys = Vec::new();
            for text in strings(&block.settings, &["key", "keys"]).map_err(&err)? {
                keys.push(PublicKey::parse(&text).map_err(|e| err(format!("key {text:?}: {e}")))?);
            }
            for file in strings(&block.settings, &["key_file", "key_files"]).map_err(&err)? {
                keys.push(PublicKey::read(&root.join(&file))?);
            }
            if keys.is_empty() {
                return Err(err(
                    "lists no key (keys = [\"capstan-ed25519-v1:…\"] or key_files = [\"….pub\"])".into(),
                ));
            }
            let mut plugins = strings(&block.settings, &["plugins"]).map_err(&err)?;
            if plugins.is_empty() {
                plugins.push(format!("{publisher}/*"));
            }
            rules.push(TrustRule { publisher, keys, plugins });
        }
        Ok(Self { rules })
    }

    /// Checks that `bundle` may provide `plugin`: the signature is sound and
    /// by a key whose trust block allows that name. `allow_unsigned` lets an
    /// unsigned bundle through (plugin development only); it never lets a
    /// bad or untrusted signature through.
    pub fn check(&self, bundle: &Bundle, plugin: &str, allow_unsigned: bool) -> Result<Signer> {
        let Some(key) = verified_signer(bundle)? else {
            if allow_unsigned {
                tracing::warn!(
                    "USING UNSIGNED PLUGIN {plugin} from {} because of --allow-unsigned: \
                     nothing vouches for this code; never do this outside plugin development",
                    bundle.label
                );
                return Ok(Signer::Unsigned);
            }
            return Err(RegistryError::Unsigned { plugin: plugin.to_string(), bundle: bundle.label.clone() });
        };
        let holders: Vec<&TrustRule> = self.rules.iter().filter(|r| r.keys.contains(&key)).collect();
        if holders.is_empty() {
            return Err(RegistryError::UnknownSigner {
                plugin: plugin.to_string(),
                bundle: bundle.label.clone(),
                key_id: key.id(),
            });
        }
        match holders.iter().find(|r| r.plugins.iter().any(|g| glob_match(g, plugin))) {
            Some(rule) => Ok(Signer::Trusted { publisher: rule.publisher.clone(), key_id: key.id() }),
            None => Err(RegistryError::UntrustedSigner {
                plugin: plugin.to_string(),
                bundle: bundle.label.clone(),
                publisher: holders[0].publisher.clone(),
                key_id: key.id(),
                allowed: holders.iter().flat_map(|r| r.plugins.iter().cloned()).collect(),
            }),
        }
    }
}

/// One string or a list of strings, under any of `names`.
fn strings(settings: &serde_json::Map<String, Value>, names: &[&str]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in names {
        match settings.get(*name) {
            None => {}
            Some(Value::String(s)) => out.push(s.clone()),
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        other => return Err(format!("`{name}` holds {other}, expected strings")),
                    }
                }
            }
            Some(other) => {
                return Err(format!("`{name}` is {other}, expected a string or a list of strings"));
            }
        }
    }
    Ok(out)
}

/// `*` matches any run of characters (also `/`), `?` exactly one.
pub fn glob_match(glob: &str, name: &str) -> bool {
    let (g, n): (Vec<char>, Vec<char>) = (glob.chars().collect(), name.chars().collect());
    // Classic two-pointer wildcard match: linear, no backtracking blow-up.
    let (mut gi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if gi < g.len() && (g[gi] == '?' || g[gi] == n[ni]) {
            gi += 1;
            ni += 1;
        } else if gi < g.len() && g[gi] == '*' {
            star = Some(gi);
            mark = ni;
            gi += 1;
        } else if let Some(s) = star {
            gi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}
