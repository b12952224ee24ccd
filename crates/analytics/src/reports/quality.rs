//! The quality table (model → score) used for price per unit of quality and for estimated
//! quality in routing replays. A default ships in `data/quality-default.csv` (built from the
//! shared quality data); `--quality FILE` replaces it. A served model matches a row by exact
//! name, then lower-cased, then without its `provider/` prefix, then by canonical id.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::reports::error::ReportError;

const DEFAULT: &str = include_str!("data/quality-default.csv");

/// Model → score.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualityTable {
    scores: BTreeMap<String, Decimal>,
}

#[derive(Deserialize)]
struct Row {
    model: String,
    score: String,
}

impl QualityTable {
    /// The shipped default.
    pub fn bundled() -> Result<QualityTable, ReportError> {
        QualityTable::parse(DEFAULT, "<bundled quality-default.csv>")
    }

    /// Parses a CSV with at least the columns `model,score`.
    pub fn parse(text: &str, file: &str) -> Result<QualityTable, ReportError> {
        let mut rd = csv::ReaderBuilder::new()
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut scores = BTreeMap::new();
        for (i, rec) in rd.deserialize::<Row>().enumerate() {
            let line = i + 2;
            let r = rec.map_err(|e| {
                ReportError::file(
                    file,
                    format!("line {line}: {e}; the header must name model and score"),
                )
            })?;
            let s: Decimal = r.score.parse().map_err(|_| {
                ReportError::file(
                    file,
                    format!("line {line}: score '{}' is not a number", r.score),
                )
            })?;
            if s <= Decimal::ZERO {
                return Err(ReportError::file(
                    file,
                    format!("line {line}: score must be > 0"),
                ));
            }
            scores.insert(r.model.to_ascii_lowercase(), s);
        }
        if scores.is_empty() {
            return Err(ReportError::file(
                file,
                "no rows; write a header `model,score` and one row per model",
            ));
        }
        Ok(QualityTable { scores })
    }

    /// Reads a quality file.
    pub fn load(path: &std::path::Path) -> Result<QualityTable, ReportError> {
        let text = crate::reports::error::read_text(path)?;
        QualityTable::parse(&text, &path.display().to_string())
    }

    /// Score of a served model, if the table knows it.
    pub fn score(&self, model: &str) -> Option<Decimal> {
        let m = model.to_ascii_lowercase();
        if let Some(s) = self.scores.get(&m) {
            return Some(*s);
        }
        let bare = m.rsplit('/').next().unwrap_or(&m);
        if let Some(s) = self.scores.get(bare) {
            return Some(*s);
        }
        self.scores
            .get(&jevons_pricing::canonical_id(model).to_ascii_lowercase())
            .copied()
    }

    /// Number of models.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}
