//! The keyspace: 16 databases on dashmap, TTLs, and the write sequencer.
//!
//! Concurrency model (docs/ARCHITECTURE.md has the long form):
//! - Every write runs inside a [`WriteTxn`], which holds the exclusive side of the
//!   sequencer lock. Applying effects to the maps and appending them to the replication log
//!   therefore happen as one step relative to all other writes (invariant 1 in
//!   docs/ARCHITECTURE.md), and a multi-key write (MSET, RENAME, EXEC) is invisible until
//!   complete to anyone who also takes the sequencer (invariant 2).
//! - Reads that span several keys or the whole keyspace (MGET, KEYS, SCAN, DBSIZE, digests)
//!   take the shared side, so they never observe half of a write.
//! - Single-key reads (GET, TTL, ...) take only the dashmap shard lock: a single key is
//!   always updated atomically under that lock, so they need nothing more and stay parallel.

pub mod encoding;
pub mod evict;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod lazyfree;
pub mod node;
pub mod notify;
pub mod ordered;
pub mod set;
pub mod snapshot;
pub mod stream;
pub mod value;
pub mod volatile;
pub mod zset;

use crate::replication::ReplicationLog;
use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
pub use value::{Entry, Key, StrBytes, Value};
pub use volatile::VolatileSet;

/// Number of databases (`databases` is fixed at 16, Redis's default).
pub const NUM_DBS: usize = 16;

/// Shards per database map; a power of two, enough to keep SCAN's per-call work small.
pub const SHARDS: usize = 64;
/// How long a lock attempt waits before checking whether to give up (a script running).
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(1);

/// The map type of one database: each key is one [`node::Node`] (entry and key bytes in a
/// single allocation), so a table slot is a pointer; the map's value is empty.
pub type KeyMap = DashMap<node::Node, (), ahash::RandomState>;

pub use node::{EntryRef, EntryRefMulti, EntryRefMut};

/// One database: its keys and the index of keys carrying a TTL.
pub struct Db {
    /// Key -> entry.
    pub map: KeyMap,
    /// Keys with an expiry, for active expiry sampling and INFO `expires=`.
    pub volatile: Mutex<VolatileSet>,
}

impl Db {
    fn new() -> Self {
        Db {
            map: DashMap::with_capacity_and_hasher_and_shard_amount(
                0,
                ahash::RandomState::new(),
                SHARDS,
            ),
            volatile: Mutex::new(VolatileSet::default()),
        }
    }

    /// Read guard on `key`'s entry, expired or not.
    pub fn get(&self, key: &[u8]) -> Option<EntryRef<'_>> {
        self.map.get(key).map(node::EntryGuard)
    }

    /// Write guard on `key`'s entry; writers only (see [`WriteTxn::get_mut`]).
    fn get_mut(&self, key: &[u8]) -> Option<EntryRefMut<'_>> {
        self.map.get_mut(key).map(node::EntryGuard)
    }

    /// Removes `key`, returning its entry; writers only.
    fn remove(&self, key: &[u8]) -> Option<Entry> {
        self.map.remove(key).map(|(node, ())| node.into_entry())
    }

    /// Every entry of this database, one shard lock at a time (whole-keyspace reads run
    /// under the sequencer's shared side, so no write is half seen).
    pub fn entries(&self) -> impl Iterator<Item = EntryRefMulti<'_>> {
        self.map.iter().map(node::EntryGuard)
    }
}

/// State only touched by writers; guarded by the sequencer lock.
#[derive(Default)]
pub struct Sequencer {
    /// The ordered effect stream.
    pub log: ReplicationLog,
    /// Where new stream bytes go (follower links), in log order.
    pub subscribers: Vec<Arc<dyn StreamSubscriber>>,
}

/// Receives the replication stream: every byte appended to the log, in order, handed over
/// while the sequencer is still held so no two writers' bytes can swap places.
pub trait StreamSubscriber: Send + Sync {
    /// New stream bytes (copied by the subscriber: the log reuses its buffer).
    fn push(&self, bytes: &[u8]);
    /// True once the subscriber is gone (link closed): it is then dropped.
    fn closed(&self) -> bool;
}

/// Keyspace counters reported by INFO stats.
#[derive(Default)]
pub struct KeyStats {
    /// Keys removed because their TTL passed (lazily or actively).
    pub expired_keys: AtomicU64,
    /// Keys removed by maxmemory eviction.
    pub evicted_keys: AtomicU64,
    /// Lookups that found a key.
    pub hits: AtomicU64,
    /// Lookups that found nothing.
    pub misses: AtomicU64,
}

/// A watched key: (physical database, key).
type WatchedKey = (usize, Bytes);

/// One client's watch of one key.
struct Watcher {
    /// The client's dirty flag (shared by all its watches).
    flag: Arc<AtomicBool>,
    /// The key was already expired when watched: deleting it is no change (Redis 7's
    /// `watchedKey.expired`), recreating or replacing it is.
    stale: bool,
}

/// What a change does to one watch (see [`WatchRegistry::touch`]).
enum Touch {
    /// Not touched.
    Skip,
    /// Touched: the watching client's EXEC fails.
    Raise,
    /// A stale key went away: no change, and no longer stale.
    Forget,
    /// A missing key became an expired one (SWAPDB): no change, and now stale.
    MarkStale,
}

/// WATCHed keys -> the clients watching them, whose flags are set when the key changes.
#[derive(Default)]
pub struct WatchRegistry {
    count: AtomicUsize,
    keys: Mutex<HashMap<WatchedKey, Vec<Watcher>>>,
}

impl WatchRegistry {
    /// Registers `flag` to be raised when `key` in physical db `db` is modified; `stale`
    /// when the key is already expired.
    pub fn watch(&self, db: usize, key: Bytes, flag: Arc<AtomicBool>, stale: bool) {
        let mut keys = self.keys.lock();
        let list = keys.entry((db, key)).or_default();
        if !list.iter().any(|w| Arc::ptr_eq(&w.flag, &flag)) {
            list.push(Watcher { flag, stale });
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes every registration holding `flag` (UNWATCH, EXEC, disconnect).
    pub fn unwatch_all(&self, flag: &Arc<AtomicBool>) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut keys = self.keys.lock();
        keys.retain(|_, list| {
            let before = list.len();
            list.retain(|w| !Arc::ptr_eq(&w.flag, flag));
            self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
            !list.is_empty()
        });
    }

    /// Whether the watch of `key` holding `flag` is stale now: the key was expired when
    /// watched, or SWAPDB brought an expired key where there was none (Redis's
    /// `watchedKey.expired`). EXEC does not count such a key's expiry as a change.
    pub fn is_stale(&self, key: &[u8], flag: &Arc<AtomicBool>) -> bool {
        if self.count.load(Ordering::Relaxed) == 0 {
            return false;
        }
        self.keys.lock().iter().any(|((_, k), list)| {
            &k[..] == key && list.iter().any(|w| w.stale && Arc::ptr_eq(&w.flag, flag))
        })
    }

    /// `key` changed and now exists or not: raises its watchers' flags, except for a
    /// stale watch of a key that is now gone.
    fn signal(&self, db: usize, key: &[u8], exists: bool) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut keys = self.keys.lock();
        if let Some(list) = keys.get_mut(&(db, Bytes::copy_from_slice(key))) {
            for w in list {
                match (w.stale, exists) {
                    (true, false) => w.stale = false,
                    _ => w.flag.store(true, Ordering::Release),
                }
            }
        }
    }

    /// Applies `decide(key, stale)` to every watch of physical db `db` (FLUSHDB, SWAPDB)
    /// and returns the flags to raise once the change is visible.
    fn touch(&self, db: usize, decide: impl Fn(&[u8], bool) -> Touch) -> Vec<Arc<AtomicBool>> {
        if self.count.load(Ordering::Relaxed) == 0 {
            return Vec::new();
        }
        let mut keys = self.keys.lock();
        let mut raised = Vec::new();
        for ((d, k), list) in keys.iter_mut() {
            if *d != db {
                continue;
            }
            for w in list {
                match decide(k, w.stale) {
                    Touch::Skip => {}
                    Touch::Raise => raised.push(w.flag.clone()),
                    Touch::Forget => w.stale = false,
                    Touch::MarkStale => w.stale = true,
                }
            }
        }
        raised
    }
}

/// Raises WATCH flags collected by [`WatchRegistry::touch`].
fn raise(flags: Vec<Arc<AtomicBool>>) {
    for f in flags {
        f.store(true, Ordering::Release);
    }
}

/// All databases plus the sequencer.
pub struct Store {
    dbs: Vec<Db>,
    /// Effects written so far (every [`WriteTxn::propagate`]): a command changed the
    /// dataset when it moved this, which is what `rdb_changes_since_last_save` counts.
    changes: AtomicU64,
    /// Logical database index -> physical index; SWAPDB swaps two slots.
    slots: Vec<AtomicUsize>,
    seq: RwLock<Sequencer>,
    /// WATCH bookkeeping.
    pub watches: WatchRegistry,
    /// The snapshot in progress, if any (writers feed it pre-images).
    snapshot: Mutex<Option<Arc<snapshot::Snapshot>>>,
    /// Fast check for writers: a snapshot is installed.
    snapshot_active: AtomicBool,
    /// This node follows a leader: keys are never expired locally (the leader's DEL
    /// comes down the stream); logically expired keys are only hidden from reads.
    follower_mode: AtomicBool,
    /// CLIENT PAUSE is on: the dataset stays static, so keys are neither expired (only
    /// hidden, as on a follower) nor evicted, as Redis.
    changes_held: AtomicBool,
    /// Hit/miss/expiry counters.
    pub stats: KeyStats,
    /// maxmemory: memory gauge and eviction candidates.
    pub evictor: evict::Evictor,
    /// Keys changed while clients track (CLIENT TRACKING), for the server to deliver.
    pub invalidations: Invalidations,
    /// Keys written while clients are blocked on keys, for the server to serve them.
    pub ready_keys: ReadyKeys,
    /// Background freeing of large values (`lazyfree-*`).
    pub lazyfree: lazyfree::LazyFree,
    /// Keyspace notifications (`notify-keyspace-events`).
    pub events: notify::KeyspaceEvents,
    /// When small collections change encoding (`*-max-intset-*`, `*-max-listpack-*`).
    pub encoding: encoding::EncodingLimits,
}

/// Keys written while clients are blocked on keys, in the order they were written. The
/// server serves blocked clients key by key in that order after each command, as Redis's
/// ready-keys list: with clients blocked on two keys, the one whose key was written first
/// is served first (and a move's destination, written while serving, comes after).
#[derive(Default)]
pub struct ReadyKeys {
    /// Clients blocked on keys (INFO `blocked_clients`); keys are recorded only while
    /// there is one.
    waiters: AtomicUsize,
    pending: Mutex<Vec<(usize, Bytes)>>,
}

impl ReadyKeys {
    /// A client blocked on keys.
    pub fn waiter_added(&self) {
        self.waiters.fetch_add(1, Ordering::Relaxed);
    }

    /// A blocked client was served, timed out or left.
    pub fn waiter_removed(&self) {
        if self.waiters.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.pending.lock().clear();
        }
    }

    /// Clients blocked on keys now.
    pub fn waiters(&self) -> usize {
        self.waiters.load(Ordering::Relaxed)
    }

    fn signal(&self, db: usize, key: &[u8]) {
        if self.waiters() > 0 {
            self.pending.lock().push((db, Bytes::copy_from_slice(key)));
        }
    }

    /// The keys written since the last call, each once, in the order first written.
    pub fn take(&self) -> Vec<(usize, Bytes)> {
        let all = std::mem::take(&mut *self.pending.lock());
        let mut seen = std::collections::HashSet::with_capacity(all.len());
        all.into_iter().filter(|k| seen.insert(k.clone())).collect()
    }
}

/// Keys changed by writes, collected only while some client tracks keys: the store does
/// not know clients, so the server drains these after each command and delivers them.
#[derive(Default)]
pub struct Invalidations {
    active: AtomicBool,
    pending: Mutex<(Vec<Bytes>, bool)>,
    has_pending: AtomicBool,
}

impl Invalidations {
    /// Turns collection on or off (some client tracks, or none).
    pub fn set_active(&self, on: bool) {
        self.active.store(on, Ordering::Release);
        if !on {
            *self.pending.lock() = (Vec::new(), false);
            self.has_pending.store(false, Ordering::Release);
        }
    }

    fn key(&self, key: &[u8]) {
        if self.active.load(Ordering::Relaxed) {
            self.pending.lock().0.push(Bytes::copy_from_slice(key));
            self.has_pending.store(true, Ordering::Release);
        }
    }

    fn flushed(&self) {
        if self.active.load(Ordering::Relaxed) {
            self.pending.lock().1 = true;
            self.has_pending.store(true, Ordering::Release);
        }
    }

    /// Takes the changed keys and whether everything was flushed, if anything changed.
    pub fn take(&self) -> Option<(Vec<Bytes>, bool)> {
        if !self.has_pending.load(Ordering::Acquire) {
            return None;
        }
        self.has_pending.store(false, Ordering::Release);
        Some(std::mem::take(&mut *self.pending.lock()))
    }
}

impl Default for Store {
    fn default() -> Self {
        Store {
            changes: AtomicU64::new(0),
            dbs: (0..NUM_DBS).map(|_| Db::new()).collect(),
            slots: (0..NUM_DBS).map(AtomicUsize::new).collect(),
            seq: RwLock::new(Sequencer::default()),
            watches: WatchRegistry::default(),
            snapshot: Mutex::new(None),
            snapshot_active: AtomicBool::new(false),
            follower_mode: AtomicBool::new(false),
            changes_held: AtomicBool::new(false),
            stats: KeyStats::default(),
            evictor: evict::Evictor::default(),
            invalidations: Invalidations::default(),
            ready_keys: ReadyKeys::default(),
            lazyfree: Default::default(),
            events: Default::default(),
            encoding: Default::default(),
        }
    }
}

/// What a lookup records, as Redis's lookupKey flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    /// A read: counts a hit or miss (a miss announces `keymiss`) and touches the key.
    Read,
    /// Counts and announces like a read but leaves the access time (TYPE, TTL: Redis's
    /// LOOKUP_NOTOUCH).
    NoTouch,
    /// Records nothing (OBJECT, DEBUG).
    Peek,
}

/// What a lock-free lookup found.
pub enum Lookup<'a> {
    /// A live key.
    Found(EntryRef<'a>),
    /// No key.
    Missing,
    /// The key exists but its TTL passed: treat as missing and delete it later.
    Expired,
}

impl Store {
    /// Effects written so far; compare two readings taken inside one write section to
    /// learn whether a command changed anything.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// The physical index behind logical database `db`.
    pub fn physical(&self, db: usize) -> usize {
        self.slots[db].load(Ordering::Acquire)
    }

    /// The database currently seen as logical index `db`.
    pub fn db(&self, db: usize) -> &Db {
        &self.dbs[self.physical(db)]
    }

    /// Looks a key up without the sequencer (single-key reads), recording what `access`
    /// asks for.
    pub fn find(&self, db: usize, key: &[u8], now: u64, access: Access) -> Lookup<'_> {
        let found = self.db(db).get(key);
        let live = found.as_ref().map(|r| !r.is_expired(now));
        if access != Access::Peek {
            let counter = if live == Some(true) {
                &self.stats.hits
            } else {
                &self.stats.misses
            };
            counter.fetch_add(1, Ordering::Relaxed);
            if live != Some(true) {
                self.events.emit(notify::KEY_MISS, "keymiss", db, key);
            }
        }
        match (found, live) {
            (Some(r), Some(true)) => {
                if access == Access::Read {
                    r.touch_access(self.evictor.settings.access_mode());
                }
                Lookup::Found(r)
            }
            (Some(_), _) => Lookup::Expired,
            (None, _) => Lookup::Missing,
        }
    }

    /// Takes the shared side of the sequencer: no write can be half-applied while held.
    pub fn read_lock(&self) -> RwLockReadGuard<'_, Sequencer> {
        self.seq.read()
    }

    /// Takes the exclusive side unless `stop()` turns true while waiting (a script holds
    /// the section for as long as it runs: the caller then waits without blocking its
    /// thread).
    pub fn write_unless(&self, now: u64, stop: impl Fn() -> bool) -> Option<WriteTxn<'_>> {
        loop {
            if let Some(seq) = self.seq.try_write_for(LOCK_POLL) {
                return Some(WriteTxn {
                    store: self,
                    seq,
                    now,
                    deferred_del: Vec::new(),
                });
            }
            if stop() {
                return None;
            }
        }
    }

    /// The shared side, unless `stop()` turns true while waiting (see
    /// [`Store::write_unless`]).
    pub fn read_lock_unless(
        &self,
        stop: impl Fn() -> bool,
    ) -> Option<RwLockReadGuard<'_, Sequencer>> {
        loop {
            if let Some(g) = self.seq.try_read_for(LOCK_POLL) {
                return Some(g);
            }
            if stop() {
                return None;
            }
        }
    }

    /// Starts a write: takes the exclusive side of the sequencer.
    pub fn write(&self, now: u64) -> WriteTxn<'_> {
        WriteTxn {
            store: self,
            seq: self.seq.write(),
            now,
            deferred_del: Vec::new(),
        }
    }

    /// Installs a snapshot at `offset`. The caller must hold the sequencer (either side),
    /// so no write is half done; returns None if one is already running.
    pub fn begin_snapshot(
        &self,
        offset: u64,
        sink: Box<dyn snapshot::SnapshotSink>,
    ) -> Option<Arc<snapshot::Snapshot>> {
        let mut slot = self.snapshot.lock();
        if slot.is_some() {
            return None;
        }
        let snap = Arc::new(snapshot::Snapshot::new(self, offset, sink));
        *slot = Some(snap.clone());
        self.snapshot_active.store(true, Ordering::Release);
        Some(snap)
    }

    /// Removes the finished snapshot.
    pub fn end_snapshot(&self) {
        *self.snapshot.lock() = None;
        self.snapshot_active.store(false, Ordering::Release);
    }

    /// Switches follower mode (no local expiry).
    pub fn set_follower_mode(&self, on: bool) {
        self.follower_mode.store(on, Ordering::Release);
    }

    /// True when this node follows a leader.
    pub fn follower_mode(&self) -> bool {
        self.follower_mode.load(Ordering::Acquire)
    }

    /// Holds (or releases) expiry and eviction while CLIENT PAUSE is on.
    pub fn hold_changes(&self, on: bool) {
        self.changes_held.store(on, Ordering::Release);
    }

    /// True while CLIENT PAUSE holds expiry and eviction.
    pub fn changes_held(&self) -> bool {
        self.changes_held.load(Ordering::Acquire)
    }

    /// True while a snapshot runs (INFO `rdb_bgsave_in_progress`).
    pub fn snapshot_in_progress(&self) -> bool {
        self.snapshot_active.load(Ordering::Acquire)
    }

    fn active_snapshot(&self) -> Option<Arc<snapshot::Snapshot>> {
        if !self.snapshot_active.load(Ordering::Acquire) {
            return None;
        }
        self.snapshot.lock().clone()
    }

    /// Visits up to `n` entries of logical db `db` from a random place (eviction
    /// sampling, as Redis's dictGetSomeKeys): a random shard, a random slot of its table,
    /// then the full slots after it, under one shard lock, so a sample costs a lock and a
    /// short sequential scan whatever the table size.
    pub fn sample_entries(
        &self,
        db: usize,
        n: usize,
        rng: &mut impl rand::RngExt,
        mut f: impl FnMut(&[u8], &Entry),
    ) {
        let shards = self.db(db).map.shards();
        let mut seen = 0;
        let first = rng.random_range(0..shards.len());
        for s in 0..shards.len() {
            let guard = shards[(first + s) % shards.len()].read();
            if guard.is_empty() {
                continue;
            }
            let buckets = guard.buckets();
            let start = rng.random_range(0..buckets);
            for i in 0..buckets {
                let idx = (start + i) % buckets;
                // SAFETY: `idx` < buckets() and the shard's read guard is held, so the
                // table is not resized or mutated while the bucket is read.
                unsafe {
                    if guard.is_bucket_full(idx) {
                        let (node, _) = guard.bucket(idx).as_ref();
                        f(node.key(), node.entry());
                        seen += 1;
                        if seen >= n {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Keys (and keys with TTL) in logical db `db`.
    pub fn db_sizes(&self, db: usize) -> (usize, usize) {
        let d = self.db(db);
        (d.map.len(), d.volatile.lock().len())
    }
}

/// An exclusive write section: every keyspace mutation goes through one.
pub struct WriteTxn<'a> {
    store: &'a Store,
    seq: RwLockWriteGuard<'a, Sequencer>,
    /// The time every expiry check in this write uses (one clock per command, as Redis).
    pub now: u64,
    /// Keys deleted because a command emptied their collection, whose `del` event waits
    /// for the command's own event on the key (Redis announces `srem` before `del`).
    deferred_del: Vec<(usize, Bytes)>,
}

impl<'a> WriteTxn<'a> {
    /// Marks this section as applying the leader's stream: no key counts as expired in it,
    /// as for Redis's master client. The leader alone decides expiry and streams a DEL;
    /// a key our clock finds expired still exists for the commands before that DEL, so a
    /// follower whose clock runs ahead never diverges (an APPEND to a key expired here
    /// but not on the leader appends, and announces `del`, not `expired`, on the DEL).
    pub fn apply_from_leader(&mut self) {
        self.now = 0;
    }

    /// The store this write section belongs to.
    pub fn store(&self) -> &'a Store {
        self.store
    }

    /// The sequencer this write section holds.
    pub fn sequencer(&self) -> &Sequencer {
        &self.seq
    }

    /// Mutable access to the sequencer (follower registration).
    pub fn sequencer_mut(&mut self) -> &mut Sequencer {
        &mut self.seq
    }

    /// The replication log, for callers that manage transactions.
    pub fn log(&mut self) -> &mut ReplicationLog {
        &mut self.seq.log
    }

    /// Appends one effect to the replication stream.
    pub fn propagate(&mut self, db: usize, args: &[&[u8]]) {
        self.store.changes.fetch_add(1, Ordering::Relaxed);
        self.seq.log.append(db, args);
    }

    /// Hands `key`'s pre-image to a running snapshot before it changes.
    fn before_modify(&self, db: usize, key: &[u8]) {
        if let Some(s) = self.store.active_snapshot() {
            s.before_modify(self.store, self.store.physical(db), key);
        }
    }

    /// Deletes `key` if its TTL has passed, propagating a DEL. Returns true if it expired.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8]) -> bool {
        let d = self.store.db(db);
        let expired = matches!(d.get(key), Some(e) if e.is_expired(self.now));
        if expired && (self.store.follower_mode() || self.store.changes_held()) {
            // Followers hide expired keys but leave deleting them to the leader; under
            // CLIENT PAUSE they are deleted once the pause ends.
            return true;
        }
        if expired {
            self.before_modify(db, key);
            if let Some(old) = d.remove(key) {
                self.store
                    .lazyfree
                    .free_entry(lazyfree::FreeReason::Expire, old, false);
            }
            d.volatile.lock().remove(key);
            self.store
                .stats
                .expired_keys
                .fetch_add(1, Ordering::Relaxed);
            self.modified(db, key);
            self.propagate(db, &[b"DEL", key]);
            self.store.events.emit(notify::EXPIRED, "expired", db, key);
        }
        expired
    }

    /// Reads a live key (expiring it first if due).
    pub fn get(&mut self, db: usize, key: &[u8]) -> Option<EntryRef<'a>> {
        let r = self.store.db(db).get(key)?;
        if !r.is_expired(self.now) {
            return Some(r);
        }
        drop(r);
        self.expire_if_needed(db, key);
        None
    }

    /// Mutable access to a live key. The caller must call [`Self::modified`] if it changes it.
    pub fn get_mut(&mut self, db: usize, key: &[u8]) -> Option<EntryRefMut<'a>> {
        self.before_modify(db, key);
        let r = self.store.db(db).get_mut(key)?;
        if !r.is_expired(self.now) {
            return Some(r);
        }
        drop(r);
        self.expire_if_needed(db, key);
        None
    }

    /// True when a live key exists.
    pub fn exists(&mut self, db: usize, key: &[u8]) -> bool {
        self.get(db, key).is_some()
    }

    /// Stores `entry` under `key`, replacing any old value (freed as a server-side
    /// delete); keeps the TTL index in step. Returns whether a live value was replaced.
    pub fn insert(&mut self, db: usize, key: &[u8], mut entry: Entry) -> bool {
        self.before_modify(db, key);
        entry.place(self.store.evictor.settings.access_mode());
        let d = self.store.db(db);
        let has_ttl = entry.expire_at != 0;
        // Overwrite in place when the key exists, so the key bytes are allocated only once.
        let old = match d.get_mut(key) {
            Some(mut slot) => Some(std::mem::replace(&mut *slot, entry)),
            None => {
                d.map.insert(node::Node::new(key, entry), ());
                None
            }
        };
        let had_ttl = old.as_ref().is_some_and(|o| o.expire_at != 0);
        if has_ttl && !had_ttl {
            d.volatile.lock().insert(&Bytes::copy_from_slice(key));
        } else if !has_ttl && had_ttl {
            d.volatile.lock().remove(key);
        }
        self.modified(db, key);
        // A follower never expires keys itself, so there the old value counts as live.
        let replaced = old
            .as_ref()
            .is_some_and(|o| !o.is_expired(self.now) || self.store.follower_mode());
        if let Some(old) = old {
            let reason = if replaced {
                lazyfree::FreeReason::ServerDel
            } else {
                // Overwriting a key whose TTL passed expires it first, as Redis's
                // lookupKeyWrite does: counted, propagated and announced.
                self.store
                    .stats
                    .expired_keys
                    .fetch_add(1, Ordering::Relaxed);
                self.propagate(db, &[b"DEL", key]);
                self.store.events.emit(notify::EXPIRED, "expired", db, key);
                lazyfree::FreeReason::Expire
            };
            self.store.lazyfree.free_entry(reason, old, false);
        }
        if !replaced {
            self.store.events.emit(notify::NEW, "new", db, key);
        }
        replaced
    }

    /// Removes a key; returns the live entry it held.
    pub fn remove(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        self.before_modify(db, key);
        let d = self.store.db(db);
        let old = d.remove(key)?;
        if old.expire_at != 0 {
            d.volatile.lock().remove(key);
        }
        if old.is_expired(self.now) {
            self.store
                .stats
                .expired_keys
                .fetch_add(1, Ordering::Relaxed);
            self.propagate(db, &[b"DEL", key]);
            self.modified(db, key);
            self.store.events.emit(notify::EXPIRED, "expired", db, key);
            self.store
                .lazyfree
                .free_entry(lazyfree::FreeReason::Expire, old, false);
            return None;
        }
        self.modified(db, key);
        Some(old)
    }

    /// Sets or clears (0) the expiry of an existing live key. Returns false if missing.
    pub fn set_expire(&mut self, db: usize, key: &[u8], at: u64) -> bool {
        let d = self.store.db(db);
        let Some(mut e) = self.get_mut(db, key) else {
            return false;
        };
        let had = e.expire_at != 0;
        e.expire_at = at;
        let k = Bytes::copy_from_slice(e.key());
        drop(e);
        if at != 0 && !had {
            d.volatile.lock().insert(&k);
        } else if at == 0 && had {
            d.volatile.lock().remove(&k);
        }
        self.modified(db, key);
        true
    }

    /// Removes `key` to free memory (maxmemory), propagating a DEL as Redis does.
    /// Returns an estimate of the bytes freed (None if it was already gone).
    pub fn evict_key(&mut self, db: usize, key: &[u8]) -> Option<usize> {
        self.before_modify(db, key);
        let d = self.store.db(db);
        let old = d.remove(key)?;
        // The node (entry and key), its table slot and control byte at typical load,
        // and the value's own bytes.
        let freed = node::alloc_size(key.len()) + 16 + old.value.heap_size();
        if old.expire_at != 0 {
            d.volatile.lock().remove(key);
        }
        self.store
            .lazyfree
            .free_entry(lazyfree::FreeReason::Eviction, old, false);
        self.store
            .stats
            .evicted_keys
            .fetch_add(1, Ordering::Relaxed);
        self.modified(db, key);
        self.propagate(db, &[b"DEL", key]);
        self.store.events.emit(notify::EVICTED, "evicted", db, key);
        Some(freed)
    }

    /// Announces `event` (of notification `class`) on `key`, then the `del` of a
    /// collection this command emptied there (see [`Self::remove_emptied`]).
    pub fn notify(&mut self, class: u32, event: &str, db: usize, key: &[u8]) {
        self.store.events.emit(class, event, db, key);
        if let Some(i) = self
            .deferred_del
            .iter()
            .position(|(d, k)| *d == db && k[..] == *key)
        {
            let (d, k) = self.deferred_del.swap_remove(i);
            self.store.events.emit(notify::GENERIC, "del", d, &k);
        }
    }

    /// Deletes a key whose collection the running command emptied. Its `del` event
    /// follows the command's own event on the key ([`Self::notify`]), or the end of the
    /// write section if there is none.
    pub fn remove_emptied(&mut self, db: usize, key: &[u8]) {
        if self.remove(db, key).is_some() && self.store.events.wants(notify::GENERIC) {
            self.deferred_del.push((db, Bytes::copy_from_slice(key)));
        }
    }

    /// Signals that `key` changed: raises the WATCH flags of its watchers and records it
    /// for CLIENT TRACKING. Called only once the change is visible to lock-free readers,
    /// inside the write section: a reader that registered interest before reading either
    /// saw the change or is signalled here (docs/ARCHITECTURE.md, "Writes and lock-free
    /// readers").
    pub fn modified(&self, db: usize, key: &[u8]) {
        let exists = self.store.db(db).get(key).is_some();
        self.store
            .watches
            .signal(self.store.physical(db), key, exists);
        self.store.invalidations.key(key);
        self.store.ready_keys.signal(db, key);
    }

    /// Removes every key of every database; `lazy` frees them on the background thread.
    pub fn flush_all(&mut self, lazy: bool) {
        for db in 0..NUM_DBS {
            self.flush_db(db, lazy);
        }
    }

    /// Removes every key of logical db `db`; returns how many there were. With `lazy`
    /// the emptied tables are handed whole to the background freer, so the write section
    /// ends as soon as the database is empty.
    pub fn flush_db(&mut self, db: usize, lazy: bool) -> usize {
        if let Some(s) = self.store.active_snapshot() {
            s.visit_db(self.store, self.store.physical(db));
        }
        let d = self.store.db(db);
        let n = d.map.len();
        // Only keys that exist are touched; a stale watched key going away is no change.
        let touched = self
            .store
            .watches
            .touch(self.store.physical(db), |k, stale| match d.get(k) {
                None => Touch::Skip,
                Some(_) if stale => Touch::Forget,
                Some(_) => Touch::Raise,
            });
        if lazy && n > 0 {
            for shard in d.map.shards() {
                let table = std::mem::replace(&mut *shard.write(), ShardTable::new());
                let keys = table.len();
                if keys > 0 {
                    self.store.lazyfree.free_later(table, keys);
                }
            }
        } else {
            d.map.clear();
        }
        d.volatile.lock().clear();
        // Signalled once the keys are gone (see `modified`).
        self.store.invalidations.flushed();
        raise(touched);
        n
    }

    /// Swaps two logical databases (SWAPDB): clients see the other's data at once.
    pub fn swap_db(&mut self, a: usize, b: usize) {
        let pa = self.store.slots[a].load(Ordering::Acquire);
        let pb = self.store.slots[b].load(Ordering::Acquire);
        if let Some(s) = self.store.active_snapshot() {
            // The snapshot labels databases as they were; finish both before they swap.
            s.visit_db(self.store, pa);
            s.visit_db(self.store, pb);
        }
        // A watched key of either database is touched if it exists in either, except
        // where nothing changes logically: a stale key replaced by nothing or by another
        // expired key, or a missing key replaced by an expired one (Redis's
        // touchAllWatchedKeysInDb).
        let now = self.now;
        let decide = |emptied: usize, replaced_with: usize| {
            let (dbs, now) = (&self.store.dbs, now);
            move |k: &[u8], stale: bool| {
                let in_emptied = dbs[emptied].get(k).is_some();
                let replacement = dbs[replaced_with].get(k);
                let expired = replacement.as_ref().is_some_and(|e| e.is_expired(now));
                match (in_emptied || replacement.is_some(), stale) {
                    (false, _) => Touch::Skip,
                    (true, true) if replacement.is_none() => Touch::Forget,
                    (true, true) if expired => Touch::Skip,
                    (true, false) if !in_emptied && expired => Touch::MarkStale,
                    _ => Touch::Raise,
                }
            }
        };
        let mut touched = self.store.watches.touch(pa, decide(pa, pb));
        touched.extend(self.store.watches.touch(pb, decide(pb, pa)));
        self.store.slots[a].store(pb, Ordering::Release);
        self.store.slots[b].store(pa, Ordering::Release);
        raise(touched);
    }

    /// Active expiry step: samples up to `samples` keys with a TTL in `db` and deletes the
    /// expired ones. Returns (sampled, expired).
    pub fn expire_sample(&mut self, db: usize, samples: usize) -> (usize, usize) {
        let mut rng = rand::rng();
        let mut picked = Vec::with_capacity(samples);
        {
            let vol = self.store.db(db).volatile.lock();
            if vol.is_empty() {
                return (0, 0);
            }
            for _ in 0..samples.min(vol.len()) {
                if let Some(k) = vol.sample(&mut rng) {
                    picked.push(k);
                }
            }
        }
        let mut expired = 0;
        for k in &picked {
            if self.expire_if_needed(db, k) {
                expired += 1;
            }
        }
        (picked.len(), expired)
    }
}

/// The raw table behind one dashmap shard.
pub type ShardTable = hashbrown::raw::RawTable<(node::Node, dashmap::SharedValue<()>)>;

/// Iterates the entries of a shard whose read (or write) guard the caller holds.
pub fn shard_entries(table: &ShardTable) -> impl Iterator<Item = (&[u8], &Entry)> {
    // SAFETY: `table` is borrowed from a held shard guard, so the table outlives the
    // iterator and no writer can mutate it meanwhile; buckets are read only while borrowed.
    unsafe { table.iter() }.map(|bucket| {
        // SAFETY: as above, the bucket is live for the borrow of `table`.
        let (node, _) = unsafe { bucket.as_ref() };
        (node.key(), node.entry())
    })
}

impl Drop for WriteTxn<'_> {
    /// Hands the bytes this write appended to the followers before the sequencer is
    /// released: the stream order is exactly the order writes became visible.
    fn drop(&mut self) {
        for (db, key) in std::mem::take(&mut self.deferred_del) {
            self.store.events.emit(notify::GENERIC, "del", db, &key);
        }
        if !self.seq.log.has_fresh() {
            return;
        }
        self.seq.subscribers.retain(|s| !s.closed());
        let bytes = self.seq.log.fresh();
        for s in &self.seq.subscribers {
            s.push(bytes);
        }
        self.seq.log.clear_fresh();
    }
}

/// Builds a stable 64-bit hash of a key for SCAN cursors (independent of map hashing).
pub fn cursor_hash(key: &[u8]) -> u64 {
    // FNV-1a, then a finaliser to spread bits; stable across the process lifetime.
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in key {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h
}

/// Positions of a scan (SCAN, HSCAN, SSCAN, ZSCAN) that visits elements in the order of
/// their [`cursor_hash`]: the hash range is cut into about as many buckets as there are
/// elements, and a cursor names the bucket to resume at, with its bits reversed (Redis's
/// reverse-binary cursor). So cursors stay in the range of the element count, as stock
/// Redis's do (clients that parse them as signed 64-bit integers never see one near
/// 2^63), and a cursor read back after the count changed resumes at the same bucket
/// (finer buckets) or an earlier one (coarser): elements may come twice, never be missed.
#[derive(Debug, Clone, Copy)]
pub struct ScanBuckets {
    bits: u32,
}

impl ScanBuckets {
    /// Buckets for `len` elements: the next power of two above it.
    pub fn for_len(len: usize) -> Self {
        ScanBuckets {
            bits: (usize::BITS - len.leading_zeros()).min(56),
        }
    }

    /// Number of buckets.
    pub fn count(&self) -> u64 {
        1 << self.bits
    }

    /// The bucket an element falls in.
    pub fn bucket(&self, element: &[u8]) -> u64 {
        if self.bits == 0 {
            0
        } else {
            cursor_hash(element) >> (64 - self.bits)
        }
    }

    /// The cursor for "resume at `bucket`" (below [`Self::count`]).
    pub fn encode(&self, bucket: u64) -> u64 {
        if self.bits == 0 {
            0
        } else {
            bucket.reverse_bits() >> (64 - self.bits)
        }
    }

    /// The bucket a cursor resumes at, whatever bucket count it was made with.
    pub fn decode(&self, cursor: u64) -> u64 {
        if self.bits == 0 {
            0
        } else {
            (cursor & (self.count() - 1)).reverse_bits() >> (64 - self.bits)
        }
    }
}

/// One SCAN step over `db`: returns the accepted keys and the next cursor (0 when done).
///
/// Shard by shard, each in [`ScanBuckets`] order: the cursor is the shard index in its
/// low 6 bits and the shard's resume cursor above them, so it stays below about twice
/// the key count. Every key present for the whole scan is returned at least once,
/// whatever rehashing happens, because the order depends only on the key's bytes.
/// Finding a position costs one pass over the shard, so a step visits at least 1/16 of a
/// shard (COUNT is a hint, as in Redis): a full scan of a large keyspace takes about a
/// thousand calls whatever COUNT says, not keys/COUNT passes.
pub fn scan_step(
    db: &Db,
    cursor: u64,
    count: usize,
    now: u64,
    expired: &mut Vec<Bytes>,
    mut accept: impl FnMut(&[u8], &Entry) -> bool,
) -> (Vec<Bytes>, u64) {
    let shards = db.map.shards();
    let shard_count = shards.len() as u64;
    let mut shard = (cursor % shard_count) as usize;
    let mut resume_cursor = cursor / shard_count;
    let mut out = Vec::new();
    let mut visited = 0usize;
    while shard < shards.len() {
        let guard = shards[shard].read();
        let buckets = ScanBuckets::for_len(guard.len());
        let from = buckets.decode(resume_cursor);
        let mut cands: Vec<(u64, &[u8], &Entry)> = shard_entries(&guard)
            .map(|(k, v)| (buckets.bucket(k), k, v))
            .filter(|(b, _, _)| *b >= from)
            .collect();
        let batch = count.saturating_sub(visited).max(guard.len() / 16).max(1);
        // Where this step stops inside the shard: after the `batch` first buckets' keys,
        // and always after every key of the last bucket, so a cursor never splits one.
        let mut resume = None;
        if cands.len() > batch {
            cands.select_nth_unstable_by_key(batch - 1, |c| c.0);
            let cut = cands[batch - 1].0;
            cands.retain(|c| c.0 <= cut);
            if cut + 1 < buckets.count() {
                resume = Some(cut + 1);
            }
        }
        for (_, k, e) in &cands {
            if e.is_expired(now) {
                // Met on the way: the caller deletes it, as Redis's SCAN expires the keys
                // it visits.
                expired.push(Bytes::copy_from_slice(k));
            } else if accept(k, e) {
                out.push(Bytes::copy_from_slice(k));
            }
        }
        visited += cands.len();
        drop(guard);
        if let Some(next) = resume {
            return (out, buckets.encode(next) * shard_count + shard as u64);
        }
        shard += 1;
        resume_cursor = 0;
        if visited >= count {
            return if shard >= shards.len() {
                (out, 0)
            } else {
                (out, shard as u64)
            };
        }
    }
    (out, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Runs a whole SCAN of logical db 0 from `start`, checking every cursor on the way:
    /// below 2^63, and in the range of the key count.
    fn full_scan(store: &Store, start: u64, count: usize) -> HashSet<Bytes> {
        let mut seen = HashSet::new();
        let mut cursor = start;
        let size = store.db(0).map.len() as u64;
        for _ in 0..100_000 {
            let (keys, next) =
                scan_step(store.db(0), cursor, count, 0, &mut Vec::new(), |_, _| true);
            assert!(
                next < 1 << 63,
                "cursor {next} does not fit a signed 64-bit integer"
            );
            assert!(next < 128 * (size + 1), "cursor {next} for {size} keys");
            seen.extend(keys);
            if next == 0 {
                return seen;
            }
            cursor = next;
        }
        panic!("SCAN did not finish");
    }

    #[test]
    fn scan_cursors_stay_below_2_pow_63_for_every_keyspace_size() {
        let store = Store::default();
        let mut inserted = 0;
        for size in [0usize, 1, 2, 7, 63, 64, 65, 500, 4_000, 30_000] {
            let mut t = store.write(0);
            while inserted < size {
                let key = format!("key:{inserted}");
                t.insert(
                    0,
                    key.as_bytes(),
                    Entry::new(Value::Str(StrBytes::new()), 0),
                );
                inserted += 1;
            }
            drop(t);
            for count in [1, 10, 100, 10_000] {
                assert_eq!(
                    full_scan(&store, 0, count).len(),
                    size,
                    "size {size} count {count}"
                );
            }
            // A client that clamped a cursor to i64::MAX still reaches the end.
            full_scan(&store, i64::MAX as u64, 10);
        }
    }

    #[test]
    fn scan_returns_every_key_present_throughout_while_the_keyspace_grows_and_shrinks() {
        let store = Store::default();
        let entry = || Entry::new(Value::Str(StrBytes::new()), 0);
        let mut t = store.write(0);
        for i in 0..3_000 {
            t.insert(0, format!("stable:{i}").as_bytes(), entry());
        }
        drop(t);
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            let (keys, next) = scan_step(store.db(0), cursor, 10, 0, &mut Vec::new(), |_, _| true);
            seen.extend(keys);
            // Grow fast (bucket counts double), then shrink below the start.
            let mut t = store.write(0);
            if step < 30 {
                for j in 0..400 {
                    t.insert(0, format!("churn:{step}:{j}").as_bytes(), entry());
                }
            } else {
                for j in 0..400 {
                    t.remove(0, format!("churn:{}:{j}", step - 30).as_bytes());
                }
            }
            drop(t);
            step += 1;
            if next == 0 {
                break;
            }
            cursor = next;
            assert!(step < 10_000, "SCAN did not finish");
        }
        let missing = (0..3_000)
            .filter(|i| !seen.contains(format!("stable:{i}").as_bytes()))
            .count();
        assert_eq!(
            missing, 0,
            "stable keys missed by a scan taking {step} steps"
        );
    }
}
