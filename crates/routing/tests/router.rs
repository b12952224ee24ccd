//! Planning with three deployments of one model: strategies, breakers, max_price,
//! fallbacks and the attempt cap.

mod common;

use common::{d, router, router_with, CONFIG};
use jevons_routing::{
    BreakerState, MaxPrice, Outcome, OutcomeKind, RouteReason, RouteRequest, RoutingError, Strategy,
};

fn req(model: &str) -> RouteRequest<'_> {
    RouteRequest {
        est_input_tokens: 1000,
        est_output_tokens: 500,
        ..RouteRequest::new(model)
    }
}

fn providers(p: &jevons_routing::RoutePlan) -> Vec<String> {
    p.attempts
        .iter()
        .map(|c| c.provider().to_string())
        .collect()
}

fn fail(r: &jevons_routing::Router, id: &str, n: usize) {
    let dep = r.deployment(id).unwrap_or_else(|| panic!("no {id}"));
    for _ in 0..n {
        r.observe(dep, &Outcome::failure(OutcomeKind::ServerError, 2_000));
    }
}

#[test]
fn cheapest_picks_cheapest_healthy_then_next() {
    let (r, _) = router();
    let p = r.plan(&req("llama-3.1-70b")).unwrap();
    assert_eq!(providers(&p), ["deepinfra", "groq", "together"]);
    assert_eq!(p.attempts[0].reason, RouteReason::Best(Strategy::Cheapest));
    assert_eq!(
        p.attempts[1].reason,
        RouteReason::NextBest(Strategy::Cheapest)
    );
    assert_eq!(p.attempts[0].reason.to_string(), "cheapest");
    assert_eq!(
        p.attempts[2].upstream_model(),
        "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo"
    );
}

#[test]
fn cheapest_uses_the_requests_own_token_mix() {
    let cfg = CONFIG.replace(
        r#"{ provider = "groq", model = "llama-3.1-70b-versatile", weight = 1, priority = 0, max_output_tokens = 8000 }"#,
        r#"{ provider = "groq", model = "llama-3.1-70b-versatile", input_per_mtok = "0.05", output_per_mtok = "5" }"#,
    );
    let (r, _) = router_with(&cfg);
    let prompt_heavy = RouteRequest {
        est_input_tokens: 100_000,
        est_output_tokens: 10,
        ..RouteRequest::new("llama-3.1-70b")
    };
    let output_heavy = RouteRequest {
        est_input_tokens: 10,
        est_output_tokens: 100_000,
        ..RouteRequest::new("llama-3.1-70b")
    };
    assert_eq!(
        r.plan(&prompt_heavy).unwrap().attempts[0].provider(),
        "groq"
    );
    assert_eq!(
        r.plan(&output_heavy).unwrap().attempts[0].provider(),
        "deepinfra"
    );
}

#[test]
fn failures_open_the_breaker_and_traffic_falls_back() {
    let (r, clock) = router();
    // Two failures: still under the threshold of 3.
    fail(&r, "deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct", 2);
    assert_eq!(
        r.plan(&req("llama-3.1-70b")).unwrap().attempts[0].provider(),
        "deepinfra"
    );
    fail(&r, "deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct", 1);
    let dep = r
        .deployment("deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct")
        .unwrap();
    assert_eq!(r.health(dep).unwrap().breaker, BreakerState::Open);
    let p = r.plan(&req("llama-3.1-70b")).unwrap();
    assert_eq!(providers(&p), ["groq", "together", "openai"]);
    assert_eq!(
        p.attempts[2].reason,
        RouteReason::ModelFallback(Strategy::Cheapest)
    );

    // Cooldown over: half-open, one probe permit goes to the first plan only.
    clock.advance_ms(10_000);
    assert_eq!(r.health(dep).unwrap().breaker, BreakerState::HalfOpen);
    let p = r.plan(&req("llama-3.1-70b")).unwrap();
    assert_eq!(p.attempts[0].provider(), "deepinfra");
    assert_eq!(p.attempts[0].reason, RouteReason::Probe(Strategy::Cheapest));
    let p2 = r.plan(&req("llama-3.1-70b")).unwrap();
    assert_eq!(p2.attempts[0].provider(), "groq", "permit already taken");

    // The probe fails: open again for another cooldown.
    r.observe(dep, &Outcome::failure(OutcomeKind::Timeout, 30_000_000));
    assert_eq!(r.health(dep).unwrap().breaker, BreakerState::Open);
    clock.advance_ms(9_999);
    assert_eq!(
        r.plan(&req("llama-3.1-70b")).unwrap().attempts[0].provider(),
        "groq"
    );
    clock.advance_ms(1);
    assert_eq!(
        r.plan(&req("llama-3.1-70b")).unwrap().attempts[0].provider(),
        "deepinfra"
    );
    // The probe succeeds: closed, normal cheapest order again.
    r.observe(dep, &Outcome::success(400_000, Some(100_000), 200));
    assert_eq!(r.health(dep).unwrap().breaker, BreakerState::Closed);
    let p = r.plan(&req("llama-3.1-70b")).unwrap();
    assert_eq!(providers(&p), ["deepinfra", "groq", "together"]);
}

#[test]
fn client_errors_do_not_trip_the_breaker_but_429_does() {
    let (r, _) = router();
    let dep = r.deployment("groq/llama-3.1-70b-versatile").unwrap();
    for _ in 0..10 {
        r.observe(dep, &Outcome::failure(OutcomeKind::ClientError, 1_000));
    }
    let h = r.health(dep).unwrap();
    assert_eq!(h.breaker, BreakerState::Closed);
    assert_eq!(h.error_rate, 0.0);
    for _ in 0..3 {
        r.observe(
            dep,
            &Outcome::failure(OutcomeKind::RateLimited { retry_after: None }, 1_000),
        );
    }
    let h = r.health(dep).unwrap();
    assert_eq!(h.breaker, BreakerState::Open);
    assert!(h.error_rate > 0.4);
}

#[test]
fn success_resets_consecutive_failures() {
    let (r, _) = router();
    let dep = r.deployment("groq/llama-3.1-70b-versatile").unwrap();
    for _ in 0..5 {
        r.observe(dep, &Outcome::failure(OutcomeKind::ConnectError, 1_000));
        r.observe(dep, &Outcome::failure(OutcomeKind::ConnectError, 1_000));
        r.observe(dep, &Outcome::success(1_000, None, 10));
    }
    assert_eq!(r.health(dep).unwrap().breaker, BreakerState::Closed);
}

#[test]
fn all_open_tries_the_least_recently_opened() {
    let (r, clock) = router();
    fail(&r, "groq/llama-3.1-70b-versatile", 3);
    clock.advance_ms(1_000);
    fail(&r, "deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct", 3);
    fail(
        &r,
        "together/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
        3,
    );
    fail(&r, "openai/gpt-4o-mini", 3);
    let p = r.plan(&req("llama-3.1-70b")).unwrap();
    assert_eq!(p.attempts.len(), 1);
    assert_eq!(p.attempts[0].provider(), "groq");
    assert_eq!(p.attempts[0].reason, RouteReason::AllBreakersOpen);
}

#[test]
fn max_price_skips_and_refuses() {
    let (r, _) = router();
    let mut q = req("llama-3.1-70b");
    q.max_price = Some(MaxPrice {
        input_per_mtok: d("0.6"),
        output_per_mtok: d("0.8"),
    });
    assert_eq!(
        providers(&r.plan(&q).unwrap()),
        ["deepinfra", "groq", "openai"]
    );
    q.max_price = Some(MaxPrice {
        input_per_mtok: d("0.1"),
        output_per_mtok: d("0.1"),
    });
    assert!(matches!(
        r.plan(&q),
        Err(RoutingError::NoDeploymentUnderMaxPrice { .. })
    ));
    let e = r.plan(&q).unwrap_err().to_string();
    assert!(e.contains("llama-3.1-70b") && e.contains("0.1"), "{e}");
}

#[test]
fn body_models_list_replaces_fallbacks_in_order() {
    let (r, _) = router();
    fail(&r, "deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct", 3);
    fail(&r, "groq/llama-3.1-70b-versatile", 3);
    fail(
        &r,
        "together/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
        3,
    );
    let list = vec!["claude-haiku".to_string(), "gpt-4o-mini".to_string()];
    let q = RouteRequest {
        models_fallback: &list,
        ..req("llama-3.1-70b")
    };
    let p = r.plan(&q).unwrap();
    assert_eq!(providers(&p), ["anthropic", "openai", "anthropic"]);
    assert_eq!(p.attempts[2].reason, RouteReason::Retry);
    let bad = vec!["nope".to_string()];
    let q = RouteRequest {
        models_fallback: &bad,
        ..req("llama-3.1-70b")
    };
    assert!(matches!(r.plan(&q), Err(RoutingError::UnknownModel { .. })));
}

#[test]
fn single_deployment_retries_up_to_the_cap() {
    let (r, _) = router();
    let p = r.plan(&req("claude-haiku")).unwrap();
    assert_eq!(providers(&p), ["anthropic", "anthropic", "anthropic"]);
    assert_eq!(p.attempts[1].reason, RouteReason::Retry);
    // Config price overrides the lookup (which said 100/Mtok).
    assert_eq!(p.attempts[0].target.price.unwrap().input_per_mtok, d("0.8"));
}

#[test]
fn priority_fastest_throughput_and_override() {
    let (r, _) = router();
    let mut q = req("llama-3.1-70b");
    q.strategy_override = Some(Strategy::Priority);
    assert_eq!(
        providers(&r.plan(&q).unwrap()),
        ["groq", "deepinfra", "together"]
    );
    let lat = [
        (
            "together/meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
            300_000,
            50,
        ),
        (
            "deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct",
            900_000,
            400,
        ),
        ("groq/llama-3.1-70b-versatile", 150_000, 100),
    ];
    for (id, us, toks) in lat {
        r.observe(
            r.deployment(id).unwrap(),
            &Outcome::success(us, Some(us / 10), toks),
        );
    }
    q.strategy_override = Some(Strategy::Fastest);
    assert_eq!(
        providers(&r.plan(&q).unwrap()),
        ["groq", "together", "deepinfra"]
    );
    // tokens/s over generation time: deepinfra 400/0.81s ≈ 494, groq 100/0.135s ≈ 741, together 50/0.27 ≈ 185
    q.strategy_override = Some(Strategy::Throughput);
    assert_eq!(
        providers(&r.plan(&q).unwrap()),
        ["groq", "deepinfra", "together"]
    );
}

#[test]
fn weighted_is_reproducible_for_a_seed_and_follows_weights() {
    let cfg = format!("seed = 42\n{CONFIG}")
        .replace(r#"strategy = "cheapest""#, r#"strategy = "weighted""#);
    let (a, _) = router_with(&cfg);
    let (b, _) = router_with(&cfg);
    let mut firsts = std::collections::HashMap::new();
    for _ in 0..2000 {
        let pa = a.plan(&req("llama-3.1-70b")).unwrap();
        let pb = b.plan(&req("llama-3.1-70b")).unwrap();
        assert_eq!(providers(&pa), providers(&pb));
        *firsts
            .entry(pa.attempts[0].provider().to_string())
            .or_insert(0) += 1;
    }
    // weights 1:3:1 → deepinfra ≈ 60%
    let di = firsts["deepinfra"];
    assert!((1000..1400).contains(&di), "{firsts:?}");
    assert!(
        firsts["groq"] > 250 && firsts["together"] > 250,
        "{firsts:?}"
    );
}

#[test]
fn unknown_model_names_the_known_ones() {
    let (r, _) = router();
    let e = r.plan(&req("gpt-9")).unwrap_err().to_string();
    assert!(e.contains("gpt-9") && e.contains("llama-3.1-70b"), "{e}");
}

#[test]
fn backoff_honours_retry_after_and_cap() {
    let (r, _) = router();
    use std::time::Duration;
    for attempt in 1..6 {
        let b = r.backoff(attempt, None);
        let full = (100u64 << (attempt - 1)).min(2000);
        assert!(
            b <= Duration::from_millis(full) && b >= Duration::from_millis(full * 8 / 10),
            "{attempt}: {b:?}"
        );
    }
    assert_eq!(
        r.backoff(1, Some(Duration::from_millis(1500))),
        Duration::from_millis(1500)
    );
    assert_eq!(
        r.backoff(1, Some(Duration::from_secs(30))),
        Duration::from_millis(2000)
    );
}

#[test]
fn explain_lists_prices_health_and_skips() {
    let (r, _) = router();
    fail(&r, "deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct", 3);
    let e = r.explain(&req("llama-3.1-70b")).unwrap();
    assert_eq!(e.chosen.as_deref(), Some("groq/llama-3.1-70b-versatile"));
    assert_eq!(e.rows.len(), 4);
    let di = e.rows.iter().find(|x| x.provider == "deepinfra").unwrap();
    assert_eq!(di.skipped, Some(jevons_routing::SkipReason::BreakerOpen));
    assert_eq!(di.health.breaker, BreakerState::Open);
    // 1000 × 0.23/M + 500 × 0.40/M = $0.00043
    assert_eq!(
        di.blended_cost.unwrap(),
        jevons_core::Money::from_micros(430)
    );
    let groq = e.rows.iter().find(|x| x.provider == "groq").unwrap();
    assert!(groq.chosen && groq.rank == Some(1));
    // explain does not change what plan does
    assert_eq!(
        r.plan(&req("llama-3.1-70b")).unwrap().attempts[0].provider(),
        "groq"
    );
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["rows"][0]["reason"], "cheapest");
    assert_eq!(json["rows"][0]["blended_cost_usd"], "0.000985");
}

#[test]
fn next_step_switches_provider_without_wait_and_backs_off_on_same() {
    use jevons_routing::NextStep;
    use std::time::Duration;
    let (r, _) = router();
    let p = r.plan(&req("llama-3.1-70b")).unwrap();
    let fail500 = Outcome::failure(OutcomeKind::ServerError, 1000);
    assert_eq!(
        r.next_step(&p, 0, &fail500, false),
        NextStep::Attempt {
            index: 1,
            after: Duration::ZERO
        }
    );
    assert_eq!(
        r.next_step(&p, 0, &fail500, true),
        NextStep::Stop,
        "stream already started"
    );
    assert_eq!(
        r.next_step(&p, 0, &Outcome::failure(OutcomeKind::ClientError, 1), false),
        NextStep::Stop
    );
    assert_eq!(
        r.next_step(&p, 2, &fail500, false),
        NextStep::Stop,
        "cap reached"
    );
    let p = r.plan(&req("claude-haiku")).unwrap();
    let limited = Outcome::failure(
        OutcomeKind::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
        },
        1,
    );
    assert_eq!(
        r.next_step(&p, 0, &limited, false),
        NextStep::Attempt {
            index: 1,
            after: Duration::from_millis(1500)
        }
    );
    match r.next_step(&p, 1, &fail500, false) {
        NextStep::Attempt { index: 2, after } => {
            assert!(
                after <= Duration::from_millis(200) && after >= Duration::from_millis(160),
                "{after:?}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn router_and_cache_are_shareable_across_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<jevons_routing::Router>();
    shareable::<jevons_routing::ResponseCache>();
    shareable::<jevons_routing::RoutePlan>();
}
