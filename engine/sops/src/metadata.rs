//! The `sops:` block: who can open the data key, when the document was
//! written, its MAC, its crypt rule and the format version.
//!
//! Writing lays the block out as SOPS 3.11 does (`age`, `lastmodified`,
//! `mac`, `encrypted_regex`, `version`; the data key per recipient as an
//! armored age file in a literal block). Reading accepts what SOPS accepts
//! for age documents and refuses, by name, the features Capstan does not
//! read (key groups, Shamir thresholds, comment rules, MAC-only-encrypted).

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::SopsError;
use crate::cipher::DataKey;
use crate::tree::Rule;
use crate::yaml::scalar_text;

/// The SOPS release whose file layout this crate writes and whose binary
/// the tests decrypt with; written as the document's `version`.
pub const SOPS_FORMAT_VERSION: &str = "3.11.0";

/// Seals `key` to one recipient as SOPS does: an armored age file holding
/// the 32 raw key bytes.
pub(crate) fn seal_data_key(key: &DataKey, recipient: &age::x25519::Recipient) -> Result<String, SopsError> {
    let stanza = |reason: String| SopsError::BadStanza { recipient: recipient.to_string(), reason };
    let encryptor = age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))
        .map_err(|e| stanza(e.to_string()))?;
    let mut armored = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
        .map_err(|e| stanza(e.to_string()))?;
    let mut writer = encryptor.wrap_output(armor).map_err(|e| stanza(e.to_string()))?;
    writer.write_all(key.bytes()).map_err(|e| stanza(e.to_string()))?;
    writer.finish().and_then(|armor| armor.finish()).map_err(|e| stanza(e.to_string()))?;
    String::from_utf8(armored).map_err(|_| stanza("the armor is not text".to_owned()))
}

/// Appends the `sops:` block. `stanzas` pairs each recipient with its
/// sealed data key, in the order given.
pub(crate) fn write_block(
    out: &mut String,
    stanzas: &[(String, String)],
    last_modified: &str,
    mac: &str,
    encrypted_regex: &str,
) {
    out.push_str("sops:\n    age:\n");
    for (recipient, armored) in stanzas {
        let _ = writeln!(out, "        - recipient: {}", scalar_text(recipient));
        // A literal block keeps the armor's lines; its content sits at the
        // column SOPS's YAML encoder puts it.
        out.push_str("          enc: |\n");
        for line in armored.lines() {
            let _ = writeln!(out, "            {line}");
        }
    }
    let _ = writeln!(out, "    lastmodified: {}", scalar_text(last_modified));
    let _ = writeln!(out, "    mac: {}", scalar_text(mac));
    let _ = writeln!(out, "    encrypted_regex: {}", scalar_text(encrypted_regex));
    let _ = writeln!(out, "    version: {}", scalar_text(SOPS_FORMAT_VERSION));
}

/// One age stanza as read from a document.
#[derive(Deserialize)]
pub(crate) struct AgeStanza {
    pub(crate) recipient: String,
    pub(crate) enc: String,
}

/// The `sops:` block as read. Other key services' lists (`kms`, `pgp`, …)
/// are ignored: this crate opens documents through age only.
#[derive(Deserialize)]
pub(crate) struct Block {
    #[serde(default)]
    pub(crate) age: Vec<AgeStanza>,
    pub(crate) lastmodified: String,
    pub(crate) mac: Option<String>,
    encrypted_regex: Option<String>,
    unencrypted_regex: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_suffix: Option<String>,
    encrypted_comment_regex: Option<String>,
    unencrypted_comment_regex: Option<String>,
    #[serde(default)]
    mac_only_encrypted: bool,
    #[serde(default)]
    shamir_threshold: u64,
    key_groups: Option<serde_norway::Value>,
}

impl Block {
    /// Reads the block from the `sops` key's YAML value.
    pub(crate) fn parse(value: serde_norway::Value) -> Result<Self, SopsError> {
        let block: Block = serde_norway::from_value(value)
            .map_err(|e| SopsError::NotSops { reason: format!("the `sops` block: {e}") })?;
        let unsupported = |feature: &str| Err(SopsError::Unsupported { feature: feature.to_owned() });
        if block.key_groups.as_ref().is_some_and(|g| !g.is_null()) {
            return unsupported("key_groups");
        }
        if block.shamir_threshold > 1 {
            return unsupported("shamir_threshold");
        }
        if block.mac_only_encrypted {
            return unsupported("mac_only_encrypted");
        }
        if block.encrypted_comment_regex.is_some() || block.unencrypted_comment_regex.is_some() {
            return unsupported("a comment crypt rule");
        }
        Ok(block)
    }

    /// The document's crypt rule: the one it names, or SOPS's default
    /// (`unencrypted_suffix: _unencrypted`) when it names none.
    pub(crate) fn rule(&self) -> Result<Rule, SopsError> {
        let regex = |re: &str| {
            regex::Regex::new(re).map_err(|_| SopsError::NotSops {
                reason: format!("the crypt rule `{re}` is not a regular expression"),
            })
        };
        let rules = [
            self.encrypted_regex.as_deref().map(|r| regex(r).map(Rule::EncryptedRegex)),
            self.unencrypted_regex.as_deref().map(|r| regex(r).map(Rule::UnencryptedRegex)),
            self.encrypted_suffix.clone().map(|s| Ok(Rule::EncryptedSuffix(s))),
            self.unencrypted_suffix.clone().map(|s| Ok(Rule::UnencryptedSuffix(s))),
        ];
        let mut named = rules.into_iter().flatten();
        match (named.next(), named.next()) {
            (None, _) => Ok(Rule::UnencryptedSuffix("_unencrypted".to_owned())),
            (Some(rule), None) => rule,
            (Some(_), Some(_)) => {
                Err(SopsError::NotSops { reason: "the document names more than one crypt rule".to_owned() })
            }
        }
    }

    /// The `encrypted_regex` the document was written with, if that is its rule.
    pub(crate) fn encrypted_regex(&self) -> Option<&str> {
        self.encrypted_regex.as_deref()
    }

    /// The data key, from the first stanza one of `identities` opens.
    pub(crate) fn open_data_key(&self, identities: &[age::x25519::Identity]) -> Result<DataKey, SopsError> {
        for stanza in &self.age {
            let bad = |reason: &str| SopsError::BadStanza {
                recipient: stanza.recipient.clone(),
                reason: reason.to_owned(),
            };
            let reader = age::armor::ArmoredReader::new(stanza.enc.as_bytes());
            let decryptor = age::Decryptor::new_buffered(reader).map_err(|_| bad("not an age file"))?;
            let mut plain = match decryptor.decrypt(identities.iter().map(|i| i as &dyn age::Identity)) {
                Ok(reader) => reader,
                Err(age::DecryptError::NoMatchingKeys) => continue,
                Err(_) => return Err(bad("its header does not decrypt")),
            };
            let mut bytes = Zeroizing::new(Vec::new());
            plain.read_to_end(&mut bytes).map_err(|_| bad("its payload does not decrypt"))?;
            return DataKey::from_slice(&bytes).ok_or_else(|| bad("it does not hold a 32-byte key"));
        }
        let recipients = if self.age.is_empty() {
            "no age recipient".to_owned()
        } else {
            self.age.iter().map(|s| s.recipient.as_str()).collect::<Vec<_>>().join(", ")
        };
        Err(SopsError::WrongIdentity { identities: identities.len(), recipients })
    }
}

/// `when` as RFC 3339 in UTC to the second (`2026-12-06T13:41:51Z`), as
/// SOPS writes `lastmodified`.
pub(crate) fn rfc3339_utc(when: std::time::SystemTime) -> String {
    let secs = when.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The proleptic Gregorian date `days` after 1970-01-01 (the well-known
/// era-based conversion: 400-year eras of 146,097 days, years from March).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_seconds() {
        assert_eq!(rfc3339_utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // 2026-12-06T13:41:51Z, and a leap day.
        assert_eq!(rfc3339_utc(UNIX_EPOCH + Duration::from_secs(1_796_564_511)), "2026-12-06T13:41:51Z");
        assert_eq!(rfc3339_utc(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
    }
}
