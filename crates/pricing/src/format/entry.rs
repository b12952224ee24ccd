//! Reads one catalog entry field by field from its JSON text, so a bad entry reports
//! every problem at once with its field path (`standard.context_tiers[0].prices.input`),
//! its line, and the entry's `provider/model`. Prices must be decimal strings.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::EntryDoc;
use crate::error::Issue;
use crate::price::{ContextTier, Dim, Plan, PriceSet};

type Obj<'a> = BTreeMap<String, &'a RawValue>;

const ENTRY_FIELDS: &str = "provider, model, canonical, mode, max_input_tokens, max_output_tokens, source, as_of, standard, batch, flex, priority, web_search_per_call";

/// Reading context: the whole file (for line numbers) and where issues go.
pub(super) struct Reader<'s, 'i> {
    /// The whole file text; every `RawValue` borrows from it.
    pub src: &'s str,
    /// File label.
    pub file: &'s str,
    /// Entry label, e.g. `entries[3] openai/gpt-4o`.
    pub label: String,
    /// Issues found so far.
    pub issues: &'i mut Vec<Issue>,
}

impl Reader<'_, '_> {
    fn line(&self, raw: &RawValue) -> usize {
        let offset = (raw.get().as_ptr() as usize).saturating_sub(self.src.as_ptr() as usize);
        super::line_of(self.src, offset)
    }

    fn push(&mut self, raw: &RawValue, field: &str, message: String) {
        let line = Some(self.line(raw));
        self.issues.push(Issue {
            file: self.file.to_string(),
            line,
            entry: Some(self.label.clone()),
            field: Some(field.to_string()),
            message,
        });
    }

    fn object<'a>(&mut self, raw: &'a RawValue, field: &str) -> Option<Obj<'a>> {
        match serde_json::from_str::<Obj<'a>>(raw.get()) {
            Ok(o) => Some(o),
            Err(_) => {
                self.push(
                    raw,
                    field,
                    format!("expected an object, found `{}`", short(raw)),
                );
                None
            }
        }
    }

    fn string(&mut self, raw: &RawValue, field: &str) -> Option<String> {
        match serde_json::from_str::<String>(raw.get()) {
            Ok(s) => Some(s),
            Err(_) => {
                self.push(
                    raw,
                    field,
                    format!("expected a string, found `{}`", short(raw)),
                );
                None
            }
        }
    }

    fn count(&mut self, raw: &RawValue, field: &str) -> Option<u64> {
        match u64::from_str(raw.get().trim()) {
            Ok(n) => Some(n),
            Err(_) => {
                let msg = format!("expected a whole number >= 0, found `{}`", short(raw));
                self.push(raw, field, msg);
                None
            }
        }
    }

    /// A price: a JSON string holding a decimal (read exactly; numbers are refused so
    /// no price ever passes through a float).
    fn price(&mut self, raw: &RawValue, field: &str) -> Option<Decimal> {
        let Ok(text) = serde_json::from_str::<String>(raw.get()) else {
            let msg = format!(
                "expected a decimal string such as \"2.5\" (USD per million tokens), found `{}`",
                short(raw)
            );
            self.push(raw, field, msg);
            return None;
        };
        let t = text.trim();
        let parsed =
            Decimal::from_str(t).or_else(|_| Decimal::from_scientific(&t.to_ascii_lowercase()));
        match parsed {
            Ok(d) => Some(d),
            Err(_) => {
                let msg = format!(
                    "'{text}' is not a decimal number; write e.g. \"2.5\" (USD per million tokens)"
                );
                self.push(raw, field, msg);
                None
            }
        }
    }

    fn price_set(&mut self, raw: &RawValue, path: &str) -> PriceSet {
        let mut set = PriceSet::default();
        let Some(obj) = self.object(raw, path) else {
            return set;
        };
        for (k, v) in obj {
            let field = format!("{path}.{k}");
            match Dim::ALL.into_iter().find(|d| d.name() == k) {
                Some(d) => set.set(d, self.price(v, &field)),
                None => {
                    let names: Vec<&str> = Dim::ALL.iter().map(|d| d.name()).collect();
                    let msg = format!("unknown price `{k}`; expected one of {}", names.join(", "));
                    self.push(v, &field, msg);
                }
            }
        }
        set
    }

    fn plan(&mut self, raw: &RawValue, path: &str) -> Plan {
        let mut plan = Plan::default();
        let Some(obj) = self.object(raw, path) else {
            return plan;
        };
        if !obj.contains_key("prices") {
            self.push(
                raw,
                &format!("{path}.prices"),
                "missing; a plan needs `prices`".into(),
            );
        }
        for (k, v) in obj {
            let field = format!("{path}.{k}");
            match k.as_str() {
                "prices" => plan.prices = self.price_set(v, &field),
                "context_tiers" => {
                    let Ok(tiers) = serde_json::from_str::<Vec<&RawValue>>(v.get()) else {
                        self.push(
                            v,
                            &field,
                            format!("expected an array, found `{}`", short(v)),
                        );
                        continue;
                    };
                    for (i, t) in tiers.into_iter().enumerate() {
                        let tp = format!("{field}[{i}]");
                        plan.context_tiers.push(self.context_tier(t, &tp));
                    }
                }
                _ => self.push(
                    v,
                    &field,
                    "unknown field; a plan has `prices` and `context_tiers`".into(),
                ),
            }
        }
        plan
    }

    fn context_tier(&mut self, raw: &RawValue, path: &str) -> ContextTier {
        let mut t = ContextTier::default();
        let Some(obj) = self.object(raw, path) else {
            return t;
        };
        for need in ["above_input_tokens", "prices"] {
            if !obj.contains_key(need) {
                self.push(
                    raw,
                    &format!("{path}.{need}"),
                    "missing; a context tier needs `above_input_tokens` and `prices`".into(),
                );
            }
        }
        for (k, v) in obj {
            let field = format!("{path}.{k}");
            match k.as_str() {
                "above_input_tokens" => t.above_input_tokens = self.count(v, &field).unwrap_or(0),
                "prices" => t.prices = self.price_set(v, &field),
                _ => self.push(
                    v,
                    &field,
                    "unknown field; a context tier has `above_input_tokens` and `prices`".into(),
                ),
            }
        }
        t
    }

    /// Reads one entry: what could be read, and whether it was read without a problem
    /// (every problem is in `issues`); `None` when the entry is not an object.
    pub fn entry(&mut self, raw: &RawValue, index: usize) -> Option<(EntryDoc, bool)> {
        let before = self.issues.len();
        self.label = format!("entries[{index}]");
        let Ok(obj) = serde_json::from_str::<Obj>(raw.get()) else {
            let line = Some(self.line(raw));
            self.issues.push(Issue {
                file: self.file.to_string(),
                line,
                entry: Some(self.label.clone()),
                field: None,
                message: format!("expected an entry object, found `{}`", short(raw)),
            });
            return None;
        };
        let name = |k: &str| {
            obj.get(k)
                .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
        };
        if let (Some(p), Some(m)) = (name("provider"), name("model")) {
            self.label = format!("entries[{index}] {p}/{m}");
        }
        for need in [
            "provider",
            "model",
            "canonical",
            "mode",
            "source",
            "as_of",
            "standard",
        ] {
            if !obj.contains_key(need) {
                self.push(raw, need, "missing; every entry needs provider, model, canonical, mode, source, as_of and standard".into());
            }
        }
        let mut d = EntryDoc::default();
        for (k, v) in &obj {
            let v = *v;
            match k.as_str() {
                "provider" => d.provider = self.string(v, k).unwrap_or_default(),
                "model" => d.model = self.string(v, k).unwrap_or_default(),
                "canonical" => d.canonical = self.string(v, k).unwrap_or_default(),
                "mode" => d.mode = self.string(v, k).unwrap_or_default(),
                "source" => d.source = self.string(v, k).unwrap_or_default(),
                "as_of" => d.as_of = self.string(v, k).unwrap_or_default(),
                "max_input_tokens" => d.max_input_tokens = self.count(v, k),
                "max_output_tokens" => d.max_output_tokens = self.count(v, k),
                "standard" => d.standard = self.plan(v, k),
                "batch" => d.batch = Some(self.plan(v, k)),
                "flex" => d.flex = Some(self.plan(v, k)),
                "priority" => d.priority = Some(self.plan(v, k)),
                "web_search_per_call" => d.web_search_per_call = self.price(v, k),
                _ => self.push(v, k, format!("unknown field; expected {ENTRY_FIELDS}")),
            }
        }
        Some((d, self.issues.len() == before))
    }
}

/// The start of a JSON value, for messages.
fn short(raw: &RawValue) -> String {
    let t = raw.get().trim();
    match t.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}
