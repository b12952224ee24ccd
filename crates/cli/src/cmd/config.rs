//! `jevons config check FILE`: validate a gateway config as a whole — syntax, every section,
//! providers, routes (prices resolvable from the catalog), policy — and report every error
//! with file, line and key.

use std::path::PathBuf;

use clap::Subcommand;
use jevons_gateway::GatewayConfig;

/// Subcommands of `jevons config`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate a config file; exit status 0 when it is valid.
    Check {
        /// The file (default: jevons.toml).
        #[arg(default_value = "jevons.toml")]
        file: PathBuf,
    },
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Check { file } => check(&file),
    }
}

fn check(file: &std::path::Path) -> anyhow::Result<()> {
    let cfg = match GatewayConfig::load(file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            anyhow::bail!("{} is not valid", file.display());
        }
    };
    // Routes and policy are validated by building them (catalog prices included), without
    // opening the ledger or binding a socket.
    let problems = jevons_gateway::state::check_semantics(&cfg);
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("  {p}");
        }
        anyhow::bail!("{} has {} error(s)", file.display(), problems.len());
    }
    println!(
        "{}: ok ({} providers, routing {}, policy {})",
        file.display(),
        cfg.providers.len(),
        if cfg.routing.is_some() { "on" } else { "off" },
        if cfg.policy.is_some() { "on" } else { "off" }
    );
    Ok(())
}
