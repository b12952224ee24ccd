//! How long an upstream asked us to wait, from its error response's headers:
//! `retry-after-ms` (milliseconds; OpenAI and Azure send it, it wins when both are present as
//! the more precise), else `Retry-After` as delta-seconds or as an HTTP-date (RFC 9110
//! §10.2.3: IMF-fixdate, and the obsolete RFC 850 and asctime forms). A date in the past
//! means no wait; an unreadable value is ignored (the router's own backoff applies).

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use http::HeaderMap;

/// The wait an upstream asked for, judged against `now` (for HTTP-dates).
pub fn from_headers(h: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    if let Some(d) = text("retry-after-ms").and_then(parse_millis) {
        return Some(d);
    }
    text(http::header::RETRY_AFTER.as_str()).and_then(|v| parse(v, now))
}

/// `Retry-After`: delta-seconds or an HTTP-date.
pub fn parse(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate rather than being ignored.
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = http_date(v)?;
    let wait = at.signed_duration_since(now);
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// `retry-after-ms`: milliseconds, an integer or a decimal (fractions of a ms round up).
pub fn parse_millis(value: &str) -> Option<Duration> {
    let v = value.trim();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ms = int.parse::<u64>().unwrap_or(u64::MAX);
    let up = u64::from(frac.bytes().any(|b| b != b'0'));
    Some(Duration::from_millis(ms.saturating_add(up)))
}

/// An HTTP-date in any of the three forms RFC 9110 requires recipients to accept.
fn http_date(v: &str) -> Option<DateTime<Utc>> {
    // IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT".
    if let Ok(d) = NaiveDateTime::parse_from_str(v, "%a, %d %b %Y %H:%M:%S GMT") {
        return Some(d.and_utc());
    }
    // RFC 850, "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years: 70..99 → 19xx).
    if let Ok(d) = NaiveDateTime::parse_from_str(v, "%A, %d-%b-%y %H:%M:%S GMT") {
        return Some(d.and_utc());
    }
    // asctime, "Sun Nov  6 08:49:37 1994".
    let squeezed = v.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Ok(d) = NaiveDateTime::parse_from_str(&squeezed, "%a %b %e %H:%M:%S %Y") {
        return Some(d.and_utc());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        // 1994-11-06 08:49:00 UTC
        match NaiveDateTime::parse_from_str("1994-11-06 08:49:00", "%Y-%m-%d %H:%M:%S") {
            Ok(d) => d.and_utc(),
            Err(e) => panic!("{e}"),
        }
    }

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn delta_seconds() {
        assert_eq!(parse("120", now()), secs(120));
        assert_eq!(parse(" 0 ", now()), secs(0));
        assert_eq!(parse("99999999999999999999999", now()), secs(u64::MAX));
        assert_eq!(parse("-5", now()), None);
        assert_eq!(parse("1.5", now()), None);
        assert_eq!(parse("", now()), None);
        assert_eq!(parse("soon", now()), None);
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 GMT", now()), secs(37));
        assert_eq!(parse("Sunday, 06-Nov-94 08:49:37 GMT", now()), secs(37));
        assert_eq!(parse("Sun Nov  6 08:49:37 1994", now()), secs(37));
        assert_eq!(parse("Sun, 06 Nov 1994 09:49:00 GMT", now()), secs(3600));
    }

    #[test]
    fn a_past_date_means_no_wait_and_a_bad_one_is_ignored() {
        assert_eq!(
            parse("Sat, 05 Nov 1994 08:49:37 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse("Sun, 06 Nov 1994 08:49:37 PST", now()), None);
        assert_eq!(parse("Sun, 32 Nov 1994 08:49:37 GMT", now()), None);
    }

    #[test]
    fn milliseconds() {
        assert_eq!(parse_millis("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_millis("20.000"), Some(Duration::from_millis(20)));
        assert_eq!(parse_millis("20.4"), Some(Duration::from_millis(21)));
        assert_eq!(parse_millis("-1"), None);
        assert_eq!(parse_millis("1e3"), None);
        assert_eq!(parse_millis(".5"), None);
    }

    #[test]
    fn headers_prefer_milliseconds() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", http::HeaderValue::from_static("3"));
        assert_eq!(from_headers(&h, now()), secs(3));
        h.insert("retry-after-ms", http::HeaderValue::from_static("250"));
        assert_eq!(from_headers(&h, now()), Some(Duration::from_millis(250)));
        h.insert("retry-after-ms", http::HeaderValue::from_static("bogus"));
        assert_eq!(
            from_headers(&h, now()),
            secs(3),
            "a bad ms value falls back"
        );
        let mut h = HeaderMap::new();
        h.insert(
            "retry-after",
            http::HeaderValue::from_static("Sun, 06 Nov 1994 08:50:00 GMT"),
        );
        assert_eq!(from_headers(&h, now()), secs(60));
        assert_eq!(from_headers(&HeaderMap::new(), now()), None);
    }
}
