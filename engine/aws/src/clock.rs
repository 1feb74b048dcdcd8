//! UTC wall-clock time, formatted the ways Capstan needs (SigV4 dates,
//! RFC 3339 timestamps in capstan-secrets' identity files), without a
//! date-time dependency.

/// A UTC calendar date and time of day, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcTime {
    /// The year (proleptic Gregorian).
    pub year: i64,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    /// 0–23.
    pub hour: u32,
    /// 0–59.
    pub minute: u32,
    /// 0–59 (no leap seconds: Unix time has none).
    pub second: u32,
}

impl UtcTime {
    /// The system clock's time (the epoch if the clock is before it).
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self::from_unix(secs)
    }

    /// The time `secs` seconds after 1970-01-01T00:00:00Z.
    pub fn from_unix(secs: u64) -> Self {
        let (days, rem) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days as i64);
        Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: ((rem % 3600) / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// `2026-11-23T18:00:00Z`
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `20261123T180000Z` (SigV4 `x-amz-date`)
    pub fn amz_datetime(&self) -> String {
        format!("{}T{:02}{:02}{:02}Z", self.amz_date(), self.hour, self.minute, self.second)
    }

    /// `20261123` (SigV4 credential scope)
    pub fn amz_date(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = UtcTime::from_unix(0);
        assert_eq!(t.rfc3339(), "1970-01-01T00:00:00Z");
        // 2015-08-30T12:36:00Z, the date of the AWS SigV4 test suite.
        let t = UtcTime::from_unix(1_440_938_160);
        assert_eq!(t.amz_datetime(), "20150830T123600Z");
        assert_eq!(UtcTime::from_unix(1_709_164_800).rfc3339(), "2024-02-29T00:00:00Z");
    }
}
