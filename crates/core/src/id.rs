//! Request ids: 128 bits, time-ordered (48-bit milliseconds + 80 random bits), printed as
//! 32 lowercase hex digits; cheap to make on the hot path.

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// A unique, time-ordered request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u128);

impl RequestId {
    /// A new id for a request arriving at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        let rnd: u128 = rand::thread_rng().gen::<u128>() & ((1u128 << 80) - 1);
        RequestId(((now_ms.max(0) as u128 & ((1u128 << 48) - 1)) << 80) | rnd)
    }

    /// Parses 32 hex digits.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() != 32 {
            return None;
        }
        u128::from_str_radix(s, 16).ok().map(RequestId)
    }

    /// Milliseconds since the epoch encoded in the id.
    pub fn timestamp_ms(&self) -> i64 {
        (self.0 >> 80) as i64
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_order() {
        let a = RequestId::new(1_000);
        let b = RequestId::new(2_000);
        assert!(a < b);
        assert_eq!(RequestId::parse(&a.to_string()), Some(a));
        assert_eq!(a.timestamp_ms(), 1_000);
        assert_eq!(RequestId::parse("xyz"), None);
    }
}
