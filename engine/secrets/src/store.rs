//! Secret stores Capstan writes to: the render target's `external-secrets`
//! delivery keeps each rendered Secret's values there, under one key, and
//! the External Secrets operator reads them back in the cluster.

use std::collections::BTreeMap;

use capstan_core::Sensitive;
use serde_json::Value;

use crate::env::Env;
use crate::error::Result;
use crate::remote::{DEFAULT_TIMEOUT, aws, vault::Kv2};

/// A Vault / OpenBao KV v2 mount, reached as `secret_ref("vault:…")` is
/// (`VAULT_ADDR`, `VAULT_TOKEN` or `~/.vault-token`, `VAULT_NAMESPACE`).
pub struct VaultStore {
    kv: Kv2,
    mount: String,
}

impl VaultStore {
    /// The KV v2 mount `mount` of the server `env` names.
    pub fn connect(env: &Env, mount: &str) -> Result<Self> {
        let reference = format!("vault:{mount}");
        let client = crate::remote::http::client(&reference, DEFAULT_TIMEOUT)?;
        Ok(Self { kv: Kv2::connect(client, env, &reference, mount)?, mount: mount.to_owned() })
    }

    /// The values under `key`, if a secret is there; values that are not
    /// strings come back as their JSON text.
    pub fn read(&self, key: &str) -> Result<Option<BTreeMap<String, Sensitive>>> {
        Ok(self.kv.get(&self.reference(key), key)?.map(texts))
    }

    /// A new version under `key` holding exactly `values`.
    pub fn write(&self, key: &str, values: &BTreeMap<String, Sensitive>) -> Result<()> {
        self.kv.put(&self.reference(key), key, values)
    }

    fn reference(&self, key: &str) -> String {
        format!("vault:{}/{key}", self.mount)
    }
}

/// AWS Secrets Manager: each key is one secret whose `SecretString` is a
/// JSON object of the values (the layout External Secrets' `property`
/// reads). Credentials, region and endpoint from the AWS settings chain.
pub struct AwsSecretsManagerStore {
    client: reqwest::blocking::Client,
    env: Env,
}

impl AwsSecretsManagerStore {
    /// A client for the Secrets Manager that `env`'s AWS settings point at;
    /// credentials and region are read on each call.
    pub fn connect(env: &Env) -> Result<Self> {
        let client = crate::remote::http::client("secretsmanager:", DEFAULT_TIMEOUT)?;
        Ok(Self { client, env: env.clone() })
    }

    /// The values of the secret `key`, if it exists.
    pub fn read(&self, key: &str) -> Result<Option<BTreeMap<String, Sensitive>>> {
        let reference = format!("secretsmanager:{key}");
        Ok(aws::secrets_manager_get_object(&self.client, &self.env, &reference, key)?.map(texts))
    }

    /// The secret `key` holding exactly `values` (created if missing).
    pub fn write(&self, key: &str, values: &BTreeMap<String, Sensitive>) -> Result<()> {
        let object: serde_json::Map<String, Value> =
            values.iter().map(|(k, v)| (k.clone(), Value::String(v.expose().to_owned()))).collect();
        let text = Sensitive::new(Value::Object(object).to_string());
        aws::secrets_manager_put(&self.client, &self.env, &format!("secretsmanager:{key}"), key, &text)
    }
}

/// A stored JSON object as values: strings as they are, anything else as
/// its JSON text.
fn texts(map: serde_json::Map<String, Value>) -> BTreeMap<String, Sensitive> {
    map.into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, Sensitive::new(text))
        })
        .collect()
}

/// A store the render target's `external-secrets` delivery writes to.
pub enum Store {
    /// A Vault / OpenBao KV v2 mount.
    Vault(VaultStore),
    /// AWS Secrets Manager.
    AwsSecretsManager(AwsSecretsManagerStore),
}

impl Store {
    /// The values under `key`, if there are any.
    pub fn read(&self, key: &str) -> Result<Option<BTreeMap<String, Sensitive>>> {
        match self {
            Store::Vault(s) => s.read(key),
            Store::AwsSecretsManager(s) => s.read(key),
        }
    }

    /// `key` holding exactly `values`.
    pub fn write(&self, key: &str, values: &BTreeMap<String, Sensitive>) -> Result<()> {
        match self {
            Store::Vault(s) => s.write(key, values),
            Store::AwsSecretsManager(s) => s.write(key, values),
        }
    }
}
