//! The one error type of jevons-routing. Every message says what was wrong and how to fix
//! it; config problems are collected (all of them, each naming its field) before failing.

/// Everything that can go wrong while configuring or using the router.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// The routing config could not be parsed (TOML syntax or shape).
    #[error("routing config could not be read: {0}")]
    Parse(String),
    /// The routing config parsed but has problems; each line names the field.
    #[error("routing config has {} problem(s):\n  - {}", .0.len(), .0.join("\n  - "))]
    Invalid(Vec<String>),
    /// The request names a model that has no `[[routing.models]]` entry.
    #[error("model '{model}' is not routed; add a [[routing.models]] entry named '{model}' or use one of: {known}")]
    UnknownModel {
        /// The model the request named.
        model: String,
        /// Comma-separated configured public model names.
        known: String,
    },
    /// `max_price` excluded every deployment of every model in the plan.
    #[error("no deployment of '{model}' (or its fallbacks) is priced at or under max_price (input {max_input}/Mtok, output {max_output}/Mtok); raise max_price or add a cheaper deployment")]
    NoDeploymentUnderMaxPrice {
        /// The requested model.
        model: String,
        /// The request's input price cap, USD per million tokens.
        max_input: String,
        /// The request's output price cap, USD per million tokens.
        max_output: String,
    },
    /// `x-jevons-route` named no known strategy.
    #[error("unknown routing strategy '{0}'; use one of cheapest, fastest, throughput, priority, weighted")]
    UnknownStrategy(String),
    /// A client-supplied cascade regex did not compile (or is too large).
    #[error("cascade check regex is invalid: {0}; send a valid regex of at most 1000 characters")]
    BadRegex(String),
    /// A request body that should be a JSON object was something else.
    #[error("request body must be a JSON object with a 'model' and 'messages'; got {0}")]
    BadRequestBody(String),
    /// A cached response could not be replayed as a stream.
    #[error("cached response cannot be replayed as SSE: {0}")]
    Replay(String),
}
