//! Anthropic wire types: `POST /v1/messages` request and response, and the stream events
//! (`message_start` … `message_stop`). Requests keep unknown fields in `extra`.

pub mod messages;
pub mod stream;

pub use messages::*;
pub use stream::*;
