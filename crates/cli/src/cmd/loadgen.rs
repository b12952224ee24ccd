//! `jevons loadgen` (not built yet).

/// Arguments of `jevons loadgen`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("'jevons loadgen' is not built yet")
}
