//! The state document: what each component applied, as recorded after apply.
//!
//! `BTreeMap`s and `Vec`s in the order the engine gave keep the JSON output
//! deterministic, so two runs that applied the same thing write the same bytes
//! (apart from `serial` and `applied_at`).

use std::collections::BTreeMap;

use capstan_core::{ComponentId, Effect, ObjectRef, Output};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{StateError, StateKey, effect_digest, object_digest};

/// The schema version this crate reads and writes. A state written by a newer
/// Capstan is refused rather than misread.
pub const STATE_VERSION: u32 = 1;

/// All that was applied in one stack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Schema version, [`STATE_VERSION`].
    pub version: u32,
    /// Bumped by the backend on every write.
    pub serial: u64,
    /// Random id given when the stack's state is first created; a state from
    /// another stack is never written over this one.
    pub lineage: String,
    /// Keyed by [`component_key`], such as `envs/staging/core/api`.
    pub components: BTreeMap<String, ComponentState>,
}

impl State {
    /// An empty state with a fresh lineage.
    pub fn new() -> Result<Self, StateError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(StateError::Random)?;
        Ok(Self {
            version: STATE_VERSION,
            serial: 0,
            lineage: hex::encode(bytes),
            components: BTreeMap::new(),
        })
    }

    /// Parses a state document, checking the schema version before anything
    /// else so an unknown layout gives a version error, not a field error.
    pub(crate) fn from_json(text: &str, location: &str) -> Result<Self, StateError> {
        #[derive(Deserialize)]
        struct Probe {
            version: u32,
        }
        let probe: Probe = serde_json::from_str(text)
            .map_err(|source| StateError::Parse { location: location.to_string(), source })?;
        check_version(probe.version, location)?;
        serde_json::from_str(text)
            .map_err(|source| StateError::Parse { location: location.to_string(), source })
    }

    /// The recorded state of component `id`, if it was applied.
    pub fn component(&self, id: &ComponentId) -> Option<&ComponentState> {
        self.components.get(&component_key(id))
    }
}

pub(crate) fn check_version(found: u32, location: &str) -> Result<(), StateError> {
    if found == STATE_VERSION {
        return Ok(());
    }
    Err(StateError::VersionMismatch {
        location: location.to_string(),
        found,
        supported: STATE_VERSION,
        hint: if found > STATE_VERSION {
            "it was written by a newer capstan: upgrade capstan"
        } else {
            "it was written by an older capstan that this one cannot migrate"
        },
    })
}

/// The state key of a component: `envs/<env>/<namespace>/<name>`, the path of
/// its directory in the stack.
pub fn component_key(id: &ComponentId) -> String {
    format!("envs/{}/{}/{}", id.environment, id.namespace, id.name)
}

/// What one component applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComponentState {
    /// Which component: environment, namespace and name.
    pub id: ComponentId,
    /// The plugin build that planned it.
    pub plugin: PluginRef,
    /// [`crate::inputs_digest`] of the inputs it was planned with.
    pub inputs_digest: String,
    /// The inventory: every object applied, so pruning never guesses.
    pub objects: Vec<ObjectRecord>,
    /// The effects that ran, so an unchanged one is not run again.
    pub effects: Vec<EffectRecord>,
    /// The outputs dependents read.
    pub outputs: Vec<OutputRecord>,
    /// RFC 3339, UTC ([`crate::now_rfc3339`]).
    pub applied_at: String,
}

/// Which plugin build planned the component.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRef {
    /// Plugin name from its metadata, e.g. `capstan/app`.
    pub name: String,
    /// Plugin version (semver), e.g. `0.3.1`.
    pub version: String,
    /// Digest of the plugin's wasm.
    pub digest: String,
}

/// One applied Kubernetes object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Which object (flattened: the state file keeps its four fields at
    /// the record's top level).
    #[serde(flatten)]
    pub object: ObjectRef,
    /// [`crate::object_digest`]: Secret values keyed-hashed.
    pub digest: String,
}

impl ObjectRecord {
    /// Records object number `index` of a component's plan.
    pub fn from_manifest(key: &StateKey, index: usize, object: &Value) -> Result<Self, StateError> {
        let reference = ObjectRef::of(object)
            .map_err(|missing| StateError::InvalidObject { index, why: missing.to_string() })?;
        Ok(Self { object: reference, digest: object_digest(key, object) })
    }
}

/// One effect that ran, and what it returned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EffectRecord {
    /// The effect's id, unique within the component.
    pub id: String,
    /// [`crate::effect_digest`]: passwords keyed-hashed.
    pub digest: String,
    /// The body the effect returned, handed back to the plugin on later plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

impl EffectRecord {
    /// Records `effect`, with its digest under `key`, and what it returned.
    pub fn new(key: &StateKey, effect: &Effect, result: Option<Value>) -> Self {
        Self { id: effect.id.clone(), digest: effect_digest(key, effect), result }
    }
}

/// One output. A sensitive output keeps only its keyed hash: dependents that
/// need the value get it from a fresh plan, never from state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// The output's name, as dependents read it.
    pub name: String,
    /// Whether the plugin marked it sensitive; then only its keyed hash is kept.
    pub sensitive: bool,
    /// The value; always `None` when `sensitive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// Plain SHA-256 of the canonical value, or its keyed hash when sensitive.
    pub digest: String,
}

impl OutputRecord {
    /// Records `output`: the value and its SHA-256, or only a hash under
    /// `key` when it is sensitive.
    pub fn from_output(key: &StateKey, output: &Output) -> Self {
        let canonical = crate::canonical_json(&output.value);
        if output.sensitive {
            Self {
                name: output.name.clone(),
                sensitive: true,
                value: None,
                digest: key.hash(canonical.as_bytes()),
            }
        } else {
            Self {
                name: output.name.clone(),
                sensitive: false,
                value: Some(output.value.clone()),
                digest: crate::sha256_digest(canonical.as_bytes()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_outputs_keep_only_a_keyed_hash() {
        let key = StateKey::from_bytes([3; 32]);
        let out = Output { name: "password".into(), value: json!("hunter2"), sensitive: true };
        let rec = OutputRecord::from_output(&key, &out);
        assert_eq!(rec.value, None);
        assert!(!serde_json::to_string(&rec).unwrap().contains("hunter2"));
        let plain = Output { name: "host".into(), value: json!("db"), sensitive: false };
        assert_eq!(OutputRecord::from_output(&key, &plain).value, Some(json!("db")));
    }

    #[test]
    fn object_record_needs_kind_and_name() {
        let key = StateKey::from_bytes([3; 32]);
        let ok = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "c", "namespace": "n"}});
        let rec = ObjectRecord::from_manifest(&key, 0, &ok).unwrap();
        assert_eq!((rec.object.kind.as_str(), rec.object.namespace.as_deref()), ("ConfigMap", Some("n")));
        let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
        let err = ObjectRecord::from_manifest(&key, 4, &bad).unwrap_err().to_string();
        assert_eq!(err, "cannot record object #4: it has no metadata.name");
    }

    #[test]
    fn newer_schema_is_refused_with_a_clear_error() {
        let text = r#"{"version": 99, "serial": 1, "lineage": "x", "components": {}, "new": 1}"#;
        let err = State::from_json(text, "state.json").unwrap_err().to_string();
        assert!(err.contains("schema version 99"), "{err}");
        assert!(err.contains("upgrade capstan"), "{err}");
    }
}
