//! Sending one SigV4-signed request (or, for the one AWS call that takes
//! no signature, an unsigned form), and reading AWS error bodies.
//!
//! TLS is rustls with the `ring` provider. reqwest is built without a
//! provider of its own, so the process needs a default one; [`client`]
//! installs `ring` if none is set yet. The rest of the binary uses `ring`
//! too (see the toolchain notes on crypto providers).

use std::time::Duration;

use capstan_core::Sensitive;
use serde_json::Value;

use crate::clock::UtcTime;
use crate::settings::AwsCredentials;
use crate::sigv4::{Request, Signer};

/// A blocking client with these timeouts (connecting: at most 5 s).
pub fn client(timeout: Duration) -> Result<reqwest::blocking::Client, String> {
    // Fails only if another provider is already installed, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {}", innermost(&e)))
}

/// One request to sign and send.
pub struct SignedCall<'a> {
    /// The SigV4 signing name (`sqs`, `wafv2`, `ssm`).
    pub service: &'a str,
    /// The region it is signed for.
    pub region: &'a str,
    /// Base URL of the service (`https://sqs.sa-east-1.amazonaws.com`).
    pub endpoint: &'a str,
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// Path below the endpoint's, already URI-encoded, with an optional
    /// canonical (sorted) query after `?`.
    pub path: &'a str,
    /// Headers to send and sign (names as given; signed lowercase).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body, sent and hashed into the signature.
    pub body: &'a [u8],
}

/// What came back: any status, with the body as text. `Debug` shows the
/// status and the body's length only: bodies carry secrets (a parameter's
/// value, the temporary keys STS issues).
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body as text (AWS answers JSON or XML).
    pub body: String,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply").field("status", &self.status).field("body_len", &self.body.len()).finish()
    }
}

/// Why no reply came back.
#[derive(Debug)]
pub enum SendError {
    /// The endpoint is not a usable URL.
    Endpoint(String),
    /// No HTTP response at all (refused, DNS, TLS, timeout).
    Unreachable(String),
}

/// Signs `call` with `creds` at the current time and sends it.
pub fn send(
    client: &reqwest::blocking::Client,
    creds: &AwsCredentials,
    call: &SignedCall<'_>,
) -> Result<Reply, SendError> {
    let Target { url, host, path: full_path, query } = target(call.endpoint, call.path)?;

    let token = creds.session_token.as_ref().map(Sensitive::expose);
    let mut signed: Vec<(&str, &str)> = call.headers.to_vec();
    if let Some(token) = token {
        signed.push(("x-amz-security-token", token));
    }
    let signer = Signer {
        access_key_id: &creds.access_key_id,
        secret_access_key: creds.secret_access_key.expose(),
        region: call.region,
        service: call.service,
    };
    let auth = signer.sign(
        &Request {
            method: call.method,
            host: &host,
            path: &full_path,
            query: &query,
            headers: &signed,
            payload: call.body,
        },
        UtcTime::now(),
    );

    let method = reqwest::Method::from_bytes(call.method.as_bytes())
        .map_err(|_| SendError::Endpoint(format!("{:?} is not an HTTP method", call.method)))?;
    let mut request = client.request(method, url).body(call.body.to_vec());
    for (name, value) in signed.iter().copied() {
        request = request.header(name, value);
    }
    for (name, value) in &auth {
        request = request.header(name.as_str(), value.as_str());
    }
    reply(request)
}

/// POSTs `form` (`application/x-www-form-urlencoded`) to the root of
/// `endpoint` without a signature: STS `AssumeRoleWithWebIdentity` takes
/// none, the token in the form is the proof. The form stays [`Sensitive`]
/// up to the wire, and a POST keeps it out of URLs that proxies log.
pub fn send_unsigned_form(
    client: &reqwest::blocking::Client,
    endpoint: &str,
    form: &Sensitive,
) -> Result<Reply, SendError> {
    let Target { url, .. } = target(endpoint, "/")?;
    let request = client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(form.expose().to_owned());
    reply(request)
}

/// Where a request goes: the endpoint's URL with the call's path below its
/// own, and the `Host` and path the signature covers.
struct Target {
    url: reqwest::Url,
    host: String,
    path: String,
    query: String,
}

fn target(endpoint: &str, call_path: &str) -> Result<Target, SendError> {
    let base = reqwest::Url::parse(endpoint)
        .map_err(|e| SendError::Endpoint(format!("endpoint {endpoint:?} is not a URL: {e}")))?;
    let host = match (base.host_str(), base.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(SendError::Endpoint(format!("endpoint {endpoint:?} has no host"))),
    };
    let (path, query) = call_path.split_once('?').unwrap_or((call_path, ""));
    // The endpoint may carry a path prefix (a proxy); the call's path goes below it.
    let full_path = format!("{}{}", base.path().trim_end_matches('/'), path);
    let full_path = if full_path.is_empty() { "/".to_owned() } else { full_path };
    let mut url = base;
    url.set_path(&full_path);
    url.set_query((!query.is_empty()).then_some(query));
    Ok(Target { url, host, path: full_path, query: query.to_owned() })
}

fn reply(request: reqwest::blocking::RequestBuilder) -> Result<Reply, SendError> {
    let response = request.send().map_err(|e| SendError::Unreachable(no_response_reason(&e)))?;
    let status = response.status().as_u16();
    let body = response.text().map_err(|e| SendError::Unreachable(no_response_reason(&e)))?;
    Ok(Reply { status, body })
}

/// Why a request got no response, without reqwest's URL prefix (which
/// could carry a query string).
pub fn no_response_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        format!("cannot connect ({})", innermost(e))
    } else {
        innermost(e)
    }
}

/// The root cause's message, which says *why* (refused, DNS, TLS).
pub fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// The error code of an AWS error body: JSON `__type` (`...#Code`) or
/// `code`, or XML `<Code>`.
pub fn error_code(body: &str) -> Option<String> {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        let code = value
            .get("__type")
            .or_else(|| value.get("code"))
            .or_else(|| value.get("Code"))
            .and_then(Value::as_str)?;
        let code = code.rsplit('#').next().unwrap_or(code);
        return Some(code.split(':').next().unwrap_or(code).to_owned());
    }
    xml_field(body, "Code")
}

/// The human message of an AWS error body (JSON `message`/`Message`, or
/// XML `<Message>`), if any. It may quote request values: callers decide
/// whether it may be shown.
pub fn error_message(body: &str) -> Option<String> {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        return value
            .get("message")
            .or_else(|| value.get("Message"))
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    xml_field(body, "Message")
}

fn xml_field(body: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{tag}>"))? + start;
    Some(body[start..end].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_and_messages() {
        let json = r#"{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"no such thing"}"#;
        assert_eq!(error_code(json).as_deref(), Some("ParameterNotFound"));
        assert_eq!(error_message(json).as_deref(), Some("no such thing"));
        let xml = "<ErrorResponse><Error><Code>InvalidClientTokenId</Code><Message>bad</Message></Error></ErrorResponse>";
        assert_eq!(error_code(xml).as_deref(), Some("InvalidClientTokenId"));
        assert_eq!(error_message(xml).as_deref(), Some("bad"));
        assert_eq!(error_code("garbage"), None);
        assert_eq!(error_message("{}"), None);
    }
}
