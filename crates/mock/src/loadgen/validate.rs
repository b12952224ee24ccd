//! Scenario validation: every value range-checked and cross-checked (formats vs models,
//! worst-case job size, context growth), all problems collected and reported at once, each
//! naming its key.

use super::scenario::{Scenario, Span, WireFormat};
use super::LoadgenError;

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
    if s.0 > s.1 {
        p.push(format!(
            "{key} = [{}, {}]: min is above max; write [min, max]",
            s.0, s.1
        ));
    }
    if s.0 < lo || s.1 > hi {
        p.push(format!(
            "{key} = [{}, {}]: values must be within {lo}..={hi}",
            s.0, s.1
        ));
    }
}
