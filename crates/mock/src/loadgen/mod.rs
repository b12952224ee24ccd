//! Agentic load generator (work in progress).
