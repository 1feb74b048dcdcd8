//! Revisions: what an environment looked like after each apply that changed
//! it, kept so an operator can see the history and go back to one.
//!
//! A revision is a snapshot of one environment, not a diff: each component's
//! state record as it stood after the apply, and its objects in full, so a
//! rollback can write them again without the plugin or the tree of the
//! time. Secret values are kept only as keyed hashes, as in state: a
//! rollback takes them from a fresh plan when the hash still matches, and
//! says so when it does not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ComponentState, StateError, StateKey, digest};

/// The revision document's schema version.
pub const REVISION_VERSION: u32 = 1;

/// How many revisions per environment are kept when client.hcl's `state`
/// block sets no `revisions`.
pub const DEFAULT_REVISIONS_KEPT: usize = 50;

/// One environment after one apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// The environment's name in the header; the number, who and when below.
    #[serde(flatten)]
    pub head: RevisionHead,
    /// By component key: every component of the environment recorded after
    /// the apply, changed or not.
    pub components: BTreeMap<String, RevisionComponent>,
}

/// What `capstan history` lists of a revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevisionHead {
    /// [`REVISION_VERSION`].
    pub version: u32,
    /// The environment, e.g. `staging`.
    pub environment: String,
    /// 1 for the environment's first revision, then one more each time; the
    /// backend assigns it.
    pub number: u64,
    /// RFC 3339, UTC.
    pub at: String,
    /// Who ran it: `user@host`, or the CI job that did.
    pub by: String,
    /// `apply`, or `rollback to 3`.
    pub operation: String,
    /// The digest of the plan that was applied (secrets keyed-hashed).
    pub plan_digest: String,
    /// A digest of the stack's configuration files as they were read.
    pub tree_digest: String,
    /// The Git commit the stack was checked out at, when it is in a Git work tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// Components applied or removed by this run.
    pub changed: Vec<String>,
    /// Components removed by this run (also listed in `changed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// One component in a revision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RevisionComponent {
    /// Its state record, as state held it after the apply.
    pub state: ComponentState,
    /// Its objects in full, in the order applied, each Secret's values
    /// replaced by keyed hashes ([`redact_secret_values`]). `None` when the
    /// run did not plan the component and no earlier revision had them.
    pub objects: Option<Vec<Value>>,
    /// Each effect's summary as the plan showed it, by effect id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub effects: BTreeMap<String, String>,
}

impl Revision {
    /// Parses a revision, its schema version checked first.
    pub fn from_json(text: &str, location: &str) -> Result<Self, StateError> {
        check_version(text, location)?;
        serde_json::from_str(text)
            .map_err(|source| StateError::Parse { location: location.to_string(), source })
    }
}

impl RevisionHead {
    /// Reads only the head of a stored revision.
    pub fn from_json(text: &str, location: &str) -> Result<Self, StateError> {
        check_version(text, location)?;
        serde_json::from_str(text)
            .map_err(|source| StateError::Parse { location: location.to_string(), source })
    }
}

fn check_version(text: &str, location: &str) -> Result<(), StateError> {
    #[derive(Deserialize)]
    struct Probe {
        version: u32,
    }
    let probe: Probe = serde_json::from_str(text)
        .map_err(|source| StateError::Parse { location: location.to_string(), source })?;
    if probe.version == REVISION_VERSION {
        return Ok(());
    }
    Err(StateError::VersionMismatch {
        location: location.to_string(),
        found: probe.version,
        supported: REVISION_VERSION,
        hint: if probe.version > REVISION_VERSION {
            "it was written by a newer capstan: upgrade capstan"
        } else {
            "it was written by an older capstan that this one cannot read"
        },
    })
}

/// `object` with each value of a Secret's `data` and `stringData` replaced by
/// its keyed hash under `key`; any other object unchanged. The digest state
/// records for an object is the digest of this form.
pub fn redact_secret_values(key: &StateKey, object: &Value) -> Value {
    let mut redacted = object.clone();
    if !digest::is_secret(object) {
        return redacted;
    }
    for field in ["data", "stringData"] {
        if let Some(Value::Object(map)) = redacted.get_mut(field) {
            for v in map.values_mut() {
                *v = Value::String(secret_value_hash(key, v));
            }
        }
    }
    redacted
}

/// The keyed hash a Secret's value is kept as.
pub fn secret_value_hash(key: &StateKey, value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => digest::canonical_json(other),
    };
    key.hash(text.as_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secret_keeps_only_keyed_hashes_and_its_digest_is_the_state_digest() {
        let key = StateKey::from_bytes([5; 32]);
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "n"}, "stringData": {"password": "hunter2"}});
        let redacted = redact_secret_values(&key, &secret);
        assert!(!redacted.to_string().contains("hunter2"));
        assert_eq!(redacted["stringData"]["password"], json!(secret_value_hash(&key, &json!("hunter2"))));
        assert_eq!(
            crate::sha256_digest(crate::canonical_json(&redacted).as_bytes()),
            crate::object_digest(&key, &secret)
        );
        let map =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}});
        assert_eq!(redact_secret_values(&key, &map), map);
    }

    #[test]
    fn a_revision_from_a_newer_capstan_is_refused() {
        let err = RevisionHead::from_json(r#"{"version": 7}"#, "1.json").unwrap_err().to_string();
        assert!(err.contains("schema version 7"), "{err}");
    }
}
