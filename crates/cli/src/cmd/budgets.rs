//! `jevons budgets set|list|delete`: budget specs stored in the ledger file's `budgets`
//! table (the gateway loads them at start, next to the `[[budgets]]` of its config), or
//! applied to a running gateway through its admin API (`--gateway URL`). `list` shows
//! limit, spent in the current window (from the ledger rollups), reserved (live only),
//! remaining and the next reset; with `--config` the config's budgets and time zone count.

mod live;

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use clap::{Args as ClapArgs, Subcommand};
use jevons_core::{Clock, Money, SystemClock};
use jevons_gateway::GatewayConfig;
use jevons_ledger::{AdminStore, Dim, Reader};
use jevons_policy::{BudgetMode, BudgetSpec, Policy, Scope, ScopeKind, SoftAction, Window};
use rust_decimal::Decimal;

use crate::output::{Format, Rows};

/// Subcommands of `jevons budgets`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create or replace a budget.
    Set(SetArgs),
    /// Show every budget: limit, spent this window, remaining, next reset.
    List(ListArgs),
    /// Delete a budget.
    Delete(DeleteArgs),
}

/// Where the ledger file is.
#[derive(ClapArgs, Debug)]
pub struct DbArg {
    /// Ledger file (default: $JEVONS_DB, else ./jevons-data/ledger.sqlite).
    #[arg(long)]
    db: Option<PathBuf>,
}

impl DbArg {
    fn path(&self) -> PathBuf {
        self.db
            .clone()
            .unwrap_or_else(jevons_ledger::default_db_path)
    }
}

/// `jevons budgets set NAME --scope team:search --limit 100 --window month`.
#[derive(ClapArgs, Debug)]
pub struct SetArgs {
    /// Unique budget name.
    name: String,
    /// KIND:VALUE, KIND one of org, team, key, user, customer, feature, task; VALUE `*` =
    /// each value gets its own budget (e.g. `customer:*`).
    #[arg(long)]
    scope: String,
    /// Limit in USD per window, e.g. 100 or 12.50.
    #[arg(long)]
    limit: String,
    /// total, month, week, day or hour (calendar, in the gateway's time zone).
    #[arg(long, default_value = "month")]
    window: String,
    /// Soft budget: past the limit, route to this cheaper model instead of refusing.
    #[arg(long, value_name = "MODEL", conflicts_with = "soft_warn")]
    soft_degrade: Option<String>,
    /// Soft budget: past the limit, add an x-jevons-budget-warning header.
    #[arg(long)]
    soft_warn: bool,
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    live: live::GatewayArg,
}

/// `jevons budgets list`.
#[derive(ClapArgs, Debug)]
pub struct ListArgs {
    /// Time zone for calendar windows (default: the config's `policy.time_zone`, else UTC).
    #[arg(long)]
    time_zone: Option<String>,
    /// The gateway's config file: its `[policy]` budgets and time zone are listed with the
    /// stored ones (a stored budget replaces a configured one of the same name), and its
    /// ledger file is read unless --db is given.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    live: live::GatewayArg,
    #[command(flatten)]
    db: DbArg,
}

/// `jevons budgets delete NAME`.
#[derive(ClapArgs, Debug)]
pub struct DeleteArgs {
    /// Budget name.
    name: String,
    #[command(flatten)]
    db: DbArg,
    #[command(flatten)]
    live: live::GatewayArg,
}

/// Runs the command.
pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Set(a) => set(a),
        Command::List(a) => list(a),
        Command::Delete(a) => delete(a),
    }
}

/// Parses and validates the arguments into a spec (no I/O).
fn spec_from(a: &SetArgs) -> anyhow::Result<BudgetSpec> {
    let scope = Scope::parse(&a.scope)?;
    let text = a.limit.trim().trim_start_matches('$');
    let limit_usd = Decimal::from_str(text).with_context(|| {
        format!(
            "--limit '{}' is not a USD amount; write e.g. 100 or 12.50",
            a.limit
        )
    })?;
    let window = Window::parse(&a.window).with_context(|| {
        format!(
            "--window '{}' is unknown; write total, month, week, day or hour",
            a.window
        )
    })?;
    let mode = match (&a.soft_degrade, a.soft_warn) {
        (Some(model), _) => BudgetMode::Soft(SoftAction::Degrade {
            model: model.clone(),
        }),
        (None, true) => BudgetMode::Soft(SoftAction::Warn),
        (None, false) => BudgetMode::Hard,
    };
    let spec = BudgetSpec {
        name: a.name.trim().to_string(),
        scope,
        limit_usd,
        window,
        mode,
    };
    let issues = spec.issues("budget");
    if let Some(first) = issues.first() {
        anyhow::bail!("{first}");
    }
    Ok(spec)
}

fn set(a: SetArgs) -> anyhow::Result<()> {
    let spec = spec_from(&a)?;
    if let Some(url) = &a.live.gateway {
        live::put(url, &a.live.token()?, &spec)?;
        println!(
            "budget '{}' applied to the gateway at {url} (it also stores it in its ledger file; \
             spent in the current window starts from its ledger)",
            spec.name
        );
        return Ok(());
    }
    let json = serde_json::to_string(&spec)?;
    let path = a.db.path();
    let store = AdminStore::open(&path)?;
    store.put_budget(&spec.name, &json, SystemClock.now_ms())?;
    println!(
        "budget '{}' set: {} ${} per {} ({}) in {}",
        spec.name,
        spec.scope,
        spec.limit().usd_string(),
        spec.window.as_str(),
        mode_text(&spec.mode),
        path.display()
    );
    println!("{}", live::NOT_LIVE);
    Ok(())
}

fn delete(a: DeleteArgs) -> anyhow::Result<()> {
    if let Some(url) = &a.live.gateway {
        let existed = live::delete(url, &a.live.token()?, &a.name)?;
        if !existed {
            anyhow::bail!(
                "the gateway at {url} has no stored budget named '{}'",
                a.name
            );
        }
        println!(
            "budget '{}' deleted from the gateway at {url}",
            a.name.trim()
        );
        return Ok(());
    }
    let path = a.db.path();
    let store = AdminStore::open(&path)?;
    if !store.delete_budget(&a.name)? {
        anyhow::bail!(
            "no budget named '{}' in {}; `jevons budgets list` shows the names",
            a.name,
            path.display()
        );
    }
    println!("budget '{}' deleted", a.name.trim());
    println!("{}", live::NOT_LIVE);
    Ok(())
}

fn dim(k: ScopeKind) -> Dim {
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

/// The budgets `list` shows offline: the config's `[policy]` budgets (with `--config`)
/// merged with the ones stored in the ledger file, in the config's time zone unless
/// `--time-zone` says otherwise; and the ledger file to read spend from.
fn offline_policy(a: &ListArgs) -> anyhow::Result<(Policy, PathBuf)> {
    let cfg = match &a.config {
        Some(p) => Some(GatewayConfig::load(p).map_err(|e| anyhow::anyhow!("{e}"))?),
        None => None,
    };
    let configured = match &cfg {
        Some(c) => jevons_gateway::admit::policy_config(c).map_err(anyhow::Error::msg)?,
        None => None,
    };
    let path = match (&a.db.db, &cfg) {
        (None, Some(c)) => c.ledger.path.clone(),
        _ => a.db.path(),
    };
    let store = AdminStore::open(&path)?;
    let mut specs = Vec::new();
    for row in store.list_budgets()? {
        match serde_json::from_str::<BudgetSpec>(&row.spec_json) {
            Ok(s) => specs.push(s),
            Err(e) => eprintln!("warning: budget '{}' has an unreadable spec ({e}); re-create it with `jevons budgets set`", row.name),
        }
    }
    let mut pc = jevons_gateway::policy_state::merge(configured.unwrap_or_default(), specs);
    if let Some(tz) = &a.time_zone {
        pc.time_zone = tz.clone();
    }
    let policy = Policy::new(pc)?;
    Ok((policy, path))
}

fn list(a: ListArgs) -> anyhow::Result<()> {
    if let Some(url) = &a.live.gateway {
        return live::list(url, &a.live.token()?, a.format);
    }
    let (policy, path) = offline_policy(&a)?;
    let now = SystemClock.now_ms();
    // Spent in the current window, from the ledger rollups (one-value scopes only; a
    // per-value `*` budget is tracked per value by the running gateway).
    let reader = Reader::open(&path)?;
    let mut failures = Vec::new();
    policy.rebuild_spent(now, |q| match &q.value {
        Some(v) => match reader.spent_since(dim(q.kind), v, q.since_ms.max(0)) {
            Ok(m) => vec![(v.clone(), m)],
            Err(e) => {
                failures.push(format!("{}: {e}", q.budget));
                Vec::new()
            }
        },
        // A per-value (`*`) budget: one row per value seen in the window.
        None => match reader.spend(&jevons_ledger::SpendQuery {
            by: vec![dim(q.kind)],
            since_ms: q.since_ms.max(0),
            until_ms: now + 1,
            ..Default::default()
        }) {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|r| {
                    let v = r.keys.first().cloned().flatten()?;
                    Some((v, r.totals.cost.to_money().unwrap_or(Money::MAX)))
                })
                .collect(),
            Err(e) => {
                failures.push(format!("{}: {e}", q.budget));
                Vec::new()
            }
        },
    });
    for f in failures {
        eprintln!("warning: spent unknown for {f}");
    }
    let mut rows = Rows::new([
        "name",
        "scope",
        "mode",
        "window",
        "limit_usd",
        "spent_usd",
        "reserved_usd",
        "remaining_usd",
        "window_start",
        "next_reset",
    ]);
    for s in policy.budget_status(now) {
        let each = s.value == "*";
        let usd = |m: Money| {
            if each {
                "-".to_string()
            } else {
                m.usd_string()
            }
        };
        rows.push([
            s.name,
            format!("{}:{}", s.kind, s.value),
            s.mode,
            s.window.as_str().to_string(),
            s.limit.usd_string(),
            usd(s.spent),
            // Reservations live in the running gateway's memory only.
            "n/a".to_string(),
            usd(s.remaining),
            s.window_start.unwrap_or_else(|| "-".into()),
            s.next_reset.unwrap_or_else(|| "never".into()),
        ]);
    }
    rows.print(a.format)?;
    if a.format == Format::Table {
        eprintln!(
            "spent = settled cost in the current window from the ledger; in-flight reservations \
             live in the running gateway: `jevons budgets list --gateway URL` shows them."
        );
    }
    Ok(())
}

fn mode_text(m: &BudgetMode) -> String {
    match m {
        BudgetMode::Hard => "hard".into(),
        BudgetMode::Soft(SoftAction::Warn) => "soft, warn".into(),
        BudgetMode::Soft(SoftAction::Degrade { model }) => format!("soft, degrade to {model}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(scope: &str, limit: &str, window: &str) -> SetArgs {
        SetArgs {
            name: "b".into(),
            scope: scope.into(),
            limit: limit.into(),
            window: window.into(),
            soft_degrade: None,
            soft_warn: false,
            db: DbArg { db: None },
            live: live::GatewayArg::default(),
        }
    }

    #[test]
    fn list_with_config_uses_its_budgets_and_time_zone() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("l.sqlite");
        let cfg = dir.path().join("jevons.toml");
        let text = format!(
            "[ledger]\npath = {:?}\n\n[[providers]]\nname = \"openai\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9\"\nmodels = [\"gpt-4o\"]\n\n[policy]\ntime_zone = \"Europe/Paris\"\n[[policy.budgets]]\nname = \"cfg\"\nscope = \"team:search\"\nlimit_usd = \"5\"\nwindow = \"day\"\n",
            db.display().to_string()
        );
        std::fs::write(&cfg, text).unwrap();
        let stored =
            serde_json::to_string(&spec_from(&args("key:*", "1", "day")).unwrap()).unwrap();
        AdminStore::open(&db)
            .unwrap()
            .put_budget("b", &stored, 0)
            .unwrap();
        let mut a = ListArgs {
            time_zone: None,
            config: Some(cfg),
            format: Format::Table,
            live: live::GatewayArg::default(),
            db: DbArg { db: None },
        };
        let (p, path) = offline_policy(&a).unwrap();
        assert_eq!(path, db, "the config's ledger file");
        let pc = p.config();
        assert_eq!(pc.time_zone, "Europe/Paris");
        let names: Vec<&str> = pc.budgets.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["cfg", "b"]);
        a.time_zone = Some("UTC".into());
        assert_eq!(offline_policy(&a).unwrap().0.config().time_zone, "UTC");
    }

    #[test]
    fn the_admin_token_comes_from_the_flag_first() {
        let g = live::GatewayArg {
            gateway: Some("http://x".into()),
            admin_token: Some("flag".into()),
        };
        assert_eq!(g.token().unwrap(), "flag");
    }

    #[test]
    fn validates_set_arguments() {
        let s = spec_from(&args("team:search", "$100.50", "month")).unwrap();
        assert_eq!(s.limit(), Money::parse_usd("100.5").unwrap());
        assert!(spec_from(&args("galaxy:x", "1", "day")).is_err());
        assert!(spec_from(&args("team:x", "lots", "day"))
            .unwrap_err()
            .to_string()
            .contains("--limit"));
        assert!(spec_from(&args("team:x", "1", "fortnight"))
            .unwrap_err()
            .to_string()
            .contains("--window"));
        assert!(spec_from(&args("team:x", "-1", "day")).is_err());
    }
}
