//! Web-identity credentials: where Capstan runs in an EKS pod (IRSA) or a
//! CI job with OIDC federation (GitHub Actions, GitLab), the platform writes
//! a signed token to a file and names it in `AWS_WEB_IDENTITY_TOKEN_FILE`,
//! beside the role to take in `AWS_ROLE_ARN`. STS `AssumeRoleWithWebIdentity`
//! exchanges the token for temporary credentials of that role.
//!
//! The token is read from its file on every exchange, never kept: the
//! platform rotates it (EKS every hour or so). It, and the secret key and
//! session token STS returns, only travel as [`Sensitive`].
//!
//! It does not read `web_identity_token_file` from profiles, and does not
//! refresh credentials before they expire: callers resolve them once per
//! run or per secret lookup, well within STS's default hour.

use std::path::PathBuf;

use capstan_core::Sensitive;

use crate::EnvVars;
use crate::error::CredentialsError;
use crate::settings::AwsCredentials;
use crate::sts;
use crate::transport::{self, SendError};

/// An STS error message is cut to this length: they are one sentence, a
/// longer one is a dump nobody should have to read in a deploy log.
const MAX_MESSAGE: usize = 300;

/// Where the token is and which role it is exchanged for. `Debug` shows all
/// of it: none of it is secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebIdentity {
    /// The file the platform writes the token to (`AWS_WEB_IDENTITY_TOKEN_FILE`).
    pub token_file: PathBuf,
    /// The role to take (`AWS_ROLE_ARN`).
    pub role_arn: String,
    /// The session name CloudTrail records (`AWS_ROLE_SESSION_NAME`, else
    /// `capstan-<unix time>`, as the AWS SDKs make up one of their own).
    pub session_name: String,
}

/// What STS issued: credentials with a session token, and when they end.
#[derive(Debug)]
pub struct TemporaryCredentials {
    /// The keys and session token to sign with.
    pub credentials: AwsCredentials,
    /// When they stop working, as STS wrote it (ISO 8601, UTC).
    pub expiration: String,
}

impl WebIdentity {
    /// The web identity the environment configures: both
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`, or none (as the AWS
    /// SDKs, one without the other is not a web identity).
    pub fn from_env(env: &dyn EnvVars) -> Option<Self> {
        let token_file = env.var("AWS_WEB_IDENTITY_TOKEN_FILE")?;
        let role_arn = env.var("AWS_ROLE_ARN")?;
        let session_name = env.var("AWS_ROLE_SESSION_NAME").map_or_else(default_session_name, str::to_owned);
        Some(Self { token_file: PathBuf::from(token_file), role_arn: role_arn.to_owned(), session_name })
    }

    /// Reads the token and exchanges it at the STS `endpoint` (see
    /// [`crate::settings::sts_endpoint`]). One unsigned request, blocking.
    pub fn exchange(
        &self,
        client: &reqwest::blocking::Client,
        endpoint: &str,
    ) -> Result<TemporaryCredentials, CredentialsError> {
        let token = self.read_token()?;
        let form = sts::web_identity_form(&self.role_arn, &self.session_name, &token);
        let reply = transport::send_unsigned_form(client, endpoint, &form).map_err(|e| {
            let reason = match e {
                SendError::Endpoint(r) | SendError::Unreachable(r) => r,
            };
            CredentialsError::StsUnreachable {
                role_arn: self.role_arn.clone(),
                endpoint: endpoint.to_owned(),
                reason,
            }
        })?;
        if (200..300).contains(&reply.status) {
            return sts::parse_credentials(&reply.body).map_err(|reason| {
                CredentialsError::StsInvalidResponse {
                    role_arn: self.role_arn.clone(),
                    endpoint: endpoint.to_owned(),
                    status: reply.status,
                    reason,
                }
            });
        }
        // Only STS's code and message are kept: the rest of a body (or a
        // proxy's page) is not ours to repeat.
        let (code, message) = match sts::parse_error(&reply.body) {
            Some(e) => (e.code, e.message.map(|m| scrub(&m, &token))),
            None => ("no STS error code".to_owned(), None),
        };
        Err(CredentialsError::StsRefused {
            role_arn: self.role_arn.clone(),
            endpoint: endpoint.to_owned(),
            status: reply.status,
            code,
            message,
        })
    }

    fn read_token(&self) -> Result<Sensitive, CredentialsError> {
        let text = std::fs::read_to_string(&self.token_file)
            .map_err(|source| CredentialsError::TokenFile { path: self.token_file.clone(), source })?;
        // Kubernetes and CI runners may end the file with a newline; the
        // token itself never contains whitespace.
        let token = text.trim();
        if token.is_empty() {
            return Err(CredentialsError::EmptyToken { path: self.token_file.clone() });
        }
        Ok(Sensitive::new(token))
    }
}

fn default_session_name() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("capstan-{secs}")
}

/// The first line of STS's message, without the token in it (STS does not
/// echo it today; a proxy or a future message might), cut to [`MAX_MESSAGE`].
fn scrub(message: &str, token: &Sensitive) -> String {
    let mut m = message.lines().next().unwrap_or_default().replace(token.expose(), capstan_core::REDACTED);
    if m.chars().count() > MAX_MESSAGE {
        m = m.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    m
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn both_the_token_file_and_the_role_make_a_web_identity() {
        let file = ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/eks.amazonaws.com/token");
        let role = ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/deployer");
        assert_eq!(WebIdentity::from_env(&env(&[file])), None);
        assert_eq!(WebIdentity::from_env(&env(&[role])), None);
        assert_eq!(WebIdentity::from_env(&env(&[file, ("AWS_ROLE_ARN", "")])), None, "empty is unset");

        let named = WebIdentity::from_env(&env(&[file, role, ("AWS_ROLE_SESSION_NAME", "ci-42")])).unwrap();
        assert_eq!(
            named,
            WebIdentity {
                token_file: PathBuf::from(file.1),
                role_arn: role.1.to_owned(),
                session_name: "ci-42".to_owned(),
            }
        );
        let unnamed = WebIdentity::from_env(&env(&[file, role])).unwrap();
        let secs = unnamed.session_name.strip_prefix("capstan-").unwrap();
        assert!(secs.parse::<u64>().unwrap() > 1_700_000_000, "{}", unnamed.session_name);
    }

    #[test]
    fn messages_lose_the_token_extra_lines_and_length() {
        let token = Sensitive::new("eyJtoken");
        assert_eq!(
            scrub("token eyJtoken is not valid\nstack trace", &token),
            "token (sensitive) is not valid"
        );
        let long = "x".repeat(MAX_MESSAGE + 10);
        assert_eq!(scrub(&long, &token).chars().count(), MAX_MESSAGE + 1);
    }

    #[test]
    fn a_missing_or_empty_token_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let identity = WebIdentity {
            token_file: dir.path().join("token"),
            role_arn: "arn:aws:iam::123456789012:role/deployer".to_owned(),
            session_name: "s".to_owned(),
        };
        let err = identity.read_token().unwrap_err();
        assert!(matches!(err, CredentialsError::TokenFile { .. }), "{err:?}");
        assert!(err.to_string().contains(&dir.path().join("token").display().to_string()), "{err}");
        std::fs::write(&identity.token_file, " \n").unwrap();
        let err = identity.read_token().unwrap_err();
        assert!(matches!(err, CredentialsError::EmptyToken { .. }), "{err:?}");
        std::fs::write(&identity.token_file, "eyJ.payload.sig\n").unwrap();
        assert_eq!(identity.read_token().unwrap().expose(), "eyJ.payload.sig");
    }
}
