//! Naming one Kubernetes object: the one reference the planner, state, the
//! render target and the kube target share.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Names one Kubernetes object: what a plan creates, state records and a
/// target is asked about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `apiVersion`, such as `apps/v1` or `v1`.
    pub api_version: String,
    /// `kind`, such as `Deployment`.
    pub kind: String,
    /// None for a cluster-scoped object (or a namespaced one the engine
    /// has not yet placed in its component's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

/// A manifest lacks a field every object needs (`apiVersion`, `kind` or
/// `metadata.name`), or has it empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingField(pub &'static str);

impl std::fmt::Display for MissingField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "it has no {}", self.0)
    }
}

impl std::error::Error for MissingField {}

impl ObjectRef {
    /// The reference a manifest carries.
    pub fn of(manifest: &Value) -> Result<Self, MissingField> {
        let field = |path: &str| manifest.pointer(path).and_then(Value::as_str).filter(|s| !s.is_empty());
        Ok(Self {
            api_version: field("/apiVersion").ok_or(MissingField("apiVersion"))?.to_string(),
            kind: field("/kind").ok_or(MissingField("kind"))?.to_string(),
            namespace: field("/metadata/namespace").map(str::to_string),
            name: field("/metadata/name").ok_or(MissingField("metadata.name"))?.to_string(),
        })
    }

    /// The API group and version: `apps/v1` → (`apps`, `v1`), `v1` → (``, `v1`).
    pub fn group_version(&self) -> (&str, &str) {
        self.api_version.split_once('/').unwrap_or(("", &self.api_version))
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_names_its_object_or_the_field_it_lacks() {
        let deployment = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "web"}
        });
        let r = ObjectRef::of(&deployment).unwrap();
        assert_eq!(r.to_string(), "Deployment web/api");
        assert_eq!(r.group_version(), ("apps", "v1"));
        let unnamed = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ""}});
        assert_eq!(ObjectRef::of(&unnamed).unwrap_err().to_string(), "it has no metadata.name");
        assert_eq!(ObjectRef::of(&serde_json::json!({})), Err(MissingField("apiVersion")));
    }
}
