//! One request to the server's HTTP API, and turning what went wrong into
//! this crate's errors.

use std::time::Duration;

use capstan_core::REDACTED;
use reqwest::header::HeaderValue;
use serde_json::{Map, Value};

use crate::{VaultConnection, VaultError};

/// An HTTP request method of Vault's API, as errors name it. `List` is
/// Vault's `LIST`, sent as `GET ?list=true` (which every server and proxy
/// accepts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Read.
    Get,
    /// List the names below a path.
    List,
    /// Create or update (Vault treats `PUT` alike).
    Post,
    /// Create or update.
    Put,
    /// Delete.
    Delete,
}

impl Method {
    /// The method as Vault's documentation spells it.
    pub fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::List => "LIST",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What came back: any status, with the body if it was JSON. `Debug` shows
/// the status only: a body can hold what a configuration read back.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    /// The body was empty (or only whitespace), as `ca/pem` answers
    /// without a CA.
    pub empty: bool,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply").field("status", &self.status).finish_non_exhaustive()
    }
}

impl Reply {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The response's `data` object, where Vault puts what it read.
    pub(crate) fn data(&self) -> Option<&Map<String, Value>> {
        self.body.as_ref()?.get("data")?.as_object()
    }
}

/// Everything one op's requests need, and how its errors name it.
pub(crate) struct Api<'a> {
    pub client: &'a reqwest::blocking::Client,
    pub connection: &'a VaultConnection,
    pub timeout: Duration,
    pub effect: &'a str,
    /// The op and what it is about, such as `ensure-mount pki`.
    pub op: String,
    /// Clear values that must not leave in a message (those of a sensitive
    /// configuration), should the server quote one.
    pub hidden: Vec<String>,
}

impl Api<'_> {
    /// Sends one request and returns whatever status came back; only a
    /// request that got no answer is an error.
    pub(crate) fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply, VaultError> {
        let mut url = self.connection.url(path);
        let request = match method {
            Method::Get => self.client.get(url),
            Method::List => {
                url.query_pairs_mut().append_pair("list", "true");
                self.client.get(url)
            }
            Method::Post => self.client.post(url),
            Method::Put => self.client.put(url),
            Method::Delete => self.client.delete(url),
        };
        // The connection checked the token is a valid header value.
        let mut token = HeaderValue::from_str(self.connection.token().expose()).map_err(|_| {
            VaultError::InvalidConnection {
                connection: self.connection.name().to_string(),
                why: "the token cannot be sent as a header".to_string(),
            }
        })?;
        token.set_sensitive(true);
        let mut request = request.header("X-Vault-Token", token).header("X-Vault-Request", "true");
        if let Some(namespace) = self.connection.namespace() {
            request = request.header("X-Vault-Namespace", namespace);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        tracing::trace!(effect = self.effect, op = %self.op, method = method.name(), path, "Vault request");
        let response = request.send().map_err(|e| self.no_answer(&e))?;
        let status = response.status().as_u16();
        let text = response.text().map_err(|e| self.no_answer(&e))?;
        Ok(Reply { status, body: serde_json::from_str(&text).ok(), empty: text.trim().is_empty() })
    }

    /// As [`Api::send`], with an error status made an error.
    pub(crate) fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply, VaultError> {
        let reply = self.send(method, path, body)?;
        if reply.is_success() { Ok(reply) } else { Err(self.failed(method, path, &reply)) }
    }

    /// The error for an answer with an error status: 403 is
    /// [`VaultError::Denied`], anything else [`VaultError::Http`].
    pub(crate) fn failed(&self, method: Method, path: &str, reply: &Reply) -> VaultError {
        let message = server_message(reply.body.as_ref());
        if reply.status == 403 {
            return VaultError::Denied {
                effect: self.effect.to_string(),
                op: self.op.clone(),
                connection: self.connection.target(),
                method,
                path: path.to_string(),
                message: self.scrub(message.unwrap_or_else(|| "permission denied".to_string())),
            };
        }
        VaultError::Http {
            effect: self.effect.to_string(),
            op: self.op.clone(),
            connection: self.connection.target(),
            method,
            path: path.to_string(),
            status: reply.status,
            detail: self.scrub(message.unwrap_or_else(|| {
                if (300..400).contains(&reply.status) {
                    // Not followed: the token would go wherever it points.
                    "the server redirects elsewhere (a standby node?): point the connection at the active \
                     node or its load balancer"
                        .to_string()
                } else {
                    "no error message from the server".to_string()
                }
            })),
        }
    }

    /// A successful answer whose body is not what the API documents.
    pub(crate) fn bad_answer(&self, method: Method, path: &str, why: impl Into<String>) -> VaultError {
        VaultError::BadAnswer {
            effect: self.effect.to_string(),
            op: self.op.clone(),
            connection: self.connection.target(),
            method,
            path: path.to_string(),
            why: why.into(),
        }
    }

    /// Something on the server the op must leave alone.
    pub(crate) fn conflict(&self, why: String) -> VaultError {
        VaultError::Conflict {
            effect: self.effect.to_string(),
            op: self.op.clone(),
            connection: self.connection.target(),
            why,
        }
    }

    fn no_answer(&self, e: &reqwest::Error) -> VaultError {
        if e.is_timeout() {
            return VaultError::Timeout {
                effect: self.effect.to_string(),
                op: self.op.clone(),
                connection: self.connection.target(),
                after: self.timeout,
            };
        }
        // The root cause says why (refused, DNS, TLS); reqwest's own text
        // starts with the URL, which we name through `connection` instead.
        let cause = innermost(e);
        let reason = if e.is_connect() { format!("cannot connect ({cause})") } else { cause };
        VaultError::Unreachable {
            effect: self.effect.to_string(),
            op: self.op.clone(),
            connection: self.connection.target(),
            reason: self.scrub(reason),
        }
    }

    fn scrub(&self, text: String) -> String {
        scrub(text, &self.hidden, self.connection.token().expose())
    }
}

/// Vault's `{"errors": ["..."]}`, one message per line, without the
/// `1 error occurred:` wrapping of its multi-errors.
pub(crate) fn server_message(body: Option<&Value>) -> Option<String> {
    let errors = body?.get("errors")?.as_array()?;
    let lines: Vec<&str> = errors
        .iter()
        .filter_map(Value::as_str)
        .flat_map(str::lines)
        .map(|l| l.trim().trim_start_matches("* ").trim())
        .filter(|l| !(l.is_empty() || (l.ends_with("occurred:") && l.contains("error"))))
        .collect();
    if lines.is_empty() { None } else { Some(lines.join("; ")) }
}

/// `text` with the token and each hidden value replaced by [`REDACTED`].
/// Values under four characters are left: replacing them would garble the
/// message (a `1h` or a `dev` in any word), and a secret that short
/// protects nothing.
fn scrub(mut text: String, hidden: &[String], token: &str) -> String {
    for secret in hidden.iter().map(String::as_str).chain([token]) {
        if secret.chars().count() >= 4 {
            text = text.replace(secret, REDACTED);
        }
    }
    text
}

/// The root cause's message, which says *why* (refused, DNS, TLS).
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn server_messages_lose_their_multi_error_wrapping() {
        let body = json!({"errors": ["1 error occurred:\n\t* unsupported operation\n\n"]});
        assert_eq!(server_message(Some(&body)).as_deref(), Some("unsupported operation"));
        let body = json!({"errors": ["permission denied", "2 errors occurred:\n\t* a\n\t* b\n\n"]});
        assert_eq!(server_message(Some(&body)).as_deref(), Some("permission denied; a; b"));
        assert_eq!(server_message(Some(&json!({"errors": []}))), None);
        assert_eq!(server_message(None), None);
    }

    #[test]
    fn messages_lose_the_token_and_hidden_values() {
        let hidden = vec!["pa55word".to_string(), "1h".to_string()];
        assert_eq!(
            scrub("bad pa55word and tok-hunter2".into(), &hidden, "tok-hunter2"),
            "bad (sensitive) and (sensitive)"
        );
        assert_eq!(scrub("ttl 1h is over max_ttl".into(), &hidden, "tok"), "ttl 1h is over max_ttl");
    }
}
