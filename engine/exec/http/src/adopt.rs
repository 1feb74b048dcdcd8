//! Create calls that fail only because the resource is already there, and
//! deletes that fail only because it is already gone.
//!
//! SQS's `CreateQueue` returns the existing queue, so applying it twice is
//! harmless. WAFv2's `Create*` calls instead fail with
//! `WAFDuplicateItemException` when the name is taken in that scope. For
//! those, the driver looks the resource up by name (`List*`) and answers
//! with the shape `Create*` would have returned (`{"Summary": …}`), so the
//! plugin gets its ARN on every apply and a re-apply changes nothing. A
//! WebACL found this way is then brought to the create body
//! (`converge.rs`); the other WAFv2 resources are answered as they are.
//!
//! A WAFv2 delete of what is not there fails with
//! `WAFNonexistentItemException`. An apply stopped after the delete ran but
//! before state recorded it runs the delete again; failing then would fail
//! every apply after it, so "already gone" counts as done.

use serde_json::{Value, json};

use crate::error::HttpError;
use crate::services::{self, Service};

struct Rule {
    service: Service,
    create: &'static str,
    codes: &'static [&'static str],
    list: &'static str,
    list_key: &'static str,
}

/// AWS's code, and the one moto (the emulator the tests and local stacks
/// use) answers with.
const WAF_DUPLICATE: &[&str] = &["WAFDuplicateItemException", "WafV2DuplicateItem"];

const RULES: &[Rule] = &[
    Rule {
        service: services::WAFV2,
        create: "AWSWAF_20190729.CreateWebACL",
        codes: WAF_DUPLICATE,
        list: "AWSWAF_20190729.ListWebACLs",
        list_key: "WebACLs",
    },
    Rule {
        service: services::WAFV2,
        create: "AWSWAF_20190729.CreateIPSet",
        codes: WAF_DUPLICATE,
        list: "AWSWAF_20190729.ListIPSets",
        list_key: "IPSets",
    },
    Rule {
        service: services::WAFV2,
        create: "AWSWAF_20190729.CreateRuleGroup",
        codes: WAF_DUPLICATE,
        list: "AWSWAF_20190729.ListRuleGroups",
        list_key: "RuleGroups",
    },
    Rule {
        service: services::WAFV2,
        create: "AWSWAF_20190729.CreateRegexPatternSet",
        codes: WAF_DUPLICATE,
        list: "AWSWAF_20190729.ListRegexPatternSets",
        list_key: "RegexPatternSets",
    },
];

/// Deletes whose "not found" answer means there is nothing left to do:
/// `X-Amz-Target` and the codes AWS (and moto) answer with.
const GONE: &[(Service, &str, &[&str])] =
    &[(services::WAFV2, "AWSWAF_20190729.DeleteLoggingConfiguration", &["WAFNonexistentItemException"])];

/// A WAFv2 account holds at most a few hundred of each: bound the paging.
const MAX_PAGES: usize = 50;

/// Whether a failed call with this `X-Amz-Target` and AWS error code is one
/// to answer with the existing resource.
pub(crate) fn applies(service: Service, target: &str, code: &str) -> bool {
    RULES.iter().any(|r| r.service == service && r.create == target && r.codes.contains(&code))
}

/// Whether a failed delete with this `X-Amz-Target` and AWS error code
/// found nothing to delete, which is what it was for.
pub(crate) fn already_gone(service: Service, target: &str, code: &str) -> bool {
    GONE.iter().any(|(s, t, codes)| *s == service && *t == target && codes.contains(&code))
}

/// The existing resource named in `request` (the create call's body), as
/// `{"Summary": …}`, or `None` when it cannot be found (the caller then
/// reports the original error). `list` sends one list call: its target and body.
pub(crate) fn existing(
    target: &str,
    request: &Value,
    list: &dyn Fn(&str, &Value) -> Result<Value, HttpError>,
) -> Result<Option<Value>, HttpError> {
    let Some(rule) = RULES.iter().find(|r| r.create == target) else { return Ok(None) };
    let (Some(name), Some(scope)) =
        (request.get("Name").and_then(Value::as_str), request.get("Scope").and_then(Value::as_str))
    else {
        return Ok(None);
    };
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut body = json!({ "Scope": scope, "Limit": 100 });
        if let Some(m) = &marker {
            body["NextMarker"] = json!(m);
        }
        let page = list(rule.list, &body)?;
        let found = page
            .get(rule.list_key)
            .and_then(Value::as_array)
            .and_then(|items| items.iter().find(|i| i.get("Name").and_then(Value::as_str) == Some(name)));
        if let Some(item) = found {
            return Ok(Some(json!({ "Summary": item })));
        }
        match page.get("NextMarker").and_then(Value::as_str) {
            Some(m) if !m.is_empty() && marker.as_deref() != Some(m) => marker = Some(m.to_owned()),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[test]
    fn only_waf_duplicates_are_adopted() {
        assert!(applies(services::WAFV2, "AWSWAF_20190729.CreateWebACL", "WAFDuplicateItemException"));
        assert!(!applies(services::WAFV2, "AWSWAF_20190729.CreateWebACL", "WAFInvalidParameterException"));
        assert!(!applies(services::SQS, "AmazonSQS.CreateQueue", "QueueAlreadyExists"));
    }

    #[test]
    fn only_a_missing_logging_configuration_counts_as_deleted() {
        let delete = "AWSWAF_20190729.DeleteLoggingConfiguration";
        assert!(already_gone(services::WAFV2, delete, "WAFNonexistentItemException"));
        assert!(!already_gone(services::WAFV2, delete, "WAFOptimisticLockException"));
        assert!(!already_gone(
            services::WAFV2,
            "AWSWAF_20190729.DeleteWebACL",
            "WAFNonexistentItemException"
        ));
    }

    /// The list seam is a stand-in here (paging is hard to provoke on moto);
    /// the moto tests cover the real call.
    #[test]
    fn pages_until_the_name_is_found() {
        let calls = RefCell::new(Vec::new());
        let list = |target: &str, body: &Value| -> Result<Value, HttpError> {
            calls.borrow_mut().push((target.to_owned(), body.clone()));
            Ok(if body.get("NextMarker").is_none() {
                json!({ "WebACLs": [{ "Name": "other" }], "NextMarker": "p2" })
            } else {
                json!({ "WebACLs": [{ "Name": "edge", "ARN": "arn:aws:wafv2:x" }] })
            })
        };
        let request = json!({ "Name": "edge", "Scope": "REGIONAL" });
        let found = existing("AWSWAF_20190729.CreateWebACL", &request, &list).unwrap().unwrap();
        assert_eq!(found, json!({ "Summary": { "Name": "edge", "ARN": "arn:aws:wafv2:x" } }));
        let calls = calls.into_inner();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].0, "AWSWAF_20190729.ListWebACLs");
        assert_eq!(calls[1].1["NextMarker"], "p2");

        let missing = json!({ "Name": "nowhere", "Scope": "REGIONAL" });
        let none = |_: &str, _: &Value| Ok(json!({ "WebACLs": [] }));
        assert_eq!(existing("AWSWAF_20190729.CreateWebACL", &missing, &none).unwrap(), None);
    }
}
