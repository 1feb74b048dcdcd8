//! Reading `metadata.managedFields`: which fields of a live object a field
//! manager owns (the `fieldsV1` trie the API server keeps for server-side
//! apply), so the plan compares only what Capstan manages and a conflict
//! names the fields another manager holds.
//!
//! A `fieldsV1` trie has `f:<field>` for map keys, `k:<json>` for list
//! items picked by their merge key, `v:<json>` for set members, `i:<n>` for
//! list positions and `.` for "the node itself".

use serde_json::{Map, Value};

/// One manager's entry of `metadata.managedFields`.
pub(crate) struct Managed<'a> {
    pub(crate) manager: &'a str,
    pub(crate) subresource: &'a str,
    pub(crate) fields: &'a Value,
}

pub(crate) fn managed_fields(object: &Value) -> Vec<Managed<'_>> {
    let empty = &Value::Null;
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .map(|e| Managed {
                    manager: e.get("manager").and_then(Value::as_str).unwrap_or_default(),
                    subresource: e.get("subresource").and_then(Value::as_str).unwrap_or_default(),
                    fields: e.get("fieldsV1").unwrap_or(empty),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The part of `live` that `manager` owns, plus the identity every object
/// has (apiVersion, kind, name, namespace) — what the plan diffs against
/// the desired manifest: fields other managers or the server set (status,
/// defaults, uid) are not Capstan's and not a change.
pub fn owned_by(live: &Value, manager: &str) -> Value {
    let mut out = Map::new();
    for m in managed_fields(live) {
        if m.manager == manager
            && m.subresource.is_empty()
            && let Some(Value::Object(part)) = project(live, m.fields)
        {
            merge_into(&mut out, part);
        }
    }
    for field in ["apiVersion", "kind"] {
        if let Some(v) = live.get(field) {
            out.insert(field.into(), v.clone());
        }
    }
    let metadata = out.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if let Some(metadata) = metadata.as_object_mut() {
        for field in ["name", "namespace"] {
            if let Some(v) = live.pointer(&format!("/metadata/{field}")) {
                metadata.insert(field.into(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn merge_into(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(Value::Object(a)), Value::Object(b)) => merge_into(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// `live` cut down to the fields in `trie`; `None` where nothing is owned.
fn project(live: &Value, trie: &Value) -> Option<Value> {
    let trie = trie.as_object()?;
    if trie.is_empty() {
        return Some(live.clone());
    }
    match live {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, sub) in trie {
                if let Some(field) = k.strip_prefix("f:")
                    && let Some(v) = map.get(field)
                    && let Some(p) = project(v, sub)
                {
                    out.insert(field.to_string(), p);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                for (k, sub) in trie {
                    let hit = if let Some(key) = k.strip_prefix("k:") {
                        serde_json::from_str::<Map<String, Value>>(key)
                            .is_ok_and(|key| key.iter().all(|(f, v)| item.get(f) == Some(v)))
                    } else if let Some(v) = k.strip_prefix("v:") {
                        serde_json::from_str::<Value>(v).is_ok_and(|v| &v == item)
                    } else if let Some(n) = k.strip_prefix("i:") {
                        n.parse::<usize>().is_ok_and(|n| n == i)
                    } else {
                        false
                    };
                    if hit && let Some(p) = project(item, sub) {
                        out.push(p);
                        break;
                    }
                }
            }
            Some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}

/// One leaf of a trie: its segments (`f:spec`, `f:replicas`, …).
type FieldPath = Vec<String>;

fn leaves(trie: &Value, prefix: &mut FieldPath, out: &mut Vec<FieldPath>) {
    match trie.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, sub) in map {
                if k == "." {
                    continue;
                }
                prefix.push(k.clone());
                leaves(sub, prefix, out);
                prefix.pop();
            }
        }
        _ => out.push(prefix.clone()),
    }
}

/// The field paths a manifest sets, as `f:` segments (a list is one leaf:
/// the executor does not know merge keys, the server does).
fn applied_leaves(manifest: &Value, prefix: &mut FieldPath, out: &mut Vec<FieldPath>, top: bool) {
    match manifest.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, v) in map {
                if top && (k == "apiVersion" || k == "kind") {
                    continue;
                }
                if prefix.len() == 1 && prefix[0] == "f:metadata" && (k == "name" || k == "namespace") {
                    continue;
                }
                prefix.push(format!("f:{k}"));
                applied_leaves(v, prefix, out, false);
                prefix.pop();
            }
        }
        _ => out.push(prefix.clone()),
    }
}

/// The fields of `desired` that another manager owns on `live`, by
/// manager, written as the API server writes them (`.spec.replicas`).
/// Fields whose live value already equals the desired one are listed only
/// when nothing else overlaps (a server that counts them as conflicts).
pub(crate) fn conflicts(live: &Value, desired: &Value, manager: &str) -> Vec<(String, Vec<String>)> {
    let mut ours = Vec::new();
    applied_leaves(desired, &mut Vec::new(), &mut ours, true);
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for m in managed_fields(live) {
        if m.manager == manager || !m.subresource.is_empty() {
            continue;
        }
        let mut theirs = Vec::new();
        leaves(m.fields, &mut Vec::new(), &mut theirs);
        let mut differing = Vec::new();
        let mut same = Vec::new();
        for path in theirs {
            let plain: Vec<&str> = path.iter().map_while(|s| s.strip_prefix("f:")).collect();
            let overlaps = ours.iter().any(|o| {
                let o: Vec<&str> = o.iter().map(|s| s.trim_start_matches("f:")).collect();
                let n = o.len().min(plain.len());
                n > 0 && o[..n] == plain[..n]
            });
            if !overlaps {
                continue;
            }
            let pointer: String =
                plain.iter().map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1"))).collect();
            let equal = plain.len() == path.len() && live.pointer(&pointer) == desired.pointer(&pointer);
            if equal { same.push(display(&path)) } else { differing.push(display(&path)) }
        }
        let fields = if differing.is_empty() { same } else { differing };
        if !fields.is_empty() {
            out.push((m.manager.to_string(), fields));
        }
    }
    out
}

/// `f:spec/f:containers/k:{"name":"api"}/f:image` → `.spec.containers[name="api"].image`.
fn display(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if let Some(f) = seg.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = seg.strip_prefix("k:") {
            let key = serde_json::from_str::<Map<String, Value>>(k)
                .map(|m| m.iter().map(|(f, v)| format!("{f}={v}")).collect::<Vec<_>>().join(","))
                .unwrap_or_else(|_| k.to_string());
            out.push_str(&format!("[{key}]"));
        } else if let Some(v) = seg.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        } else if let Some(i) = seg.strip_prefix("i:") {
            out.push_str(&format!("[{i}]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn live() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "shop", "uid": "1", "labels": {"a": "1", "b": "2"},
                "managedFields": [
                    {"manager": "capstan", "operation": "Apply", "fieldsV1": {
                        "f:metadata": {"f:labels": {"f:a": {}}},
                        "f:spec": {"f:template": {"f:spec": {"f:containers": {
                            "k:{\"name\":\"api\"}": {".": {}, "f:name": {}, "f:image": {}}}}}}}},
                    {"manager": "kubectl", "operation": "Apply", "fieldsV1": {
                        "f:metadata": {"f:labels": {"f:b": {}}}, "f:spec": {"f:replicas": {}}}}
                ]},
            "spec": {"replicas": 5, "template": {"spec": {"containers": [
                {"name": "api", "image": "api:1", "imagePullPolicy": "IfNotPresent"},
                {"name": "sidecar", "image": "proxy:1"}]}}},
            "status": {"readyReplicas": 5}
        })
    }

    #[test]
    fn only_the_managers_fields_and_the_identity_are_kept() {
        assert_eq!(
            owned_by(&live(), "capstan"),
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "api", "namespace": "shop", "labels": {"a": "1"}},
                "spec": {"template": {"spec": {"containers": [{"name": "api", "image": "api:1"}]}}}
            })
        );
        assert_eq!(
            owned_by(&json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}), "capstan"),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}})
        );
    }

    #[test]
    fn conflicts_name_the_other_manager_and_the_field() {
        let desired = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": "shop", "labels": {"a": "1", "b": "2"}},
            "spec": {"replicas": 2}});
        // replicas differs; label b has the same value, so it is not the one named.
        assert_eq!(
            conflicts(&live(), &desired, "capstan"),
            [("kubectl".to_string(), vec![".spec.replicas".to_string()])]
        );
        assert_eq!(
            display(&[
                "f:spec".into(),
                "f:containers".into(),
                "k:{\"name\":\"api\"}".into(),
                "f:image".into()
            ]),
            ".spec.containers[name=\"api\"].image"
        );
    }
}
