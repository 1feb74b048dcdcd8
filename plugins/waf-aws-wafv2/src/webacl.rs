//! The `CreateWebACL` request body (WAFv2 API, AWS JSON 1.1 protocol).

use capstan_sdk::ComponentId;
use serde_json::{Value, json};

use crate::inputs::{Inputs, RuleAction};

fn action(a: RuleAction) -> Value {
    match a {
        RuleAction::Allow => json!({ "Allow": {} }),
        RuleAction::Block => json!({ "Block": {} }),
        RuleAction::Count => json!({ "Count": {} }),
    }
}

fn visibility(inputs: &Inputs, metric: &str) -> Value {
    // Metric names allow letters, digits, `-` and `_` — the same alphabet
    // `check` holds names to, so a derived metric name is always valid.
    json!({
        "SampledRequestsEnabled": inputs.sampled_requests,
        "CloudWatchMetricsEnabled": inputs.cloudwatch_metrics,
        "MetricName": metric,
    })
}

/// The complete desired WebACL as a `CreateWebACL` body.
pub fn create_request(name: &str, c: &ComponentId, inputs: &Inputs) -> Value {
    let mut rules = Vec::new();
    if inputs.rate_limit.enabled {
        let rule = format!("{name}-rate-limit");
        rules.push(json!({
            "Name": rule,
            "Priority": inputs.rate_limit.priority,
            "Statement": { "RateBasedStatement": {
                "Limit": inputs.rate_limit.limit,
                "EvaluationWindowSec": inputs.rate_limit.window_seconds,
                "AggregateKeyType": "IP",
            }},
            "Action": action(inputs.rate_limit.action),
            "VisibilityConfig": visibility(inputs, &rule),
        }));
    }
    for g in &inputs.managed_rule_groups {
        let rule = format!("{}-{}", g.vendor, g.name);
        let mut statement = json!({ "VendorName": g.vendor, "Name": g.name });
        if !g.count_rules.is_empty() {
            statement["RuleActionOverrides"] =
                g.count_rules.iter().map(|r| json!({ "Name": r, "ActionToUse": { "Count": {} } })).collect();
        }
        rules.push(json!({
            "Name": rule,
            "Priority": g.priority,
            "Statement": { "ManagedRuleGroupStatement": statement },
            "OverrideAction": if g.count_only { json!({ "Count": {} }) } else { json!({ "None": {} }) },
            "VisibilityConfig": visibility(inputs, &rule),
        }));
    }
    let mut body = json!({
        "Name": name,
        "Scope": inputs.scope.as_str(),
        "DefaultAction": action(inputs.default_action),
        "Rules": rules,
        "VisibilityConfig": visibility(inputs, name),
        "Tags": [
            { "Key": "app.kubernetes.io/managed-by", "Value": "capstan" },
            { "Key": "capstan.dev/environment", "Value": c.environment },
            { "Key": "capstan.dev/component", "Value": format!("{}/{}", c.namespace, c.name) },
        ],
    });
    if !inputs.description.is_empty() {
        body["Description"] = json!(inputs.description);
    }
    body
}
