//! Roofline physics of serving one model on N GPUs: memory fit (weights + KV cache), decode
//! throughput bounded by memory bandwidth (or by FLOPs at large batch), prefill throughput
//! bounded by FLOPs, and the speculative-decoding multiplier. No money here.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::facts::{read_csv, ModelFacts};
use super::gpu::Gpu;
use super::price_point::normalize;
use super::MarketError;

const KV_SHAPES: &str = include_str!("../../data/kv-shapes.csv");

/// Weight precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Quant {
    /// 2 bytes per parameter; BF16 tensor FLOPs.
    Fp16,
    /// 1 byte per parameter; FP8 tensor FLOPs (BF16 on GPUs without FP8).
    Fp8,
    /// 0.5 byte per parameter, weight-only (W4A16): BF16 tensor FLOPs.
    Int4,
}

impl Quant {
    /// Bytes per weight.
    pub fn bytes_per_param(self) -> f64 {
        match self {
            Quant::Fp16 => 2.0,
            Quant::Fp8 => 1.0,
            Quant::Int4 => 0.5,
        }
    }

    /// Peak dense TFLOPs this precision runs at on `gpu`.
    pub fn peak_tflops(self, gpu: &Gpu) -> f64 {
        match self {
            Quant::Fp8 => gpu.fp8_tflops.unwrap_or(gpu.bf16_tflops),
            Quant::Fp16 | Quant::Int4 => gpu.bf16_tflops,
        }
    }
}

impl std::fmt::Display for Quant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Quant::Fp16 => "fp16",
            Quant::Fp8 => "fp8",
            Quant::Int4 => "int4",
        })
    }
}

impl FromStr for Quant {
    type Err = MarketError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fp16" | "bf16" => Ok(Quant::Fp16),
            "fp8" => Ok(Quant::Fp8),
            "int4" | "w4a16" => Ok(Quant::Int4),
            _ => Err(MarketError::invalid("--quant", s, "use fp16, fp8 or int4")),
        }
    }
}

/// What the roofline needs to know about a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelShape {
    /// Name.
    pub name: String,
    /// Total parameters (B): all must sit in memory.
    pub total_b: f64,
    /// Active parameters per token (B): read once per decode step, 2 FLOPs each per token.
    pub active_b: f64,
    /// KV-cache bytes per token of context (at 2 bytes per value).
    pub kv_bytes_per_token: f64,
    /// Where the KV shape came from.
    pub kv_source: String,
}

#[derive(Deserialize)]
struct KvRow {
    model: String,
    layers: u32,
    kv_heads: Option<u32>,
    head_dim: Option<u32>,
    kv_elements_per_layer: Option<u32>,
    source: String,
}

/// KV bytes per token for a params-table model from `data/kv-shapes.csv`, if listed:
/// layers × (2 × kv_heads × head_dim, or the cached elements per layer for MLA) × 2 bytes.
pub fn bundled_kv_bytes_per_token(model: &str) -> Result<Option<(f64, String)>, MarketError> {
    let rows: Vec<KvRow> = read_csv("data/kv-shapes.csv", KV_SHAPES)?;
    Ok(rows
        .into_iter()
        .find(|r| normalize(&r.model) == normalize(model))
        .and_then(|r| {
            let per_layer = match (r.kv_elements_per_layer, r.kv_heads, r.head_dim) {
                (Some(e), _, _) => f64::from(e),
                (None, Some(h), Some(d)) => 2.0 * f64::from(h) * f64::from(d),
                _ => return None,
            };
            Some((f64::from(r.layers) * per_layer * 2.0, r.source))
        }))
}

/// Shape from facts plus the KV table, or an explicit `kv_bytes_per_token` override.
pub fn shape_for(facts: &ModelFacts, kv_override: Option<f64>) -> Result<ModelShape, MarketError> {
    let active_b = facts.active_b.ok_or_else(|| MarketError::UnknownModel {
        model: facts.name.clone(),
        hint: "its active-parameter count is unknown; pick another model".into(),
    })?;
    let (kv, src) = match kv_override {
        Some(v) if v.is_finite() && v >= 0.0 => (v, "given with --kv-bytes-per-token".to_string()),
        Some(v) => {
            return Err(MarketError::invalid(
                "--kv-bytes-per-token",
                v,
                "give bytes of KV cache per token, 0 or more",
            ))
        }
        None => {
            bundled_kv_bytes_per_token(&facts.name)?.ok_or_else(|| MarketError::UnknownModel {
                model: facts.name.clone(),
                hint: "no KV-cache shape for it in data/kv-shapes.csv; pass --kv-bytes-per-token \
                   (= layers x 2 x kv_heads x head_dim x 2 bytes)"
                    .into(),
            })?
        }
    };
    Ok(ModelShape {
        name: facts.name.clone(),
        total_b: facts.total_b,
        active_b,
        kv_bytes_per_token: kv,
        kv_source: src,
    })
}

/// Serving assumptions (all stated in the footer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Serving {
    /// GPUs serving one replica (tensor parallel).
    pub gpus: u32,
    /// Weight precision.
    pub quant: Quant,
    /// Concurrent sequences per decode step.
    pub batch: u32,
    /// Tokens of KV cache held per sequence.
    pub context_tokens: u32,
    /// Speculative decoding: per-token acceptance rate r in [0, 1), with `spec_tokens` drafts.
    pub spec_accept: Option<f64>,
    /// Draft tokens proposed per step (k).
    pub spec_tokens: u32,
    /// Achieved share of peak memory bandwidth.
    pub mbu: f64,
    /// Achieved share of peak FLOPs (model FLOPs utilization).
    pub mfu: f64,
    /// Share of GPU memory usable for weights + KV (rest: activations, runtime, fragmentation).
    pub memory_usable: f64,
}

impl Default for Serving {
    fn default() -> Self {
        Serving {
            gpus: 1,
            quant: Quant::Fp16,
            batch: 32,
            context_tokens: 4096,
            spec_accept: None,
            spec_tokens: 4,
            mbu: 0.8,
            mfu: 0.5,
            memory_usable: 0.9,
        }
    }
}

/// Throughput estimate of one replica.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Roofline {
    /// Weights, GB.
    pub weights_gb: f64,
    /// KV cache for the whole batch, GB.
    pub kv_gb: f64,
    /// Usable memory over all GPUs, GB.
    pub usable_gb: f64,
    /// Bytes read per decode step.
    pub bytes_per_step: f64,
    /// Step time if memory-bound, s.
    pub step_s_memory: f64,
    /// Step time if compute-bound, s.
    pub step_s_compute: f64,
    /// True when memory bandwidth is the binding bound.
    pub memory_bound: bool,
    /// Expected tokens emitted per sequence per step (1 without speculation).
    pub tokens_per_step: f64,
    /// Decode (output) tokens per second, whole batch.
    pub decode_tok_s: f64,
    /// Prefill (input) tokens per second.
    pub prefill_tok_s: f64,
}

/// Checks 0 < v ≤ 1.
pub(crate) fn check_unit(what: &str, v: f64) -> Result<(), MarketError> {
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(())
    } else {
        Err(MarketError::invalid(
            what,
            v,
            "give a fraction above 0 and at most 1, e.g. 0.5",
        ))
    }
}

/// Expected tokens per step with k drafts and acceptance r: (1 − r^(k+1)) / (1 − r)
/// (Leviathan et al. 2023, eq. 1; assumes i.i.d. acceptance).
pub fn expected_tokens_per_step(r: f64, k: u32) -> f64 {
    if r <= 0.0 {
        1.0
    } else {
        (1.0 - r.powi(k as i32 + 1)) / (1.0 - r)
    }
}

/// Roofline estimate; errors when the inputs are out of range or the model does not fit.
pub fn roofline(shape: &ModelShape, gpu: &Gpu, s: &Serving) -> Result<Roofline, MarketError> {
    if s.gpus == 0 {
        return Err(MarketError::invalid("--gpus", 0, "use 1 or more GPUs"));
    }
    if s.batch == 0 {
        return Err(MarketError::invalid(
            "--batch",
            0,
            "use a batch of 1 or more sequences",
        ));
    }
    check_unit("--mbu", s.mbu)?;
    check_unit("--mfu", s.mfu)?;
    check_unit("memory usable share", s.memory_usable)?;
    let r = s.spec_accept.unwrap_or(0.0);
    if !(0.0..1.0).contains(&r) {
        return Err(MarketError::invalid(
            "--spec-accept",
            r,
            "give an acceptance rate from 0 up to (not including) 1, e.g. 0.7",
        ));
    }
    let g = f64::from(s.gpus);
    let bpp = s.quant.bytes_per_param();
    let weights = shape.total_b * 1e9 * bpp;
    let kv = f64::from(s.batch) * f64::from(s.context_tokens) * shape.kv_bytes_per_token;
    let usable = g * gpu.memory_gb * 1e9 * s.memory_usable;
    if weights + kv > usable {
        let hint = if weights > usable {
            format!(
                "use more GPUs (--gpus {}) or a smaller --quant",
                ((weights + kv) / (gpu.memory_gb * 1e9 * s.memory_usable)).ceil()
            )
        } else {
            "lower --batch or --context, or use more GPUs".to_string()
        };
        return Err(MarketError::DoesNotFit {
            model: shape.name.clone(),
            gpu: gpu.name.clone(),
            gpus: s.gpus,
            need_gb: (weights + kv) / 1e9,
            weights_gb: weights / 1e9,
            kv_gb: kv / 1e9,
            usable_gb: usable / 1e9,
            hint,
        });
    }
    let flops = g * s.quant.peak_tflops(gpu) * 1e12 * s.mfu;
    let bytes_per_step = shape.active_b * 1e9 * bpp + kv;
    let step_s_memory = bytes_per_step / (g * gpu.bandwidth_tb_s * 1e12 * s.mbu);
    let verified = if r > 0.0 {
        f64::from(s.spec_tokens) + 1.0
    } else {
        1.0
    };
    let step_s_compute = 2.0 * shape.active_b * 1e9 * f64::from(s.batch) * verified / flops;
    let tokens_per_step = if r > 0.0 {
        expected_tokens_per_step(r, s.spec_tokens)
    } else {
        1.0
    };
    let step = step_s_memory.max(step_s_compute);
    Ok(Roofline {
        weights_gb: weights / 1e9,
        kv_gb: kv / 1e9,
        usable_gb: usable / 1e9,
        bytes_per_step,
        step_s_memory,
        step_s_compute,
        memory_bound: step_s_memory >= step_s_compute,
        tokens_per_step,
        decode_tok_s: f64::from(s.batch) * tokens_per_step / step,
        prefill_tok_s: flops / (2.0 * shape.active_b * 1e9),
    })
}
