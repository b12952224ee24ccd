//! `PricePoint`: one (provider, model) list price, the input type of every market analysis,
//! and `BlendRatio`, the input:output token mix used to blend the two prices into one.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Serialize;

use super::MarketError;

/// One provider's list price for one model, USD per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PricePoint {
    /// Provider (e.g. `together_ai`).
    pub provider: String,
    /// The provider's model id.
    pub model: String,
    /// Canonical model id grouping the same model across providers (e.g. `llama-3.1-70b-instruct`);
    /// empty when the catalog has none.
    pub canonical: String,
    /// USD per million input tokens.
    #[serde(with = "rust_decimal::serde::str")]
    pub input_per_mtok: Decimal,
    /// USD per million output tokens.
    #[serde(with = "rust_decimal::serde::str")]
    pub output_per_mtok: Decimal,
}

impl PricePoint {
    /// Convenience constructor (tests, fixtures).
    pub fn new(
        provider: &str,
        model: &str,
        canonical: &str,
        input: Decimal,
        output: Decimal,
    ) -> Self {
        PricePoint {
            provider: provider.to_string(),
            model: model.to_string(),
            canonical: canonical.to_string(),
            input_per_mtok: input,
            output_per_mtok: output,
        }
    }

    /// True when both prices are zero (free tiers, promos, placeholder entries).
    pub fn is_zero_priced(&self) -> bool {
        self.input_per_mtok.is_zero() && self.output_per_mtok.is_zero()
    }

    /// True when any price is negative (bad data).
    pub fn is_negative(&self) -> bool {
        self.input_per_mtok.is_sign_negative() && !self.input_per_mtok.is_zero()
            || self.output_per_mtok.is_sign_negative() && !self.output_per_mtok.is_zero()
    }

    /// Blended price per million tokens for this token mix (exact decimal).
    pub fn blended(&self, ratio: BlendRatio) -> Decimal {
        ratio.blend(self.input_per_mtok, self.output_per_mtok)
    }
}

/// Input:output token mix, e.g. 3:1 (three input tokens per output token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlendRatio {
    /// Input weight.
    pub input: u32,
    /// Output weight.
    pub output: u32,
}

impl Default for BlendRatio {
    fn default() -> Self {
        BlendRatio {
            input: 3,
            output: 1,
        }
    }
}

impl BlendRatio {
    /// `(input × i + output × o) / (i + o)`, exact.
    pub fn blend(self, input: Decimal, output: Decimal) -> Decimal {
        let i = Decimal::from(self.input);
        let o = Decimal::from(self.output);
        (input * i + output * o) / (i + o)
    }
}

impl fmt::Display for BlendRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.input, self.output)
    }
}

impl FromStr for BlendRatio {
    type Err = MarketError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            MarketError::invalid(
                "--ratio",
                s,
                "write input:output as two whole numbers, e.g. 3:1",
            )
        };
        let (a, b) = s.trim().split_once(':').ok_or_else(bad)?;
        let input: u32 = a.trim().parse().map_err(|_| bad())?;
        let output: u32 = b.trim().parse().map_err(|_| bad())?;
        if input == 0 && output == 0 {
            return Err(MarketError::invalid(
                "--ratio",
                s,
                "at least one side must be above 0",
            ));
        }
        Ok(BlendRatio { input, output })
    }
}

/// Rejects a set of points containing a negative price (bad catalog or fixture data).
pub fn check_no_negative(points: &[PricePoint]) -> Result<(), MarketError> {
    match points.iter().find(|p| p.is_negative()) {
        Some(p) => Err(MarketError::invalid(
            "price",
            format!(
                "{}/{} in {} out {}",
                p.provider, p.model, p.input_per_mtok, p.output_per_mtok
            ),
            "prices must be 0 or more USD per million tokens; fix the catalog entry or override",
        )),
        None => Ok(()),
    }
}

/// The price points an analysis runs over, plus where they came from (for the footer).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PriceSet {
    /// The points.
    pub points: Vec<PricePoint>,
    /// Source description, e.g. "bundled catalog (LiteLLM 1.109.1 price map, MIT)".
    pub source: String,
}

impl PriceSet {
    /// Wraps points with a source line.
    pub fn new(points: Vec<PricePoint>, source: impl Into<String>) -> Self {
        PriceSet {
            points,
            source: source.into(),
        }
    }

    /// Points for one canonical id (case-insensitive).
    pub fn for_canonical<'a>(
        &'a self,
        canonical: &'a str,
    ) -> impl Iterator<Item = &'a PricePoint> + 'a {
        self.points
            .iter()
            .filter(move |p| !p.canonical.is_empty() && p.canonical.eq_ignore_ascii_case(canonical))
    }

    /// Distinct canonical ids, sorted.
    pub fn canonicals(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .points
            .iter()
            .filter(|p| !p.canonical.is_empty())
            .map(|p| p.canonical.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Resolves a user-typed model name to a canonical id: exact (case-insensitive), then a
    /// provider model id, then a unique canonical containing the query.
    pub fn resolve_canonical(&self, query: &str) -> Result<String, MarketError> {
        let q = normalize(query);
        let all = self.canonicals();
        if let Some(c) = all.iter().find(|c| normalize(c) == q) {
            return Ok(c.clone());
        }
        if let Some(p) = self.points.iter().find(|p| {
            !p.canonical.is_empty()
                && (normalize(&p.model) == q || normalize(&p.model).ends_with(&format!("/{q}")))
        }) {
            return Ok(p.canonical.clone());
        }
        let hits: Vec<&String> = all.iter().filter(|c| normalize(c).contains(&q)).collect();
        match hits.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(MarketError::UnknownModel {
                model: query.to_string(),
                hint: format!(
                    "no canonical model id matches; closest: {} (list them all with `jevons market spread`)",
                    closest(&all, &q).join(", ")
                ),
            }),
            many => Err(MarketError::UnknownModel {
                model: query.to_string(),
                hint: format!(
                    "ambiguous, it matches {}; give the full canonical id",
                    many.iter()
                        .take(8)
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }
}

/// The canonical ids nearest to a query that matched none: ids containing the query (or
/// contained in it) first, then by edit distance (`jevons_pricing::lookup::levenshtein`,
/// as `jevons prices` suggests model names).
fn closest(all: &[String], q: &str) -> Vec<String> {
    let mut scored: Vec<(usize, &String)> = all
        .iter()
        .map(|c| {
            let n = normalize(c);
            let score = if n.contains(q) || q.contains(n.as_str()) {
                n.len().abs_diff(q.len())
            } else {
                1000 + jevons_pricing::lookup::levenshtein(q, &n)
            };
            (score, c)
        })
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, c)| c.clone()).collect()
}

/// Lower-case, with spaces and underscores as dashes: `Llama 3.1 70B` → `llama-3.1-70b`.
pub fn normalize(s: &str) -> String {
    s.trim().to_ascii_lowercase().replace([' ', '_'], "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(canonicals: &[&str]) -> PriceSet {
        let points = canonicals
            .iter()
            .map(|c| PricePoint::new("p", c, c, Decimal::ONE, Decimal::TWO))
            .collect();
        PriceSet::new(points, "test")
    }

    #[test]
    fn a_typo_lists_the_closest_canonical_ids_first() {
        let s = set(&[
            "llama-3.1-70b-instruct",
            "llama-3.1-8b-instruct",
            "gpt-4o",
            "qwen-2.5-72b",
        ]);
        let err = s
            .resolve_canonical("llama-3.1-70b-instrcut")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("closest: llama-3.1-70b-instruct, llama-3.1-8b-instruct,"),
            "{err}"
        );
        assert_eq!(
            s.resolve_canonical("Llama 3.1 70B Instruct").unwrap(),
            "llama-3.1-70b-instruct"
        );
    }
}
