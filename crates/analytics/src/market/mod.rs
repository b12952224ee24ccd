//! Market analytics over the price catalog: provider price spread, price vs parameter count
//! (with MoE placement), output/input price ratios, the quality-adjusted price trend, and a
//! roofline self-hosting estimator compared with API prices. Library code: no clap, no I/O
//! beyond the tables shipped in `crates/analytics/data/`.

pub mod catalog;
pub mod error;
pub mod facts;
pub mod fit;
pub mod gpu;
pub mod price_point;
pub mod provenance;
pub mod quality;
pub mod ratio;
pub mod roofline;
pub mod selfhost;
pub mod spread;
pub mod stats;
pub mod trend;

pub use error::MarketError;
pub use price_point::{BlendRatio, PricePoint};
pub use provenance::Provenance;
