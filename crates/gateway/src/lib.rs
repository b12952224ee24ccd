//! jevons-gateway: the HTTP server and the request phases
//! (`authenticate → attribute → resolve_policy → admit → route → forward → meter → settle →
//! record → respond`), the admin API and metrics.

// Errors are the cold path; boxing them would cost an allocation on every refusal for no gain.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod admin_routes;
pub mod admit;
pub mod attempts;
pub mod attribute;
pub mod body;
pub mod cache;
pub mod cascade;
pub mod cascade_stage;
pub mod config;
pub mod democonfig;
pub mod error;
pub mod h1client;
pub mod json_answer;
pub mod keys;
pub mod meter;
pub mod metrics;
mod patch;
pub mod policy_state;
pub mod proxy;
pub mod request;
pub mod request_body;
pub mod retry_after;
pub mod route_prices;
pub mod router;
pub mod routes;
pub mod server;
pub mod state;
pub mod stream;
pub mod upstream;

pub use config::GatewayConfig;
pub use server::{start, RunningGateway};
pub use state::{Gateway, StartError};
