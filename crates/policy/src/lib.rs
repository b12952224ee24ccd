//! jevons-policy: budgets that never overspend (reserve → settle, atomic across every
//! budget a request falls under, with `max_tokens` clamped to what the tightest budget
//! can pay for), rate limits (GCRA, concurrency), agent task caps and loop detection.
//! State lives behind [`PolicyStore`] ([`MemoryStore`] now, Redis later).
//!
//! The gateway calls [`Policy::admit`] before forwarding and [`Admission::settle`] exactly
//! once when the request ends; see `docs/policy.md`.

mod admit;
pub mod config;
mod error;
pub mod gcra;
mod output_cap;
mod policy;
mod rate_card;
mod refusal;
mod refusals;
mod runtime;
pub mod scope;
mod serde_text;
mod settle;
pub mod store;
pub mod window;

pub use admit::{Admission, AdmitRequest};
pub use config::{
    BudgetMode, BudgetSpec, OutputCaps, PolicyConfig, RateLimitSpec, SoftAction, TaskCaps,
    TaskCapsConfig,
};
pub use error::{ConfigIssue, PolicyError};
pub use policy::Policy;
pub use rate_card::{PaidCalls, RateCard};
pub use refusal::{Amount, Refusal, RefusalKind};
pub use runtime::{BudgetStatus, SpendQuery};
pub use scope::{Scope, ScopeKind, ScopeRef};
pub use settle::Settled;
pub use store::{MemoryStore, PolicyStore, TaskSeed};
pub use window::{Window, WindowBounds};
