//! Serde adapters for config text: USD amounts as exact decimals (strings or integers;
//! a TOML float is read back from its shortest text, which is what the user wrote) and
//! durations in humantime form (`"60s"`, `"30m"`).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

struct UsdVisitor;

impl Visitor<'_> for UsdVisitor {
    type Value = Decimal;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a USD amount such as \"100\" or \"12.50\"")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        let t = v.trim().trim_start_matches('$');
        Decimal::from_str(t)
            .or_else(|_| Decimal::from_scientific(t))
            .map_err(|_| E::custom(format!("'{v}' is not a USD amount; write e.g. \"12.50\"")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        // The shortest round-trip text of the parsed float is the decimal the user wrote
        // (for up to 15 significant digits); no arithmetic happens in f64.
        self.visit_str(&v.to_string())
    }
}

/// `Decimal` USD amount.
pub mod usd {
    use super::*;
    /// Reads an amount.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        d.deserialize_any(UsdVisitor)
    }
    /// Writes it as a string (exact).
    pub fn serialize<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.normalize().to_string())
    }
}

/// Optional `Decimal` USD amount.
pub mod usd_opt {
    use super::*;
    /// Reads an amount.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        d.deserialize_any(UsdVisitor).map(Some)
    }
    /// Writes it as a string (exact).
    pub fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_str(&d.normalize().to_string()),
            None => s.serialize_none(),
        }
    }
}

/// Optional duration as humantime text.
pub mod duration_opt {
    use std::time::Duration;

    use serde::Deserialize;

    use super::*;
    /// Reads `"60s"`, `"5m"`, `"1h 30m"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map(Some).map_err(|e| {
            de::Error::custom(format!(
                "'{s}' is not a duration ({e}); write e.g. \"60s\" or \"30m\""
            ))
        })
    }
    /// Writes humantime text.
    pub fn serialize<S: Serializer>(v: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }
}
