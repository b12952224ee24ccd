//! Rendering an OpenAI chat answer: the shared header fields (`Out`), the usage block
//! (with `cached_tokens` and `reasoning_tokens`), and the non-streaming body, serialized
//! from borrowed structs (no intermediate `serde_json::Value`).

use serde::Serialize;

use super::generate::{ChoicePlan, Finish};

#[derive(Serialize)]
struct CompletionOut<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: Vec<ChoiceOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageOut>,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct ChoiceOut<'a> {
    index: u32,
    message: MessageOut<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct MessageOut<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<()>,
    annotations: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<Vec<ToolCallOut<'a>>>,
}

#[derive(Serialize)]
struct ToolCallOut<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    function: FunctionOut<'a>,
}

#[derive(Serialize)]
struct FunctionOut<'a> {
    name: &'a str,
    arguments: String,
}

/// What every chat answer shares.
pub struct Out<'a> {
    /// `chatcmpl-...`.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Model id.
    pub model: &'a str,
    /// Prompt tokens (cached included).
    pub prompt: u32,
    /// Cached prompt tokens.
    pub cached_tokens: u32,
    /// Whether to report usage.
    pub usage: bool,
}

#[derive(Serialize)]
struct UsageOut {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}
#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u32,
    audio_tokens: u32,
}
#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u32,
    audio_tokens: u32,
    accepted_prediction_tokens: u32,
    rejected_prediction_tokens: u32,
}

impl Out<'_> {
    /// The usage block for `plans`, as JSON text.
    pub fn usage_json(&self, plans: &[ChoicePlan]) -> String {
        serde_json::to_string(&self.usage_block(plans)).unwrap_or_default()
    }

    fn usage_block(&self, plans: &[ChoicePlan]) -> UsageOut {
        let completion: u32 = plans.iter().map(|p| p.output_tokens).sum();
        let reasoning: u32 = plans.iter().map(|p| p.reasoning_tokens).sum();
        UsageOut {
            prompt_tokens: self.prompt,
            completion_tokens: completion,
            total_tokens: self.prompt + completion,
            prompt_tokens_details: PromptDetails {
                cached_tokens: self.cached_tokens,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: reasoning,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
            },
        }
    }

    /// The non-streaming `chat.completion` body.
    pub fn completion(&self, plans: &[ChoicePlan]) -> Vec<u8> {
        let choices = plans
            .iter()
            .enumerate()
            .map(|(i, p)| ChoiceOut {
                index: i as u32,
                message: MessageOut {
                    role: "assistant",
                    content: p.tool_calls.is_empty().then_some(p.text.as_str()),
                    refusal: None,
                    annotations: [],
                    tool_calls: (!p.tool_calls.is_empty()).then(|| {
                        p.tool_calls
                            .iter()
                            .map(|c| ToolCallOut {
                                id: format!("call_{}", c.id),
                                kind: "function",
                                function: FunctionOut {
                                    name: &c.name,
                                    arguments: c.input.to_string(),
                                },
                            })
                            .collect()
                    }),
                },
                logprobs: None,
                finish_reason: finish_word(p.finish),
            })
            .collect();
        let body = CompletionOut {
            id: &self.id,
            object: "chat.completion",
            created: self.created,
            model: self.model,
            choices,
            usage: self.usage.then(|| self.usage_block(plans)),
            service_tier: "default",
            system_fingerprint: "fp_jevons_mock",
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// OpenAI's word for a finish.
pub fn finish_word(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
    }
}
