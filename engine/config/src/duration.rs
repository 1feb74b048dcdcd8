//! Durations as operators write them — `30s`, `10m`, `500ms`, `1.5h`, or a
//! bare number of seconds — for `ready_timeout` in component.hcl and the
//! CLI's duration flags, so both read the same way.

use std::time::Duration;

/// Why a text is not a duration; the message says what would be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The part before the unit is not a decimal number, e.g. `ten minutes` or `-5s`.
    #[error("{text:?} is not a duration (try 30s, 10m, 500ms or 1h)")]
    NotANumber {
        /// The text as given.
        text: String,
    },
    /// The number is followed by something other than `ms`, `s`, `m` or `h`.
    #[error("{text:?} has an unknown unit {unit:?}: use ms, s, m or h")]
    UnknownUnit {
        /// The text as given.
        text: String,
        /// What followed the number, e.g. `d`.
        unit: String,
    },
    /// The duration does not fit a [`Duration`].
    #[error("{text:?} is too long a duration")]
    TooLong {
        /// The text as given.
        text: String,
    },
}

/// Reads `30s`, `10m`, `500ms`, `1.5h` or a bare number of seconds;
/// surrounding spaces and a space before the unit are allowed.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    let (number, unit) = trimmed
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((trimmed, "s"), |i| trimmed.split_at(i));
    let n: f64 = number.parse().map_err(|_| DurationError::NotANumber { text: text.to_string() })?;
    let unit = unit.trim_start();
    let seconds = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(DurationError::UnknownUnit { text: text.to_string(), unit: unit.to_string() }),
    };
    // `number` holds only digits and dots, so it is never negative or NaN;
    // a huge one does not fit a Duration.
    Duration::try_from_secs_f64(seconds).map_err(|_| DurationError::TooLong { text: text.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration(" 45 "), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("2 m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn what_is_not_a_duration_says_what_would_be() {
        assert_eq!(
            parse_duration("ten minutes").unwrap_err().to_string(),
            "\"ten minutes\" is not a duration (try 30s, 10m, 500ms or 1h)"
        );
        assert_eq!(
            parse_duration("10 minutes").unwrap_err().to_string(),
            "\"10 minutes\" has an unknown unit \"minutes\": use ms, s, m or h"
        );
        assert_eq!(parse_duration("-5s").unwrap_err(), DurationError::NotANumber { text: "-5s".into() });
        assert_eq!(
            parse_duration("1.2.3s").unwrap_err(),
            DurationError::NotANumber { text: "1.2.3s".into() }
        );
        assert_eq!(
            parse_duration("99999999999999999999h").unwrap_err(),
            DurationError::TooLong { text: "99999999999999999999h".into() }
        );
    }
}
