//! AWS credentials, region and endpoints, from the variables and files the
//! AWS CLI and SDKs use, in their order of precedence:
//! - credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+
//!   `AWS_SESSION_TOKEN`), else the profile `AWS_PROFILE` (default `default`)
//!   in `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`), else
//!   the same profile in `AWS_CONFIG_FILE` (default `~/.aws/config`);
//! - region: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`;
//! - endpoint: `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, then the
//!   public regional endpoint.
//!
//! A caller can name a profile of its own instead of `AWS_PROFILE`
//! ([`profile_credentials`], [`region_in_profile`]), as capstan-http's `aws`
//! connection block does, and override the rest.
//!
//! Errors are the words of what is missing; the caller says who asked.
//! Not supported: SSO, assume-role, credential_process, instance metadata.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use capstan_core::Sensitive;

use crate::EnvVars;

/// Signing credentials. `Debug` shows the key id only.
pub struct AwsCredentials {
    /// The access key id (not a secret: it is sent with every request).
    pub access_key_id: String,
    /// The secret key, which signs.
    pub secret_access_key: Sensitive,
    /// The session token of temporary credentials, sent and signed.
    pub session_token: Option<Sensitive>,
}

impl fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// The standard chain: the `AWS_*` key variables, else the profile
/// `AWS_PROFILE` (default `default`). The error says what is missing (the
/// caller names who asked).
pub fn credentials(env: &dyn EnvVars) -> Result<AwsCredentials, String> {
    if let (Some(id), Some(secret)) = (env.var("AWS_ACCESS_KEY_ID"), env.var("AWS_SECRET_ACCESS_KEY")) {
        return Ok(AwsCredentials {
            access_key_id: id.to_owned(),
            secret_access_key: Sensitive::new(secret),
            session_token: env.var("AWS_SESSION_TOKEN").map(Sensitive::new),
        });
    }
    let profile = env.var("AWS_PROFILE").unwrap_or("default");
    profile_credentials(env, profile).map_err(|_| {
        format!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (tried profile `{profile}`)"
        )
    })
}

/// The keys of one named profile, from the shared credentials file, else
/// the config file.
pub fn profile_credentials(env: &dyn EnvVars, profile: &str) -> Result<AwsCredentials, String> {
    for (path, section) in
        [(credentials_file(env), profile.to_owned()), (config_file(env), config_section(profile))]
    {
        let Some(path) = path else { continue };
        let Some(values) = read_ini_section(&path, &section) else { continue };
        if let (Some(id), Some(secret)) =
            (values.get("aws_access_key_id"), values.get("aws_secret_access_key"))
        {
            return Ok(AwsCredentials {
                access_key_id: id.clone(),
                secret_access_key: Sensitive::new(secret.clone()),
                session_token: values.get("aws_session_token").map(Sensitive::new),
            });
        }
    }
    Err(format!("AWS profile `{profile}` has no aws_access_key_id and aws_secret_access_key"))
}

/// `AWS_REGION`, `AWS_DEFAULT_REGION`, then the region of `AWS_PROFILE`.
pub fn region(env: &dyn EnvVars) -> Result<String, String> {
    region_in_profile(env, env.var("AWS_PROFILE").unwrap_or("default"))
        .ok_or_else(|| "no AWS region: set AWS_REGION or a region in the AWS profile".to_owned())
}

/// `AWS_REGION`, `AWS_DEFAULT_REGION`, then the region of `profile`.
pub fn region_in_profile(env: &dyn EnvVars, profile: &str) -> Option<String> {
    env.var("AWS_REGION")
        .or_else(|| env.var("AWS_DEFAULT_REGION"))
        .map(str::to_owned)
        .or_else(|| profile_region(env, profile))
}

/// The `region` of one named profile in the config file.
pub fn profile_region(env: &dyn EnvVars, profile: &str) -> Option<String> {
    config_file(env)
        .and_then(|path| read_ini_section(&path, &config_section(profile)))
        .and_then(|values| values.get("region").cloned())
}

/// The endpoint override for a service from the environment:
/// `AWS_ENDPOINT_URL_<SUFFIX>` (`SQS`, `SECRETS_MANAGER`), then
/// `AWS_ENDPOINT_URL`.
pub fn endpoint_override(env: &dyn EnvVars, env_suffix: &str) -> Option<String> {
    env.var(&format!("AWS_ENDPOINT_URL_{env_suffix}"))
        .or_else(|| env.var("AWS_ENDPOINT_URL"))
        .map(str::to_owned)
}

/// The endpoint for `service` (`ssm`, `secretsmanager`): the environment's
/// override, else the public regional endpoint.
pub fn endpoint(env: &dyn EnvVars, service: &str, env_suffix: &str, region: &str) -> String {
    endpoint_override(env, env_suffix).unwrap_or_else(|| public_endpoint(service, region))
}

/// `https://<service>.<region>.amazonaws.com`.
pub fn public_endpoint(service: &str, region: &str) -> String {
    format!("https://{service}.{region}.amazonaws.com")
}

fn home(env: &dyn EnvVars) -> Option<PathBuf> {
    env.var("HOME").map(PathBuf::from)
}

fn credentials_file(env: &dyn EnvVars) -> Option<PathBuf> {
    env.var("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join(".aws/credentials")))
}

fn config_file(env: &dyn EnvVars) -> Option<PathBuf> {
    env.var("AWS_CONFIG_FILE").map(PathBuf::from).or_else(|| home(env).map(|h| h.join(".aws/config")))
}

/// In `~/.aws/config` profiles are `[profile name]`, except `[default]`.
fn config_section(profile: &str) -> String {
    if profile == "default" { "default".to_owned() } else { format!("profile {profile}") }
}

/// The `key = value` pairs of one `[section]` of an INI file, if present.
fn read_ini_section(path: &std::path::Path, section: &str) -> Option<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut current: Option<&str> = None;
    let mut values = BTreeMap::new();
    let mut found = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim());
            found |= name.trim() == section;
            continue;
        }
        if current == Some(section)
            && let Some((k, v)) = line.split_once('=')
        {
            values.insert(k.trim().to_owned(), v.trim().to_owned());
        }
    }
    found.then_some(values)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    type Env = BTreeMap<String, String>;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn with(mut env: Env, k: &str, v: impl Into<String>) -> Env {
        env.insert(k.to_owned(), v.into());
        env
    }

    #[test]
    fn env_beats_profile_and_profile_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        std::fs::write(
            &creds,
            "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = s1\n\n[team]\naws_access_key_id=AKTEAM\naws_secret_access_key=s2\naws_session_token = tok\n",
        )
        .unwrap();
        let config = dir.path().join("config");
        std::fs::write(&config, "[profile team]\nregion = sa-east-1\n").unwrap();
        let base = env(&[
            ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ]);

        let c = credentials(&base).unwrap();
        assert_eq!(c.access_key_id, "AKDEFAULT");
        let team = with(base.clone(), "AWS_PROFILE", "team");
        let c = credentials(&team).unwrap();
        assert_eq!(c.access_key_id, "AKTEAM");
        assert_eq!(c.session_token.unwrap().expose(), "tok");
        assert_eq!(region(&team).unwrap(), "sa-east-1");
        assert!(region(&base).is_err());
        assert_eq!(region_in_profile(&base, "team").as_deref(), Some("sa-east-1"));
        assert_eq!(region_in_profile(&base, "default"), None);
        assert_eq!(
            region_in_profile(&with(base.clone(), "AWS_DEFAULT_REGION", "eu-west-1"), "team").as_deref(),
            Some("eu-west-1"),
            "the environment beats the profile"
        );

        assert_eq!(profile_credentials(&base, "team").unwrap().access_key_id, "AKTEAM");
        assert_eq!(profile_region(&base, "team").as_deref(), Some("sa-east-1"));
        assert!(profile_credentials(&base, "nobody").is_err());
        let env = with(
            with(with(team, "AWS_ACCESS_KEY_ID", "AKENV"), "AWS_SECRET_ACCESS_KEY", "s3"),
            "AWS_REGION",
            "us-east-1",
        );
        assert_eq!(credentials(&env).unwrap().access_key_id, "AKENV");
        assert_eq!(region(&env).unwrap(), "us-east-1");
        assert!(!format!("{:?}", credentials(&env).unwrap()).contains("s3"));

        assert_eq!(endpoint(&env, "ssm", "SSM", "us-east-1"), "https://ssm.us-east-1.amazonaws.com");
        let env = with(
            with(env, "AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            "AWS_ENDPOINT_URL_SSM",
            "http://127.0.0.1:2",
        );
        assert_eq!(endpoint(&env, "ssm", "SSM", "x"), "http://127.0.0.1:2");
        assert_eq!(endpoint(&env, "secretsmanager", "SECRETS_MANAGER", "x"), "http://127.0.0.1:1");
        assert!(credentials(&Env::default()).is_err());
        assert_eq!(with(Env::default(), "AWS_REGION", "").var("AWS_REGION"), None, "empty is unset");
    }
}
