//! External secret sources behind `secret_ref("...")`.
//!
//! | reference                          | source                                          |
//! |------------------------------------|-------------------------------------------------|
//! | `env:NAME`                         | environment variable `NAME`                     |
//! | `ssm:/app/homolog/MSG`             | AWS SSM Parameter Store, decrypted SecureString |
//! | `secretsmanager:NAME`              | AWS Secrets Manager, `SecretString`             |
//! | `secretsmanager:NAME#json_key`     | one key of a JSON `SecretString`                |
//! | `vault:MOUNT/PATH#key`             | Vault / OpenBao KV v2 (`/v1/MOUNT/data/PATH`)   |
//!
//! For `vault:` the mount is the first path segment. Errors name the
//! reference and what went wrong (not found, denied, unreachable), never a
//! value; remote error bodies are reduced to the service's error code.

pub(crate) mod aws;
pub(crate) mod http;
pub(crate) mod vault;

use std::time::Duration;

use capstan_core::Sensitive;

use crate::env::Env;
use crate::error::{Result, SecretsError};

/// A parsed `secret_ref` string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `env:NAME`: the environment variable `NAME`.
    Env(String),
    /// `ssm:NAME`: the SSM parameter `NAME`, e.g. `/app/homolog/MSG`.
    Ssm(String),
    /// `secretsmanager:NAME[#json_key]`: a Secrets Manager secret.
    SecretsManager {
        /// The secret's name (its `SecretId`), e.g. `prod/db`.
        name: String,
        /// The key to take from a JSON `SecretString`; `None` for the whole string.
        json_key: Option<String>,
    },
    /// `vault:MOUNT/PATH#key`: one key of a KV v2 secret.
    Vault {
        /// The KV v2 mount, the first path segment, e.g. `secret`.
        mount: String,
        /// The secret's path under the mount, e.g. `app/db`.
        path: String,
        /// The key within the secret's data, e.g. `password`.
        key: String,
    },
}

impl Reference {
    /// Parses `reference`; [`SecretsError::InvalidReference`] says what is
    /// wrong with it.
    pub fn parse(reference: &str) -> Result<Self> {
        let invalid = |reason: &str| SecretsError::InvalidReference {
            reference: reference.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = reference.split_once(':').ok_or_else(|| {
            invalid("expected `env:`, `ssm:`, `secretsmanager:` or `vault:` before the name")
        })?;
        if rest.is_empty() {
            return Err(invalid("empty name"));
        }
        match scheme {
            "env" => Ok(Self::Env(rest.to_owned())),
            "ssm" => {
                if !rest.starts_with('/') && rest.contains('/') {
                    return Err(invalid("hierarchical SSM names start with `/`"));
                }
                Ok(Self::Ssm(rest.to_owned()))
            }
            "secretsmanager" => {
                let (name, key) = match rest.rsplit_once('#') {
                    Some((name, key)) if !key.is_empty() && !name.is_empty() => (name, Some(key.to_owned())),
                    Some(_) => return Err(invalid("empty name or JSON key around `#`")),
                    None => (rest, None),
                };
                Ok(Self::SecretsManager { name: name.to_owned(), json_key: key })
            }
            "vault" => {
                let (path, key) = rest
                    .rsplit_once('#')
                    .filter(|(_, k)| !k.is_empty())
                    .ok_or_else(|| invalid("expected `vault:<mount>/<path>#<key>`"))?;
                let (mount, path) = path
                    .trim_matches('/')
                    .split_once('/')
                    .filter(|(m, p)| !m.is_empty() && !p.is_empty())
                    .ok_or_else(|| invalid("expected `vault:<mount>/<path>#<key>`"))?;
                Ok(Self::Vault { mount: mount.to_owned(), path: path.to_owned(), key: key.to_owned() })
            }
            other => Err(invalid(&format!(
                "unknown source `{other}` (expected env, ssm, secretsmanager or vault)"
            ))),
        }
    }
}

/// Resolves references against the given environment snapshot.
#[derive(Debug)]
pub struct RemoteSources {
    env: Env,
    timeout: Duration,
}

/// Long enough for a slow secret manager, short enough that an unreachable
/// one fails a plan promptly.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

impl RemoteSources {
    /// Sources configured from `env`, with [`DEFAULT_TIMEOUT`] per request.
    pub fn new(env: Env) -> Self {
        Self { env, timeout: DEFAULT_TIMEOUT }
    }

    /// The same sources with another per-request HTTP timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Parses `reference` and fetches its value (over HTTP for all but `env:`).
    pub fn resolve(&self, reference: &str) -> Result<Sensitive> {
        match Reference::parse(reference)? {
            Reference::Env(name) => {
                self.env.get(&name).map(Sensitive::new).ok_or_else(|| SecretsError::RefNotFound {
                    reference: reference.to_owned(),
                    detail: format!("environment variable {name} is not set"),
                })
            }
            Reference::Ssm(name) => {
                let client = http::client(reference, self.timeout)?;
                aws::ssm_get_parameter(&client, &self.env, reference, &name)
            }
            Reference::SecretsManager { name, json_key } => {
                let client = http::client(reference, self.timeout)?;
                aws::secrets_manager_get(&client, &self.env, reference, &name, json_key.as_deref())
            }
            Reference::Vault { mount, path, key } => {
                let client = http::client(reference, self.timeout)?;
                vault::kv2_get(&client, &self.env, reference, &mount, &path, &key)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(Reference::parse("env:DB").unwrap(), Reference::Env("DB".into()));
        assert_eq!(
            Reference::parse("ssm:/app/homolog/MSG").unwrap(),
            Reference::Ssm("/app/homolog/MSG".into())
        );
        assert_eq!(
            Reference::parse("secretsmanager:prod/db#password").unwrap(),
            Reference::SecretsManager { name: "prod/db".into(), json_key: Some("password".into()) }
        );
        assert_eq!(
            Reference::parse("vault:secret/app/db#password").unwrap(),
            Reference::Vault { mount: "secret".into(), path: "app/db".into(), key: "password".into() }
        );
        for bad in ["nope", "s3:bucket", "vault:secret#k", "vault:secret/app", "env:", "ssm:a/b"] {
            let err = Reference::parse(bad).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn env_references() {
        let sources = RemoteSources::new(Env::from_pairs([("DB_PASSWORD", "hunter2")]));
        assert_eq!(sources.resolve("env:DB_PASSWORD").unwrap().expose(), "hunter2");
        let err = sources.resolve("env:MISSING").unwrap_err();
        assert!(matches!(err, SecretsError::RefNotFound { .. }));
        assert!(err.to_string().contains("env:MISSING"));
    }
}
