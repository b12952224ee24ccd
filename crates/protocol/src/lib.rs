//! jevons-protocol: OpenAI and Anthropic wire types, SSE framing, and usage extraction
//! from bodies and streams (normalized into `jevons_core::Usage`).

pub mod anthropic;
pub mod error;
pub mod error_body;
pub mod extract;
pub mod openai;
pub mod sse;
pub mod usage;

pub use error::ProtocolError;
pub use error_body::{AnthropicErrorBody, OpenAiErrorBody};
pub use extract::{AnthropicStreamMeter, OpenAiStreamMeter};
pub use sse::{SseEvent, SseParser};
