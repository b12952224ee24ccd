//! `ReportError`: everything a report, a plans/scenario/quality file or a period argument can
//! get wrong, each message saying what was wrong and how to fix it.

use std::path::PathBuf;

use jevons_ledger::LedgerError;
use jevons_pricing::PricingError;

/// Errors of the reports and simulations.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The ledger could not answer (missing file, not a ledger, unsupported query...).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The price catalog could not be loaded or a model could not be priced.
    #[error(transparent)]
    Pricing(#[from] PricingError),
    /// A file could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A plans, scenario or quality file is malformed.
    #[error("{file}: {message}")]
    File {
        /// The file (or `<inline>`).
        file: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A bad argument (period, dimension, threshold...).
    #[error("{0}")]
    Invalid(String),
}

impl ReportError {
    /// A malformed-file error.
    pub fn file(file: &str, message: impl Into<String>) -> ReportError {
        ReportError::File {
            file: file.to_string(),
            message: message.into(),
        }
    }
}

/// Reads a whole text file.
pub fn read_text(path: &std::path::Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}
