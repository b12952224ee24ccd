//! The GPU table shipped in `data/gpus.csv` (memory, bandwidth, dense BF16 and FP8 TFLOPs from
//! the vendors' datasheets, named per row) and lookup by name or alias.

use serde::{Deserialize, Serialize};

use super::facts::read_csv;
use super::price_point::normalize;
use super::MarketError;

const GPUS: &str = include_str!("../../data/gpus.csv");

/// One accelerator's datasheet figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gpu {
    /// Display name.
    pub name: String,
    /// Other accepted names (lower case).
    pub aliases: Vec<String>,
    /// HBM/GDDR capacity, GB (10^9 bytes, as datasheets state it).
    pub memory_gb: f64,
    /// Memory bandwidth, TB/s (10^12 bytes/s).
    pub bandwidth_tb_s: f64,
    /// Dense FP16/BF16 tensor TFLOPs (no sparsity).
    pub bf16_tflops: f64,
    /// Dense FP8 tensor TFLOPs (None when the GPU has no FP8 tensor cores).
    pub fp8_tflops: Option<f64>,
    /// Datasheet the figures come from.
    pub datasheet: String,
}

#[derive(Deserialize)]
struct Row {
    gpu: String,
    aliases: String,
    memory_gb: f64,
    bandwidth_tb_s: f64,
    bf16_dense_tflops: f64,
    fp8_dense_tflops: Option<f64>,
    datasheet: String,
}

/// The shipped GPU table.
pub fn bundled_gpus() -> Result<Vec<Gpu>, MarketError> {
    Ok(read_csv::<Row>("data/gpus.csv", GPUS)?
        .into_iter()
        .map(|r| Gpu {
            name: r.gpu,
            aliases: r
                .aliases
                .split(';')
                .map(|a| a.trim().to_ascii_lowercase())
                .filter(|a| !a.is_empty())
                .collect(),
            memory_gb: r.memory_gb,
            bandwidth_tb_s: r.bandwidth_tb_s,
            bf16_tflops: r.bf16_dense_tflops,
            fp8_tflops: r.fp8_dense_tflops,
            datasheet: r.datasheet,
        })
        .collect())
}

/// Finds a GPU by name or alias (case-insensitive; spaces, dashes and underscores ignored).
pub fn find_gpu<'a>(gpus: &'a [Gpu], name: &str) -> Result<&'a Gpu, MarketError> {
    let key = |s: &str| normalize(s).replace('-', "");
    let q = key(name);
    gpus.iter()
        .find(|g| key(&g.name) == q || g.aliases.iter().any(|a| key(a) == q))
        .ok_or_else(|| MarketError::UnknownGpu {
            name: name.to_string(),
            known: gpus
                .iter()
                .map(|g| g.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}
