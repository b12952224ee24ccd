//! jevons-gateway: the HTTP server and the request phases
//! (`authenticate → attribute → resolve_policy → admit → route → forward → meter → settle →
//! record → respond`), the admin API and metrics.

pub mod config;
pub mod error;
