use capstan_core::ComponentId;
use capstan_state::{ComponentState, PluginRef, StateKey, now_rfc3339};
use serde_json::json;

/// A recorded component with one object, as apply would write it.
pub fn component(name: &str, image: &str) -> ComponentState {
    let key = StateKey::from_bytes([9; 32]);
    let object = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": name, "namespace": "core"},
                        "spec": {"image": image}});
    ComponentState {
        id: ComponentId { name: name.into(), environment: "staging".into(), namespace: "core".into() },
        plugin: PluginRef { name: "app".into(), version: "0.1.0".into(), digest: "sha256:00".into() },
        inputs_digest: "sha256:11".into(),
        objects: vec![capstan_state::ObjectRecord::from_manifest(&key, 0, &object).unwrap()],
        effects: vec![],
        outputs: vec![],
        applied_at: now_rfc3339(),
    }
}
