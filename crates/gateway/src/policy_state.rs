//! Policy state across restarts: the budgets stored in the ledger file (`jevons budgets
//! set`, `PUT /admin/budgets`) merged into the `[policy]` section, spent-in-window and
//! recent agent tasks rebuilt from the ledger at start, and the background sweeper of
//! idle policy state.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jevons_core::{Clock, Money};
use std::collections::HashMap;

use jevons_ledger::{AdminStore, Dim, Reader, TaskRow};
use jevons_policy::{BudgetSpec, Policy, PolicyConfig, ScopeKind, SpendQuery, TaskSeed};

use crate::admit::{policy_config, PolicyGate};
use crate::config::GatewayConfig;

/// How long idle policy state (finished tasks, idle rate counters, past-window cells) is
/// kept before the sweeper drops it.
pub const SWEEP_IDLE_MS: i64 = 24 * 3600 * 1000;
/// How often the sweeper runs.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The policy a gateway starts with: the `[policy]` section plus the budgets stored in the
/// ledger file (a stored budget replaces a configured one of the same name), with
/// spent-in-window of every budget rebuilt from the ledger rollups. A config without
/// `[policy]` but with stored budgets gets a policy with default settings; with neither,
/// there is no policy. Fails (the gateway does not start) when a stored budget is
/// unreadable or the spend cannot be read: starting with a hard budget at zero spent could
/// pass its limit.
pub fn load(cfg: &GatewayConfig, clock: Arc<dyn Clock>) -> Result<PolicyGate, String> {
    let configured = policy_config(cfg)?;
    let stored = stored_budgets(&cfg.ledger.path)?;
    let pc = match (configured, stored.is_empty()) {
        (None, true) => return Ok(PolicyGate::with_policy(None, clock)),
        (Some(pc), true) => pc,
        (configured, false) => merge(configured.unwrap_or_default(), stored),
    };
    crate::admit::check_degrade_targets(cfg, &pc)?;
    let policy = Policy::new(pc).map_err(|e| {
        format!(
            "{}: [policy] with the budgets stored in {}: {e}",
            cfg.file,
            cfg.ledger.path.display()
        )
    })?;
    let seeded = rebuild(&policy, &cfg.ledger.path, clock.now_ms())?;
    tracing::info!(
        budgets = policy.config().budgets.len(),
        seeded,
        "policy loaded; spent-in-window rebuilt from the ledger"
    );
    Ok(PolicyGate::with_policy(Some(policy), clock))
}

/// Config budgets first; a stored budget with the same name replaces it, others are added
/// (in name order).
pub fn merge(mut pc: PolicyConfig, stored: Vec<BudgetSpec>) -> PolicyConfig {
    for spec in stored {
        match pc.budgets.iter_mut().find(|b| b.name == spec.name) {
            Some(b) => {
                tracing::info!(budget = %spec.name, "the budget stored in the ledger file replaces the configured one");
                *b = spec;
            }
            None => pc.budgets.push(spec),
        }
    }
    pc
}

/// The budget specs stored in the ledger file's `budgets` table.
pub fn stored_budgets(db: &Path) -> Result<Vec<BudgetSpec>, String> {
    let rows = AdminStore::open(db)
        .and_then(|s| s.list_budgets())
        .map_err(|e| format!("{}: cannot read stored budgets: {e}", db.display()))?;
    rows.into_iter()
        .map(|r| {
            serde_json::from_str::<BudgetSpec>(&r.spec_json).map_err(|e| {
                format!(
                    "{}: the stored budget '{}' is unreadable ({e}); re-create it with `jevons budgets set {} ...` or remove it with `jevons budgets delete {}`",
                    db.display(),
                    r.name,
                    r.name,
                    r.name
                )
            })
        })
        .collect()
}

/// The ledger dimension a policy scope kind is summed by.
pub fn dim_of(k: ScopeKind) -> Dim {
    match k {
        ScopeKind::Org => Dim::Org,
        ScopeKind::Team => Dim::Team,
        ScopeKind::Key => Dim::Key,
        ScopeKind::User => Dim::User,
        ScopeKind::Customer => Dim::Customer,
        ScopeKind::Feature => Dim::Feature,
        ScopeKind::Task => Dim::Task,
    }
}

/// Answers one rebuild question from the rollups: `(value, spent since q.since_ms)` rows,
/// one for a one-value budget, one per value seen for a `*` budget. The rollups round the
/// start down to their resolution (minute for team/key/org, hour otherwise), so the answer
/// is never below the true spend.
pub fn spent_rows(reader: &Reader, q: &SpendQuery) -> Result<Vec<(String, Money)>, String> {
    let dim = dim_of(q.kind);
    let since = q.since_ms.max(0);
    let err = |e: jevons_ledger::LedgerError| format!("budget '{}': {e}", q.budget);
    match &q.value {
        Some(v) => Ok(vec![(
            v.clone(),
            reader.spent_since(dim, v, since).map_err(err)?,
        )]),
        None => {
            let rows = reader
                .spend(&jevons_ledger::SpendQuery {
                    by: vec![dim],
                    since_ms: since,
                    until_ms: i64::MAX,
                    ..Default::default()
                })
                .map_err(err)?;
            Ok(rows
                .into_iter()
                .filter_map(|r| {
                    let v = r.keys.into_iter().next().flatten()?;
                    Some((v, r.totals.cost.to_money().unwrap_or(Money::MAX)))
                })
                .collect())
        }
    }
}

/// Seeds every budget's spent-in-window from the ledger file; returns the cells seeded.
pub fn rebuild(policy: &Policy, db: &Path, now_ms: i64) -> Result<usize, String> {
    let reader = Reader::open(db).map_err(|e| {
        format!(
            "{}: cannot read the ledger to rebuild budget spend: {e}",
            db.display()
        )
    })?;
    let mut errors = Vec::new();
    let n = policy.rebuild_spent(now_ms, |q| {
        spent_rows(&reader, q).unwrap_or_else(|e| {
            errors.push(e);
            Vec::new()
        })
    });
    if errors.is_empty() {
        // Tasks that ran within the sweeper's idle timeout (older ones would be swept).
        let since = now_ms.saturating_sub(SWEEP_IDLE_MS);
        let tasks = reader
            .top_tasks_in(MAX_SEEDED_TASKS, since, i64::MAX)
            .map_err(|e| format!("{}: cannot rebuild agent task state: {e}", db.display()))?;
        seed_tasks(policy, &tasks);
        Ok(n + tasks.len())
    } else {
        Err(format!(
            "{}: cannot rebuild budget spend from the ledger: {}",
            db.display(),
            errors.join("; ")
        ))
    }
}

/// Most agent tasks rebuilt at start (the most expensive first).
pub const MAX_SEEDED_TASKS: usize = 100_000;

/// Agent tasks that ran within the sweeper's idle timeout, rebuilt from the ledger's
/// tasks table: first and last call, calls (admitted: events less refusals and retry
/// attempts), depth (from the parent
/// chain, as admission computes it: parent's depth + 1, or 1 when the parent is not
/// known) and the whole task's spend on its `max_usd` line. Request-hash history (loop
/// detection, identical retries) is not in the ledger and starts afresh.
pub fn seed_tasks(policy: &Policy, rows: &[TaskRow]) {
    let parent: HashMap<&str, Option<&str>> = rows
        .iter()
        .map(|t| (t.task.as_str(), t.parent.as_deref()))
        .collect();
    let depth = |task: &str| -> u32 {
        let mut d = 0u32;
        let mut cur = task;
        // Bounded walk: a cycle in the ledger cannot hang the start.
        while let Some(Some(p)) = parent.get(cur).copied() {
            d += 1;
            if p == cur || d > 64 {
                break;
            }
            if !parent.contains_key(p) {
                break;
            }
            cur = p;
        }
        d
    };
    for t in rows {
        let seed = TaskSeed {
            first_ms: t.first_ts_ms,
            last_ms: t.last_ts_ms,
            depth: depth(&t.task),
            // Admitted calls: one event per attempt, refusals are events too.
            calls: t
                .totals
                .requests
                .saturating_sub(t.totals.refusals)
                .saturating_sub(t.retries),
        };
        policy.seed_task(
            &t.task,
            &seed,
            t.totals.cost.to_money().unwrap_or(Money::MAX),
        );
    }
}

/// Drops idle policy state every [`SWEEP_EVERY`] (tasks, rate counters and per-value
/// budget cells idle for [`SWEEP_IDLE_MS`]). Holds only the policy, not the gateway.
pub fn spawn_sweeper(
    policy: Policy,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut t = tokio::time::interval(every);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t.tick().await; // the first tick is immediate: nothing to sweep at start
        loop {
            t.tick().await;
            policy.sweep(clock.now_ms().saturating_sub(SWEEP_IDLE_MS));
            tracing::debug!("policy state swept");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, scope: &str, limit: &str) -> BudgetSpec {
        serde_json::from_value(serde_json::json!({
            "name": name, "scope": scope, "limit_usd": limit, "window": "day"
        }))
        .unwrap()
    }

    #[test]
    fn stored_budgets_replace_configured_ones_by_name_and_add_the_rest() {
        let pc = PolicyConfig {
            budgets: vec![spec("a", "team:x", "10"), spec("b", "key:*", "1")],
            ..PolicyConfig::default()
        };
        let merged = merge(pc, vec![spec("b", "key:*", "0.5"), spec("c", "org:*", "3")]);
        let got: Vec<(String, String)> = merged
            .budgets
            .iter()
            .map(|b| (b.name.clone(), b.limit_usd.to_string()))
            .collect();
        let want = [("a", "10"), ("b", "0.5"), ("c", "3")];
        assert_eq!(
            got,
            want.map(|(n, l)| (n.to_string(), l.to_string())).to_vec()
        );
    }

    #[test]
    fn task_depth_follows_the_parent_chain_as_admission_does() {
        let pc = PolicyConfig::from_toml_str(
            "[task_caps.default]\nmax_depth = 1\nmax_usd = \"1\"\nloop_threshold = 0\n",
        )
        .unwrap();
        let policy = Policy::new(pc).unwrap();
        let row = |task: &str, parent: Option<&str>, cost_usd: &str| TaskRow {
            task: task.into(),
            parent: parent.map(Into::into),
            team: None,
            first_ts_ms: 0,
            last_ts_ms: 10,
            retries: 0,
            ok: 1,
            totals: jevons_ledger::Totals {
                cost: Money::parse_usd(cost_usd).unwrap().into(),
                ..Default::default()
            },
        };
        // root (0) <- a (1) <- b (2); "orphan"'s parent is unknown: depth 1.
        seed_tasks(
            &policy,
            &[
                row("root", None, "0"),
                row("a", Some("root"), "0"),
                row("b", Some("a"), "0"),
                row("orphan", Some("gone"), "2"),
            ],
        );
        let attr = |task: &str| jevons_core::Attribution {
            task: Some(task.into()),
            ..Default::default()
        };
        let req = |a: &'static jevons_core::Attribution| jevons_policy::AdmitRequest {
            attribution: a,
            model: "m",
            input_tokens_upper_bound: 1,
            requested_max_output: Some(1),
            choices: 1,
            paid_calls: Default::default(),
            price: Default::default(),
            request_hash: 1,
        };
        let ok = |t: &str| {
            let a: &'static jevons_core::Attribution = Box::leak(Box::new(attr(t)));
            policy
                .admit(&req(a), 20)
                .map(|_| ())
                .map_err(|r| r.limit_name)
        };
        assert_eq!(ok("root"), Ok(()));
        assert_eq!(ok("a"), Ok(()));
        assert_eq!(ok("b"), Err("max_depth".to_string()));
        assert_eq!(ok("orphan"), Err("max_usd".to_string()), "seeded $2 > $1");
    }

    #[test]
    fn an_unreadable_stored_budget_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("l.sqlite");
        let store = AdminStore::open(&db).unwrap();
        let good = serde_json::to_string(&spec("ok", "team:x", "1")).unwrap();
        store.put_budget("ok", &good, 0).unwrap();
        assert_eq!(
            stored_budgets(&db).unwrap(),
            vec![spec("ok", "team:x", "1")]
        );
        store
            .put_budget("broken", r#"{"name":"broken","scope":"nowhere"}"#, 0)
            .unwrap();
        let e = stored_budgets(&db).unwrap_err();
        assert!(
            e.contains("'broken'") && e.contains("jevons budgets delete broken"),
            "{e}"
        );
    }
}
