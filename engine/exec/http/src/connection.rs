//! The operator's `connection "aws" { type = "aws" … }` block: where HTTP
//! effects go and as whom, for one environment. Every attribute is
//! optional; what is not set comes from the AWS environment variables and
//! profile ([`capstan_aws::settings`]).
//!
//! ```hcl
//! connection "aws" {
//!   type              = "aws"
//!   region            = "sa-east-1"
//!   profile           = "production"                 # a profile of ~/.aws/credentials
//!   endpoint          = "http://127.0.0.1:5000"      # every service (a local emulator)
//!   endpoints         = { sqs = "https://sqs.sa-east-1.amazonaws.com" }
//!   access_key_id     = secrets.aws_access_key_id    # both from the encrypted secrets file
//!   secret_access_key = secrets.aws_secret_access_key
//!   session_token     = secrets.aws_session_token    # optional
//! }
//! ```

use std::collections::BTreeMap;

use capstan_core::Sensitive;
use serde_json::{Map, Value};

use crate::error::HttpError;

/// The connection block's name effects on `aws:<service>` use.
pub const CONNECTION_NAME: &str = "aws";
/// Its `type`.
pub const CONNECTION_TYPE: &str = "aws";

const KNOWN: &[&str] =
    &["region", "profile", "endpoint", "endpoints", "access_key_id", "secret_access_key", "session_token"];

/// A parsed `aws` connection block. `Debug` never shows the secret key or token.
#[derive(Clone, Debug, Default)]
pub struct AwsConnection {
    /// Who configured it, for errors (`connection "aws"`).
    pub label: String,
    /// The AWS region to call and sign for; unset falls back to the AWS
    /// environment and profile.
    pub region: Option<String>,
    /// The named profile in the AWS shared config and credentials files
    /// to read region and keys from.
    pub profile: Option<String>,
    /// Endpoint for every service.
    pub endpoint: Option<String>,
    /// Endpoints by service name (`sqs`, `wafv2`); beat `endpoint`.
    pub endpoints: BTreeMap<String, String>,
    /// The access key id to sign with; with `secret_access_key`, it beats
    /// the environment and profile.
    pub access_key_id: Option<String>,
    /// The secret key paired with `access_key_id`; never logged.
    pub secret_access_key: Option<Sensitive>,
    /// The session token of temporary credentials; never logged.
    pub session_token: Option<Sensitive>,
}

impl AwsConnection {
    /// From a connection block's type and attributes, as capstan-config
    /// hands them over: `settings` shows secrets as "(sensitive)",
    /// `sensitive` holds those in clear.
    pub fn from_settings(
        name: &str,
        kind: &str,
        settings: &Map<String, Value>,
        sensitive: &BTreeMap<String, Sensitive>,
    ) -> Result<Self, HttpError> {
        let label = format!("connection {name:?}");
        let bad = |what: String| HttpError::Config { source_name: label.clone(), what };
        if kind != CONNECTION_TYPE {
            return Err(bad(format!(
                "HTTP effects on AWS need `type = \"{CONNECTION_TYPE}\"`, this one is `{kind}`"
            )));
        }
        if let Some(unknown) = settings.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(bad(format!("unknown attribute `{unknown}` (known: {})", KNOWN.join(", "))));
        }
        let plain = |key: &str| -> Result<Option<String>, HttpError> {
            if sensitive.contains_key(key) {
                return Ok(sensitive.get(key).map(|s| s.expose().to_owned()));
            }
            match settings.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(format!("`{key}` must be a string"))),
            }
        };
        // Keys in clear in a committed file would be a leak waiting to happen.
        let secret = |key: &str| -> Result<Option<Sensitive>, HttpError> {
            match (sensitive.get(key), settings.get(key)) {
                (Some(s), _) => Ok(Some(s.clone())),
                (None, None | Some(Value::Null)) => Ok(None),
                (None, Some(_)) => Err(bad(format!(
                    "`{key}` must come from an encrypted secrets file or secret_ref(), not be written in clear"
                ))),
            }
        };
        let mut endpoints = BTreeMap::new();
        match settings.get("endpoints") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (service, url) in m {
                    let Some(url) = url.as_str() else {
                        return Err(bad(format!("`endpoints.{service}` must be a URL string")));
                    };
                    endpoints.insert(service.clone(), url.to_owned());
                }
            }
            Some(_) => return Err(bad("`endpoints` must be a map of service name to URL".to_owned())),
        }
        let conn = Self {
            region: plain("region")?,
            profile: plain("profile")?,
            endpoint: plain("endpoint")?,
            endpoints,
            access_key_id: plain("access_key_id")?,
            secret_access_key: secret("secret_access_key")?,
            session_token: secret("session_token")?,
            label: label.clone(),
        };
        if conn.access_key_id.is_some() != conn.secret_access_key.is_some() {
            return Err(bad("set both `access_key_id` and `secret_access_key`, or neither".to_owned()));
        }
        if conn.session_token.is_some() && conn.access_key_id.is_none() {
            return Err(bad("`session_token` needs `access_key_id` and `secret_access_key`".to_owned()));
        }
        for url in conn.endpoint.iter().chain(conn.endpoints.values()) {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(bad(format!("endpoint {url:?} is not an http(s) URL")));
            }
        }
        Ok(conn)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reads_the_block_and_keeps_keys_sensitive() {
        let sens = BTreeMap::from([
            ("access_key_id".to_owned(), Sensitive::new("AKIDCONN")),
            ("secret_access_key".to_owned(), Sensitive::new("conn-secret")),
        ]);
        let s = settings(json!({
            "region": "sa-east-1",
            "endpoints": { "sqs": "http://127.0.0.1:1" },
            "access_key_id": "(sensitive)",
            "secret_access_key": "(sensitive)",
        }));
        let c = AwsConnection::from_settings("aws", "aws", &s, &sens).unwrap();
        assert_eq!(c.region.as_deref(), Some("sa-east-1"));
        assert_eq!(c.endpoints["sqs"], "http://127.0.0.1:1");
        assert_eq!(c.access_key_id.as_deref(), Some("AKIDCONN"));
        assert_eq!(c.secret_access_key.as_ref().unwrap().expose(), "conn-secret");
        assert!(!format!("{c:?}").contains("conn-secret"));
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        let none = BTreeMap::new();
        let err = |v: Value, kind: &str| {
            AwsConnection::from_settings("aws", kind, &settings(v), &none).unwrap_err().to_string()
        };
        assert!(err(json!({}), "postgres").contains("type = \"aws\""));
        assert!(err(json!({ "regoin": "x" }), "aws").contains("unknown attribute `regoin`"));
        let clear = err(json!({ "access_key_id": "AKID", "secret_access_key": "in-clear" }), "aws");
        assert!(clear.contains("encrypted secrets file") && !clear.contains("in-clear"), "{clear}");
        assert!(err(json!({ "access_key_id": "AKID" }), "aws").contains("both"));
        assert!(err(json!({ "endpoint": "127.0.0.1:5000" }), "aws").contains("http(s) URL"));
        assert!(err(json!({ "endpoints": ["x"] }), "aws").contains("map of service"));
        assert!(err(json!({}), "postgres").starts_with("connection \"aws\": "));
    }
}
