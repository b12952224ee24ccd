//! Plan determinism, heavy tail, task trees, growing contexts, and scenario errors.

// Helpers outside #[test] fns are test code too; clippy.toml only covers #[test] bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use jevons_mock::loadgen::{JobKind, LoadgenError, Plan, Scenario, WireFormat};

fn default_plan(seed: u64) -> Plan {
    Plan::generate(&Scenario::load("default").unwrap(), seed).unwrap()
}

fn serialized(plan: &Plan, n: usize) -> String {
    plan.first_requests(n)
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn builtins_load_and_validate() {
    for name in jevons_mock::loadgen::builtin_scenarios() {
        let s = Scenario::load(name).unwrap();
        assert_eq!(s.name, name);
        assert!(!Plan::generate(&s, 1).unwrap().first_requests(50).is_empty());
    }
}

#[test]
fn same_seed_same_plan_different_seed_different_plan() {
    let a = serialized(&default_plan(42), 500);
    let b = serialized(&default_plan(42), 500);
    let c = serialized(&default_plan(43), 500);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.lines().count(), 500);
}

#[test]
fn jobs_are_independent_of_generation_order() {
    let plan = default_plan(7);
    let forward: Vec<String> = (0..30)
        .map(|i| serde_json::to_string(&plan.job(i)).unwrap())
        .collect();
    for i in (0..30).rev() {
        assert_eq!(
            serde_json::to_string(&plan.job(i)).unwrap(),
            forward[i as usize]
        );
    }
}

#[test]
fn heavy_tail_top_one_percent_make_over_a_fifth_of_requests() {
    let scenario = Scenario::load("default").unwrap();
    for seed in [1u64, 2] {
        let reqs = Plan::generate(&scenario, seed)
            .unwrap()
            .first_requests(5_000);
        let mut per_user: BTreeMap<&str, u64> = BTreeMap::new();
        for r in &reqs {
            *per_user.entry(&r.user).or_default() += 1;
        }
        let mut counts: Vec<u64> = per_user.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top = (scenario.users.count as usize).div_ceil(100);
        let top_sum: u64 = counts.iter().take(top).sum();
        let share = top_sum as f64 / reqs.len() as f64;
        assert!(
            share >= 0.20,
            "seed {seed}: top 1% made only {share:.3} of requests"
        );
    }
}

#[test]
fn uniform_users_are_not_heavy_tailed() {
    // The heavy-tail assertion above must be able to fail: with exponent 0 it does.
    let mut s = Scenario::load("default").unwrap();
    s.users.zipf_exponent = 0.0;
    let reqs = Plan::generate(&s, 1).unwrap().first_requests(5_000);
    let mut per_user: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &reqs {
        *per_user.entry(&r.user).or_default() += 1;
    }
    let mut counts: Vec<u64> = per_user.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let share = counts.iter().take(10).sum::<u64>() as f64 / reqs.len() as f64;
    assert!(share < 0.20, "uniform population gave top-1% share {share}");
}

#[test]
fn agent_tasks_form_trees_within_depth() {
    let s = Scenario::load("agentic").unwrap();
    let plan = Plan::generate(&s, 9).unwrap();
    let mut saw_child = false;
    for job in plan.jobs().take(300).filter(|j| j.kind == JobKind::Agent) {
        let mut depth_of: BTreeMap<String, u32> = BTreeMap::new();
        for r in &job.requests {
            let task = r
                .task
                .as_deref()
                .expect("agent requests carry a task")
                .to_string();
            let depth = r.depth.expect("agent requests carry a depth");
            assert!(depth >= 1 && depth <= s.agent.max_depth);
            match r.parent_task.as_deref() {
                None => assert_eq!(depth, 1, "only roots have no parent"),
                Some(p) => {
                    saw_child = true;
                    let pd = depth_of
                        .get(p)
                        .copied()
                        .expect("parent planned before its child");
                    assert_eq!(depth, pd + 1);
                }
            }
            if let Some(d) = depth_of.insert(task, depth) {
                assert_eq!(d, depth);
            }
        }
        let roots: BTreeSet<_> = job
            .requests
            .iter()
            .filter(|r| r.parent_task.is_none())
            .map(|r| r.task.clone())
            .collect();
        assert_eq!(roots.len(), 1, "one root task per job");
    }
    assert!(saw_child, "agentic scenario should plan sub-tasks");
}

#[test]
fn chat_contexts_grow_turn_by_turn() {
    let plan = Plan::generate(&Scenario::load("chat").unwrap(), 5).unwrap();
    let mut checked = 0;
    for job in plan.jobs().take(100).filter(|j| j.kind == JobKind::Chat) {
        for pair in job.requests.windows(2) {
            let a: serde_json::Value = serde_json::from_slice(&pair[0].body).unwrap();
            let b: serde_json::Value = serde_json::from_slice(&pair[1].body).unwrap();
            let (ma, mb) = (
                a["messages"].as_array().unwrap(),
                b["messages"].as_array().unwrap(),
            );
            assert_eq!(
                mb.len(),
                ma.len() + 2,
                "each turn adds the answer and a new user message"
            );
            assert_eq!(
                &mb[..ma.len()],
                &ma[..],
                "earlier context is re-sent unchanged"
            );
            assert_eq!(mb[ma.len()]["role"], "assistant");
            assert_eq!(mb[ma.len() + 1]["role"], "user");
            assert!(pair[1].body.len() > pair[0].body.len());
            checked += 1;
        }
    }
    assert!(checked > 50);
}

#[test]
fn bodies_match_their_wire_format() {
    let plan = default_plan(11);
    let reqs = plan.first_requests(400);
    assert!(reqs.iter().any(|r| r.format == WireFormat::Anthropic));
    assert!(reqs.iter().any(|r| r.format == WireFormat::OpenAi));
    assert!(reqs.iter().any(|r| r.stream) && reqs.iter().any(|r| !r.stream));
    for r in reqs {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["model"], &*r.model);
        assert_eq!(v["stream"].as_bool().unwrap_or(false), r.stream);
        assert_eq!(v.get("tools").is_some(), r.tools);
        match r.format {
            WireFormat::OpenAi => {
                assert!(r.model.starts_with("gpt"));
                assert_eq!(v.get("stream_options").is_some(), r.stream);
            }
            WireFormat::Anthropic => {
                assert!(r.model.starts_with("claude"));
                assert!(
                    v["max_tokens"].as_u64().unwrap() > 0,
                    "anthropic needs max_tokens"
                );
                assert!(v["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|m| m["role"] != "system"));
            }
        }
        if r.disconnect_after.is_some() {
            assert!(r.stream);
        }
    }
}

fn parse_err(text: &str) -> String {
    match Scenario::from_toml_str(text, "test.toml") {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an error for:\n{text}"),
    }
}

const MINIMAL: &str = r#"
name = "t"
[users]
count = 10
zipf_exponent = 1.0
customers = 2
[mix]
chat = 1
agent = 0
single = 0
openai_share = 1.0
stream_share = 0.5
[[features]]
name = "f"
weight = 1
[[models]]
name = "m"
weight = 1
"#;

#[test]
fn minimal_scenario_parses() {
    let s = Scenario::from_toml_str(MINIMAL, "test.toml").unwrap();
    assert_eq!(s.users.count, 10);
}

#[test]
fn unknown_key_is_named() {
    let e = parse_err(&MINIMAL.replace("stream_share = 0.5", "stream_share = 0.5\nstreem = 1"));
    assert!(e.contains("test.toml") && e.contains("streem"), "{e}");
}

#[test]
fn garbage_toml_gives_line() {
    let e = parse_err("name = \"x\"\n[users\ncount = ");
    assert!(e.contains("test.toml") && e.contains("line"), "{e}");
}

#[test]
fn negative_and_out_of_range_values_are_all_reported() {
    let text = MINIMAL
        .replace(
            "stream_share = 0.5",
            "stream_share = -0.1\ndisconnect_rate = 1.5",
        )
        .replace("weight = 1\n[[models]]", "weight = -2\n[[models]]");
    let e = parse_err(&text);
    assert!(e.contains("mix.stream_share = -0.1"), "{e}");
    assert!(e.contains("mix.disconnect_rate = 1.5"), "{e}");
    assert!(e.contains("features[0].weight = -2"), "{e}");
    assert!(e.contains("4 problem"), "{e}"); // the 4th: all feature weights are 0
}

#[test]
fn negative_count_is_a_type_error() {
    let e = parse_err(&MINIMAL.replace("count = 10", "count = -10"));
    assert!(e.contains("count") || e.contains("line"), "{e}");
}

#[test]
fn unknown_scenario_lists_builtins() {
    let e = Scenario::load("no-such-scenario-xyz").unwrap_err();
    assert!(matches!(e, LoadgenError::UnknownScenario { .. }));
    assert!(e.to_string().contains("default"), "{e}");
}

#[test]
fn scenario_file_loads_from_disk() {
    let dir = std::env::temp_dir().join(format!("jevons-loadgen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let s = Scenario::load(path.to_str().unwrap()).unwrap();
    assert_eq!(s.name, "t");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn format_without_models_is_rejected() {
    let text = format!("{MINIMAL}formats = [\"openai\"]\n")
        .replace("openai_share = 1.0", "openai_share = 0.5");
    let e = parse_err(&text);
    assert!(e.contains("no model") && e.contains("anthropic"), "{e}");
}
