//! Agentic load generator: a [`Scenario`] (TOML or built-in) becomes a deterministic
//! [`Plan`] of jobs (chat sessions, agent task trees, one-shot calls) that [`run`] sends to
//! an OpenAI/Anthropic-compatible URL on C workers, measuring latency, TTFT and errors.

mod body;
mod builtin;
mod error;
mod followup;
mod http;
mod jobs;
mod plan;
mod population;
mod report;
mod response;
mod runner;
mod scenario;
mod text;
mod validate;

pub use error::LoadgenError;
pub use http::Outcome;
pub use plan::{Job, JobKind, Plan, PlannedRequest};
pub use report::LoadReport;
pub use response::{parse_body, SseReader, StreamFault, Summary, ToolCall};
pub use runner::{run, LoadConfig, DEFAULT_DURATION};
pub use scenario::{
    Agent, Chat, Feature, MaxTokens, Mix, ModelChoice, Retry, Scenario, Single, Span, Users,
    WireFormat,
};

/// Names of the built-in scenarios (`default`, `agentic`, `chat`, `bench`).
pub fn builtin_scenarios() -> Vec<&'static str> {
    builtin::names()
}
