//! The kits as data: for each component type, the representative inputs a
//! backend of that type must plan and the bad inputs its `validate` must
//! refuse. The files live in `wit/contracts/kits/<type>.json`, beside the
//! contracts they exercise, and are embedded here.
//!
//! A type's inputs are mostly each backend's own business (their schemas
//! differ), so a case holds the inputs every backend of the type shares
//! (`postgres`'s `apps`, `messaging`'s `queues`) and, under `backends`, what
//! a named backend needs on top (its server's host, its region). A backend
//! the kit does not name gets the shared inputs over its own defaults.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// The kit of one component type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kit {
    /// The type the kit is for, e.g. `postgres`; the file's name without `.json`.
    pub component_type: String,
    /// Bumped whenever the kit's checks or cases change what they demand.
    pub version: u32,
    /// Custom resource kinds the backends of this type render whose CRD is
    /// not among those the validator has, each with the reason: the report
    /// names them, so nothing goes unchecked silently.
    #[serde(default)]
    pub missing_crds: Vec<MissingCrd>,
    /// The requests every backend of the type must validate and plan.
    pub cases: Vec<Case>,
    /// The inputs `validate` must refuse; none: the `bad-inputs` check passes.
    #[serde(default)]
    pub bad_inputs: Vec<BadInput>,
}

/// A kind the validator may find no CRD for (`group/version/Kind`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissingCrd {
    /// As `apiVersion/kind`, e.g. `dapr.io/v1alpha1/Component`.
    pub kind: String,
    /// Why the validator has no CRD for it; the report prints it.
    pub reason: String,
}

/// One representative request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case is, e.g. `one app`; the report names failures by it.
    pub name: String,
    /// Inputs every backend of the type accepts, merged over the plugin's defaults.
    #[serde(default = "empty_object")]
    pub inputs: Value,
    /// Per backend (its metadata's `backend`): top-level inputs that replace those of `inputs`.
    #[serde(default)]
    pub backends: BTreeMap<String, Value>,
    /// JSON pointers into the merged inputs whose values are secrets: they
    /// reach the plugin as the request's `sensitive_paths`.
    #[serde(default)]
    pub sensitive: Vec<String>,
    /// The dependencies' outputs, by dependency name.
    #[serde(default)]
    pub dependencies: BTreeMap<String, KitDependency>,
}

/// A dependency's outputs as a case hands them over.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KitDependency {
    /// The dependency's component type, e.g. `messaging`.
    pub component_type: String,
    /// Its outputs, by output name.
    pub outputs: serde_json::Map<String, Value>,
    /// Outputs marked sensitive.
    #[serde(default)]
    pub sensitive: Vec<String>,
}

/// Inputs the plugin's `validate` must refuse, with a diagnostic at `path`
/// (or below it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BadInput {
    /// What is wrong with the inputs, e.g. `HTTP probes without a port`;
    /// the report names failures by it.
    pub name: String,
    /// As [`Case::inputs`]: shared by every backend, over the plugin's defaults.
    #[serde(default = "empty_object")]
    pub inputs: Value,
    /// As [`Case::backends`]: per backend, top-level inputs that replace those of `inputs`.
    #[serde(default)]
    pub backends: BTreeMap<String, Value>,
    /// As [`Case::sensitive`]: JSON pointers to secret values; the kit
    /// checks the refusal does not repeat them.
    #[serde(default)]
    pub sensitive: Vec<String>,
    /// The backends it is meant for, when it is about a backend's own
    /// inputs; empty: every backend of the type.
    #[serde(default)]
    pub only_backends: Vec<String>,
    /// The JSON pointer the refusal must point at or below.
    pub path: String,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// The kit files Capstan ships, by component type.
const KIT_FILES: &[(&str, &str)] = &[
    ("app", include_str!("../../../wit/contracts/kits/app.json")),
    ("cert-manager", include_str!("../../../wit/contracts/kits/cert-manager.json")),
    ("dapr", include_str!("../../../wit/contracts/kits/dapr.json")),
    ("external-secrets", include_str!("../../../wit/contracts/kits/external-secrets.json")),
    ("logs", include_str!("../../../wit/contracts/kits/logs.json")),
    ("messaging", include_str!("../../../wit/contracts/kits/messaging.json")),
    ("postgres", include_str!("../../../wit/contracts/kits/postgres.json")),
    ("spire", include_str!("../../../wit/contracts/kits/spire.json")),
    ("vault", include_str!("../../../wit/contracts/kits/vault.json")),
    ("waf", include_str!("../../../wit/contracts/kits/waf.json")),
];

/// The kit Capstan ships for `component_type`, or `None`: such a type gets
/// the generic checks over the plugin's defaults alone.
pub fn kit_for(component_type: &str) -> Option<Kit> {
    let (_, text) = KIT_FILES.iter().find(|(t, _)| *t == component_type)?;
    // The files are embedded and a unit test parses each, so this holds.
    let kit: Kit = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the embedded {component_type} kit is not a kit: {e}"));
    Some(kit)
}

/// The component types Capstan ships a kit for.
pub fn kit_types() -> impl Iterator<Item = &'static str> {
    KIT_FILES.iter().map(|(t, _)| *t)
}

/// The generic kit of a type Capstan ships none for: one case, the
/// plugin's defaults as they are, and no bad inputs.
pub(crate) fn generic(component_type: &str) -> Kit {
    Kit {
        component_type: component_type.to_owned(),
        version: 1,
        missing_crds: Vec::new(),
        cases: vec![Case {
            name: "the plugin's defaults".to_owned(),
            inputs: empty_object(),
            backends: BTreeMap::new(),
            sensitive: Vec::new(),
            dependencies: BTreeMap::new(),
        }],
        bad_inputs: Vec::new(),
    }
}

/// A case's inputs for `backend`: shared, then the backend's own on top.
pub(crate) fn case_inputs(shared: &Value, backends: &BTreeMap<String, Value>, backend: &str) -> Value {
    let mut inputs = shared.clone();
    if let (Value::Object(base), Some(Value::Object(own))) = (&mut inputs, backends.get(backend)) {
        for (k, v) in own {
            base.insert(k.clone(), v.clone());
        }
    }
    inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_kit_parses_and_names_its_own_type() {
        for t in kit_types() {
            let kit = kit_for(t).unwrap_or_else(|| panic!("no kit for {t}"));
            assert_eq!(kit.component_type, t);
            assert!(!kit.cases.is_empty(), "{t}: a kit without cases checks nothing");
            for bad in &kit.bad_inputs {
                assert!(bad.path.starts_with('/'), "{t}: {}: path {:?}", bad.name, bad.path);
            }
        }
        assert!(kit_for("cache").is_none());
    }
}
