//! AWS credentials, region and endpoints, from the variables and files the
//! AWS CLI and SDKs use, in their order of precedence:
//! - credentials ([`credentials`]): `AWS_ACCESS_KEY_ID` +
//!   `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`); else a web identity,
//!   when both `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN` are set (+
//!   `AWS_ROLE_SESSION_NAME`), exchanged through STS for temporary
//!   credentials (see [`crate::web_identity`]); else the profile
//!   `AWS_PROFILE` (default `default`) in `AWS_SHARED_CREDENTIALS_FILE`
//!   (default `~/.aws/credentials`), else the same profile in
//!   `AWS_CONFIG_FILE` (default `~/.aws/config`);
//! - region: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the profile's `region`;
//! - endpoint: `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, then the
//!   public regional endpoint (for STS without a region, the global one).
//!
//! Everything here reads only the environment snapshot and local files,
//! except a web identity: its exchange is one blocking STS request, made
//! with the caller's client (its timeouts and TLS), like every other AWS
//! call of the engine. That is why [`credentials`] takes a client.
//!
//! A caller can name a profile of its own instead of `AWS_PROFILE`
//! ([`profile_credentials`], [`region_in_profile`]), as capstan-http's `aws`
//! connection block does, and override the rest.
//!
//! Errors are the words of what is missing; the caller says who asked.
//! Not supported: SSO, assume-role and web identity in profiles,
//! credential_process, instance metadata.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use capstan_core::Sensitive;

use crate::EnvVars;
use crate::error::CredentialsError;
use crate::web_identity::WebIdentity;

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

/// The standard chain: the `AWS_*` key variables, else a web identity
/// (`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`) exchanged through STS
/// with `client` at [`sts_endpoint`] for `region`, else the profile
/// `AWS_PROFILE` (default `default`). Blocking: a web identity costs one
/// request, nothing else touches the network. The error says what failed
/// (the caller names who asked).
pub fn credentials(
    env: &dyn EnvVars,
    client: &reqwest::blocking::Client,
    region: Option<&str>,
) -> Result<AwsCredentials, CredentialsError> {
    if let (Some(id), Some(secret)) = (env.var("AWS_ACCESS_KEY_ID"), env.var("AWS_SECRET_ACCESS_KEY")) {
        return Ok(AwsCredentials {
            access_key_id: id.to_owned(),
            secret_access_key: Sensitive::new(secret),
            session_token: env.var("AWS_SESSION_TOKEN").map(Sensitive::new),
        });
    }
    if let Some(identity) = WebIdentity::from_env(env) {
        return identity.exchange(client, &sts_endpoint(env, region)).map(|issued| issued.credentials);
    }
    let profile = env.var("AWS_PROFILE").unwrap_or("default");
    profile_credentials(env, profile).map_err(|_| CredentialsError::Missing { profile: profile.to_owned() })
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

/// Where STS is called: the environment's override (`AWS_ENDPOINT_URL_STS`,
/// `AWS_ENDPOINT_URL`), else the regional endpoint, or the global
/// `https://sts.amazonaws.com` when no region is known.
pub fn sts_endpoint(env: &dyn EnvVars, region: Option<&str>) -> String {
    match region {
        Some(region) => endpoint(env, "sts", "STS", region),
        None => endpoint_override(env, "STS").unwrap_or_else(|| "https://sts.amazonaws.com".to_owned()),
    }
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

    /// The chain with no region; none of these tests reaches STS.
    fn chain(env: &Env) -> Result<AwsCredentials, CredentialsError> {
        let client = crate::transport::client(std::time::Duration::from_secs(1)).unwrap();
        credentials(env, &client, None)
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

        let c = chain(&base).unwrap();
        assert_eq!(c.access_key_id, "AKDEFAULT");
        let team = with(base.clone(), "AWS_PROFILE", "team");
        let c = chain(&team).unwrap();
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
        assert_eq!(chain(&env).unwrap().access_key_id, "AKENV");
        assert_eq!(region(&env).unwrap(), "us-east-1");
        assert!(!format!("{:?}", chain(&env).unwrap()).contains("s3"));

        assert_eq!(endpoint(&env, "ssm", "SSM", "us-east-1"), "https://ssm.us-east-1.amazonaws.com");
        let env = with(
            with(env, "AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            "AWS_ENDPOINT_URL_SSM",
            "http://127.0.0.1:2",
        );
        assert_eq!(endpoint(&env, "ssm", "SSM", "x"), "http://127.0.0.1:2");
        assert_eq!(endpoint(&env, "secretsmanager", "SECRETS_MANAGER", "x"), "http://127.0.0.1:1");
        let err = chain(&Env::default()).unwrap_err();
        assert!(matches!(err, CredentialsError::Missing { ref profile } if profile == "default"), "{err:?}");
        assert_eq!(with(Env::default(), "AWS_REGION", "").var("AWS_REGION"), None, "empty is unset");
    }

    /// Web identity sits between the key variables and the profile. A token
    /// file that does not exist tells, without any request, whether the
    /// chain tried it: it fails naming the file.
    #[test]
    fn web_identity_comes_after_the_key_variables_and_before_the_profile() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        std::fs::write(&creds, "[default]\naws_access_key_id = AKPROFILE\naws_secret_access_key = s\n")
            .unwrap();
        let missing = dir.path().join("no-token");
        let base = env(&[
            ("AWS_SHARED_CREDENTIALS_FILE", creds.to_str().unwrap()),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", missing.to_str().unwrap()),
            ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deployer"),
        ]);

        let err = chain(&base).unwrap_err();
        assert!(matches!(err, CredentialsError::TokenFile { ref path, .. } if *path == missing), "{err:?}");

        let keys = with(with(base.clone(), "AWS_ACCESS_KEY_ID", "AKENV"), "AWS_SECRET_ACCESS_KEY", "s");
        assert_eq!(chain(&keys).unwrap().access_key_id, "AKENV");

        let no_role = with(base, "AWS_ROLE_ARN", "");
        assert_eq!(
            chain(&no_role).unwrap().access_key_id,
            "AKPROFILE",
            "a token file alone is not a web identity"
        );
    }

    #[test]
    fn sts_is_regional_unless_overridden_or_without_a_region() {
        let none = Env::default();
        assert_eq!(sts_endpoint(&none, Some("sa-east-1")), "https://sts.sa-east-1.amazonaws.com");
        assert_eq!(sts_endpoint(&none, None), "https://sts.amazonaws.com");
        let all = env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]);
        assert_eq!(sts_endpoint(&all, None), "http://127.0.0.1:1");
        let sts = with(all, "AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2");
        assert_eq!(sts_endpoint(&sts, Some("sa-east-1")), "http://127.0.0.1:2");
        assert_eq!(sts_endpoint(&sts, None), "http://127.0.0.1:2");
    }
}
