//! The deterministic plan: `Plan::generate(&scenario, seed)` fixes the population, and
//! `plan.job(i)` yields job `i` (a chat session, an agent task tree, or a one-shot call)
//! as a function of `(scenario, seed, i)` alone. Bodies are serialized here, once.

use bytes::Bytes;
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Serialize, Serializer};
use std::sync::Arc;

use super::body::Msg;
use super::jobs::JobBuilder;
use super::population::Population;
use super::scenario::{Scenario, WireFormat};
use super::text::{sentence, words};
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
    pub(super) scenario: Arc<Scenario>,
    pub(super) seed: u64,
    pub(super) key: [u8; 32],
    pub(super) population: Population,
    pub(super) kinds: WeightedIndex<f64>,
    pub(super) features: WeightedIndex<f64>,
    pub(super) feature_names: Vec<Arc<str>>,
    pub(super) system_prompts: Vec<Option<Arc<str>>>,
    pub(super) models: [Option<ModelPick>; 2],
    pub(super) max_tokens: WeightedIndex<f64>,
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
