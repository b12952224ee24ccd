//! Routing strategies: how the deployments of one public model are ordered. Parsed from
//! config (`strategy = "cheapest"`) and from the `x-jevons-route` request header.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::RoutingError;

/// How to order the deployments of a model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Lowest blended price at the request's own input/output token estimate; ties by latency.
    #[default]
    Cheapest,
    /// Lowest EWMA latency (unobserved deployments first, to learn them).
    Fastest,
    /// Highest EWMA output tokens per second (unobserved first).
    Throughput,
    /// Configured `priority`, lowest number first; ties in config order.
    Priority,
    /// Random order proportional to `weight` (deterministic for a given seed).
    Weighted,
}

impl Strategy {
    /// All strategies, in documentation order.
    pub const ALL: [Strategy; 5] = [
        Strategy::Cheapest,
        Strategy::Fastest,
        Strategy::Throughput,
        Strategy::Priority,
        Strategy::Weighted,
    ];

    /// The lowercase name used in config, headers and the ledger.
    pub const fn as_str(self) -> &'static str {
        match self {
            Strategy::Cheapest => "cheapest",
            Strategy::Fastest => "fastest",
            Strategy::Throughput => "throughput",
            Strategy::Priority => "priority",
            Strategy::Weighted => "weighted",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = RoutingError;

    /// Case-insensitive; also accepts `latency` for fastest and `price` for cheapest.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let pick = |name: &str| t.eq_ignore_ascii_case(name);
        if pick("cheapest") || pick("price") {
            Ok(Strategy::Cheapest)
        } else if pick("fastest") || pick("latency") {
            Ok(Strategy::Fastest)
        } else if pick("throughput") {
            Ok(Strategy::Throughput)
        } else if pick("priority") || pick("order") {
            Ok(Strategy::Priority)
        } else if pick("weighted") {
            Ok(Strategy::Weighted)
        } else {
            Err(RoutingError::UnknownStrategy(t.chars().take(64).collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_values() {
        assert_eq!("Cheapest".parse::<Strategy>().unwrap(), Strategy::Cheapest);
        assert_eq!(" latency ".parse::<Strategy>().unwrap(), Strategy::Fastest);
        for s in Strategy::ALL {
            assert_eq!(s.as_str().parse::<Strategy>().unwrap(), s);
        }
        assert!(matches!(
            "random".parse::<Strategy>(),
            Err(RoutingError::UnknownStrategy(_))
        ));
    }
}
