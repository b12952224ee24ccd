//! `jevons serve` (not built yet).

/// Arguments of `jevons serve`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("'jevons serve' is not built yet")
}
