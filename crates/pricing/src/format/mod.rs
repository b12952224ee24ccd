//! The catalog file format (JSON, see `docs/catalog-format.md`): document types, a parser
//! that reports every problem of a file at once (file, line, entry `provider/model`, field;
//! entries are read field by field in `entry.rs`), and a writer that puts one entry per
//! line so diffs stay readable.

mod entry;

use std::collections::HashSet;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{Issue, PricingError};
use crate::price::{Dim, Plan, PriceEntry};
use crate::rates::CompiledEntry;

/// Format tag written in every catalog file.
pub const FORMAT: &str = "jevons-catalog/1";

/// Where a catalog's prices come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceInfo {
    /// Short label, e.g. `litellm 1.109.1`.
    pub name: String,
    /// SHA-256 of the source file, hex.
    #[serde(default)]
    pub sha256: String,
    /// License of the source data.
    #[serde(default)]
    pub license: String,
    /// Copyright notice to keep.
    #[serde(default)]
    pub copyright: String,
    /// Upstream URL.
    #[serde(default)]
    pub url: String,
}

/// Catalog-level metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// Where the prices come from.
    pub source: SourceInfo,
    /// Date the prices were taken (YYYY-MM-DD).
    pub as_of: String,
}

/// One entry as written in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryDoc {
    /// Provider id.
    pub provider: String,
    /// Model key.
    pub model: String,
    /// Canonical model id.
    pub canonical: String,
    /// Mode.
    pub mode: String,
    /// Context window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_input_tokens: Option<u64>,
    /// Output limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Source label.
    pub source: String,
    /// Date.
    pub as_of: String,
    /// Standard tier.
    pub standard: Plan,
    /// Batch tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<Plan>,
    /// Flex tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flex: Option<Plan>,
    /// Priority tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Plan>,
    /// USD per web search call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search_per_call: Option<Decimal>,
}

impl EntryDoc {
    /// Builds the (compiled) entry.
    pub fn into_entry(self) -> PriceEntry {
        let mut e = PriceEntry {
            provider: self.provider,
            model: self.model,
            canonical: self.canonical,
            mode: self.mode,
            max_input_tokens: self.max_input_tokens,
            max_output_tokens: self.max_output_tokens,
            source: self.source,
            as_of: self.as_of,
            standard: self.standard,
            batch: self.batch,
            flex: self.flex,
            priority: self.priority,
            web_search_per_call: self.web_search_per_call,
            discount: None,
            compiled: Arc::new(CompiledEntry::default()),
        };
        e.recompile();
        e
    }

    /// The file form of an entry.
    pub fn from_entry(e: &PriceEntry) -> EntryDoc {
        EntryDoc {
            provider: e.provider.clone(),
            model: e.model.clone(),
            canonical: e.canonical.clone(),
            mode: e.mode.clone(),
            max_input_tokens: e.max_input_tokens,
            max_output_tokens: e.max_output_tokens,
            source: e.source.clone(),
            as_of: e.as_of.clone(),
            standard: e.standard.clone(),
            batch: e.batch.clone(),
            flex: e.flex.clone(),
            priority: e.priority.clone(),
            web_search_per_call: e.web_search_per_call,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc<'a> {
    format: String,
    source: SourceInfo,
    as_of: String,
    #[serde(borrow)]
    entries: Vec<&'a RawValue>,
}

fn line_of(src: &str, offset: usize) -> usize {
    src.get(..offset).map_or(0, |s| s.matches('\n').count()) + 1
}

/// Checks prices of a plan: non-negative, context tiers strictly ascending.
pub fn check_plan(plan: &Plan, path: &str, mut push: impl FnMut(String, String)) {
    let sets = std::iter::once((format!("{path}.prices"), &plan.prices)).chain(
        plan.context_tiers
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("{path}.context_tiers[{i}].prices"), &t.prices)),
    );
    for (p, set) in sets {
        for d in Dim::ALL {
            if let Some(v) = set.get(d) {
                if v.is_sign_negative() && !v.is_zero() {
                    push(
                        format!("{p}.{}", d.name()),
                        format!("price {v} is negative; prices are USD per million tokens, >= 0"),
                    );
                }
            }
        }
    }
    let mut last = 0u64;
    for (i, t) in plan.context_tiers.iter().enumerate() {
        if t.above_input_tokens == 0 || t.above_input_tokens <= last {
            push(
                format!("{path}.context_tiers[{i}].above_input_tokens"),
                "context tiers need thresholds > 0 in strictly ascending order".into(),
            );
        }
        last = t.above_input_tokens;
    }
}

/// Validates one entry; appends issues.
pub fn check_entry(doc: &EntryDoc, file: &str, entry: &str, line: Option<usize>) -> Vec<Issue> {
    let mut issues = Vec::new();
    let mut push = |field: String, message: String| {
        issues.push(Issue {
            file: file.to_string(),
            line,
            entry: Some(entry.to_string()),
            field: Some(field),
            message,
        })
    };
    if doc.provider.trim().is_empty() {
        push("provider".into(), "must not be empty".into());
    }
    if doc.model.trim().is_empty() {
        push("model".into(), "must not be empty".into());
    }
    check_plan(&doc.standard, "standard", &mut push);
    for (name, p) in [
        ("batch", &doc.batch),
        ("flex", &doc.flex),
        ("priority", &doc.priority),
    ] {
        if let Some(p) = p {
            check_plan(p, name, &mut push);
        }
    }
    if let Some(w) = doc.web_search_per_call {
        if w.is_sign_negative() && !w.is_zero() {
            push(
                "web_search_per_call".into(),
                format!("price {w} is negative"),
            );
        }
    }
    issues
}

/// Parses a catalog file; every problem is reported at once.
pub fn parse(src: &str, file: &str) -> Result<(CatalogMeta, Vec<PriceEntry>), PricingError> {
    let invalid = |issues: Vec<Issue>| PricingError::Invalid {
        file: file.to_string(),
        issues,
    };
    let doc: FileDoc = serde_json::from_str(src).map_err(|e| {
        invalid(vec![Issue {
            file: file.to_string(),
            line: Some(e.line()),
            entry: None,
            field: None,
            message: format!(
                "not a valid catalog file ({e}); regenerate it with `jevons prices import`"
            ),
        }])
    })?;
    let mut issues = Vec::new();
    if doc.format != FORMAT {
        issues.push(Issue {
            file: file.into(),
            line: None,
            entry: None,
            field: Some("format".into()),
            message: format!("unsupported format '{}', expected '{FORMAT}'", doc.format),
        });
    }
    let base = src.as_ptr() as usize;
    let mut seen = HashSet::new();
    let mut entries = Vec::with_capacity(doc.entries.len());
    // Entries come in file order: count newlines from the previous entry only (counting
    // from the file start each time made loading the bundled catalog quadratic, ~0.9 s).
    let (mut at, mut line) = (0usize, 1usize);
    for (i, raw) in doc.entries.iter().enumerate() {
        let offset = (raw.get().as_ptr() as usize).saturating_sub(base);
        line += src.get(at..offset).map_or(0, |s| s.matches('\n').count());
        at = offset.max(at);
        let before = issues.len();
        let mut reader = entry::Reader {
            src,
            file,
            label: String::new(),
            issues: &mut issues,
        };
        let Some((d, read_ok)) = reader.entry(raw, i) else {
            continue;
        };
        let label = std::mem::take(&mut reader.label);
        // Value checks (negative prices, tier order...) on what could be read; a field
        // already reported as unreadable is not reported twice.
        let reported: HashSet<Option<String>> =
            issues[before..].iter().map(|x| x.field.clone()).collect();
        let found: Vec<Issue> = check_entry(&d, file, &label, Some(line))
            .into_iter()
            .filter(|x| !reported.contains(&x.field))
            .collect();
        if read_ok && !seen.insert((d.provider.clone(), d.model.clone())) {
            issues.push(Issue {
                file: file.into(),
                line: Some(line),
                entry: Some(label),
                field: None,
                message: "duplicate (provider, model); keep one entry".into(),
            });
        }
        if read_ok && found.is_empty() {
            entries.push(d.into_entry());
        }
        issues.extend(found);
    }
    if issues.is_empty() {
        let meta = CatalogMeta {
            format: doc.format,
            source: doc.source,
            as_of: doc.as_of,
        };
        Ok((meta, entries))
    } else {
        Err(invalid(issues))
    }
}

/// Writes a catalog file: a header and one entry per line.
pub fn write(meta: &CatalogMeta, entries: &[PriceEntry]) -> Result<String, serde_json::Error> {
    let mut out = String::new();
    out.push_str("{\"format\":");
    out.push_str(&serde_json::to_string(&meta.format)?);
    out.push_str(",\n\"source\":");
    out.push_str(&serde_json::to_string(&meta.source)?);
    out.push_str(",\n\"as_of\":");
    out.push_str(&serde_json::to_string(&meta.as_of)?);
    out.push_str(",\n\"entries\":[\n");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n");
        }
        out.push_str(&serde_json::to_string(&EntryDoc::from_entry(e))?);
    }
    out.push_str("\n]}\n");
    Ok(out)
}
