//! [`HttpExecutor`]: one environment's AWS identity, region and endpoints,
//! and the checks and signing around each declared call.

use std::collections::BTreeMap;
use std::time::Duration;

use capstan_aws::EnvVars;
use capstan_aws::settings::{self, AwsCredentials};
use capstan_aws::transport::{self, Reply, SendError, SignedCall};
use capstan_core::{Effect, EffectKind, HttpCall, Text};
use serde_json::{Value, json};

use crate::connection::AwsConnection;
use crate::error::HttpError;
use crate::services::{self, Service};
use crate::{adopt, converge};

/// Long enough for a slow control-plane call, short enough that an
/// unreachable endpoint fails an apply promptly.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers that carry identity or framing: the engine sets them, a plugin
/// may not.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "host",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "content-length",
    "transfer-encoding",
    "connection",
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];

/// An AWS error message is cut to this length (they are one sentence; a
/// long one is usually a dump of the request).
const MAX_MESSAGE: usize = 300;

/// Runs HTTP effects as one AWS identity in one region.
pub struct HttpExecutor {
    client: reqwest::blocking::Client,
    creds: AwsCredentials,
    region: String,
    /// By service name.
    endpoints: BTreeMap<&'static str, String>,
}

impl std::fmt::Debug for HttpExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpExecutor")
            .field("creds", &self.creds)
            .field("region", &self.region)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl HttpExecutor {
    /// Resolves credentials, region and endpoints: the `aws` connection
    /// block's settings first, then the AWS environment (key variables, a
    /// web identity, which costs one STS request) and profile.
    pub fn new(
        connection: Option<&AwsConnection>,
        env: &dyn EnvVars,
        timeout: Duration,
    ) -> Result<Self, HttpError> {
        let source_name = connection.map_or_else(
            || "AWS settings (AWS_* environment variables and profile)".to_owned(),
            |c| format!("{} (with the AWS_* environment variables and profile)", c.label),
        );
        let config = |what: String| HttpError::Config { source_name: source_name.clone(), what };
        let profile = connection.and_then(|c| c.profile.as_deref());

        // The region is resolved first, its error kept for later: a web
        // identity is exchanged at STS in the effects' region (the global
        // endpoint without one), but missing credentials are reported first.
        let region = match (connection.and_then(|c| c.region.clone()), profile) {
            (Some(r), _) => Ok(r),
            (None, Some(p)) => settings::region_in_profile(env, p).ok_or_else(|| {
                config(format!("no AWS region: set `region`, AWS_REGION or a region in profile `{p}`"))
            }),
            (None, None) => settings::region(env).map_err(config),
        };
        let client = transport::client(timeout).map_err(config)?;
        let creds = match connection {
            Some(AwsConnection {
                access_key_id: Some(id),
                secret_access_key: Some(secret),
                session_token,
                ..
            }) => AwsCredentials {
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
                session_token: session_token.clone(),
            },
            _ => match profile {
                Some(p) => settings::profile_credentials(env, p).map_err(config)?,
                None => settings::credentials(env, &client, region.as_deref().ok())
                    .map_err(|e| config(e.to_string()))?,
            },
        };
        let region = region?;
        let endpoints = services::EFFECT_SERVICES
            .iter()
            .map(|s| {
                let url = connection
                    .and_then(|c| c.endpoints.get(s.name).or(c.endpoint.as_ref()).cloned())
                    .or_else(|| settings::endpoint_override(env, s.env_suffix))
                    .unwrap_or_else(|| settings::public_endpoint(s.name, &region));
                (s.name, url)
            })
            .collect();
        Ok(Self { client, creds, region, endpoints })
    }

    /// The region calls are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Where calls to `service` (`sqs`) go.
    pub fn endpoint(&self, service: &str) -> Option<&str> {
        self.endpoints.get(service).map(String::as_str)
    }

    /// Runs one declared HTTP effect; its JSON response is the result.
    pub fn apply(&self, effect: &Effect) -> Result<Value, HttpError> {
        let service = services::for_target(&effect.target).map_err(|reason| HttpError::Target {
            effect: effect.id.clone(),
            target: effect.target.clone(),
            reason,
        })?;
        let refused = |reason: String| HttpError::Refused {
            effect: effect.id.clone(),
            service: service.name.to_owned(),
            reason,
        };
        let EffectKind::Http(call) = &effect.kind else {
            return Err(refused("it is not an HTTP effect".to_owned()));
        };
        let checked = check(service, call).map_err(refused)?;
        let sensitive = matches!(call.body, Some(Text::Sensitive(_)));
        let body = call.body.as_ref().map(Text::expose).unwrap_or_default();
        let headers: Vec<(&str, &str)> = call.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

        let reply = self.send(&effect.id, service, &call.method, &checked.path, &headers, body.as_bytes())?;
        if (200..300).contains(&reply.status) {
            return parse_success(&effect.id, service, &reply);
        }
        let error = self.api_error(&effect.id, service, &reply, sensitive);
        let (Some(target), Some(code)) = (checked.amz_target.as_deref(), error.aws_code()) else {
            return Err(error);
        };
        if adopt::already_gone(service, target, code) {
            return Ok(json!({}));
        }
        if !adopt::applies(service, target, code) {
            return Err(error);
        }
        let request: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        // Follow-up calls carry (parts of) the create body: as sensitive as it.
        let follow_up = |follow_target: &str, follow_body: &Value| {
            self.json_call(&effect.id, service, follow_target, call, follow_body, sensitive)
        };
        match adopt::existing(target, &request, &follow_up)? {
            Some(existing) if converge::applies(target) => {
                converge::web_acl(&effect.id, service, &request, existing, &follow_up)
            }
            Some(existing) => Ok(existing),
            None => Err(error),
        }
    }

    /// A follow-up call of the same service and protocol as `like`; AWS's
    /// message is dropped from its errors when `sensitive`.
    fn json_call(
        &self,
        effect: &str,
        service: Service,
        target: &str,
        like: &HttpCall,
        body: &Value,
        sensitive: bool,
    ) -> Result<Value, HttpError> {
        let content_type = like
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map_or("application/x-amz-json-1.1", |(_, v)| v.as_str());
        let headers = [("X-Amz-Target", target), ("Content-Type", content_type)];
        let payload = body.to_string();
        let reply = self.send(effect, service, "POST", "/", &headers, payload.as_bytes())?;
        if (200..300).contains(&reply.status) {
            parse_success(effect, service, &reply)
        } else {
            Err(self.api_error(effect, service, &reply, sensitive))
        }
    }

    fn send(
        &self,
        effect: &str,
        service: Service,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, HttpError> {
        let endpoint = self.endpoints.get(service.name).map(String::as_str).unwrap_or_default();
        let call =
            SignedCall { service: service.name, region: &self.region, endpoint, method, path, headers, body };
        transport::send(&self.client, &self.creds, &call).map_err(|e| {
            let reason = match e {
                SendError::Endpoint(r) | SendError::Unreachable(r) => r,
            };
            HttpError::Unreachable {
                effect: effect.to_owned(),
                service: service.name.to_owned(),
                endpoint: endpoint.to_owned(),
                reason,
            }
        })
    }

    fn api_error(&self, effect: &str, service: Service, reply: &Reply, sensitive_request: bool) -> HttpError {
        let code = transport::error_code(&reply.body).unwrap_or_else(|| "no AWS error code".to_owned());
        // A message may quote the request: none when the request was sensitive.
        let message = if sensitive_request {
            None
        } else {
            transport::error_message(&reply.body).map(|m| self.scrub(&m))
        };
        HttpError::Api {
            effect: effect.to_owned(),
            service: service.name.to_owned(),
            status: reply.status,
            code,
            message,
        }
    }

    /// The first line of an AWS message, without our credentials in it
    /// (some services echo the canonical request, which holds the token).
    fn scrub(&self, message: &str) -> String {
        let mut m = message.lines().next().unwrap_or_default().to_owned();
        let secrets = [
            Some(self.creds.secret_access_key.expose()),
            self.creds.session_token.as_ref().map(|t| t.expose()),
            Some(self.creds.access_key_id.as_str()),
        ];
        for s in secrets.into_iter().flatten().filter(|s| !s.is_empty()) {
            m = m.replace(s, capstan_core::REDACTED);
        }
        if m.chars().count() > MAX_MESSAGE {
            m = m.chars().take(MAX_MESSAGE).collect::<String>() + "…";
        }
        m
    }
}

fn parse_success(effect: &str, service: Service, reply: &Reply) -> Result<Value, HttpError> {
    if reply.body.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(&reply.body).map_err(|_| HttpError::InvalidResponse {
        effect: effect.to_owned(),
        service: service.name.to_owned(),
        reason: format!("HTTP {} with a body that is not JSON", reply.status),
    })
}

/// A call that passed the checks: its canonical path and `X-Amz-Target`.
#[derive(Debug)]
struct Checked {
    path: String,
    amz_target: Option<String>,
}

/// What a declared call may be: a known method, a plain path (unreserved
/// characters only, so it is its own canonical form), headers the engine
/// does not own, and an `X-Amz-Target` of the effect's own service.
fn check(service: Service, call: &HttpCall) -> Result<Checked, String> {
    if !METHODS.contains(&call.method.as_str()) {
        return Err(format!("method {:?} (expected one of {})", call.method, METHODS.join(", ")));
    }
    let (path, query) = call.path.split_once('?').unwrap_or((&call.path, ""));
    let plain = |s: &str, extra: &[char]| {
        s.chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c) || extra.contains(&c))
    };
    if !path.starts_with('/') || !plain(path, &['/']) {
        return Err(format!(
            "path {:?}: it must start with `/` and use only letters, digits, `-._~` and `/`",
            call.path
        ));
    }
    if !plain(query, &['=', '&']) {
        return Err(format!("query of {:?}: only letters, digits, `-._~`, `=` and `&`", call.path));
    }
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_unstable();
    let path = if pairs.is_empty() { path.to_owned() } else { format!("{path}?{}", pairs.join("&")) };

    let mut amz_target = None;
    for (name, value) in &call.headers {
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-amz-security") {
            return Err(format!("header {name:?} is set by the engine, not by a plugin"));
        }
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!("header name {name:?}"));
        }
        if value.contains(['\r', '\n']) {
            return Err(format!("header {name:?} has a line break in its value"));
        }
        if lower == "x-amz-target" {
            if !value.starts_with(service.target_prefix) {
                return Err(format!(
                    "X-Amz-Target {value:?} is not an aws:{} action (`{}…`)",
                    service.name, service.target_prefix
                ));
            }
            amz_target = Some(value.clone());
        }
    }
    Ok(Checked { path, amz_target })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn http(method: &str, path: &str, headers: &[(&str, &str)]) -> HttpCall {
        HttpCall {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            body: None,
        }
    }

    #[test]
    fn calls_are_checked_before_anything_is_sent() {
        let ok =
            check(services::SQS, &http("POST", "/", &[("X-Amz-Target", "AmazonSQS.CreateQueue")])).unwrap();
        assert_eq!((ok.path.as_str(), ok.amz_target.as_deref()), ("/", Some("AmazonSQS.CreateQueue")));
        let q = check(services::SQS, &http("GET", "/a/b?z=1&a=2", &[])).unwrap();
        assert_eq!(q.path, "/a/b?a=2&z=1", "the query is put in canonical order");

        let refused = |call: HttpCall| check(services::SQS, &call).unwrap_err();
        assert!(
            refused(http("POST", "/", &[("Authorization", "AWS4 forged")])).contains("set by the engine")
        );
        assert!(refused(http("POST", "/", &[("x-amz-security-token", "t")])).contains("set by the engine"));
        assert!(refused(http("POST", "/", &[("Host", "evil.example")])).contains("set by the engine"));
        assert!(
            refused(http("POST", "/", &[("X-Amz-Target", "AWSWAF_20190729.DeleteWebACL")]))
                .contains("not an aws:sqs action")
        );
        assert!(refused(http("CONNECT", "/", &[])).contains("method"));
        assert!(refused(http("POST", "//evil.example/%2e%2e", &[])).contains("path"));
        assert!(refused(http("POST", "relative", &[])).contains("path"));
        assert!(refused(http("POST", "/?a=%20", &[])).contains("query"));
        assert!(refused(http("POST", "/", &[("X-A", "v\r\nInjected: 1")])).contains("line break"));
    }

    #[test]
    fn settings_come_from_the_connection_first_then_the_environment() {
        let env: BTreeMap<String, String> = [
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let from_env = HttpExecutor::new(None, &env, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(from_env.region(), "us-east-1");
        assert_eq!(from_env.endpoint("sqs"), Some("http://127.0.0.1:1"));
        assert_eq!(from_env.endpoint("wafv2"), Some("https://wafv2.us-east-1.amazonaws.com"));
        assert!(!format!("{from_env:?}").contains("env-secret"));

        let conn = AwsConnection {
            label: "connection \"aws\"".to_owned(),
            region: Some("sa-east-1".to_owned()),
            endpoint: Some("http://127.0.0.1:2".to_owned()),
            endpoints: BTreeMap::from([("wafv2".to_owned(), "http://127.0.0.1:3".to_owned())]),
            ..AwsConnection::default()
        };
        let from_conn = HttpExecutor::new(Some(&conn), &env, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(from_conn.region(), "sa-east-1");
        assert_eq!(from_conn.endpoint("sqs"), Some("http://127.0.0.1:2"));
        assert_eq!(from_conn.endpoint("wafv2"), Some("http://127.0.0.1:3"));

        let err = HttpExecutor::new(Some(&conn), &BTreeMap::new(), DEFAULT_TIMEOUT).unwrap_err().to_string();
        assert!(err.starts_with("connection \"aws\"") && err.contains("no AWS credentials"), "{err}");
    }
}
