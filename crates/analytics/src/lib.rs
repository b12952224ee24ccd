//! jevons-analytics: reports and unit economics from the ledger, and market analytics over
//! the price catalog.

pub mod market;
pub mod reports;
