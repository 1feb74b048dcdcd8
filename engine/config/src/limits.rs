//! `plugin_limits "publisher/name" { memory = "128MiB" timeout = "5s"
//! output = "16MiB" }` in client.hcl: one plugin's own sandbox limits,
//! each attribute replacing the host's default for that plugin only.

use std::time::Duration;

use hcl_edit::structure::Block;
use serde::Serialize;
use serde_json::Value;

use crate::diag::ConfigError;
use crate::duration::parse_duration;
use crate::eval::{EvalError, Map, span_of};

/// A plugin's own limits; `None` keeps the host's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PluginLimits {
    /// Linear memory of one call, in bytes.
    pub memory: Option<u64>,
    /// Wall-clock time of one call.
    pub timeout: Option<Duration>,
    /// Bytes one call may hand back to the host.
    pub output: Option<u64>,
}

/// Reads one `plugin_limits` block's evaluated attributes.
pub(crate) fn plugin_limits(block: &Block, attrs: &Map) -> Result<PluginLimits, EvalError> {
    let at = |error: ConfigError| EvalError::new(error, span_of(&block.ident));
    let bad_value =
        |key: &str, reason: String| at(ConfigError::SettingValue { attribute: key.to_owned(), reason });
    let mut limits = PluginLimits::default();
    for (key, value) in attrs {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(at(ConfigError::SettingShape {
                    attribute: key.clone(),
                    expected: "a size or a duration, as a string".to_owned(),
                }));
            }
        };
        match key.as_str() {
            "memory" => limits.memory = Some(parse_size(&text).map_err(|e| bad_value(key, e))?),
            "output" => limits.output = Some(parse_size(&text).map_err(|e| bad_value(key, e))?),
            "timeout" => {
                limits.timeout = Some(parse_duration(&text).map_err(|e| bad_value(key, e.to_string()))?)
            }
            other => {
                return Err(at(ConfigError::UnknownAttribute {
                    attribute: other.to_owned(),
                    block: "plugin_limits".to_owned(),
                    expected: "memory, timeout, output".to_owned(),
                }));
            }
        }
    }
    Ok(limits)
}

/// `8MiB`, `512KiB`, `1GiB` or a number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a size (try 512KiB, 16MiB or 1GiB)"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("{text:?} has an unknown unit {other:?}: use KiB, MiB or GiB")),
    };
    n.checked_mul(scale).filter(|&bytes| bytes > 0).ok_or_else(|| format!("{text:?} is not a usable size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_operators_write_them() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("8MB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
    }
}
