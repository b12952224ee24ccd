//! `jevons ledger`: maintenance of the ledger file. `stats` prints events, size, bytes per
//! event (rollups included) and the time range covered.

use clap::Subcommand;
use jevons_ledger::window::format_ms;
use jevons_ledger::Reader;

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
    }
}
