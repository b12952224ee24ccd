//! Half-open probe permits a plan took but never used can be handed back, so the next plan
//! probes at once instead of after another cooldown.

mod common;

use common::router;
use jevons_routing::{Outcome, OutcomeKind, RouteReason, RouteRequest};

const DEEPINFRA: &str = "deepinfra/meta-llama/Meta-Llama-3.1-70B-Instruct";

fn probes(r: &jevons_routing::Router) -> usize {
    let req = RouteRequest {
        est_input_tokens: 1000,
        est_output_tokens: 500,
        ..RouteRequest::new("llama-3.1-70b")
    };
    let plan = r.plan(&req).unwrap_or_else(|e| panic!("{e}"));
    plan.attempts
        .iter()
        .filter(|c| matches!(c.reason, RouteReason::Probe(_)))
        .count()
}

#[test]
fn an_unused_probe_permit_can_be_handed_back() {
    let (r, clock) = router();
    let d = r.deployment(DEEPINFRA).unwrap();
    for _ in 0..3 {
        r.observe(d, &Outcome::failure(OutcomeKind::ServerError, 1_000));
    }
    assert_eq!(probes(&r), 0, "open: no probe");
    clock.advance_ms(10_000);
    assert_eq!(probes(&r), 1, "half-open: the one permit");
    assert_eq!(probes(&r), 0, "permit held by the first plan");
    r.release_probe(d);
    assert_eq!(probes(&r), 1, "handed back: probed again at once");
    // Releasing more than was taken never grants extra permits.
    r.release_probe(d);
    r.release_probe(d);
    assert_eq!(probes(&r), 1);
    assert_eq!(probes(&r), 0);
    // On a closed breaker it is a no-op.
    let g = r.deployment("groq/llama-3.1-70b-versatile").unwrap();
    r.release_probe(g);
}
