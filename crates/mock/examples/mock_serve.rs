//! Serves a mock profile without the CLI: `cargo run --release -p jevons-mock --example
//! mock_serve -- [PROFILE] [PORT_BASE]` (used by benchmarks; the SDK suite runs `jevons mock`).

use jevons_mock::server::{MockProfile, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut a = std::env::args().skip(1);
    let mut profile = MockProfile::builtin(&a.next().unwrap_or_else(|| "default".into()))?;
    if let Some(base) = a.next() {
        let base: u16 = base.parse()?;
        for (i, p) in profile.providers.iter_mut().enumerate() {
            p.port = base + i as u16;
        }
    }
    let mock = MockServer::start(profile).await?;
    for (name, _, _) in mock.addrs() {
        println!("{name} {}", mock.base_url(&name).unwrap_or_default());
    }
    tokio::signal::ctrl_c().await?;
    mock.shutdown().await;
    Ok(())
}
