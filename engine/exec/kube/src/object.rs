//! Naming one object, and the order objects are applied and deleted in.

use serde_json::Value;

use crate::KubeError;

/// Names one Kubernetes object: what the cluster is asked about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    /// Reads the key out of a manifest.
    pub fn of(manifest: &Value) -> Result<Self, KubeError> {
        let field = |path: &str| manifest.pointer(path).and_then(Value::as_str).filter(|s| !s.is_empty());
        let missing = |what: &str| KubeError::InvalidObject {
            object: format!(
                "{} {}",
                field("/kind").unwrap_or("object"),
                field("/metadata/name").unwrap_or("(unnamed)")
            ),
            why: format!("it has no {what}"),
        };
        Ok(Self {
            api_version: field("/apiVersion").ok_or_else(|| missing("apiVersion"))?.to_string(),
            kind: field("/kind").ok_or_else(|| missing("kind"))?.to_string(),
            namespace: field("/metadata/namespace").map(str::to_string),
            name: field("/metadata/name").ok_or_else(|| missing("metadata.name"))?.to_string(),
        })
    }

    /// The API group and version: `apps/v1` → (`apps`, `v1`), `v1` → (``, `v1`).
    pub fn group_version(&self) -> (&str, &str) {
        self.api_version.split_once('/').unwrap_or(("", &self.api_version))
    }

    pub(crate) fn is_namespace(&self) -> bool {
        self.kind == "Namespace" && self.api_version == "v1"
    }

    pub(crate) fn is_crd(&self) -> bool {
        self.kind == "CustomResourceDefinition" && self.group_version().0 == "apiextensions.k8s.io"
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// Where an object goes in the apply order: namespaces first (everything
/// else may live in them), CRDs next (their custom resources cannot be
/// created before the API serves them), then the rest in plan order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    Namespaces,
    Definitions,
    Objects,
}

impl Stage {
    pub(crate) fn of(key: &ObjectKey) -> Self {
        if key.is_namespace() {
            Stage::Namespaces
        } else if key.is_crd() {
            Stage::Definitions
        } else {
            Stage::Objects
        }
    }
}

/// The order objects are deleted in: the apply order reversed, so custom
/// resources go before their CRD and a namespace goes last.
pub(crate) fn delete_order(keys: &[ObjectKey]) -> Vec<ObjectKey> {
    let mut out: Vec<ObjectKey> = keys.iter().rev().cloned().collect();
    // A stable sort keeps the reversed plan order inside each stage.
    out.sort_by_key(|k| std::cmp::Reverse(Stage::of(k)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(api_version: &str, kind: &str, name: &str) -> ObjectKey {
        ObjectKey { api_version: api_version.into(), kind: kind.into(), namespace: None, name: name.into() }
    }

    #[test]
    fn deletion_runs_custom_resources_then_crds_then_namespaces() {
        let keys = [
            key("v1", "Namespace", "shop"),
            key("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com"),
            key("apps/v1", "Deployment", "api"),
            key("example.com/v1", "Widget", "w"),
        ];
        let names: Vec<String> = delete_order(&keys).into_iter().map(|k| k.name).collect();
        assert_eq!(names, ["w", "api", "widgets.example.com", "shop"]);
    }

    #[test]
    fn a_manifest_without_a_name_is_refused_naming_what_is_missing() {
        let err = ObjectKey::of(&serde_json::json!({"apiVersion": "v1", "kind": "Service"})).unwrap_err();
        assert_eq!(err.to_string(), "Service (unnamed): it has no metadata.name");
        assert_eq!(key("apps/v1", "Deployment", "x").group_version(), ("apps", "v1"));
        assert_eq!(key("v1", "Service", "x").group_version(), ("", "v1"));
    }
}
