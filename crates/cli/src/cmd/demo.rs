//! `jevons demo` (not built yet).

/// Arguments of `jevons demo`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs the command.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("'jevons demo' is not built yet")
}
