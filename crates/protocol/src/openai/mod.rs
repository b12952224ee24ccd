//! OpenAI wire types: chat completions (request, response, stream chunk), embeddings and
//! the models list. Requests keep unknown fields in `extra` so a proxy forwards them.

pub mod chat;
pub mod embeddings;
pub mod models;

pub use chat::*;
pub use embeddings::*;
pub use models::*;
