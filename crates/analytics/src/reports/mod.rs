//! Reports and unit economics from the ledger: chargeback spend, agent tasks and the Jevons
//! view, users vs plans, plan and break-even simulation, the four-lens decomposition with a
//! price-volume-mix bridge, routing what-ifs and offline cascades, anomalies and forecasts.
//! Every report reads rollups or the tasks table (never raw events); money stays exact.

pub mod anomalies;
pub mod breakeven;
pub mod cascade;
pub mod decompose;
pub mod error;
pub mod forecast;
pub mod money;
pub mod period;
pub mod plans;
pub mod quality;
pub mod routing;
pub mod spend;
pub mod stats;
pub mod tasks;
pub mod users;

pub use error::ReportError;
pub use period::{parse_period, Period};
