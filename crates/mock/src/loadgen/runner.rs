//! The runner: `run(LoadConfig)` sends the plan on C workers. Each worker takes the next
//! job index, sends its requests in order (retrying with capped, jittered backoff that
//! honours `Retry-After`, and following tool calls up to the cap), until the request budget
//! or the duration is used up.

use http::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use http::Uri;
use indicatif::ProgressBar;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::followup::{fnv1a, follow_up};
use super::http::{self as wire, client, send, Attempt, HttpClient, Outcome, Outgoing};
use super::plan::{Plan, PlannedRequest};
use super::report::{LoadReport, Stats};
use super::scenario::{Scenario, WireFormat};
use super::LoadgenError;

/// Run length when neither a duration nor a request count is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Base URL (`http://127.0.0.1:8080`, optionally ending in `/v1` or a path prefix).
    pub target: String,
    /// Base URL for Anthropic-format requests (defaults to `target`).
    pub anthropic_target: Option<String>,
    /// API keys; feature i uses key i mod n. Empty: the scenario's keys.
    pub keys: Vec<String>,
    /// The workload.
    pub scenario: Scenario,
    /// Stop starting requests after this long.
    pub duration: Option<Duration>,
    /// Stop after this many requests (attempts, follow-ups included).
    pub requests: Option<u64>,
    /// Concurrent workers (each one job at a time).
    pub concurrency: usize,
    /// Plan seed.
    pub seed: u64,
    /// Per-request timeout (whole exchange, body included).
    pub timeout: Duration,
}

impl LoadConfig {
    /// A config with defaults: concurrency 8, seed 1, timeout 60 s, 10 s duration.
    pub fn new(target: impl Into<String>, keys: Vec<String>, scenario: Scenario) -> LoadConfig {
        LoadConfig {
            target: target.into(),
            anthropic_target: None,
            keys,
            scenario,
            duration: None,
            requests: None,
            concurrency: 8,
            seed: 1,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Resolved endpoints and per-key auth headers.
struct Prepared {
    uris: [Uri; 2],
    auth: Vec<[Vec<(HeaderName, HeaderValue)>; 2]>,
}

fn endpoint(base: &str, path: &str) -> Result<Uri, LoadgenError> {
    let bad = |reason: &str| LoadgenError::BadTarget {
        url: base.to_string(),
        reason: reason.to_string(),
    };
    let uri: Uri = base
        .parse()
        .map_err(|_| bad("not a URL; write it like http://127.0.0.1:8080"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => return Err(bad(
            "loadgen speaks plain HTTP (targets are local); use http:// or terminate TLS in front",
        )),
        _ => {
            return Err(bad(
                "missing http:// scheme; write it like http://127.0.0.1:8080",
            ))
        }
    }
    let auth = uri
        .authority()
        .ok_or_else(|| bad("missing host; write it like http://127.0.0.1:8080"))?;
    if uri.query().is_some() {
        return Err(bad("remove the query string: give the base URL only"));
    }
    let prefix = uri.path().trim_end_matches('/');
    let full = if prefix.ends_with("/v1") {
        format!("http://{auth}{prefix}{path}")
    } else {
        format!("http://{auth}{prefix}/v1{path}")
    };
    full.parse()
        .map_err(|_| bad("cannot append the API path to this URL"))
}

fn prepare(cfg: &LoadConfig) -> Result<Prepared, LoadgenError> {
    if cfg.concurrency == 0 {
        return Err(LoadgenError::BadConfig(
            "concurrency must be at least 1".into(),
        ));
    }
    if cfg.duration.is_some() && cfg.requests.is_some() {
        return Err(LoadgenError::BadConfig(
            "give either a duration or a request count, not both".into(),
        ));
    }
    if cfg.requests == Some(0) || cfg.duration == Some(Duration::ZERO) {
        return Err(LoadgenError::BadConfig(
            "the request count and the duration must be above 0".into(),
        ));
    }
    if cfg.timeout.is_zero() {
        return Err(LoadgenError::BadConfig("timeout must be above 0".into()));
    }
    let openai = endpoint(&cfg.target, "/chat/completions")?;
    let anthropic = endpoint(
        cfg.anthropic_target.as_deref().unwrap_or(&cfg.target),
        "/messages",
    )?;
    let keys = if cfg.keys.is_empty() {
        &cfg.scenario.keys
    } else {
        &cfg.keys
    };
    if keys.is_empty() {
        return Err(LoadgenError::BadConfig(
            "no API key: pass --key KEY (repeatable) or list keys in the scenario".into(),
        ));
    }
    let mut auth = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let value = |s: String| {
            HeaderValue::from_str(&s).map(|mut v| {
                v.set_sensitive(true);
                v
            })
        };
        let bad = |_| {
            LoadgenError::BadConfig(format!(
                "key #{} has characters not allowed in an HTTP header",
                i + 1
            ))
        };
        auth.push([
            vec![(AUTHORIZATION, value(format!("Bearer {k}")).map_err(bad)?)],
            vec![
                (
                    HeaderName::from_static("x-api-key"),
                    value(k.clone()).map_err(bad)?,
                ),
                (
                    HeaderName::from_static("anthropic-version"),
                    HeaderValue::from_static("2023-06-01"),
                ),
            ],
        ]);
    }
    Ok(Prepared {
        uris: [openai, anthropic],
        auth,
    })
}

struct Ctx {
    plan: Plan,
    prep: Prepared,
    client: HttpClient,
    timeout: Duration,
    deadline: Option<Instant>,
    limit: Option<u64>,
    next_job: AtomicU64,
    sent: AtomicU64,
    stop: AtomicBool,
}

impl Ctx {
    /// Takes one request from the budget; false once the run is over.
    fn acquire(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return false;
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.stop.store(true, Ordering::Relaxed);
            return false;
        }
        let n = self.sent.fetch_add(1, Ordering::Relaxed);
        if self.limit.is_some_and(|l| n >= l) {
            self.stop.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn headers(&self, req: &PlannedRequest) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(8);
        let slot = req.key_slot as usize % self.prep.auth.len().max(1);
        if let Some(a) = self.prep.auth.get(slot) {
            for (k, v) in &a[fmt_ix(req.format)] {
                h.insert(k.clone(), v.clone());
            }
        }
        let attrs = [
            (&wire::X_USER, Some(&req.user)),
            (&wire::X_CUSTOMER, Some(&req.customer)),
            (&wire::X_FEATURE, Some(&req.feature)),
            (&wire::X_TASK, req.task.as_ref()),
            (&wire::X_PARENT, req.parent_task.as_ref()),
        ];
        for (name, value) in attrs {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                h.insert(name.clone(), v);
            }
        }
        h
    }

    fn backoff(&self, req: &PlannedRequest, attempt: u32, server: Option<Duration>) -> Duration {
        let r = &self.plan.scenario().retry;
        let exp = r.base_backoff_ms.saturating_mul(1u64 << attempt.min(20));
        let seed = [
            self.plan.seed(),
            req.job,
            u64::from(req.seq),
            u64::from(attempt),
        ];
        let bytes: Vec<u8> = seed.iter().flat_map(|x| x.to_le_bytes()).collect();
        // Deterministic jitter in [50%, 100%] of the exponential step.
        let jittered = exp / 2 + (fnv1a(&bytes) % (exp / 2 + 1));
        let ms = server.map_or(jittered, |s| {
            jittered.max(u64::try_from(s.as_millis()).unwrap_or(u64::MAX))
        });
        Duration::from_millis(ms.min(r.max_backoff_ms))
    }
}

fn fmt_ix(f: WireFormat) -> usize {
    match f {
        WireFormat::OpenAi => 0,
        WireFormat::Anthropic => 1,
    }
}

/// Runs the scenario against the target and returns the measurements. `progress`, if
/// given, is advanced to the number of requests sent (its length is left to the caller).
pub async fn run(
    cfg: LoadConfig,
    progress: Option<ProgressBar>,
) -> Result<LoadReport, LoadgenError> {
    let prep = prepare(&cfg)?;
    let plan = Plan::generate(&cfg.scenario, cfg.seed)?;
    let duration = match (cfg.duration, cfg.requests) {
        (None, None) => Some(DEFAULT_DURATION),
        (d, _) => d,
    };
    let start = Instant::now();
    let ctx = Arc::new(Ctx {
        plan,
        prep,
        client: client(cfg.concurrency),
        timeout: cfg.timeout,
        deadline: duration.map(|d| start + d),
        limit: cfg.requests,
        next_job: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });
    let ticker = progress.clone().map(|pb| {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            loop {
                every.tick().await;
                pb.set_position(sent_so_far(&ctx));
            }
        })
    });
    let workers: Vec<_> = (0..cfg.concurrency)
        .map(|_| tokio::spawn(worker(ctx.clone())))
        .collect();
    let mut total = Stats::default();
    for w in workers {
        match w.await {
            Ok(s) => total.merge(s),
            Err(e) => tracing::error!(error = %e, "loadgen worker failed"),
        }
    }
    let elapsed = start.elapsed();
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(pb) = &progress {
        pb.set_position(sent_so_far(&ctx));
    }
    let mut report = total.finish(elapsed);
    report.scenario = cfg.scenario.name.clone();
    report.seed = cfg.seed;
    report.concurrency = cfg.concurrency;
    Ok(report)
}

fn sent_so_far(ctx: &Ctx) -> u64 {
    let n = ctx.sent.load(Ordering::Relaxed);
    ctx.limit.map_or(n, |l| n.min(l))
}

async fn worker(ctx: Arc<Ctx>) -> Stats {
    let mut st = Stats::default();
    'jobs: while !ctx.stop.load(Ordering::Relaxed) {
        let job = ctx.plan.job(ctx.next_job.fetch_add(1, Ordering::Relaxed));
        st.report.jobs += 1;
        for req in &job.requests {
            if !planned(&ctx, req, &mut st).await {
                break 'jobs;
            }
        }
    }
    st
}

/// Sends one planned request and its tool follow-ups; false once the run is over.
async fn planned(ctx: &Ctx, req: &PlannedRequest, st: &mut Stats) -> bool {
    let cap = ctx.plan.scenario().agent.max_tool_rounds;
    let mut body = req.body.clone();
    let mut rounds = 0;
    loop {
        let first = rounds == 0;
        let Some(a) = with_retries(ctx, req, &body, first, st).await else {
            return false;
        };
        if !req.tools || rounds >= cap || a.outcome != Outcome::Ok {
            return true;
        }
        let Some(reply) = a.summary.filter(|s| !s.tool_calls.is_empty()) else {
            return true;
        };
        let Some(next) = follow_up(req.format, &body, &reply) else {
            return true;
        };
        body = next;
        rounds += 1;
    }
}

async fn with_retries(
    ctx: &Ctx,
    req: &PlannedRequest,
    body: &bytes::Bytes,
    first: bool,
    st: &mut Stats,
) -> Option<Attempt> {
    let max = ctx.plan.scenario().retry.max_retries;
    let mut attempt = 0;
    loop {
        if !ctx.acquire() {
            return None;
        }
        let out = Outgoing {
            uri: &ctx.prep.uris[fmt_ix(req.format)],
            format: req.format,
            headers: ctx.headers(req),
            body: body.clone(),
            stream: req.stream,
            // Only the planned request itself drops its stream, not its follow-ups.
            disconnect_after: if first { req.disconnect_after } else { None },
        };
        let a = send(&ctx.client, out, ctx.timeout).await;
        st.record(req, &a, attempt > 0, !first);
        if !a.outcome.retryable() || attempt >= max {
            return Some(a);
        }
        let wait = ctx.backoff(req, attempt, a.retry_after);
        let until = Instant::now() + wait;
        if ctx.deadline.is_some_and(|d| until >= d) {
            ctx.stop.store(true, Ordering::Relaxed);
            return None;
        }
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}
