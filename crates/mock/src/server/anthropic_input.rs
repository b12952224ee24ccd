//! Anthropic's 400s for request bodies that did not parse: `invalid_request_error` with
//! the validator's wording (`max_tokens: Input should be a valid integer`,
//! `messages.0.content: Input should be a valid list`, `model: Field required`), found by
//! walking one table of fields (including ones the mock does not use, such as
//! `temperature` or `stop_sequences`) only when the typed parse failed.

use http::{Response, StatusCode};
use serde_json::Value;

use super::body::MockBody;
use super::errors;

/// The type Anthropic expects for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Int,
    Number,
    Bool,
    Str,
    Dict,
    /// A list of dictionaries.
    Dicts,
    /// A list of strings.
    Strs,
    /// A string or a list of content blocks (`system`).
    Content,
}

/// `POST /v1/messages`: required fields first, in the order Anthropic reports them.
const FIELDS: &[(&str, Ty, bool)] = &[
    ("model", Ty::Str, true),
    ("messages", Ty::Dicts, true),
    ("max_tokens", Ty::Int, true),
    ("system", Ty::Content, false),
    ("stream", Ty::Bool, false),
    ("temperature", Ty::Number, false),
    ("top_p", Ty::Number, false),
    ("top_k", Ty::Int, false),
    ("stop_sequences", Ty::Strs, false),
    ("metadata", Ty::Dict, false),
    ("tools", Ty::Dicts, false),
    ("tool_choice", Ty::Dict, false),
    ("thinking", Ty::Dict, false),
    ("service_tier", Ty::Str, false),
];

/// An Anthropic 400 (`invalid_request_error`).
pub(super) fn bad(message: &str) -> Response<MockBody> {
    errors::anthropic(StatusCode::BAD_REQUEST, "invalid_request_error", message)
}

/// Turns a body that did not parse into Anthropic's 400 for it.
pub(super) fn explain(body: &[u8], e: &serde_json::Error) -> Response<MockBody> {
    let v = match serde_json::from_slice::<Value>(body) {
        Ok(v) => v,
        Err(e) => return bad(&format!("There was an error parsing the body: {e}")),
    };
    let Value::Object(o) = v else {
        return bad("Input should be a valid dictionary or object to extract fields from");
    };
    for (name, _, required) in FIELDS {
        if *required && o.get(*name).is_none() {
            return bad(&format!("{name}: Field required"));
        }
    }
    for (name, ty, required) in FIELDS {
        match o.get(*name) {
            None => {}
            Some(Value::Null) if !required => {}
            Some(v) => {
                if let Some(msg) = check(name, *ty, v) {
                    return bad(&msg);
                }
                if *name == "max_tokens" && v.as_i64().is_some_and(|n| n < 1) {
                    return bad("max_tokens: Input should be greater than or equal to 1");
                }
            }
        }
    }
    if let Some(Value::Array(msgs)) = o.get("messages") {
        for (i, m) in msgs.iter().enumerate() {
            for field in ["role", "content"] {
                match m.get(field) {
                    None => return bad(&format!("messages.{i}.{field}: Field required")),
                    Some(v) => {
                        let ty = if field == "role" {
                            Ty::Str
                        } else {
                            Ty::Content
                        };
                        if let Some(msg) = check(&format!("messages.{i}.{field}"), ty, v) {
                            return bad(&msg);
                        }
                    }
                }
            }
        }
    }
    bad(&format!("Invalid request: {e}"))
}

/// The validator's message when `v` is not a `ty`, naming the path of the first bad item.
fn check(path: &str, ty: Ty, v: &Value) -> Option<String> {
    let (ok, what) = match ty {
        Ty::Int => (v.is_i64() || v.is_u64(), "a valid integer"),
        Ty::Number => (v.is_number(), "a valid number"),
        Ty::Bool => (v.is_boolean(), "a valid boolean"),
        Ty::Str => (v.is_string(), "a valid string"),
        Ty::Dict => (v.is_object(), "a valid dictionary"),
        Ty::Dicts | Ty::Strs | Ty::Content => {
            if ty == Ty::Content && v.is_string() {
                return None;
            }
            let Value::Array(items) = v else {
                return Some(format!("{path}: Input should be a valid list"));
            };
            let (item_ok, item_what): (fn(&Value) -> bool, &str) = if let Ty::Strs = ty {
                (Value::is_string, "a valid string")
            } else {
                (Value::is_object, "a valid dictionary")
            };
            let (i, _) = items.iter().enumerate().find(|(_, x)| !item_ok(x))?;
            return Some(format!("{path}.{i}: Input should be {item_what}"));
        }
    };
    (!ok).then(|| format!("{path}: Input should be {what}"))
}
