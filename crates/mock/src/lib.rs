//! jevons-mock: faithful offline mock LLM providers (`server`) and the agentic load
//! generator (`loadgen`). Everything offline — demo, tests, benchmarks — runs on these.

pub mod loadgen;
pub mod server;
