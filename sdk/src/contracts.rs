//! The outputs contracts: what each component type promises its dependents.
//!
//! A component depends on a component *type*, never on a backend: an app
//! reads `postgres` outputs the same way whether the database is a
//! CloudNativePG cluster or a managed instance. So every backend of a type
//! must write exactly these outputs, and every consumer reads them through
//! these types. Output names are the serde field names below (snake_case).
//!
//! Producers: `contracts::outputs(&postgres::Outputs { .. })` in `plan`.
//! Consumers: `contracts::read::<postgres::Outputs>(dependency)`.
//!
//! Secrets are passed by reference ([`SecretKeyRef`]), never by value: a
//! consumer wires them into `valueFrom.secretKeyRef`, so a password is never
//! copied into another object, a plan or the state.

use std::collections::BTreeMap;

use capstan_core::{Dependency, Output, PlanError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One component type's outputs.
pub trait Contract: Serialize + DeserializeOwned {
    /// The component type, as in `Metadata::component_type`.
    const COMPONENT_TYPE: &'static str;
}

/// A key in a Kubernetes Secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretKeyRef {
    pub name: String,
    pub key: String,
    /// Where the Secret lives when it is not in the consumer's namespace.
    /// A pod can only read Secrets of its own namespace, so a consumer
    /// elsewhere must fail clearly rather than plan a pod that cannot start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A whole Kubernetes Secret (a TLS or CA bundle, say).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `postgres`: a PostgreSQL server and the database(s) made on it.
pub mod postgres {
    use super::*;

    /// Access to one database for one user.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct DatabaseAccess {
        pub database: String,
        pub user: String,
        /// The user's password.
        pub password_secret: SecretKeyRef,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Outputs {
        /// Host name clients connect to (a Service DNS name or a managed endpoint).
        pub host: String,
        pub port: u16,
        /// The default database, its user and the user's password.
        pub database: String,
        pub user: String,
        pub password_secret: SecretKeyRef,
        /// One database and user per consuming app, keyed by the app's
        /// component name; an app not listed uses the default above.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub databases: BTreeMap<String, DatabaseAccess>,
    }

    impl Outputs {
        /// The database a given app should use.
        pub fn access_for(&self, app: &str) -> DatabaseAccess {
            self.databases.get(app).cloned().unwrap_or_else(|| DatabaseAccess {
                database: self.database.clone(),
                user: self.user.clone(),
                password_secret: self.password_secret.clone(),
            })
        }
    }

    impl Contract for Outputs {
        const COMPONENT_TYPE: &'static str = "postgres";
    }
}

/// `messaging`: a broker (RabbitMQ, Kafka) or a cloud queue service (SQS).
pub mod messaging {
    use super::*;

    /// Values of [`Outputs::protocol`].
    pub mod protocol {
        pub const AMQP: &str = "amqp";
        pub const KAFKA: &str = "kafka";
        pub const SQS: &str = "sqs";
    }

    /// Where a client's user name and password are.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct CredentialsSecret {
        pub name: String,
        pub username_key: String,
        pub password_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub namespace: Option<String>,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Outputs {
        /// One of [`protocol`]: how clients talk to it.
        pub protocol: String,
        /// `amqp://host:5672/vhost`, `broker:9092,…`, or the SQS endpoint URL.
        pub endpoint: String,
        /// None where credentials come from elsewhere (an IAM role for SQS).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub credentials_secret: Option<CredentialsSecret>,
        /// Logical queue or topic name → the physical one (a queue URL for SQS).
        #[serde(default)]
        pub queues: BTreeMap<String, String>,
        /// The cloud region, for SQS.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub region: Option<String>,
    }

    impl Contract for Outputs {
        const COMPONENT_TYPE: &'static str = "messaging";
    }
}

/// `waf`: the web application firewall in front of ingresses.
pub mod waf {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Outputs {
        /// The `ingressClassName` app ingresses must use.
        pub ingress_class: String,
        /// Annotations app ingresses must carry (ModSecurity, mTLS, …).
        #[serde(default)]
        pub annotations: BTreeMap<String, String>,
        /// The CA bundle client certificates are verified against, when mTLS is on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub mtls_ca_secret: Option<SecretRef>,
    }

    impl Contract for Outputs {
        const COMPONENT_TYPE: &'static str = "waf";
    }
}

/// `cert-manager`: who issues certificates.
pub mod cert_manager {
    use super::*;

    /// Values of [`IssuerRef::kind`].
    pub const CLUSTER_ISSUER: &str = "ClusterIssuer";
    pub const ISSUER: &str = "Issuer";

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct IssuerRef {
        /// `ClusterIssuer` or `Issuer`.
        pub kind: String,
        pub name: String,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Outputs {
        pub issuer: IssuerRef,
        /// The CA certificate(s) that issued, for clients and mTLS.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ca_bundle_secret: Option<SecretKeyRef>,
    }

    impl Contract for Outputs {
        const COMPONENT_TYPE: &'static str = "cert-manager";
    }
}

/// `dapr`: Dapr components apps talk to through their sidecar.
pub mod dapr {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Outputs {
        /// Name of the pub/sub `Component`, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub pubsub: Option<String>,
        /// Name of the state store `Component`, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub statestore: Option<String>,
    }

    impl Contract for Outputs {
        const COMPONENT_TYPE: &'static str = "dapr";
    }
}

/// `logs`: the log collector.
pub mod logs {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Outputs {
        /// Where apps may push logs directly (most just write to stdout).
        pub collector_endpoint: String,
        /// The labels every record carries (`namespace`, `app`, …), for queries.
        #[serde(default)]
        pub labels: Vec<String>,
    }

    impl Contract for Outputs {
        const COMPONENT_TYPE: &'static str = "logs";
    }
}

/// `app`: a service other apps may call.
pub mod app {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Outputs {
        /// `http://name.namespace.svc.cluster.local:port`, when it listens.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub service_url: Option<String>,
        /// `https://host/path`, when it has an ingress.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub public_url: Option<String>,
    }

    impl Contract for Outputs {
        const COMPONENT_TYPE: &'static str = "app";
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

    fn pg() -> postgres::Outputs {
        postgres::Outputs {
            host: "db-rw.data.svc".into(),
            port: 5432,
            database: "app".into(),
            user: "app".into(),
            password_secret: SecretKeyRef { name: "db-app".into(), key: "password".into(), namespace: None },
            databases: BTreeMap::new(),
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
