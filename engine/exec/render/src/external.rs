//! `external-secrets` delivery: a `Secret` becomes an `ExternalSecret` that
//! names the store and one remote key (`<prefix>/<env>/<namespace>/<name>`),
//! and its values are written under that key, so the rendered tree holds
//! references only. The External Secrets operator builds the Secret in the
//! cluster from the store.
//!
//! `stringData` values are stored as they are; `data` values (base64) are
//! stored as their base64 text and fetched with `decodingStrategy: Base64`,
//! so binary values survive. When a Secret leaves the plan its
//! `ExternalSecret` file goes, but its values stay in the store.

use std::collections::BTreeMap;

use capstan_core::Sensitive;
use serde_json::{Map, Value, json};

use crate::secrets::ExternalStore;

const API_VERSION: &str = "external-secrets.io/v1";
pub(crate) const KIND: &str = "ExternalSecret";

/// A Secret as `external-secrets` delivery writes it.
pub(crate) struct Externalised {
    /// The `ExternalSecret` object.
    pub object: Value,
    /// The remote key its values live under.
    pub key: String,
    pub values: BTreeMap<String, Sensitive>,
}

/// The remote key of the Secret `name` in `namespace` of `environment`.
pub(crate) fn remote_key(store: &ExternalStore, environment: &str, namespace: &str, name: &str) -> String {
    [store.prefix.as_str(), environment, namespace, name]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/")
}

/// The `ExternalSecret` and the values standing for `secret`, a Secret of
/// `environment` (`namespace` when the object names none).
pub(crate) fn externalise(
    secret: &Value,
    store: &ExternalStore,
    environment: &str,
    namespace: &str,
) -> Result<Externalised, String> {
    let name = secret.pointer("/metadata/name").and_then(Value::as_str).ok_or("it has no metadata.name")?;
    let namespace = secret.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(namespace);
    let key = remote_key(store, environment, namespace, name);

    let mut values = BTreeMap::new();
    let mut encoded = BTreeMap::new();
    for (field, base64) in [("data", true), ("stringData", false)] {
        let Some(entries) = secret.get(field) else { continue };
        let entries = entries.as_object().ok_or_else(|| format!("`{field}` is not a mapping"))?;
        for (k, v) in entries {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            // As the API server does, stringData wins over data.
            values.insert(k.clone(), Sensitive::new(text));
            encoded.insert(k.clone(), base64);
        }
    }

    let data: Vec<Value> = encoded
        .iter()
        .map(|(k, base64)| {
            let mut remote = json!({"key": key, "property": k});
            if *base64 {
                remote["decodingStrategy"] = json!("Base64");
            }
            json!({"secretKey": k, "remoteRef": remote})
        })
        .collect();
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(name));
    metadata.insert("namespace".into(), json!(namespace));
    let mut template_metadata = Map::new();
    for field in ["labels", "annotations"] {
        if let Some(v) = secret.pointer(&format!("/metadata/{field}")) {
            metadata.insert(field.into(), v.clone());
            template_metadata.insert(field.into(), v.clone());
        }
    }
    let mut template = Map::new();
    if let Some(kind) = secret.get("type") {
        template.insert("type".into(), kind.clone());
    }
    if !template_metadata.is_empty() {
        template.insert("metadata".into(), Value::Object(template_metadata));
    }
    let object = json!({
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {
            "refreshInterval": store.refresh,
            "secretStoreRef": {"kind": store.store_kind, "name": store.store_name},
            "target": {"name": name, "creationPolicy": "Owner", "template": template},
            "data": data,
        },
    });
    Ok(Externalised { object, key, values })
}

/// The Secret an `ExternalSecret` Capstan wrote and the store's `values`
/// stand for: what a plan compares with the planned Secret.
pub(crate) fn secret_from(external: &Value, values: Option<BTreeMap<String, Sensitive>>) -> Value {
    let mut metadata = Map::new();
    for field in ["name", "namespace"] {
        if let Some(v) = external.pointer(&format!("/metadata/{field}")) {
            metadata.insert(field.into(), v.clone());
        }
    }
    for field in ["labels", "annotations"] {
        if let Some(v) = external.pointer(&format!("/spec/target/template/metadata/{field}")) {
            metadata.insert(field.into(), v.clone());
        }
    }
    let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata});
    if let Some(kind) = external.pointer("/spec/target/template/type") {
        secret["type"] = kind.clone();
    }
    let values = values.unwrap_or_default();
    let entries = external.pointer("/spec/data").and_then(Value::as_array).cloned().unwrap_or_default();
    for entry in entries {
        let Some(k) = entry.get("secretKey").and_then(Value::as_str) else { continue };
        let base64 = entry.pointer("/remoteRef/decodingStrategy").and_then(Value::as_str) == Some("Base64");
        let field = if base64 { "data" } else { "stringData" };
        // A value missing from the store shows as missing: the plan rewrites it.
        if let Some(v) = values.get(k) {
            secret[field][k] = json!(v.expose());
        }
    }
    secret
}
