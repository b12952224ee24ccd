//! `jevons routes` (not built yet).

use clap::Subcommand;

/// Subcommands of `jevons routes`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Not built yet.
    Todo,
}

/// Runs the command.
pub fn run(_cmd: Command) -> anyhow::Result<()> {
    anyhow::bail!("'jevons routes' is not built yet")
}
