//! The AWS services the engine calls, with what signing, endpoints and the
//! JSON APIs need to know of each. Which of them a caller may reach is the
//! caller's policy (see `capstan-http`'s list of effect services).

/// One AWS service the engine knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    /// The name in effect targets (`aws:sqs`), also the SigV4 signing name
    /// and the endpoint prefix (`https://sqs.<region>.amazonaws.com`).
    pub name: &'static str,
    /// The service's part of `AWS_ENDPOINT_URL_<SUFFIX>`, as the AWS SDKs
    /// spell it (the service id, upper case, spaces as `_`).
    pub env_suffix: &'static str,
    /// What every `X-Amz-Target` of this service's JSON API starts with.
    pub target_prefix: &'static str,
}

/// Simple Queue Service.
pub const SQS: Service = Service { name: "sqs", env_suffix: "SQS", target_prefix: "AmazonSQS." };
/// Web Application Firewall v2.
pub const WAFV2: Service = Service { name: "wafv2", env_suffix: "WAFV2", target_prefix: "AWSWAF_20190729." };
/// Systems Manager (Parameter Store).
pub const SSM: Service = Service { name: "ssm", env_suffix: "SSM", target_prefix: "AmazonSSM." };
/// Secrets Manager.
pub const SECRETS_MANAGER: Service =
    Service { name: "secretsmanager", env_suffix: "SECRETS_MANAGER", target_prefix: "secretsmanager." };
