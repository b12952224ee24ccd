//! Whole-config validation of [`RoutingConfig`]: every problem is collected with the path
//! of its field (`routing.models[0].deployments[1].weight`) so one run shows them all.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;

use crate::cascade::{CheckKind, REGEX_SIZE_LIMIT};
use crate::config::{CheckSpec, RoutingConfig, MAX_ATTEMPTS_LIMIT};
use crate::Strategy;

/// All problems of a config, empty when valid.
pub(crate) fn problems(cfg: &RoutingConfig) -> Vec<String> {
    let mut out = Vec::new();
    let names: HashSet<&str> = cfg.models.iter().map(|m| m.name.as_str()).collect();
    let mut seen = HashSet::new();
    let mut ids: HashMap<String, (String, String)> = HashMap::new();
    for (i, m) in cfg.models.iter().enumerate() {
        let at = format!("routing.models[{i}]");
        if m.name.trim().is_empty() {
            out.push(format!("{at}.name: must not be empty"));
        } else if !seen.insert(m.name.as_str()) {
            out.push(format!(
                "{at}.name: '{}' is defined twice; public names must be unique",
                m.name
            ));
        }
        if m.deployments.is_empty() {
            out.push(format!(
                "{at}.deployments: '{}' needs at least one deployment",
                m.name
            ));
        }
        if m.strategy == Strategy::Weighted && m.deployments.iter().all(|d| d.weight == 0) {
            out.push(format!(
                "{at}.deployments: strategy 'weighted' needs a deployment with weight > 0"
            ));
        }
        for (j, d) in m.deployments.iter().enumerate() {
            let at = format!("{at}.deployments[{j}]");
            if d.provider.trim().is_empty() {
                out.push(format!("{at}.provider: must not be empty"));
            }
            if d.model.trim().is_empty() {
                out.push(format!(
                    "{at}.model: must not be empty (the upstream model id)"
                ));
            }
            if d.max_output_tokens == Some(0) {
                out.push(format!(
                    "{at}.max_output_tokens: must be at least 1 (or omitted)"
                ));
            }
            for (field, v) in [
                ("input_per_mtok", d.input_per_mtok),
                ("output_per_mtok", d.output_per_mtok),
                ("cache_read_per_mtok", d.cache_read_per_mtok),
            ] {
                if v.is_some_and(|p| p < Decimal::ZERO) {
                    out.push(format!("{at}.{field}: a price must not be negative"));
                }
            }
            let id = d.effective_id();
            let target = (d.provider.clone(), d.model.clone());
            match ids.get(&id) {
                Some(prev) if *prev != target => out.push(format!(
                    "{at}.id: '{id}' already names {}/{}; give each provider/model its own id",
                    prev.0, prev.1
                )),
                _ => {
                    ids.insert(id, target);
                }
            }
        }
        for (j, f) in m.fallbacks.iter().enumerate() {
            if f == &m.name {
                out.push(format!("{at}.fallbacks[{j}]: '{f}' is the model itself"));
            } else if !names.contains(f.as_str()) {
                out.push(format!(
                    "{at}.fallbacks[{j}]: '{f}' is not a configured model name"
                ));
            }
        }
    }
    cascades(cfg, &names, &mut out);
    retry_breaker_cache(cfg, &mut out);
    out
}

fn cascades(cfg: &RoutingConfig, names: &HashSet<&str>, out: &mut Vec<String>) {
    let mut seen = HashSet::new();
    for (i, c) in cfg.cascades.iter().enumerate() {
        let at = format!("routing.cascades[{i}]");
        if c.name.trim().is_empty() {
            out.push(format!("{at}.name: must not be empty"));
        } else if names.contains(c.name.as_str()) {
            out.push(format!(
                "{at}.name: '{}' is also a model name; pick a distinct cascade name",
                c.name
            ));
        } else if !seen.insert(c.name.as_str()) {
            out.push(format!("{at}.name: '{}' is defined twice", c.name));
        }
        for (field, m) in [("cheap", &c.cheap), ("strong", &c.strong)] {
            if !names.contains(m.as_str()) {
                out.push(format!(
                    "{at}.{field}: '{m}' is not a configured model name"
                ));
            }
        }
        if c.checks.is_empty() {
            out.push(format!("{at}.checks: add at least one check (length, empty, invalid_json, refusal or {{ regex = \"...\" }})"));
        }
        for (j, ch) in c.checks.iter().enumerate() {
            match ch {
                CheckSpec::Named(n) => {
                    if CheckKind::from_name(n).is_none() {
                        out.push(format!("{at}.checks[{j}]: unknown check '{n}'; use length, empty, invalid_json, refusal or {{ regex = \"...\" }}"));
                    }
                }
                CheckSpec::Regex { regex } => {
                    if let Err(e) = regex::RegexBuilder::new(regex)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                    {
                        out.push(format!("{at}.checks[{j}].regex: {e}"));
                    }
                }
            }
        }
    }
}

fn retry_breaker_cache(cfg: &RoutingConfig, out: &mut Vec<String>) {
    let r = &cfg.retry;
    if r.max_attempts == 0 || r.max_attempts > MAX_ATTEMPTS_LIMIT {
        out.push(format!(
            "routing.retry.max_attempts: {} is out of range; use 1..={MAX_ATTEMPTS_LIMIT}",
            r.max_attempts
        ));
    }
    if r.base_backoff_ms > r.max_backoff_ms {
        out.push(format!(
            "routing.retry.base_backoff_ms: {} is above max_backoff_ms {}",
            r.base_backoff_ms, r.max_backoff_ms
        ));
    }
    if !(0.0..=1.0).contains(&r.jitter) {
        out.push(format!(
            "routing.retry.jitter: {} must be between 0 and 1 (a fraction of the backoff)",
            r.jitter
        ));
    }
    let b = &cfg.breaker;
    if b.failure_threshold == 0 {
        out.push("routing.breaker.failure_threshold: must be at least 1".to_string());
    }
    if b.half_open_probes == 0 {
        out.push("routing.breaker.half_open_probes: must be at least 1".to_string());
    }
    let c = &cfg.cache;
    if c.enabled {
        if c.ttl_secs == 0 {
            out.push(
                "routing.cache.ttl_secs: must be at least 1 when the cache is enabled".to_string(),
            );
        }
        if c.max_entries == 0 && c.max_bytes.is_none() {
            out.push(
                "routing.cache.max_entries: must be at least 1 when the cache is enabled"
                    .to_string(),
            );
        }
        if c.max_bytes == Some(0) {
            out.push("routing.cache.max_bytes: must be at least 1 (or omitted)".to_string());
        }
    }
}
