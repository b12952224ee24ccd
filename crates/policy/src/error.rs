//! The crate's one error type: bad policy configuration (every issue, each naming its
//! field) and bad runtime calls (unknown budget). Refusals of requests are not errors:
//! they are [`crate::Refusal`] values.

use std::fmt;

/// One problem in a policy config, naming the field (e.g. `budgets[2].limit_usd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Path of the offending field.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Everything that can go wrong configuring or administering the policy engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A scope string that is not `kind:value`.
    #[error("scope '{0}' must be KIND:VALUE (KIND one of org, team, key, user, customer, feature, task; VALUE a name or * for each value), e.g. team:search")]
    BadScope(String),
    /// The TOML text did not parse (the message carries line and column).
    #[error("policy config is not valid TOML: {0}")]
    Toml(String),
    /// One or more fields are invalid; every issue is listed.
    #[error("invalid policy config ({} problem(s)):\n  {}", .0.len(), join(.0))]
    Invalid(Vec<ConfigIssue>),
    /// No budget with that name exists.
    #[error("no budget named '{0}'; `jevons budgets list` shows the names")]
    UnknownBudget(String),
    /// The ledger could not say what a new budget's scope already spent.
    #[error("cannot read the spend of the budget's scope from the ledger: {0}")]
    Ledger(String),
}

fn join(v: &[ConfigIssue]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

impl PolicyError {
    /// The field-level issues (empty for other kinds).
    pub fn issues(&self) -> &[ConfigIssue] {
        match self {
            PolicyError::Invalid(v) => v,
            _ => &[],
        }
    }
}
