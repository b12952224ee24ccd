//! Periods for comparisons: `2026-11-01..2026-11-08` (end exclusive), `last-7d` (the 7 days
//! before now), `prev-7d` (the 7 days before that), also with `h`/`w` units. Times are UTC.

use jevons_ledger::window::{format_ms, parse_duration_ms, parse_instant};
use serde::Serialize;

use crate::reports::error::ReportError;

/// A half-open time window `[since_ms, until_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    /// Start (inclusive), ms.
    pub since_ms: i64,
    /// End (exclusive), ms.
    pub until_ms: i64,
}

impl Period {
    /// A checked window (start before end).
    pub fn new(since_ms: i64, until_ms: i64) -> Result<Period, ReportError> {
        if since_ms >= until_ms {
            return Err(ReportError::Invalid(format!(
                "the period starts ({}) at or after it ends ({}); put the earlier time first",
                format_ms(since_ms),
                format_ms(until_ms)
            )));
        }
        Ok(Period { since_ms, until_ms })
    }

    /// Length in ms.
    pub fn len_ms(&self) -> i64 {
        self.until_ms - self.since_ms
    }

    /// `start..end` in RFC 3339.
    pub fn label(&self) -> String {
        format!("{}..{}", format_ms(self.since_ms), format_ms(self.until_ms))
    }
}

/// Parses `A..B`, `last-Nd` or `prev-Nd` relative to `now_ms`.
pub fn parse_period(text: &str, now_ms: i64) -> Result<Period, ReportError> {
    let t = text.trim();
    if let Some((a, b)) = t.split_once("..") {
        let since = parse_instant(a, now_ms)?;
        let until = parse_instant(b, now_ms)?;
        return Period::new(since, until);
    }
    let rel = |rest: &str, k: i64| -> Result<Period, ReportError> {
        let d = parse_duration_ms(rest)
            .filter(|d| *d > 0)
            .ok_or_else(|| bad(t))?;
        Period::new(now_ms - (k + 1) * d, now_ms - k * d)
    };
    if let Some(rest) = t.strip_prefix("last-") {
        return rel(rest, 0);
    }
    if let Some(rest) = t.strip_prefix("prev-") {
        return rel(rest, 1);
    }
    Err(bad(t))
}

fn bad(t: &str) -> ReportError {
    ReportError::Invalid(format!(
        "'{t}' is not a period; write START..END (2026-11-01..2026-11-08, end exclusive), last-7d or prev-7d"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let day = 86_400_000;
        let now = 100 * day;
        assert_eq!(
            parse_period("last-7d", now).unwrap(),
            Period {
                since_ms: 93 * day,
                until_ms: now
            }
        );
        assert_eq!(
            parse_period("prev-7d", now).unwrap(),
            Period {
                since_ms: 86 * day,
                until_ms: 93 * day
            }
        );
        let p = parse_period("1970-01-02..1970-01-04", now).unwrap();
        assert_eq!((p.since_ms, p.until_ms), (day, 3 * day));
        assert!(parse_period("1970-01-04..1970-01-02", now)
            .unwrap_err()
            .to_string()
            .contains("earlier time first"));
        assert!(parse_period("last-x", now).is_err());
        assert!(parse_period("yesterday", now).is_err());
    }
}
