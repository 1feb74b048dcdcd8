//! What the engine does to every object a plugin returns before it is
//! compared or applied: check its shape, put it in the component's namespace,
//! and label it so the inventory never has to guess what belongs to whom.

use serde_json::{Map, Value};

use capstan_core::ComponentId;

use crate::seams::ObjectRef;

pub use capstan_core::inventory::{COMPONENT_ANNOTATION, MANAGED_BY};

/// Kinds that live outside any namespace. A plugin may also set no
/// namespace on a custom cluster-scoped kind; those it must name here by
/// leaving `metadata.namespace` out *and* being listed, or the engine would
/// put them in the component's namespace.
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "ClusterIssuer",
    "ClusterPolicy",
    "ClusterRole",
    "ClusterRoleBinding",
    "ClusterSecretStore",
    "CustomResourceDefinition",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "PersistentVolume",
    "PriorityClass",
    "StorageClass",
    "ValidatingWebhookConfiguration",
];

/// Normalises one object; an error says what is wrong with it.
pub fn normalise(
    component: &ComponentId,
    key: &str,
    index: usize,
    mut object: Value,
) -> Result<Value, String> {
    let Some(map) = object.as_object_mut() else {
        return Err(format!("object {index} is not a JSON object"));
    };
    for field in ["apiVersion", "kind"] {
        if !is_non_empty_str(map.get(field)) {
            return Err(format!("object {index} has no {field}"));
        }
    }
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    let metadata = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return Err(format!("object {index} ({kind}) has a metadata that is not an object"));
    };
    if !is_non_empty_str(metadata.get("name")) {
        return Err(format!("object {index} ({kind}) has no metadata.name"));
    }
    if !CLUSTER_SCOPED.contains(&kind.as_str()) && !metadata.contains_key("namespace") {
        metadata.insert("namespace".into(), Value::String(component.namespace.clone()));
    }
    let labels = metadata.entry("labels").or_insert_with(|| Value::Object(Map::new()));
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(MANAGED_BY.0.into(), Value::String(MANAGED_BY.1.into()));
    }
    let annotations = metadata.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(COMPONENT_ANNOTATION.into(), Value::String(key.to_string()));
    }
    Ok(object)
}

fn is_non_empty_str(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

/// Refuses two objects with the same kind, namespace and name in one plan.
pub fn check_unique(objects: &[Value]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for o in objects {
        if let Ok(r) = ObjectRef::of(o)
            && !seen.insert(r.clone())
        {
            return Err(format!("{r} is planned twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn id() -> ComponentId {
        ComponentId { name: "api".into(), environment: "staging".into(), namespace: "shop".into() }
    }

    #[test]
    fn namespaced_objects_land_in_the_components_namespace_and_are_labelled() {
        let o = normalise(
            &id(),
            "envs/staging/shop/api",
            0,
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}}),
        )
        .expect("valid");
        assert_eq!(o["metadata"]["namespace"], "shop");
        assert_eq!(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "capstan");
        assert_eq!(o["metadata"]["annotations"]["capstan.dev/component"], "envs/staging/shop/api");
        let c = normalise(&id(), "k", 0, json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}}))
            .expect("valid");
        assert!(c["metadata"].get("namespace").is_none());
    }

    #[test]
    fn malformed_objects_are_refused_with_what_is_missing() {
        assert_eq!(normalise(&id(), "k", 2, json!([1])).unwrap_err(), "object 2 is not a JSON object");
        assert_eq!(
            normalise(&id(), "k", 0, json!({"kind": "Service"})).unwrap_err(),
            "object 0 has no apiVersion"
        );
        assert_eq!(
            normalise(&id(), "k", 1, json!({"apiVersion": "v1", "kind": "Service", "metadata": {}}))
                .unwrap_err(),
            "object 1 (Service) has no metadata.name"
        );
    }
}
