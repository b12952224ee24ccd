//! Parsing the time arguments users type: relative durations (`90s`, `30m`, `24h`, `7d`,
//! `2w`, meaning "that long ago"), `now`, dates (`2026-12-31`, UTC midnight) and RFC 3339.

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::LedgerError;

/// Parses a duration like `24h` into milliseconds.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = t.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Parses an instant: `now`, a duration ago (`24h`), a date (`2026-12-31`) or RFC 3339.
pub fn parse_instant(text: &str, now_ms: i64) -> Result<i64, LedgerError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now_ms);
    }
    if let Some(d) = parse_duration_ms(t) {
        return Ok(now_ms.saturating_sub(d));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_millis());
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(dt.and_utc().timestamp_millis());
        }
    }
    Err(LedgerError::Invalid(format!(
        "'{t}' is not a time; write a duration ago (90s, 30m, 24h, 7d, 2w), 'now', a date (2026-12-31) or RFC 3339 (2026-12-31T23:59:00Z)"
    )))
}

/// Parses a date or RFC 3339 instant (for expiries).
pub fn parse_date(text: &str) -> Result<DateTime<Utc>, LedgerError> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
        .ok_or_else(|| {
            LedgerError::Invalid(format!(
                "'{t}' is not a date; write 2026-12-31 or 2026-12-31T23:59:00Z"
            ))
        })
}

/// Formats ms since epoch as RFC 3339 (UTC, seconds).
pub fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        let now = 10 * 86_400_000;
        assert_eq!(parse_instant("24h", now).unwrap(), 9 * 86_400_000);
        assert_eq!(parse_instant("7d", now).unwrap(), 3 * 86_400_000);
        assert_eq!(parse_instant("now", now).unwrap(), now);
        assert_eq!(parse_instant("1970-01-02", now).unwrap(), 86_400_000);
        assert_eq!(parse_instant("1970-01-01T00:01:00Z", now).unwrap(), 60_000);
        assert!(parse_instant("yesterday", now).is_err());
        assert!(parse_instant("5y", now).is_err());
        assert!(parse_date("2026-13-01").is_err());
        assert_eq!(format_ms(86_400_000), "1970-01-02T00:00:00Z");
    }
}
