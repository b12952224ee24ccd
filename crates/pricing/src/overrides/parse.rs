//! TOML parsing of an overrides file with byte spans, so each problem names its line;
//! numbers are read from their literal text (exact), every problem is collected.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_spanned::Spanned;

use super::{DiscountRule, Overrides, PriceOverride};
use crate::error::{Issue, PricingError};
use crate::price::{Dim, PriceSet};

type Table = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

#[derive(Deserialize)]
struct Doc {
    #[serde(default)]
    price: Vec<Spanned<Table>>,
    #[serde(default)]
    discount: Vec<Spanned<Table>>,
}

struct Ctx<'a> {
    src: &'a str,
    file: &'a str,
    issues: Vec<Issue>,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        self.src
            .get(..offset)
            .map_or(0, |s| s.matches('\n').count())
            + 1
    }

    fn push(&mut self, offset: usize, entry: &str, field: Option<&str>, message: String) {
        let line = Some(self.line(offset));
        self.issues.push(Issue {
            file: self.file.to_string(),
            line,
            entry: Some(entry.to_string()),
            field: field.map(str::to_string),
            message,
        });
    }

    /// Exact decimal from a string or number literal (its source text).
    fn price(&mut self, v: &Spanned<toml::Value>, entry: &str, field: &str) -> Option<Decimal> {
        let text = match v.get_ref() {
            toml::Value::String(s) => s.trim().to_string(),
            toml::Value::Integer(_) | toml::Value::Float(_) => self
                .src
                .get(v.span())
                .unwrap_or_default()
                .replace('_', "")
                .trim_start_matches('+')
                .to_string(),
            other => {
                let msg = format!(
                    "expected a price (e.g. \"2.50\"), found {}",
                    other.type_str()
                );
                self.push(v.span().start, entry, Some(field), msg);
                return None;
            }
        };
        let parsed = Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text.to_ascii_lowercase()))
            .ok();
        match parsed {
            None => {
                let msg = format!("'{text}' is not a decimal number; write e.g. \"2.50\" (USD per million tokens)");
                self.push(v.span().start, entry, Some(field), msg);
                None
            }
            Some(d) if d.is_sign_negative() && !d.is_zero() => {
                let msg = format!("price {d} is negative; prices must be >= 0");
                self.push(v.span().start, entry, Some(field), msg);
                None
            }
            Some(d) => Some(d.normalize()),
        }
    }

    fn string(&mut self, v: &Spanned<toml::Value>, entry: &str, field: &str) -> Option<String> {
        match v.get_ref() {
            toml::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => {
                self.push(
                    v.span().start,
                    entry,
                    Some(field),
                    "expected a non-empty string".into(),
                );
                None
            }
        }
    }

    fn count(&mut self, v: &Spanned<toml::Value>, entry: &str, field: &str) -> Option<u64> {
        match v.get_ref() {
            toml::Value::Integer(i) if *i >= 0 => u64::try_from(*i).ok(),
            _ => {
                self.push(
                    v.span().start,
                    entry,
                    Some(field),
                    "expected a whole number >= 0".into(),
                );
                None
            }
        }
    }
}

fn dim_named(name: &str) -> Option<Dim> {
    Dim::ALL.into_iter().find(|d| d.name() == name)
}

/// Parses and validates an overrides file.
pub(super) fn parse(src: &str, file: &str) -> Result<Overrides, PricingError> {
    let mut cx = Ctx {
        src,
        file,
        issues: Vec::new(),
    };
    let fail = |issues: Vec<Issue>| PricingError::Invalid {
        file: file.to_string(),
        issues,
    };
    let syntax = |e: toml::de::Error| {
        let line = e
            .span()
            .map(|s| src.get(..s.start).map_or(0, |p| p.matches('\n').count()) + 1);
        vec![Issue {
            file: file.to_string(),
            line,
            entry: None,
            field: None,
            message: e.message().to_string(),
        }]
    };
    let top: BTreeMap<Spanned<String>, Spanned<toml::Value>> =
        toml::from_str(src).map_err(|e| fail(syntax(e)))?;
    for k in top.keys() {
        if k.get_ref() != "price" && k.get_ref() != "discount" {
            let msg = format!(
                "unknown section `{}`; expected [[price]] or [[discount]]",
                k.get_ref()
            );
            cx.push(k.span().start, k.get_ref(), None, msg);
        }
    }
    let doc: Doc = toml::from_str(src).map_err(|e| fail(syntax(e)))?;
    let mut out = Overrides {
        file: file.to_string(),
        ..Overrides::default()
    };
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for (i, t) in doc.price.iter().enumerate() {
        let key = (str_field(t, "provider"), str_field(t, "model"));
        let line = cx.line(t.span().start);
        let parsed = price_entry(&mut cx, i, t);
        if let (Some(p), Some(m)) = &key {
            if let Some(first) = seen.insert((p.clone(), m.clone()), line) {
                let msg = format!("duplicate entry (first at line {first}); keep one");
                cx.push(t.span().start, &format!("price[{i}] {p}/{m}"), None, msg);
                continue;
            }
        }
        out.prices.extend(parsed);
    }
    let mut seen: HashMap<(String, Option<String>), usize> = HashMap::new();
    for (i, t) in doc.discount.iter().enumerate() {
        if let Some(r) = discount_rule(&mut cx, i, t) {
            if let Some(first) = seen.insert((r.provider.clone(), r.model.clone()), r.line) {
                let msg = format!("duplicate discount (first at line {first}); keep one");
                cx.push(
                    t.span().start,
                    &format!("discount[{i}] {}", r.provider),
                    None,
                    msg,
                );
            } else {
                out.discounts.push(r);
            }
        }
    }
    if cx.issues.is_empty() {
        Ok(out)
    } else {
        cx.issues.sort_by_key(|i| i.line);
        Err(fail(cx.issues))
    }
}

/// A string field of a table, if present and a string.
fn str_field(t: &Spanned<Table>, name: &str) -> Option<String> {
    t.get_ref()
        .iter()
        .find(|(k, _)| k.get_ref() == name)
        .and_then(|(_, v)| v.get_ref().as_str().map(str::to_string))
}

fn price_entry(cx: &mut Ctx, i: usize, t: &Spanned<Table>) -> Option<PriceOverride> {
    let before = cx.issues.len();
    let s = |k: &str| str_field(t, k).unwrap_or_else(|| "?".into());
    let entry = format!("price[{i}] {}/{}", s("provider"), s("model"));
    let mut p = PriceOverride {
        line: cx.line(t.span().start),
        ..PriceOverride::default()
    };
    for (k, v) in t.get_ref() {
        let key = k.get_ref().as_str();
        let (tier, dim_name) = match key.split_once('_') {
            Some((pre @ ("batch" | "flex" | "priority"), rest)) => (Some(pre), rest),
            _ => (None, key),
        };
        if let Some(d) = dim_named(dim_name) {
            let price = cx.price(v, &entry, key);
            let set: &mut PriceSet = match tier {
                None => &mut p.standard,
                Some("batch") => &mut p.batch,
                Some("flex") => &mut p.flex,
                _ => &mut p.priority,
            };
            set.set(d, price);
            continue;
        }
        match key {
            "provider" => p.provider = cx.string(v, &entry, key).unwrap_or_default(),
            "model" => p.model = cx.string(v, &entry, key).unwrap_or_default(),
            "canonical" => p.canonical = cx.string(v, &entry, key),
            "mode" => p.mode = cx.string(v, &entry, key),
            "max_input_tokens" => p.max_input_tokens = cx.count(v, &entry, key),
            "max_output_tokens" => p.max_output_tokens = cx.count(v, &entry, key),
            "web_search_per_call" => p.web_search_per_call = cx.price(v, &entry, key),
            _ => {
                let msg = "unknown field; expected provider, model, canonical, mode, max_input_tokens, max_output_tokens, web_search_per_call, a price (input, output, cache_read, cache_write_5m, cache_write_1h, reasoning, input_audio, output_audio, input_image, output_image) or a tier price (batch_input, flex_output, priority_cache_read, ...)".to_string();
                cx.push(k.span().start, &entry, Some(key), msg);
            }
        }
    }
    require(
        cx,
        t,
        &entry,
        &[("provider", &p.provider), ("model", &p.model)],
    );
    (cx.issues.len() == before).then_some(p)
}

fn require(cx: &mut Ctx, t: &Spanned<Table>, entry: &str, fields: &[(&str, &str)]) {
    for (name, val) in fields {
        let present = t.get_ref().keys().any(|k| k.get_ref() == name);
        if val.is_empty() && !present {
            cx.push(
                t.span().start,
                entry,
                Some(name),
                format!("missing required field `{name}`"),
            );
        }
    }
}

fn discount_rule(cx: &mut Ctx, i: usize, t: &Spanned<Table>) -> Option<DiscountRule> {
    let before = cx.issues.len();
    let entry = format!("discount[{i}]");
    let mut r = DiscountRule {
        line: cx.line(t.span().start),
        ..DiscountRule::default()
    };
    for (k, v) in t.get_ref() {
        let key = k.get_ref().as_str();
        if let Some(d) = dim_named(key) {
            let price = cx.price(v, &entry, key);
            r.prices.set(d, price);
            continue;
        }
        match key {
            "provider" => r.provider = cx.string(v, &entry, key).unwrap_or_default(),
            "model" => r.model = cx.string(v, &entry, key),
            "percent" => {
                r.percent = cx.price(v, &entry, key);
                if r.percent.is_some_and(|p| p > Decimal::ONE_HUNDRED) {
                    cx.push(
                        v.span().start,
                        &entry,
                        Some(key),
                        "percent must be between 0 and 100".into(),
                    );
                }
            }
            _ => {
                let msg = "unknown field; expected provider, model, percent, or negotiated prices (input, output, cache_read, ...)".to_string();
                cx.push(k.span().start, &entry, Some(key), msg);
            }
        }
    }
    require(cx, t, &entry, &[("provider", &r.provider)]);
    let has_prices = !r.prices.is_empty();
    if has_prices && r.model.is_none() {
        cx.push(
            t.span().start,
            &entry,
            Some("model"),
            "negotiated prices need a `model`".into(),
        );
    }
    if has_prices && r.percent.is_some() {
        cx.push(
            t.span().start,
            &entry,
            Some("percent"),
            "give either `percent` or negotiated prices, not both".into(),
        );
    }
    let has_percent = t.get_ref().keys().any(|k| k.get_ref() == "percent");
    if !has_prices && !has_percent {
        cx.push(
            t.span().start,
            &entry,
            None,
            "a discount needs `percent` or negotiated prices".into(),
        );
    }
    (cx.issues.len() == before).then_some(r)
}
