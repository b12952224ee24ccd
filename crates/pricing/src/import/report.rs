//! What an import did: counts of what was imported and skipped, and every invalid entry
//! as an [`Issue`] (file, entry, field); `strict` turns skipped invalid entries into an
//! error for callers that must not lose a price silently.

use std::collections::BTreeMap;

use crate::error::{Issue, PricingError};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Top-level keys in the file (model entries + non-model keys).
    pub keys: usize,
    /// Entries written to the catalog.
    pub imported: usize,
    /// Non-model keys skipped (`sample_spec`, `fallback_generalizations`, non-objects).
    pub non_model_keys: Vec<String>,
    /// Entries skipped by mode (mode → count).
    pub skipped_mode: BTreeMap<String, usize>,
    /// Entries in scope without any per-token price.
    pub skipped_no_price: Vec<String>,
    /// Problems of in-scope entries that were skipped as invalid (entry = source key,
    /// field = source key or catalog field).
    pub skipped_invalid: Vec<Issue>,
    /// Price keys present in imported entries that the catalog format does not carry
    /// (key → number of entries), e.g. per-second or 12-hour-cache prices.
    pub ignored_price_keys: BTreeMap<String, usize>,
}

impl ImportReport {
    /// Entries skipped as invalid (an entry can have several problems).
    pub fn invalid_entries(&self) -> usize {
        let mut keys: Vec<&Option<String>> =
            self.skipped_invalid.iter().map(|i| &i.entry).collect();
        keys.dedup();
        keys.len()
    }

    /// `Err` listing every problem when any in-scope entry was skipped as invalid.
    pub fn strict(&self, file: &str) -> Result<(), PricingError> {
        if self.skipped_invalid.is_empty() {
            Ok(())
        } else {
            Err(PricingError::Invalid {
                file: file.to_string(),
                issues: self.skipped_invalid.clone(),
            })
        }
    }
}
