//! `jevons serve --config jevons.toml`: validate the config, build the gateway, serve until
//! Ctrl-C, then flush the ledger.

use std::path::PathBuf;

use anyhow::Context;
use jevons_gateway::{Gateway, GatewayConfig};

/// Arguments of `jevons serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Gateway config file.
    #[arg(long, short, default_value = "jevons.toml")]
    config: PathBuf,
    /// Override `server.listen`, e.g. 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<String>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = GatewayConfig::load(&args.config)?;
    if let Some(l) = args.listen {
        l.parse::<std::net::SocketAddr>()
            .with_context(|| format!("--listen '{l}' is not host:port with an IP address"))?;
        cfg.server.listen = l;
    }
    // The gateway serves on its own threads (`server.threads`); this runtime only waits for
    // Ctrl-C and runs the key refresher and the policy sweeper.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let gw = Gateway::from_config(cfg)?;
        let running = jevons_gateway::start(gw).await?;
        eprintln!(
            "jevons gateway listening on {} (Ctrl-C to stop)",
            running.base_url()
        );
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        eprintln!("stopping: flushing the ledger");
        running.shutdown().await;
        Ok(())
    })
}
