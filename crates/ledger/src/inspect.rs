//! Inspection of the file itself: size and bytes per event (`ledger stats`), and raw-event
//! reads for debugging and tests (`events_for_request`, `sum_cost_all_events`), the only
//! places that touch the events table.

use jevons_core::{Attribution, Money, MoneySum, RequestId, Usage};
use rusqlite::Row;
use serde::Serialize;

use crate::dims::Names;
use crate::error::LedgerError;
use crate::event::{LedgerEvent, Status};
use crate::query::Reader;

/// What `jevons ledger stats` prints.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerStats {
    /// Events stored.
    pub events: u64,
    /// Logical database size (pages × page size, WAL content included).
    pub db_bytes: u64,
    /// Size of the main file plus WAL on disk.
    pub file_bytes: u64,
    /// `db_bytes / events` (everything included: rollups, dims, tasks, keys).
    pub bytes_per_event: Option<f64>,
    /// First minute with events (ms).
    pub first_ms: Option<i64>,
    /// Last minute with events (ms, bucket start).
    pub last_ms: Option<i64>,
    /// Distinct agent tasks.
    pub tasks: u64,
    /// Rows in the rollup table.
    pub rollup_rows: u64,
}

impl Reader {
    /// Size and counts.
    pub fn stats(&self) -> Result<LedgerStats, LedgerError> {
        let events = self.event_count()?;
        let db_bytes = self.db_bytes()?;
        let file_bytes = ["", "-wal"]
            .iter()
            .filter_map(|s| {
                let mut p = self.path.clone().into_os_string();
                p.push(s);
                std::fs::metadata(p).ok().map(|m| m.len())
            })
            .sum();
        let (first, last): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT min(bucket), max(bucket) FROM rollups WHERE gran=1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let count = |sql: &str| -> Result<u64, LedgerError> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))?.max(0) as u64)
        };
        Ok(LedgerStats {
            events,
            db_bytes,
            file_bytes,
            bytes_per_event: (events > 0).then(|| db_bytes as f64 / events as f64),
            first_ms: first.map(|b| b * 60_000),
            last_ms: last.map(|b| b * 60_000),
            tasks: count("SELECT count(*) FROM tasks")?,
            rollup_rows: count("SELECT count(*) FROM rollups")?,
        })
    }

    /// Logical database size in bytes (page_count × page_size).
    pub fn db_bytes(&self) -> Result<u64, LedgerError> {
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let size: i64 = self.conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        Ok((pages.max(0) as u64) * (size.max(0) as u64))
    }

    /// Bytes on disk per event, rollups and everything else included.
    pub fn bytes_per_event(&self) -> Result<Option<f64>, LedgerError> {
        Ok(self.stats()?.bytes_per_event)
    }

    /// All attempts of one request (debugging and tests; reads raw events).
    pub fn events_for_request(&self, id: RequestId) -> Result<Vec<LedgerEvent>, LedgerError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT * FROM events WHERE rid=?1 ORDER BY attempt")?;
        let mut rows = st.query([id.0.to_be_bytes().as_slice()])?;
        let mut raw = Vec::new();
        while let Some(r) = rows.next()? {
            raw.push(RawEvent::read(r)?);
        }
        let mut names = Names::default();
        raw.into_iter()
            .map(|r| r.decode(self, &mut names, id))
            .collect()
    }

    /// Count and exact cost sum over every raw event (tests only: scans the table).
    pub fn sum_cost_all_events(&self) -> Result<(u64, MoneySum), LedgerError> {
        let mut st = self.conn.prepare("SELECT cost FROM events")?;
        let mut rows = st.query([])?;
        let (mut n, mut sum) = (0u64, MoneySum::ZERO);
        while let Some(r) = rows.next()? {
            n += 1;
            sum += Money::from_pico(r.get(0)?);
        }
        Ok((n, sum))
    }
}

/// An events row before dimension ids are resolved.
struct RawEvent {
    ints: Vec<Option<i64>>,
}

impl RawEvent {
    fn read(r: &Row<'_>) -> rusqlite::Result<RawEvent> {
        let ints = (1..38)
            .map(|i| r.get::<_, Option<i64>>(i))
            .collect::<Result<_, _>>()?;
        Ok(RawEvent { ints })
    }

    fn decode(
        self,
        rd: &Reader,
        names: &mut Names,
        id: RequestId,
    ) -> Result<LedgerEvent, LedgerError> {
        // Column k of the table is ints[k - 1].
        let v = |k: usize| self.ints.get(k - 1).copied().flatten().unwrap_or(0);
        let u = |k: usize| v(k).max(0) as u64;
        let mut n = |k: usize| names.name(&rd.conn, v(k));
        let attribution = Attribution {
            key_id: n(5)?.unwrap_or_default(),
            team: n(6)?.unwrap_or_default(),
            org: n(7)?.unwrap_or_default(),
            user: n(8)?,
            customer: n(9)?,
            feature: n(10)?,
            task: n(11)?,
            parent_task: n(12)?,
            tags: n(13)?
                .map(|t| {
                    t.split(',')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
        };
        let flags = v(22);
        let amounts = Amounts::of_columns(&v);
        Ok(LedgerEvent {
            request_id: id,
            attempt: u32::try_from(v(1)).unwrap_or(0),
            ts_ms: id.timestamp_ms().wrapping_add(v(2)),
            latency_us: u(3),
            ttft_us: self.ints.get(3).copied().flatten().map(|x| x.max(0) as u64),
            attribution,
            requested_model: n(14)?.unwrap_or_default(),
            served_model: n(15)?,
            provider: n(16)?,
            deployment: n(17)?,
            route_reason: n(18)?,
            status: Status::from_code(v(19)),
            http_status: u16::try_from(v(20)).unwrap_or(0),
            error_kind: n(21)?,
            stream: flags & 1 == 1,
            service_tier: n(23)?,
            usage: amounts.usage,
            cost: amounts.cost,
            list_cost: amounts.list_cost,
            cache_savings: amounts.cache_savings,
        })
    }
}

/// The usage and money columns of an `events` row (table columns 22 and 24–37: flags,
/// u_in .. u_web, cost, list_extra, savings), read through `col(k)` = column k or 0.
pub(crate) struct Amounts {
    pub usage: Usage,
    pub cost: Money,
    pub list_cost: Money,
    pub cache_savings: Money,
}

impl Amounts {
    pub(crate) fn of_columns(col: &dyn Fn(usize) -> i64) -> Amounts {
        let u = |k: usize| col(k).max(0) as u64;
        Amounts {
            usage: Usage {
                input: u(24),
                cache_read: u(25),
                cache_write_5m: u(26),
                cache_write_1h: u(27),
                output: u(28),
                reasoning: u(29),
                input_audio: u(30),
                output_audio: u(31),
                input_image: u(32),
                output_image: u(33),
                web_search_calls: u32::try_from(col(34)).unwrap_or(u32::MAX),
                estimated: col(22) & 2 == 2,
            },
            cost: Money::from_pico(col(35)),
            list_cost: Money::from_pico(col(35).wrapping_add(col(36))),
            cache_savings: Money::from_pico(col(37)),
        }
    }
}
