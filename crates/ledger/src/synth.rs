//! Synthetic, seeded gateway traffic for demos, tests and size measurements: keys belong to
//! teams, users to customers, features to teams, models to features, providers to models;
//! agent tasks with sub-tasks and retries. Costs follow a fixed per-model price table.
//!
//! Heavy-tailed like the load generator (`crates/mock/src/loadgen/population.rs`): user
//! activity is Zipf over 1,000 users (exponent 1.1: `user0` is the biggest whale), and users
//! belong to 60 customers of Zipf-distributed size. The population is fixed (its own seed),
//! so every chunk of a large ledger (`spec.seed` differs per chunk) shares it. Agent tasks are
//! short bursts (calls seconds apart) of a heavy-tailed number of calls over a task tree of
//! depth 2 or 3 (`t<seed>-<n>`, `t<seed>-<n>.s1`, `t<seed>-<n>.s1.s2`); task ids are unique
//! per seed, so a task never spans chunks or days.

use jevons_core::{Attribution, Money, RequestId, Usage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::event::{LedgerEvent, RefusalKind, Status};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct SynthSpec {
    /// Number of events.
    pub events: usize,
    /// First possible start time, ms.
    pub start_ms: i64,
    /// Events are spread uniformly over this many ms.
    pub span_ms: i64,
    /// RNG seed (same seed, same events).
    pub seed: u64,
}

const TEAMS: [&str; 4] = ["search", "support", "growth", "infra"];
const FEATURES: [[&str; 2]; 4] = [
    ["query-rewrite", "rerank"],
    ["chat", "summarize"],
    ["email-draft", "ab-copy"],
    ["triage", "agent"],
];
/// (model, providers, pico-USD per token: input, cache read, cache write, output).
const MODELS: [(&str, [&str; 2], [i64; 4]); 4] = [
    (
        "gpt-4o-mini",
        ["openai", "azure"],
        [150_000, 75_000, 150_000, 600_000],
    ),
    (
        "claude-sonnet-4",
        ["anthropic", "bedrock"],
        [3_000_000, 300_000, 3_750_000, 15_000_000],
    ),
    (
        "llama-3.3-70b",
        ["together", "groq"],
        [880_000, 880_000, 880_000, 880_000],
    ),
    (
        "o3-mini",
        ["openai", "openai"],
        [1_100_000, 550_000, 1_100_000, 4_400_000],
    ),
];

/// Users and customers (sizes as in the load generator's default scenario).
const USERS: u32 = 1000;
const CUSTOMERS: u32 = 60;
const USER_ZIPF: f64 = 1.1;
const CUSTOMER_ZIPF: f64 = 1.0;
/// Seed of the population (user → customer), the same for every chunk.
const POPULATION_SEED: u64 = 0x6a65_766f_6e73;
/// Most calls of one agent task tree.
const MAX_TASK_CALLS: u32 = 60;

/// Weights `1 / rank^s` for ranks 1..=n (a copy of the load generator's
/// `population::zipf_weights`: the ledger does not depend on `mock`).
fn zipf_weights(n: u32, s: f64) -> Vec<f64> {
    (1..=n).map(|k| 1.0 / f64::from(k).powf(s)).collect()
}

/// Samples indexes in proportion to weights (cumulative table + binary search).
struct Weighted {
    cumulative: Vec<f64>,
}

impl Weighted {
    fn new(weights: &[f64]) -> Weighted {
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w;
                acc
            })
            .collect();
        Weighted { cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.gen::<f64>() * total;
        self.cumulative
            .partition_point(|c| *c <= x)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

/// The fixed population: activity sampler and each user's customer.
struct Population {
    activity: Weighted,
    customer_of: Vec<u32>,
}

impl Population {
    fn new() -> Population {
        let mut rng = StdRng::seed_from_u64(POPULATION_SEED);
        let size = Weighted::new(&zipf_weights(CUSTOMERS, CUSTOMER_ZIPF));
        let customer_of = (0..USERS)
            .map(|_| u32::try_from(size.sample(&mut rng)).unwrap_or(0))
            .collect();
        Population {
            activity: Weighted::new(&zipf_weights(USERS, USER_ZIPF)),
            customer_of,
        }
    }
}

/// Who is calling: shared by every call of a task.
#[derive(Clone, Copy)]
struct Caller {
    team: usize,
    feature: usize,
    user: u32,
    customer: u32,
}

/// Generates `spec.events` events sorted by start time.
pub fn generate(spec: SynthSpec) -> Vec<LedgerEvent> {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let pop = Population::new();
    let mut out: Vec<LedgerEvent> = Vec::with_capacity(spec.events);
    let mut next_task = 0u64;
    while out.len() < spec.events {
        let ts = spec.start_ms + rng.gen_range(0..spec.span_ms.max(1));
        let user = u32::try_from(pop.activity.sample(&mut rng)).unwrap_or(0);
        let team = rng.gen_range(0..TEAMS.len());
        let feature = rng.gen_range(0..2);
        let caller = Caller {
            team,
            feature,
            user,
            customer: pop.customer_of.get(user as usize).copied().unwrap_or(0),
        };
        let agent = FEATURES[team][feature] == "agent" || rng.gen_bool(0.1);
        if !agent {
            out.push(one(&mut rng, ts, caller, None));
            continue;
        }
        // A burst: a heavy-tailed number of calls (Pareto, α ≈ 1.2), seconds apart, over a
        // task tree of depth 2 or 3.
        let u: f64 = rng.gen_range(0.0..1.0);
        let calls = ((2.0 / (1.0 - u).powf(1.0 / 1.2)) as u32).clamp(2, MAX_TASK_CALLS);
        let depth = rng.gen_range(2..=3);
        let root = format!("t{:x}-{next_task}", spec.seed);
        next_task += 1;
        let levels: Vec<String> = (0..depth)
            .scan(root, |id, d| {
                let this = id.clone();
                *id = format!("{id}.s{}", d + 1);
                Some(this)
            })
            .collect();
        let last = spec.start_ms + spec.span_ms.max(1) - 1;
        let mut t = ts;
        for k in 0..calls {
            if out.len() >= spec.events {
                break;
            }
            // The root plans, sub-tasks do the work: level by call index.
            let level = if k == 0 {
                0
            } else {
                1 + (k as usize - 1) % (depth - 1)
            };
            let task = levels.get(level).map(|id| {
                let parent = level.checked_sub(1).and_then(|p| levels.get(p)).cloned();
                (id.clone(), parent)
            });
            out.push(one(&mut rng, t.min(last), caller, task));
            t += rng.gen_range(500..20_000);
        }
    }
    out.sort_by_key(|e| (e.ts_ms, e.request_id));
    out
}

fn one(
    rng: &mut StdRng,
    ts: i64,
    c: Caller,
    task: Option<(String, Option<String>)>,
) -> LedgerEvent {
    let (t, f) = (c.team, c.feature);
    let (model, providers, price) = MODELS[(t + f) % MODELS.len()];
    let status = match rng.gen_range(0..1000) {
        0..=929 => Status::Ok,
        930..=949 => Status::Refused(RefusalKind::Budget),
        950..=959 => Status::Refused(RefusalKind::RateLimit),
        960..=974 => Status::UpstreamError,
        975..=984 => Status::Timeout,
        985..=989 => Status::ClientDisconnected,
        990..=994 => Status::CacheHit,
        _ => Status::ClientError,
    };
    let rnd: u128 = u128::from(rng.gen::<u64>()) << 16 | u128::from(rng.gen::<u16>());
    let mut e = LedgerEvent::new(
        RequestId((u128::try_from(ts.max(0)).unwrap_or(0) << 80) | rnd),
        ts,
        model,
        status,
    );
    e.attribution = Attribution {
        key_id: format!("key_{}{}", TEAMS[t], rng.gen_range(0..2)),
        team: TEAMS[t].into(),
        org: "acme".into(),
        user: Some(format!("user{}", c.user)),
        customer: Some(format!("cust{}", c.customer)),
        feature: Some(FEATURES[t][f].into()),
        task: None,
        parent_task: None,
        tags: Vec::new(),
    };
    if let Some((task, parent)) = task {
        e.attribution.task = Some(task);
        e.attribution.parent_task = parent;
    }
    e.attempt = u32::from(rng.gen_bool(0.03));
    match status {
        Status::Ok | Status::CacheHit | Status::ClientDisconnected => {
            e.served_model = Some(model.into());
            e.provider = Some(providers[rng.gen_range(0..2)].into());
            e.deployment = e.provider.clone();
            e.route_reason = Some("cheapest-healthy".into());
            e.http_status = if status == Status::ClientDisconnected {
                0
            } else {
                200
            };
            e.stream = rng.gen_bool(0.6);
            if status != Status::CacheHit {
                meter(rng, &mut e, price);
            }
            e.latency_us = rng.gen_range(150_000..12_000_000);
            e.ttft_us = e.stream.then(|| e.latency_us / rng.gen_range(3..10));
        }
        Status::Refused(_) => {
            e.http_status = 429;
            e.error_kind = Some("budget_exceeded".into());
            e.latency_us = rng.gen_range(40..400);
        }
        Status::ClientError => {
            e.http_status = 400;
            e.error_kind = Some("invalid_request".into());
            e.latency_us = rng.gen_range(40..400);
        }
        _ => {
            e.provider = Some(providers[0].into());
            e.http_status = if status == Status::Timeout { 504 } else { 502 };
            e.error_kind = Some("upstream_failed".into());
            e.latency_us = rng.gen_range(1_000_000..30_000_000);
        }
    }
    e
}

fn meter(rng: &mut StdRng, e: &mut LedgerEvent, price: [i64; 4]) {
    let prompt = rng.gen_range(200..8000u64);
    let cached = if rng.gen_bool(0.5) {
        prompt * rng.gen_range(0..90) / 100
    } else {
        0
    };
    let write = if cached == 0 && rng.gen_bool(0.2) {
        prompt / 2
    } else {
        0
    };
    let output = rng.gen_range(20..2000u64);
    e.usage = Usage {
        input: prompt - cached - write,
        cache_read: cached,
        cache_write_5m: write,
        output,
        reasoning: if e.requested_model.starts_with("o3") {
            output / 2
        } else {
            0
        },
        estimated: e.status == Status::ClientDisconnected,
        ..Usage::default()
    };
    let u = &e.usage;
    let pico = |n: u64, p: i64| i64::try_from(n).unwrap_or(0).saturating_mul(p);
    e.cost = Money::from_pico(
        pico(u.input, price[0])
            + pico(u.cache_read, price[1])
            + pico(u.cache_write_5m, price[2])
            + pico(u.output, price[3]),
    );
    e.list_cost = e.cost;
    e.cache_savings = Money::from_pico(pico(u.cache_read, price[0] - price[1]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_sorted() {
        let spec = SynthSpec {
            events: 500,
            start_ms: 1_000_000,
            span_ms: 3_600_000,
            seed: 7,
        };
        let a = generate(spec);
        assert_eq!(a, generate(spec));
        assert!(a.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
        assert!(a
            .iter()
            .all(|e| e.ts_ms >= 1_000_000 && e.ts_ms < 4_600_000));
        assert!(a.iter().any(|e| e.attribution.parent_task.is_some()));
        let ok = a.iter().filter(|e| e.status == Status::Ok).count();
        assert!(ok > 400, "{ok}");
        assert!(a.iter().all(|e| e.usage.reasoning <= e.usage.output));
    }

    #[test]
    fn heavy_tailed_users_and_bursty_tasks() {
        use std::collections::HashMap;
        let spec = SynthSpec {
            events: 20_000,
            start_ms: 0,
            span_ms: 7 * 86_400_000,
            seed: 3,
        };
        let a = generate(spec);
        assert_eq!(a.len(), 20_000);
        let mut by_user: HashMap<&str, usize> = HashMap::new();
        let mut customer_of: HashMap<&str, &str> = HashMap::new();
        let mut tasks: HashMap<&str, (i64, i64, Option<&str>)> = HashMap::new();
        for e in &a {
            let (Some(u), Some(c)) = (&e.attribution.user, &e.attribution.customer) else {
                panic!("every event has a user and a customer");
            };
            *by_user.entry(u).or_default() += 1;
            assert_eq!(
                *customer_of.entry(u).or_insert(c),
                c.as_str(),
                "one customer per user"
            );
            if let Some(t) = &e.attribution.task {
                let w = tasks.entry(t).or_insert((
                    e.ts_ms,
                    e.ts_ms,
                    e.attribution.parent_task.as_deref(),
                ));
                w.0 = w.0.min(e.ts_ms);
                w.1 = w.1.max(e.ts_ms);
            }
        }
        // Zipf: the top user makes far more calls than a uniform 1/1000 share; the top 1%
        // of users make a large share.
        let mut counts: Vec<usize> = by_user.values().copied().collect();
        counts.sort_unstable_by(|x, y| y.cmp(x));
        assert_eq!(by_user.get("user0"), counts.first());
        let top1: usize = counts.iter().take(10).sum();
        assert!(top1 * 4 > a.len(), "top 1% of users: {top1} of {}", a.len());
        // Tasks are short bursts (well under an hour) with depth 2 or 3.
        assert!(tasks.len() > 300, "{}", tasks.len());
        assert!(tasks.values().all(|(lo, hi, _)| hi - lo < 3_600_000));
        let deepest = tasks
            .keys()
            .filter(|t| t.matches(".s").count() == 2)
            .count();
        assert!(deepest > 0);
        for (t, (_, _, parent)) in &tasks {
            match t.rsplit_once('.') {
                Some((p, _)) => assert_eq!(*parent, Some(p), "{t}"),
                None => assert_eq!(*parent, None, "{t}"),
            }
            if let Some(p) = parent {
                assert!(tasks.contains_key(p), "parent {p} of {t} is a task");
            }
        }
        // Unique per seed: another chunk's tasks never share an id.
        let b = generate(SynthSpec { seed: 4, ..spec });
        assert!(b
            .iter()
            .filter_map(|e| e.attribution.task.as_deref())
            .all(|t| !tasks.contains_key(t)));
    }
}
