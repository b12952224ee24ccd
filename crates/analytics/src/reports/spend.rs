//! Chargeback: spend by any attribution dimension, model and provider, optionally per hour,
//! day, ISO week (Monday, UTC) or calendar month (UTC). Weeks and months are summed from the
//! ledger's day buckets (day rows, or hour rows folded to days for per-user dimensions).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use jevons_ledger::{Dim, Granularity, Reader, SpendQuery, SpendRow, Totals};
use serde::Serialize;
use std::collections::BTreeMap;

use crate::reports::error::ReportError;
use crate::reports::period::Period;

/// Time buckets of the spend report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpendBucket {
    /// Minute (team, key and org only).
    Minute,
    /// Hour.
    Hour,
    /// UTC day.
    Day,
    /// ISO week starting Monday 00:00 UTC.
    Week,
    /// Calendar month (UTC).
    Month,
}

impl std::str::FromStr for SpendBucket {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "minute" => Ok(SpendBucket::Minute),
            "hour" => Ok(SpendBucket::Hour),
            "day" => Ok(SpendBucket::Day),
            "week" => Ok(SpendBucket::Week),
            "month" => Ok(SpendBucket::Month),
            _ => Err(ReportError::Invalid(format!(
                "unknown bucket '{s}'; use minute, hour, day, week or month"
            ))),
        }
    }
}

/// Parses a comma list of dimensions (`team,model`), rejecting unknown names.
pub fn parse_dims(list: &[String]) -> Result<Vec<Dim>, ReportError> {
    list.iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.parse::<Dim>().map_err(ReportError::from))
        .collect()
}

/// Spend grouped by `by` over `period`, optionally per bucket; sorted by bucket, then cost.
pub fn spend(
    reader: &Reader,
    by: &[Dim],
    filters: &[(Dim, String)],
    period: Period,
    bucket: Option<SpendBucket>,
) -> Result<Vec<SpendRow>, ReportError> {
    let gran = match bucket {
        None => None,
        Some(SpendBucket::Minute) => Some(Granularity::Minute),
        Some(SpendBucket::Hour) => Some(Granularity::Hour),
        Some(_) => Some(Granularity::Day),
    };
    let rows = reader.spend(&SpendQuery {
        by: by.to_vec(),
        filters: filters.to_vec(),
        since_ms: period.since_ms,
        until_ms: period.until_ms,
        bucket: gran,
    })?;
    let calendar = match bucket {
        Some(b @ (SpendBucket::Week | SpendBucket::Month)) => b,
        _ => return Ok(rows),
    };
    let mut acc: BTreeMap<(Option<i64>, Vec<Option<String>>), Totals> = BTreeMap::new();
    for r in rows {
        let b = r.bucket_start_ms.map(|ms| calendar_start(ms, calendar));
        acc.entry((b, r.keys)).or_default().merge(&r.totals);
    }
    let mut out: Vec<SpendRow> = acc
        .into_iter()
        .map(|((b, keys), totals)| SpendRow {
            keys,
            bucket_start_ms: b,
            totals,
        })
        .collect();
    out.sort_by(|a, b| {
        (a.bucket_start_ms, std::cmp::Reverse(a.totals.cost), &a.keys).cmp(&(
            b.bucket_start_ms,
            std::cmp::Reverse(b.totals.cost),
            &b.keys,
        ))
    });
    Ok(out)
}

/// Start (ms) of the ISO week or calendar month holding `ms` (UTC).
pub fn calendar_start(ms: i64, bucket: SpendBucket) -> i64 {
    let Some(dt) = DateTime::<Utc>::from_timestamp_millis(ms) else {
        return ms;
    };
    let d = dt.date_naive();
    let start: NaiveDate = match bucket {
        SpendBucket::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
        SpendBucket::Month => d.with_day(1).unwrap_or(d),
        SpendBucket::Day => d,
        SpendBucket::Hour => return ms - ms.rem_euclid(3_600_000),
        SpendBucket::Minute => return ms - ms.rem_euclid(60_000),
    };
    start
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_buckets() {
        // 2026-11-19 is a Thursday.
        let t = DateTime::parse_from_rfc3339("2026-11-19T15:30:00Z")
            .unwrap()
            .timestamp_millis();
        let w = calendar_start(t, SpendBucket::Week);
        assert_eq!(jevons_ledger::window::format_ms(w), "2026-11-16T00:00:00Z");
        let m = calendar_start(t, SpendBucket::Month);
        assert_eq!(jevons_ledger::window::format_ms(m), "2026-11-01T00:00:00Z");
        assert!("fortnight".parse::<SpendBucket>().is_err());
        assert!(parse_dims(&["team,colour".into()]).is_err());
        assert_eq!(
            parse_dims(&["team, model".into()]).unwrap(),
            vec![Dim::Team, Dim::Model]
        );
    }
}
