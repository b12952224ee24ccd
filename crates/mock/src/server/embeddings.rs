//! `POST /v1/embeddings` (OpenAI format): string, strings or token arrays in; one
//! deterministic unit vector per input out (floats or base64), usage `prompt_tokens`.

use http::Response;
use jevons_protocol::openai::EmbeddingInput;
use serde::Deserialize;
use serde_json::Value;

use super::body::MockBody;
use super::faults::FaultKind;
use super::generate::hash_bytes;
use super::http::Call;
use super::openai::{finish_json, model_not_found, pacing};
use super::openai_input::{self as input, bad, EMBEDDINGS};
use super::state::ProviderState;
use super::vectors;

#[derive(Deserialize)]
struct EmbReq {
    model: String,
    input: EmbeddingInput,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<u32>,
    #[serde(default, rename = "user")]
    _user: Option<String>,
}

/// `POST /v1/embeddings`.
pub async fn embeddings(st: &ProviderState, call: Call<'_>) -> Response<MockBody> {
    st.stats
        .embeddings
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let req: EmbReq = match serde_json::from_slice(call.body) {
        Ok(r) => r,
        Err(e) => return input::explain(call.body, &e, "input", EMBEDDINGS),
    };
    if let Some(r) = req
        .dimensions
        .and_then(|d| input::out_of_range(EMBEDDINGS, "dimensions", i64::from(d)))
    {
        return r;
    }
    if let Some(f) = req
        .encoding_format
        .as_deref()
        .filter(|f| !["float", "base64"].contains(f))
    {
        return bad(
            &format!("Invalid value: '{f}'. Supported values are: 'float' and 'base64'."),
            Some("encoding_format"),
            Some("invalid_value"),
        );
    }
    let Some(model) = st.model(&req.model) else {
        return model_not_found(&req.model);
    };
    if req.input.is_empty() {
        return bad("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", Some("input"), None);
    }
    let dims = req
        .dimensions
        .unwrap_or(model.embedding_dims)
        .clamp(1, 4096);
    let texts: Vec<(u64, u32)> = match &req.input {
        EmbeddingInput::Text(s) => vec![(hash_bytes(s.as_bytes()), st.tokenizer.count(s))],
        EmbeddingInput::Texts(v) => v
            .iter()
            .map(|s| (hash_bytes(s.as_bytes()), st.tokenizer.count(s)))
            .collect(),
        EmbeddingInput::Tokens(t) => vec![(
            hash_bytes(&serde_json::to_vec(t).unwrap_or_default()),
            t.len() as u32,
        )],
        EmbeddingInput::TokenArrays(v) => v
            .iter()
            .map(|t| {
                (
                    hash_bytes(&serde_json::to_vec(t).unwrap_or_default()),
                    t.len() as u32,
                )
            })
            .collect(),
    };
    let b64 = req.encoding_format.as_deref() == Some("base64");
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, (h, _))| {
            let v = vectors::unit_vector(*h, dims);
            let emb = if b64 {
                Value::from(vectors::base64_f32(&v))
            } else {
                Value::from(v)
            };
            serde_json::json!({"object": "embedding", "index": i, "embedding": emb})
        })
        .collect();
    let tokens: u32 = texts.iter().map(|(_, n)| n).sum();
    let mut v = serde_json::json!({"object": "list", "data": data, "model": req.model});
    if call.fault != Some(FaultKind::MissingUsage) {
        v["usage"] = serde_json::json!({"prompt_tokens": tokens, "total_tokens": tokens});
    }
    let pacing = pacing(st, &call, 0);
    finish_json(
        serde_json::to_vec(&v).unwrap_or_default(),
        &[],
        pacing,
        &call,
    )
    .await
}
