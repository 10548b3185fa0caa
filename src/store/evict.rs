//! `maxmemory` eviction, as Redis's evict.c: before a command that may grow memory runs,
//! keys are evicted until used memory is back under the limit, chosen by
//! `maxmemory-policy` from `maxmemory-samples` random keys per database, kept in a pool
//! of the best candidates seen so far (approximated LRU/LFU/TTL). Evictions are
//! propagated as DEL in the replication stream; followers never evict on their own.

use super::value::AccessMode;
use super::{Key, NUM_DBS, Store, WriteTxn};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};

/// The eviction settings, bound to this store (two servers in one process, as in the
/// fuzz harness, keep their own); `Server::apply_setting` writes them.
pub struct EvictionSettings {
    /// `maxmemory` in bytes (0: no limit).
    pub maxmemory: AtomicU64,
    /// `maxmemory-policy` as a [`Policy`] discriminant.
    pub policy: AtomicU8,
    /// `maxmemory-samples`.
    pub samples: AtomicU32,
    /// `maxmemory-eviction-tenacity` (0..=100).
    pub tenacity: AtomicU32,
    /// `replica-ignore-maxmemory` (default yes): a follower leaves eviction to its
    /// leader, whose DELs arrive in the stream, so the two cannot diverge.
    pub replica_ignore: AtomicBool,
    /// `lfu-log-factor`.
    pub lfu_log_factor: AtomicU32,
    /// `lfu-decay-time` in minutes.
    pub lfu_decay_time: AtomicU32,
}

impl Default for EvictionSettings {
    fn default() -> Self {
        EvictionSettings {
            maxmemory: AtomicU64::new(0),
            policy: AtomicU8::new(Policy::NoEviction as u8),
            samples: AtomicU32::new(5),
            tenacity: AtomicU32::new(10),
            replica_ignore: AtomicBool::new(true),
            lfu_log_factor: AtomicU32::new(10),
            lfu_decay_time: AtomicU32::new(1),
        }
    }
}

impl EvictionSettings {
    /// `maxmemory` in bytes (0: no limit).
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    /// What keys' access words hold under the current policy (read on every key access,
    /// so a policy change applies from the next one, as in Redis).
    pub fn access_mode(&self) -> AccessMode {
        match Policy::current(self) {
            Policy::AllkeysLfu | Policy::VolatileLfu => AccessMode::Lfu {
                log_factor: self.lfu_log_factor.load(Ordering::Relaxed),
                decay_minutes: self.lfu_decay_time.load(Ordering::Relaxed),
            },
            _ => AccessMode::Lru,
        }
    }

    /// Sets `maxmemory-policy` from its config name (unknown names are left out: the
    /// config table has already refused them).
    pub fn set_policy(&self, name: &str) {
        if let Some(p) = Policy::parse(name) {
            self.policy.store(p as u8, Ordering::Relaxed);
        }
    }
}

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

    fn current(settings: &EvictionSettings) -> Policy {
        match settings.policy.load(Ordering::Relaxed) {
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
/// after a millisecond, or, when it is within 5% of the limit, after 64 writes (so a
/// pipelined burst cannot overshoot by more than a few values), or at once after a large
/// allocation (`base::alloc`), so the command after a big write sees it.
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
        if near && writes >= 64 {
            return self.used(true);
        }
        self.used(force)
    }

    /// Lowers the cached value by an estimate of bytes just freed (an evicted key), so
    /// eviction can stop at the limit without re-reading the allocator after each key.
    pub fn credit(&self, bytes: u64) {
        let _ = self
            .value
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(bytes))
            });
    }

    /// The cached reading, or a fresh one after a large allocation: the read path's view.
    pub fn cached_or_fresh(&self) -> u64 {
        if crate::base::alloc::take_large_allocation() {
            return self.used(true);
        }
        self.value.load(Ordering::Relaxed)
    }

    /// Allocated bytes, fresh when `force` or after a millisecond (measured on the
    /// cached millisecond clock, not a system call per write).
    pub fn used(&self, force: bool) -> u64 {
        let now = super::value::lru_clock() as u64;
        let last = self.read_at_ms.load(Ordering::Relaxed);
        if force
            || (now as u32).wrapping_sub(last as u32) as u64 >= GAUGE_REFRESH_MS
            || crate::base::alloc::take_large_allocation()
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
    /// maxmemory, policy, samples, tenacity, replica-ignore-maxmemory.
    pub settings: EvictionSettings,
    /// Used memory.
    pub gauge: MemoryGauge,
    pool: Mutex<Vec<Candidate>>,
    /// Database the random policies take their next key from (round robin).
    next_db: AtomicU32,
    /// Databases holding keys, re-listed at most every 100 ms: asking a dashmap whether
    /// it is empty locks all of its shards, too slow for every eviction.
    nonempty: Mutex<(u64, Vec<usize>)>,
}

impl Evictor {
    fn nonempty_dbs(&self, store: &Store) -> Vec<usize> {
        let now = crate::base::now_ms();
        let mut cached = self.nonempty.lock();
        if now.saturating_sub(cached.0) >= 100 || cached.1.is_empty() {
            cached.1 = (0..NUM_DBS)
                .filter(|&db| !store.db(db).map.is_empty())
                .collect();
            cached.0 = now;
        }
        cached.1.clone()
    }
}

/// A read-only command should evict before it runs, as Redis evicts before every command:
/// a limit is set, a policy may evict, and the gauge is over the limit.
/// Reads only the cached gauge (and the large-allocation flag): nothing shared is
/// written on the read path.
pub fn needs_room(store: &super::Store) -> bool {
    let ev = &store.evictor;
    let max = ev.settings.maxmemory();
    max != 0
        && ev.gauge.cached_or_fresh() > max
        && Policy::current(&ev.settings) != Policy::NoEviction
}

/// Under `maxmemory`, or made so by evicting (false: over the limit and nothing left
/// to evict, or `noeviction`: the command gets -OOM).
pub fn make_room(txn: &mut WriteTxn<'_>) -> bool {
    let ev = &txn.store.evictor;
    let max = ev.settings.maxmemory();
    if max == 0
        || (txn.store.follower_mode() && ev.settings.replica_ignore.load(Ordering::Relaxed))
        || txn.store.changes_held()
    {
        return true;
    }
    if ev.gauge.used_for(max, false) <= max {
        return true;
    }
    let policy = Policy::current(&ev.settings);
    if policy == Policy::NoEviction {
        return ev.gauge.used(true) <= max;
    }
    // Bounded work per command (tenacity 10 is about 500 us, as Redis scales it).
    let tenacity = ev.settings.tenacity.load(Ordering::Relaxed).min(100) as u64;
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
        if let Some(freed) = txn.evict_key(db, &key) {
            evicted += 1;
            ev.gauge.credit(freed as u64);
        }
        // Stop at the limit by estimate; re-read the allocator every 64 evictions.
        let used = if evicted.is_multiple_of(64) {
            ev.gauge.used(true)
        } else {
            ev.gauge.used_for(max, false)
        };
        if used <= max {
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
    let samples = store
        .evictor
        .settings
        .samples
        .load(Ordering::Relaxed)
        .clamp(1, 64) as usize;
    let mut rng = rand::rng();
    let dbs = store.evictor.nonempty_dbs(store);
    if dbs.is_empty() {
        return None;
    }
    if policy.random() {
        for _ in 0..dbs.len() {
            let i = store.evictor.next_db.fetch_add(1, Ordering::Relaxed) as usize;
            let db = dbs[i % dbs.len()];
            let d = store.db(db);
            let key = if policy.volatile() {
                d.volatile
                    .lock()
                    .sample(&mut rng)
                    .map(|k| Key::from_slice(&k))
            } else {
                let mut picked = None;
                store.sample_entries(db, 1, &mut rng, |k, _| picked = Some(Key::from_slice(k)));
                picked
            };
            if let Some(k) = key {
                return Some((db, k));
            }
        }
        return None;
    }
    let ev = &store.evictor;
    let decay_minutes = ev.settings.lfu_decay_time.load(Ordering::Relaxed);
    let mut pool = ev.pool.lock();
    let score_of = |e: &super::Entry| match policy {
        Policy::AllkeysLfu | Policy::VolatileLfu => {
            255 - e.frequency(decay_minutes).min(255) as u64
        }
        Policy::VolatileTtl => u64::MAX - e.expire_at,
        _ => e.idle_ms(),
    };
    for &db in &dbs {
        let d = store.db(db);
        let mut found: Vec<(u64, Key)> = Vec::with_capacity(samples);
        if policy.volatile() {
            let keys: Vec<Key> = {
                let v = d.volatile.lock();
                (0..samples)
                    .filter_map(|_| v.sample(&mut rng).map(|k| Key::from_slice(&k)))
                    .collect()
            };
            for key in keys {
                if let Some(e) = d.get(&key) {
                    found.push((score_of(&e), key));
                }
            }
        } else {
            store.sample_entries(db, samples, &mut rng, |k, e| {
                found.push((score_of(e), Key::from_slice(k)))
            });
        }
        for (score, key) in found {
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
