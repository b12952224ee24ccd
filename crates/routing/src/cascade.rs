//! Cascades (pure logic): try a cheap model, escalate to a strong one when a check on the
//! cheap answer fails — `finish_reason` length, empty answer, invalid JSON when JSON was
//! asked for, a refusal phrase, or a regex the answer must match (configured or client-named).

use std::fmt;

use regex::{Regex, RegexBuilder};
use serde::Serialize;

use crate::config::{CascadeConfig, CheckSpec};
use crate::RoutingError;

/// Compiled-size limit of any cascade regex (bytes of automaton).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Longest client-supplied pattern accepted.
pub const MAX_CLIENT_REGEX_LEN: usize = 1000;
/// How much of the answer's start is searched for refusal phrases.
const REFUSAL_WINDOW: usize = 400;

/// Lowercase phrases that mark a refusal near the start of an answer.
pub const REFUSAL_PHRASES: &[&str] = &[
    "i'm sorry, but i can't",
    "i’m sorry, but i can’t",
    "i am sorry, but i cannot",
    "i'm sorry, but i cannot",
    "i can't help with that",
    "i cannot help with that",
    "i can't assist with",
    "i cannot assist with",
    "i'm unable to help",
    "i am unable to help",
    "i'm not able to help",
    "i won't be able to help",
    "as an ai language model",
    "i must decline",
];

/// A named built-in check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    /// `finish_reason` is `length` (OpenAI) or `max_tokens` (Anthropic).
    Length,
    /// No text (and no tool call).
    Empty,
    /// JSON was requested and the answer does not parse.
    InvalidJson,
    /// A refusal phrase near the start.
    Refusal,
}

impl CheckKind {
    /// From its config name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "length" => Some(CheckKind::Length),
            "empty" => Some(CheckKind::Empty),
            "invalid_json" => Some(CheckKind::InvalidJson),
            "refusal" => Some(CheckKind::Refusal),
            _ => None,
        }
    }
}

/// Why the cheap answer was not good enough.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationReason {
    /// Cut off by the token limit.
    Length,
    /// Empty answer.
    Empty,
    /// JSON requested, answer is not JSON.
    InvalidJson,
    /// The model refused.
    Refusal,
    /// The answer does not match the required regex.
    RegexMismatch,
}

impl EscalationReason {
    /// Stable name for headers and the ledger.
    pub const fn as_str(self) -> &'static str {
        match self {
            EscalationReason::Length => "length",
            EscalationReason::Empty => "empty",
            EscalationReason::InvalidJson => "invalid_json",
            EscalationReason::Refusal => "refusal",
            EscalationReason::RegexMismatch => "regex_mismatch",
        }
    }
}

impl fmt::Display for EscalationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parts of the cheap model's answer the checks look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct CascadeResponse<'a> {
    /// `finish_reason` / `stop_reason`.
    pub finish_reason: Option<&'a str>,
    /// The answer text (first choice).
    pub content: &'a str,
    /// The request asked for JSON (`response_format` json_object / json_schema).
    pub json_requested: bool,
}

/// A regex the answer must match, named by the client (e.g. a header value).
#[derive(Debug, Clone)]
pub struct ClientCheck(Regex);

impl ClientCheck {
    /// Compiles a client pattern with length and size limits; errors say what to fix.
    pub fn parse(pattern: &str) -> Result<Self, RoutingError> {
        if pattern.len() > MAX_CLIENT_REGEX_LEN {
            return Err(RoutingError::BadRegex(format!(
                "pattern is {} characters long",
                pattern.len()
            )));
        }
        compile(pattern).map(ClientCheck)
    }
}

fn compile(pattern: &str) -> Result<Regex, RoutingError> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| RoutingError::BadRegex(e.to_string()))
}

#[derive(Debug, Clone)]
enum Check {
    Kind(CheckKind),
    Regex(Regex),
}

/// A compiled cascade.
#[derive(Debug, Clone)]
pub struct Cascade {
    /// Public name clients send as `model`.
    pub name: String,
    /// Public model tried first.
    pub cheap: String,
    /// Public model used on escalation.
    pub strong: String,
    checks: Vec<Check>,
}

impl Cascade {
    /// Compiles a configured cascade (names and regexes were validated with the config).
    pub fn from_config(c: &CascadeConfig) -> Result<Self, RoutingError> {
        let mut checks = Vec::with_capacity(c.checks.len());
        for spec in &c.checks {
            checks.push(match spec {
                CheckSpec::Named(n) => Check::Kind(CheckKind::from_name(n).ok_or_else(|| {
                    RoutingError::Invalid(vec![format!(
                        "cascade '{}': unknown check '{n}'",
                        c.name
                    )])
                })?),
                CheckSpec::Regex { regex } => Check::Regex(compile(regex)?),
            });
        }
        Ok(Cascade {
            name: c.name.clone(),
            cheap: c.cheap.clone(),
            strong: c.strong.clone(),
            checks,
        })
    }

    /// The first failing configured check, or None when the cheap answer stands.
    pub fn check(&self, r: &CascadeResponse<'_>) -> Option<EscalationReason> {
        self.check_with(r, None)
    }

    /// Like [`Cascade::check`], plus a client-named regex the answer must match.
    pub fn check_with(
        &self,
        r: &CascadeResponse<'_>,
        client: Option<&ClientCheck>,
    ) -> Option<EscalationReason> {
        for c in &self.checks {
            let failed = match c {
                Check::Kind(k) => kind_fails(*k, r),
                Check::Regex(re) => !re.is_match(r.content),
            };
            if failed {
                return Some(match c {
                    Check::Kind(k) => reason_of(*k),
                    Check::Regex(_) => EscalationReason::RegexMismatch,
                });
            }
        }
        match client {
            Some(ClientCheck(re)) if !re.is_match(r.content) => {
                Some(EscalationReason::RegexMismatch)
            }
            _ => None,
        }
    }
}

fn reason_of(k: CheckKind) -> EscalationReason {
    match k {
        CheckKind::Length => EscalationReason::Length,
        CheckKind::Empty => EscalationReason::Empty,
        CheckKind::InvalidJson => EscalationReason::InvalidJson,
        CheckKind::Refusal => EscalationReason::Refusal,
    }
}

fn kind_fails(k: CheckKind, r: &CascadeResponse<'_>) -> bool {
    let finish = r.finish_reason.unwrap_or("");
    let tool_call = matches!(finish, "tool_calls" | "tool_use" | "function_call");
    match k {
        CheckKind::Length => matches!(finish, "length" | "max_tokens"),
        CheckKind::Empty => !tool_call && r.content.trim().is_empty(),
        CheckKind::InvalidJson => {
            r.json_requested
                && !tool_call
                && serde_json::from_str::<serde::de::IgnoredAny>(r.content.trim()).is_err()
        }
        CheckKind::Refusal => is_refusal(r.content),
    }
}

/// Whether a refusal phrase appears near the start of `content` (case-insensitive).
pub fn is_refusal(content: &str) -> bool {
    let mut end = content.len().min(REFUSAL_WINDOW);
    while !content.is_char_boundary(end) {
        end -= 1;
    }
    let head = content[..end].to_lowercase();
    REFUSAL_PHRASES.iter().any(|p| head.contains(p))
}
