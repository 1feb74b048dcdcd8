//! The `ClusterSecretStore` (`external-secrets.io/v1`, the version the
//! operator serves since 0.17; `v1beta1` is no longer served) and what its
//! provider is read from.

use capstan_sdk::contracts::vault;
use capstan_sdk::prelude::*;
use serde_json::{Map, Value, json};

use crate::inputs::Inputs;

/// The store's API version.
pub const API_VERSION: &str = "external-secrets.io/v1";
/// The store's kind.
pub const KIND: &str = "ClusterSecretStore";

/// What the store needs from the `vault` dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultSide {
    /// The server's URL.
    pub address: String,
    /// The KV version 2 mount.
    pub kv_mount: String,
    /// Where Kubernetes auth is enabled.
    pub auth_mount: String,
    /// The role the vault component made for this component.
    pub role: String,
}

/// Reads the `vault` dependency named by the `vault` input. Every problem
/// is an error at `/vault`, the input that names the dependency, so the
/// operator is pointed at the line to change (or at the vault component).
pub fn vault_side(req: &PlanRequest, inputs: &Inputs) -> Result<VaultSide, Vec<Diagnostic>> {
    let name = &inputs.vault;
    let me = &req.component.name;
    let at = |message: String| vec![Diagnostic::error("/vault", message)];
    let Some(dependency) = req.dependencies.iter().find(|d| &d.name == name) else {
        let others: Vec<&str> = req
            .dependencies
            .iter()
            .filter(|d| d.component_type == <vault::Outputs as Contract>::COMPONENT_TYPE)
            .map(|d| d.name.as_str())
            .collect();
        let hint = match others.as_slice() {
            [] => String::new(),
            names => format!(" (its vault dependencies are named {})", names.join(", ")),
        };
        return Err(at(format!(
            "the store reads the `vault` dependency `{name}`, and this component has none by that name{hint}: \
             add `dependency \"{name}\" {{ path = \"…\" }}` on the vault component, or set `vault` to its name"
        )));
    };
    let outputs = contracts::read::<vault::Outputs>(dependency).map_err(|e| at(e.to_string()))?;
    let mut problems = Vec::new();
    let kv = outputs.mounts.kv.clone();
    if kv.is_none() {
        problems.push(format!(
            "the vault component `{name}` mounts no KV engine (its outputs have no `mounts.kv`): turn on \
             its `kv` block; the store reads KV version 2"
        ));
    }
    let auth = outputs.auth.kubernetes.clone();
    if auth.is_none() {
        problems.push(format!(
            "the vault component `{name}` enables no Kubernetes auth (its outputs have no \
             `auth.kubernetes`): turn on its `kubernetes_auth` block; the store logs in with it"
        ));
    }
    let role = match outputs.apps.get(me) {
        None => {
            problems.push(format!(
                "the vault component `{name}` has no app `{me}` (its outputs' `apps`), so no role for \
                 the store to log in as: list this component in its `apps`, with the ServiceAccount \
                 the store logs in with (apps = {{ {me} = {{ namespace = \"…\", service_account = \"…\" }} }})"
            ));
            None
        }
        Some(app) if app.kubernetes_role.is_none() => {
            problems.push(format!(
                "app `{me}` of the vault component `{name}` has no `kubernetes_role`: the store logs in \
                 with Kubernetes auth; turn on the vault component's `kubernetes_auth` block"
            ));
            None
        }
        Some(app) => app.kubernetes_role.clone(),
    };
    match (kv, auth, role) {
        (Some(kv_mount), Some(auth_mount), Some(role)) if problems.is_empty() => {
            Ok(VaultSide { address: outputs.address, kv_mount, auth_mount, role })
        }
        _ => Err(problems.into_iter().map(|p| Diagnostic::error("/vault", p)).collect()),
    }
}

/// `{ name, namespace }`: a ServiceAccount a ClusterSecretStore names (the
/// namespace is required there: the store has none of its own).
fn service_account_ref(name: &str, namespace: &str) -> Value {
    json!({ "name": name, "namespace": namespace })
}

/// `spec.provider.vault`: KV version 2 at the vault component's mount,
/// Kubernetes auth as its role for this component, with the ServiceAccount's
/// token; the CA when one is given.
pub fn vault_provider(req: &PlanRequest, inputs: &Inputs, side: &VaultSide) -> Value {
    let (sa, sa_namespace) = inputs.service_account_ref(&req.component);
    let mut provider = Map::new();
    provider.insert("server".into(), json!(side.address));
    provider.insert("path".into(), json!(side.kv_mount));
    provider.insert("version".into(), json!("v2"));
    provider.insert(
        "auth".into(),
        json!({ "kubernetes": {
            "mountPath": side.auth_mount,
            "role": side.role,
            "serviceAccountRef": service_account_ref(sa, sa_namespace),
        } }),
    );
    if let Some(ca) = &inputs.ca_secret {
        provider.insert(
            "caProvider".into(),
            json!({
                "type": "Secret",
                "name": ca.name,
                "key": ca.key,
                "namespace": ca.namespace.as_deref().unwrap_or(&req.component.namespace),
            }),
        );
    }
    json!({ "vault": provider })
}

/// `spec.provider.aws`: Secrets Manager in the region; with a role, the
/// ServiceAccount's token exchanged for it (IRSA: the role is on the
/// ServiceAccount's annotation, which the operator reads).
pub fn aws_provider(req: &PlanRequest, inputs: &Inputs, region: &str, irsa: bool) -> Value {
    let mut provider = Map::new();
    provider.insert("service".into(), json!("SecretsManager"));
    provider.insert("region".into(), json!(region));
    if irsa {
        let (sa, sa_namespace) = inputs.service_account_ref(&req.component);
        provider.insert(
            "auth".into(),
            json!({ "jwt": { "serviceAccountRef": service_account_ref(sa, sa_namespace) } }),
        );
    }
    json!({ "aws": provider })
}

/// The store object around `provider`.
pub fn cluster_secret_store(req: &PlanRequest, inputs: &Inputs, provider: Value) -> Value {
    let meta =
        k8s::Meta::new(&req.component, inputs.store_name(&req.component), "secret-store").cluster_scoped();
    let mut spec = Map::new();
    spec.insert("provider".into(), provider);
    if !inputs.namespaces.is_empty() {
        spec.insert("conditions".into(), json!([{ "namespaces": inputs.namespaces }]));
    }
    k8s::custom_resource(API_VERSION, KIND, &meta, Value::Object(spec))
}

/// The operator keeps a `Ready` condition on the store: `True` once it
/// validated the provider (logged in, read the mount), `False` with the
/// reason while it cannot. It retries, and the cause often passes (a server
/// still unsealing, a role not yet written by the vault component's
/// effects), so `False` is progress with the operator's message; the wait's
/// timeout ends a lasting one.
pub fn health(object: &Value) -> Health {
    let ready = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    let Some(ready) = ready else {
        return Health::Progressing("waiting for the External Secrets operator to validate the store".into());
    };
    match ready["status"].as_str() {
        Some("True") => Health::Ready,
        _ => Health::Progressing(format!(
            "External Secrets: {}: {}",
            ready["reason"].as_str().unwrap_or("not ready"),
            ready["message"].as_str().unwrap_or("no message")
        )),
    }
}
