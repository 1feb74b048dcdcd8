//! The outputs contracts: what each component type promises its dependents.
//!
//! A component depends on a component *type*, never on a backend: an app
//! reads `postgres` outputs the same way whether the database is a
//! CloudNativePG cluster or a managed instance. So every backend of a type
//! must write exactly these outputs, and every consumer reads them through
//! these types. Output names are the serde field names (snake_case).
//!
//! Each type's contract is data first: a versioned JSON Schema under
//! `wit/contracts/` (`postgres.v1.json`, …), documented in `docs/contracts/`,
//! which the engine embeds and checks every plugin's outputs against. The
//! modules here are the same contracts as typed Rust, one module per type;
//! a test of this crate proves the two agree. The input shapes every
//! backend of a type accepts (the per-app databases of `postgres`, the
//! queues and users of `messaging`) live here too, so a new backend reuses
//! them instead of copying them.
//!
//! Producers: `contracts::outputs(&postgres::Outputs { .. })` in `plan`.
//! Consumers: `contracts::read::<postgres::Outputs>(dependency)`.
//!
//! Secrets are passed by reference ([`SecretKeyRef`]), never by value: a
//! consumer wires them into `valueFrom.secretKeyRef`, so a password is never
//! copied into another object, a plan or the state.
//!
//! This module does not check outputs against the schemas at run time (the
//! engine does, before any dependent sees them), and it holds no contract
//! for types Capstan does not ship.

use std::collections::BTreeMap;
use std::num::NonZeroU16;

use capstan_core::{Dependency, Diagnostic, Output, PlanError};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::k8s;

pub mod app;
pub mod cert_manager;
pub mod dapr;
pub mod external_secrets;
pub mod logs;
pub mod messaging;
pub mod postgres;
pub mod spire;
pub mod vault;
pub mod waf;

/// One component type's outputs.
pub trait Contract: Serialize + DeserializeOwned {
    /// The component type, as in `Metadata::component_type`.
    const COMPONENT_TYPE: &'static str;
    /// The contract's version: the `N` of its schema file `<type>.vN.json`.
    const VERSION: u32;
    /// The JSON Schema (draft 2020-12) of the outputs, as text.
    const SCHEMA: &'static str;
}

/// A key in a Kubernetes Secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretKeyRef {
    /// Name of the Secret, e.g. `db-app`.
    pub name: String,
    /// Key within the Secret's `data`, e.g. `password`.
    pub key: String,
    /// Where the Secret lives when it is not in the consumer's namespace.
    /// A pod can only read Secrets of its own namespace, so a consumer
    /// elsewhere must fail clearly rather than plan a pod that cannot start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A whole Kubernetes Secret (a TLS or CA bundle, say).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Name of the Secret, e.g. `db-ca`.
    pub name: String,
    /// Namespace of the Secret; `None` means the consumer's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Pods (or, outside the cluster, ports at any address) a client of a
/// component must be allowed to reach. The app plugin renders its
/// NetworkPolicies from these: an app may reach what it depends on and
/// nothing else. A producer lists every server a client talks to (a Kafka
/// client reaches each broker, not only the bootstrap Service).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkPeer {
    /// Namespace of the pods. `None` (with no `pod_labels`) means the server
    /// is outside the cluster (a managed database, a cloud API), reached on
    /// `ports` at any address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels that select the server pods within `namespace`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,
    /// TCP ports of the pods (container ports, not Service ports: a
    /// NetworkPolicy sees traffic after the Service has forwarded it).
    /// Empty for a peer that only sends traffic (the WAF's `ingress_from`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
}

impl NetworkPeer {
    /// Pods of `namespace` selected by `pod_labels`, on `ports`.
    pub fn pods(namespace: &str, pod_labels: &[(&str, &str)], ports: &[u16]) -> Self {
        NetworkPeer {
            namespace: Some(namespace.to_owned()),
            pod_labels: pod_labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ports: ports.to_vec(),
        }
    }

    /// A server outside the cluster, reached on `ports` at any address.
    pub fn outside(ports: &[u16]) -> Self {
        NetworkPeer { namespace: None, pod_labels: BTreeMap::new(), ports: ports.to_vec() }
    }
}

/// A server an operator names in a plugin's inputs for its clients to
/// reach (beyond what the dependencies say): a [`NetworkPeer`] that must
/// name its ports, since none would open every port.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerInput {
    /// The pods' namespace; leave out (with `pod_labels`) for a server outside the cluster.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Labels the pods carry; empty: every pod of `namespace`.
    #[serde(default)]
    pub pod_labels: BTreeMap<String, String>,
    /// TCP ports (container ports, for pods).
    #[schemars(length(min = 1))]
    pub ports: Vec<NonZeroU16>,
}

impl PeerInput {
    /// As the outputs contracts carry it.
    pub fn to_peer(&self) -> NetworkPeer {
        NetworkPeer {
            namespace: self.namespace.clone(),
            pod_labels: self.pod_labels.clone(),
            ports: self.ports.iter().map(|p| p.get()).collect(),
        }
    }

    /// What Kubernetes would refuse in a NetworkPolicy, labels without a
    /// namespace, and no ports, as errors at `path` (the entry's pointer).
    pub fn check(&self, path: &str, out: &mut Vec<Diagnostic>) {
        if self.namespace.is_none() && !self.pod_labels.is_empty() {
            out.push(Diagnostic::error(
                format!("{path}/pod_labels"),
                "pod labels need a `namespace`; leave both out for a server outside the cluster",
            ));
        }
        if self.ports.is_empty() {
            out.push(Diagnostic::error(
                format!("{path}/ports"),
                "list the ports to reach there; none would mean every port",
            ));
        }
        check_pods(path, self.namespace.as_deref(), &self.pod_labels, out);
    }
}

/// Errors at `path` for a namespace or pod labels Kubernetes would refuse
/// in a NetworkPolicy's selectors.
pub fn check_pods(
    path: &str,
    namespace: Option<&str>,
    labels: &BTreeMap<String, String>,
    out: &mut Vec<Diagnostic>,
) {
    if let Some(ns) = namespace
        && !k8s::is_dns_label(ns)
    {
        out.push(Diagnostic::error(
            format!("{path}/namespace"),
            format!("`{ns}` cannot name a namespace: lower-case letters, digits and `-`, at most 63"),
        ));
    }
    for (key, value) in labels {
        let mut at = format!("{path}/pod_labels");
        crate::push_token(&mut at, key);
        if !k8s::is_label_key(key) {
            out.push(Diagnostic::error(
                at,
                format!("`{key}` is not a label key (`prefix/name`, as `app.kubernetes.io/name`)"),
            ));
        } else if !k8s::is_label_value(value) {
            out.push(Diagnostic::error(
                at,
                format!(
                    "`{value}` is not a label value: at most 63 letters, digits, `-`, `_` and `.`, \
                     alphanumeric at both ends"
                ),
            ));
        }
    }
}

/// Reads a dependency's outputs as contract `C`. A dependency of another
/// type, or one lacking an output `C` requires, is
/// [`PlanError::MissingDependency`] naming the dependency and what is wrong.
pub fn read<C: Contract>(dependency: &Dependency) -> Result<C, PlanError> {
    if dependency.component_type != C::COMPONENT_TYPE {
        return Err(PlanError::MissingDependency(format!(
            "dependency `{}` is a `{}` component, expected `{}`",
            dependency.name,
            dependency.component_type,
            C::COMPONENT_TYPE
        )));
    }
    // Read from the borrowed outputs, not a copy of them: a database server's
    // outputs list every app's database, and each of those apps reads them.
    let fields = dependency.outputs.iter().map(|o| (o.name.as_str(), &o.value));
    let outputs = serde::de::value::MapDeserializer::<_, serde_json::Error>::new(fields);
    serde_path_to_error::deserialize(outputs).map_err(|e| {
        let at = e.path().to_string();
        PlanError::MissingDependency(format!(
            "dependency `{}` ({}) has unusable outputs{}: {}",
            dependency.name,
            C::COMPONENT_TYPE,
            if at == "." { String::new() } else { format!(" at `{at}`") },
            crate::inputs::strip_position(&e.inner().to_string())
        ))
    })
}

/// The outputs a producer of contract `C` returns from `plan`. Fields that
/// are `None` or empty maps are left out. `sensitive` names outputs the
/// engine must never show (contracts pass secrets by reference, so this is
/// usually empty).
pub fn outputs<C: Contract>(contract: &C, sensitive: &[&str]) -> Result<Vec<Output>, PlanError> {
    match serde_json::to_value(contract) {
        Ok(serde_json::Value::Object(fields)) => Ok(fields
            .into_iter()
            .map(|(name, value)| Output { sensitive: sensitive.contains(&name.as_str()), name, value })
            .collect()),
        Ok(_) => Err(PlanError::Failed(format!(
            "the {} outputs contract did not serialise to an object",
            C::COMPONENT_TYPE
        ))),
        Err(e) => {
            Err(PlanError::Failed(format!("the {} outputs could not be serialised: {e}", C::COMPONENT_TYPE)))
        }
    }
}

/// The dependencies of `C`'s type, each read as `C`.
pub fn all<'a, C: Contract + 'a>(
    dependencies: &'a [Dependency],
) -> impl Iterator<Item = (&'a Dependency, Result<C, PlanError>)> + 'a {
    dependencies.iter().filter(|d| d.component_type == C::COMPONENT_TYPE).map(|d| (d, read::<C>(d)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn pg() -> postgres::Outputs {
        postgres::Outputs {
            host: "db-rw.data.svc".into(),
            port: 5432,
            database: "app".into(),
            user: "app".into(),
            password_secret: SecretKeyRef { name: "db-app".into(), key: "password".into(), namespace: None },
            databases: BTreeMap::new(),
            sslmode: None,
            ca_secret: None,
            network: Vec::new(),
        }
    }

    #[test]
    fn a_producers_outputs_read_back_as_the_same_contract() {
        let outs = outputs(&pg(), &[]).unwrap();
        let names: Vec<_> = outs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["host", "port", "database", "user", "password_secret"]);
        let dep = Dependency { name: "db".into(), component_type: "postgres".into(), outputs: outs.into() };
        assert_eq!(read::<postgres::Outputs>(&dep).unwrap(), pg());
    }

    #[test]
    fn a_missing_output_names_the_dependency_and_the_output() {
        let mut outs = outputs(&pg(), &[]).unwrap();
        outs.retain(|o| o.name != "host");
        let dep = Dependency { name: "db".into(), component_type: "postgres".into(), outputs: outs.into() };
        let err = read::<postgres::Outputs>(&dep).unwrap_err();
        assert_eq!(
            err,
            PlanError::MissingDependency(
                "dependency `db` (postgres) has unusable outputs: missing field `host`".into()
            )
        );
    }

    #[test]
    fn a_wrongly_typed_output_is_named_by_its_path() {
        let mut outs = outputs(&pg(), &[]).unwrap();
        for o in &mut outs {
            if o.name == "password_secret" {
                o.value = json!({ "name": "db", "key": 5 });
            }
        }
        let dep = Dependency { name: "db".into(), component_type: "postgres".into(), outputs: outs.into() };
        let err = read::<postgres::Outputs>(&dep).unwrap_err();
        assert!(
            matches!(&err, PlanError::MissingDependency(m)
                if m.starts_with("dependency `db` (postgres) has unusable outputs at `password_secret.key`: invalid type: integer `5`")),
            "{err:?}"
        );
    }

    #[test]
    fn a_dependency_of_another_type_is_refused() {
        let dep =
            Dependency { name: "q".into(), component_type: "messaging".into(), outputs: Vec::new().into() };
        let err = read::<postgres::Outputs>(&dep).unwrap_err();
        assert!(matches!(err, PlanError::MissingDependency(m) if m.contains("expected `postgres`")));
    }

    #[test]
    fn per_app_database_access_falls_back_to_the_default() {
        let mut out = pg();
        out.databases.insert(
            "consent".into(),
            postgres::DatabaseAccess {
                database: "consent".into(),
                user: "consent_user".into(),
                password_secret: SecretKeyRef {
                    name: "db-consent".into(),
                    key: "password".into(),
                    namespace: None,
                },
            },
        );
        assert_eq!(out.access_for("consent").user, "consent_user");
        assert_eq!(out.access_for("other").user, "app");
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["databases"]["consent"]["password_secret"]["name"], json!("db-consent"));
    }
}
