//! Timestamps for state and locks: RFC 3339, UTC, whole seconds.

use std::time::SystemTime;

/// Now, as `2026-11-23T18:32:12Z`.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
