//! `external-secrets` delivery in the render target, with an in-memory
//! store standing in for Vault/OpenBao (the CLI suite runs the same
//! delivery against a real `bao server -dev`): what the tree holds, what the
//! store holds, and that a plan reads the pair back as the planned Secret.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use capstan_core::{ComponentId, Sensitive};
use capstan_render::{Delivery, ExternalStore, RenderTarget, RenderedComponent, SecretStore, SecretsPolicy};
use serde_json::{Value, json};

#[derive(Default)]
struct Memory {
    values: Mutex<BTreeMap<String, BTreeMap<String, Sensitive>>>,
    writes: Mutex<usize>,
}

impl SecretStore for Memory {
    fn read(&self, key: &str) -> Result<Option<BTreeMap<String, Sensitive>>, String> {
        Ok(self.values.lock().unwrap().get(key).cloned())
    }

    fn write(&self, key: &str, values: &BTreeMap<String, Sensitive>) -> Result<(), String> {
        *self.writes.lock().unwrap() += 1;
        self.values.lock().unwrap().insert(key.to_owned(), values.clone());
        Ok(())
    }
}

fn id() -> ComponentId {
    ComponentId { name: "api".into(), environment: "prod".into(), namespace: "core".into() }
}

fn secret(password: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
           "metadata": {"name": "api-db", "namespace": "apps", "labels": {"app": "api"}},
           "data": {"ca.crt": "AAEC/w=="},
           "stringData": {"password": password, "username": "api"}})
}

fn target(dir: &std::path::Path, store: Arc<Memory>) -> RenderTarget {
    let delivery = Delivery::External(ExternalStore {
        store,
        store_kind: "ClusterSecretStore".into(),
        store_name: "vault".into(),
        prefix: "platform".into(),
        refresh: "30m".into(),
    });
    RenderTarget::new(dir, SecretsPolicy::none().with("prod", delivery))
}

#[test]
fn a_secret_becomes_an_external_secret_and_its_values_go_to_the_store() {
    let out = tempfile::tempdir().unwrap();
    let store = Arc::new(Memory::default());
    let target = target(out.path(), store.clone());
    target.apply_component(&RenderedComponent { id: id(), objects: vec![secret("hunter2")] }).unwrap();

    assert!(!out.path().join("prod/core/api/secret-api-db.yaml").exists());
    let text = std::fs::read_to_string(out.path().join("prod/core/api/externalsecret-api-db.yaml")).unwrap();
    assert!(!text.contains("hunter2") && !text.contains("AAEC"), "{text}");
    let external: Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(external["spec"]["secretStoreRef"], json!({"kind": "ClusterSecretStore", "name": "vault"}));
    assert_eq!(external["spec"]["refreshInterval"], "30m");
    assert_eq!(external["spec"]["target"]["template"]["type"], "kubernetes.io/basic-auth");
    let data = external["spec"]["data"].as_array().unwrap();
    let ca = data.iter().find(|d| d["secretKey"] == "ca.crt").unwrap();
    assert_eq!(ca["remoteRef"]["decodingStrategy"], "Base64", "binary data keeps its bytes");
    assert_eq!(ca["remoteRef"]["key"], "platform/prod/apps/api-db");

    let stored = store.read("platform/prod/apps/api-db").unwrap().unwrap();
    assert_eq!(stored["password"].expose(), "hunter2");
    assert_eq!(stored["ca.crt"].expose(), "AAEC/w==");

    // What a plan compares: the planned Secret, read back from file and store.
    let current = target.current(&id(), "Secret", "api-db").unwrap().unwrap();
    assert_eq!(current, secret("hunter2"));
}

#[test]
fn an_unchanged_secret_writes_nothing_and_a_changed_one_writes_once() {
    let out = tempfile::tempdir().unwrap();
    let store = Arc::new(Memory::default());
    let target = target(out.path(), store.clone());
    let apply = |password: &str| {
        target.apply_component(&RenderedComponent { id: id(), objects: vec![secret(password)] }).unwrap()
    };
    apply("hunter2");
    assert_eq!(*store.writes.lock().unwrap(), 1);
    let again = apply("hunter2");
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(*store.writes.lock().unwrap(), 1, "no new version for the same values");
    apply("rotated");
    assert_eq!(*store.writes.lock().unwrap(), 2);
    assert_eq!(store.read("platform/prod/apps/api-db").unwrap().unwrap()["password"].expose(), "rotated");
}
