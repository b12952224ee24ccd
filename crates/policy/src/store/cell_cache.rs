//! A per-thread cache from the keys of a request's lines to their [`CellSet`], so the hot
//! path hashes one byte string and clones one `Arc` instead of taking a shard lock, a
//! hash and an `Arc` per line. An entry is only a shortcut: the cells it names are
//! checked under their own locks (a cell removed from the store is marked dead, and the
//! caller asks again with `fresh`), and the whole cache is dropped when the store's
//! generation moves (something was removed) or another store is used on the thread.

use std::cell::RefCell;
use std::sync::Arc;

use hashbrown::HashTable;

use super::cell::CellSet;

/// Most sets kept per thread; the cache starts over when full.
const MAX_SETS: usize = 4096;

struct Cache {
    store: u64,
    generation: u64,
    hasher: ahash::RandomState,
    sets: HashTable<(Box<[u8]>, Arc<CellSet>)>,
    /// Scratch: the lookup key (tag, then each line key with its length).
    key: Vec<u8>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache {
        store: 0,
        generation: 0,
        hasher: ahash::RandomState::new(),
        sets: HashTable::new(),
        key: Vec::new(),
    });
}

/// Which store (by id) and which generation of it the caller sees, and which map the
/// keys belong to (`tag`: budget and rate keys live in different maps).
#[derive(Debug, Clone, Copy)]
pub(super) struct Scope {
    pub(super) store: u64,
    pub(super) generation: u64,
    pub(super) tag: u8,
}

/// The cell set for `keys`: from the cache, or from `build` (then cached). With `fresh`
/// the cached entry is ignored and replaced (one of its cells was found dead).
pub(super) fn cell_set<'k>(
    scope: Scope,
    keys: impl Iterator<Item = &'k str>,
    fresh: bool,
    build: impl FnOnce() -> CellSet,
) -> Arc<CellSet> {
    CACHE.with(|c| {
        let Ok(mut c) = c.try_borrow_mut() else {
            return Arc::new(build());
        };
        let Cache {
            store,
            generation,
            hasher,
            sets,
            key,
        } = &mut *c;
        if *store != scope.store || *generation != scope.generation {
            sets.clear();
            *store = scope.store;
            *generation = scope.generation;
        }
        key.clear();
        key.push(scope.tag);
        for k in keys {
            key.extend_from_slice(&u32::try_from(k.len()).unwrap_or(u32::MAX).to_le_bytes());
            key.extend_from_slice(k.as_bytes());
        }
        let h = hasher.hash_one(&key[..]);
        let eq = |e: &(Box<[u8]>, Arc<CellSet>)| *e.0 == key[..];
        if let Ok(e) = sets.find_entry(h, eq) {
            if !fresh {
                return Arc::clone(&e.get().1);
            }
            e.remove();
        }
        let set = Arc::new(build());
        if sets.len() >= MAX_SETS {
            sets.clear();
        }
        sets.insert_unique(h, (key[..].into(), Arc::clone(&set)), |e| {
            hasher.hash_one(&e.0[..])
        });
        set
    })
}
