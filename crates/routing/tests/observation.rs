//! What an attempt teaches health and the breaker: a client that went away is no verdict on
//! the provider (it must never open a breaker), a provider that cut its own answer is one.

mod common;

use std::time::Duration;

use common::router;
use jevons_routing::{BreakerState, Observation, OutcomeKind};

fn kind(o: Observation) -> Option<OutcomeKind> {
    o.outcome().map(|o| o.kind)
}

#[test]
fn each_observation_maps_to_the_right_outcome() {
    let base = Observation {
        latency_us: 1_000,
        ..Observation::default()
    };
    let ok = Observation {
        ok: true,
        status: 200,
        ..base
    };
    assert_eq!(kind(ok), Some(OutcomeKind::Success));
    // The client hung up: nothing to learn, whatever else is set.
    let gone = Observation {
        client_gone: true,
        ..base
    };
    assert_eq!(kind(gone), None);
    assert_eq!(
        kind(Observation {
            status: 200,
            ..gone
        }),
        None
    );
    assert_eq!(kind(Observation { ok: true, ..gone }), None);
    // The provider broke a started answer (status 200 already sent): its failure.
    let cut = Observation {
        stream_cut: true,
        status: 200,
        ..base
    };
    assert_eq!(kind(cut), Some(OutcomeKind::ServerError));
    let stalled = Observation {
        timeout: true,
        status: 200,
        ..base
    };
    assert_eq!(kind(stalled), Some(OutcomeKind::Timeout));
    assert_eq!(
        kind(Observation {
            connect: true,
            ..base
        }),
        Some(OutcomeKind::ConnectError)
    );
    assert_eq!(
        kind(base),
        Some(OutcomeKind::ConnectError),
        "no response at all"
    );
    let ra = Some(Duration::from_millis(1500));
    assert_eq!(
        kind(Observation {
            status: 429,
            retry_after: ra,
            ..base
        }),
        Some(OutcomeKind::RateLimited { retry_after: ra })
    );
    assert_eq!(
        kind(Observation {
            status: 503,
            ..base
        }),
        Some(OutcomeKind::ServerError)
    );
    assert_eq!(
        kind(Observation {
            status: 400,
            ..base
        }),
        Some(OutcomeKind::ClientError)
    );
    assert_eq!(
        kind(Observation {
            status: 200,
            ..base
        }),
        Some(OutcomeKind::ServerError),
        "a 2xx without a usable answer is the provider's"
    );
}

#[test]
fn clients_that_go_away_never_open_a_breaker() {
    let (r, _) = router();
    let dep = r
        .deployment("deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct")
        .unwrap();
    let gone = Observation {
        client_gone: true,
        latency_us: 5_000,
        ..Observation::default()
    };
    for _ in 0..10 {
        r.observe_attempt(dep, &gone);
    }
    let h = r.health(dep).unwrap();
    assert_eq!(h.breaker, BreakerState::Closed);
    assert_eq!(h.consecutive_failures, 0);
    assert_eq!(h.samples, 0, "no sample either");
}

#[test]
fn providers_that_cut_streams_open_their_breaker() {
    let (r, _) = router();
    let dep = r.deployment("groq/llama-3.1-70b-versatile").unwrap();
    let cut = Observation {
        status: 200,
        stream_cut: true,
        latency_us: 5_000,
        output_tokens: 12,
        ..Observation::default()
    };
    // failure_threshold = 3 in the fixture.
    for _ in 0..3 {
        r.observe_attempt(dep, &cut);
    }
    let h = r.health(dep).unwrap();
    assert_eq!(h.breaker, BreakerState::Open);
    assert!(h.error_rate > 0.0);
}
