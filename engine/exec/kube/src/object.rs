//! Naming one object, and the order objects are applied and deleted in.

use serde_json::Value;

use crate::KubeError;

pub use capstan_core::ObjectRef;

/// The reference a manifest carries, or why it has none, naming the object
/// as far as it can.
pub(crate) fn object_ref(manifest: &Value) -> Result<ObjectRef, KubeError> {
    ObjectRef::of(manifest).map_err(|missing| {
        let field = |path: &str| manifest.pointer(path).and_then(Value::as_str).filter(|s| !s.is_empty());
        KubeError::InvalidObject {
            object: format!(
                "{} {}",
                field("/kind").unwrap_or("object"),
                field("/metadata/name").unwrap_or("(unnamed)")
            ),
            why: missing.to_string(),
        }
    })
}

pub(crate) fn is_namespace(key: &ObjectRef) -> bool {
    key.kind == "Namespace" && key.api_version == "v1"
}

pub(crate) fn is_crd(key: &ObjectRef) -> bool {
    key.kind == "CustomResourceDefinition" && key.group_version().0 == "apiextensions.k8s.io"
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
    pub(crate) fn of(key: &ObjectRef) -> Self {
        if is_namespace(key) {
            Stage::Namespaces
        } else if is_crd(key) {
            Stage::Definitions
        } else {
            Stage::Objects
        }
    }
}

/// The order objects are deleted in: the apply order reversed, so custom
/// resources go before their CRD and a namespace goes last.
pub(crate) fn delete_order(keys: &[ObjectRef]) -> Vec<ObjectRef> {
    let mut out: Vec<ObjectRef> = keys.iter().rev().cloned().collect();
    // A stable sort keeps the reversed plan order inside each stage.
    out.sort_by_key(|k| std::cmp::Reverse(Stage::of(k)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(api_version: &str, kind: &str, name: &str) -> ObjectRef {
        ObjectRef { api_version: api_version.into(), kind: kind.into(), namespace: None, name: name.into() }
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
        let err = object_ref(&serde_json::json!({"apiVersion": "v1", "kind": "Service"})).unwrap_err();
        assert_eq!(err.to_string(), "Service (unnamed): it has no metadata.name");
        assert_eq!(key("apps/v1", "Deployment", "x").group_version(), ("apps", "v1"));
        assert_eq!(key("v1", "Service", "x").group_version(), ("", "v1"));
    }
}
