//! Vault / OpenBao KV version 2: `GET /v1/<mount>/data/<path>`.
//! Address from `VAULT_ADDR`; token from `VAULT_TOKEN`, else `~/.vault-token`
//! (where `vault login` / `bao login` keep it); `VAULT_NAMESPACE` if set.

use capstan_core::Sensitive;
use serde_json::Value;

use super::http::unreachable;
use crate::env::Env;
use crate::error::{Result, SecretsError};

pub(crate) fn kv2_get(
    client: &reqwest::blocking::Client,
    env: &Env,
    reference: &str,
    mount: &str,
    path: &str,
    key: &str,
) -> Result<Sensitive> {
    let config = |what: String| SecretsError::RefConfig { reference: reference.to_owned(), what };
    let addr = env.get("VAULT_ADDR").ok_or_else(|| config("VAULT_ADDR is not set".to_owned()))?;
    let token = match env.get("VAULT_TOKEN") {
        Some(t) => Sensitive::new(t),
        None => env
            .home()
            .and_then(|h| std::fs::read_to_string(h.join(".vault-token")).ok())
            .map(|t| Sensitive::new(t.trim()))
            .ok_or_else(|| config("no Vault token: set VAULT_TOKEN or log in".to_owned()))?,
    };

    let mut url =
        reqwest::Url::parse(addr).map_err(|e| config(format!("VAULT_ADDR {addr:?} is not a URL: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| config(format!("VAULT_ADDR {addr:?} cannot be a base URL")))?
        .pop_if_empty()
        .extend(["v1", mount, "data"])
        .extend(path.split('/').filter(|s| !s.is_empty()));
    let endpoint = addr.to_owned();

    let mut request = client.get(url).header("X-Vault-Token", token.expose());
    if let Some(ns) = env.get("VAULT_NAMESPACE") {
        request = request.header("X-Vault-Namespace", ns);
    }
    let response = request.send().map_err(|e| unreachable(reference, &endpoint, &e))?;
    let status = response.status().as_u16();
    let text = response.text().map_err(|e| unreachable(reference, &endpoint, &e))?;
    let body: Option<Value> = serde_json::from_str(&text).ok();

    match status {
        200 => {}
        403 => {
            return Err(SecretsError::RefDenied {
                reference: reference.to_owned(),
                status,
                detail: first_error(body.as_ref()).unwrap_or_else(|| "permission denied".into()),
            });
        }
        404 => {
            return Err(SecretsError::RefNotFound {
                reference: reference.to_owned(),
                detail: format!("no secret at {mount}/{path} (or it is deleted)"),
            });
        }
        _ => {
            return Err(SecretsError::RefHttp {
                reference: reference.to_owned(),
                endpoint,
                status,
                detail: first_error(body.as_ref()).unwrap_or_else(|| "unexpected response".into()),
            });
        }
    }
    let data =
        body.as_ref().and_then(|b| b.pointer("/data/data")).and_then(Value::as_object).ok_or_else(|| {
            config(format!("{endpoint} answered without data.data (is {mount} a KV v2 mount?)"))
        })?;
    match data.get(key) {
        Some(Value::String(s)) => Ok(Sensitive::new(s.clone())),
        Some(Value::Number(n)) => Ok(Sensitive::new(n.to_string())),
        Some(Value::Bool(b)) => Ok(Sensitive::new(b.to_string())),
        Some(_) => Err(config(format!("key `{key}` is not a string, number or boolean"))),
        None => Err(SecretsError::RefNotFound {
            reference: reference.to_owned(),
            detail: format!("the secret at {mount}/{path} has no key `{key}`"),
        }),
    }
}

/// Vault's `{"errors": ["permission denied"]}`: messages about the request,
/// never secret data.
fn first_error(body: Option<&Value>) -> Option<String> {
    body?.get("errors")?.as_array()?.first()?.as_str().map(|s| s.lines().next().unwrap_or(s).to_owned())
}
