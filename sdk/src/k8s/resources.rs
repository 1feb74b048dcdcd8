//! Input types plugins share: compute resources and int-or-percent values.
//! They derive `JsonSchema`, so a plugin's schema checks them too.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Kubernetes resource quantity (`100m`, `0.5`, `256Mi`, `1G`), the
/// apiserver's own grammar.
pub const QUANTITY_PATTERN: &str = r"^[+]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// CPU and memory amounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quantities {
    /// CPU, in cores (`0.5`) or millicores (`500m`).
    #[schemars(pattern(QUANTITY_PATTERN))]
    pub cpu: String,
    /// Memory, such as `256Mi` or `1Gi`.
    #[schemars(pattern(QUANTITY_PATTERN))]
    pub memory: String,
}

/// The ceiling of a container. The memory limit is required: a container
/// without one can starve its node. The CPU limit may be left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// CPU, in cores (`0.5`) or millicores (`500m`); above it the container
    /// is throttled, even on an idle node. Leave it out (null) to let the
    /// container use idle CPU; the baseline policy's `resources` rule then
    /// refuses the plan unless its `require_cpu_limit` param is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(QUANTITY_PATTERN))]
    pub cpu: Option<String>,
    /// Memory, such as `256Mi` or `1Gi`; above it the container is killed.
    #[schemars(pattern(QUANTITY_PATTERN))]
    pub memory: String,
}

/// Requests (what the scheduler reserves) and limits (the ceiling). Requests
/// and the memory limit are required; the CPU limit is optional.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// What the scheduler reserves for the container.
    pub requests: Quantities,
    /// The most the container may use: CPU above it is throttled, memory above
    /// it gets the container killed.
    pub limits: Limits,
}

/// A count or a percentage such as `"50%"` (PDB `minAvailable`, rollout surge).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum IntOrPercent {
    /// An absolute count, such as `1`.
    Int(u32),
    /// A percentage of the replicas, such as `"50%"`.
    Percent(#[schemars(pattern(r"^[0-9]+%$"))] String),
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use serde_json::json;

    use super::*;

    fn validator() -> jsonschema::Validator {
        jsonschema::validator_for(&serde_json::to_value(schemars::schema_for!(Resources)).unwrap()).unwrap()
    }

    #[test]
    fn a_null_cpu_limit_is_accepted_and_left_out() {
        // What schemars makes of `Option<String>` with a pattern: the pattern
        // only constrains strings, so `null` passes it.
        let schema = serde_json::to_value(schemars::schema_for!(Resources)).unwrap();
        let cpu = &schema["$defs"]["Limits"]["properties"]["cpu"];
        assert_eq!(cpu["type"], json!(["string", "null"]));
        assert_eq!(cpu["pattern"], QUANTITY_PATTERN);
        assert_eq!(schema["$defs"]["Limits"]["required"], json!(["memory"]));
        let input =
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": null, "memory": "1Gi"}});
        assert!(validator().is_valid(&input), "{:?}", validator().iter_errors(&input).collect::<Vec<_>>());
        let resources: Resources = serde_json::from_value(input).unwrap();
        assert_eq!(resources.limits, Limits { cpu: None, memory: "1Gi".into() });
        assert_eq!(
            json!(resources),
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}),
            "no `cpu` key at all, not `cpu: null`"
        );
        let absent = json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}});
        assert!(validator().is_valid(&absent));
        assert_eq!(serde_json::from_value::<Resources>(absent).unwrap(), resources);
    }

    #[test]
    fn a_cpu_limit_is_kept_and_still_checked() {
        let input =
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "500m", "memory": "1Gi"}});
        assert!(validator().is_valid(&input));
        let resources: Resources = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(json!(resources), input);
        let bad =
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "lots", "memory": "1Gi"}});
        assert!(!validator().is_valid(&bad), "the quantity pattern applies to a given CPU limit");
        let no_memory = json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1"}});
        assert!(!validator().is_valid(&no_memory), "the memory limit stays required");
    }
}
