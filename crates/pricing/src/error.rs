//! `PricingError`: every way pricing can fail, with messages that say what was wrong and
//! how to fix it. File problems carry every issue found (file, entry, field, line).

use std::fmt;

/// One problem found in a catalog or overrides file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// File label (path or `<bundled>`).
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Entry that holds the problem (e.g. `price[2] openai/gpt-4o`), when known.
    pub entry: Option<String>,
    /// Field name, when known.
    pub field: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(e) = &self.entry {
            write!(f, ": entry {e}")?;
        }
        if let Some(k) = &self.field {
            write!(f, ", field `{k}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Formats a list of issues one per line.
pub fn format_issues(issues: &[Issue]) -> String {
    issues
        .iter()
        .map(|i| format!("  - {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Errors of the pricing crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// A catalog, import or overrides file has problems (all of them are listed).
    #[error("{} problem(s) in {file}:\n{}", issues.len(), format_issues(issues))]
    Invalid {
        /// File label.
        file: String,
        /// Every problem found.
        issues: Vec<Issue>,
    },
    /// A file could not be read.
    #[error("cannot read {file}: {reason}")]
    Io {
        /// Path.
        file: String,
        /// OS error text.
        reason: String,
    },
    /// No catalog entry matches the model name.
    #[error("unknown model '{name}'{}", suggest(candidates))]
    UnknownModel {
        /// Name asked for.
        name: String,
        /// Closest matches (`provider/model`).
        candidates: Vec<String>,
    },
    /// Several entries match the model name.
    #[error("model name '{name}' is ambiguous: it matches {}; use the full `provider/model` key", candidates.join(", "))]
    AmbiguousModel {
        /// Name asked for.
        name: String,
        /// Matching entries (`provider/model`).
        candidates: Vec<String>,
    },
    /// The usage has tokens of a kind the entry has no price for.
    #[error("{provider}/{model} has no {dimension} price, but the usage has {tokens} such tokens; add the price in an overrides file")]
    Unpriced {
        /// Provider.
        provider: String,
        /// Model.
        model: String,
        /// Price dimension (e.g. `output`).
        dimension: &'static str,
        /// Tokens of that kind.
        tokens: u64,
    },
    /// The entry does not offer the requested service tier.
    #[error("{provider}/{model} has no {tier} prices; use the standard tier or add {tier} prices in an overrides file")]
    TierNotOffered {
        /// Provider.
        provider: String,
        /// Model.
        model: String,
        /// Tier name.
        tier: &'static str,
    },
    /// A cost does not fit in one event's `Money` (±9.2 million USD).
    #[error("cost of {provider}/{model} overflows one event's money range (usage too large)")]
    Overflow {
        /// Provider.
        provider: String,
        /// Model.
        model: String,
    },
}

fn suggest(c: &[String]) -> String {
    if c.is_empty() {
        "; see `jevons prices list --search TEXT`".to_string()
    } else {
        format!("; closest matches: {}", c.join(", "))
    }
}
