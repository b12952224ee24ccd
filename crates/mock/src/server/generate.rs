//! What a mock model "generates" for a request: output length drawn deterministically from
//! the request hash and the profile distribution, capped by `max_tokens`; reasoning share;
//! tool calls when tools are offered.

use serde_json::{Map, Value};

use super::faults::{mix, unit_float};
use super::profile::ModelProfile;
use super::tokens::{self, Tokenizer};

/// Why a choice ended (mapped to each format's words by the handlers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Natural end.
    Stop,
    /// The output cap was hit.
    Length,
    /// The model called tools.
    ToolCalls,
}

/// One generated tool call.
#[derive(Debug, Clone)]
pub struct ToolCallPlan {
    /// Call id suffix (hex).
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments object.
    pub input: Value,
}

/// One generated choice.
#[derive(Debug, Clone)]
pub struct ChoicePlan {
    /// Visible text (empty for a tool call).
    pub text: String,
    /// Seed of the text (the words are `tokens::word(text_seed, i)`).
    pub text_seed: u64,
    /// Visible text tokens.
    pub text_tokens: u32,
    /// Tool calls (empty for text).
    pub tool_calls: Vec<ToolCallPlan>,
    /// Billed output tokens, reasoning included.
    pub output_tokens: u32,
    /// Reasoning tokens (part of output).
    pub reasoning_tokens: u32,
    /// Finish reason.
    pub finish: Finish,
}

/// How tools may be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolMode {
    /// Never call tools.
    None,
    /// Call sometimes (model's `tool_call_rate`).
    Auto,
    /// Must call (optionally a named tool).
    Required(Option<String>),
}

/// A tool offered by the client: name and JSON schema of its arguments.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    /// Tool name.
    pub name: String,
    /// Argument schema.
    pub schema: Value,
}

/// Inputs of a plan.
pub struct PlanInput<'a> {
    /// The model profile.
    pub model: &'a ModelProfile,
    /// Request hash.
    pub seed: u64,
    /// Output cap from the request.
    pub cap: Option<u64>,
    /// Offered tools.
    pub tools: &'a [ToolSpec],
    /// Tool mode.
    pub mode: ToolMode,
    /// Tool results already in the conversation.
    pub tool_rounds: u32,
}

/// Plans choice number `index`.
pub fn plan_choice(inp: &PlanInput<'_>, index: u32, tok: &Tokenizer) -> ChoicePlan {
    let seed = mix(inp.seed, u64::from(index), 11);
    let m = inp.model;
    if let Some(calls) = tool_calls(inp, seed) {
        let output: u32 = calls
            .iter()
            .map(|c| tok.count(&c.name) + tok.count(&c.input.to_string()) + 3)
            .sum();
        return ChoicePlan {
            text: String::new(),
            text_seed: seed,
            text_tokens: 0,
            tool_calls: calls,
            output_tokens: output,
            reasoning_tokens: 0,
            finish: Finish::ToolCalls,
        };
    }
    let d = m.output_tokens;
    let u = unit_float(mix(seed, 1, 0));
    let span = f64::from(d.mean.saturating_sub(d.min));
    let drawn = f64::from(d.min) + (-span * (1.0 - u).ln()).round();
    let mut total = (drawn.min(f64::from(d.max)) as u32).max(d.min).max(1);
    let mut finish = Finish::Stop;
    if let Some(cap) = inp.cap {
        let cap = u32::try_from(cap).unwrap_or(u32::MAX);
        if total > cap {
            total = cap;
            finish = Finish::Length;
        }
    }
    let reasoning = ((f64::from(total) * m.reasoning_fraction).floor() as u32).min(total);
    let text_tokens = total - reasoning;
    ChoicePlan {
        text: tokens::filler(seed, text_tokens),
        text_seed: seed,
        text_tokens,
        tool_calls: Vec::new(),
        output_tokens: total,
        reasoning_tokens: reasoning,
        finish,
    }
}

fn tool_calls(inp: &PlanInput<'_>, seed: u64) -> Option<Vec<ToolCallPlan>> {
    if inp.tools.is_empty() {
        return None;
    }
    let pick = match &inp.mode {
        ToolMode::None => return None,
        ToolMode::Required(Some(name)) => inp.tools.iter().find(|t| &t.name == name),
        ToolMode::Required(None) => None,
        ToolMode::Auto => {
            if inp.tool_rounds >= inp.model.max_tool_rounds
                || unit_float(mix(seed, 2, 0)) >= inp.model.tool_call_rate
            {
                return None;
            }
            None
        }
    };
    let tool = pick.or_else(|| {
        let i = mix(seed, 3, 0) % inp.tools.len() as u64;
        inp.tools.get(i as usize)
    })?;
    Some(vec![ToolCallPlan {
        id: format!("{:016x}{:08x}", mix(seed, 4, 0), mix(seed, 5, 0) as u32),
        name: tool.name.clone(),
        input: arguments(&tool.schema, seed),
    }])
}

/// Fills an object schema's required properties (all properties when none are required).
fn arguments(schema: &Value, seed: u64) -> Value {
    let mut out = Map::new();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Value::Object(out);
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (i, (name, p)) in props.iter().enumerate() {
        if !required.is_empty() && !required.contains(&name.as_str()) {
            continue;
        }
        let h = mix(seed, 100 + i as u64, 0);
        let v = match p.get("type").and_then(Value::as_str) {
            Some("integer") => Value::from(h % 100),
            Some("number") => Value::from((h % 1000) as f64 / 10.0),
            Some("boolean") => Value::Bool(h.is_multiple_of(2)),
            Some("array") => Value::Array(Vec::new()),
            Some("object") => Value::Object(Map::new()),
            _ => match p.get("enum").and_then(Value::as_array) {
                Some(e) if !e.is_empty() => e[(h % e.len() as u64) as usize].clone(),
                _ => Value::from(tokens::filler(h, 3).trim_start().to_owned()),
            },
        };
        out.insert(name.clone(), v);
    }
    Value::Object(out)
}

/// Fast non-cryptographic hash of bytes (FxHash-style word mixing, then a final
/// SplitMix round); only used for seeds and memo/cache keys, never across processes.
pub fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    h = (h.rotate_left(5) ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    mix(h, 0, 0)
}

/// Hex id of `len` chars from `seed`.
pub fn hex_id(seed: u64, salt: u64) -> String {
    format!(
        "{:016x}{:08x}",
        mix(seed, salt, 1),
        mix(seed, salt, 2) as u32
    )
}
