//! AWS SSM `GetParameter` and Secrets Manager `GetSecretValue` (and, for
//! the render target's store, `PutSecretValue` / `CreateSecret`), as signed
//! JSON-1.1 POSTs.

use capstan_aws::services::{self, Service};
use capstan_aws::settings;
use capstan_aws::transport::{self, SendError, SignedCall};
use capstan_core::Sensitive;
use serde_json::{Value, json};

use super::http::unreachable_because;
use crate::env::Env;
use crate::error::{Result, SecretsError};

/// Error codes that mean "your credentials or permissions", whatever the status.
const DENIED: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
];

const NOT_FOUND: &[&str] = &["ParameterNotFound", "ParameterVersionNotFound", "ResourceNotFoundException"];

pub(crate) fn ssm_get_parameter(
    client: &reqwest::blocking::Client,
    env: &Env,
    reference: &str,
    name: &str,
) -> Result<Sensitive> {
    let body = json!({ "Name": name, "WithDecryption": true });
    let response = call(client, env, reference, services::SSM, "AmazonSSM.GetParameter", &body)?;
    response
        .pointer("/Parameter/Value")
        .and_then(Value::as_str)
        .map(Sensitive::new)
        .ok_or_else(|| malformed(reference, "no Parameter.Value in the response"))
}

pub(crate) fn secrets_manager_get(
    client: &reqwest::blocking::Client,
    env: &Env,
    reference: &str,
    name: &str,
    json_key: Option<&str>,
) -> Result<Sensitive> {
    let body = json!({ "SecretId": name });
    let response =
        call(client, env, reference, services::SECRETS_MANAGER, "secretsmanager.GetSecretValue", &body)?;
    let secret = response.get("SecretString").and_then(Value::as_str).ok_or_else(|| {
        malformed(reference, "the secret has no SecretString (binary secrets are not supported)")
    })?;
    let Some(key) = json_key else {
        return Ok(Sensitive::new(secret));
    };
    // The parse error is dropped: its message could quote the secret.
    let object: serde_json::Map<String, Value> =
        serde_json::from_str(secret).map_err(|_| SecretsError::RefNotFound {
            reference: reference.to_owned(),
            detail: format!("the secret is not a JSON object, so it has no key `{key}`"),
        })?;
    match object.get(key) {
        Some(Value::String(s)) => Ok(Sensitive::new(s.clone())),
        Some(Value::Number(n)) => Ok(Sensitive::new(n.to_string())),
        Some(Value::Bool(b)) => Ok(Sensitive::new(b.to_string())),
        Some(_) => Err(malformed(reference, &format!("JSON key `{key}` is not a string, number or boolean"))),
        None => Err(SecretsError::RefNotFound {
            reference: reference.to_owned(),
            detail: format!("the secret has no JSON key `{key}`"),
        }),
    }
}

/// The whole JSON `SecretString` of `name` as key → value; `None` when no
/// such secret exists.
pub(crate) fn secrets_manager_get_object(
    client: &reqwest::blocking::Client,
    env: &Env,
    reference: &str,
    name: &str,
) -> Result<Option<serde_json::Map<String, Value>>> {
    let body = json!({ "SecretId": name });
    let response =
        match call(client, env, reference, services::SECRETS_MANAGER, "secretsmanager.GetSecretValue", &body)
        {
            Ok(response) => response,
            Err(SecretsError::RefNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
    let secret = response.get("SecretString").and_then(Value::as_str).ok_or_else(|| {
        malformed(reference, "the secret has no SecretString (binary secrets are not supported)")
    })?;
    // The parse error is dropped: its message could quote the secret.
    serde_json::from_str(secret)
        .map(Some)
        .map_err(|_| malformed(reference, "the secret's SecretString is not a JSON object"))
}

/// Stores `secret_string` as the current version of `name`, creating the
/// secret when it does not exist yet.
pub(crate) fn secrets_manager_put(
    client: &reqwest::blocking::Client,
    env: &Env,
    reference: &str,
    name: &str,
    secret_string: &Sensitive,
) -> Result<()> {
    let put = json!({ "SecretId": name, "SecretString": secret_string.expose() });
    match call(client, env, reference, services::SECRETS_MANAGER, "secretsmanager.PutSecretValue", &put) {
        Err(SecretsError::RefNotFound { .. }) => {
            let create = json!({ "Name": name, "SecretString": secret_string.expose() });
            call(client, env, reference, services::SECRETS_MANAGER, "secretsmanager.CreateSecret", &create)
                .map(drop)
        }
        other => other.map(drop),
    }
}

fn malformed(reference: &str, what: &str) -> SecretsError {
    SecretsError::RefConfig { reference: reference.to_owned(), what: what.to_owned() }
}

fn call(
    client: &reqwest::blocking::Client,
    env: &Env,
    reference: &str,
    service: Service,
    target: &str,
    body: &Value,
) -> Result<Value> {
    let config = |what: String| SecretsError::RefConfig { reference: reference.to_owned(), what };
    // A web identity is exchanged at STS here, once per reference: the
    // token file is re-read each time, so a rotated token is picked up.
    let region = settings::region(env);
    let creds =
        settings::credentials(env, client, region.as_deref().ok()).map_err(|e| config(e.to_string()))?;
    let region = region.map_err(config)?;
    let endpoint = settings::endpoint(env, service.name, service.env_suffix, &region);
    let payload = serde_json::to_vec(body).map_err(|e| config(e.to_string()))?;
    let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
    let signed = SignedCall {
        service: service.name,
        region: &region,
        endpoint: &endpoint,
        method: "POST",
        path: "/",
        headers: &headers,
        body: &payload,
    };
    let reply = transport::send(client, &creds, &signed).map_err(|e| match e {
        SendError::Endpoint(what) => config(what),
        SendError::Unreachable(reason) => unreachable_because(reference, &endpoint, reason),
    })?;
    if (200..300).contains(&reply.status) {
        return serde_json::from_str(&reply.body)
            .map_err(|_| malformed(reference, &format!("{endpoint} answered with invalid JSON")));
    }

    // Only the code is kept: it never carries a value.
    let code = transport::error_code(&reply.body).unwrap_or_else(|| "no error code".to_owned());
    if reply.status == 403 || DENIED.contains(&code.as_str()) {
        Err(SecretsError::RefDenied { reference: reference.to_owned(), status: reply.status, detail: code })
    } else if NOT_FOUND.contains(&code.as_str()) {
        Err(SecretsError::RefNotFound { reference: reference.to_owned(), detail: code })
    } else {
        Err(SecretsError::RefHttp {
            reference: reference.to_owned(),
            endpoint,
            status: reply.status,
            detail: code,
        })
    }
}

/// The environment snapshot is where the shared AWS settings chain reads.
impl capstan_aws::EnvVars for Env {
    fn var(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}
