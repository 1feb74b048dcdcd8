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

/// Requests (what the scheduler reserves) and limits (the ceiling). Both are
/// required: a container without a memory limit can starve its node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// What the scheduler reserves for the container.
    pub requests: Quantities,
    /// The most the container may use: CPU above it is throttled, memory above
    /// it gets the container killed.
    pub limits: Quantities,
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
