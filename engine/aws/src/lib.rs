//! How the engine talks to AWS, shared by the HTTP effects executor
//! (`capstan-http`: SQS, WAFv2 calls plugins declare) and the secret sources
//! (`capstan-secrets`: SSM Parameter Store, Secrets Manager):
//! - [`sigv4`]: AWS Signature Version 4 header signing;
//! - [`settings`]: credentials, region and endpoints from the `AWS_*`
//!   environment variables and the shared profile files, in the AWS tools'
//!   order of precedence, read from an [`EnvVars`] snapshot;
//! - [`web_identity`]: a platform's token (EKS, CI OIDC) exchanged through
//!   STS `AssumeRoleWithWebIdentity` for temporary credentials, the wire
//!   format in `sts.rs`;
//! - [`CredentialsError`]: why the credentials chain found none;
//! - [`services`]: the AWS services the engine knows (signing name,
//!   endpoint variable, JSON API target prefix);
//! - [`transport`]: the TLS client (rustls with `ring`), one signed request
//!   sent, and AWS error bodies read;
//! - [`clock`]: UTC time without a date-time dependency;
//! - `testing` (feature `moto`): a real `moto_server` for tests.
//!
//! It does not decide which service a caller may reach (the HTTP executor
//! allows plugins SQS and WAFv2 only), does not read the process environment
//! itself (callers pass an [`EnvVars`]), and does not support SSO,
//! assume-role profiles, `credential_process` or instance-metadata
//! credentials.

pub mod clock;
mod env;
mod error;
pub mod services;
pub mod settings;
pub mod sigv4;
mod sts;
pub mod transport;
pub mod web_identity;

#[cfg(feature = "moto")]
pub mod testing;

pub use env::EnvVars;
pub use error::CredentialsError;
pub use services::Service;
pub use settings::AwsCredentials;
