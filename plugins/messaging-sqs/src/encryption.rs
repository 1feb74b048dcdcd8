//! Server-side encryption of every queue: SSE-SQS (keys SQS owns) unless
//! the operator names a KMS key, then SSE-KMS with that key.
//!
//! There is no input to turn encryption off: SQS encrypts new queues with
//! SSE-SQS itself, it costs nothing, and an unencrypted queue is what the
//! security reviews this platform passes flag first.

use std::collections::BTreeMap;

use capstan_sdk::prelude::*;

/// SQS's own default for `KmsDataKeyReusePeriodSeconds`.
pub const DEFAULT_DATA_KEY_REUSE_SECONDS: u32 = 300;
/// SetQueueAttributes' bounds for `KmsDataKeyReusePeriodSeconds`.
const DATA_KEY_REUSE_SECONDS: std::ops::RangeInclusive<u32> = 60..=86_400;

/// The encryption attributes of a queue. Both modes send every attribute
/// that tells them apart, so switching from one to the other converges: a
/// KMS key removed from HCL is cleared (`KmsMasterKeyId` = "") and SSE-SQS
/// switched back on, in the same call.
pub fn attributes(kms_key_id: Option<&str>, reuse_seconds: Option<u32>) -> BTreeMap<&'static str, String> {
    match kms_key_id {
        Some(key) => BTreeMap::from([
            ("KmsMasterKeyId", key.to_owned()),
            (
                "KmsDataKeyReusePeriodSeconds",
                reuse_seconds.unwrap_or(DEFAULT_DATA_KEY_REUSE_SECONDS).to_string(),
            ),
            // The two modes exclude each other: SQS refuses both at once.
            ("SqsManagedSseEnabled", "false".to_owned()),
        ]),
        None => {
            BTreeMap::from([("KmsMasterKeyId", String::new()), ("SqsManagedSseEnabled", "true".to_owned())])
        }
    }
}

/// Problems with `kms_key_id` and `kms_data_key_reuse_seconds`.
pub fn validate(out: &mut Vec<Diagnostic>, kms_key_id: Option<&str>, reuse_seconds: Option<u32>) {
    if let Some(key) = kms_key_id
        && !is_kms_key_reference(key)
    {
        out.push(Diagnostic::error(
            "/kms_key_id",
            format!(
                "`{key}` is not a KMS key reference: give a key id (1234abcd-…, mrk-…), a key or alias \
                 ARN (arn:aws:kms:…), or an alias (alias/…)"
            ),
        ));
    }
    if let Some(s) = reuse_seconds {
        if kms_key_id.is_none() {
            out.push(Diagnostic::error(
                "/kms_data_key_reuse_seconds",
                "applies to SSE-KMS only: set kms_key_id as well, or remove it",
            ));
        } else if !DATA_KEY_REUSE_SECONDS.contains(&s) {
            out.push(Diagnostic::error(
                "/kms_data_key_reuse_seconds",
                format!(
                    "SQS reuses a data key for {} to {} seconds",
                    DATA_KEY_REUSE_SECONDS.start(),
                    DATA_KEY_REUSE_SECONDS.end()
                ),
            ));
        }
    }
}

/// The forms SQS accepts for `KmsMasterKeyId`: a key id, a multi-region key
/// id, a key or alias ARN, or an alias name.
fn is_kms_key_reference(key: &str) -> bool {
    if let Some(alias) = key.strip_prefix("alias/") {
        return !alias.is_empty()
            && alias.len() <= 250
            && alias.chars().all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c));
    }
    if key.starts_with("arn:") {
        let parts: Vec<&str> = key.splitn(6, ':').collect();
        return parts.len() == 6
            && parts[2] == "kms"
            && !parts[3].is_empty()
            && parts[4].len() == 12
            && (parts[5].starts_with("key/") || parts[5].starts_with("alias/"))
            && !key.chars().any(char::is_whitespace);
    }
    let id = key.strip_prefix("mrk-").unwrap_or(key);
    let hex = |s: &str| s.chars().all(|c| c.is_ascii_hexdigit());
    if key.starts_with("mrk-") {
        return id.len() == 32 && hex(id);
    }
    // A UUID: 8-4-4-4-12 hex digits.
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]) && groups.iter().all(|g| hex(g))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_references_in_every_form_sqs_takes() {
        for ok in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/aws/sqs",
            "alias/opus-queues",
            "arn:aws:kms:sa-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:sa-east-1:123456789012:alias/opus-queues",
        ] {
            assert!(is_kms_key_reference(ok), "{ok}");
        }
        for bad in ["", "alias/", "my key", "1234", "arn:aws:s3:::bucket", "arn:aws:kms:sa-east-1:1:key/x"] {
            assert!(!is_kms_key_reference(bad), "{bad}");
        }
    }
}
