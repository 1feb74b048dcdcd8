//! Test support (feature `moto`): a real `moto_server` (PyPI `moto[server]`,
//! installed by tests/setup.sh) on a free loopback port, stopped on drop,
//! and unsigned calls to seed and inspect what it holds. Used by the tests
//! of capstan-http, capstan-secrets and the CLI.
//!
//! A missing `moto_server` fails the test with the reason; it never skips.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test support fails loudly")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// moto's default account, which owns everything it creates.
pub const ACCOUNT: &str = "123456789012";

/// The region the unsigned calls below address: moto keeps each region's
/// resources apart, so the code under test must be set to this one.
pub const REGION: &str = "sa-east-1";

/// A running `moto_server`.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// moto's output, shown when it fails to start.
    log: PathBuf,
}

impl Moto {
    /// The environment an operator's shell would have, pointed at this moto
    /// with test keys: what an executor under test resolves its settings from.
    pub fn env(&self) -> BTreeMap<String, String> {
        [
            ("AWS_ACCESS_KEY_ID", "AKIDTESTING"),
            ("AWS_SECRET_ACCESS_KEY", "testing-secret"),
            ("AWS_REGION", REGION),
            ("AWS_ENDPOINT_URL", self.url.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// moto with signature checking off (it still reads service and region
    /// from the credential scope).
    pub fn start() -> Moto {
        Self::spawn(None, false)
    }

    /// moto that verifies SigV4 signatures against its IAM users after the
    /// first `unsigned` requests (`INITIAL_NO_AUTH_ACTION_COUNT`), which a
    /// test spends creating a user and its access key.
    pub fn start_with_auth(unsigned: u32) -> Moto {
        Self::spawn(Some(unsigned), false)
    }

    /// moto over HTTPS (`-s`) with a self-signed certificate nobody trusts,
    /// for proving that such a server is refused.
    pub fn start_tls() -> Moto {
        Self::spawn(None, true)
    }

    fn spawn(auth_after: Option<u32>, tls: bool) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let log = std::env::temp_dir().join(format!("capstan-moto-{}-{port}.log", std::process::id()));
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(moto_server());
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        if tls {
            cmd.arg("-s");
        }
        cmd.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file);
        if let Some(n) = auth_after {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e} (run tests/setup.sh)"));
        let scheme = if tls { "https" } else { "http" };
        let mut moto = Moto { child, url: format!("{scheme}://127.0.0.1:{port}"), log };
        moto.wait_ready();
        moto
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        // A TCP connect, not a request: with auth on, every request counts
        // towards INITIAL_NO_AUTH_ACTION_COUNT.
        let addr = self.url.split_once("://").map_or(self.url.as_str(), |(_, a)| a).to_owned();
        while std::net::TcpStream::connect(&addr).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto_server exited early ({status}):\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {addr} within 60 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What moto printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// An unsigned JSON-protocol call (`X-Amz-Target`), for checking what
    /// moto holds independently of the driver. Returns status and JSON body.
    pub fn json(&self, service: &str, target: &str, body: &Value) -> (u16, Value) {
        let content_type =
            if service == "sqs" { "application/x-amz-json-1.0" } else { "application/x-amz-json-1.1" };
        let response = client()
            .post(&self.url)
            .header("authorization", scope_only(service))
            .header("content-type", content_type)
            .header("x-amz-target", target)
            .body(body.to_string())
            .send()
            .expect("moto answers");
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        let json = if text.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("moto answered non-JSON ({e}): {text}"))
        };
        (status, json)
    }

    /// As [`Moto::json`], failing the test on an error status.
    pub fn ok(&self, service: &str, target: &str, body: &Value) -> Value {
        let (status, json) = self.json(service, target, body);
        assert!((200..300).contains(&status), "{target} failed: {status} {json}");
        json
    }

    /// An unsigned IAM (query API) call, returning the XML.
    pub fn iam(&self, params: &[(&str, &str)]) -> String {
        self.query("iam", "2010-05-08", params)
    }

    /// An unsigned query-API call (IAM, STS) of API `version`, returning the
    /// XML; fails the test on an error status.
    pub fn query(&self, service: &str, version: &str, params: &[(&str, &str)]) -> String {
        let mut form: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        form.push(format!("Version={version}"));
        let response = client()
            .post(&self.url)
            .header("authorization", scope_only(service))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.join("&"))
            .send()
            .expect("moto answers");
        let status = response.status();
        let text = response.text().unwrap();
        assert!(status.is_success(), "{service} {params:?} failed: {status} {text}");
        text
    }

    /// A new IAM user allowed everything, and its access key (id, secret).
    pub fn iam_user_with_key(&self, user: &str) -> (String, String) {
        self.iam(&[("Action", "CreateUser"), ("UserName", user)]);
        let policy =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", user),
            ("PolicyName", "all"),
            ("PolicyDocument", policy),
        ]);
        let key = self.iam(&[("Action", "CreateAccessKey"), ("UserName", user)]);
        (xml_field(&key, "AccessKeyId"), xml_field(&key, "SecretAccessKey"))
    }

    /// A new IAM role that allows `actions` on everything, for temporary
    /// credentials to act as (two unsigned requests); returns its ARN.
    /// moto checks the assumed role's policy once auth is on.
    pub fn iam_role_allowing(&self, role: &str, actions: &[&str]) -> String {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"*"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
        let created =
            self.iam(&[("Action", "CreateRole"), ("RoleName", role), ("AssumeRolePolicyDocument", trust)]);
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": "*"}]});
        self.iam(&[
            ("Action", "PutRolePolicy"),
            ("RoleName", role),
            ("PolicyName", "allowed"),
            ("PolicyDocument", &policy.to_string()),
        ]);
        xml_field(&created, "Arn")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// An Authorization header that only tells moto the service and region.
fn scope_only(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=inspect/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

fn client() -> reqwest::blocking::Client {
    crate::transport::client(Duration::from_secs(30)).unwrap()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text between `<tag>` and `</tag>`.
pub fn xml_field(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].to_owned()
}

/// `moto_server` on PATH, or in Python's scripts directory (where pip puts it).
fn moto_server() -> PathBuf {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Ok(out) = Command::new("python3")
        .args(["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"])
        .output()
    {
        dirs.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    dirs.into_iter().map(|d| d.join("moto_server")).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("moto_server is not installed: run tests/setup.sh (it installs PyPI moto[server])")
    })
}
