//! Fault injection per provider: rules that fire by rate (seeded, deterministic per request
//! number), every Nth request, or inside a time window; set from the profile or at runtime
//! through `POST /_mock/faults`.

use serde::{Deserialize, Serialize};

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 429 with `Retry-After` (provider-shaped body).
    RateLimit,
    /// 500 server error.
    ServerError,
    /// 503 unavailable / overloaded.
    Unavailable,
    /// The connection is reset (`SO_LINGER` 0) when accepted, before anything is read or
    /// answered: what a refusing server looks like to an HTTP client.
    Refuse,
    /// No response until `timeout_ms` passes, then the connection is closed.
    Timeout,
    /// The body stops after `cut_after_chunks` chunks: no `[DONE]` / `message_stop`.
    StreamCut,
    /// 200 with a body that is not valid JSON (or a broken SSE data line).
    Malformed,
    /// Every chunk waits `drip_ms`.
    SlowDrip,
    /// The response carries no usage.
    MissingUsage,
}

/// One rule. The conditions given must all hold; a rule with none always fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// The fault.
    pub kind: FaultKind,
    /// Probability per request (0.0..=1.0), drawn from the seeded RNG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Fire on every Nth request (the Nth, 2Nth, ...; 1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// Window start, ms after the config took effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ms: Option<i64>,
    /// Window end (exclusive), ms after the config took effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<i64>,
}

/// A provider's fault configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// RNG seed for `rate` rules.
    #[serde(default)]
    pub seed: u64,
    /// Rules, first match wins.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
    /// `Retry-After` seconds on 429.
    #[serde(default = "one")]
    pub retry_after_s: u64,
    /// How long a `timeout` hangs, ms.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Chunks sent before a `stream_cut`.
    #[serde(default = "three")]
    pub cut_after_chunks: u32,
    /// Delay per chunk for `slow_drip`, ms.
    #[serde(default = "default_drip")]
    pub drip_ms: u64,
}

fn one() -> u64 {
    1
}
fn three() -> u32 {
    3
}
fn default_timeout() -> u64 {
    300_000
}
fn default_drip() -> u64 {
    500
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            rules: Vec::new(),
            retry_after_s: one(),
            timeout_ms: default_timeout(),
            cut_after_chunks: three(),
            drip_ms: default_drip(),
        }
    }
}

impl FaultConfig {
    /// A config with one rule that always fires.
    pub fn always(kind: FaultKind) -> Self {
        Self {
            rules: vec![FaultRule {
                kind,
                rate: None,
                every: None,
                from_ms: None,
                until_ms: None,
            }],
            ..Self::default()
        }
    }

    /// Validation problems, each naming the provider.
    pub fn problems(&self, provider: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if let Some(rate) = r.rate {
                if !(0.0..=1.0).contains(&rate) {
                    out.push(format!(
                        "provider '{provider}' faults.rules[{i}]: rate must be within 0.0..=1.0"
                    ));
                }
            }
            if r.every == Some(0) {
                out.push(format!(
                    "provider '{provider}' faults.rules[{i}]: every must be >= 1"
                ));
            }
        }
        out
    }

    /// The fault for request number `n` (1-based) arriving `elapsed_ms` after the config
    /// took effect, if any.
    pub fn decide(&self, n: u64, elapsed_ms: i64) -> Option<FaultKind> {
        self.rules.iter().enumerate().find_map(|(i, r)| {
            let in_window = r.from_ms.is_none_or(|f| elapsed_ms >= f)
                && r.until_ms.is_none_or(|u| elapsed_ms < u);
            let on_beat = r.every.is_none_or(|e| e > 0 && n.is_multiple_of(e));
            let rolled = r
                .rate
                .is_none_or(|p| unit_float(mix(self.seed, n, i as u64)) < p);
            (in_window && on_beat && rolled).then_some(r.kind)
        })
    }
}

/// SplitMix64-style mixing of three words (deterministic, no state, no lock).
pub(crate) fn mix(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a
        .wrapping_add(b.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(c.wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps a hash to [0, 1).
pub(crate) fn unit_float(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: FaultKind) -> FaultRule {
        FaultRule {
            kind,
            rate: None,
            every: None,
            from_ms: None,
            until_ms: None,
        }
    }

    #[test]
    fn every_nth_fires_on_multiples_only() {
        let mut c = FaultConfig::default();
        c.rules.push(FaultRule {
            every: Some(3),
            ..rule(FaultKind::ServerError)
        });
        let hits: Vec<u64> = (1..=9).filter(|n| c.decide(*n, 0).is_some()).collect();
        assert_eq!(hits, vec![3, 6, 9]);
    }

    #[test]
    fn window_bounds_are_half_open() {
        let mut c = FaultConfig::default();
        c.rules.push(FaultRule {
            from_ms: Some(100),
            until_ms: Some(200),
            ..rule(FaultKind::Unavailable)
        });
        assert_eq!(c.decide(1, 99), None);
        assert_eq!(c.decide(1, 100), Some(FaultKind::Unavailable));
        assert_eq!(c.decide(1, 200), None);
    }

    #[test]
    fn rate_is_roughly_honoured_and_deterministic() {
        let mut c = FaultConfig {
            seed: 42,
            ..FaultConfig::default()
        };
        c.rules.push(FaultRule {
            rate: Some(0.2),
            ..rule(FaultKind::RateLimit)
        });
        let hits = (1..=10_000).filter(|n| c.decide(*n, 0).is_some()).count();
        assert!((1_700..2_300).contains(&hits), "{hits}");
        let again = (1..=10_000).filter(|n| c.decide(*n, 0).is_some()).count();
        assert_eq!(hits, again);
    }

    #[test]
    fn first_matching_rule_wins_and_bad_values_are_reported() {
        let mut c = FaultConfig::always(FaultKind::Timeout);
        c.rules.push(rule(FaultKind::Refuse));
        assert_eq!(c.decide(5, 0), Some(FaultKind::Timeout));
        c.rules.push(FaultRule {
            rate: Some(1.5),
            every: Some(0),
            ..rule(FaultKind::Refuse)
        });
        assert_eq!(c.problems("p").len(), 2);
    }
}
