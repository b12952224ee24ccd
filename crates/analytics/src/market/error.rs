//! The one error type of market analytics: every variant says what was wrong and how to fix it.

use thiserror::Error;

/// Errors from market analytics (bad user input, unknown names, shipped-table problems).
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MarketError {
    /// A model name matched nothing in the catalog or the model-facts table.
    #[error("unknown model '{model}': {hint}")]
    UnknownModel {
        /// What the user typed.
        model: String,
        /// Suggestions or where to look.
        hint: String,
    },
    /// A GPU name matched nothing in the GPU table.
    #[error("unknown GPU '{name}': known GPUs are {known}")]
    UnknownGpu {
        /// What the user typed.
        name: String,
        /// Comma-separated list of known names.
        known: String,
    },
    /// A numeric or textual argument is out of range or unparsable.
    #[error("invalid {what} '{value}': {fix}")]
    InvalidInput {
        /// Which input (e.g. `--utilization`).
        what: String,
        /// The value given.
        value: String,
        /// What a valid value looks like.
        fix: String,
    },
    /// The model (weights + KV cache) does not fit in the GPUs' memory.
    #[error(
        "{model} does not fit: needs {need_gb:.1} GB (weights {weights_gb:.1} GB + KV cache {kv_gb:.1} GB) \
         but {gpus} x {gpu} give {usable_gb:.1} GB usable; {hint}"
    )]
    DoesNotFit {
        /// Model name.
        model: String,
        /// GPU name.
        gpu: String,
        /// GPU count.
        gpus: u32,
        /// Weights + KV.
        need_gb: f64,
        /// Weights alone.
        weights_gb: f64,
        /// KV cache alone.
        kv_gb: f64,
        /// Usable memory across the GPUs.
        usable_gb: f64,
        /// What to change.
        hint: String,
    },
    /// Not enough data points for the analysis.
    #[error("not enough data for {what}: need at least {need}, found {got}; {hint}")]
    NotEnoughData {
        /// Which analysis.
        what: String,
        /// Minimum required.
        need: usize,
        /// Found.
        got: usize,
        /// What to change.
        hint: String,
    },
    /// A shipped or user-supplied table could not be read.
    #[error("{file} line {line}: {message}")]
    Table {
        /// File name.
        file: String,
        /// 1-based line (0 when unknown).
        line: u64,
        /// What is wrong.
        message: String,
    },
}

impl MarketError {
    pub(crate) fn invalid(what: &str, value: impl ToString, fix: &str) -> Self {
        MarketError::InvalidInput {
            what: what.to_string(),
            value: value.to_string(),
            fix: fix.to_string(),
        }
    }
}
