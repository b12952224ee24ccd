//! Prompt-cache simulation: remembers hashes of long prompt prefixes (bounded, oldest
//! evicted first, with a TTL) so a repeated prefix reports cached tokens the next time.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

use super::profile::PromptCacheConfig;

/// A cacheable prefix: its hash and its length in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// Hash of everything up to the breakpoint (model included).
    pub hash: u64,
    /// Tokens up to the breakpoint.
    pub tokens: u32,
}

/// Result of looking prefixes up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheOutcome {
    /// Tokens read from the cache (longest remembered prefix).
    pub read: u32,
    /// Tokens newly written (longest prefix minus `read`), 0 if nothing new.
    pub written: u32,
}

/// The remembered prefixes of one provider.
pub struct PromptCache {
    cfg: PromptCacheConfig,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    expires: HashMap<u64, i64>,
    order: VecDeque<u64>,
}

impl PromptCache {
    /// An empty cache.
    pub fn new(cfg: PromptCacheConfig) -> Self {
        Self {
            cfg,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Minimum cacheable prefix length.
    pub fn min_tokens(&self) -> u32 {
        self.cfg.min_tokens
    }

    /// Looks up `prefixes` (shortest first), then remembers every eligible one.
    pub fn lookup_and_store(&self, prefixes: &[Prefix], now_ms: i64) -> CacheOutcome {
        if !self.cfg.enabled {
            return CacheOutcome::default();
        }
        let eligible = || prefixes.iter().filter(|p| p.tokens >= self.cfg.min_tokens);
        if eligible().next().is_none() {
            return CacheOutcome::default();
        }
        let ttl = i64::try_from(self.cfg.ttl_ms).unwrap_or(i64::MAX);
        let mut g = self.inner.lock();
        let read = eligible()
            .filter(|p| g.expires.get(&p.hash).is_some_and(|&e| e > now_ms))
            .map(|p| p.tokens)
            .max()
            .unwrap_or(0);
        let longest = eligible().map(|p| p.tokens).max().unwrap_or(0);
        for p in eligible() {
            let fresh = g
                .expires
                .insert(p.hash, now_ms.saturating_add(ttl))
                .is_none();
            if fresh {
                g.order.push_back(p.hash);
            }
        }
        while g.order.len() > self.cfg.max_entries {
            if let Some(old) = g.order.pop_front() {
                g.expires.remove(&old);
            }
        }
        CacheOutcome {
            read,
            written: longest.saturating_sub(read),
        }
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut g = self.inner.lock();
        g.expires.clear();
        g.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(max_entries: usize) -> PromptCache {
        PromptCache::new(PromptCacheConfig {
            max_entries,
            ..PromptCacheConfig::default()
        })
    }

    #[test]
    fn second_request_reads_what_the_first_wrote() {
        let c = cache(100);
        let p = [Prefix {
            hash: 1,
            tokens: 2000,
        }];
        assert_eq!(
            c.lookup_and_store(&p, 0),
            CacheOutcome {
                read: 0,
                written: 2000
            }
        );
        assert_eq!(
            c.lookup_and_store(&p, 1),
            CacheOutcome {
                read: 2000,
                written: 0
            }
        );
        let longer = [
            p[0],
            Prefix {
                hash: 2,
                tokens: 2600,
            },
        ];
        assert_eq!(
            c.lookup_and_store(&longer, 2),
            CacheOutcome {
                read: 2000,
                written: 600
            }
        );
    }

    #[test]
    fn short_prefixes_ttl_and_bound() {
        let c = cache(2);
        assert_eq!(
            c.lookup_and_store(
                &[Prefix {
                    hash: 9,
                    tokens: 100
                }],
                0
            ),
            CacheOutcome::default()
        );
        for h in 10..20 {
            c.lookup_and_store(
                &[Prefix {
                    hash: h,
                    tokens: 1500,
                }],
                0,
            );
        }
        assert_eq!(c.inner.lock().expires.len(), 2);
        assert_eq!(
            c.lookup_and_store(
                &[Prefix {
                    hash: 10,
                    tokens: 1500
                }],
                0
            )
            .read,
            0
        );
        let p = [Prefix {
            hash: 19,
            tokens: 1500,
        }];
        assert_eq!(
            c.lookup_and_store(&p, 300_001).read,
            0,
            "expired after the TTL"
        );
    }
}
