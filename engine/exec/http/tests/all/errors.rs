//! What goes wrong is said with the effect, the service and AWS's own error
//! code and message, and never with a credential.

use std::collections::BTreeMap;

use capstan_core::{Effect, EffectKind, HttpCall, Text};
use capstan_http::testing::Moto;
use capstan_http::{DEFAULT_TIMEOUT, HttpError, HttpExecutor};
use serde_json::json;

use crate::support::{REGION, aws_env, sqs_plan, web_identity_env};

const SECRET: &str = "wJalrXUtnFEMI-never-shown-K7MDENG";
const TOKEN: &str = "session-token-never-shown-FwoGZXIvYXdzE";

fn exec_with_token(moto: &Moto) -> HttpExecutor {
    let mut env = aws_env(moto, "AKIDNEVERSHOWN", SECRET);
    env.insert("AWS_SESSION_TOKEN".to_owned(), TOKEN.to_owned());
    HttpExecutor::new(None, &env, DEFAULT_TIMEOUT).unwrap()
}

fn assert_no_credentials(err: &HttpError) {
    for text in [err.to_string(), format!("{err:?}")] {
        for secret in [SECRET, TOKEN, "AKIDNEVERSHOWN", "Signature=", "AWS4-HMAC-SHA256"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}

#[test]
fn an_aws_error_names_the_effect_the_service_and_the_aws_code() {
    let moto = Moto::start();
    let exec = exec_with_token(&moto);
    let plan = sqs_plan(json!({}));
    // SetQueueAttributes before CreateQueue: the queue does not exist yet.
    let attributes = plan.effects.iter().find(|e| e.id == "queue:payments:attributes").unwrap();
    let err = exec.apply(attributes).unwrap_err();
    let HttpError::Api { effect, service, status, code, message } = &err else { panic!("{err:?}") };
    assert_eq!((effect.as_str(), service.as_str(), *status), ("queue:payments:attributes", "sqs", 400));
    assert!(code.contains("NonExistentQueue") || code.contains("QueueDoesNotExist"), "{code}");
    assert!(message.is_some(), "AWS's message is kept: {err}");
    let text = err.to_string();
    assert!(text.starts_with("effect queue:payments:attributes on aws:sqs: HTTP 400: "), "{text}");
    assert_no_credentials(&err);

    // A body the API rejects.
    let bad = Effect {
        id: "queue:bad:create".to_owned(),
        target: "aws:sqs".to_owned(),
        summary: "CreateQueue with an invalid name".to_owned(),
        kind: EffectKind::Http(HttpCall {
            method: "POST".to_owned(),
            path: "/".to_owned(),
            headers: vec![
                ("X-Amz-Target".to_owned(), "AmazonSQS.CreateQueue".to_owned()),
                ("Content-Type".to_owned(), "application/x-amz-json-1.0".to_owned()),
            ],
            body: Some(Text::Plain(json!({ "QueueName": "no spaces allowed" }).to_string())),
        }),
    };
    let err = exec.apply(&bad).unwrap_err();
    assert!(err.aws_code().is_some_and(|c| c.contains("InvalidParameterValue")), "{err}");
    assert!(err.to_string().contains("queue:bad:create"), "{err}");
    assert_no_credentials(&err);
}

#[test]
fn refusals_and_unreachable_endpoints_name_the_effect_and_never_a_credential() {
    let moto = Moto::start();
    let exec = exec_with_token(&moto);
    let mut effect = sqs_plan(json!({})).effects.remove(0);

    effect.target = "aws:iam".to_owned();
    let err = exec.apply(&effect).unwrap_err();
    assert!(matches!(err, HttpError::Target { .. }), "{err:?}");
    assert!(err.to_string().contains("does not call AWS service `iam`"), "{err}");

    effect.target = "aws:sqs".to_owned();
    let EffectKind::Http(call) = &mut effect.kind else { unreachable!() };
    call.headers.push(("Authorization".to_owned(), "AWS4-HMAC-SHA256 forged".to_owned()));
    let err = exec.apply(&effect).unwrap_err();
    assert!(err.to_string().starts_with("effect queue:consents:create on aws:sqs: refused: "), "{err}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env: BTreeMap<String, String> = [
        ("AWS_ACCESS_KEY_ID", "AKIDNEVERSHOWN"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_SESSION_TOKEN", TOKEN),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL_SQS", &format!("http://127.0.0.1:{closed}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let exec = HttpExecutor::new(None, &env, DEFAULT_TIMEOUT).unwrap();
    let err = exec.apply(&sqs_plan(json!({})).effects[0]).unwrap_err();
    assert!(matches!(err, HttpError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{closed} unreachable")), "{err}");
    assert_no_credentials(&err);

    let err = HttpExecutor::new(None, &BTreeMap::new(), DEFAULT_TIMEOUT).unwrap_err();
    assert!(err.to_string().contains("no AWS credentials"), "{err}");
}

#[test]
fn web_identity_failures_name_the_token_file_or_the_role_never_the_token() {
    let closed = closed_port_url();
    let role = "arn:aws:iam::123456789012:role/deployer";
    let dir = tempfile::tempdir().unwrap();
    let env = web_identity_env(&closed, dir.path(), role);

    // STS unreachable: the role and the endpoint are named, not the token.
    let err = HttpExecutor::new(None, &env, DEFAULT_TIMEOUT).unwrap_err();
    assert!(matches!(err, HttpError::Config { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&format!("role {role}: STS at {closed} unreachable")), "{text}");
    for shown in [text, format!("{err:?}")] {
        assert!(!shown.contains("never-shown"), "{shown}");
    }

    std::fs::remove_file(dir.path().join("token")).unwrap();
    let err = HttpExecutor::new(None, &env, DEFAULT_TIMEOUT).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&dir.path().join("token").display().to_string()), "{text}");
}

fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}
