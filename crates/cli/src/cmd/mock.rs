//! `jevons mock`: serve mock LLM providers on 127.0.0.1 (one port per provider) from a
//! built-in profile or a TOML file, until Ctrl-C.

use anyhow::Context;
use jevons_mock::server::{MockProfile, MockServer, BUILTIN_PROFILES};

/// Arguments of `jevons mock`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Built-in profile name (`default`, `demo`) or a TOML profile file.
    #[arg(long, default_value = "default")]
    profile: String,
    /// Give providers consecutive ports from N (in profile order) instead of their own.
    #[arg(long)]
    port_base: Option<u16>,
    /// List the built-in profiles and exit.
    #[arg(long)]
    list_profiles: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.list_profiles {
        for (name, what) in BUILTIN_PROFILES {
            println!("{name:<10} {what}");
        }
        return Ok(());
    }
    let mut profile = if std::path::Path::new(&args.profile).is_file() {
        let text = std::fs::read_to_string(&args.profile)
            .with_context(|| format!("reading profile {}", args.profile))?;
        MockProfile::from_toml(&text).with_context(|| format!("in {}", args.profile))?
    } else {
        MockProfile::builtin(&args.profile)?
    };
    if let Some(base) = args.port_base {
        for (i, p) in profile.providers.iter_mut().enumerate() {
            p.port = base
                .checked_add(u16::try_from(i)?)
                .context("--port-base too high for this many providers")?;
        }
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let mock = MockServer::start(profile).await?;
        for (name, _, format) in mock.addrs() {
            println!(
                "{name:<14} {:<10} {}",
                format!("{format:?}").to_lowercase(),
                mock.base_url(&name).unwrap_or_default()
            );
        }
        println!("serving; control: <root>/_mock/stats, /_mock/faults; Ctrl-C to stop");
        tokio::signal::ctrl_c().await?;
        mock.shutdown().await;
        anyhow::Ok(())
    })
}
