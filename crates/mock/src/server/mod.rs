//! Mock OpenAI/Anthropic-format providers (work in progress).
