//! moto checking SigV4 signatures against its IAM users: the driver's
//! signatures are accepted, and a wrong secret is refused with AWS's code
//! (and the secret is not in the error). Temporary credentials from a web
//! identity sign as their role.

use capstan_http::testing::Moto;
use capstan_http::{DEFAULT_TIMEOUT, HttpExecutor};
use serde_json::json;

use crate::support::{REGION, apply_all, aws_env, sqs_plan, web_identity_env};

#[test]
fn signed_calls_are_accepted_and_a_wrong_secret_is_refused() {
    // Three unsigned requests create the user, its policy and its key.
    let moto = Moto::start_with_auth(3);
    let (key_id, secret) = moto.iam_user_with_key("capstan");
    let plan = sqs_plan(json!({}));

    let exec = HttpExecutor::new(None, &aws_env(&moto, &key_id, &secret), DEFAULT_TIMEOUT).unwrap();
    let results = apply_all(&exec, &plan);
    assert!(results[0].body["QueueUrl"].as_str().unwrap().ends_with("/opus-consents"));

    let wrong = "not-the-secret-of-this-key";
    let exec = HttpExecutor::new(None, &aws_env(&moto, &key_id, wrong), DEFAULT_TIMEOUT).unwrap();
    let err = exec.apply(&plan.effects[0]).unwrap_err();
    let code = err.aws_code().unwrap_or_default().to_owned();
    assert!(code.contains("Signature") || code.contains("InvalidClientTokenId"), "{err}");
    assert!(!err.to_string().contains(wrong) && !format!("{err:?}").contains(wrong), "{err}");
}

#[test]
fn web_identity_credentials_from_sts_sign_as_their_role() {
    // Three unsigned requests: the role, its policy and the exchange of the
    // token (STS takes no signature). The effects after it are checked.
    let moto = Moto::start_with_auth(3);
    let role = moto.iam_role_allowing("deployer", &["sqs:*"]);
    let dir = tempfile::tempdir().unwrap();
    let env = web_identity_env(&moto.url, dir.path(), &role);

    let exec = HttpExecutor::new(None, &env, DEFAULT_TIMEOUT).unwrap();
    assert_eq!(exec.region(), REGION);
    let results = apply_all(&exec, &sqs_plan(json!({})));
    assert!(results[0].body["QueueUrl"].as_str().unwrap().ends_with("/opus-consents"));
}
