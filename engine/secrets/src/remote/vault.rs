//! Vault / OpenBao KV version 2: `GET` and `POST /v1/<mount>/data/<path>`.
//! Address from `VAULT_ADDR`; token from `VAULT_TOKEN`, else `~/.vault-token`
//! (where `vault login` / `bao login` keep it); `VAULT_NAMESPACE` if set.
//!
//! [`Kv2`] is the client; `secret_ref("vault:…")` reads one key through it
//! ([`kv2_get`]) and [`crate::VaultStore`] reads and writes whole secrets
//! (the render target's `external-secrets` delivery).

use std::collections::BTreeMap;

use capstan_core::Sensitive;
use serde_json::{Value, json};

use super::http::unreachable;
use crate::env::Env;
use crate::error::{Result, SecretsError};

/// A KV v2 mount on one server, with the operator's token. Errors name
/// `reference` (how the caller calls the place), never a value.
pub(crate) struct Kv2 {
    client: reqwest::blocking::Client,
    addr: String,
    token: Sensitive,
    namespace: Option<String>,
    mount: String,
}

impl Kv2 {
    pub fn connect(
        client: reqwest::blocking::Client,
        env: &Env,
        reference: &str,
        mount: &str,
    ) -> Result<Self> {
        let config = |what: String| SecretsError::RefConfig { reference: reference.to_owned(), what };
        let addr = env.get("VAULT_ADDR").ok_or_else(|| config("VAULT_ADDR is not set".to_owned()))?;
        let token = env
            .vault_token()
            .ok_or_else(|| config("no Vault token: set VAULT_TOKEN or log in".to_owned()))?;
        reqwest::Url::parse(addr).map_err(|e| config(format!("VAULT_ADDR {addr:?} is not a URL: {e}")))?;
        Ok(Self {
            client,
            addr: addr.to_owned(),
            token,
            namespace: env.get("VAULT_NAMESPACE").map(str::to_owned),
            mount: mount.to_owned(),
        })
    }

    fn url(&self, reference: &str, path: &str) -> Result<reqwest::Url> {
        let config = |what: String| SecretsError::RefConfig { reference: reference.to_owned(), what };
        let mut url = reqwest::Url::parse(&self.addr).map_err(|e| config(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| config(format!("VAULT_ADDR {:?} cannot be a base URL", self.addr)))?
            .pop_if_empty()
            .extend(["v1", self.mount.as_str(), "data"])
            .extend(path.split('/').filter(|s| !s.is_empty()));
        Ok(url)
    }

    fn send(
        &self,
        reference: &str,
        request: reqwest::blocking::RequestBuilder,
    ) -> Result<(u16, Option<Value>)> {
        let mut request = request.header("X-Vault-Token", self.token.expose());
        if let Some(ns) = &self.namespace {
            request = request.header("X-Vault-Namespace", ns);
        }
        let response = request.send().map_err(|e| unreachable(reference, &self.addr, &e))?;
        let status = response.status().as_u16();
        let text = response.text().map_err(|e| unreachable(reference, &self.addr, &e))?;
        Ok((status, serde_json::from_str(&text).ok()))
    }

    /// The data of the secret at `path`; `None` when there is none (or its
    /// latest version is deleted).
    pub fn get(&self, reference: &str, path: &str) -> Result<Option<serde_json::Map<String, Value>>> {
        let (status, body) = self.send(reference, self.client.get(self.url(reference, path)?))?;
        match status {
            200 => {}
            404 => return Ok(None),
            _ => return Err(self.failed(reference, status, body.as_ref())),
        }
        let data = body.as_ref().and_then(|b| b.pointer("/data/data"));
        match data {
            Some(Value::Object(map)) => Ok(Some(map.clone())),
            // A deleted latest version answers 200 with null data on some servers.
            Some(Value::Null) => Ok(None),
            _ => Err(SecretsError::RefConfig {
                reference: reference.to_owned(),
                what: format!("{} answered without data.data (is {} a KV v2 mount?)", self.addr, self.mount),
            }),
        }
    }

    /// Writes a new version of the secret at `path` holding `data`.
    pub fn put(&self, reference: &str, path: &str, data: &BTreeMap<String, Sensitive>) -> Result<()> {
        let data: serde_json::Map<String, Value> =
            data.iter().map(|(k, v)| (k.clone(), json!(v.expose()))).collect();
        let request = self.client.post(self.url(reference, path)?).json(&json!({ "data": data }));
        let (status, body) = self.send(reference, request)?;
        match status {
            200 | 204 => Ok(()),
            _ => Err(self.failed(reference, status, body.as_ref())),
        }
    }

    fn failed(&self, reference: &str, status: u16, body: Option<&Value>) -> SecretsError {
        match status {
            403 => SecretsError::RefDenied {
                reference: reference.to_owned(),
                status,
                detail: first_error(body).unwrap_or_else(|| "permission denied".into()),
            },
            _ => SecretsError::RefHttp {
                reference: reference.to_owned(),
                endpoint: self.addr.clone(),
                status,
                detail: first_error(body).unwrap_or_else(|| "unexpected response".into()),
            },
        }
    }
}

/// One key of the secret at `mount/path` (`secret_ref("vault:…#key")`).
pub(crate) fn kv2_get(
    client: &reqwest::blocking::Client,
    env: &Env,
    reference: &str,
    mount: &str,
    path: &str,
    key: &str,
) -> Result<Sensitive> {
    let kv = Kv2::connect(client.clone(), env, reference, mount)?;
    let data = kv.get(reference, path)?.ok_or_else(|| SecretsError::RefNotFound {
        reference: reference.to_owned(),
        detail: format!("no secret at {mount}/{path} (or it is deleted)"),
    })?;
    match data.get(key) {
        Some(Value::String(s)) => Ok(Sensitive::new(s.clone())),
        Some(Value::Number(n)) => Ok(Sensitive::new(n.to_string())),
        Some(Value::Bool(b)) => Ok(Sensitive::new(b.to_string())),
        Some(_) => Err(SecretsError::RefConfig {
            reference: reference.to_owned(),
            what: format!("key `{key}` is not a string, number or boolean"),
        }),
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
