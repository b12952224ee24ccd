//! jevons-routing: where a request goes and what happens when it fails. Public model names
//! map to priced deployments ordered by a strategy (cheapest, fastest, throughput, priority,
//! weighted); health (EWMA) and circuit breakers steer around failing providers; retries back
//! off with jitter; cascades escalate cheap answers that fail checks; an exact cache serves
//! repeats for $0. Pure logic: the gateway does the I/O and calls in here.

pub mod cache;
pub mod cascade;
pub mod config;
mod error;
pub mod explain;
pub mod health;
pub mod observation;
pub mod outcome;
pub mod plan;
pub mod price;
pub mod retry;
mod router;
mod strategy;
mod validate;

pub use cache::{replay_chat_completion_sse, CacheKey, CachedResponse, ResponseCache};
pub use cascade::{Cascade, CascadeResponse, ClientCheck, EscalationReason};
pub use config::{
    BreakerConfig, CacheConfig, CascadeConfig, CheckSpec, DeploymentConfig, ModelConfig,
    RetryConfig, RoutingConfig,
};
pub use error::RoutingError;
pub use explain::{ExplainRow, Explanation, SkipReason};
pub use health::{BreakerState, HealthSnapshot};
pub use observation::Observation;
pub use outcome::{backoff_with, is_retryable, may_fallback, Outcome, OutcomeKind};
pub use plan::{Candidate, DeploymentId, RoutePlan, RouteReason, RouteRequest, Target};
pub use price::{DeploymentPrice, MaxPrice};
pub use retry::{next_step_over, NextStep};
pub use router::Router;
pub use strategy::Strategy;
