//! OpenAI SSE framing of a chat answer: a role chunk, one content (or tool-argument) chunk
//! per token, a finish chunk per choice, the usage chunk (empty `choices`) only when
//! `stream_options.include_usage` is set, then `data: [DONE]`.

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use jevons_protocol::sse;

use super::body::{MockBody, StreamFrame};
use super::faults::FaultKind;
use super::generate::ChoicePlan;
use super::openai_answer::{finish_word, Out};
use super::tokens;

/// Sets the SSE response headers.
pub fn sse_headers(r: &mut Response<MockBody>) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// All frames of the stream for `plans`.
pub fn frames(
    out: &Out<'_>,
    plans: &[ChoicePlan],
    include_usage: bool,
    fault: Option<FaultKind>,
) -> Vec<StreamFrame> {
    let model = serde_json::to_string(out.model).unwrap_or_else(|_| "\"\"".into());
    let usage_null = if include_usage { ",\"usage\":null" } else { "" };
    let head = format!(
        "{{\"id\":\"{}\",\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{model},\"service_tier\":\"default\",\"system_fingerprint\":\"fp_jevons_mock\"{usage_null},\"choices\":[",
        out.id, out.created
    );
    let mut frames = Vec::new();
    let mut push = |choice_json: String, token: bool| {
        let mut buf = Vec::with_capacity(head.len() + choice_json.len() + 16);
        let mut line = String::with_capacity(head.len() + choice_json.len() + 2);
        line.push_str(&head);
        line.push_str(&choice_json);
        line.push_str("]}");
        sse::write_data(&mut buf, line.as_bytes());
        frames.push(StreamFrame {
            bytes: Bytes::from(buf),
            token,
        });
    };
    for (i, p) in plans.iter().enumerate() {
        let delta = |d: &str, fin: &str| {
            format!("{{\"index\":{i},\"delta\":{d},\"logprobs\":null,\"finish_reason\":{fin}}}")
        };
        if p.tool_calls.is_empty() {
            push(
                delta(
                    "{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}",
                    "null",
                ),
                false,
            );
            for t in 0..p.text_tokens {
                let w = tokens::word(p.text_seed, t);
                push(delta(&format!("{{\"content\":\"{w}\"}}"), "null"), true);
            }
        } else {
            for (k, c) in p.tool_calls.iter().enumerate() {
                let name = serde_json::to_string(&c.name).unwrap_or_default();
                push(
                    delta(
                        &format!("{{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{{\"index\":{k},\"id\":\"call_{}\",\"type\":\"function\",\"function\":{{\"name\":{name},\"arguments\":\"\"}}}}]}}", c.id),
                        "null",
                    ),
                    false,
                );
                let args = c.input.to_string();
                let chars: Vec<char> = args.chars().collect();
                for piece in chars.chunks(8) {
                    let s: String = piece.iter().collect();
                    let s = serde_json::to_string(&s).unwrap_or_default();
                    push(
                        delta(&format!("{{\"tool_calls\":[{{\"index\":{k},\"function\":{{\"arguments\":{s}}}}}]}}"), "null"),
                        true,
                    );
                }
            }
        }
        push(
            delta("{}", &format!("\"{}\"", finish_word(p.finish))),
            false,
        );
    }
    if include_usage && out.usage {
        let line = format!(
            "{}],\"usage\":{}}}",
            head.replace(usage_null, ""),
            out.usage_json(plans)
        );
        let mut buf = Vec::new();
        sse::write_data(&mut buf, line.as_bytes());
        frames.push(StreamFrame {
            bytes: Bytes::from(buf),
            token: false,
        });
    }
    frames.push(StreamFrame {
        bytes: Bytes::from_static(sse::DONE),
        token: false,
    });
    if fault == Some(FaultKind::Malformed) && frames.len() > 2 {
        frames[1] = StreamFrame {
            bytes: Bytes::from(format!(
                "data: {{\"id\":\"{}\",\"object\":\"chat.compl\n\n",
                out.id
            )),
            token: false,
        };
    }
    frames
}
