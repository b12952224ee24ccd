//! One module per command group. Each exposes clap types and a `run` function.

pub mod bench;
pub mod budgets;
pub mod config;
pub mod demo;
pub mod keys;
pub mod ledger;
pub mod loadgen;
pub mod market;
pub mod mock;
pub mod prices;
pub mod report;
pub mod routes;
pub mod serve;
pub mod simulate;
