//! Policy plugins: rules the engine checks every planned component against
//! before anything of it is applied (the `policy-plugin` world, contract 0.2).
//!
//! A policy is a struct and one [`Policy`] impl, exported with
//! [`export_policy!`](crate::export_policy):
//!
//! ```
//! use capstan_sdk::prelude::*;
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! #[serde(deny_unknown_fields)]
//! struct Params { max_replicas: u64 }
//!
//! struct FewReplicas;
//! impl Policy for FewReplicas {
//!     fn metadata() -> Metadata {
//!         MetadataBuilder::policy("acme/few-replicas", env!("CARGO_PKG_VERSION"))
//!             .rule("max-replicas", "No Deployment asks for more replicas than `max_replicas`.")
//!             .input_schema_for::<Params>()
//!             .defaults_yaml("max_replicas: 10\n")
//!             .build()
//!     }
//!     fn check(req: &CheckRequest) -> Result<Vec<Violation>, String> {
//!         let params: Params = req.params()?;
//!         Ok(req.objects.iter().enumerate()
//!             .filter(|(_, o)| o["kind"] == "Deployment")
//!             .filter(|(_, o)| o["spec"]["replicas"].as_u64().is_some_and(|n| n > params.max_replicas))
//!             .map(|(i, _)| Violation::error("max-replicas", i, "/spec/replicas",
//!                 format!("more than {} replicas; lower spec.replicas", params.max_replicas)))
//!             .collect())
//!     }
//! }
//! capstan_sdk::export_policy!(FewReplicas);
//! ```
//!
//! A policy sees the objects only: never a Secret's values (the engine
//! replaces them, see [`capstan_core::without_secret_values`]), never the
//! component's inputs. It cannot change a plan, only judge it.

use capstan_core::{CheckRequest, Metadata, Violation};
use serde::de::DeserializeOwned;

/// What a policy plugin implements. As with [`Plugin`](crate::Plugin), the
/// functions are associated: the engine calls each on a fresh instance.
pub trait Policy {
    /// Name, version, rules, and the schema and defaults of the params.
    /// Start from [`MetadataBuilder::policy`](crate::MetadataBuilder::policy).
    fn metadata() -> Metadata;

    /// The violations of one component's plan; an empty list means it
    /// passes. An `Err` is the policy failing (params it cannot use), which
    /// the engine reports as a broken plugin, not as a violation.
    fn check(request: &CheckRequest) -> Result<Vec<Violation>, String>;
}

/// Conveniences on [`CheckRequest`] for policy code.
pub trait CheckRequestExt {
    /// The params as the policy's own type. The engine has checked them
    /// against the schema already, so a mismatch means schema and type
    /// disagree; the error names where (`params at /rules: …`).
    fn params<T: DeserializeOwned>(&self) -> Result<T, String>;
}

impl CheckRequestExt for CheckRequest {
    fn params<T: DeserializeOwned>(&self) -> Result<T, String> {
        crate::parse_inputs(&self.params).map_err(|e| match e {
            capstan_core::PlanError::InvalidInputs(diagnostics) => {
                let each: Vec<String> = diagnostics
                    .iter()
                    .map(|d| {
                        let at = if d.path.is_empty() { "/" } else { d.path.as_str() };
                        format!("params at {at}: {}", d.message)
                    })
                    .collect();
                each.join("; ")
            }
            other => format!("params: {other}"),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use capstan_core::PolicySubject;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only its parsing is tested")]
    struct Params {
        rules: std::collections::BTreeMap<String, bool>,
    }

    fn request(params: serde_json::Value) -> CheckRequest {
        CheckRequest {
            subject: PolicySubject {
                name: "api".into(),
                environment: "test".into(),
                namespace: "default".into(),
                component_type: "app".into(),
                plugin: "capstan/app".into(),
            },
            objects: vec![],
            params,
        }
    }

    #[test]
    fn params_that_do_not_fit_the_type_say_where() {
        assert!(request(json!({"rules": {"a": true}})).params::<Params>().is_ok());
        let err = request(json!({"rules": {"a": "yes"}})).params::<Params>().unwrap_err();
        assert!(err.starts_with("params at /rules/a: invalid type"), "{err}");
        let err = request(json!({"rule": {}})).params::<Params>().unwrap_err();
        assert!(err.contains("unknown field `rule`"), "{err}");
    }
}
