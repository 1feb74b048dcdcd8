//! The cloud-API (HTTP) effects driver: runs the `EffectKind::Http` calls a
//! plugin declares against the AWS service its target names, signed with
//! AWS Signature Version 4 by the engine.
//!
//! A plugin names a service (`target = "aws:sqs"`, granted as
//! `http:aws:sqs`) and says which call to make (method, path, the
//! `X-Amz-Target` and `Content-Type` headers, a JSON body). It never sees
//! credentials, the region or the endpoint: [`HttpExecutor`] finds them in an
//! `aws` connection block of the operator's configuration
//! ([`AwsConnection`]) and in the usual AWS environment variables (including
//! a web identity, as in EKS pods and CI OIDC jobs) and profile files
//! (`capstan_aws::settings`), signs the request and sends it. The
//! response body is the effect's result, handed back to the plugin (a queue
//! URL, a WebACL ARN).
//!
//! Deny by default: only the services in `services.rs` are reachable, a call
//! may only use its own service's API, and a plugin cannot set the headers
//! that carry identity (`Authorization`, `X-Amz-Security-Token`, `Host`, …).
//! A create call that AWS refuses because the resource already exists is
//! answered with the existing resource where the API allows it (see
//! `adopt.rs`), so applying the same effects twice changes nothing; an
//! existing WAFv2 WebACL is first brought to the create call's body, read
//! and written back with its lock token (`converge.rs`), so an edit reaches
//! AWS. Errors
//! name the effect, the service and the AWS error code and message, never
//! credentials or signed headers.
//!
//! SigV4, the AWS settings chain, the clock and the TLS client are
//! `capstan-aws`'s, shared with `capstan-secrets`; this crate adds what is
//! particular to effects: the `aws` connection block, which services a
//! plugin may call, the checks on a declared call, the adoption of
//! existing resources and the convergence of an existing WebACL.
//!
//! It does not decide whether an effect needs to run (the planner compares
//! effect digests in state), does not read the process environment itself
//! (callers pass an [`EnvVars`]), and does not support SSO, assume-role
//! profiles, `credential_process` or instance-metadata credentials.

#![warn(missing_docs)]

mod adopt;
mod connection;
mod converge;
mod error;
mod executor;
mod services;

pub use capstan_aws::EnvVars;
#[cfg(feature = "moto")]
pub mod testing;
pub use connection::{AwsConnection, CONNECTION_NAME, CONNECTION_TYPE};
pub use error::HttpError;
pub use executor::{DEFAULT_TIMEOUT, HttpExecutor};
