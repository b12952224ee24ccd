//! `jevons ledger`: maintenance of the ledger file. `stats` prints events, size, bytes per
//! event (rollups included) and the time range covered; `synth` writes seeded synthetic
//! traffic (for demos, reports and size measurements).

use clap::Subcommand;
use jevons_core::{Clock, SystemClock};
use jevons_ledger::synth::{generate, SynthSpec};
use jevons_ledger::window::{format_ms, parse_duration_ms, parse_instant};
use jevons_ledger::{Durability, Ledger, LedgerOptions, Reader, SqliteLedger};

use crate::cmd::keys::DbArg;
use crate::output::{print_json, Format, Rows};

/// Subcommands of `jevons ledger`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Events, file size, bytes per event and time range.
    Stats {
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write seeded synthetic traffic into a ledger (creates it if needed).
    Synth {
        /// Number of events.
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        /// Spread them over this long (e.g. 1h, 7d), ending at --until.
        #[arg(long, default_value = "1d")]
        over: String,
        /// End of the span: 'now', a duration ago, a date or RFC 3339.
        #[arg(long, default_value = "now")]
        until: String,
        /// RNG seed (same seed, same events).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Commit without waiting for each batch (`synchronous=NORMAL`): much faster for
        /// large synthetic ledgers.
        #[arg(long)]
        buffered: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

/// Events generated in memory at a time: larger ledgers are written as consecutive
/// sub-spans, each seeded from `seed` and its index (one chunk = exactly `generate(spec)`).
const SYNTH_CHUNK: usize = 250_000;

/// The sub-specs that make up a synthetic ledger of `spec.events` events.
fn synth_chunks(spec: SynthSpec) -> Vec<SynthSpec> {
    let k = spec.events.div_ceil(SYNTH_CHUNK).max(1);
    let kk = i64::try_from(k).unwrap_or(i64::MAX);
    (0..k)
        .map(|i| {
            let ii = i64::try_from(i).unwrap_or(0);
            let lo = spec.start_ms + spec.span_ms * ii / kk;
            let hi = spec.start_ms + spec.span_ms * (ii + 1) / kk;
            SynthSpec {
                events: spec.events * (i + 1) / k - spec.events * i / k,
                start_ms: lo,
                span_ms: (hi - lo).max(1),
                seed: spec
                    .seed
                    .wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            }
        })
        .collect()
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Stats { db, format } => {
            let path = db.path();
            let s = Reader::open(&path)?.stats()?;
            if format == Format::Json {
                return print_json(&serde_json::json!({ "path": path, "stats": s }));
            }
            let mut rows = Rows::new(["field", "value"]);
            rows.push(["path".to_string(), path.display().to_string()]);
            rows.push(["events".to_string(), s.events.to_string()]);
            rows.push(["db_bytes".to_string(), s.db_bytes.to_string()]);
            rows.push(["file_bytes".to_string(), s.file_bytes.to_string()]);
            rows.push([
                "bytes_per_event".to_string(),
                s.bytes_per_event
                    .map(|b| format!("{b:.1}"))
                    .unwrap_or_else(|| "-".into()),
            ]);
            rows.push([
                "first".to_string(),
                s.first_ms.map(format_ms).unwrap_or_default(),
            ]);
            rows.push([
                "last".to_string(),
                s.last_ms.map(format_ms).unwrap_or_default(),
            ]);
            rows.push(["tasks".to_string(), s.tasks.to_string()]);
            rows.push(["rollup_rows".to_string(), s.rollup_rows.to_string()]);
            rows.print(format)
        }
        Command::Synth {
            events,
            over,
            until,
            seed,
            buffered,
            db,
        } => {
            let span_ms = parse_duration_ms(&over).filter(|d| *d > 0).ok_or_else(|| {
                anyhow::anyhow!("--over '{over}' is not a duration; write e.g. 90m, 24h or 7d")
            })?;
            let end = parse_instant(&until, SystemClock.now_ms())?;
            let spec = SynthSpec {
                events,
                start_ms: end - span_ms,
                span_ms,
                seed,
            };
            let path = db.path();
            let rt = tokio::runtime::Builder::new_current_thread().build()?;
            let written = rt.block_on(async {
                let options = LedgerOptions {
                    durability: if buffered {
                        Durability::Buffered
                    } else {
                        Durability::Durable
                    },
                    ..LedgerOptions::default()
                };
                let ledger = SqliteLedger::open(&path, options)?;
                let mut n = 0u64;
                for sub in synth_chunks(spec) {
                    let events = generate(sub);
                    for chunk in events.chunks(2000) {
                        ledger.record_batch(chunk.to_vec()).await?;
                        n += chunk.len() as u64;
                    }
                    // Buffered batches queue in memory: drain each sub-span before the next.
                    ledger.flush().await?;
                }
                ledger.flush().await?;
                ledger.close();
                Ok::<_, anyhow::Error>(n)
            })?;
            println!(
                "wrote {written} synthetic events ({} .. {}) to {}",
                format_ms(spec.start_ms),
                format_ms(end),
                path.display()
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synth_chunks_cover_the_span_and_the_count() {
        let spec = SynthSpec {
            events: 1_000_001,
            start_ms: 1_000,
            span_ms: 86_400_000,
            seed: 1,
        };
        let c = synth_chunks(spec);
        assert_eq!(c.len(), 5);
        assert_eq!(c.iter().map(|s| s.events).sum::<usize>(), 1_000_001);
        assert_eq!(c[0].start_ms, 1_000);
        for w in c.windows(2) {
            assert_eq!(w[0].start_ms + w[0].span_ms, w[1].start_ms);
            assert_ne!(w[0].seed, w[1].seed);
        }
        let last = c[c.len() - 1];
        assert_eq!(last.start_ms + last.span_ms, 1_000 + 86_400_000);
        // A small ledger is one chunk: exactly `generate(spec)`, as before.
        let small = SynthSpec { events: 10, ..spec };
        let one = synth_chunks(small);
        assert_eq!(one.len(), 1);
        assert_eq!(
            (one[0].events, one[0].start_ms, one[0].span_ms, one[0].seed),
            (10, 1_000, 86_400_000, 1)
        );
    }
}
