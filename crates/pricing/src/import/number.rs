//! Exact decimal numbers from JSON text (never through `f64`): `2.5e-06` is read from its
//! characters, so it becomes exactly 2.5 per million tokens.

use std::str::FromStr;

use rust_decimal::Decimal;

/// Parses a JSON number (or a JSON string holding one) from its raw text, exactly.
pub fn decimal_from_json_text(raw: &str) -> Option<Decimal> {
    let t = raw.trim();
    let t = t
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(t)
        .trim();
    if t.is_empty() {
        return None;
    }
    if t.contains(['e', 'E']) {
        Decimal::from_scientific(&t.to_ascii_lowercase()).ok()
    } else {
        Decimal::from_str(t).ok()
    }
}

/// A USD-per-token text converted to USD per million tokens, exactly.
pub fn per_token_to_per_mtok(raw: &str) -> Option<Decimal> {
    decimal_from_json_text(raw)?
        .checked_mul(Decimal::from(1_000_000))
        .map(|d| d.normalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_from_text() {
        assert_eq!(
            per_token_to_per_mtok("2.5e-06"),
            Decimal::from_str("2.5").ok()
        );
        assert_eq!(per_token_to_per_mtok("3E-7"), Decimal::from_str("0.3").ok());
        assert_eq!(
            per_token_to_per_mtok("1.0000000000000001e-07"),
            Decimal::from_str("0.10000000000000001").ok()
        );
        assert_eq!(per_token_to_per_mtok("0.0"), Some(Decimal::ZERO));
        assert_eq!(
            per_token_to_per_mtok("\"1e-06\""),
            Decimal::from_str("1").ok()
        );
        assert_eq!(per_token_to_per_mtok("true"), None);
        assert_eq!(per_token_to_per_mtok("{}"), None);
    }
}
