//! Web-identity credentials end to end (feature `moto`):
//! - against a real `moto_server`: the token is exchanged through STS, and
//!   the temporary credentials sign a call moto verifies (signature, session
//!   token and the role's policy);
//! - against a one-shot HTTP responder of this file, for what moto never
//!   answers (it accepts every token): STS's error answers, a success without
//!   credentials, and the exact request sent;
//! - none of the token, the secret key or the session token in any error
//!   or `Debug` text.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use capstan_aws::CredentialsError;
use capstan_aws::settings::{self, AwsCredentials};
use capstan_aws::testing::{Moto, REGION};
use capstan_aws::transport::{self, SignedCall};
use capstan_aws::web_identity::WebIdentity;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.never-shown-payload.signature";
const ROLE: &str = "arn:aws:iam::123456789012:role/deployer";

type Env = BTreeMap<String, String>;

fn client() -> reqwest::blocking::Client {
    transport::client(Duration::from_secs(20)).unwrap()
}

/// A web identity with its token written to `dir/token`, STS at `sts`.
fn web_identity_env(dir: &Path, sts: &str) -> Env {
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_ROLE_SESSION_NAME", "capstan-test"),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL_STS", sts),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn with(mut env: Env, k: &str, v: &str) -> Env {
    env.insert(k.to_owned(), v.to_owned());
    env
}

fn closed_port_url() -> String {
    format!("http://127.0.0.1:{}", TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port())
}

/// `GetParameter` of `name`, signed with `creds`: (status, body).
fn get_parameter(moto: &Moto, creds: &AwsCredentials, name: &str) -> (u16, String) {
    let body = serde_json::json!({ "Name": name, "WithDecryption": true }).to_string();
    let headers =
        [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", "AmazonSSM.GetParameter")];
    let call = SignedCall {
        service: "ssm",
        region: REGION,
        endpoint: &moto.url,
        method: "POST",
        path: "/",
        headers: &headers,
        body: body.as_bytes(),
    };
    let reply = transport::send(&client(), creds, &call).unwrap();
    (reply.status, reply.body)
}

/// The texts a user or a log could ever see of an error.
fn shown(err: &CredentialsError) -> [String; 2] {
    [err.to_string(), format!("{err:?}")]
}

#[test]
fn the_token_is_exchanged_through_sts_and_its_credentials_sign_calls_moto_verifies() {
    // Four unsigned requests: the parameter, the role and its policy, and
    // the exchange itself (STS takes no signature). Every later one is checked.
    let moto = Moto::start_with_auth(4);
    moto.ok(
        "ssm",
        "AmazonSSM.PutParameter",
        &serde_json::json!({"Name": "/ci/msg", "Value": "via-web-identity", "Type": "SecureString"}),
    );
    let role = moto.iam_role_allowing("deployer", &["ssm:GetParameter"]);
    assert_eq!(role, ROLE);
    let dir = tempfile::tempdir().unwrap();
    let env = web_identity_env(dir.path(), &moto.url);

    let creds = settings::credentials(&env, &client(), Some(REGION)).unwrap();
    assert!(creds.access_key_id.starts_with("ASIA"), "temporary keys: {creds:?}");
    let secret = creds.secret_access_key.expose().to_owned();
    let session = creds.session_token.as_ref().map(|t| t.expose().to_owned()).expect("a session token");
    let debug = format!("{creds:?}");
    assert!(!debug.contains(&secret) && !debug.contains(&session), "{debug}");

    let (status, body) = get_parameter(&moto, &creds, "/ci/msg");
    assert_eq!(status, 200, "{body}\n{}", moto.log_text());
    assert!(body.contains("via-web-identity"), "{body}");

    // moto does check: the same keys without their session token are refused.
    let without_token = AwsCredentials {
        access_key_id: creds.access_key_id.clone(),
        secret_access_key: creds.secret_access_key,
        session_token: None,
    };
    let (status, body) = get_parameter(&moto, &without_token, "/ci/msg");
    assert_eq!(status, 403, "{body}");
}

#[test]
fn the_key_variables_win_and_no_exchange_is_tried() {
    let dir = tempfile::tempdir().unwrap();
    // STS on a closed port: trying the exchange would fail.
    let env = web_identity_env(dir.path(), &closed_port_url());
    let err = settings::credentials(&env, &client(), Some(REGION)).unwrap_err();
    assert!(matches!(err, CredentialsError::StsUnreachable { .. }), "{err:?}");

    let env = with(with(env, "AWS_ACCESS_KEY_ID", "AKIDKEYS"), "AWS_SECRET_ACCESS_KEY", "key-secret");
    let creds = settings::credentials(&env, &client(), Some(REGION)).unwrap();
    assert_eq!(creds.access_key_id, "AKIDKEYS");
    assert!(creds.session_token.is_none());
}

#[test]
fn a_missing_token_file_is_named_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let (sts, requests) = responder(vec![]);
    let env = web_identity_env(dir.path(), &sts);
    std::fs::remove_file(dir.path().join("token")).unwrap();

    let err = settings::credentials(&env, &client(), Some(REGION)).unwrap_err();
    assert!(matches!(err, CredentialsError::TokenFile { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&dir.path().join("token").display().to_string()), "{text}");
    assert!(text.contains("AWS_WEB_IDENTITY_TOKEN_FILE"), "{text}");
    assert!(requests.try_recv().is_err(), "nothing was sent");
}

#[test]
fn an_sts_refusal_gives_its_code_and_message_and_the_request_is_unsigned() {
    let refusal = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
        <Code>InvalidIdentityToken</Code><Message>Incorrect token audience</Message></Error>\
        <RequestId>1</RequestId></ErrorResponse>";
    let (sts, requests) = responder(vec![(400, refusal.to_owned()), (403, "Forbidden".to_owned())]);
    let dir = tempfile::tempdir().unwrap();
    let env = web_identity_env(dir.path(), &sts);

    let err = settings::credentials(&env, &client(), Some(REGION)).unwrap_err();
    let CredentialsError::StsRefused { role_arn, endpoint, status, code, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((role_arn.as_str(), endpoint.as_str(), *status), (ROLE, sts.as_str(), 400));
    assert_eq!(
        (code.as_str(), message.as_deref()),
        ("InvalidIdentityToken", Some("Incorrect token audience"))
    );
    assert_eq!(
        err.to_string(),
        format!(
            "AWS web identity for role {ROLE}: STS at {sts} refused the exchange: HTTP 400: \
             InvalidIdentityToken: Incorrect token audience"
        )
    );
    for text in shown(&err) {
        assert!(!text.contains("never-shown"), "{text}");
    }

    let request = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    let (head, form) = request.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("POST / HTTP/1.1"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/x-www-form-urlencoded"), "{head}");
    assert!(!head.contains("authorization:") && !head.contains("x-amz-security-token"), "unsigned: {head}");
    assert_eq!(
        form,
        format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
             &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeployer\
             &RoleSessionName=capstan-test&WebIdentityToken={TOKEN}"
        )
    );

    // The platform rotated the token: the next exchange reads the new one.
    std::fs::write(dir.path().join("token"), "eyJrotated.token.sig").unwrap();
    let err = settings::credentials(&env, &client(), Some(REGION)).unwrap_err();
    assert!(
        matches!(&err, CredentialsError::StsRefused { status: 403, code, message: None, .. } if code == "no STS error code"),
        "{err:?}"
    );
    let request = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(request.ends_with("&WebIdentityToken=eyJrotated.token.sig"), "{request}");
}

#[test]
fn a_success_without_credentials_and_an_unreachable_sts_are_named_without_secrets() {
    let partial = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
        <AccessKeyId>ASIAPARTIAL</AccessKeyId><SecretAccessKey>partial-secret-never-shown</SecretAccessKey>\
        </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
    let (sts, _requests) = responder(vec![(200, partial.to_owned())]);
    let dir = tempfile::tempdir().unwrap();
    let identity = WebIdentity::from_env(&web_identity_env(dir.path(), &sts)).unwrap();

    let err = identity.exchange(&client(), &sts).unwrap_err();
    assert!(matches!(err, CredentialsError::StsInvalidResponse { status: 200, .. }), "{err:?}");
    assert!(
        err.to_string().ends_with("answered HTTP 200 but its <Credentials> have no <SessionToken>"),
        "{err}"
    );
    for text in shown(&err) {
        assert!(!text.contains("never-shown"), "{text}");
    }

    let closed = closed_port_url();
    let err = identity.exchange(&client(), &closed).unwrap_err();
    assert!(matches!(err, CredentialsError::StsUnreachable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(ROLE) && text.contains(&format!("STS at {closed} unreachable")), "{text}");
    for text in shown(&err) {
        assert!(!text.contains("never-shown"), "{text}");
    }
}

/// A loopback HTTP server that answers one request per `(status, body)`, in
/// order, and hands each raw request (head and body) to the test.
fn responder(answers: Vec<(u16, String)>) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (status, body) in answers {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut form = vec![0; length];
            reader.read_exact(&mut form).unwrap();
            let _ = tx.send(head + &String::from_utf8(form).unwrap());
            let mut stream = reader.into_inner();
            write!(
                stream,
                "HTTP/1.1 {status} STS\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        }
    });
    (url, rx)
}
