//! Output caps: how many output tokens a request reserves when the client asks for none
//! (or for more). A configured per-model cap wins; else a cap learned from the recent
//! output lengths of that model and key (a high quantile plus headroom); else the default.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hashbrown::HashTable;
use parking_lot::{Mutex, RwLock};

use crate::config::OutputCaps;

/// Recent output lengths kept per model + key.
const RING: usize = 256;
/// The learned cap is recomputed after this many new samples.
const RECOMPUTE_EVERY: u32 = 16;

/// Samples of one model + key.
#[derive(Debug)]
pub struct Samples {
    ring: Vec<u32>,
    pos: usize,
    total: u64,
    since: u32,
    cap: Option<u64>,
    /// Scratch copy of `ring` for the quantile (kept to avoid an allocation each time).
    scratch: Vec<u32>,
}

impl Samples {
    fn new() -> Self {
        Samples {
            ring: Vec::with_capacity(RING),
            pos: 0,
            total: 0,
            since: 0,
            cap: None,
            scratch: Vec::new(),
        }
    }

    fn record(&mut self, tokens: u64, cfg: &OutputCaps) {
        let t = u32::try_from(tokens).unwrap_or(u32::MAX);
        if self.ring.len() < RING {
            self.ring.push(t);
        } else {
            self.ring[self.pos] = t;
        }
        self.pos = (self.pos + 1) % RING;
        self.total += 1;
        self.since += 1;
        if self.total >= u64::from(cfg.learn_min_samples)
            && (self.cap.is_none() || self.since >= RECOMPUTE_EVERY)
        {
            self.since = 0;
            let n = self.ring.len();
            let idx = (n * usize::from(cfg.learn_quantile_pct))
                .div_ceil(100)
                .clamp(1, n)
                - 1;
            let q = u64::from(nth_smallest(&self.ring, idx, &mut self.scratch));
            let with_headroom = q
                .saturating_mul(u64::from(cfg.learn_headroom_pct))
                .div_ceil(100);
            self.cap = Some(with_headroom.clamp(1, cfg.max_learned_output_tokens.max(1)));
        }
    }
}

/// The `idx`-th smallest of `v` (0-based, as after a sort; `v` not empty, `idx < len`).
/// A high quantile is one of the few largest: kept in one pass; else a selection on a
/// copy in `scratch`.
fn nth_smallest(v: &[u32], idx: usize, scratch: &mut Vec<u32>) -> u32 {
    const FEW: usize = 8;
    let k = v.len() - idx; // it is the k-th largest
    if k <= FEW {
        // The k largest seen so far, in descending order.
        let mut top = [0u32; FEW];
        let mut have = 0;
        for &x in v {
            if have == k && x <= top[k - 1] {
                continue;
            }
            let mut j = have.min(k - 1);
            while j > 0 && top[j - 1] < x {
                top[j] = top[j - 1];
                j -= 1;
            }
            top[j] = x;
            have = (have + 1).min(k);
        }
        return top[k - 1];
    }
    scratch.clear();
    scratch.extend_from_slice(v);
    *scratch.select_nth_unstable(idx).1
}

/// One model + key: its learned cap (0 = none yet), readable without a lock, and samples.
#[derive(Debug)]
pub struct RouteCell {
    cap: AtomicU64,
    samples: Mutex<Samples>,
}

/// `(model, key id, cell)`.
type Route = (Box<str>, Box<str>, Arc<RouteCell>);

/// Learned caps for every model + key seen.
#[derive(Default)]
pub struct OutputLearner {
    hasher: ahash::RandomState,
    map: RwLock<HashTable<Route>>,
}

impl std::fmt::Debug for OutputLearner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutputLearner({} routes)", self.map.read().len())
    }
}

impl OutputLearner {
    /// The samples cell for `model` + `key_id`, created on first use.
    pub fn cell(&self, model: &str, key_id: &str) -> Arc<RouteCell> {
        let h = self.hasher.hash_one((model, key_id));
        let eq = |e: &Route| &*e.0 == model && &*e.1 == key_id;
        if let Some(e) = self.map.read().find(h, eq) {
            return Arc::clone(&e.2);
        }
        let mut g = self.map.write();
        if let Some(e) = g.find(h, eq) {
            return Arc::clone(&e.2);
        }
        let cell = Arc::new(RouteCell {
            cap: AtomicU64::new(0),
            samples: Mutex::new(Samples::new()),
        });
        let hasher = &self.hasher;
        g.insert_unique(h, (model.into(), key_id.into(), Arc::clone(&cell)), |e| {
            hasher.hash_one((&*e.0, &*e.1))
        });
        cell
    }

    /// The output cap for `model` given its samples cell.
    pub fn cap(cfg: &OutputCaps, model: &str, cell: Option<&RouteCell>) -> u64 {
        if let Some(c) = cfg.per_model.get(model) {
            return *c;
        }
        if cfg.learn {
            match cell.map(|c| c.cap.load(Ordering::Relaxed)) {
                Some(0) | None => {}
                Some(cap) => return cap,
            }
        }
        cfg.default_max_output_tokens
    }

    /// Records an observed output length.
    pub fn record(cfg: &OutputCaps, cell: &RouteCell, tokens: u64) {
        if cfg.learn {
            let mut g = cell.samples.lock();
            g.record(tokens, cfg);
            if let Some(cap) = g.cap {
                cell.cap.store(cap, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_smallest_is_the_sorted_element() {
        let mut scratch = Vec::new();
        let mut x = 0x9e37_79b9u32;
        for len in [1usize, 2, 3, 8, 9, 17, 256] {
            let v: Vec<u32> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x % 50 // repeats included
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            for (idx, want) in sorted.iter().enumerate() {
                assert_eq!(nth_smallest(&v, idx, &mut scratch), *want, "{v:?} {idx}");
            }
        }
    }

    #[test]
    fn learns_a_high_quantile_with_headroom() {
        let cfg = OutputCaps::default();
        let l = OutputLearner::default();
        let c = l.cell("m", "k");
        assert_eq!(
            OutputLearner::cap(&cfg, "m", Some(&c)),
            4096,
            "default until enough samples"
        );
        for i in 0..96u64 {
            OutputLearner::record(&cfg, &c, 400 + i); // 400..=495
        }
        // p99 of 96 samples is the 96th smallest... index ceil(96*0.99)-1 = 95 -> 495;
        // +25% = 618.75 -> 619.
        assert_eq!(OutputLearner::cap(&cfg, "m", Some(&c)), 619);
        let mut fixed = cfg.clone();
        fixed.per_model.insert("m".into(), 100);
        assert_eq!(OutputLearner::cap(&fixed, "m", Some(&c)), 100);
    }
}
