//! `ProtocolError`: why a provider body or stream event could not be read.

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A body or event was not the JSON shape expected.
    #[error("invalid {what} from the provider: {source}; the upstream sent a body that is not the documented wire format")]
    Json {
        /// What was being read (e.g. "OpenAI chat completion body").
        what: &'static str,
        /// The parse error.
        source: serde_json::Error,
    },
}
