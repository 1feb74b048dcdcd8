//! AWS SSM `GetParameter` and Secrets Manager `GetSecretValue`, as signed
//! JSON-1.1 POSTs.

use capstan_core::Sensitive;
use serde_json::{Value, json};

use super::aws_config;
use super::http::unreachable;
use super::sigv4::{Request, Signer};
use crate::clock::UtcTime;
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
    let response = call(client, env, reference, "ssm", "SSM", "AmazonSSM.GetParameter", &body)?;
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
    let response = call(
        client,
        env,
        reference,
        "secretsmanager",
        "SECRETS_MANAGER",
        "secretsmanager.GetSecretValue",
        &body,
    )?;
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

fn malformed(reference: &str, what: &str) -> SecretsError {
    SecretsError::RefConfig { reference: reference.to_owned(), what: what.to_owned() }
}

fn call(
    client: &reqwest::blocking::Client,
    env: &Env,
    reference: &str,
    service: &str,
    env_suffix: &str,
    target: &str,
    body: &Value,
) -> Result<Value> {
    let config = |what: String| SecretsError::RefConfig { reference: reference.to_owned(), what };
    let creds = aws_config::credentials(env).map_err(config)?;
    let region = aws_config::region(env).map_err(config)?;
    let endpoint = aws_config::endpoint(env, service, env_suffix, &region);
    let url = reqwest::Url::parse(&endpoint)
        .map_err(|e| config(format!("endpoint {endpoint:?} is not a URL: {e}")))?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(config(format!("endpoint {endpoint:?} has no host"))),
    };
    let path = if url.path().is_empty() { "/" } else { url.path() };

    let payload = serde_json::to_vec(body).map_err(|e| config(e.to_string()))?;
    let content_type = "application/x-amz-json-1.1";
    let token = creds.session_token.as_ref().map(Sensitive::expose);
    let mut signed: Vec<(&str, &str)> = vec![("content-type", content_type), ("x-amz-target", target)];
    if let Some(token) = token {
        signed.push(("x-amz-security-token", token));
    }
    let signer = Signer {
        access_key_id: &creds.access_key_id,
        secret_access_key: creds.secret_access_key.expose(),
        region: &region,
        service,
    };
    let auth = signer.sign(
        &Request { method: "POST", host: &host, path, query: "", headers: &signed, payload: &payload },
        UtcTime::now(),
    );

    let mut request = client.post(url.clone()).body(payload);
    for (name, value) in signed.iter().copied() {
        request = request.header(name, value);
    }
    for (name, value) in &auth {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().map_err(|e| unreachable(reference, &endpoint, &e))?;
    let status = response.status();
    let text = response.text().map_err(|e| unreachable(reference, &endpoint, &e))?;
    if status.is_success() {
        return serde_json::from_str(&text)
            .map_err(|_| malformed(reference, &format!("{endpoint} answered with invalid JSON")));
    }

    let code = error_code(&text).unwrap_or_else(|| "no error code".to_owned());
    if status.as_u16() == 403 || DENIED.contains(&code.as_str()) {
        Err(SecretsError::RefDenied {
            reference: reference.to_owned(),
            status: status.as_u16(),
            detail: code,
        })
    } else if NOT_FOUND.contains(&code.as_str()) {
        Err(SecretsError::RefNotFound { reference: reference.to_owned(), detail: code })
    } else {
        Err(SecretsError::RefHttp {
            reference: reference.to_owned(),
            endpoint,
            status: status.as_u16(),
            detail: code,
        })
    }
}

/// The error code of an AWS error body: JSON `__type` (`...#Code`) or `code`,
/// or XML `<Code>`. Only the code is kept: it never carries a value.
fn error_code(body: &str) -> Option<String> {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        let code = value
            .get("__type")
            .or_else(|| value.get("code"))
            .or_else(|| value.get("Code"))
            .and_then(Value::as_str)?;
        let code = code.rsplit('#').next().unwrap_or(code);
        return Some(code.split(':').next().unwrap_or(code).to_owned());
    }
    let start = body.find("<Code>")? + "<Code>".len();
    let end = body[start..].find("</Code>")? + start;
    Some(body[start..end].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::error_code;

    #[test]
    fn error_codes() {
        assert_eq!(
            error_code(r#"{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"x"}"#).as_deref(),
            Some("ParameterNotFound")
        );
        assert_eq!(
            error_code("<ErrorResponse><Error><Code>InvalidClientTokenId</Code></Error></ErrorResponse>")
                .as_deref(),
            Some("InvalidClientTokenId")
        );
        assert_eq!(error_code("garbage"), None);
    }
}
