//! `Attribution`: who and what a request was for — key, team, org, and the optional
//! per-request dimensions (user, customer, feature, agent task, tags).

use serde::{Deserialize, Serialize};

/// Maximum length of one attribution value; longer header values are refused.
pub const MAX_VALUE_LEN: usize = 256;

/// Who and what one request was for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Attribution {
    /// Virtual key id (never the secret).
    pub key_id: String,
    /// Team that owns the key.
    pub team: String,
    /// Organization.
    pub org: String,
    /// End user (`x-jevons-user`, or the OpenAI body field `user`).
    pub user: Option<String>,
    /// Paying customer (`x-jevons-customer`).
    pub customer: Option<String>,
    /// Product feature (`x-jevons-feature`).
    pub feature: Option<String>,
    /// Agent run (`x-jevons-task`).
    pub task: Option<String>,
    /// Parent agent run (`x-jevons-parent-task`).
    pub parent_task: Option<String>,
    /// Free-form `k=v` tags (`x-jevons-tags`).
    pub tags: Vec<(String, String)>,
}

/// Why an attribution value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributionError {
    /// Value too long.
    #[error("header {header} is {len} bytes; at most {MAX_VALUE_LEN} are allowed")]
    TooLong {
        /// Header name.
        header: &'static str,
        /// Its length.
        len: usize,
    },
    /// Value has control characters.
    #[error("header {header} contains control characters; use printable text")]
    ControlChars {
        /// Header name.
        header: &'static str,
    },
    /// A tag without `=`.
    #[error("x-jevons-tags entry '{0}' is not k=v; write e.g. env=prod,region=eu")]
    BadTag(String),
}

/// Validates one attribution value; empty means absent.
pub fn clean_value(header: &'static str, v: &str) -> Result<Option<String>, AttributionError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.len() > MAX_VALUE_LEN {
        return Err(AttributionError::TooLong {
            header,
            len: v.len(),
        });
    }
    if v.chars().any(char::is_control) {
        return Err(AttributionError::ControlChars { header });
    }
    Ok(Some(v.to_string()))
}

/// Parses `k=v,k2=v2` tags.
pub fn parse_tags(v: &str) -> Result<Vec<(String, String)>, AttributionError> {
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, val) = part
            .split_once('=')
            .ok_or_else(|| AttributionError::BadTag(part.to_string()))?;
        let k = clean_value("x-jevons-tags", k)?
            .ok_or_else(|| AttributionError::BadTag(part.into()))?;
        let val = clean_value("x-jevons-tags", val)?.unwrap_or_default();
        out.push((k, val));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_values() {
        assert_eq!(
            parse_tags("env=prod, region=eu").unwrap(),
            vec![
                ("env".into(), "prod".into()),
                ("region".into(), "eu".into())
            ]
        );
        assert!(parse_tags("nope").is_err());
        assert_eq!(clean_value("x-jevons-user", "  ").unwrap(), None);
        assert!(clean_value("x-jevons-user", &"a".repeat(300)).is_err());
        assert!(clean_value("x-jevons-user", "a\u{0}b").is_err());
    }
}
