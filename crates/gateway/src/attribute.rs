//! The `attribute` phase: turns the authenticated key plus `x-jevons-*` headers (and the OpenAI
//! body field `user`) into an `Attribution`, refusing malformed values with a clear 400.

use http::HeaderMap;
use jevons_core::attribution::{clean_value, parse_tags};
use jevons_core::Attribution;

use crate::error::GatewayError;

/// Header names jevons reads.
pub mod headers {
    /// End user.
    pub const USER: &str = "x-jevons-user";
    /// Paying customer.
    pub const CUSTOMER: &str = "x-jevons-customer";
    /// Product feature.
    pub const FEATURE: &str = "x-jevons-feature";
    /// Agent run.
    pub const TASK: &str = "x-jevons-task";
    /// Parent agent run.
    pub const PARENT_TASK: &str = "x-jevons-parent-task";
    /// `k=v,...` tags.
    pub const TAGS: &str = "x-jevons-tags";
    /// Routing strategy override.
    pub const ROUTE: &str = "x-jevons-route";
    /// Cascade escalation regex named by the client.
    pub const ESCALATE_REGEX: &str = "x-jevons-escalate-regex";
}

fn header(h: &HeaderMap, name: &'static str) -> Result<Option<String>, GatewayError> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().map_err(|_| {
                GatewayError::bad_request(
                    "invalid_header",
                    format!("header {name} must be visible ASCII text"),
                )
            })?;
            clean_value(name, s)
                .map_err(|e| GatewayError::bad_request("invalid_header", e.to_string()))
        }
    }
}

/// Builds the request's attribution.
pub fn attribute(
    key_id: &str,
    team: &str,
    org: &str,
    h: &HeaderMap,
    body_user: Option<&str>,
) -> Result<Attribution, GatewayError> {
    let user = match header(h, headers::USER)? {
        Some(u) => Some(u),
        None => match body_user {
            Some(u) => clean_value("user", u)
                .map_err(|e| GatewayError::bad_request("invalid_user", e.to_string()))?,
            None => None,
        },
    };
    let tags = match header(h, headers::TAGS)? {
        Some(t) => parse_tags(&t)
            .map_err(|e| GatewayError::bad_request("invalid_header", e.to_string()))?,
        None => Vec::new(),
    };
    Ok(Attribution {
        key_id: key_id.to_string(),
        team: team.to_string(),
        org: org.to_string(),
        user,
        customer: header(h, headers::CUSTOMER)?,
        feature: header(h, headers::FEATURE)?,
        task: header(h, headers::TASK)?,
        parent_task: header(h, headers::PARENT_TASK)?,
        tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_body_user() {
        let mut h = HeaderMap::new();
        h.insert("x-jevons-feature", "search".parse().unwrap());
        h.insert("x-jevons-tags", "env=prod".parse().unwrap());
        let a = attribute("k1", "t", "o", &h, Some("bodyuser")).unwrap();
        assert_eq!(a.feature.as_deref(), Some("search"));
        assert_eq!(a.user.as_deref(), Some("bodyuser"));
        assert_eq!(a.tags, vec![("env".to_string(), "prod".to_string())]);
        h.insert("x-jevons-user", "hdr".parse().unwrap());
        assert_eq!(
            attribute("k1", "t", "o", &h, Some("b"))
                .unwrap()
                .user
                .as_deref(),
            Some("hdr")
        );
        h.insert("x-jevons-tags", "broken".parse().unwrap());
        assert_eq!(
            attribute("k1", "t", "o", &h, None)
                .unwrap_err()
                .status
                .as_u16(),
            400
        );
        let mut h2 = HeaderMap::new();
        h2.insert(
            "x-jevons-task",
            http::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        );
        assert!(attribute("k1", "t", "o", &h2, None).is_err());
    }
}
