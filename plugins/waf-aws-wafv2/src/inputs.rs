//! The plugin's inputs and the checks the schema cannot say.

use capstan_core::Diagnostic;
use schemars::JsonSchema;
use serde::Deserialize;

/// The defaults `values_custom` and `inputs` are merged over.
pub const DEFAULTS_YAML: &str = include_str!("defaults.yaml");

/// Inputs of `capstan/waf-aws-wafv2`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// WebACL name; empty for `<environment>-<component>`.
    #[serde(default)]
    pub name: String,
    /// `REGIONAL` (ALB, API Gateway, AppSync) or `CLOUDFRONT`.
    pub scope: Scope,
    /// The WebACL's description; empty for none.
    #[serde(default)]
    pub description: String,
    /// What happens to a request no rule matched: `allow` or `block`.
    pub default_action: RuleAction,
    /// AWS managed rule groups, evaluated by priority (lower first).
    pub managed_rule_groups: Vec<ManagedRuleGroup>,
    /// The per-client-IP rate-based rule.
    pub rate_limit: RateLimit,
    /// The ingress class app ingresses use (the AWS Load Balancer Controller's).
    pub ingress_class: String,
    /// CloudWatch metrics for the WebACL and each rule.
    pub cloudwatch_metrics: bool,
    /// Keep samples of matched requests (seen in the console).
    pub sampled_requests: bool,
    /// Full request logs (opt-in).
    pub logging: Logging,
    /// Client-certificate authentication on the load balancer (opt-in).
    pub mtls: AlbMtls,
}

/// WAF request logging: `PutLoggingConfiguration` to one destination.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Logging {
    /// ARN of a Kinesis Data Firehose delivery stream, CloudWatch Logs log
    /// group or S3 bucket whose name starts with `aws-waf-logs-` (WAFv2's
    /// rule). Empty: no logging, and a logging configuration this component
    /// put before is deleted.
    #[serde(default)]
    pub destination_arn: String,
    /// Request headers replaced by `REDACTED` in the logs: credentials and
    /// session cookies do not belong in a log store.
    pub redacted_headers: Vec<String>,
}

/// ALB mutual TLS, done by the AWS Load Balancer Controller from an
/// ingress annotation against an existing ELB trust store.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlbMtls {
    /// ARN of the ELB trust store (`arn:aws:elasticloadbalancing:…:truststore/…`)
    /// holding the client CA bundle (and revocation lists). Empty: no mTLS.
    #[serde(default)]
    pub trust_store_arn: String,
    /// The HTTPS listener port that verifies client certificates.
    pub port: u16,
    /// Accept client certificates past their expiry (not advised).
    pub ignore_client_certificate_expiry: bool,
}

/// Where the WebACL can be attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Scope {
    /// Regional resources: ALB, API Gateway, AppSync.
    #[serde(rename = "REGIONAL")]
    Regional,
    /// CloudFront distributions (managed from us-east-1).
    #[serde(rename = "CLOUDFRONT")]
    Cloudfront,
}

impl Scope {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Regional => "REGIONAL",
            Scope::Cloudfront => "CLOUDFRONT",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
/// What a rule (or the default) does with a request.
pub enum RuleAction {
    /// Let it through.
    Allow,
    /// Answer 403.
    Block,
    /// Only count it in the metrics and logs.
    Count,
}

/// One AWS managed rule group in the WebACL.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagedRuleGroup {
    /// Such as `AWSManagedRulesCommonRuleSet`.
    pub name: String,
    /// The group's vendor; `AWS` for AWS managed rules.
    #[serde(default = "aws")]
    pub vendor: String,
    /// Evaluation order, lower first; unique across the WebACL.
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

/// A rate-based rule keyed on the client IP.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Include the rule.
    pub enabled: bool,
    /// Requests per client IP per window.
    pub limit: u64,
    /// 60, 120, 300 or 600.
    pub window_seconds: u32,
    /// `block` or `count` once over the limit.
    pub action: RuleAction,
    /// Evaluation order, lower first; unique across the WebACL.
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

/// WAFv2 accepts these three destination kinds, each named `aws-waf-logs-…`.
fn is_log_destination(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, _region, _account, resource] = parts[..] else { return false };
    if scheme != "arn" || partition.is_empty() {
        return false;
    }
    let name = match service {
        "firehose" => resource.strip_prefix("deliverystream/"),
        "logs" => resource.strip_prefix("log-group:"),
        "s3" => Some(resource),
        _ => None,
    };
    name.is_some_and(|n| n.starts_with("aws-waf-logs-") && !n.contains(['/', ':', ' ']))
}

fn is_trust_store_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(parts[..], ["arn", p, "elasticloadbalancing", r, a, res]
        if !p.is_empty() && !r.is_empty() && !a.is_empty()
            && res.strip_prefix("truststore/").is_some_and(|n| !n.is_empty() && !n.contains(['"', '\\', ' '])))
}

/// Header names: RFC 9110 tokens, lower-case as WAFv2 compares them.
fn is_header_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
}

/// Every problem the schema cannot express, each at its input's JSON path.
pub fn check(inputs: &Inputs) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let logging = &inputs.logging;
    if !logging.destination_arn.is_empty() && !is_log_destination(&logging.destination_arn) {
        out.push(Diagnostic::error(
            "/logging/destination_arn",
            "must be the ARN of a Firehose delivery stream, CloudWatch Logs log group or S3 bucket \
             named `aws-waf-logs-…` (arn:aws:firehose:<region>:<account>:deliverystream/aws-waf-logs-…, \
             arn:aws:logs:<region>:<account>:log-group:aws-waf-logs-…, arn:aws:s3:::aws-waf-logs-…)",
        ));
    }
    for (i, h) in logging.redacted_headers.iter().enumerate() {
        if !is_header_name(h) {
            out.push(Diagnostic::error(
                format!("/logging/redacted_headers/{i}"),
                "is not an HTTP header name",
            ));
        }
    }
    // WAFv2 takes at most 100 redacted fields.
    if logging.redacted_headers.len() > 100 {
        out.push(Diagnostic::error("/logging/redacted_headers", "WAFv2 redacts at most 100 fields"));
    }
    if !inputs.mtls.trust_store_arn.is_empty() && !is_trust_store_arn(&inputs.mtls.trust_store_arn) {
        out.push(Diagnostic::error(
            "/mtls/trust_store_arn",
            "must be an ELB trust store ARN: arn:aws:elasticloadbalancing:<region>:<account>:truststore/<name>/<id>",
        ));
    }
    if inputs.mtls.port == 0 {
        out.push(Diagnostic::error("/mtls/port", "must be the HTTPS listener's port (1–65535)"));
    }
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
