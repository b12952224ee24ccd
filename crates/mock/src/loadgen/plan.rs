//! The deterministic plan: `Plan::generate(&scenario, seed)` fixes the population, and
//! `plan.job(i)` yields job `i` (a chat session, an agent task tree, or a one-shot call)
//! as a function of `(scenario, seed, i)` alone. Bodies are serialized here, once.

use bytes::Bytes;
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Serialize, Serializer};
use std::sync::Arc;

use super::body::{encode, BodySpec, Msg};
use super::population::Population;
use super::scenario::{Scenario, WireFormat};
use super::text::{draw, sentence, words};
use super::LoadgenError;

/// What kind of job a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Multi-turn chat session.
    Chat,
    /// Agent task tree.
    Agent,
    /// One-shot request.
    Single,
}

/// One planned request: body and attribution fixed by the seed.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedRequest {
    /// Job index.
    pub job: u64,
    /// Position within the job.
    pub seq: u32,
    /// Job kind.
    pub kind: JobKind,
    /// Wire format.
    pub format: WireFormat,
    /// Model name.
    #[serde(serialize_with = "ser_arc")]
    pub model: Arc<str>,
    /// Index into the key list (modulo its length): the feature's index.
    pub key_slot: u32,
    /// SSE streaming.
    pub stream: bool,
    /// Drop the response after this many SSE events (streams only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_after: Option<u32>,
    /// Tools offered (the runner follows tool calls up).
    pub tools: bool,
    /// `x-jevons-user`.
    #[serde(serialize_with = "ser_arc")]
    pub user: Arc<str>,
    /// `x-jevons-customer`.
    #[serde(serialize_with = "ser_arc")]
    pub customer: Arc<str>,
    /// `x-jevons-feature`.
    #[serde(serialize_with = "ser_arc")]
    pub feature: Arc<str>,
    /// `x-jevons-task` (agent jobs).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_arc"
    )]
    pub task: Option<Arc<str>>,
    /// `x-jevons-parent-task` (sub-tasks).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_arc"
    )]
    pub parent_task: Option<Arc<str>>,
    /// Depth of the task (root = 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// Serialized JSON body.
    #[serde(serialize_with = "ser_body")]
    pub body: Bytes,
}

/// A job: requests one worker sends in order.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Job index.
    pub index: u64,
    /// Kind.
    pub kind: JobKind,
    /// Planned requests.
    pub requests: Vec<PlannedRequest>,
}

/// A deterministic, unbounded sequence of jobs for one scenario and seed.
#[derive(Debug, Clone)]
pub struct Plan {
    scenario: Arc<Scenario>,
    seed: u64,
    key: [u8; 32],
    population: Population,
    kinds: WeightedIndex<f64>,
    features: WeightedIndex<f64>,
    feature_names: Vec<Arc<str>>,
    system_prompts: Vec<Option<Arc<str>>>,
    models: [Option<ModelPick>; 2],
    max_tokens: WeightedIndex<f64>,
}

/// Weighted model names for one wire format.
type ModelPick = (WeightedIndex<f64>, Vec<Arc<str>>);

const KINDS: [JobKind; 3] = [JobKind::Chat, JobKind::Agent, JobKind::Single];

impl Plan {
    /// Validates the scenario and fixes everything the seed decides up front.
    pub fn generate(scenario: &Scenario, seed: u64) -> Result<Plan, LoadgenError> {
        scenario.validate(&format!("'{}'", scenario.name))?;
        let bad = |what: &str| {
            let what = what.to_string();
            move |e: rand::distributions::WeightedError| {
                LoadgenError::BadConfig(format!("scenario {what}: {e}"))
            }
        };
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.to_le_bytes());
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(u64::MAX);
        let population = Population::new(&scenario.users, &mut rng)?;
        let m = &scenario.mix;
        let kinds = WeightedIndex::new([m.chat, m.agent, m.single]).map_err(bad("mix"))?;
        let features = WeightedIndex::new(scenario.features.iter().map(|f| f.weight))
            .map_err(bad("features"))?;
        let feature_names = scenario
            .features
            .iter()
            .map(|f| Arc::from(f.name.as_str()))
            .collect();
        let system_prompts = scenario
            .features
            .iter()
            .map(|f| {
                (f.system_prompt_words > 0).then(|| {
                    let text = words(&mut rng, f.system_prompt_words);
                    Arc::from(format!("You are the {} assistant. {text}", f.name))
                })
            })
            .collect();
        let per_format = |fmt: WireFormat| {
            let ms: Vec<_> = scenario
                .models
                .iter()
                .filter(|mc| mc.formats.contains(&fmt) && mc.weight > 0.0)
                .collect();
            let idx = WeightedIndex::new(ms.iter().map(|mc| mc.weight)).ok()?;
            Some((
                idx,
                ms.iter().map(|mc| Arc::from(mc.name.as_str())).collect(),
            ))
        };
        let models = [
            per_format(WireFormat::OpenAi),
            per_format(WireFormat::Anthropic),
        ];
        let max_tokens = WeightedIndex::new(scenario.max_tokens.weights.iter().copied())
            .map_err(bad("max_tokens"))?;
        Ok(Plan {
            scenario: Arc::new(scenario.clone()),
            seed,
            key,
            population,
            kinds,
            features,
            feature_names,
            system_prompts,
            models,
            max_tokens,
        })
    }

    /// The scenario this plan was generated from.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Job `index`: a pure function of (scenario, seed, index).
    pub fn job(&self, index: u64) -> Job {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(index);
        let user_ix = self.population.pick(&mut rng);
        let feature_ix = self.features.sample(&mut rng);
        let mut format = if rng.gen::<f64>() < self.scenario.mix.openai_share {
            WireFormat::OpenAi
        } else {
            WireFormat::Anthropic
        };
        if self.models[fmt_ix(format)].is_none() {
            format = other(format);
        }
        let model = self.models[fmt_ix(format)]
            .as_ref()
            .and_then(|(idx, names)| names.get(idx.sample(&mut rng)).cloned())
            .unwrap_or_else(|| Arc::from("unknown-model"));
        let kind = KINDS[self.kinds.sample(&mut rng)];
        let mut b = JobBuilder {
            plan: self,
            index,
            kind,
            format,
            model,
            feature_ix,
            user: self.population.user(user_ix),
            customer: self.population.customer(user_ix),
            requests: Vec::new(),
        };
        match kind {
            JobKind::Chat => b.chat(&mut rng),
            JobKind::Agent => {
                let mut counter = 0;
                b.task(&mut rng, 1, None, &mut counter);
            }
            JobKind::Single => {
                let prompt = sentence(&mut rng, "", self.scenario.single.prompt_words);
                let msgs = [Msg {
                    role: "user",
                    content: prompt,
                }];
                b.push(&mut rng, &msgs, false, None, None, None);
            }
        }
        Job {
            index,
            kind,
            requests: b.requests,
        }
    }

    /// Jobs 0, 1, 2, ... (unbounded).
    pub fn jobs(&self) -> impl Iterator<Item = Job> + '_ {
        (0..).map(|i| self.job(i))
    }

    /// The first `n` planned requests, in job order.
    pub fn first_requests(&self, n: usize) -> Vec<PlannedRequest> {
        self.jobs().flat_map(|j| j.requests).take(n).collect()
    }
}

fn fmt_ix(f: WireFormat) -> usize {
    match f {
        WireFormat::OpenAi => 0,
        WireFormat::Anthropic => 1,
    }
}
fn other(f: WireFormat) -> WireFormat {
    match f {
        WireFormat::OpenAi => WireFormat::Anthropic,
        WireFormat::Anthropic => WireFormat::OpenAi,
    }
}

struct JobBuilder<'p> {
    plan: &'p Plan,
    index: u64,
    kind: JobKind,
    format: WireFormat,
    model: Arc<str>,
    feature_ix: usize,
    user: Arc<str>,
    customer: Arc<str>,
    requests: Vec<PlannedRequest>,
}

impl JobBuilder<'_> {
    fn chat(&mut self, rng: &mut ChaCha8Rng) {
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

    fn task(
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

    fn push(
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

fn ser_arc<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

fn ser_opt_arc<S: Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&**v),
        None => s.serialize_none(),
    }
}

fn ser_body<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    match serde_json::from_slice::<&serde_json::value::RawValue>(b) {
        Ok(raw) => raw.serialize(s),
        Err(_) => s.serialize_str(&String::from_utf8_lossy(b)),
    }
}
