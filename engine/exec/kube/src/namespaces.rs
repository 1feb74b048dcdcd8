//! Namespaces the cluster must have before a component's objects can live
//! in them, and the namespaces Capstan must never delete.
//!
//! - A namespace an object lives in that no plugin plans as a Namespace
//!   object is created (server-side apply, labelled as Capstan's) when it
//!   does not exist. It belongs to no component: every component of the
//!   namespace, and other tools, may have objects in it, so Capstan never
//!   deletes it — as `helm install --create-namespace` does not.
//! - A Namespace object a plugin plans that already existed, made by
//!   someone else, is marked adopted before Capstan first applies it; prune
//!   and destroy keep an adopted namespace, with everything in it.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use capstan_core::inventory::MANAGED_BY;

use crate::ObjectRef;
use crate::object::is_namespace;

/// Marks a namespace that existed before Capstan applied it; its value is
/// the component that found it there.
pub const ADOPTED_ANNOTATION: &str = "capstan.dev/adopted";

/// The namespaces `objects` live in that none of them is the Namespace of.
pub(crate) fn unplanned<'a>(objects: impl Iterator<Item = &'a ObjectRef> + Clone) -> BTreeSet<String> {
    let planned: BTreeSet<&str> =
        objects.clone().filter(|k| is_namespace(k)).map(|k| k.name.as_str()).collect();
    objects.filter_map(|k| k.namespace.clone()).filter(|ns| !planned.contains(ns.as_str())).collect()
}

pub(crate) fn key(name: &str) -> ObjectRef {
    ObjectRef { api_version: "v1".into(), kind: "Namespace".into(), namespace: None, name: name.into() }
}

/// What Capstan applies to create a namespace nobody planned: its name and
/// Capstan's label, no component annotation (no component owns it).
pub(crate) fn manifest(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {MANAGED_BY.0: MANAGED_BY.1}},
    })
}

/// The merge patch that marks a namespace adopted by `owner`.
pub(crate) fn adoption_patch(owner: &str) -> Value {
    json!({"metadata": {"annotations": {ADOPTED_ANNOTATION: owner}}})
}

pub(crate) fn is_adopted(live: &Value) -> bool {
    live.pointer("/metadata/annotations").and_then(|a| a.get(ADOPTED_ANNOTATION)).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_in(kind: &str, namespace: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: name.into(),
        }
    }

    #[test]
    fn the_namespaces_objects_live_in_less_those_planned_as_objects() {
        let keys = [
            key_in("Service", Some("shop"), "api"),
            key_in("ConfigMap", Some("billing"), "rates"),
            key_in("Secret", Some("shop"), "api"),
            key("billing"),
            key_in("ClusterRole", None, "reader"),
        ];
        assert_eq!(unplanned(keys.iter()), BTreeSet::from(["shop".to_string()]));
    }
}
