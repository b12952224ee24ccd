//! The scenario: a declarative description of a workload (users, customers, features,
//! models, job mix, chat/agent shapes, retries), loaded from TOML or a built-in and
//! validated as a whole (every problem reported at once, naming its key).

use serde::{Deserialize, Serialize};

use super::builtin;
use super::LoadgenError;

/// Wire format of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireFormat {
    /// OpenAI `POST /v1/chat/completions`, `Authorization: Bearer`.
    OpenAi,
    /// Anthropic `POST /v1/messages`, `x-api-key` + `anthropic-version`.
    Anthropic,
}

impl WireFormat {
    /// Lowercase name (`openai` / `anthropic`).
    pub fn as_str(self) -> &'static str {
        match self {
            WireFormat::OpenAi => "openai",
            WireFormat::Anthropic => "anthropic",
        }
    }
}

/// An inclusive integer range written `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span(pub u32, pub u32);

/// A whole workload description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (shown in reports).
    pub name: String,
    /// One line on what this workload models.
    #[serde(default)]
    pub description: String,
    /// API keys to use (e.g. one per team); `--key` on the command line replaces them.
    #[serde(default)]
    pub keys: Vec<String>,
    /// The user population.
    pub users: Users,
    /// Job kinds and per-request mixes.
    pub mix: Mix,
    /// Product features (each sends `x-jevons-feature`; feature i uses key i mod #keys).
    pub features: Vec<Feature>,
    /// Model names the target serves, with weights.
    pub models: Vec<ModelChoice>,
    /// `max_tokens` distribution.
    #[serde(default)]
    pub max_tokens: MaxTokens,
    /// Multi-turn chat sessions.
    #[serde(default)]
    pub chat: Chat,
    /// Agent tasks with sub-tasks and tool loops.
    #[serde(default)]
    pub agent: Agent,
    /// One-shot requests.
    #[serde(default)]
    pub single: Single,
    /// Retries on 429 / 5xx / connect errors / timeouts.
    #[serde(default)]
    pub retry: Retry,
}

/// Users and customers; activity is Zipf-distributed over user rank (whales first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    /// Number of distinct users.
    pub count: u32,
    /// Zipf exponent of user activity (0 = uniform; ~1.1 = a few whales make most load).
    pub zipf_exponent: f64,
    /// Number of customers (organizations) users belong to.
    pub customers: u32,
    /// Zipf exponent of customer size (how many users each customer has).
    #[serde(default = "one")]
    pub customer_zipf_exponent: f64,
}

/// Mix of job kinds and per-request properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mix {
    /// Relative weight of multi-turn chat sessions.
    pub chat: f64,
    /// Relative weight of agent tasks.
    pub agent: f64,
    /// Relative weight of one-shot requests.
    pub single: f64,
    /// Share of jobs in OpenAI format (the rest Anthropic), 0..=1.
    pub openai_share: f64,
    /// Share of requests that stream (SSE), 0..=1.
    pub stream_share: f64,
    /// Share of streamed requests the client drops mid-stream, 0..=1.
    #[serde(default)]
    pub disconnect_rate: f64,
    /// After how many SSE events a dropping client disconnects, `[min, max]`.
    #[serde(default = "default_disconnect_after")]
    pub disconnect_after_events: Span,
}

/// A product feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feature {
    /// Name sent in `x-jevons-feature`.
    pub name: String,
    /// Relative weight.
    pub weight: f64,
    /// Words of a long system prompt shared by every request of this feature (0 = none);
    /// a long shared prefix is what makes prompt caching show up.
    #[serde(default)]
    pub system_prompt_words: u32,
    /// Mark the Anthropic system prompt with `cache_control: ephemeral`.
    #[serde(default = "yes")]
    pub cache_control: bool,
}

/// A model the target serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelChoice {
    /// Model name sent in the body.
    pub name: String,
    /// Relative weight.
    pub weight: f64,
    /// Formats this model is sent in (default: both).
    #[serde(default = "both_formats")]
    pub formats: Vec<WireFormat>,
}

/// `max_tokens` distribution: a weighted choice, or unset with some probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxTokens {
    /// Candidate values.
    pub values: Vec<u32>,
    /// Weights, one per value.
    pub weights: Vec<f64>,
    /// Share of OpenAI requests sent without `max_tokens` (Anthropic requires it: those
    /// get `anthropic_default`).
    #[serde(default)]
    pub unset_share: f64,
    /// `max_tokens` for Anthropic requests that drew "unset".
    #[serde(default = "default_anthropic_max")]
    pub anthropic_default: u32,
}

/// Multi-turn chat sessions (each turn re-sends the whole conversation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chat {
    /// Turns per session.
    pub turns: Span,
    /// Words per user message.
    pub user_words: Span,
    /// Words of each (planned) assistant answer carried in later turns' context.
    pub answer_words: Span,
}

/// Agent tasks: a tree of tasks, each a few steps, some with tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Model calls per task (excluding tool follow-ups and sub-tasks).
    pub steps: Span,
    /// Probability that a root task spawns sub-tasks.
    pub subtask_prob: f64,
    /// Factor applied to `subtask_prob` per level of depth (0..=1).
    #[serde(default = "half")]
    pub subtask_decay: f64,
    /// Most sub-tasks one task spawns.
    pub max_subtasks: u32,
    /// Deepest level (root = 1).
    pub max_depth: u32,
    /// Share of steps that send `tools`.
    pub tool_share: f64,
    /// Most tool-result follow-ups after one planned step.
    pub max_tool_rounds: u32,
    /// Words of the task goal and of each observation.
    #[serde(default = "default_agent_words")]
    pub words: Span,
}

/// One-shot requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Single {
    /// Words of the prompt.
    pub prompt_words: Span,
}

/// Client retries (each attempt is one request in the report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Retries after the first attempt (0 = never retry).
    pub max_retries: u32,
    /// First backoff; doubles per attempt, with deterministic jitter.
    pub base_backoff_ms: u64,
    /// Cap on any wait, including a server's `Retry-After`.
    pub max_backoff_ms: u64,
}

fn one() -> f64 {
    1.0
}
fn half() -> f64 {
    0.5
}
fn yes() -> bool {
    true
}
fn both_formats() -> Vec<WireFormat> {
    vec![WireFormat::OpenAi, WireFormat::Anthropic]
}
fn default_disconnect_after() -> Span {
    Span(1, 20)
}
fn default_anthropic_max() -> u32 {
    1024
}
fn default_agent_words() -> Span {
    Span(10, 60)
}

impl Default for MaxTokens {
    fn default() -> Self {
        MaxTokens {
            values: vec![256, 1024],
            weights: vec![3.0, 1.0],
            unset_share: 0.1,
            anthropic_default: default_anthropic_max(),
        }
    }
}
impl Default for Chat {
    fn default() -> Self {
        Chat {
            turns: Span(2, 8),
            user_words: Span(5, 60),
            answer_words: Span(20, 200),
        }
    }
}
impl Default for Agent {
    fn default() -> Self {
        Agent {
            steps: Span(2, 6),
            subtask_prob: 0.4,
            subtask_decay: 0.5,
            max_subtasks: 3,
            max_depth: 3,
            tool_share: 0.6,
            max_tool_rounds: 3,
            words: default_agent_words(),
        }
    }
}
impl Default for Single {
    fn default() -> Self {
        Single {
            prompt_words: Span(5, 200),
        }
    }
}
impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_retries: 2,
            base_backoff_ms: 100,
            max_backoff_ms: 5_000,
        }
    }
}

impl Scenario {
    /// Parses and validates scenario TOML; `origin` names it in errors (a path or
    /// `built-in NAME`).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Scenario, LoadgenError> {
        let s: Scenario = toml::from_str(text).map_err(|e| LoadgenError::ScenarioParse {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        s.validate(origin)?;
        Ok(s)
    }

    /// A built-in name (`default`, `agentic`, `chat`, ...) or a path to a TOML file.
    /// An existing file wins over a built-in of the same name.
    pub fn load(name_or_path: &str) -> Result<Scenario, LoadgenError> {
        let path = std::path::Path::new(name_or_path);
        if path.is_file() {
            let text =
                std::fs::read_to_string(path).map_err(|source| LoadgenError::ScenarioRead {
                    path: path.to_path_buf(),
                    source,
                    builtins: builtin::names().join(", "),
                })?;
            return Scenario::from_toml_str(&text, &path.display().to_string());
        }
        match builtin::toml_text(name_or_path) {
            Some(text) => Scenario::from_toml_str(text, &format!("built-in '{name_or_path}'")),
            None => Err(LoadgenError::UnknownScenario {
                name: name_or_path.to_string(),
                builtins: builtin::names().join(", "),
            }),
        }
    }
}
