//! The access policy Capstan writes on each queue (`Policy` attribute).
//!
//! Two deny statements by default: requests not made over TLS, and
//! principals of other AWS accounts. Neither takes anything a working setup
//! relies on — IAM roles of the same account keep what their identity
//! policies give them, and another account never reached the queue without an
//! allow in this policy — so both are on unless switched off. AWS services
//! (SNS topics, EventBridge rules, S3 buckets) sending to the queue are let in
//! one source ARN at a time (`allow_send_from`), never a whole service.

use capstan_sdk::pointer;
use capstan_sdk::prelude::*;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// Who may reach the component's queues, beyond what IAM identity policies give.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessPolicy {
    /// Whether Capstan owns each queue's policy. Default true: the policy is
    /// written, and cleared when nothing below asks for one. False leaves the
    /// queue's policy to another tool (Capstan neither sets nor clears it).
    #[serde(default = "yes")]
    pub managed: bool,
    /// Deny every request not made over TLS (`aws:SecureTransport`). Default true.
    #[serde(default = "yes")]
    pub deny_insecure_transport: bool,
    /// Deny principals of any other AWS account (`aws:PrincipalAccount`);
    /// AWS services are let in only through `allow_send_from`. Default true.
    #[serde(default = "yes")]
    pub same_account_only: bool,
    /// ARNs of SNS topics, EventBridge rules or S3 buckets allowed to send to
    /// the component's queues (not to their dead-letter queues), each through
    /// its service principal and only for that exact source. Default none.
    #[serde(default)]
    pub allow_send_from: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self {
            managed: true,
            deny_insecure_transport: true,
            same_account_only: true,
            allow_send_from: Vec::new(),
        }
    }
}

/// The services whose resources may be named in `allow_send_from`, with the
/// principal each sends as.
const SENDERS: &[(&str, &str)] =
    &[("sns", "sns.amazonaws.com"), ("events", "events.amazonaws.com"), ("s3", "s3.amazonaws.com")];

/// The `Policy` attribute of a queue: `None` when another tool owns it, the
/// empty string (which clears a policy) when nothing is asked for, else the
/// document. `senders` is false for a dead-letter queue, which only SQS
/// itself writes to.
pub fn attribute(policy: &AccessPolicy, account_id: &str, queue_arn: &str, senders: bool) -> Option<String> {
    if !policy.managed {
        return None;
    }
    let mut statements = Vec::new();
    if policy.deny_insecure_transport {
        statements.push(json!({
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": queue_arn,
            "Condition": { "Bool": { "aws:SecureTransport": "false" } },
        }));
    }
    if policy.same_account_only {
        // A service principal's request carries no aws:PrincipalAccount, so
        // the negated match alone would refuse the senders allowed below.
        statements.push(json!({
            "Sid": "DenyOtherAccounts",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": queue_arn,
            "Condition": {
                "StringNotEquals": { "aws:PrincipalAccount": account_id },
                "Bool": { "aws:PrincipalIsAWSService": "false" },
            },
        }));
    }
    if senders {
        for (i, source) in policy.allow_send_from.iter().enumerate() {
            let Some(principal) = sender_principal(source) else { continue };
            statements.push(json!({
                "Sid": format!("AllowSendFrom{}", i + 1),
                "Effect": "Allow",
                "Principal": { "Service": principal },
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": { "ArnEquals": { "aws:SourceArn": source } },
            }));
        }
    }
    if statements.is_empty() {
        return Some(String::new());
    }
    let document = json!({
        "Version": "2012-10-17",
        "Id": format!("capstan:{queue_arn}"),
        "Statement": statements,
    });
    Some(document.to_string())
}

/// The service principal that sends on behalf of `source`, if it is an ARN
/// of a service that can.
fn sender_principal(source: &str) -> Option<&'static str> {
    let service = source.split(':').nth(2)?;
    SENDERS.iter().find(|(s, _)| *s == service).map(|(_, principal)| *principal)
}

/// Problems with `access_policy`.
pub fn validate(out: &mut Vec<Diagnostic>, policy: &AccessPolicy) {
    for (i, source) in policy.allow_send_from.iter().enumerate() {
        let at = pointer(&["access_policy", "allow_send_from", &i.to_string()]);
        let parts: Vec<&str> = source.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") || parts[5].is_empty() {
            out.push(Diagnostic::error(
                at,
                format!("`{source}` is not an ARN (arn:aws:sns:<region>:<account>:<topic>)"),
            ));
        } else if source.contains(['*', '?']) || source.chars().any(char::is_whitespace) {
            out.push(Diagnostic::error(
                at,
                format!(
                    "`{source}`: name one source exactly; wildcards would let any matching resource send"
                ),
            ));
        } else if sender_principal(source).is_none() {
            let known: Vec<&str> = SENDERS.iter().map(|(s, _)| *s).collect();
            out.push(Diagnostic::error(
                at,
                format!(
                    "`{source}` is a `{}` ARN; queues can be opened to {} sources (other services send with an IAM role)",
                    parts[2],
                    known.join(", ")
                ),
            ));
        }
    }
    if !policy.managed
        && (!policy.allow_send_from.is_empty()
            || !policy.deny_insecure_transport
            || !policy.same_account_only)
    {
        out.push(Diagnostic::error(
            "/access_policy/managed",
            "the other access_policy settings need managed: true (with false, Capstan does not touch the policy)",
        ));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use serde_json::Value;

    use super::*;

    const ARN: &str = "arn:aws:sqs:sa-east-1:123456789012:opus-payments";

    fn document(policy: &AccessPolicy, senders: bool) -> Value {
        serde_json::from_str(&attribute(policy, "123456789012", ARN, senders).unwrap()).unwrap()
    }

    #[test]
    fn by_default_denies_plain_http_and_other_accounts_and_lets_no_service_in() {
        let doc = document(&AccessPolicy::default(), true);
        let sids: Vec<&str> =
            doc["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
        assert_eq!(sids, ["DenyInsecureTransport", "DenyOtherAccounts"]);
        let other = &doc["Statement"][1];
        assert_eq!(other["Condition"]["StringNotEquals"]["aws:PrincipalAccount"], "123456789012");
        assert_eq!(other["Resource"], ARN);
    }

    #[test]
    fn senders_are_let_in_by_exact_source_and_never_on_a_dead_letter_queue() {
        let topic = "arn:aws:sns:sa-east-1:123456789012:payments-events";
        let policy = AccessPolicy { allow_send_from: vec![topic.to_owned()], ..AccessPolicy::default() };
        let doc = document(&policy, true);
        let allow = &doc["Statement"][2];
        assert_eq!(allow["Principal"]["Service"], "sns.amazonaws.com");
        assert_eq!(allow["Action"], "sqs:SendMessage");
        assert_eq!(allow["Condition"]["ArnEquals"]["aws:SourceArn"], topic);
        assert_eq!(document(&policy, false)["Statement"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn nothing_asked_clears_the_policy_and_unmanaged_leaves_it_alone() {
        let none = AccessPolicy {
            deny_insecure_transport: false,
            same_account_only: false,
            ..AccessPolicy::default()
        };
        assert_eq!(attribute(&none, "123456789012", ARN, true).as_deref(), Some(""));
        let unmanaged = AccessPolicy { managed: false, ..AccessPolicy::default() };
        assert_eq!(attribute(&unmanaged, "123456789012", ARN, true), None);
    }

    #[test]
    fn refuses_sources_that_are_not_exact_arns_of_a_sending_service() {
        let check = |sources: &[&str]| {
            let mut out = Vec::new();
            let policy = AccessPolicy {
                allow_send_from: sources.iter().map(|s| (*s).to_owned()).collect(),
                ..AccessPolicy::default()
            };
            validate(&mut out, &policy);
            out
        };
        assert!(
            check(&["arn:aws:sns:sa-east-1:123456789012:t", "arn:aws:events:sa-east-1:123456789012:rule/r"])
                .is_empty()
        );
        let d = check(&["topic"]);
        assert_eq!(d[0].path, "/access_policy/allow_send_from/0");
        assert!(check(&["arn:aws:sns:sa-east-1:123456789012:*"])[0].message.contains("wildcards"));
        assert!(
            check(&["arn:aws:lambda:sa-east-1:123456789012:function:f"])[0]
                .message
                .contains("sns, events, s3")
        );
    }
}
