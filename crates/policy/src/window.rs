//! Budget windows (total / month / week / day / hour), calendar-aligned in a configured
//! time zone: the start of the window containing an instant and the next reset, with DST
//! gaps and overlaps resolved (a missing local midnight starts the window at the first
//! instant that exists; a repeated local hour belongs to one window).

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How long a budget's spend accumulates before it resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    /// Never resets.
    Total,
    /// Calendar month (resets on the 1st at 00:00 local time).
    Month,
    /// ISO week (resets Monday 00:00 local time).
    Week,
    /// Calendar day (resets at local midnight).
    Day,
    /// Clock hour (resets at hh:00 local time).
    Hour,
}

impl Window {
    /// Parses `total|month|week|day|hour`.
    pub fn parse(s: &str) -> Option<Window> {
        match s.trim().to_ascii_lowercase().as_str() {
            "total" => Some(Window::Total),
            "month" => Some(Window::Month),
            "week" => Some(Window::Week),
            "day" => Some(Window::Day),
            "hour" => Some(Window::Hour),
            _ => None,
        }
    }

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Total => "total",
            Window::Month => "month",
            Window::Week => "week",
            Window::Day => "day",
            Window::Hour => "hour",
        }
    }
}

/// The window containing an instant: `[start_ms, end_ms)`; `end_ms == i64::MAX` for
/// `Total` (never resets), whose start is `i64::MIN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowBounds {
    /// First millisecond of the window (UTC epoch ms).
    pub start_ms: i64,
    /// First millisecond of the next window (the reset instant).
    pub end_ms: i64,
}

impl WindowBounds {
    /// The bounds of the never-resetting window.
    pub const TOTAL: WindowBounds = WindowBounds {
        start_ms: i64::MIN,
        end_ms: i64::MAX,
    };

    /// True when `now_ms` lies inside.
    pub fn contains(&self, now_ms: i64) -> bool {
        self.start_ms <= now_ms && now_ms < self.end_ms
    }
}

/// The window of kind `w` containing `now_ms`, calendar-aligned in `tz`.
pub fn bounds(w: Window, tz: Tz, now_ms: i64) -> WindowBounds {
    if w == Window::Total {
        return WindowBounds::TOTAL;
    }
    let now = Utc
        .timestamp_millis_opt(now_ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let local = now.with_timezone(&tz).naive_local();
    let (start_local, next_local) = local_bounds(w, local);
    let start = resolve(tz, start_local).unwrap_or(now_ms);
    let end = resolve(tz, next_local).unwrap_or(i64::MAX);
    // A DST gap can push a resolved start past `now`; the window then began at the
    // previous boundary's resolution, which is never later than now.
    WindowBounds {
        start_ms: start.min(now_ms),
        end_ms: end.max(now_ms.saturating_add(1)),
    }
}

/// The local (wall-clock) start of the window and of the next one.
fn local_bounds(w: Window, local: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime) {
    let date = local.date();
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or(local);
    match w {
        Window::Hour => {
            let start = date.and_hms_opt(local.hour(), 0, 0).unwrap_or(local);
            (start, start + Duration::hours(1))
        }
        Window::Day => (midnight(date), midnight(date) + Duration::days(1)),
        Window::Week => {
            let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
            (midnight(monday), midnight(monday) + Duration::days(7))
        }
        Window::Month => {
            let first = NaiveDate::from_ymd_opt(date.year(), date.month(), 1).unwrap_or(date);
            let next = if date.month() == 12 {
                NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
            }
            .unwrap_or(date);
            (midnight(first), midnight(next))
        }
        Window::Total => (local, local),
    }
}

/// The first real instant at or after a local wall-clock time (earliest of an ambiguous
/// pair; the end of the gap for a time that a DST jump skipped).
fn resolve(tz: Tz, local: NaiveDateTime) -> Option<i64> {
    let mut t = local;
    // Gaps are at most a few hours; step in 15-minute increments.
    for _ in 0..(4 * 24) {
        match tz.from_local_datetime(&t) {
            LocalResult::Single(d) => return Some(d.timestamp_millis()),
            LocalResult::Ambiguous(a, b) => return Some(a.min(b).timestamp_millis()),
            LocalResult::None => t += Duration::minutes(15),
        }
    }
    None
}

/// Formats epoch ms as RFC 3339 UTC (`None` for the never-resetting end).
pub fn rfc3339(ms: i64) -> Option<String> {
    if ms == i64::MAX || ms == i64::MIN {
        return None;
    }
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn day_in_new_york_resets_at_local_midnight() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 2026-03-10 03:00Z is 23:00 on the 9th in New York (EDT, -4).
        let b = bounds(Window::Day, tz, ms("2026-03-10T03:00:00Z"));
        assert_eq!(rfc3339(b.start_ms).unwrap(), "2026-03-09T04:00:00Z");
        assert_eq!(rfc3339(b.end_ms).unwrap(), "2026-03-10T04:00:00Z");
    }

    #[test]
    fn dst_spring_forward_day_is_23_hours() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 2026-03-08 is the spring-forward day (02:00 EST -> 03:00 EDT).
        let b = bounds(Window::Day, tz, ms("2026-03-08T12:00:00Z"));
        assert_eq!(rfc3339(b.start_ms).unwrap(), "2026-03-08T05:00:00Z");
        assert_eq!(rfc3339(b.end_ms).unwrap(), "2026-03-09T04:00:00Z");
        assert_eq!(b.end_ms - b.start_ms, 23 * 3_600_000);
    }

    #[test]
    fn month_and_week_and_hour() {
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        let b = bounds(Window::Month, tz, ms("2026-01-31T20:00:00Z")); // Feb 1 01:30 IST
        assert_eq!(rfc3339(b.start_ms).unwrap(), "2026-01-31T18:30:00Z");
        assert_eq!(rfc3339(b.end_ms).unwrap(), "2026-02-28T18:30:00Z");
        let h = bounds(Window::Hour, tz, ms("2026-01-31T20:10:00Z"));
        assert_eq!(rfc3339(h.start_ms).unwrap(), "2026-01-31T19:30:00Z");
        let utc: Tz = "UTC".parse().unwrap();
        let w = bounds(Window::Week, utc, ms("2026-11-26T10:00:00Z")); // a Thursday
        assert_eq!(rfc3339(w.start_ms).unwrap(), "2026-11-23T00:00:00Z");
        assert_eq!(rfc3339(w.end_ms).unwrap(), "2026-11-30T00:00:00Z");
        assert_eq!(bounds(Window::Total, utc, 5), WindowBounds::TOTAL);
    }

    #[test]
    fn midnight_gap_starts_at_first_existing_instant() {
        // America/Santiago skips 00:00 -> 01:00 on 2026-09-06.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let b = bounds(Window::Day, tz, ms("2026-09-06T15:00:00Z"));
        assert_eq!(rfc3339(b.start_ms).unwrap(), "2026-09-06T04:00:00Z");
        assert!(b.contains(ms("2026-09-06T15:00:00Z")));
    }
}
