//! The queue attributes Capstan owns, each always sent.
//!
//! Effects run again only when what they declare changes (the engine
//! compares digests), and SetQueueAttributes only touches the attributes it
//! names. So an attribute declared only when HCL sets it would stay on the
//! queue after the setting is removed from HCL: the call that should clear
//! it would not name it. Every attribute an input governs is therefore
//! declared on every plan — the input's value, or SQS's default when the
//! input is unset, or the empty string for the policies SQS clears that way —
//! and removing a setting changes the effect, which runs and puts the queue
//! back to the default.

use std::collections::BTreeMap;

/// SQS's default `MessageRetentionPeriod`: four days.
pub const DEFAULT_RETENTION_SECONDS: u64 = 4 * 24 * 3600;
/// SQS's default `VisibilityTimeout`.
pub const DEFAULT_VISIBILITY_SECONDS: u32 = 30;

/// The attributes of one queue that HCL governs.
#[derive(Debug, Default)]
pub struct Settings {
    /// `MessageRetentionPeriod`, in seconds.
    pub retention_seconds: Option<u64>,
    /// `VisibilityTimeout`, in seconds.
    pub visibility_timeout_seconds: Option<u32>,
    /// The `RedrivePolicy` document, when the queue has a dead-letter queue.
    pub redrive_policy: Option<String>,
}

impl Settings {
    /// Every attribute, unset ones at SQS's default or cleared.
    pub fn attributes(&self) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            (
                "MessageRetentionPeriod",
                self.retention_seconds.unwrap_or(DEFAULT_RETENTION_SECONDS).to_string(),
            ),
            (
                "VisibilityTimeout",
                self.visibility_timeout_seconds.unwrap_or(DEFAULT_VISIBILITY_SECONDS).to_string(),
            ),
            // An empty RedrivePolicy removes the dead-letter queue from the queue.
            ("RedrivePolicy", self.redrive_policy.clone().unwrap_or_default()),
        ])
    }
}

/// `SetQueueAttributes <name> (set, …; clears …)`, for the plan.
pub fn summary(physical: &str, attributes: &BTreeMap<&'static str, String>) -> String {
    let (cleared, set): (Vec<_>, Vec<_>) = attributes.iter().partition(|(_, v)| v.is_empty());
    let names =
        |list: Vec<(&&str, &String)>| list.into_iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ");
    if cleared.is_empty() {
        format!("SetQueueAttributes {physical} ({})", names(set))
    } else {
        format!("SetQueueAttributes {physical} ({}; clears {})", names(set), names(cleared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_settings_are_declared_at_their_defaults_not_left_out() {
        let attrs = Settings::default().attributes();
        assert_eq!(attrs["MessageRetentionPeriod"], "345600");
        assert_eq!(attrs["VisibilityTimeout"], "30");
        assert_eq!(attrs["RedrivePolicy"], "");
        assert_eq!(
            summary("q", &attrs),
            "SetQueueAttributes q (MessageRetentionPeriod, VisibilityTimeout; clears RedrivePolicy)"
        );
    }
}
