//! The AWS services an HTTP effect may call, by the name its target uses
//! (`aws:<name>`). Anything else is refused: a grant of `http:aws:sqs` must
//! not reach another API through a shared endpoint.

/// One AWS service the driver knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Service {
    /// The name in targets (`aws:sqs`), also the SigV4 signing name and the
    /// endpoint prefix (`https://sqs.<region>.amazonaws.com`).
    pub name: &'static str,
    /// The service's part of `AWS_ENDPOINT_URL_<SUFFIX>`, as the AWS SDKs
    /// spell it (the service id, upper case, spaces as `_`).
    pub env_suffix: &'static str,
    /// What every `X-Amz-Target` of this service's JSON API starts with.
    pub target_prefix: &'static str,
}

pub const SQS: Service = Service { name: "sqs", env_suffix: "SQS", target_prefix: "AmazonSQS." };
pub const WAFV2: Service = Service { name: "wafv2", env_suffix: "WAFV2", target_prefix: "AWSWAF_20190729." };
pub const SSM: Service = Service { name: "ssm", env_suffix: "SSM", target_prefix: "AmazonSSM." };
pub const SECRETS_MANAGER: Service =
    Service { name: "secretsmanager", env_suffix: "SECRETS_MANAGER", target_prefix: "secretsmanager." };

/// The services plugins may call. SSM and Secrets Manager are read by
/// capstan-secrets only: no plugin writes secrets through an effect.
pub const EFFECT_SERVICES: &[Service] = &[SQS, WAFV2];

/// The service an effect target names (`aws:sqs` → SQS), or why not.
pub fn for_target(target: &str) -> Result<Service, String> {
    let Some(name) = target.strip_prefix("aws:") else {
        return Err("HTTP effects run on an AWS service named `aws:<service>`, such as `aws:sqs`".to_owned());
    };
    EFFECT_SERVICES.iter().copied().find(|s| s.name == name).ok_or_else(|| {
        let known: Vec<String> = EFFECT_SERVICES.iter().map(|s| format!("aws:{}", s.name)).collect();
        format!("this engine does not call AWS service `{name}` (it knows {})", known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_known_services_only() {
        assert_eq!(for_target("aws:sqs"), Ok(SQS));
        assert_eq!(for_target("aws:wafv2"), Ok(WAFV2));
        assert!(for_target("aws:ssm").unwrap_err().contains("aws:sqs, aws:wafv2"));
        assert!(for_target("sqs").unwrap_err().contains("aws:<service>"));
    }
}
