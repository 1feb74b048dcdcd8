//! Bringing an existing WAFv2 WebACL to what its `CreateWebACL` body says.
//!
//! A plugin declares the complete desired WebACL as a create call; when the
//! name is taken, `adopt.rs` finds the WebACL. Answering with it unchanged
//! would drop every edit, and the plugin cannot write it itself:
//! `UpdateWebACL` needs the `LockToken` current at apply time, which changes
//! on every write, while an effect's body is fixed when the plan is made.
//! So the executor reads the live WebACL and its token (`GetWebACL`),
//! compares, and writes the body's fields back with that token when they
//! differ. An update replaces every mutable field, so a field the body no
//! longer has is removed from the WebACL.
//!
//! Tags are not converged: `UpdateWebACL` does not take them (they are set
//! when the WebACL is created).

use serde_json::{Map, Value, json};

use crate::error::HttpError;
use crate::services::Service;

/// The create call this step follows.
const CREATE: &str = "AWSWAF_20190729.CreateWebACL";
const GET: &str = "AWSWAF_20190729.GetWebACL";
const UPDATE: &str = "AWSWAF_20190729.UpdateWebACL";

/// The code of a write made with a stale lock token.
const LOCK_CONFLICT: &str = "WAFOptimisticLockException";

/// The WebACL's fields `UpdateWebACL` replaces, all of which a `CreateWebACL`
/// body may set. `Name` and `Scope` identify the WebACL; `Tags` are not
/// updatable.
const FIELDS: &[&str] = &[
    "DefaultAction",
    "Description",
    "Rules",
    "VisibilityConfig",
    "CustomResponseBodies",
    "CaptchaConfig",
    "ChallengeConfig",
    "TokenDomains",
    "AssociationConfig",
];

/// A lock conflict means someone else wrote the WebACL between our read and
/// our write; each attempt reads the token afresh, so a few are enough for a
/// concurrent console edit. More would only hide two tools fighting over it.
pub(crate) const MAX_ATTEMPTS: usize = 5;

/// One follow-up call of the effect's service: its `X-Amz-Target` and body.
pub(crate) type Call<'a> = dyn Fn(&str, &Value) -> Result<Value, HttpError> + 'a;

/// Whether a create call with this `X-Amz-Target` is converged after adoption.
pub(crate) fn applies(target: &str) -> bool {
    target == CREATE
}

/// Converges the WebACL `adopted` (`{"Summary": …}` as `ListWebACLs` gave
/// it) on `request`, the `CreateWebACL` body, and answers in the create
/// call's shape: `adopted` itself when nothing differed, otherwise with the
/// `LockToken` (and `Description`) the update left.
pub(crate) fn web_acl(
    effect: &str,
    service: Service,
    request: &Value,
    adopted: Value,
    call: &Call<'_>,
) -> Result<Value, HttpError> {
    let invalid = |reason: String| HttpError::InvalidResponse {
        effect: effect.to_owned(),
        service: service.name.to_owned(),
        reason,
    };
    let summary = adopted.get("Summary").cloned().unwrap_or(Value::Null);
    let id = summary
        .get("Id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("ListWebACLs listed the WebACL without an Id".to_owned()))?;
    let key = json!({ "Name": request["Name"], "Scope": request["Scope"], "Id": id });
    for _ in 0..MAX_ATTEMPTS {
        let live = call(GET, &key)?;
        let (Some(web_acl), Some(token)) =
            (live.get("WebACL"), live.get("LockToken").and_then(Value::as_str))
        else {
            return Err(invalid("GetWebACL answered without the WebACL or its LockToken".to_owned()));
        };
        if same(request, web_acl) {
            return Ok(adopted);
        }
        match call(UPDATE, &update_body(request, &key, token)) {
            Ok(answer) => {
                let next = answer
                    .get("NextLockToken")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("UpdateWebACL answered without a NextLockToken".to_owned()))?;
                return Ok(json!({ "Summary": updated_summary(&summary, request, next) }));
            }
            Err(e) if e.aws_code() == Some(LOCK_CONFLICT) => {}
            Err(e) => return Err(e),
        }
    }
    Err(HttpError::Contended {
        effect: effect.to_owned(),
        service: service.name.to_owned(),
        resource: format!("WebACL {}", request["Name"].as_str().unwrap_or_default()),
        attempts: MAX_ATTEMPTS,
    })
}

/// Whether the live WebACL already has every field as the create body says
/// (a field absent from the body must be absent or empty live).
fn same(request: &Value, live: &Value) -> bool {
    FIELDS.iter().all(|f| field(f, request.get(*f)) == field(f, live.get(*f)))
}

/// One field in a form both sides can be compared in: `None` for absent or
/// empty (WAFv2 answers `""` for no description, some emulators `null` or
/// `[]` for unset lists), nulls and empty lists dropped inside, and rules in
/// evaluation order (their order in the list means nothing to WAFv2).
fn field(name: &str, value: Option<&Value>) -> Option<Value> {
    let value = value.and_then(normalise)?;
    let empty = match &value {
        Value::String(s) => s.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    };
    if empty {
        return None;
    }
    match (name, value) {
        ("Rules", Value::Array(mut rules)) => {
            rules.sort_by_key(rule_order);
            Some(Value::Array(rules))
        }
        (_, value) => Some(value),
    }
}

fn rule_order(rule: &Value) -> (u64, String) {
    let priority = rule.get("Priority").and_then(Value::as_u64).unwrap_or(u64::MAX);
    (priority, rule.get("Name").and_then(Value::as_str).unwrap_or_default().to_owned())
}

/// `value` without nulls and empty lists, at any depth; `None` if it is one.
/// Empty objects stay: in WAFv2 they carry meaning (`{"Allow": {}}`).
fn normalise(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(Value::Array(items.iter().filter_map(normalise).collect())),
        Value::Object(m) => Some(Value::Object(
            m.iter().filter_map(|(k, v)| normalise(v).map(|v| (k.clone(), v))).collect::<Map<_, _>>(),
        )),
        other => Some(other.clone()),
    }
}

/// `UpdateWebACL`'s body: which WebACL (`key`) and the token read with it,
/// and every updatable field the create body sets. What it leaves out,
/// WAFv2 removes.
fn update_body(request: &Value, key: &Value, lock_token: &str) -> Value {
    let mut body = key.clone();
    body["LockToken"] = json!(lock_token);
    for f in FIELDS {
        if let Some(v) = request.get(*f).filter(|v| !v.is_null()) {
            body[*f] = v.clone();
        }
    }
    body
}

/// The listed summary after an update: the new token, and the description
/// now set.
fn updated_summary(listed: &Value, request: &Value, next_lock_token: &str) -> Value {
    let mut summary = listed.clone();
    if let Some(s) = summary.as_object_mut() {
        s.insert("LockToken".to_owned(), json!(next_lock_token));
        match request.get("Description").filter(|d| !d.is_null()) {
            Some(d) => s.insert("Description".to_owned(), d.clone()),
            None => s.remove("Description"),
        };
    }
    summary
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::services::WAFV2;

    fn request() -> Value {
        json!({
            "Name": "edge",
            "Scope": "REGIONAL",
            "DefaultAction": { "Allow": {} },
            "Rules": [
                { "Name": "b", "Priority": 2, "Action": { "Block": {} } },
                { "Name": "a", "Priority": 1, "Action": { "Count": {} } },
            ],
            "VisibilityConfig": { "MetricName": "edge" },
            "Tags": [{ "Key": "k", "Value": "v" }],
        })
    }

    fn adopted() -> Value {
        json!({ "Summary": { "Name": "edge", "Id": "id-1", "ARN": "arn:aws:wafv2:x", "LockToken": "t0", "Description": "old" } })
    }

    /// The live WebACL as GetWebACL answers: nulls for what is unset, an
    /// empty description, rules in another order.
    fn live() -> Value {
        json!({
            "Name": "edge", "Id": "id-1", "Capacity": 3, "Description": "",
            "DefaultAction": { "Allow": {} },
            "Rules": [
                { "Name": "a", "Priority": 1, "Action": { "Count": {} }, "OverrideAction": null, "RuleLabels": [] },
                { "Name": "b", "Priority": 2, "Action": { "Block": {} }, "CaptchaConfig": null },
            ],
            "VisibilityConfig": { "MetricName": "edge" },
            "CustomResponseBodies": null, "TokenDomains": null,
        })
    }

    /// A stand-in for the WAFv2 API (the seam between this step and the
    /// transport): `answer` gives each call's reply; every call is recorded.
    struct Api<F> {
        calls: RefCell<Vec<(String, Value)>>,
        answer: F,
    }

    impl<F: Fn(usize, &str) -> Result<Value, HttpError>> Api<F> {
        fn new(answer: F) -> Self {
            Self { calls: RefCell::new(Vec::new()), answer }
        }
        fn call(&self, target: &str, body: &Value) -> Result<Value, HttpError> {
            let n = self.calls.borrow().len();
            self.calls.borrow_mut().push((target.to_owned(), body.clone()));
            (self.answer)(n, target)
        }
        fn targets(&self) -> Vec<String> {
            self.calls.borrow().iter().map(|(t, _)| t.clone()).collect()
        }
    }

    fn conflict() -> HttpError {
        HttpError::Api {
            effect: "web-acl".to_owned(),
            service: "wafv2".to_owned(),
            status: 400,
            code: LOCK_CONFLICT.to_owned(),
            message: None,
        }
    }

    #[test]
    fn an_equal_web_acl_is_answered_as_listed_and_not_written() {
        let api = Api::new(|_, _| Ok(json!({ "WebACL": live(), "LockToken": "t0" })));
        let got = web_acl("web-acl", WAFV2, &request(), adopted(), &|t, b| api.call(t, b)).unwrap();
        assert_eq!(got, adopted());
        assert_eq!(api.targets(), [GET]);
        assert_eq!(api.calls.borrow()[0].1, json!({ "Name": "edge", "Scope": "REGIONAL", "Id": "id-1" }));
    }

    /// What the body leaves out is left out of the update, so WAFv2 removes
    /// it (moto keeps it instead: its update patches, see the moto tests).
    #[test]
    fn a_changed_web_acl_is_replaced_by_the_body_with_the_token_just_read() {
        let mut changed = live();
        changed["Description"] = json!("set in the console");
        changed["TokenDomains"] = json!(["example.com"]);
        let api = Api::new(move |_, target| {
            Ok(match target {
                GET => json!({ "WebACL": changed.clone(), "LockToken": "t1" }),
                _ => json!({ "NextLockToken": "t2" }),
            })
        });
        let got = web_acl("web-acl", WAFV2, &request(), adopted(), &|t, b| api.call(t, b)).unwrap();
        assert_eq!(api.targets(), [GET, UPDATE]);
        let mut expected = request();
        let body = expected.as_object_mut().unwrap();
        body.remove("Tags");
        body.insert("Id".to_owned(), json!("id-1"));
        body.insert("LockToken".to_owned(), json!("t1"));
        assert_eq!(api.calls.borrow()[1].1, expected);
        assert_eq!(
            got,
            json!({ "Summary": { "Name": "edge", "Id": "id-1", "ARN": "arn:aws:wafv2:x", "LockToken": "t2" } })
        );
    }

    #[test]
    fn a_lock_conflict_reads_again_and_retries_a_bounded_number_of_times() {
        let mut changed = live();
        changed["DefaultAction"] = json!({ "Block": {} });
        let changed2 = changed.clone();
        // One conflict, then the write goes through with the second token.
        let api = Api::new(move |n, target| match (n, target) {
            (_, GET) => Ok(json!({ "WebACL": changed2.clone(), "LockToken": format!("t{n}") })),
            (1, _) => Err(conflict()),
            _ => Ok(json!({ "NextLockToken": "t9" })),
        });
        let got = web_acl("web-acl", WAFV2, &request(), adopted(), &|t, b| api.call(t, b)).unwrap();
        assert_eq!(api.targets(), [GET, UPDATE, GET, UPDATE]);
        assert_eq!(api.calls.borrow()[3].1["LockToken"], "t2");
        assert_eq!(got["Summary"]["LockToken"], "t9");

        // Someone keeps writing: give up with an error that says so.
        let api = Api::new(move |_, target| match target {
            GET => Ok(json!({ "WebACL": changed.clone(), "LockToken": "t" })),
            _ => Err(conflict()),
        });
        let err = web_acl("web-acl", WAFV2, &request(), adopted(), &|t, b| api.call(t, b)).unwrap_err();
        assert_eq!(api.targets().len(), 2 * MAX_ATTEMPTS);
        assert!(matches!(err, HttpError::Contended { attempts: MAX_ATTEMPTS, .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "effect web-acl on aws:wafv2: WebACL edge kept changing while it was being updated \
             (WAFOptimisticLockException 5 times): something else is writing it; apply again once it is done"
        );

        // Any other error is the answer.
        let api = Api::new(|_, _| {
            Err(HttpError::Api {
                effect: "web-acl".to_owned(),
                service: "wafv2".to_owned(),
                status: 400,
                code: "WAFNonexistentItemException".to_owned(),
                message: None,
            })
        });
        let err = web_acl("web-acl", WAFV2, &request(), adopted(), &|t, b| api.call(t, b)).unwrap_err();
        assert_eq!(err.aws_code(), Some("WAFNonexistentItemException"));
        assert_eq!(api.targets(), [GET]);
    }

    #[test]
    fn absent_null_and_empty_are_the_same_but_empty_actions_are_not() {
        assert!(field("Description", Some(&json!(""))).is_none());
        assert!(field("TokenDomains", Some(&json!([]))).is_none());
        assert!(field("CustomResponseBodies", Some(&json!({}))).is_none());
        assert!(field("CaptchaConfig", Some(&Value::Null)).is_none());
        assert_ne!(
            field("DefaultAction", Some(&json!({ "Allow": {} }))),
            field("DefaultAction", Some(&json!({ "Block": {} })))
        );
        let mut extra = live();
        extra["Rules"].as_array_mut().unwrap().push(json!({ "Name": "c", "Priority": 3 }));
        assert!(!same(&request(), &extra), "a rule more in AWS than in the body differs");
        assert!(same(&request(), &live()));
    }

    #[test]
    fn answers_without_what_the_step_needs_are_invalid() {
        let api = Api::new(|_, _| Ok(json!({ "WebACL": live() })));
        let err = web_acl("web-acl", WAFV2, &request(), adopted(), &|t, b| api.call(t, b)).unwrap_err();
        assert!(err.to_string().contains("without the WebACL or its LockToken"), "{err}");
        let no_id = json!({ "Summary": { "Name": "edge" } });
        let err = web_acl("web-acl", WAFV2, &request(), no_id, &|t, b| api.call(t, b)).unwrap_err();
        assert!(err.to_string().contains("without an Id"), "{err}");

        let mut changed = live();
        changed["Description"] = json!("other");
        let api = Api::new(move |_, target| {
            Ok(if target == GET { json!({ "WebACL": changed.clone(), "LockToken": "t" }) } else { json!({}) })
        });
        let err = web_acl("web-acl", WAFV2, &request(), adopted(), &|t, b| api.call(t, b)).unwrap_err();
        assert!(err.to_string().contains("without a NextLockToken"), "{err}");
    }
}
