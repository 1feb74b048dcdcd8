//! The AWS services an HTTP effect may call, by the name its target uses
//! (`aws:<name>`). Anything else is refused: a grant of `http:aws:sqs` must
//! not reach another API through a shared endpoint.

pub(crate) use capstan_aws::Service;
pub(crate) use capstan_aws::services::{SQS, WAFV2};

/// The services plugins may call. SSM and Secrets Manager are read by
/// capstan-secrets only: no plugin writes secrets through an effect.
pub(crate) const EFFECT_SERVICES: &[Service] = &[SQS, WAFV2];

/// The service an effect target names (`aws:sqs` → SQS), or why not.
pub(crate) fn for_target(target: &str) -> Result<Service, String> {
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
