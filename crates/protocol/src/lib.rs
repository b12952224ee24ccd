//! jevons-protocol: OpenAI and Anthropic wire types, SSE framing, and usage extraction
//! from bodies and streams (normalized into `jevons_core::Usage`).

pub mod usage;
