//! `jevons mock` (not built yet).

/// Arguments of `jevons mock`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("'jevons mock' is not built yet")
}
