//! Method and data-source notes carried by every market report (printed as a footer, and as
//! `method` / `sources` fields in JSON).

use serde::Serialize;

/// How a figure was computed and from what.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Provenance {
    /// The method in a few sentences.
    pub method: Vec<String>,
    /// Data sources with version and licence.
    pub sources: Vec<String>,
    /// Exclusions, caveats, counts of dropped rows.
    pub notes: Vec<String>,
}

impl Provenance {
    /// Footer lines for a table: `method: ...`, `source: ...`, `note: ...`.
    pub fn footer_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.method.iter().map(|m| format!("method: {m}")));
        out.extend(self.sources.iter().map(|s| format!("source: {s}")));
        out.extend(self.notes.iter().map(|n| format!("note: {n}")));
        out
    }
}

/// Attribution line for the parameter-count table.
pub const PARAMS_SOURCE: &str = "parameter counts: crates/analytics/data/open-models.csv, copied from \
    shared/data/params (Epoch AI, 'Data on AI Models', CC BY 4.0, plus makers' model cards/READMEs; \
    see data/README.md)";
