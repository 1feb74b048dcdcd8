//! The plugin's inputs and the checks the schema cannot say.

use capstan_core::Diagnostic;
use schemars::JsonSchema;
use serde::Deserialize;

pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// Inputs of `capstan/waf-aws-wafv2`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// WebACL name; empty for `<environment>-<component>`.
    #[serde(default)]
    pub name: String,
    pub scope: Scope,
    #[serde(default)]
    pub description: String,
    pub default_action: RuleAction,
    pub managed_rule_groups: Vec<ManagedRuleGroup>,
    pub rate_limit: RateLimit,
    /// The ingress class app ingresses use (the AWS Load Balancer Controller's).
    pub ingress_class: String,
    pub cloudwatch_metrics: bool,
    pub sampled_requests: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Scope {
    #[serde(rename = "REGIONAL")]
    Regional,
    #[serde(rename = "CLOUDFRONT")]
    Cloudfront,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Regional => "REGIONAL",
            Scope::Cloudfront => "CLOUDFRONT",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    Allow,
    Block,
    Count,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagedRuleGroup {
    /// Such as `AWSManagedRulesCommonRuleSet`.
    pub name: String,
    #[serde(default = "aws")]
    pub vendor: String,
    pub priority: u32,
    /// Only count matches of the whole group, never block.
    #[serde(default)]
    pub count_only: bool,
    /// Rules of the group that only count.
    #[serde(default)]
    pub count_rules: Vec<String>,
}

fn aws() -> String {
    "AWS".into()
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub enabled: bool,
    /// Requests per client IP per window.
    pub limit: u64,
    /// 60, 120, 300 or 600.
    pub window_seconds: u32,
    pub action: RuleAction,
    pub priority: u32,
}

/// What WAFv2 accepts for names (and hence for metric names derived from them).
fn is_waf_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The API's pattern for descriptions: `[\w+=:#@/\-,\.][\w+=:#@/\-,\.\s]+[\w+=:#@/\-,\.]`.
fn is_description(s: &str) -> bool {
    let allowed = |c: char| c.is_alphanumeric() || c == '_' || "+=:#@/-,.".contains(c);
    s.chars().count() <= 256
        && s.chars().all(|c| allowed(c) || c.is_whitespace())
        && s.chars().next().is_some_and(allowed)
        && s.chars().last().is_some_and(allowed)
}

pub fn check(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if !inputs.name.is_empty() && !is_waf_name(&inputs.name) {
        out.push(Diagnostic::error("/name", "WAFv2 names are 1–128 letters, digits, `-` and `_`"));
    }
    if !inputs.description.is_empty() && !is_description(&inputs.description) {
        out.push(Diagnostic::error(
            "/description",
            "WAFv2 descriptions are up to 256 letters, digits, spaces and `+=:#@/-,._`, \
             not starting or ending with a space",
        ));
    }
    if inputs.default_action == RuleAction::Count {
        out.push(Diagnostic::error("/default_action", "a WebACL's default action is allow or block"));
    }
    let mut priorities = std::collections::BTreeMap::new();
    if inputs.rate_limit.enabled {
        priorities.insert(inputs.rate_limit.priority, "/rate_limit/priority".to_owned());
        // The API's bounds: at least 10 requests, at most 2e9.
        if !(10..=2_000_000_000).contains(&inputs.rate_limit.limit) {
            out.push(Diagnostic::error("/rate_limit/limit", "WAFv2 accepts 10 to 2,000,000,000 requests"));
        }
        if ![60, 120, 300, 600].contains(&inputs.rate_limit.window_seconds) {
            out.push(Diagnostic::error("/rate_limit/window_seconds", "WAFv2 accepts 60, 120, 300 or 600"));
        }
        if inputs.rate_limit.action == RuleAction::Allow {
            out.push(Diagnostic::error("/rate_limit/action", "a rate limit blocks or counts"));
        }
    }
    for (i, g) in inputs.managed_rule_groups.iter().enumerate() {
        if !is_waf_name(&g.name) {
            out.push(Diagnostic::error(format!("/managed_rule_groups/{i}/name"), "is not a rule group name"));
        }
        let path = format!("/managed_rule_groups/{i}/priority");
        if let Some(other) = priorities.insert(g.priority, path.clone()) {
            out.push(Diagnostic::error(path, format!("priority {} is also used at {other}", g.priority)));
        }
    }
    out
}
