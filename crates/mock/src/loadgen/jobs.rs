//! Job shapes: how one job's requests are laid out — a chat session whose context grows
//! turn by turn, an agent task tree (depth-first, sub-tasks spawned mid-task), or a
//! one-shot call — each request's body serialized once here.

use rand::distributions::Distribution;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

use super::body::{encode, BodySpec, Msg};
use super::plan::{JobKind, Plan, PlannedRequest};
use super::scenario::WireFormat;
use super::text::{draw, sentence};

/// Builds one job's requests.
pub(super) struct JobBuilder<'p> {
    pub(super) plan: &'p Plan,
    pub(super) index: u64,
    pub(super) kind: JobKind,
    pub(super) format: WireFormat,
    pub(super) model: Arc<str>,
    pub(super) feature_ix: usize,
    pub(super) user: Arc<str>,
    pub(super) customer: Arc<str>,
    pub(super) requests: Vec<PlannedRequest>,
}

impl JobBuilder<'_> {
    pub(super) fn chat(&mut self, rng: &mut ChaCha8Rng) {
        let c = self.plan.scenario.chat.clone();
        let turns = draw(rng, c.turns);
        let mut msgs = Vec::new();
        for t in 0..turns {
            if t > 0 {
                msgs.push(Msg {
                    role: "assistant",
                    content: sentence(rng, "", c.answer_words),
                });
            }
            msgs.push(Msg {
                role: "user",
                content: sentence(rng, "", c.user_words),
            });
            self.push(rng, &msgs, false, None, None, None);
        }
    }

    pub(super) fn task(
        &mut self,
        rng: &mut ChaCha8Rng,
        depth: u32,
        parent: Option<Arc<str>>,
        counter: &mut u32,
    ) {
        let a = self.plan.scenario.agent.clone();
        let id: Arc<str> = Arc::from(format!(
            "task-{:x}-{}-{}",
            self.plan.seed, self.index, *counter
        ));
        *counter += 1;
        let steps = draw(rng, a.steps);
        let exp = i32::try_from(depth.saturating_sub(1)).unwrap_or(i32::MAX);
        let p_sub = a.subtask_prob * a.subtask_decay.powi(exp);
        let spawn = depth < a.max_depth && a.max_subtasks > 0 && rng.gen::<f64>() < p_sub;
        let (spawn_after, children) = if spawn {
            (rng.gen_range(1..=steps), rng.gen_range(1..=a.max_subtasks))
        } else {
            (0, 0)
        };
        let mut msgs = vec![Msg {
            role: "user",
            content: sentence(rng, "Task: ", a.words),
        }];
        for step in 1..=steps {
            let tools = rng.gen::<f64>() < a.tool_share;
            self.push(
                rng,
                &msgs,
                tools,
                Some(id.clone()),
                parent.clone(),
                Some(depth),
            );
            msgs.push(Msg {
                role: "assistant",
                content: sentence(rng, "Step: ", a.words),
            });
            msgs.push(Msg {
                role: "user",
                content: sentence(rng, "Observation: ", a.words),
            });
            if step == spawn_after {
                for _ in 0..children {
                    self.task(rng, depth + 1, Some(id.clone()), counter);
                }
            }
        }
    }

    pub(super) fn push(
        &mut self,
        rng: &mut ChaCha8Rng,
        msgs: &[Msg],
        tools: bool,
        task: Option<Arc<str>>,
        parent_task: Option<Arc<str>>,
        depth: Option<u32>,
    ) {
        let s = &self.plan.scenario;
        let stream = rng.gen::<f64>() < s.mix.stream_share;
        let disconnect_after = (stream && rng.gen::<f64>() < s.mix.disconnect_rate)
            .then(|| draw(rng, s.mix.disconnect_after_events));
        let max_tokens = if rng.gen::<f64>() < s.max_tokens.unset_share {
            None
        } else {
            s.max_tokens
                .values
                .get(self.plan.max_tokens.sample(rng))
                .copied()
        };
        let feature = s.features.get(self.feature_ix);
        let system = self
            .plan
            .system_prompts
            .get(self.feature_ix)
            .cloned()
            .flatten();
        let body = encode(
            &BodySpec {
                format: self.format,
                model: &self.model,
                system: system.as_deref(),
                cache_control: feature.is_some_and(|f| f.cache_control),
                messages: msgs,
                max_tokens,
                stream,
                tools,
            },
            s.max_tokens.anthropic_default,
        );
        self.requests.push(PlannedRequest {
            job: self.index,
            seq: u32::try_from(self.requests.len()).unwrap_or(u32::MAX),
            kind: self.kind,
            format: self.format,
            model: self.model.clone(),
            key_slot: u32::try_from(self.feature_ix).unwrap_or(0),
            stream,
            disconnect_after,
            tools,
            user: self.user.clone(),
            customer: self.customer.clone(),
            feature: self
                .plan
                .feature_names
                .get(self.feature_ix)
                .cloned()
                .unwrap_or_else(|| Arc::from("unknown")),
            task,
            parent_task,
            depth,
            body,
        });
    }
}
