//! [`Shards`]: the map from state key to cell, in 64 read-write-locked shards. A key is
//! hashed once (keyed ahash) and the same hash picks the shard and the bucket.

use std::sync::Arc;

use hashbrown::HashTable;
use parking_lot::RwLock;

use super::cell::{Cell, Kind};

const SHARDS: usize = 64;

type Table = HashTable<(Box<str>, Arc<Cell>)>;

pub(super) struct Shards {
    hasher: ahash::RandomState,
    maps: Vec<RwLock<Table>>,
}

impl std::fmt::Debug for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Shards({})",
            self.maps.iter().map(|m| m.read().len()).sum::<usize>()
        )
    }
}

impl Shards {
    pub(super) fn new() -> Self {
        Shards {
            hasher: ahash::RandomState::new(),
            maps: (0..SHARDS).map(|_| RwLock::new(HashTable::new())).collect(),
        }
    }

    fn locate(&self, key: &str) -> (u64, &RwLock<Table>) {
        let h = self.hasher.hash_one(key);
        (h, &self.maps[((h >> 32) as usize) % SHARDS])
    }

    pub(super) fn get(&self, key: &str) -> Option<Arc<Cell>> {
        let (h, shard) = self.locate(key);
        let g = shard.read();
        g.find(h, |e| &*e.0 == key).map(|e| Arc::clone(&e.1))
    }

    pub(super) fn get_or(&self, key: &str, make: impl FnOnce() -> Kind) -> Arc<Cell> {
        let (h, shard) = self.locate(key);
        if let Some(e) = shard.read().find(h, |e| &*e.0 == key) {
            return Arc::clone(&e.1);
        }
        let mut g = shard.write();
        if let Some(e) = g.find(h, |e| &*e.0 == key) {
            return Arc::clone(&e.1);
        }
        let cell = Arc::new(Cell(make()));
        let hasher = &self.hasher;
        g.insert_unique(h, (key.into(), Arc::clone(&cell)), |e| {
            hasher.hash_one(&*e.0)
        });
        cell
    }

    /// Keeps the cells `keep` says yes to; returns how many were removed. `keep` runs
    /// under the shard's write lock, so a cell it marks dead is gone from the map before
    /// anyone can look its key up again.
    pub(super) fn retain(&self, mut keep: impl FnMut(&str, &Cell) -> bool) -> usize {
        let mut removed = 0;
        for m in &self.maps {
            let mut g = m.write();
            let before = g.len();
            g.retain(|e| keep(&e.0, &e.1));
            removed += before - g.len();
        }
        removed
    }

    pub(super) fn scan(&self, prefix: &str) -> Vec<(String, Arc<Cell>)> {
        let mut out = Vec::new();
        for m in &self.maps {
            for (k, c) in m.read().iter() {
                if k.starts_with(prefix) {
                    out.push((k.to_string(), Arc::clone(c)));
                }
            }
        }
        out
    }
}
