//! `maxmemory` eviction, as Redis's evict.c: before a command that may grow memory runs,
//! keys are evicted until used memory is back under the limit, chosen by
//! `maxmemory-policy` from `maxmemory-samples` random keys per database, kept in a pool
//! of the best candidates seen so far (approximated LRU/LFU/TTL). Evictions are
//! propagated as DEL in the replication stream; followers never evict on their own.

use super::{Key, NUM_DBS, Store, WriteTxn};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

/// `maxmemory` in bytes (0: no limit).
pub static MAXMEMORY: AtomicU64 = AtomicU64::new(0);
/// `maxmemory-policy` as a [`Policy`] discriminant.
pub static POLICY: AtomicU8 = AtomicU8::new(Policy::NoEviction as u8);
/// `maxmemory-samples`.
pub static SAMPLES: AtomicU32 = AtomicU32::new(5);
/// `maxmemory-eviction-tenacity` (0..=100).
pub static TENACITY: AtomicU32 = AtomicU32::new(10);

/// Candidates kept between evictions (Redis's EVPOOL_SIZE).
const POOL_SIZE: usize = 16;
/// Used memory is re-read from the allocator at most this often while under the limit.
const GAUGE_REFRESH_MS: u64 = 1;

/// The eviction policies, by their config names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Policy {
    /// Refuse writes (-OOM) instead of evicting.
    NoEviction,
    /// Least recently used among all keys.
    AllkeysLru,
    /// Least frequently used among all keys.
    AllkeysLfu,
    /// Any key.
    AllkeysRandom,
    /// Least recently used among keys with a TTL.
    VolatileLru,
    /// Least frequently used among keys with a TTL.
    VolatileLfu,
    /// Any key with a TTL.
    VolatileRandom,
    /// The key with the nearest expiry.
    VolatileTtl,
}

impl Policy {
    /// Parses a `maxmemory-policy` value.
    pub fn parse(s: &str) -> Option<Policy> {
        Some(match s {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllkeysLru,
            "allkeys-lfu" => Policy::AllkeysLfu,
            "allkeys-random" => Policy::AllkeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    fn current() -> Policy {
        match POLICY.load(Ordering::Relaxed) {
            1 => Policy::AllkeysLru,
            2 => Policy::AllkeysLfu,
            3 => Policy::AllkeysRandom,
            4 => Policy::VolatileLru,
            5 => Policy::VolatileLfu,
            6 => Policy::VolatileRandom,
            7 => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllkeysRandom | Policy::VolatileRandom)
    }
}

/// Used memory as eviction sees it: jemalloc's allocated bytes. Reading merges
/// per-arena statistics, too slow for every write, so the value is cached and re-read
/// after a millisecond, or, when it is within 5% of the limit, after 16 writes (so a
/// pipelined burst cannot overshoot by more than a few values).
#[derive(Default)]
pub struct MemoryGauge {
    value: AtomicU64,
    read_at_ms: AtomicU64,
    writes_since: AtomicU32,
}

impl MemoryGauge {
    /// Allocated bytes, fresh when `force` or when the cached value is stale for `max`.
    pub fn used_for(&self, max: u64, force: bool) -> u64 {
        let writes = self.writes_since.fetch_add(1, Ordering::Relaxed);
        let cached = self.value.load(Ordering::Relaxed);
        let near = cached.saturating_mul(20) >= max.saturating_mul(19);
        if near && writes >= 16 {
            return self.used(true);
        }
        self.used(force)
    }

    /// Allocated bytes, fresh when `force` or after a millisecond.
    pub fn used(&self, force: bool) -> u64 {
        let now = super::now_ms();
        if force || now.saturating_sub(self.read_at_ms.load(Ordering::Relaxed)) >= GAUGE_REFRESH_MS
        {
            self.writes_since.store(0, Ordering::Relaxed);
            use tikv_jemalloc_ctl::{epoch, stats};
            let _ = epoch::advance();
            let v = stats::allocated::read().unwrap_or(0) as u64;
            self.value.store(v, Ordering::Relaxed);
            self.read_at_ms.store(now, Ordering::Relaxed);
            return v;
        }
        self.value.load(Ordering::Relaxed)
    }
}

/// A key worth evicting: a higher score is a better candidate.
#[derive(Debug, Clone)]
struct Candidate {
    score: u64,
    db: usize,
    key: Key,
}

/// Eviction state kept in the store: the memory gauge and the candidate pool.
#[derive(Default)]
pub struct Evictor {
    /// Used memory.
    pub gauge: MemoryGauge,
    pool: Mutex<Vec<Candidate>>,
    /// Database the random policies take their next key from (round robin).
    next_db: AtomicU32,
}

/// Under `maxmemory`, or made so by evicting (false: over the limit and nothing left
/// to evict, or `noeviction`: the command gets -OOM).
pub fn make_room(txn: &mut WriteTxn<'_>) -> bool {
    let max = MAXMEMORY.load(Ordering::Relaxed);
    if max == 0 || txn.store.follower_mode() {
        return true;
    }
    let ev = &txn.store.evictor;
    if ev.gauge.used_for(max, false) <= max {
        return true;
    }
    let policy = Policy::current();
    if policy == Policy::NoEviction {
        return ev.gauge.used(true) <= max;
    }
    // Bounded work per command (tenacity 10 is about 500 us, as Redis scales it).
    let tenacity = TENACITY.load(Ordering::Relaxed).min(100) as u64;
    let budget_us = if tenacity >= 100 {
        u64::MAX
    } else {
        (500f64 * 1.15f64.powi(tenacity as i32 - 10)) as u64
    };
    let started = std::time::Instant::now();
    let mut evicted = 0usize;
    loop {
        let Some(victim) = pick(txn.store, policy) else {
            // Nothing evictable: writes fail until memory is freed.
            return ev.gauge.used(true) <= max;
        };
        let (db, key) = victim;
        if txn.evict_key(db, &key) {
            evicted += 1;
        }
        // Re-read memory every 16 evictions, as Redis does.
        if evicted.is_multiple_of(16) && ev.gauge.used(true) <= max {
            return true;
        }
        if started.elapsed().as_micros() as u64 > budget_us {
            // Over budget: let the command run; the next write continues evicting.
            return true;
        }
    }
}

/// The next key to evict under `policy`.
fn pick(store: &Store, policy: Policy) -> Option<(usize, Key)> {
    let samples = SAMPLES.load(Ordering::Relaxed).clamp(1, 64) as usize;
    let mut rng = rand::rng();
    if policy.random() {
        for _ in 0..NUM_DBS {
            let db = store.evictor.next_db.fetch_add(1, Ordering::Relaxed) as usize % NUM_DBS;
            let d = store.db(db);
            let key = if policy.volatile() {
                d.volatile
                    .lock()
                    .sample(&mut rng)
                    .map(|k| Key::from_slice(&k))
            } else {
                store.sample_keys(db, 1, &mut rng).into_iter().next()
            };
            if let Some(k) = key {
                return Some((db, k));
            }
        }
        return None;
    }
    let ev = &store.evictor;
    let mut pool = ev.pool.lock();
    for db in 0..NUM_DBS {
        let d = store.db(db);
        if d.map.is_empty() {
            continue;
        }
        let keys: Vec<Key> = if policy.volatile() {
            let v = d.volatile.lock();
            (0..samples)
                .filter_map(|_| v.sample(&mut rng).map(|k| Key::from_slice(&k)))
                .collect()
        } else {
            store.sample_keys(db, samples, &mut rng)
        };
        for key in keys {
            let Some(e) = d.map.get(&key[..]) else {
                continue;
            };
            let score = match policy {
                Policy::AllkeysLfu | Policy::VolatileLfu => 255 - e.frequency().min(255) as u64,
                Policy::VolatileTtl => u64::MAX - e.expire_at,
                _ => e.idle_ms(),
            };
            drop(e);
            if pool.iter().any(|c| c.db == db && c.key == key) {
                continue;
            }
            if pool.len() < POOL_SIZE || pool.first().is_some_and(|c| c.score < score) {
                if pool.len() == POOL_SIZE {
                    pool.remove(0);
                }
                let at = pool.partition_point(|c| c.score < score);
                pool.insert(at, Candidate { score, db, key });
            }
        }
    }
    // Best first; a candidate whose key is gone (deleted meanwhile) is skipped.
    while let Some(c) = pool.pop() {
        if store.db(c.db).map.contains_key(&c.key[..]) {
            return Some((c.db, c.key));
        }
    }
    None
}

/// Forgets pooled candidates (FLUSHALL, policy change).
pub fn clear_pool(store: &Store) {
    store.evictor.pool.lock().clear();
}
