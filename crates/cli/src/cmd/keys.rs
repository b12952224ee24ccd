//! `jevons keys`: create (prints the secret once), list (never shows secrets) and revoke
//! virtual keys stored in the ledger file.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Subcommand};
use jevons_core::{Clock, SystemClock};
use jevons_ledger::window::{format_ms, parse_date};
use jevons_ledger::{default_db_path, AdminStore, CreateKey};

use crate::output::{print_json, Format, Rows};

/// Where the ledger file is.
#[derive(ClapArgs, Debug, Clone)]
pub struct DbArg {
    /// Ledger file (default: $JEVONS_DB, else ./jevons-data/ledger.sqlite).
    #[arg(long, env = "JEVONS_DB")]
    pub db: Option<PathBuf>,
}

impl DbArg {
    /// The path to use.
    pub fn path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(default_db_path)
    }
}

/// Subcommands of `jevons keys`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a key for a team; the secret is printed once.
    Create {
        /// Owning team (required).
        #[arg(long)]
        team: String,
        /// Human name for the key.
        #[arg(long)]
        name: Option<String>,
        /// Organization.
        #[arg(long)]
        org: Option<String>,
        /// Allowed models, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Expiry: a date (2026-12-31, UTC midnight) or RFC 3339.
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List keys (ids and settings, never secrets).
    List {
        #[command(flatten)]
        db: DbArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a key by id; requests with it are refused from then on.
    Revoke {
        /// Key id (see `jevons keys list`).
        id: String,
        #[command(flatten)]
        db: DbArg,
    },
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    let now = SystemClock.now_ms();
    match cmd {
        Command::Create {
            team,
            name,
            org,
            models,
            expires,
            db,
            format,
        } => {
            let expires_at = expires.as_deref().map(parse_date).transpose()?;
            let req = CreateKey {
                team,
                name,
                org,
                models: models
                    .into_iter()
                    .map(|m| m.trim().to_string())
                    .filter(|m| !m.is_empty())
                    .collect(),
                expires_at,
            };
            let path = db.path();
            let (rec, secret) = AdminStore::open(&path)?.create_key(&req, now)?;
            if format == Format::Json {
                print_json(&serde_json::json!({
                    "id": rec.id, "team": rec.team, "name": rec.name, "org": rec.org,
                    "models": rec.models, "expires_ms": rec.expires_ms, "secret": secret,
                    "db": path,
                }))?;
            } else {
                println!(
                    "Created key {} for team {} in {}",
                    rec.id,
                    rec.team,
                    path.display()
                );
                println!();
                println!("    {secret}");
                println!();
            }
            eprintln!("warning: this is the only time the key is shown; store it now (only its hash is kept).");
            Ok(())
        }
        Command::List { db, format } => {
            let keys = AdminStore::open_existing(&db.path())?.list_keys()?;
            let mut rows = Rows::new([
                "id", "team", "name", "org", "models", "expires", "revoked", "created",
            ]);
            for k in keys {
                rows.push([
                    k.id,
                    k.team,
                    k.name.unwrap_or_default(),
                    k.org.unwrap_or_default(),
                    if k.models.is_empty() {
                        "*".to_string()
                    } else {
                        k.models.join(",")
                    },
                    k.expires_ms.map(format_ms).unwrap_or_default(),
                    k.revoked_ms.map(format_ms).unwrap_or_default(),
                    format_ms(k.created_ms),
                ]);
            }
            rows.print(format)
        }
        Command::Revoke { id, db } => {
            let rec = AdminStore::open_existing(&db.path())?.revoke(&id, now)?;
            println!(
                "Revoked key {} (team {}) at {}",
                rec.id,
                rec.team,
                rec.revoked_ms.map(format_ms).unwrap_or_default()
            );
            Ok(())
        }
    }
}
