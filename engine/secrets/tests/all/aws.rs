use capstan_core::SecretProvider;
use capstan_secrets::{Env, RemoteSources, Secrets, SecretsError};
use serde_json::json;

use capstan_aws::testing::{REGION, xml_field};

use crate::support::{aws_env, closed_port_url, moto, moto_tls};

const MSG: &str = "hello from parameter store";
const DB_JSON: &str = r#"{"username":"app","password":"s3cr3t-json","port":5432}"#;

#[test]
fn ssm_and_secrets_manager_values_resolve() {
    let server = moto(None);
    server.ok(
        "ssm",
        "AmazonSSM.PutParameter",
        &json!({"Name": "/app/homolog/MSG", "Value": MSG, "Type": "SecureString"}),
    );
    server.ok(
        "secretsmanager",
        "secretsmanager.CreateSecret",
        &json!({"Name": "prod/db", "SecretString": DB_JSON}),
    );
    server.ok(
        "secretsmanager",
        "secretsmanager.CreateSecret",
        &json!({"Name": "plain", "SecretString": "just-a-string"}),
    );

    let sources = RemoteSources::new(aws_env(&server, "AKIDTEST", "secret"));
    assert_eq!(sources.resolve("ssm:/app/homolog/MSG").unwrap().expose(), MSG);
    assert_eq!(sources.resolve("secretsmanager:plain").unwrap().expose(), "just-a-string");
    assert_eq!(sources.resolve("secretsmanager:prod/db").unwrap().expose(), DB_JSON);
    assert_eq!(sources.resolve("secretsmanager:prod/db#password").unwrap().expose(), "s3cr3t-json");
    assert_eq!(sources.resolve("secretsmanager:prod/db#port").unwrap().expose(), "5432");

    // Through the provider seam the config layer uses.
    let provider = Secrets::new("/nonexistent/keys.txt".into(), sources);
    assert_eq!(provider.resolve_ref("ssm:/app/homolog/MSG").unwrap().expose(), MSG);

    // Missing things are "not found", naming the reference.
    let sources = RemoteSources::new(aws_env(&server, "AKIDTEST", "secret"));
    for reference in [
        "ssm:/app/homolog/NOPE",
        "secretsmanager:nope",
        "secretsmanager:prod/db#nope",
        "secretsmanager:plain#key",
    ] {
        let err = sources.resolve(reference).unwrap_err();
        assert!(matches!(err, SecretsError::RefNotFound { .. }), "{reference}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(reference), "{msg}");
        assert!(!msg.contains("s3cr3t") && !msg.contains("just-a-string"), "{msg}");
    }

    // Per-service endpoint overrides beat AWS_ENDPOINT_URL.
    let env = aws_env(&server, "AKIDTEST", "secret")
        .with("AWS_ENDPOINT_URL", closed_port_url())
        .with("AWS_ENDPOINT_URL_SSM", server.url.clone());
    let sources = RemoteSources::new(env);
    assert_eq!(sources.resolve("ssm:/app/homolog/MSG").unwrap().expose(), MSG);
    assert!(matches!(
        sources.resolve("secretsmanager:plain").unwrap_err(),
        SecretsError::RefUnreachable { .. }
    ));
}

#[test]
fn credentials_come_from_a_profile_file() {
    let server = moto(None);
    server.ok(
        "ssm",
        "AmazonSSM.PutParameter",
        &json!({"Name": "/p", "Value": "via-profile", "Type": "SecureString"}),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".aws")).unwrap();
    std::fs::write(
        dir.path().join(".aws/credentials"),
        "[team]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = x\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".aws/config"), format!("[profile team]\nregion = {REGION}\n")).unwrap();
    let env = Env::from_pairs([
        ("HOME", dir.path().to_str().unwrap()),
        ("AWS_PROFILE", "team"),
        ("AWS_ENDPOINT_URL", server.url.as_str()),
    ]);
    assert_eq!(RemoteSources::new(env.clone()).resolve("ssm:/p").unwrap().expose(), "via-profile");

    let err = RemoteSources::new(env.with("AWS_PROFILE", "absent")).resolve("ssm:/p").unwrap_err();
    assert!(matches!(err, SecretsError::RefConfig { .. }), "{err}");
    assert!(err.to_string().contains("absent"), "{err}");
}

/// moto with IAM enforcement on: it verifies the SigV4 signature and the
/// user's policy, so this proves the signer against a real verifier.
#[test]
fn signed_requests_are_verified_and_denials_are_403() {
    // Four unauthenticated requests seed the data; every later one is checked.
    let server = moto(Some(4));
    server.ok(
        "ssm",
        "AmazonSSM.PutParameter",
        &json!({"Name": "/app/prod/DB", "Value": "signed-ok", "Type": "SecureString"}),
    );
    server.iam(&[("Action", "CreateUser"), ("UserName", "capstan")]);
    let key = server.iam(&[("Action", "CreateAccessKey"), ("UserName", "capstan")]);
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}]});
    server.iam(&[
        ("Action", "PutUserPolicy"),
        ("UserName", "capstan"),
        ("PolicyName", "read-ssm"),
        ("PolicyDocument", &policy.to_string()),
    ]);
    let key_id = xml_field(&key, "AccessKeyId");
    let secret = xml_field(&key, "SecretAccessKey");

    let sources = RemoteSources::new(aws_env(&server, &key_id, &secret));
    assert_eq!(sources.resolve("ssm:/app/prod/DB").unwrap().expose(), "signed-ok");

    // Not allowed by the policy.
    let err = sources.resolve("secretsmanager:anything").unwrap_err();
    assert!(matches!(err, SecretsError::RefDenied { status: 403, .. }), "{err}");
    assert!(err.to_string().contains("secretsmanager:anything"), "{err}");

    // A wrong secret key (bad signature) and an unknown key id.
    for (id, secret) in [(key_id.as_str(), "wrong-secret"), ("AKIDUNKNOWN", secret.as_str())] {
        let err = RemoteSources::new(aws_env(&server, id, secret)).resolve("ssm:/app/prod/DB").unwrap_err();
        assert!(matches!(err, SecretsError::RefDenied { status: 403, .. }), "{err}\n{}", server.log_text());
        let msg = err.to_string();
        assert!(msg.contains("ssm:/app/prod/DB") && msg.contains("403"), "{msg}");
        assert!(!msg.contains("signed-ok") && !msg.contains(secret), "{msg}");
    }
}

#[test]
fn unreachable_endpoints_and_missing_config_are_named() {
    let env = Env::from_pairs([
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", &closed_port_url()),
    ]);
    let err = RemoteSources::new(env).resolve("ssm:/app/x").unwrap_err();
    assert!(matches!(err, SecretsError::RefUnreachable { .. }), "{err}");
    assert!(err.to_string().contains("ssm:/app/x") && err.to_string().contains("127.0.0.1"), "{err}");

    let err = RemoteSources::new(Env::default()).resolve("ssm:/app/x").unwrap_err();
    assert!(matches!(err, SecretsError::RefConfig { .. }), "{err}");
    assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
}

/// HTTPS goes through rustls (ring) and the platform verifier: a server with
/// an untrusted certificate is refused, and the error says why.
#[test]
fn untrusted_tls_certificates_are_refused() {
    let server = moto_tls();
    let err = RemoteSources::new(aws_env(&server, "AKID", "x")).resolve("ssm:/app/x").unwrap_err();
    assert!(matches!(err, SecretsError::RefUnreachable { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("ssm:/app/x") && msg.to_lowercase().contains("certificate"), "{msg}");
}

/// Temporary credentials (as from SSO or an assumed role) carry a session
/// token, which must be sent and signed; moto checks it against the role session.
#[test]
fn session_tokens_from_an_assumed_role_are_signed_and_checked() {
    let server = moto(Some(4));
    server.ok(
        "ssm",
        "AmazonSSM.PutParameter",
        &json!({"Name": "/app/role", "Value": "via-role", "Type": "SecureString"}),
    );
    let trust = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]});
    server.iam(&[
        ("Action", "CreateRole"),
        ("RoleName", "deployer"),
        ("AssumeRolePolicyDocument", &trust.to_string()),
    ]);
    let allow = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}]});
    server.iam(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "deployer"),
        ("PolicyName", "read"),
        ("PolicyDocument", &allow.to_string()),
    ]);
    let creds = server.query(
        "sts",
        "2011-06-15",
        &[
            ("Action", "AssumeRole"),
            ("RoleArn", "arn:aws:iam::123456789012:role/deployer"),
            ("RoleSessionName", "capstan"),
        ],
    );
    let env = aws_env(&server, &xml_field(&creds, "AccessKeyId"), &xml_field(&creds, "SecretAccessKey"));

    let with_token = env.clone().with("AWS_SESSION_TOKEN", xml_field(&creds, "SessionToken"));
    assert_eq!(RemoteSources::new(with_token).resolve("ssm:/app/role").unwrap().expose(), "via-role");

    let wrong_token = env.with("AWS_SESSION_TOKEN", "not-the-session-token");
    let err = RemoteSources::new(wrong_token).resolve("ssm:/app/role").unwrap_err();
    assert!(matches!(err, SecretsError::RefDenied { status: 403, .. }), "{err}");
    assert!(!err.to_string().contains("not-the-session-token"), "{err}");
}

/// An environment with a web identity (as in an EKS pod or an OIDC CI job)
/// for `role`, its token in `dir/token`, every AWS service at `endpoint`.
fn web_identity_env(endpoint: &str, dir: &std::path::Path, role: &str) -> Env {
    let token_file = dir.join("token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.payload-never-shown.sig\n").unwrap();
    Env::from_pairs([
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap()),
        ("AWS_ROLE_ARN", role),
        ("AWS_REGION", REGION),
        ("AWS_ENDPOINT_URL", endpoint),
    ])
}

/// A web identity is exchanged at STS, and its temporary credentials sign
/// with their session token as the role: moto checks signature, token and
/// the role's policy.
#[test]
fn web_identity_credentials_are_exchanged_and_sign_as_their_role() {
    // Four unsigned requests: the parameter, the role, its policy and the
    // token exchange (STS takes no signature). Every later one is checked.
    let server = moto(Some(4));
    server.ok(
        "ssm",
        "AmazonSSM.PutParameter",
        &json!({"Name": "/ci/db", "Value": "via-web-identity", "Type": "SecureString"}),
    );
    let role = server.iam_role_allowing("deployer", &["ssm:GetParameter"]);
    let dir = tempfile::tempdir().unwrap();
    let env = web_identity_env(&server.url, dir.path(), &role);
    let value = RemoteSources::new(env).resolve("ssm:/ci/db");
    assert_eq!(value.unwrap_or_else(|e| panic!("{e}\n{}", server.log_text())).expose(), "via-web-identity");
}

#[test]
fn web_identity_failures_name_the_reference_and_the_token_file_never_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let env = web_identity_env(&closed_port_url(), dir.path(), "arn:aws:iam::123456789012:role/deployer");

    let err = RemoteSources::new(env.clone()).resolve("ssm:/ci/db").unwrap_err();
    assert!(matches!(err, SecretsError::RefConfig { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("ssm:/ci/db") && msg.contains("role/deployer") && msg.contains("unreachable"),
        "{msg}"
    );
    assert!(!msg.contains("never-shown") && !format!("{err:?}").contains("never-shown"), "{msg}");

    std::fs::remove_file(dir.path().join("token")).unwrap();
    let err = RemoteSources::new(env).resolve("secretsmanager:db").unwrap_err();
    assert!(matches!(err, SecretsError::RefConfig { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("secretsmanager:db"), "{msg}");
    assert!(msg.contains(&dir.path().join("token").display().to_string()), "{msg}");
}
