//! OpenAI's 400s for request bodies that did not parse or break a bound: one table of
//! fields per endpoint (types and integer bounds, including fields the mock does not use,
//! such as `temperature` or `stop`), walked only when the typed parse failed, so the
//! answer names the real offending field with OpenAI's wording, `param` and `code`.

use http::{Response, StatusCode};
use serde_json::{Map, Value};

use super::body::MockBody;
use super::errors;

/// The type OpenAI expects for a field.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ty {
    /// An integer within `min..=max`.
    Int(Option<i64>, Option<i64>),
    /// Any number.
    Decimal,
    /// `true` / `false`.
    Bool,
    /// A string.
    Str,
    /// A JSON object.
    Object,
    /// An array of objects.
    Objects,
    /// `stop`: a string or an array of strings.
    StrOrStrs,
    /// `tool_choice`: `none` / `auto` / `required` or an object.
    ToolChoice,
    /// Embeddings `input`: string, strings, token array or token arrays.
    EmbeddingInput,
}

/// `POST /v1/chat/completions`, in the order OpenAI reports them (`messages` first).
pub(super) const CHAT: &[(&str, Ty)] = &[
    ("messages", Ty::Objects),
    ("max_tokens", Ty::Int(Some(1), None)),
    ("max_completion_tokens", Ty::Int(Some(1), None)),
    ("n", Ty::Int(Some(1), Some(128))),
    ("seed", Ty::Int(None, None)),
    ("top_logprobs", Ty::Int(Some(0), Some(20))),
    ("temperature", Ty::Decimal),
    ("top_p", Ty::Decimal),
    ("presence_penalty", Ty::Decimal),
    ("frequency_penalty", Ty::Decimal),
    ("stream", Ty::Bool),
    ("logprobs", Ty::Bool),
    ("store", Ty::Bool),
    ("parallel_tool_calls", Ty::Bool),
    ("user", Ty::Str),
    ("service_tier", Ty::Str),
    ("reasoning_effort", Ty::Str),
    ("stop", Ty::StrOrStrs),
    ("stream_options", Ty::Object),
    ("response_format", Ty::Object),
    ("metadata", Ty::Object),
    ("logit_bias", Ty::Object),
    ("tools", Ty::Objects),
    ("tool_choice", Ty::ToolChoice),
];

/// `POST /v1/embeddings`.
pub(super) const EMBEDDINGS: &[(&str, Ty)] = &[
    ("input", Ty::EmbeddingInput),
    ("dimensions", Ty::Int(Some(1), None)),
    ("encoding_format", Ty::Str),
    ("user", Ty::Str),
];

/// Roles OpenAI accepts, in its error message's order.
const ROLES: &[&str] = &[
    "system",
    "assistant",
    "user",
    "function",
    "tool",
    "developer",
];

/// An OpenAI 400 (`invalid_request_error`).
pub(super) fn bad(message: &str, param: Option<&str>, code: Option<&str>) -> Response<MockBody> {
    errors::openai(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        message,
        param,
        code,
    )
}

fn invalid_type(param: &str, expected: &str, got: &Value) -> Response<MockBody> {
    bad(
        &format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            kind(got)
        ),
        Some(param),
        Some("invalid_type"),
    )
}

/// How OpenAI names a JSON value's type in "but got ... instead".
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The 400 for an integer `v` outside the bounds `fields` gives `name`, if any.
pub(super) fn out_of_range(
    fields: &[(&str, Ty)],
    name: &str,
    v: i64,
) -> Option<Response<MockBody>> {
    let (_, Ty::Int(min, max)) = fields.iter().find(|(n, _)| *n == name)? else {
        return None;
    };
    if let Some(lo) = min.filter(|lo| v < *lo) {
        return Some(bad(
            &format!("Invalid '{name}': integer below minimum value. Expected a value >= {lo}, but got {v} instead."),
            Some(name),
            Some("integer_below_min_value"),
        ));
    }
    let hi = max.filter(|hi| v > *hi)?;
    Some(bad(
        &format!("Invalid '{name}': integer above maximum value. Expected a value <= {hi}, but got {v} instead."),
        Some(name),
        Some("integer_above_max_value"),
    ))
}

/// The 400 for a `role` OpenAI does not know, if it is one.
pub(super) fn bad_role(i: usize, role: &str) -> Option<Response<MockBody>> {
    if ROLES.contains(&role) {
        return None;
    }
    let list: Vec<String> = ROLES.iter().map(|r| format!("'{r}'")).collect();
    let (last, rest) = list.split_last()?;
    Some(bad(
        &format!(
            "Invalid value: '{role}'. Supported values are: {}, and {last}.",
            rest.join(", ")
        ),
        Some(&format!("messages[{i}].role")),
        Some("invalid_value"),
    ))
}

/// Turns a body that did not parse into OpenAI's 400 for it: garbage JSON, a missing or
/// mistyped `model`, a missing `required` field, then the first field of `fields` with the
/// wrong type or out of bounds, then (chat) the first bad message.
pub(super) fn explain(
    body: &[u8],
    e: &serde_json::Error,
    required: &str,
    fields: &[(&str, Ty)],
) -> Response<MockBody> {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return bad(errors::OPENAI_BAD_JSON, None, None);
    };
    match obj.get("model") {
        None | Some(Value::Null) => return bad("you must provide a model parameter", None, None),
        Some(Value::String(_)) => {}
        Some(other) => return invalid_type("model", "a string", other),
    }
    if obj.get(required).is_none() {
        return bad(
            &format!("Missing required parameter: '{required}'."),
            Some(required),
            Some("missing_required_parameter"),
        );
    }
    for (name, ty) in fields {
        match obj.get(*name) {
            None => {}
            Some(Value::Null) if *name != required => {}
            Some(v) => {
                if let Some(r) = check(fields, name, *ty, v) {
                    return r;
                }
            }
        }
    }
    if let Some(Value::Array(msgs)) = obj.get("messages") {
        if let Some(r) = check_messages(msgs) {
            return r;
        }
    }
    if let Some(Value::Object(o)) = obj.get("stream_options") {
        if let Some(v) = o
            .get("include_usage")
            .filter(|v| !v.is_null() && !v.is_boolean())
        {
            return invalid_type("stream_options.include_usage", "a boolean", v);
        }
    }
    bad(&format!("Invalid request body: {e}."), None, None)
}

/// The 400 for value `v` of field `name` when it does not fit `fields`' type for it.
pub(super) fn check_field(
    fields: &[(&str, Ty)],
    name: &str,
    v: &Value,
) -> Option<Response<MockBody>> {
    let (_, ty) = fields.iter().find(|(n, _)| *n == name)?;
    check(fields, name, *ty, v)
}

fn check(fields: &[(&str, Ty)], name: &str, ty: Ty, v: &Value) -> Option<Response<MockBody>> {
    let ok = match ty {
        Ty::Int(..) => {
            let Some(i) = v.as_i64() else {
                return (!v.is_u64()).then(|| invalid_type(name, "an integer", v));
            };
            return out_of_range(fields, name, i);
        }
        Ty::Decimal => v.is_number(),
        Ty::Bool => v.is_boolean(),
        Ty::Str => v.is_string(),
        Ty::Object => v.is_object(),
        Ty::Objects => {
            let Value::Array(items) = v else {
                return Some(invalid_type(name, "an array of objects", v));
            };
            let (i, item) = items.iter().enumerate().find(|(_, x)| !x.is_object())?;
            return Some(invalid_type(&format!("{name}[{i}]"), "an object", item));
        }
        Ty::StrOrStrs => match v {
            Value::String(_) => true,
            Value::Array(items) => {
                let (i, item) = items.iter().enumerate().find(|(_, x)| !x.is_string())?;
                return Some(invalid_type(&format!("{name}[{i}]"), "a string", item));
            }
            _ => false,
        },
        Ty::ToolChoice => v.is_string() || v.is_object(),
        Ty::EmbeddingInput => is_embedding_input(v),
    };
    if ok {
        return None;
    }
    let expected = match ty {
        Ty::Decimal => "a decimal",
        Ty::Bool => "a boolean",
        Ty::Str => "a string",
        Ty::Object => "an object",
        Ty::StrOrStrs => "one of a string or array of strings",
        Ty::ToolChoice => "one of one of 'none', 'auto', or 'required' or object",
        Ty::EmbeddingInput => {
            "one of a string, array of strings, array of integers, or array of arrays of integers"
        }
        Ty::Int(..) | Ty::Objects => return None,
    };
    Some(invalid_type(name, expected, v))
}

fn is_embedding_input(v: &Value) -> bool {
    let tokens = |a: &Vec<Value>| a.iter().all(|t| t.is_u64());
    match v {
        Value::String(_) => true,
        Value::Array(a) => {
            a.iter().all(Value::is_string)
                || tokens(a)
                || a.iter().all(|x| x.as_array().is_some_and(tokens))
        }
        _ => false,
    }
}

fn check_messages(msgs: &[Value]) -> Option<Response<MockBody>> {
    for (i, m) in msgs.iter().enumerate() {
        let Some(o): Option<&Map<String, Value>> = m.as_object() else {
            continue; // reported by the `messages` entry of the table
        };
        match o.get("role") {
            None | Some(Value::Null) => {
                let p = format!("messages[{i}].role");
                return Some(bad(
                    &format!("Missing required parameter: '{p}'."),
                    Some(&p),
                    Some("missing_required_parameter"),
                ));
            }
            Some(Value::String(r)) => {
                if let Some(resp) = bad_role(i, r) {
                    return Some(resp);
                }
            }
            Some(other) => {
                return Some(invalid_type(
                    &format!("messages[{i}].role"),
                    "a string",
                    other,
                ))
            }
        }
        if let Some(c) = o.get("content").filter(|c| !c.is_null()) {
            let ok = c.is_string()
                || c.as_array()
                    .is_some_and(|parts| parts.iter().all(Value::is_object));
            if !ok {
                return Some(invalid_type(
                    &format!("messages[{i}].content"),
                    "one of a string or array of objects",
                    c,
                ));
            }
        }
        if let Some(t) = o.get("tool_calls").filter(|t| !t.is_null()) {
            if let Some(r) = check(&[], &format!("messages[{i}].tool_calls"), Ty::Objects, t) {
                return Some(r);
            }
        }
    }
    None
}
