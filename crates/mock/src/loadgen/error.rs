//! `LoadgenError`: everything the load generator can refuse or fail at, each message
//! saying what was wrong and how to fix it.

use std::path::PathBuf;

/// Errors of the load generator (scenario loading, configuration, runtime).
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// The scenario file could not be read.
    #[error("cannot read scenario file {path}: {source} (pass a readable TOML file or a built-in name: {builtins})")]
    ScenarioRead {
        /// Path given.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
        /// Built-in names, comma separated.
        builtins: String,
    },
    /// Neither a file nor a built-in scenario.
    #[error("unknown scenario '{name}': no such file, and not a built-in (built-ins: {builtins})")]
    UnknownScenario {
        /// What was asked for.
        name: String,
        /// Built-in names, comma separated.
        builtins: String,
    },
    /// The scenario text is not valid TOML or has unknown/mistyped keys.
    #[error("scenario {origin}: {message}")]
    ScenarioParse {
        /// File path or `built-in NAME`.
        origin: String,
        /// Parser message (with line and column).
        message: String,
    },
    /// The scenario parsed but some values are out of range (all problems listed).
    #[error("scenario {origin} has {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
    ScenarioInvalid {
        /// File path or `built-in NAME`.
        origin: String,
        /// One line per problem, naming the key.
        problems: Vec<String>,
    },
    /// The target URL cannot be used.
    #[error("bad target URL '{url}': {reason}")]
    BadTarget {
        /// The URL given.
        url: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A run setting is invalid (concurrency, keys, limits).
    #[error("{0}")]
    BadConfig(String),
}
