//! The runner against a tiny local HTTP server spun up here (OpenAI and Anthropic shapes,
//! JSON and SSE, tool calls, 429s, garbage, slowness): counts, streams, TTFT, disconnects,
//! retries, tool follow-ups and error types must come out right.

// Helpers outside #[test] fns are test code too; clippy.toml only covers #[test] bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jevons_mock::loadgen::{run, LoadConfig, Plan, Scenario};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STREAM_EVENTS: usize = 10;
const FIRST_CHUNK_DELAY: Duration = Duration::from_millis(15);

#[derive(Default)]
struct Server {
    /// Behaviour knobs.
    reject_first: bool,
    garbage: bool,
    slow: Option<Duration>,
    /// Tool rounds the "model" asks for before answering.
    tool_rounds: usize,
    /// Observations.
    requests: AtomicU64,
    followups: AtomicU64,
    bad_tool_ids: AtomicU64,
    missing_headers: AtomicU64,
    anthropic: AtomicU64,
    issued: Mutex<BTreeSet<String>>,
    keys: Mutex<BTreeSet<String>>,
    with_parent: AtomicU64,
    seen: Mutex<BTreeSet<Vec<u8>>>,
    next_id: AtomicU64,
}

type Body = BoxBody<Bytes, Infallible>;

fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed());
    *r.status_mut() = status;
    r
}

async fn serve(state: Arc<Server>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let st = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(st.clone(), req));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
    addr
}

async fn handle(st: Arc<Server>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    st.requests.fetch_add(1, Ordering::SeqCst);
    let anthropic = req.uri().path() == "/v1/messages";
    let h = req.headers();
    let authed = if anthropic {
        h.contains_key("x-api-key")
            && h.get("anthropic-version")
                .is_some_and(|v| v == "2023-06-01")
    } else {
        h.get("authorization")
            .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer "))
    };
    if !authed
        || !["x-jevons-user", "x-jevons-customer", "x-jevons-feature"]
            .iter()
            .all(|k| h.contains_key(*k))
    {
        st.missing_headers.fetch_add(1, Ordering::SeqCst);
        return Ok(full(StatusCode::UNAUTHORIZED, "{}"));
    }
    let key = if anthropic {
        h.get("x-api-key")
    } else {
        h.get("authorization")
    };
    let key = key
        .unwrap()
        .to_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_string();
    st.keys.lock().unwrap().insert(key);
    if h.contains_key("x-jevons-parent-task") {
        assert!(
            h.contains_key("x-jevons-task"),
            "a sub-task request names its own task"
        );
        st.with_parent.fetch_add(1, Ordering::SeqCst);
    }
    let body = req.into_body().collect().await.unwrap().to_bytes();
    if let Some(d) = st.slow {
        tokio::time::sleep(d).await;
    }
    if st.reject_first && st.seen.lock().unwrap().insert(body.to_vec()) {
        let mut r = full(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"error":{"type":"rate_limited"}}"#,
        );
        r.headers_mut().insert("retry-after", "0".parse().unwrap());
        return Ok(r);
    }
    if st.garbage {
        return Ok(full(StatusCode::OK, "this is { not json"));
    }
    let v: Value = serde_json::from_slice(&body).unwrap();
    if anthropic {
        st.anthropic.fetch_add(1, Ordering::SeqCst);
    }
    // Tool rounds so far = tool results in the conversation; check their ids were issued.
    let msgs = v["messages"].as_array().unwrap();
    let mut results = 0;
    for m in msgs {
        let ids: Vec<&str> = if anthropic {
            m["content"]
                .as_array()
                .map(|c| c.iter().filter_map(|b| b["tool_use_id"].as_str()).collect())
                .unwrap_or_default()
        } else {
            m["tool_call_id"].as_str().into_iter().collect()
        };
        for id in ids {
            results += 1;
            if !st.issued.lock().unwrap().contains(id) {
                st.bad_tool_ids.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    if results > 0 {
        st.followups.fetch_add(1, Ordering::SeqCst);
    }
    let call = (v.get("tools").is_some() && results < st.tool_rounds).then(|| {
        let id = format!("call_{}", st.next_id.fetch_add(1, Ordering::SeqCst));
        st.issued.lock().unwrap().insert(id.clone());
        id
    });
    let stream = v["stream"].as_bool().unwrap_or(false);
    Ok(match (anthropic, stream) {
        (false, false) => full(StatusCode::OK, openai_json(call).to_string()),
        (true, false) => full(StatusCode::OK, anthropic_json(call).to_string()),
        (a, true) => sse(if a {
            anthropic_events(call)
        } else {
            openai_events(call)
        }),
    })
}

fn openai_usage() -> Value {
    json!({"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107,
           "prompt_tokens_details": {"cached_tokens": 30}})
}

fn openai_json(call: Option<String>) -> Value {
    let message = match call {
        Some(id) => json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": id, "type": "function", "function": {"name": "run_sql", "arguments": "{\"sql\":\"select 1\"}"}}]}),
        None => json!({"role": "assistant", "content": "hello there"}),
    };
    json!({"id": "x", "object": "chat.completion", "model": "m",
           "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": openai_usage()})
}

fn anthropic_json(call: Option<String>) -> Value {
    let content = match call {
        Some(id) => {
            json!([{"type": "tool_use", "id": id, "name": "run_sql", "input": {"sql": "select 1"}}])
        }
        None => json!([{"type": "text", "text": "hello there"}]),
    };
    json!({"id": "msg", "type": "message", "role": "assistant", "content": content,
           "usage": {"input_tokens": 60, "output_tokens": 7, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 10}})
}

fn openai_events(call: Option<String>) -> Vec<String> {
    let mut ev = Vec::new();
    if let Some(id) = call {
        ev.push(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": id, "type": "function", "function": {"name": "run_sql", "arguments": ""}}]}}]}));
        ev.push(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"sql\":"}}]}}]}));
        ev.push(json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"select 1\"}"}}]}}]}));
    }
    while ev.len() < STREAM_EVENTS {
        ev.push(json!({"choices": [{"index": 0, "delta": {"content": "tok "}}]}));
    }
    ev.push(json!({"choices": [], "usage": openai_usage()}));
    let mut out: Vec<String> = ev.into_iter().map(|e| format!("data: {e}\n\n")).collect();
    out.push("data: [DONE]\n\n".into());
    out
}

fn anthropic_events(call: Option<String>) -> Vec<String> {
    let mut ev = vec![(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg", "usage": {"input_tokens": 60, "output_tokens": 1, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 10}}}),
    )];
    match call {
        Some(id) => {
            ev.push(("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": id, "name": "run_sql", "input": {}}})));
            ev.push(("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"sql\": \"select 1\"}"}})));
        }
        None => ev.push(("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))),
    }
    while ev.len() < STREAM_EVENTS {
        ev.push(("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "tok "}})));
    }
    ev.push((
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    ev.push(("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}})));
    ev.push(("message_stop", json!({"type": "message_stop"})));
    ev.into_iter()
        .map(|(n, e)| format!("event: {n}\ndata: {e}\n\n"))
        .collect()
}

fn sse(events: Vec<String>) -> Response<Body> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        tokio::time::sleep(FIRST_CHUNK_DELAY).await;
        for e in events {
            if tx.send(Bytes::from(e)).await.is_err() {
                return; // client went away
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    r.headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    r
}

/// One-shot, OpenAI-only scenario; streams always drop after 2..=5 events when chosen.
fn singles(openai_share: f64, stream_share: f64, disconnect_rate: f64) -> Scenario {
    let mut s = Scenario::load("default").unwrap();
    s.mix.chat = 0.0;
    s.mix.agent = 0.0;
    s.mix.single = 1.0;
    s.mix.openai_share = openai_share;
    s.mix.stream_share = stream_share;
    s.mix.disconnect_rate = disconnect_rate;
    s.mix.disconnect_after_events = jevons_mock::loadgen::Span(2, 5);
    s.retry.base_backoff_ms = 1;
    s.retry.max_backoff_ms = 5;
    s
}

fn config(addr: SocketAddr, scenario: Scenario, requests: u64, concurrency: usize) -> LoadConfig {
    let mut c = LoadConfig::new(format!("http://{addr}"), vec!["sk-test".into()], scenario);
    c.requests = Some(requests);
    c.concurrency = concurrency;
    c.seed = 99;
    c.timeout = Duration::from_secs(10);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_streams_ttft_and_disconnects_match_the_plan() {
    let st = Arc::new(Server::default());
    let addr = serve(st.clone()).await;
    let scenario = singles(1.0, 0.6, 0.3);
    let n = 120;
    let planned = Plan::generate(&scenario, 99).unwrap().first_requests(n);
    let report = run(config(addr, scenario, n as u64, 1), None)
        .await
        .unwrap();

    let streamed = planned.iter().filter(|r| r.stream).count() as u64;
    let drops = planned
        .iter()
        .filter(|r| r.disconnect_after.is_some())
        .count() as u64;
    assert!(
        streamed > 20 && drops > 5,
        "plan should exercise streams ({streamed}) and drops ({drops})"
    );
    assert_eq!(report.requests, n as u64);
    assert_eq!(st.requests.load(Ordering::SeqCst), n as u64);
    assert_eq!(st.missing_headers.load(Ordering::SeqCst), 0);
    assert_eq!(report.streamed, streamed);
    assert_eq!(report.disconnected_by_client, drops);
    assert_eq!(report.ok, n as u64 - drops);
    assert_eq!(report.errors, 0, "{:?}", report.errors_by_type);
    assert_eq!(report.tokens_in, 100 * report.ok);
    assert_eq!(report.tokens_out, 7 * report.ok);
    assert_eq!(report.tokens_cached, 30 * report.ok);
    assert_eq!(report.missing_usage, 0);
    // The server waits before the first chunk: TTFT is at least that, and below latency.
    assert!(
        report.ttft_p50_ms >= FIRST_CHUNK_DELAY.as_secs_f64() * 1000.0,
        "{}",
        report.ttft_p50_ms
    );
    assert!(report.latency_p99_ms >= report.ttft_p50_ms);
    assert_eq!(report.per_model.values().sum::<u64>(), n as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_run_sends_exactly_the_budget_in_both_formats() {
    let st = Arc::new(Server::default());
    let addr = serve(st.clone()).await;
    let mut cfg = config(addr, singles(0.5, 0.5, 0.0), 300, 8);
    cfg.keys = vec!["sk-team-a".into(), "sk-team-b".into()];
    let report = run(cfg, None).await.unwrap();
    let keys: Vec<String> = st.keys.lock().unwrap().iter().cloned().collect();
    assert_eq!(
        keys,
        ["sk-team-a", "sk-team-b"],
        "features spread over both keys"
    );
    assert_eq!(report.requests, 300);
    assert_eq!(st.requests.load(Ordering::SeqCst), 300);
    assert_eq!(report.ok, 300, "{:?}", report.errors_by_type);
    assert_eq!(
        report.per_format["anthropic"],
        st.anthropic.load(Ordering::SeqCst)
    );
    assert!(report.per_format["anthropic"] > 50 && report.per_format["openai"] > 50);
    // Anthropic usage: 60 uncached + 30 read + 10 write = 100 prompt tokens.
    assert_eq!(report.tokens_in, 100 * report.ok);
    assert!(report.rps > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_honour_429_and_are_counted() {
    let st = Arc::new(Server {
        reject_first: true,
        ..Default::default()
    });
    let addr = serve(st.clone()).await;
    let report = run(config(addr, singles(1.0, 0.0, 0.0), 40, 1), None)
        .await
        .unwrap();
    assert_eq!(report.requests, 40);
    assert_eq!(report.errors_by_type.get("http_429"), Some(&20));
    assert_eq!(report.retries, 20);
    assert_eq!(report.ok, 20);
    assert_eq!(report.by_status[&429], 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_loops_follow_up_with_the_issued_ids_and_stop_at_the_cap() {
    for (rounds, cap) in [(2usize, 5u32), (9, 3)] {
        let st = Arc::new(Server {
            tool_rounds: rounds,
            ..Default::default()
        });
        let addr = serve(st.clone()).await;
        let mut s = Scenario::load("agentic").unwrap();
        s.agent.tool_share = 1.0;
        s.agent.max_tool_rounds = cap;
        s.mix.disconnect_rate = 0.0;
        let report = run(config(addr, s, 200, 4), None).await.unwrap();
        assert_eq!(report.errors, 0, "{:?}", report.errors_by_type);
        assert_eq!(
            st.bad_tool_ids.load(Ordering::SeqCst),
            0,
            "follow-ups must echo issued ids"
        );
        assert_eq!(report.tool_followups, st.followups.load(Ordering::SeqCst));
        assert!(
            st.with_parent.load(Ordering::SeqCst) > 0,
            "sub-tasks send x-jevons-parent-task"
        );
        let per_planned = rounds.min(cap as usize) as u64;
        // Every planned step is followed by `per_planned` follow-ups (the last chain may be cut
        // by the budget), so follow-ups make up that share of the requests.
        let planned = report.requests - report.tool_followups;
        assert!(report.tool_followups <= planned * per_planned);
        assert!(
            report.tool_followups + per_planned * 4 >= planned * per_planned,
            "{report:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_malformed_and_slowness_is_a_timeout() {
    let st = Arc::new(Server {
        garbage: true,
        ..Default::default()
    });
    let addr = serve(st).await;
    let report = run(config(addr, singles(1.0, 0.0, 0.0), 10, 2), None)
        .await
        .unwrap();
    assert_eq!(report.errors_by_type.get("malformed"), Some(&10));
    assert_eq!(report.ok, 0);

    let st = Arc::new(Server {
        slow: Some(Duration::from_millis(400)),
        ..Default::default()
    });
    let addr = serve(st).await;
    let mut s = singles(1.0, 0.0, 0.0);
    s.retry.max_retries = 0;
    let mut c = config(addr, s, 4, 2);
    c.timeout = Duration::from_millis(50);
    let report = run(c, None).await.unwrap();
    assert_eq!(report.errors_by_type.get("timeout"), Some(&4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_connect_errors() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let report = run(config(addr, singles(1.0, 0.0, 0.0), 9, 1), None)
        .await
        .unwrap();
    assert_eq!(report.requests, 9);
    assert_eq!(report.errors_by_type.get("connect"), Some(&9));
    assert!(report.retries > 0);
}

#[tokio::test]
async fn bad_configs_are_refused_with_clear_errors() {
    let s = singles(1.0, 0.0, 0.0);
    let cases: Vec<(LoadConfig, &str)> = vec![
        (
            {
                let mut c = LoadConfig::new("127.0.0.1:8080", vec!["k".into()], s.clone());
                c.requests = Some(1);
                c
            },
            "http://",
        ),
        (
            {
                let mut c = LoadConfig::new("https://example.com", vec!["k".into()], s.clone());
                c.requests = Some(1);
                c
            },
            "plain HTTP",
        ),
        (
            {
                let mut c = LoadConfig::new("http://127.0.0.1:1", vec!["k".into()], s.clone());
                c.concurrency = 0;
                c
            },
            "concurrency",
        ),
        (
            {
                let mut c = LoadConfig::new("http://127.0.0.1:1", vec![], s.clone());
                c.requests = Some(1);
                c
            },
            "--key",
        ),
        (
            {
                let mut c = LoadConfig::new("http://127.0.0.1:1", vec!["k".into()], s.clone());
                c.requests = Some(1);
                c.duration = Some(Duration::from_secs(1));
                c
            },
            "not both",
        ),
    ];
    for (c, needle) in cases {
        let e = run(c, None).await.unwrap_err().to_string();
        assert!(e.contains(needle), "{e:?} should mention {needle:?}");
    }
}
