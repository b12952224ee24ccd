//! Self-hosting cost: turns a roofline estimate and a GPU-hour price into $/Mtok for input and
//! output, compares it with the catalog's API prices for the same model, and solves the
//! break-even utilization. Money stays `Decimal`; only the throughput estimate is f64.

use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;

use super::gpu::Gpu;
use super::price_point::PriceSet;
use super::roofline::{check_unit, roofline, ModelShape, Roofline, Serving};
use super::spread::{spread_for_model, Stat3};
use super::stats::to_f64;
use super::{BlendRatio, MarketError, Provenance};

/// Self-hosted prices, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SelfHostPrice {
    /// Prefill (input) $/Mtok.
    #[serde(with = "rust_decimal::serde::str")]
    pub input: Decimal,
    /// Decode (output) $/Mtok.
    #[serde(with = "rust_decimal::serde::str")]
    pub output: Decimal,
    /// Blended at the report's ratio.
    #[serde(with = "rust_decimal::serde::str")]
    pub blended: Decimal,
}

/// The catalog's API prices for the same model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiPrices {
    /// Canonical id.
    pub canonical: String,
    /// Priced providers.
    pub providers: usize,
    /// Input $/Mtok over providers.
    pub input: Stat3,
    /// Output $/Mtok over providers.
    pub output: Stat3,
    /// Blended $/Mtok over providers.
    pub blended: Stat3,
    /// Providers at the blended minimum.
    pub cheapest: Vec<String>,
}

/// Result of `jevons market selfhost`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelfHostReport {
    /// Model shape used.
    pub model: ModelShape,
    /// GPU used.
    pub gpu: Gpu,
    /// Serving assumptions.
    pub serving: Serving,
    /// USD per GPU-hour.
    #[serde(with = "rust_decimal::serde::str")]
    pub gpu_hour_usd: Decimal,
    /// Share of hours the GPUs do useful work.
    pub utilization: f64,
    /// Blend ratio.
    pub ratio: BlendRatio,
    /// Throughput estimate.
    pub roofline: Roofline,
    /// Self-hosted $/Mtok at `utilization`.
    pub cost: SelfHostPrice,
    /// API prices for the same model (None when the catalog has none).
    pub api: Option<ApiPrices>,
    /// Utilization at which self-hosted blended $/Mtok equals the cheapest API blended price
    /// (> 1 means self-hosting cannot match it).
    pub break_even_utilization: Option<f64>,
    /// The same against the median provider's blended price.
    pub break_even_utilization_vs_median: Option<f64>,
    /// Method, sources, assumptions.
    #[serde(flatten)]
    pub provenance: Provenance,
}

impl SelfHostReport {
    /// Summary lines: the roofline figures and the break-even utilization.
    pub fn summary_lines(&self) -> Vec<String> {
        let (rf, s) = (&self.roofline, &self.serving);
        let mut out = vec![format!(
            "{} on {} x {} ({}, batch {}, context {}): weights {:.1} GB + KV {:.1} GB of {:.1} GB usable; \
             decode {:.0} tok/s ({}-bound, {:.2} tokens/step), prefill {:.0} tok/s; at {}% utilization",
            self.model.name, s.gpus, self.gpu.name, s.quant, s.batch, s.context_tokens, rf.weights_gb, rf.kv_gb,
            rf.usable_gb, rf.decode_tok_s, if rf.memory_bound { "memory" } else { "compute" },
            rf.tokens_per_step, rf.prefill_tok_s, self.utilization * 100.0
        )];
        let pct = |u: f64| {
            let over = if u > 1.0 {
                " (over 100%: cannot match at these settings)"
            } else {
                ""
            };
            format!("{:.1}%{over}", u * 100.0)
        };
        out.push(match (&self.api, self.break_even_utilization) {
            (Some(x), Some(u)) => format!(
                "API: {} ({} providers, cheapest {}); break-even utilization: {} vs the cheapest provider, {} vs the median provider",
                x.canonical,
                x.providers,
                x.cheapest.join(" "),
                pct(u),
                self.break_even_utilization_vs_median.map_or("-".to_string(), pct)
            ),
            _ => "API: no priced catalog entry for this model; no break-even".to_string(),
        });
        out
    }
}

/// $/Mtok = hourly cost of the replica / (tokens per hour × utilization) × 10^6.
fn usd_per_mtok(hourly: Decimal, tok_s: f64, utilization: f64) -> Result<Decimal, MarketError> {
    let tokens_per_hour = Decimal::from_f64(tok_s * 3600.0 * utilization)
        .filter(|t| *t > Decimal::ZERO)
        .ok_or_else(|| {
            MarketError::invalid(
                "throughput",
                tok_s,
                "the estimate came out at 0 tokens/s; check the inputs",
            )
        })?;
    // An estimate: 6 decimal places (a millionth of a dollar per Mtok) is more than enough.
    Ok((hourly * Decimal::from(1_000_000u32) / tokens_per_hour).round_dp(6))
}

/// Inputs of `selfhost` beyond the model and GPU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelfHostInput {
    /// USD per GPU-hour.
    pub gpu_hour_usd: Decimal,
    /// Share of hours doing useful work, (0, 1].
    pub utilization: f64,
    /// Serving assumptions.
    pub serving: Serving,
    /// Input:output mix for blended prices.
    pub ratio: BlendRatio,
}

/// Roofline + cost + API comparison. `canonical` names the model in the catalog (if mapped).
pub fn selfhost(
    shape: &ModelShape,
    gpu: &Gpu,
    input: &SelfHostInput,
    set: &PriceSet,
    canonical: Option<&str>,
) -> Result<SelfHostReport, MarketError> {
    if input.gpu_hour_usd <= Decimal::ZERO {
        return Err(MarketError::invalid(
            "--gpu-hour-usd",
            input.gpu_hour_usd,
            "give the price of one GPU-hour in USD, above 0, e.g. 2.49",
        ));
    }
    check_unit("--utilization", input.utilization)?;
    let rf = roofline(shape, gpu, &input.serving)?;
    let hourly = input.gpu_hour_usd * Decimal::from(input.serving.gpus);
    let out = usd_per_mtok(hourly, rf.decode_tok_s, input.utilization)?;
    let inp = usd_per_mtok(hourly, rf.prefill_tok_s, input.utilization)?;
    let cost = SelfHostPrice {
        input: inp,
        output: out,
        blended: input.ratio.blend(inp, out).round_dp(6),
    };
    let api = match canonical {
        Some(c) => spread_for_model(set, c, input.ratio)
            .ok()
            .map(|m| ApiPrices {
                canonical: m.summary.canonical,
                providers: m.summary.providers,
                input: m.summary.input,
                output: m.summary.output,
                blended: m.summary.blended,
                cheapest: m.summary.cheapest,
            }),
        None => None,
    };
    // Cost scales as 1/U, so cost(U) = cost(1)/U and break-even U* = cost(1) / api_min.
    let at_full = to_f64(cost.blended) * input.utilization;
    let break_even = |p: Decimal| (!p.is_zero()).then(|| at_full / to_f64(p));
    let break_even_utilization = api.as_ref().and_then(|a| break_even(a.blended.min));
    let break_even_utilization_vs_median = api.as_ref().and_then(|a| break_even(a.blended.median));
    let s = &input.serving;
    let spec = match s.spec_accept {
        Some(r) if r > 0.0 => format!("speculative decoding: k = {} drafts, acceptance r = {r}: tokens/step = (1 - r^(k+1)) / (1 - r) = {:.3} (Leviathan et al. 2023; draft-model cost ignored; the target verifies k+1 tokens per step, counted in the compute bound)", s.spec_tokens, rf.tokens_per_step),
        _ => "no speculative decoding".to_string(),
    };
    Ok(SelfHostReport {
        provenance: Provenance {
            method: vec![
                format!("memory: weights = total params x {} B/param ({}); KV = batch {} x context {} x {:.0} B/token (2-byte KV); must fit in {:.0}% of {} x {} GB", s.quant.bytes_per_param(), s.quant, s.batch, s.context_tokens, shape.kv_bytes_per_token, s.memory_usable * 100.0, s.gpus, gpu.memory_gb),
                format!("decode step = max(bytes read / (GPUs x bandwidth x MBU {}), 2 x active params x batch x verified tokens / (GPUs x peak FLOPs x MFU {})); bytes read = active params x B/param + whole-batch KV", s.mbu, s.mfu),
                "decode tok/s = batch x tokens per step / step time; prefill tok/s = GPUs x peak FLOPs x MFU / (2 x active params) (attention FLOPs ignored)".into(),
                spec,
                format!("$/Mtok = GPU $/h x GPUs / (tok/s x 3600 x utilization {}) x 10^6; break-even utilization = utilization at which self-host blended $/Mtok = cheapest API blended", input.utilization),
                "MoE: all experts must fit in memory, but a decode step reads only the active parameters (optimistic at large batch, when tokens touch more experts)".into(),
            ],
            sources: vec![
                format!("GPU: {} (crates/analytics/data/gpus.csv)", gpu.datasheet),
                format!("KV shape: {}", shape.kv_source),
                super::provenance::PARAMS_SOURCE.into(),
                set.source.clone(),
            ],
            notes: vec!["a roofline is an upper bound on throughput; real servers lose more to scheduling, padding and attention kernels".into()],
        },
        model: shape.clone(),
        gpu: gpu.clone(),
        serving: *s,
        gpu_hour_usd: input.gpu_hour_usd,
        utilization: input.utilization,
        ratio: input.ratio,
        roofline: rf,
        cost,
        api,
        break_even_utilization,
        break_even_utilization_vs_median,
    })
}

/// Parses a USD amount such as `2.49` (for `--gpu-hour-usd`) exactly.
pub fn parse_usd(what: &str, s: &str) -> Result<Decimal, MarketError> {
    s.trim()
        .trim_start_matches('$')
        .parse::<Decimal>()
        .map_err(|_| MarketError::invalid(what, s, "give a decimal USD amount, e.g. 2.49"))
}
