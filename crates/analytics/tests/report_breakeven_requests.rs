//! Break-even usage of plans priced per request: per-request prices and included requests
//! count at the fleet's mean tokens per request (hand-checked).

#![allow(clippy::unwrap_used)]

use jevons_analytics::reports::plans::PlanBook;
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn plan(body: &str) -> jevons_analytics::reports::plans::Plan {
    let text = format!("default = \"p\"\n[[plan]]\nname = \"p\"\n{body}");
    PlanBook::parse(&text, "t")
        .unwrap()
        .plan("p")
        .unwrap()
        .clone()
}

#[test]
fn per_request_prices_count_at_mean_tokens_per_request() {
    // $0.001 per request at 1,000 tokens per request = $1/Mtok.
    let usage = plan("kind = \"usage\"\nper_request_usd = \"0.001\"\n");
    let tpr = Some(d("1000"));
    // Cost $2/Mtok: priced below cost, every level loses.
    assert_eq!(usage.breakeven_tokens_at(d("2"), tpr), Some(d("0")));
    // Cost $0.5/Mtok: covered, never loses.
    assert_eq!(usage.breakeven_tokens_at(d("0.5"), tpr), None);
    // Without the conversion the request price is invisible (the old answer: 0).
    assert_eq!(usage.breakeven_tokens(d("0.5")), Some(d("0")));
    // Both meters: $0.6/Mtok + $0.001/request at 1,000 tok/request = $1.6/Mtok effective.
    let both = plan("kind = \"usage\"\nper_mtok_usd = \"0.6\"\nper_request_usd = \"0.001\"\n");
    assert_eq!(both.breakeven_tokens_at(d("1.5"), tpr), None);
    assert_eq!(both.breakeven_tokens_at(d("1.7"), tpr), Some(d("0")));

    // Hybrid: $10/month, 1,000 requests included (= 1M tokens), then $0.01/request
    // (= $10/Mtok at 1,000 tok/request).
    let h = "kind = \"hybrid\"\nmonthly_usd = \"10\"\nincluded_requests = 1000\nper_request_usd = \"0.01\"\n";
    let hyb = plan(h);
    // Cost $20/Mtok: 10/20 = 0.5M tokens, inside the allowance.
    assert_eq!(hyb.breakeven_tokens_at(d("20"), tpr), Some(d("500000")));
    // Cost $5/Mtok: 10/5 = 2M > 1M; beyond it overage $10 > $5 never loses.
    assert_eq!(hyb.breakeven_tokens_at(d("5"), tpr), None);
    // Fee $30, cost $20/Mtok: 1.5M > 1M; beyond: (30 − 10·1) / (20 − 10) = 2M tokens.
    let hyb30 = plan(&h.replace("\"10\"", "\"30\""));
    assert_eq!(hyb30.breakeven_tokens_at(d("20"), tpr), Some(d("2000000")));
    // At 500 tokens per request the same prices are $20/Mtok and 0.5M tokens included:
    // 30/20 = 1.5M > 0.5M, overage $20 = cost: never loses.
    assert_eq!(hyb30.breakeven_tokens_at(d("20"), Some(d("500"))), None);
}
