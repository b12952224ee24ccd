//! Bad inputs give clear errors: malformed plans/scenario/quality files, unknown dimensions
//! and buckets, inverted or unparseable periods, a missing ledger, an unknown task.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod report_support;

use jevons_analytics::reports::plans::PlanBook;
use jevons_analytics::reports::quality::QualityTable;
use jevons_analytics::reports::routing::Scenario;
use jevons_analytics::reports::spend::{parse_dims, SpendBucket};
use jevons_analytics::reports::{cascade, parse_period, tasks, Period};
use jevons_ledger::Reader;

fn err<T: std::fmt::Debug, E: std::fmt::Display>(r: Result<T, E>) -> String {
    r.expect_err("should fail").to_string()
}

#[test]
fn malformed_plans_files() {
    let e = err(PlanBook::parse(
        "default = \"pro\"\n[[plan]]\nname = \"pro\"\nkind = \"subscription\"\n",
        "plans.toml",
    ));
    assert!(
        e.contains("plans.toml") && e.contains("subscription"),
        "{e}"
    );
    let e = err(PlanBook::parse(
        "default = \"gold\"\n[[plan]]\nname = \"pro\"\nkind = \"flat\"\nmonthly_usd = \"20\"\n",
        "plans.toml",
    ));
    assert!(
        e.contains("default = 'gold' names no plan") && e.contains("pro"),
        "{e}"
    );
    let e = err(PlanBook::parse("default = \"pro\"\n[[plan]]\nname = \"pro\"\nkind = \"flat\"\nmonthly_usd = \"20\"\nper_mtok_usd = \"3\"\n", "p"));
    assert!(e.contains("hybrid"), "{e}");
    let e = err(PlanBook::parse(
        "default = \"pro\"\n[[plan]]\nname = \"pro\"\nkind = \"usage\"\n",
        "p",
    ));
    assert!(e.contains("per_mtok_usd"), "{e}");
    let e = err(PlanBook::parse("default = \"pro\"\n[[plan]]\nname = \"pro\"\nkind = \"flat\"\nmonthly_usd = \"20\"\n[assign]\nu1 = \"vip\"\n", "p"));
    assert!(e.contains("assign.u1"), "{e}");
    let e = err(PlanBook::parse(
        "default = \"pro\"\n[[plan]]\nname = \"pro\"\nkind = \"flat\"\nmonthly_usd = \"-5\"\n",
        "p",
    ));
    assert!(e.contains("negative"), "{e}");
    let e = err(PlanBook::parse("this is not toml", "p"));
    assert!(e.contains("docs/analytics.md"), "{e}");
}

#[test]
fn malformed_scenarios_and_quality_tables() {
    let cat = jevons_pricing::Catalog::bundled().unwrap();
    let e = err(Scenario::parse(
        "[[rule]]\ntype = \"teleport\"\n",
        "s.toml",
        &cat,
    ));
    assert!(e.contains("s.toml") && e.contains("teleport"), "{e}");
    let e = err(Scenario::parse(
        "[[rule]]\ntype = \"move\"\nto = \"no-such-model-xyz\"\n",
        "s.toml",
        &cat,
    ));
    assert!(e.contains("rule 1"), "{e}");
    let e = err(Scenario::parse(
        "[[rule]]\ntype = \"cascade\"\ncheap = \"gpt-4o-mini\"\nescalate_share = \"1.5\"\n",
        "s",
        &cat,
    ));
    assert!(e.contains("between 0 and 1"), "{e}");
    let e = err(Scenario::parse(
        "description = \"x\"\nrule = []\n",
        "s",
        &cat,
    ));
    assert!(e.contains("no [[rule]]"), "{e}");
    let e = err(QualityTable::parse("model,score\ngpt-4o,great\n", "q.csv"));
    assert!(e.contains("q.csv") && e.contains("line 2"), "{e}");
    let e = err(QualityTable::parse("name,value\na,1\n", "q.csv"));
    assert!(e.contains("model and score"), "{e}");
    let e = err(cascade::load_units(
        cascade::bundled_text(),
        "b",
        "nope",
        "gpt-4-1106-preview",
    ));
    assert!(e.contains("nope"), "{e}");
}

#[test]
fn bad_arguments() {
    let e = err(parse_dims(&["team,colour".to_string()]));
    assert!(e.contains("unknown dimension 'colour'"), "{e}");
    let e = err("fortnight".parse::<SpendBucket>());
    assert!(e.contains("hour, day, week or month"), "{e}");
    let e = err(parse_period("2026-11-08..2026-11-01", 0));
    assert!(e.contains("earlier time first"), "{e}");
    let e = err(parse_period("last-week", 0));
    assert!(e.contains("last-7d"), "{e}");
    assert!(Period::new(5, 5).is_err());
    assert!(jevons_analytics::reports::breakeven::breakeven(20.into(), 0.into(), None).is_err());
}

#[test]
fn missing_ledger_and_unknown_task() {
    let dir = tempfile::tempdir().unwrap();
    let e = err(Reader::open(&dir.path().join("nope.sqlite")));
    assert!(e.contains("nope.sqlite"), "{e}");
    let p = report_support::write(&dir, "empty.sqlite", Vec::new());
    let r = Reader::open(&p).unwrap();
    let e = err(tasks::tree(&r, "ghost"));
    assert!(e.contains("no task 'ghost'"), "{e}");
    // Overlapping periods (also after rounding to whole hours) make no bridge.
    let a = Period::new(0, 3_600_000).unwrap();
    let b = Period::new(1_800_000, 2_000_000).unwrap();
    let q = QualityTable::bundled().unwrap();
    let e = err(jevons_analytics::reports::decompose::decompose(
        &r, a, b, &q,
    ));
    assert!(e.contains("overlap"), "{e}");
    let c = Period::new(3_600_000, 7_200_000).unwrap();
    assert!(jevons_analytics::reports::decompose::decompose(&r, a, c, &q).is_ok());
}
