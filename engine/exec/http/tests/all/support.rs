//! The plugins' plans, and an executor aimed at a moto server.

use std::collections::BTreeMap;

use capstan_core::ComponentPlan;
use capstan_http::testing::Moto;
use capstan_http::{DEFAULT_TIMEOUT, HttpExecutor};
use capstan_plugin_messaging_sqs::MessagingSqs;
use capstan_sdk::testkit::{PlanCall, merge};
use serde_json::{Value, json};

/// The region moto is inspected in: the executor must sign for the same one.
pub use capstan_http::testing::REGION;

/// The environment the operator's shell would have, pointed at moto.
pub fn aws_env(moto: &Moto, key_id: &str, secret: &str) -> BTreeMap<String, String> {
    [
        ("AWS_ACCESS_KEY_ID", key_id),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The environment of an EKS pod or an OIDC CI job, every service (STS
/// included) at `endpoint`: a web-identity token in `dir/token` for `role`,
/// and no keys.
pub fn web_identity_env(endpoint: &str, dir: &std::path::Path, role: &str) -> BTreeMap<String, String> {
    let token_file = dir.join("token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.payload-never-shown.sig\n").unwrap();
    [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ROLE_ARN", role),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub fn executor(moto: &Moto) -> HttpExecutor {
    HttpExecutor::new(None, &moto.env(), DEFAULT_TIMEOUT).unwrap()
}

/// A messaging-sqs plan for component prod/opus/events, with `patch` over
/// the base inputs and the given effect results handed back.
pub fn sqs_call(patch: Value) -> PlanCall {
    let mut inputs = json!({
        "region": REGION,
        "account_id": capstan_http::testing::ACCOUNT,
        "name_prefix": "opus-",
        "queues": {
            "payments": { "retention_hours": 168, "dead_letter": true, "max_receive_count": 3 },
            "consents": {},
        },
    });
    merge(&mut inputs, patch);
    PlanCall::new(inputs).component("prod", "opus", "events")
}

pub fn sqs_plan(patch: Value) -> ComponentPlan {
    sqs_call(patch).run::<MessagingSqs>().unwrap()
}

pub use capstan_http::testing::apply_all;

/// Every queue moto holds: URL → (attributes, tags).
pub fn queues(moto: &Moto) -> BTreeMap<String, (Value, Value)> {
    let list = moto.ok("sqs", "AmazonSQS.ListQueues", &json!({}));
    list["QueueUrls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|url| {
            let url = url.as_str().unwrap();
            let attrs = moto.ok(
                "sqs",
                "AmazonSQS.GetQueueAttributes",
                &json!({ "QueueUrl": url, "AttributeNames": ["All"] }),
            );
            let tags = moto.ok("sqs", "AmazonSQS.ListQueueTags", &json!({ "QueueUrl": url }));
            (url.to_owned(), (attrs["Attributes"].clone(), tags.get("Tags").cloned().unwrap_or(json!({}))))
        })
        .collect()
}

/// The queue whose URL ends in `/<name>`.
pub fn queue<'a>(all: &'a BTreeMap<String, (Value, Value)>, name: &str) -> &'a (Value, Value) {
    all.iter()
        .find(|(url, _)| url.ends_with(&format!("/{name}")))
        .map(|(_, q)| q)
        .unwrap_or_else(|| panic!("no queue {name} in {:?}", all.keys().collect::<Vec<_>>()))
}
