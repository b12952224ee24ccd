//! jevons-gateway: the HTTP server and the request phases
//! (`authenticate → attribute → resolve_policy → admit → route → forward → meter → settle →
//! record → respond`), the admin API and metrics.

// Errors are the cold path; boxing them would cost an allocation on every refusal for no gain.
#![allow(clippy::result_large_err)]

pub mod attribute;
pub mod config;
pub mod error;
pub mod request;
