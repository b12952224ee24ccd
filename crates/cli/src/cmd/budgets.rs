//! `jevons budgets` (not built yet).

use clap::Subcommand;

/// Subcommands of `jevons budgets`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Not built yet.
    Todo,
}

/// Runs the command.
pub fn run(_cmd: Command) -> anyhow::Result<()> {
    anyhow::bail!("'jevons budgets' is not built yet")
}
