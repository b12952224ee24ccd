//! The `jevons` binary: thin. Parses arguments (clap), validates them, and calls library
//! crates that never see clap. One module per command group under `cmd/`.

mod cmd;
mod output;

/// mimalloc: the gateway allocates per request (JSON, headers, events); the system
/// allocator showed up at 12-15% of its CPU in profiles (docs/bench.md). Built with
/// `no_thp`: asking for transparent huge pages made the gateway's RSS jump in 2 MiB steps
/// (65 to 111 MB over the same load, 40-60 MB of it huge pages; docs/bench.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};

/// jevons — an AI-FinOps gateway: exact cost of every LLM call, budgets that hold, unit
/// economics from the ledger.
#[derive(Parser, Debug)]
#[command(name = "jevons", version, about, propagate_version = true)]
struct Cli {
    /// Log filter (tracing env-filter syntax), e.g. `info` or `jevons_gateway=debug`.
    #[arg(long, global = true, env = "JEVONS_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The whole system offline: mock providers, the gateway, agentic load, then a report.
    Demo(cmd::demo::Args),
    /// Run the gateway.
    Serve(cmd::serve::Args),
    /// Validate a gateway config file.
    #[command(subcommand)]
    Config(cmd::config::Command),
    /// Create, list and revoke virtual keys.
    #[command(subcommand)]
    Keys(cmd::keys::Command),
    /// Search, show, compare prices; compute costs; import price maps.
    #[command(subcommand)]
    Prices(cmd::prices::Command),
    /// Budgets: set, list, delete.
    #[command(subcommand)]
    Budgets(cmd::budgets::Command),
    /// Explain routing decisions.
    #[command(subcommand)]
    Routes(cmd::routes::Command),
    /// Reports from the ledger.
    #[command(subcommand)]
    Report(cmd::report::Command),
    /// What-if simulations: plans, break-even, routing replay.
    #[command(subcommand)]
    Simulate(cmd::simulate::Command),
    /// Market analytics over the price catalog.
    #[command(subcommand)]
    Market(cmd::market::Command),
    /// Ledger maintenance and synthetic ledgers.
    #[command(subcommand)]
    Ledger(cmd::ledger::Command),
    /// Serve mock LLM providers on 127.0.0.1.
    Mock(cmd::mock::Args),
    /// Agentic load generator against an OpenAI/Anthropic-compatible URL.
    Loadgen(cmd::loadgen::Args),
    /// Benchmarks (direct vs nginx vs jevons), printed as a table.
    Bench(cmd::bench::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Config(c) => cmd::config::run(c),
        Command::Keys(c) => cmd::keys::run(c),
        Command::Prices(c) => cmd::prices::run(c),
        Command::Budgets(c) => cmd::budgets::run(c),
        Command::Routes(c) => cmd::routes::run(c),
        Command::Report(c) => cmd::report::run(c),
        Command::Simulate(c) => cmd::simulate::run(c),
        Command::Market(c) => cmd::market::run(c),
        Command::Ledger(c) => cmd::ledger::run(c),
        Command::Mock(a) => cmd::mock::run(a),
        Command::Loadgen(a) => cmd::loadgen::run(a),
        Command::Bench(a) => cmd::bench::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
