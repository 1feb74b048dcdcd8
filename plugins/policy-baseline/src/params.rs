//! The params a `policy` block sets: which rules run, and the registries
//! images may come from.

use schemars::JsonSchema;
use serde::Deserialize;

/// The defaults the engine merges a `policy` block's `params` over; the
/// same values as [`Params::default`] (a test holds them together).
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// The params of `capstan/policy-baseline`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Which rules run, by id: `true` on, `false` off.
    pub rules: Rules,
    /// Registry prefixes every image must start with, such as
    /// `ghcr.io/acme/` or `registry.k8s.io/`. Docker Hub short names are
    /// compared as `docker.io/library/…` too; an image pinned by digest
    /// passes anyway. Empty: any registry.
    pub allowed_registries: Vec<String>,
    /// Whether `resources` requires a CPU limit. `false` for a platform
    /// that lets containers use idle CPU (above a limit a container is
    /// throttled even on an idle node); requests and the memory limit are
    /// still required.
    pub require_cpu_limit: bool,
}

impl Default for Params {
    fn default() -> Self {
        Self { rules: Rules::default(), allowed_registries: Vec::new(), require_cpu_limit: true }
    }
}

/// Each rule on or off, keyed by its id.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Rules {
    /// Every container declares cpu and memory requests and limits.
    pub resources: bool,
    /// No container runs as root.
    pub run_as_non_root: bool,
    /// Every container sets `allowPrivilegeEscalation: false`; none is privileged.
    pub no_privilege_escalation: bool,
    /// Every container sets `readOnlyRootFilesystem: true`. Off by default.
    pub read_only_root_filesystem: bool,
    /// Every container drops `ALL` capabilities.
    pub drop_capabilities: bool,
    /// Every image has a tag other than `latest`, or a digest.
    pub no_latest_tag: bool,
    /// Every image comes from `allowed_registries` (when that is not empty).
    pub allowed_registries: bool,
    /// Every container of a long-running workload has a probe.
    pub probes: bool,
    /// Every HorizontalPodAutoscaler's target has a PodDisruptionBudget.
    pub pdb_for_hpa: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            resources: true,
            run_as_non_root: true,
            no_privilege_escalation: true,
            // Many images write to their root filesystem (/tmp, caches) and
            // need an emptyDir first: opt in where they are ready.
            read_only_root_filesystem: false,
            drop_capabilities: true,
            no_latest_tag: true,
            allowed_registries: true,
            probes: true,
            pdb_for_hpa: true,
        }
    }
}
