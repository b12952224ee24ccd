//! Durable `record()` throughput with group commit: N concurrent writers, each awaiting its
//! own ack (like N in-flight gateway requests). A command, not a test:
//! `cargo run --release -p jevons-ledger --example throughput -- [events] [concurrency]`.

use std::sync::Arc;
use std::time::Instant;

use jevons_ledger::synth::{generate, SynthSpec};
use jevons_ledger::{Durability, Ledger, LedgerOptions, SqliteLedger};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(50_000);
    let conc: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    for durability in [Durability::Durable, Durability::Buffered] {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("bench.sqlite");
        let events = generate(SynthSpec {
            events: n,
            start_ms: 1_790_000_000_000,
            span_ms: 3_600_000,
            seed: 1,
        });
        let ledger = Arc::new(SqliteLedger::open(
            &path,
            LedgerOptions {
                durability,
                ..LedgerOptions::default()
            },
        )?);
        let per = n.div_ceil(conc);
        let chunks: Vec<Vec<_>> = events.chunks(per).map(<[_]>::to_vec).collect();
        let t = Instant::now();
        rt.block_on(async {
            let mut hs = Vec::new();
            for chunk in chunks {
                let l = ledger.clone();
                hs.push(tokio::spawn(async move {
                    for e in chunk {
                        l.record(e).await?;
                    }
                    Ok::<_, jevons_ledger::LedgerError>(())
                }));
            }
            for h in hs {
                h.await??;
            }
            ledger.flush().await?;
            Ok::<_, Box<dyn std::error::Error>>(())
        })?;
        let secs = t.elapsed().as_secs_f64();
        let bpe = ledger.reader()?.bytes_per_event()?.unwrap_or(0.0);
        println!(
            "{durability:?}: {n} events, concurrency {conc}: {:.0} events/s, {} commits ({:.1} events/commit), {bpe:.0} bytes/event",
            n as f64 / secs,
            ledger.commits(),
            n as f64 / ledger.commits().max(1) as f64
        );
    }
    Ok(())
}
