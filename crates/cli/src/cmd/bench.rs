//! `jevons bench` (not built yet).

/// Arguments of `jevons bench`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("'jevons bench' is not built yet")
}
