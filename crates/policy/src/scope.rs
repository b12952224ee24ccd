//! Scopes: which dimension of a request's [`Attribution`] a budget or limit applies to
//! (`team:search`, `key:*`, ...), and how a scope's value is read from a request.

use std::fmt;

use jevons_core::Attribution;
use serde::{Deserialize, Serialize};

use crate::error::PolicyError;

/// The attribution dimension a budget, rate limit or cap is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// The organization.
    Org,
    /// The team owning the key.
    Team,
    /// The virtual key id.
    Key,
    /// The end user (`x-jevons-user`).
    User,
    /// The paying customer (`x-jevons-customer`).
    Customer,
    /// The product feature (`x-jevons-feature`).
    Feature,
    /// The agent run (`x-jevons-task`).
    Task,
}

impl ScopeKind {
    /// Every kind, in display order.
    pub const ALL: [ScopeKind; 7] = [
        ScopeKind::Org,
        ScopeKind::Team,
        ScopeKind::Key,
        ScopeKind::User,
        ScopeKind::Customer,
        ScopeKind::Feature,
        ScopeKind::Task,
    ];

    /// The lowercase name used in config and error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Org => "org",
            ScopeKind::Team => "team",
            ScopeKind::Key => "key",
            ScopeKind::User => "user",
            ScopeKind::Customer => "customer",
            ScopeKind::Feature => "feature",
            ScopeKind::Task => "task",
        }
    }

    /// Parses a kind name.
    pub fn parse(s: &str) -> Option<ScopeKind> {
        ScopeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// This dimension's value in a request, when the request has one (empty = absent).
    pub fn value_of(self, a: &Attribution) -> Option<&str> {
        let v = match self {
            ScopeKind::Org => Some(a.org.as_str()),
            ScopeKind::Team => Some(a.team.as_str()),
            ScopeKind::Key => Some(a.key_id.as_str()),
            ScopeKind::User => a.user.as_deref(),
            ScopeKind::Customer => a.customer.as_deref(),
            ScopeKind::Feature => a.feature.as_deref(),
            ScopeKind::Task => a.task.as_deref(),
        };
        v.filter(|s| !s.is_empty())
    }
}

impl fmt::Display for ScopeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A configured scope: a kind and either one value or `*` (each distinct value gets its
/// own budget / limit). Written `kind:value` in config, e.g. `team:search`, `key:*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope {
    /// The dimension.
    pub kind: ScopeKind,
    /// One value, or `*` for "each value separately".
    pub value: String,
}

impl Scope {
    /// The wildcard value: every distinct value gets its own state.
    pub const EACH: &'static str = "*";

    /// Parses `kind:value`.
    pub fn parse(text: &str) -> Result<Scope, PolicyError> {
        let bad = || PolicyError::BadScope(text.to_string());
        let (k, v) = text.trim().split_once(':').ok_or_else(bad)?;
        let kind = ScopeKind::parse(k.trim()).ok_or_else(bad)?;
        let value = v.trim();
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(bad());
        }
        Ok(Scope {
            kind,
            value: value.to_string(),
        })
    }

    /// True for `kind:*`.
    pub fn is_each(&self) -> bool {
        self.value == Scope::EACH
    }

    /// The concrete value this scope takes for a request, or `None` when it does not apply.
    pub fn applies_to<'a>(&self, a: &'a Attribution) -> Option<&'a str> {
        let v = self.kind.value_of(a)?;
        (self.is_each() || self.value == v).then_some(v)
    }
}

impl TryFrom<String> for Scope {
    type Error = PolicyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Scope::parse(&s)
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.to_string()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

/// One concrete scope a request fell under (kind + the request's value), as named in
/// refusals and status rows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScopeRef {
    /// The dimension.
    pub kind: ScopeKind,
    /// The concrete value (never `*`).
    pub value: String,
}

impl fmt::Display for ScopeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let s = Scope::parse("team:search").unwrap();
        let a = Attribution {
            team: "search".into(),
            key_id: "k1".into(),
            ..Default::default()
        };
        assert_eq!(s.applies_to(&a), Some("search"));
        let other = Attribution {
            team: "ads".into(),
            ..Default::default()
        };
        assert_eq!(s.applies_to(&other), None);
        let each = Scope::parse("customer:*").unwrap();
        assert_eq!(each.applies_to(&a), None, "no customer on the request");
        assert!(Scope::parse("galaxy:x").is_err());
        assert!(Scope::parse("team").is_err());
        assert!(Scope::parse("team:").is_err());
        assert_eq!(s.to_string(), "team:search");
    }
}
