//! `jevons prices import litellm FILE`: runs the LiteLLM importer, writes the catalog, and
//! reports what was imported and skipped (table summary on stderr, or `--format json|csv`
//! on stdout); `--strict` fails on any invalid entry instead of skipping it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use jevons_core::{Clock, SystemClock};
use jevons_pricing::import::litellm::{self, ImportReport};
use jevons_pricing::Catalog;
use serde_json::{json, Value};

use super::source_json;
use crate::output::{Format, Rows};

/// `jevons prices import ...`
#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// LiteLLM's model_prices_and_context_window.json.
    Litellm {
        /// The price map file.
        file: PathBuf,
        /// Where to write the catalog (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// LiteLLM version of the snapshot (goes into `source`).
        #[arg(long, default_value = "1.109.1")]
        litellm_version: String,
        /// Date of the snapshot, YYYY-MM-DD (default: today).
        #[arg(long)]
        as_of: Option<String>,
        /// Fail (write nothing, exit 1) when any in-scope entry is invalid; by default
        /// invalid entries are skipped, listed, and counted in the summary.
        #[arg(long)]
        strict: bool,
        /// Format of the import report (json/csv print it on stdout and need `--out`).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Runs `jevons prices import litellm`.
pub fn import(
    file: &PathBuf,
    out: Option<PathBuf>,
    version: &str,
    as_of: Option<String>,
    strict: bool,
    format: Format,
) -> anyhow::Result<()> {
    if format != Format::Table && out.is_none() {
        anyhow::bail!(
            "--format json|csv prints the import report on stdout; give --out FILE for the catalog"
        );
    }
    let src =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let as_of = as_of.unwrap_or_else(|| SystemClock.now().format("%Y-%m-%d").to_string());
    let label = file.display().to_string();
    let (cat, r) = litellm::import(&src, &label, litellm::litellm_source(version), &as_of)?;
    if strict {
        r.strict(&label)
            .context("--strict: invalid entries, nothing written")?;
    }
    let text = cat.to_json()?;
    match &out {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => print!("{text}"),
    }
    match format {
        Format::Table => import_summary(&r, out.as_deref(), &cat.meta().source.sha256),
        Format::Json => crate::output::print_json(&import_json(&cat, &r, out.as_deref())),
        Format::Csv => import_rows(&r).print(Format::Csv),
    }
}

fn import_summary(
    r: &ImportReport,
    out: Option<&std::path::Path>,
    sha: &str,
) -> anyhow::Result<()> {
    let skipped_mode: usize = r.skipped_mode.values().sum();
    eprintln!(
        "imported {} of {} keys: skipped {} non-model keys ({}), {} out-of-scope modes {:?}, {} without per-token prices, {} invalid",
        r.imported, r.keys, r.non_model_keys.len(), r.non_model_keys.join(", "), skipped_mode,
        r.skipped_mode, r.skipped_no_price.len(), r.invalid_entries()
    );
    for s in &r.skipped_invalid {
        eprintln!("  invalid: {s}");
    }
    if !r.ignored_price_keys.is_empty() {
        let keys: Vec<String> = r
            .ignored_price_keys
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        eprintln!(
            "price keys not carried by the catalog format: {}",
            keys.join(", ")
        );
    }
    if !r.skipped_invalid.is_empty() {
        eprintln!(
            "warning: {} invalid entries skipped ({} problems, listed above); --strict makes this an error",
            r.invalid_entries(),
            r.skipped_invalid.len()
        );
    }
    if let Some(p) = out {
        eprintln!("wrote {} (sha256 of source {sha})", p.display());
    }
    Ok(())
}

fn import_json(cat: &Catalog, r: &ImportReport, out: Option<&std::path::Path>) -> Value {
    let invalid: Vec<Value> = r
        .skipped_invalid
        .iter()
        .map(|i| json!({"entry": i.entry, "field": i.field, "message": i.message}))
        .collect();
    json!({
        "source": source_json(cat),
        "out": out.map(|p| p.display().to_string()),
        "keys": r.keys,
        "imported": r.imported,
        "non_model_keys": r.non_model_keys,
        "skipped_mode": r.skipped_mode,
        "skipped_no_price": r.skipped_no_price,
        "invalid_entries": r.invalid_entries(),
        "invalid": invalid,
        "ignored_price_keys": r.ignored_price_keys,
    })
}

fn import_rows(r: &ImportReport) -> Rows {
    let mut rows = Rows::new(["kind", "name", "count", "detail"]);
    rows.push([
        "keys".to_string(),
        String::new(),
        r.keys.to_string(),
        String::new(),
    ]);
    rows.push([
        "imported".to_string(),
        String::new(),
        r.imported.to_string(),
        String::new(),
    ]);
    for k in &r.non_model_keys {
        rows.push(["non_model_key", k, "1", ""]);
    }
    for (m, n) in &r.skipped_mode {
        rows.push([
            "skipped_mode".to_string(),
            m.clone(),
            n.to_string(),
            String::new(),
        ]);
    }
    for k in &r.skipped_no_price {
        rows.push(["skipped_no_price", k, "1", ""]);
    }
    for i in &r.skipped_invalid {
        let detail = format!("{}: {}", i.field.as_deref().unwrap_or(""), i.message);
        rows.push([
            "invalid".to_string(),
            i.entry.clone().unwrap_or_default(),
            "1".into(),
            detail,
        ]);
    }
    for (k, n) in &r.ignored_price_keys {
        rows.push([
            "ignored_price_key".to_string(),
            k.clone(),
            n.to_string(),
            String::new(),
        ]);
    }
    rows
}
