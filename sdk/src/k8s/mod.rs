//! Small builders for the Kubernetes objects plugins commonly create.
//!
//! They return plain `serde_json::Value` manifests (what the contract
//! carries), with Capstan's standard labels and secure defaults, and stay
//! deliberately small: anything they do not cover, a plugin adds to the JSON
//! itself — by moving values in (`map.insert(k, v)`, `object["k"] = v`), not
//! by interpolating a `Value` into `json!`, which copies it through serde on
//! every plan. They do not pull in `k8s-openapi` (too large for a guest).
//!
//! Objects target Kubernetes 1.30 (the versions the engine validates against).

mod meta;
pub mod monitoring;
mod network;
mod resources;
pub mod tls;
mod workloads;

pub use meta::{MANAGED_BY, Meta};
pub use network::{Ingress, service, service_monitor};
pub use resources::{IntOrPercent, Limits, Quantities, Resources};
pub use workloads::{Container, PodTemplate, deployment, exec_probe, http_probe, stateful_set, tcp_probe};

use std::collections::BTreeMap;

use capstan_core::Sensitive;
use serde_json::{Map, Value, json};

/// A manifest: `apiVersion`, `kind`, `metadata`, then `fields` in order.
/// Nested values are moved in: `json!` would copy each of them through
/// serde, and the builders below nest whole pod templates.
fn manifest<const N: usize>(api_version: &str, kind: &str, meta: &Meta, fields: [(&str, Value); N]) -> Value {
    let mut m = Map::with_capacity(3 + N);
    m.insert("apiVersion".into(), Value::String(api_version.to_owned()));
    m.insert("kind".into(), Value::String(kind.to_owned()));
    m.insert("metadata".into(), meta.to_value());
    for (key, value) in fields {
        m.insert(key.to_owned(), value);
    }
    Value::Object(m)
}

/// `{ "matchLabels": … }` over the pods `meta` selects.
fn match_labels(meta: &Meta) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert("matchLabels".into(), meta.selector_value());
    Value::Object(m)
}

/// A ConfigMap.
pub fn config_map(meta: &Meta, data: &BTreeMap<String, String>) -> Value {
    manifest("v1", "ConfigMap", meta, [("data", meta::string_map(data))])
}

/// An Opaque Secret. Its values leave the plugin only here, in `stringData`,
/// which the engine treats as sensitive everywhere.
pub fn secret(meta: &Meta, string_data: &BTreeMap<String, Sensitive>) -> Value {
    let data: Map<String, Value> =
        string_data.iter().map(|(k, v)| (k.clone(), Value::String(v.expose().to_owned()))).collect();
    manifest("v1", "Secret", meta, [("type", json!("Opaque")), ("stringData", Value::Object(data))])
}

/// A ServiceAccount; its token is mounted into pods only with `automount_token`.
pub fn service_account(meta: &Meta, automount_token: bool) -> Value {
    manifest("v1", "ServiceAccount", meta, [("automountServiceAccountToken", json!(automount_token))])
}

/// A HorizontalPodAutoscaler (autoscaling/v2) on a Deployment's average CPU
/// utilisation (percent of the CPU request).
pub fn horizontal_pod_autoscaler(
    meta: &Meta,
    deployment: &str,
    min_replicas: u32,
    max_replicas: u32,
    cpu_utilization: u32,
) -> Value {
    let spec = json!({
        "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": deployment },
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "metrics": [{
            "type": "Resource",
            "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": cpu_utilization } },
        }],
    });
    manifest("autoscaling/v2", "HorizontalPodAutoscaler", meta, [("spec", spec)])
}

/// A PodDisruptionBudget (policy/v1) over the pods `meta` selects.
pub fn pod_disruption_budget(meta: &Meta, min_available: &IntOrPercent) -> Value {
    let mut spec = Map::with_capacity(2);
    spec.insert("minAvailable".into(), json!(min_available));
    spec.insert("selector".into(), match_labels(meta));
    manifest("policy/v1", "PodDisruptionBudget", meta, [("spec", Value::Object(spec))])
}

/// A PodDisruptionBudget (policy/v1) letting at most `max_unavailable` of
/// the pods `meta` selects be evicted at a time. Unlike `minAvailable`, it
/// never blocks a node drain outright while the pods are healthy, whatever
/// the replica count, so it is the safe budget to give by default.
pub fn pod_disruption_budget_max_unavailable(meta: &Meta, max_unavailable: &IntOrPercent) -> Value {
    let mut spec = Map::with_capacity(2);
    spec.insert("maxUnavailable".into(), json!(max_unavailable));
    spec.insert("selector".into(), match_labels(meta));
    manifest("policy/v1", "PodDisruptionBudget", meta, [("spec", Value::Object(spec))])
}

/// Any other object, such as an operator's custom resource.
pub fn custom_resource(api_version: &str, kind: &str, meta: &Meta, spec: Value) -> Value {
    manifest(api_version, kind, meta, [("spec", spec)])
}

/// The object in `objects` with this kind and name, if any.
pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| {
        o.get("kind").and_then(Value::as_str) == Some(kind)
            && o.pointer("/metadata/name").and_then(Value::as_str) == Some(name)
    })
}

/// A DNS-1123 label: what Kubernetes accepts as a namespace, a Secret name
/// part or a Dapr app id (lower-case letters, digits and `-`, at most 63
/// bytes, not starting or ending with `-`).
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'))
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A label key, which is also an annotation key's syntax: an optional DNS
/// subdomain prefix and `/`, then a name of 1 to 63 letters, digits, `-`,
/// `_` and `.`, alphanumeric at both ends.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let subdomain = |p: &str| p.len() <= 253 && p.split('.').all(is_dns_label);
    prefix.is_none_or(subdomain) && !name.is_empty() && is_label_value(name)
}

/// A label value: empty, or at most 63 letters, digits, `-`, `_` and `.`,
/// alphanumeric at both ends.
pub fn is_label_value(value: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    value.is_empty()
        || (value.len() <= 63
            && alnum(value.chars().next())
            && alnum(value.chars().last())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_core::ComponentId;

    fn component() -> ComponentId {
        ComponentId { name: "db".into(), environment: "staging".into(), namespace: "data".into() }
    }

    #[test]
    fn metadata_carries_the_standard_labels_and_a_stable_selector() {
        let meta = Meta::new(&component(), "db-rw", "database").annotation("a", "b");
        let v = meta.to_value();
        assert_eq!(v["namespace"], "data");
        assert_eq!(v["labels"]["app.kubernetes.io/managed-by"], MANAGED_BY);
        assert_eq!(v["labels"]["capstan.dev/environment"], "staging");
        assert_eq!(v["annotations"], json!({"a": "b"}));
        assert_eq!(
            json!(meta.selector()),
            json!({"app.kubernetes.io/component": "database", "app.kubernetes.io/instance": "db", "app.kubernetes.io/name": "db"})
        );
        let cluster = Meta::new(&component(), "ca", "issuer").cluster_scoped().to_value();
        assert!(cluster.get("namespace").is_none());
        assert!(meta.renamed("other").to_value().get("annotations").is_none());
    }

    #[test]
    fn secrets_and_env_from_secrets_keep_values_out_of_workloads() {
        let meta = Meta::new(&component(), "db", "database");
        let data = BTreeMap::from([("password".to_owned(), Sensitive::new("pw"))]);
        assert_eq!(secret(&meta, &data)["stringData"], json!({"password": "pw"}));
        let r = crate::contracts::SecretKeyRef { name: "db".into(), key: "password".into(), namespace: None };
        let c = Container::new("pg", "postgres:16").env_secret("PGPASSWORD", &r).to_value();
        assert_eq!(c["env"][0]["valueFrom"]["secretKeyRef"], json!({"name": "db", "key": "password"}));
        assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    }

    #[test]
    fn a_default_disruption_budget_bounds_evictions_and_selects_the_pods() {
        let meta = Meta::new(&component(), "api", "server");
        let pdb = pod_disruption_budget_max_unavailable(&meta, &IntOrPercent::Int(1));
        assert_eq!(pdb["spec"]["maxUnavailable"], 1);
        assert!(pdb["spec"].get("minAvailable").is_none());
        assert_eq!(pdb["spec"]["selector"]["matchLabels"], json!(meta.selector()));
    }

    #[test]
    fn an_exec_probe_runs_its_command_and_any_probe_can_be_the_startup_one() {
        let probe = exec_probe(["pg_isready", "-q"]);
        assert_eq!(probe["exec"]["command"], json!(["pg_isready", "-q"]));
        let c = Container::new("worker", "acme/worker:1.0").startup_probe(probe.clone()).to_value();
        assert_eq!(c["startupProbe"], probe);
    }

    #[test]
    fn a_stateful_set_keeps_its_claims_and_headless_service() {
        let meta = Meta::new(&component(), "db", "database");
        let pod = PodTemplate::new(&meta).container(&Container::new("pg", "postgres:16")).run_as(999, 999);
        let claim = json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}});
        let sts = stateful_set(&meta, "db-headless", 3, &pod, vec![claim.clone()]);
        assert_eq!(sts["spec"]["serviceName"], "db-headless");
        assert_eq!(sts["spec"]["volumeClaimTemplates"], json!([claim]));
        assert_eq!(sts["spec"]["template"]["spec"]["securityContext"]["runAsUser"], 999);
        assert_eq!(sts["spec"]["selector"]["matchLabels"], json!(meta.selector()));
    }
}
