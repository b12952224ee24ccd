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

impl Span {
    fn check(&self, key: &str, problems: &mut Vec<String>) {
        if self.0 > self.1 {
            problems.push(format!(
                "{key} = [{}, {}]: min is above max; write [min, max]",
                self.0, self.1
            ));
        }
    }
}

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

/// Largest values accepted, so a typo cannot ask for an unbounded job.
const MAX_USERS: u32 = 10_000_000;
const MAX_SPAN: u32 = 1_000;
const MAX_WORDS: u32 = 100_000;
const MAX_DEPTH: u32 = 8;
const MAX_SUBTASKS: u32 = 10;
const MAX_TOOL_ROUNDS: u32 = 50;
const MAX_RETRIES: u32 = 20;
const MAX_JOB_REQUESTS: u64 = 100_000;
const MAX_CONTEXT_WORDS: u64 = 2_000_000;

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

    /// Checks every value; returns all problems at once.
    pub fn validate(&self, origin: &str) -> Result<(), LoadgenError> {
        let mut p = Vec::new();
        let u = &self.users;
        if u.count == 0 || u.count > MAX_USERS {
            p.push(format!(
                "users.count = {}: must be 1..={MAX_USERS}",
                u.count
            ));
        }
        if u.customers == 0 || u.customers > u.count.max(1) {
            p.push(format!(
                "users.customers = {}: must be 1..=users.count ({})",
                u.customers, u.count
            ));
        }
        exponent("users.zipf_exponent", u.zipf_exponent, &mut p);
        exponent(
            "users.customer_zipf_exponent",
            u.customer_zipf_exponent,
            &mut p,
        );
        let m = &self.mix;
        for (k, v) in [
            ("mix.chat", m.chat),
            ("mix.agent", m.agent),
            ("mix.single", m.single),
        ] {
            weight(k, v, &mut p);
        }
        if m.chat + m.agent + m.single <= 0.0 {
            p.push("mix.chat + mix.agent + mix.single must be above 0".into());
        }
        for (k, v) in [
            ("mix.openai_share", m.openai_share),
            ("mix.stream_share", m.stream_share),
            ("mix.disconnect_rate", m.disconnect_rate),
            ("agent.subtask_prob", self.agent.subtask_prob),
            ("agent.subtask_decay", self.agent.subtask_decay),
            ("agent.tool_share", self.agent.tool_share),
            ("max_tokens.unset_share", self.max_tokens.unset_share),
        ] {
            rate(k, v, &mut p);
        }
        span(
            "mix.disconnect_after_events",
            m.disconnect_after_events,
            1,
            MAX_SPAN,
            &mut p,
        );
        if self.features.is_empty() {
            p.push("features: at least one [[features]] entry is required".into());
        }
        for (i, f) in self.features.iter().enumerate() {
            if f.name.trim().is_empty() || !f.name.chars().all(|c| c.is_ascii_graphic()) {
                p.push(format!(
                    "features[{i}].name = {:?}: use printable ASCII without spaces",
                    f.name
                ));
            }
            weight(&format!("features[{i}].weight"), f.weight, &mut p);
            if f.system_prompt_words > MAX_WORDS {
                p.push(format!(
                    "features[{i}].system_prompt_words = {}: at most {MAX_WORDS}",
                    f.system_prompt_words
                ));
            }
        }
        if self.features.iter().map(|f| f.weight).sum::<f64>() <= 0.0 {
            p.push("features: weights must not all be 0".into());
        }
        self.validate_models(&mut p);
        let mt = &self.max_tokens;
        if mt.values.is_empty() || mt.values.len() != mt.weights.len() {
            p.push(format!(
                "max_tokens: values ({}) and weights ({}) must be non-empty and the same length",
                mt.values.len(),
                mt.weights.len()
            ));
        }
        for (i, w) in mt.weights.iter().enumerate() {
            weight(&format!("max_tokens.weights[{i}]"), *w, &mut p);
        }
        if mt.weights.iter().sum::<f64>() <= 0.0 {
            p.push("max_tokens.weights must not all be 0".into());
        }
        if mt.values.contains(&0) || mt.anthropic_default == 0 {
            p.push("max_tokens: values and anthropic_default must be at least 1".into());
        }
        span("chat.turns", self.chat.turns, 1, MAX_SPAN, &mut p);
        span(
            "chat.user_words",
            self.chat.user_words,
            1,
            MAX_WORDS,
            &mut p,
        );
        span(
            "chat.answer_words",
            self.chat.answer_words,
            1,
            MAX_WORDS,
            &mut p,
        );
        span(
            "single.prompt_words",
            self.single.prompt_words,
            1,
            MAX_WORDS,
            &mut p,
        );
        let a = &self.agent;
        span("agent.steps", a.steps, 1, MAX_SPAN, &mut p);
        span("agent.words", a.words, 1, MAX_WORDS, &mut p);
        if a.max_depth == 0 || a.max_depth > MAX_DEPTH {
            p.push(format!(
                "agent.max_depth = {}: must be 1..={MAX_DEPTH}",
                a.max_depth
            ));
        }
        if a.max_subtasks > MAX_SUBTASKS {
            p.push(format!(
                "agent.max_subtasks = {}: at most {MAX_SUBTASKS}",
                a.max_subtasks
            ));
        }
        if a.max_tool_rounds > MAX_TOOL_ROUNDS {
            p.push(format!(
                "agent.max_tool_rounds = {}: at most {MAX_TOOL_ROUNDS}",
                a.max_tool_rounds
            ));
        }
        let mut tasks = 0u64;
        let mut level = 1u64;
        for _ in 0..a.max_depth.min(MAX_DEPTH) {
            tasks = tasks.saturating_add(level);
            level = level.saturating_mul(u64::from(a.max_subtasks));
        }
        let worst = tasks.saturating_mul(u64::from(a.steps.1));
        if worst > MAX_JOB_REQUESTS {
            p.push(format!(
                "agent: a task tree could plan {worst} calls (steps max x max_subtasks^depth); keep it under {MAX_JOB_REQUESTS} by lowering agent.steps, agent.max_subtasks or agent.max_depth"
            ));
        }
        let chat_ctx = u64::from(self.chat.turns.1)
            * (u64::from(self.chat.user_words.1) + u64::from(self.chat.answer_words.1));
        let agent_ctx = u64::from(a.steps.1) * 2 * u64::from(a.words.1);
        for (k, words) in [("chat", chat_ctx), ("agent", agent_ctx)] {
            if words > MAX_CONTEXT_WORDS {
                p.push(format!(
                    "{k}: the conversation could grow to {words} words; keep turns x words under {MAX_CONTEXT_WORDS}"
                ));
            }
        }
        let r = &self.retry;
        if r.max_retries > MAX_RETRIES {
            p.push(format!(
                "retry.max_retries = {}: at most {MAX_RETRIES}",
                r.max_retries
            ));
        }
        if r.base_backoff_ms > r.max_backoff_ms {
            p.push(format!(
                "retry.base_backoff_ms = {} is above retry.max_backoff_ms = {}",
                r.base_backoff_ms, r.max_backoff_ms
            ));
        }
        for (i, k) in self.keys.iter().enumerate() {
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_graphic()) {
                p.push(format!(
                    "keys[{i}]: a key must be non-empty printable ASCII"
                ));
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(LoadgenError::ScenarioInvalid {
                origin: origin.to_string(),
                problems: p,
            })
        }
    }

    fn validate_models(&self, p: &mut Vec<String>) {
        if self.models.is_empty() {
            p.push("models: at least one [[models]] entry is required".into());
        }
        for (i, m) in self.models.iter().enumerate() {
            if m.name.trim().is_empty() {
                p.push(format!("models[{i}].name is empty"));
            }
            weight(&format!("models[{i}].weight"), m.weight, p);
            if m.formats.is_empty() {
                p.push(format!(
                    "models[{i}].formats is empty: list openai and/or anthropic"
                ));
            }
        }
        for (fmt, share) in [
            (WireFormat::OpenAi, self.mix.openai_share),
            (WireFormat::Anthropic, 1.0 - self.mix.openai_share),
        ] {
            let w: f64 = self
                .models
                .iter()
                .filter(|m| m.formats.contains(&fmt))
                .map(|m| m.weight)
                .sum();
            if share > 0.0 && w <= 0.0 {
                p.push(format!(
                    "models: mix.openai_share sends {} requests but no model with weight > 0 lists \"{}\" in formats",
                    fmt.as_str(),
                    fmt.as_str()
                ));
            }
        }
    }
}

fn rate(key: &str, v: f64, p: &mut Vec<String>) {
    if !(0.0..=1.0).contains(&v) {
        p.push(format!("{key} = {v}: must be between 0 and 1"));
    }
}
fn weight(key: &str, v: f64, p: &mut Vec<String>) {
    if !v.is_finite() || v < 0.0 {
        p.push(format!(
            "{key} = {v}: a weight must be a finite number >= 0"
        ));
    }
}
fn exponent(key: &str, v: f64, p: &mut Vec<String>) {
    if !(0.0..=5.0).contains(&v) {
        p.push(format!("{key} = {v}: must be between 0 (uniform) and 5"));
    }
}
fn span(key: &str, s: Span, lo: u32, hi: u32, p: &mut Vec<String>) {
    s.check(key, p);
    if s.0 < lo || s.1 > hi {
        p.push(format!(
            "{key} = [{}, {}]: values must be within {lo}..={hi}",
            s.0, s.1
        ));
    }
}
