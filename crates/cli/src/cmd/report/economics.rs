//! `jevons report users` and `jevons report decompose`: unit economics per payer under a
//! plans file, and the four lenses with the price-volume-mix bridge (printing only).

use std::path::PathBuf;

use jevons_analytics::reports::{decompose, parse_period, quality::QualityTable, users};

use super::sections::Sections;
use super::{change, dec, load_plans, parse_payer, usd, Out, Window};
use crate::output::{print_json, Format, Rows};

/// `jevons report users`.
pub(super) fn users(
    by: String,
    plans: PathBuf,
    top: usize,
    window: Window,
    out: Out,
) -> anyhow::Result<()> {
    let payer = parse_payer(&by)?;
    let book = load_plans(&plans)?;
    let period = window.period(out.now()?, "30d")?;
    let r = users::users_report(&out.reader()?, payer, period, &book)?;
    if out.format == Format::Json {
        return print_json(&r);
    }
    let exact = out.exact();
    let mut t = Rows::new([
        by.as_str(),
        "plan",
        "requests",
        "tokens",
        "cost_usd",
        "revenue_usd",
        "margin_usd",
    ]);
    let n = if top == 0 { r.lines.len() } else { top };
    for l in r.lines.iter().take(if exact { usize::MAX } else { n }) {
        t.push([
            l.usage.id.clone(),
            l.plan.clone(),
            l.usage.requests.to_string(),
            l.usage.tokens.to_string(),
            usd(l.usage.cost, exact),
            usd(l.revenue, exact),
            usd(l.margin, exact),
        ]);
    }
    let payers = r.lines.len().max(1);
    let mut s = Rows::new(["measure", "value"]);
    s.push(["cost_usd".into(), usd(r.cost, exact)]);
    s.push(["revenue_usd".into(), usd(r.revenue, exact)]);
    s.push(["margin_usd".into(), usd(r.margin, exact)]);
    let share = r.unprofitable as f64 / payers as f64;
    if out.format == Format::Csv {
        // Machine-readable: plain numbers, shares as ratios.
        s.push(["payers".into(), r.lines.len().to_string()]);
        s.push(["unprofitable".into(), r.unprofitable.to_string()]);
        s.push(["unprofitable_share".into(), format!("{share:.6}")]);
        s.push(["gini_of_cost".into(), format!("{:.6}", r.gini)]);
        s.push([
            "top_1pct_share_of_cost".into(),
            format!("{:.6}", r.top1_share),
        ]);
        s.push([
            "unattributed_cost_usd".into(),
            usd(r.unattributed_cost, exact),
        ]);
        let mut all = Sections::default();
        all.add("payers", t);
        all.add("summary", s);
        return all.print(out.format, false);
    }
    s.push([
        "unprofitable".to_string(),
        format!(
            "{} of {} ({:.1}%)",
            r.unprofitable,
            r.lines.len(),
            100.0 * share
        ),
    ]);
    s.push(["gini_of_cost".into(), format!("{:.4}", r.gini)]);
    s.push([
        "top_1pct_share_of_cost".into(),
        format!("{:.2}%", 100.0 * r.top1_share),
    ]);
    s.push([
        "unattributed_cost_usd".into(),
        usd(r.unattributed_cost, exact),
    ]);
    println!(
        "{} {} in {} (highest cost first; the whales on top)",
        r.lines.len(),
        by,
        period.label()
    );
    t.print(out.format)?;
    s.print(out.format)
}

/// `jevons report decompose`.
pub(super) fn decompose(
    from: String,
    to: String,
    quality: Option<PathBuf>,
    out: Out,
) -> anyhow::Result<()> {
    let now = out.now()?;
    let (a, b) = (parse_period(&from, now)?, parse_period(&to, now)?);
    let q = match &quality {
        Some(p) => QualityTable::load(p)?,
        None => QualityTable::bundled()?,
    };
    let d = decompose::decompose(&out.reader()?, a, b, &q)?;
    if out.format == Format::Json {
        return print_json(&d);
    }
    let exact = out.exact();
    let mut l = Rows::new(["lens", "base", "current", "change"]);
    l.push([
        "total_spend_usd".into(),
        usd(d.spend[0], exact),
        usd(d.spend[1], exact),
        change(Some(d.spend[0].to_usd()), Some(d.spend[1].to_usd())),
    ]);
    l.push([
        "tokens".into(),
        d.tokens[0].to_string(),
        d.tokens[1].to_string(),
        change(Some(d.tokens[0].into()), Some(d.tokens[1].into())),
    ]);
    l.push([
        "usd_per_mtok".into(),
        dec(d.usd_per_mtok[0], 6),
        dec(d.usd_per_mtok[1], 6),
        change(d.usd_per_mtok[0], d.usd_per_mtok[1]),
    ]);
    l.push([
        "usd_per_mtok_per_quality_point".into(),
        dec(d.usd_per_mtok_per_point[0], 6),
        dec(d.usd_per_mtok_per_point[1], 6),
        change(d.usd_per_mtok_per_point[0], d.usd_per_mtok_per_point[1]),
    ]);
    l.push([
        "scored_token_share".into(),
        dec(d.scored_token_share[0], 4),
        dec(d.scored_token_share[1], 4),
        String::new(),
    ]);
    l.push([
        "users".into(),
        d.users[0].to_string(),
        d.users[1].to_string(),
        change(Some(d.users[0].into()), Some(d.users[1].into())),
    ]);
    l.push([
        "usd_per_user".into(),
        dec(d.usd_per_user[0], 6),
        dec(d.usd_per_user[1], 6),
        change(d.usd_per_user[0], d.usd_per_user[1]),
    ]);
    let mut m = Rows::new([
        "model",
        "base_tokens",
        "current_tokens",
        "base_usd_per_mtok",
        "current_usd_per_mtok",
        "quality",
        "current_usd_per_mtok_per_point",
    ]);
    for x in &d.models {
        m.push([
            x.model.clone(),
            x.base.tokens.to_string(),
            x.current.tokens.to_string(),
            dec(x.usd_per_mtok[0], 6),
            dec(x.usd_per_mtok[1], 6),
            dec(x.score, 4),
            dec(x.usd_per_mtok_per_point[1], 6),
        ]);
    }
    let br = d.bridge;
    let mut g = Rows::new(["bridge", "usd"]);
    for (k, v) in [
        ("base_spend", br.base),
        ("volume_effect", br.volume),
        ("mix_effect", br.mix),
        ("price_effect", br.price),
        ("current_spend", br.current),
        ("total_change", br.total_change),
    ] {
        g.push([k.to_string(), usd(v, exact)]);
    }
    if out.format == Format::Table {
        println!("base {}  vs  current {}", a.label(), b.label());
    }
    let mut all = Sections::default();
    all.add("lenses", l);
    all.add("models", m);
    all.add("bridge", g);
    all.print(out.format, false)
}
