//! Policy configuration as written in TOML (`[policy]` in `jevons.toml`, or standalone):
//! budgets, rate limits, task caps, output caps and the time zone for calendar windows.
//! Unknown fields are refused; [`PolicyConfig::validate`] reports every problem at once,
//! each naming its field.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono_tz::Tz;
use jevons_core::Money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigIssue, PolicyError};
use crate::scope::Scope;
use crate::serde_text::{duration_opt, usd, usd_opt};
use crate::window::Window;

/// The whole policy section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// IANA time zone for calendar windows (e.g. `Europe/Paris`); default `UTC`.
    pub time_zone: String,
    /// Budgets (`[[budgets]]`).
    pub budgets: Vec<BudgetSpec>,
    /// Rate limits (`[[rate_limits]]`).
    pub rate_limits: Vec<RateLimitSpec>,
    /// Agent task caps (`[task_caps.default]`, `[task_caps.per_key.ID]`, `[task_caps.per_team.NAME]`).
    pub task_caps: TaskCapsConfig,
    /// Output-token caps used to size reservations (`[output_caps]`).
    pub output_caps: OutputCaps,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            time_zone: "UTC".into(),
            budgets: Vec::new(),
            rate_limits: Vec::new(),
            task_caps: TaskCapsConfig::default(),
            output_caps: OutputCaps::default(),
        }
    }
}

/// Hard budgets refuse; soft budgets degrade or warn.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BudgetMode {
    /// Never exceeded: requests that cannot be paid for are clamped or refused (402).
    Hard,
    /// Past the limit, the request still goes through with this action.
    Soft(SoftAction),
}

/// What a soft budget does past its limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SoftAction {
    /// Add an `x-jevons-budget-warning` header.
    Warn,
    /// Switch the request to this (cheaper) model.
    Degrade {
        /// Public model name to route to instead.
        model: String,
    },
}

/// One budget. TOML:
/// `{ name = "search", scope = "team:search", limit_usd = "100", window = "month",
///    mode = "soft", degrade_to = "gpt-4o-mini" }` (`mode` defaults to `hard`; a soft
/// budget without `degrade_to` warns).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawBudgetSpec", into = "RawBudgetSpec")]
pub struct BudgetSpec {
    /// Unique name.
    pub name: String,
    /// Where it applies; `kind:*` gives every value its own budget.
    pub scope: Scope,
    /// Limit in USD per window (exact decimal).
    pub limit_usd: Decimal,
    /// Accumulation window.
    pub window: Window,
    /// Hard or soft.
    pub mode: BudgetMode,
}

impl BudgetSpec {
    /// The limit as exact money (fails only for absurd amounts; `validate` reports it).
    pub fn limit(&self) -> Money {
        Money::from_usd(self.limit_usd).unwrap_or(Money::MAX)
    }

    /// True for a hard budget.
    pub fn is_hard(&self) -> bool {
        self.mode == BudgetMode::Hard
    }

    /// Field-level problems, with `path` (e.g. `budgets[2]`) as prefix.
    pub fn issues(&self, path: &str) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        let mut bad = |f: &str, m: String| {
            v.push(ConfigIssue {
                field: format!("{path}.{f}"),
                message: m,
            })
        };
        if self.name.trim().is_empty() || self.name.chars().any(char::is_control) {
            bad("name", "must be a non-empty printable name".into());
        }
        if self.limit_usd.is_sign_negative() {
            bad(
                "limit_usd",
                format!("{} is negative; write an amount ≥ 0", self.limit_usd),
            );
        } else if Money::from_usd(self.limit_usd).is_err() {
            bad(
                "limit_usd",
                format!("{} is too large (max 9,223,372 USD)", self.limit_usd),
            );
        }
        if let BudgetMode::Soft(SoftAction::Degrade { model }) = &self.mode {
            if model.trim().is_empty() {
                bad("degrade_to", "must name a model".into());
            }
        }
        v
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudgetSpec {
    name: String,
    scope: Scope,
    #[serde(with = "usd")]
    limit_usd: Decimal,
    window: Window,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    degrade_to: Option<String>,
}

impl TryFrom<RawBudgetSpec> for BudgetSpec {
    type Error = String;
    fn try_from(r: RawBudgetSpec) -> Result<Self, String> {
        let mode = match (r.mode.as_deref().map(str::trim), r.degrade_to) {
            (None | Some("hard"), None) => BudgetMode::Hard,
            (None | Some("hard"), Some(m)) => {
                return Err(format!(
                    "budget '{}': degrade_to = \"{m}\" needs mode = \"soft\"",
                    r.name
                ))
            }
            (Some("soft"), None) => BudgetMode::Soft(SoftAction::Warn),
            (Some("soft"), Some(model)) => BudgetMode::Soft(SoftAction::Degrade { model }),
            (Some(other), _) => {
                return Err(format!(
                    "budget '{}': mode = \"{other}\" is unknown; write \"hard\" or \"soft\"",
                    r.name
                ))
            }
        };
        Ok(BudgetSpec {
            name: r.name,
            scope: r.scope,
            limit_usd: r.limit_usd,
            window: r.window,
            mode,
        })
    }
}

impl From<BudgetSpec> for RawBudgetSpec {
    fn from(b: BudgetSpec) -> Self {
        let (mode, degrade_to) = match b.mode {
            BudgetMode::Hard => ("hard", None),
            BudgetMode::Soft(SoftAction::Warn) => ("soft", None),
            BudgetMode::Soft(SoftAction::Degrade { model }) => ("soft", Some(model)),
        };
        RawBudgetSpec {
            name: b.name,
            scope: b.scope,
            limit_usd: b.limit_usd,
            window: b.window,
            mode: Some(mode.into()),
            degrade_to,
        }
    }
}

/// Rate limits for one scope (`kind:*` = per value). Every field is optional; GCRA with a
/// burst equal to the per-period amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    /// Where it applies.
    pub scope: Scope,
    /// Requests per minute.
    #[serde(default)]
    pub requests_per_minute: Option<u64>,
    /// Requests per hour.
    #[serde(default)]
    pub requests_per_hour: Option<u64>,
    /// Tokens (input bound + reserved output) per minute.
    #[serde(default)]
    pub tokens_per_minute: Option<u64>,
    /// Tokens per hour.
    #[serde(default)]
    pub tokens_per_hour: Option<u64>,
    /// USD per minute (exact decimal).
    #[serde(default, with = "usd_opt")]
    pub usd_per_minute: Option<Decimal>,
    /// USD per hour.
    #[serde(default, with = "usd_opt")]
    pub usd_per_hour: Option<Decimal>,
    /// Requests in flight at once.
    #[serde(default)]
    pub max_concurrent: Option<u32>,
}

impl RateLimitSpec {
    fn issues(&self, path: &str) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        let zero = |f: &str| ConfigIssue {
            field: format!("{path}.{f}"),
            message: "must be at least 1 (omit the field for no limit)".into(),
        };
        let counts = [
            ("requests_per_minute", self.requests_per_minute),
            ("requests_per_hour", self.requests_per_hour),
            ("tokens_per_minute", self.tokens_per_minute),
            ("tokens_per_hour", self.tokens_per_hour),
            ("max_concurrent", self.max_concurrent.map(u64::from)),
        ];
        for (f, x) in counts {
            if x == Some(0) {
                v.push(zero(f));
            }
        }
        for (f, x) in [
            ("usd_per_minute", self.usd_per_minute),
            ("usd_per_hour", self.usd_per_hour),
        ] {
            if let Some(d) = x {
                match Money::from_usd(d) {
                    Ok(m) if m.pico() > 0 => {}
                    _ => v.push(ConfigIssue {
                        field: format!("{path}.{f}"),
                        message: format!("{d} must be a positive USD amount below 9,223,372"),
                    }),
                }
            }
        }
        if counts.iter().all(|(_, x)| x.is_none())
            && self.usd_per_minute.is_none()
            && self.usd_per_hour.is_none()
        {
            v.push(ConfigIssue {
                field: path.to_string(),
                message: "sets no limit; add e.g. requests_per_minute = 600".into(),
            });
        }
        v
    }
}

/// Caps for one agent task (`x-jevons-task`). A missing field inherits (per-key/team →
/// default); `0` switches a cap off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskCaps {
    /// Calls per task.
    pub max_calls: Option<u64>,
    /// Depth of the parent chain (a task without parent has depth 0).
    pub max_depth: Option<u32>,
    /// Dollars per task (settled + reserved), exact decimal.
    #[serde(with = "usd_opt")]
    pub max_usd: Option<Decimal>,
    /// Retries of an identical request (same request hash) within the task: the first
    /// call plus this many repeats are admitted.
    pub max_identical_retries: Option<u32>,
    /// Loop detection: at most N identical calls within `loop_window`; the N+1-th is
    /// refused with `loop_detected`.
    pub loop_threshold: Option<u32>,
    /// Window for loop detection, e.g. `"60s"`.
    #[serde(with = "duration_opt")]
    pub loop_window: Option<Duration>,
    /// Time since the task's first call after which calls are refused, e.g. `"30m"`.
    #[serde(with = "duration_opt")]
    pub max_wall_time: Option<Duration>,
}

impl TaskCaps {
    /// Fields of `over` win where set.
    pub fn merged(&self, over: &TaskCaps) -> TaskCaps {
        TaskCaps {
            max_calls: over.max_calls.or(self.max_calls),
            max_depth: over.max_depth.or(self.max_depth),
            max_usd: over.max_usd.or(self.max_usd),
            max_identical_retries: over.max_identical_retries.or(self.max_identical_retries),
            loop_threshold: over.loop_threshold.or(self.loop_threshold),
            loop_window: over.loop_window.or(self.loop_window),
            max_wall_time: over.max_wall_time.or(self.max_wall_time),
        }
    }

    fn issues(&self, path: &str) -> Vec<ConfigIssue> {
        let mut v = Vec::new();
        if let Some(d) = self.max_usd {
            if d.is_sign_negative() || Money::from_usd(d).is_err() {
                v.push(ConfigIssue {
                    field: format!("{path}.max_usd"),
                    message: format!("{d} must be a USD amount ≥ 0 (0 = no cap)"),
                });
            }
        }
        if self.loop_threshold.is_some_and(|n| n > 0) && self.loop_window == Some(Duration::ZERO) {
            v.push(ConfigIssue {
                field: format!("{path}.loop_window"),
                message: "must be longer than 0s, e.g. \"60s\"".into(),
            });
        }
        v
    }
}

/// Task caps: defaults, overridden per key, then per team (key wins over team).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaskCapsConfig {
    /// Applies to every task. Built in: loop detection at 10 identical calls per 60 s;
    /// fields written here override the built-in ones, the others keep them.
    #[serde(default = "builtin_task_caps", deserialize_with = "over_builtin")]
    pub default: TaskCaps,
    /// Overrides by key id.
    pub per_key: BTreeMap<String, TaskCaps>,
    /// Overrides by team.
    pub per_team: BTreeMap<String, TaskCaps>,
}

fn builtin_task_caps() -> TaskCaps {
    TaskCaps {
        loop_threshold: Some(10),
        loop_window: Some(Duration::from_secs(60)),
        ..TaskCaps::default()
    }
}

fn over_builtin<'de, D: serde::Deserializer<'de>>(d: D) -> Result<TaskCaps, D::Error> {
    Ok(builtin_task_caps().merged(&TaskCaps::deserialize(d)?))
}

impl Default for TaskCapsConfig {
    fn default() -> Self {
        TaskCapsConfig {
            default: builtin_task_caps(),
            per_key: BTreeMap::new(),
            per_team: BTreeMap::new(),
        }
    }
}

impl TaskCapsConfig {
    /// The caps in force for a key in a team.
    pub fn resolve(&self, key_id: &str, team: &str) -> TaskCaps {
        let mut caps = self.default.clone();
        if let Some(t) = self.per_team.get(team) {
            caps = caps.merged(t);
        }
        if let Some(k) = self.per_key.get(key_id) {
            caps = caps.merged(k);
        }
        caps
    }
}

/// How many output tokens a request reserves when the client sets no (or a larger)
/// `max_tokens`: a configured per-model cap, else one learned from that model+key's recent
/// outputs, else the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputCaps {
    /// Cap when nothing is configured or learned yet (default 4096).
    pub default_max_output_tokens: u64,
    /// Configured caps by public model name (win over learning).
    pub per_model: BTreeMap<String, u64>,
    /// Smallest output a clamped request may get; below it the request is refused (default 16).
    pub min_output_tokens: u64,
    /// Learn caps from observed output lengths (default true).
    pub learn: bool,
    /// Quantile of recent outputs used as the learned cap, in percent (default 99).
    pub learn_quantile_pct: u8,
    /// Headroom over that quantile, in percent (default 125 = +25%).
    pub learn_headroom_pct: u32,
    /// Samples needed before the learned cap is used (default 32).
    pub learn_min_samples: u32,
    /// Ceiling for learned caps (default 32768).
    pub max_learned_output_tokens: u64,
}

impl Default for OutputCaps {
    fn default() -> Self {
        OutputCaps {
            default_max_output_tokens: 4096,
            per_model: BTreeMap::new(),
            min_output_tokens: 16,
            learn: true,
            learn_quantile_pct: 99,
            learn_headroom_pct: 125,
            learn_min_samples: 32,
            max_learned_output_tokens: 32768,
        }
    }
}

impl PolicyConfig {
    /// Parses TOML text (the policy section itself) and validates it.
    pub fn from_toml_str(text: &str) -> Result<PolicyConfig, PolicyError> {
        let cfg: PolicyConfig =
            toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The configured time zone (call `validate` first; falls back to UTC).
    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(Tz::UTC)
    }

    /// Checks every field; returns all problems at once.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut v = Vec::new();
        if self.time_zone.parse::<Tz>().is_err() {
            v.push(ConfigIssue {
                field: "time_zone".into(),
                message: format!(
                    "'{}' is not an IANA time zone; write e.g. \"UTC\" or \"Europe/Paris\"",
                    self.time_zone
                ),
            });
        }
        let mut seen = std::collections::HashSet::new();
        for (i, b) in self.budgets.iter().enumerate() {
            let path = format!("budgets[{i}]");
            v.extend(b.issues(&path));
            if !seen.insert(b.name.as_str()) {
                v.push(ConfigIssue {
                    field: format!("{path}.name"),
                    message: format!(
                        "'{}' is used by an earlier budget; names must be unique",
                        b.name
                    ),
                });
            }
        }
        for (i, r) in self.rate_limits.iter().enumerate() {
            v.extend(r.issues(&format!("rate_limits[{i}]")));
        }
        v.extend(self.task_caps.default.issues("task_caps.default"));
        for (k, c) in &self.task_caps.per_key {
            v.extend(c.issues(&format!("task_caps.per_key.{k}")));
        }
        for (t, c) in &self.task_caps.per_team {
            v.extend(c.issues(&format!("task_caps.per_team.{t}")));
        }
        let oc = &self.output_caps;
        if oc.default_max_output_tokens == 0 {
            v.push(ConfigIssue {
                field: "output_caps.default_max_output_tokens".into(),
                message: "must be at least 1, e.g. 4096".into(),
            });
        }
        for (m, cap) in &oc.per_model {
            if *cap == 0 {
                v.push(ConfigIssue {
                    field: format!("output_caps.per_model.{m}"),
                    message: "must be at least 1".into(),
                });
            }
        }
        if oc.learn_quantile_pct == 0 || oc.learn_quantile_pct > 100 {
            v.push(ConfigIssue {
                field: "output_caps.learn_quantile_pct".into(),
                message: format!("{} must be within 1..=100", oc.learn_quantile_pct),
            });
        }
        if oc.learn_headroom_pct < 100 {
            v.push(ConfigIssue {
                field: "output_caps.learn_headroom_pct".into(),
                message: format!(
                    "{} must be ≥ 100 (100 = no headroom)",
                    oc.learn_headroom_pct
                ),
            });
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(PolicyError::Invalid(v))
        }
    }
}
