//! Point-in-time snapshots without fork (invariant 4 in docs/ARCHITECTURE.md), by
//! serialise-before-modify.
//!
//! A snapshot is installed while the sequencer is held, so it starts exactly between two
//! writes (at a known replication offset). A background task then serialises the keyspace
//! one dashmap shard at a time, holding only that shard's read lock and its "done" set:
//! the sequencer stays free, so writes to other shards never wait, and a write to the
//! shard being serialised waits for at most that one shard. A writer that is about to
//! change a key in a shard the snapshot has not reached yet first hands the key's current
//! entry (its pre-image) to the snapshot and records the key as done, so the snapshot
//! skips it when it gets there. Keys created after the snapshot point are recorded as done
//! without output. The result is exactly the keyspace as it was at the snapshot point,
//! with extra memory bounded by the keys written while the snapshot runs.
//!
//! Lock order everywhere: the shard's lock, then its done set. A shard's `visited` flag is
//! set while its done set is locked and re-checked under that lock, so a key is emitted
//! exactly once whoever (the snapshot task, a writer, FLUSHDB/SWAPDB) gets there first.

use super::{Entry, Key, NUM_DBS, SHARDS, Store, shard_entries};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where a snapshot's entries go (an RDB file today, a follower's socket later).
pub trait SnapshotSink: Send {
    /// Entries that follow belong to logical database `db`.
    fn select_db(&mut self, db: usize) -> io::Result<()>;
    /// One key as it was at the snapshot point.
    fn entry(&mut self, key: &[u8], entry: &Entry) -> io::Result<()>;
    /// Completes the output (trailer, flush, sync).
    fn finish(self: Box<Self>) -> io::Result<()>;
}

struct SinkState {
    sink: Option<Box<dyn SnapshotSink>>,
    current_db: Option<usize>,
    error: Option<io::Error>,
    keys: usize,
}

/// A snapshot in progress.
pub struct Snapshot {
    /// Replication offset the snapshot corresponds to.
    pub offset: u64,
    /// Logical database index of each physical database at the snapshot point.
    logical_of: [usize; NUM_DBS],
    /// (physical db, shard) pairs already serialised.
    visited: Vec<AtomicBool>,
    /// Per physical db: keys already handled (pre-image written, or created afterwards).
    done: Vec<Mutex<HashSet<Key, ahash::RandomState>>>,
    sink: Mutex<SinkState>,
}

impl Snapshot {
    /// A snapshot of `store` at `offset`; the caller holds the sequencer.
    pub(crate) fn new(store: &Store, offset: u64, sink: Box<dyn SnapshotSink>) -> Self {
        let mut logical_of = [0; NUM_DBS];
        for (logical, slot) in store.slots.iter().enumerate() {
            logical_of[slot.load(Ordering::Acquire)] = logical;
        }
        Snapshot {
            offset,
            logical_of,
            visited: (0..NUM_DBS * SHARDS)
                .map(|_| AtomicBool::new(false))
                .collect(),
            done: (0..NUM_DBS * SHARDS)
                .map(|_| Mutex::new(HashSet::default()))
                .collect(),
            sink: Mutex::new(SinkState {
                sink: Some(sink),
                current_db: None,
                error: None,
                keys: 0,
            }),
        }
    }

    fn emit(&self, phys: usize, key: &[u8], entry: &Entry) {
        let mut st = self.sink.lock();
        if st.error.is_some() {
            return;
        }
        let logical = self.logical_of[phys];
        let SinkState {
            sink,
            current_db,
            error,
            keys,
        } = &mut *st;
        let Some(sink) = sink.as_mut() else {
            return;
        };
        let mut result = Ok(());
        if *current_db != Some(logical) {
            result = sink.select_db(logical);
            *current_db = Some(logical);
        }
        if result.is_ok() {
            result = sink.entry(key, entry);
        }
        match result {
            Ok(()) => *keys += 1,
            Err(e) => *error = Some(e),
        }
        // Hand the sink straight to a waiting writer: released plainly, the snapshot
        // thread takes it back at once for its next key and writers queue behind the
        // whole save.
        parking_lot::MutexGuard::unlock_fair(st);
    }

    /// Called by a writer (holding the exclusive sequencer) before `key` of physical db
    /// `phys` is modified, created or removed.
    pub(crate) fn before_modify(&self, store: &Store, phys: usize, key: &[u8]) {
        let db = &store.dbs[phys];
        let idx = phys * SHARDS + db.map.determine_map(key);
        if self.visited[idx].load(Ordering::Acquire) {
            return;
        }
        // Shard lock (inside the entry guard) first, then the done set: the snapshot
        // task takes them in the same order.
        let entry = db.get(key);
        let mut done = self.done[idx].lock();
        if self.visited[idx].load(Ordering::Acquire) || done.contains(key) {
            return;
        }
        done.insert(Key::from_slice(key));
        if let Some(e) = entry {
            self.emit(phys, key, &e);
        }
    }

    /// Serialises one shard if not done yet.
    pub(crate) fn visit(&self, store: &Store, phys: usize, shard: usize) {
        let idx = phys * SHARDS + shard;
        let flag = &self.visited[idx];
        if flag.load(Ordering::Acquire) {
            return;
        }
        let guard = store.dbs[phys].map.shards()[shard].read();
        let mut done = self.done[idx].lock();
        if flag.load(Ordering::Acquire) {
            return;
        }
        for (k, e) in shard_entries(&guard) {
            if !done.contains(k) {
                self.emit(phys, k, e);
            }
        }
        flag.store(true, Ordering::Release);
        // Nothing consults a visited shard's set again.
        *done = HashSet::default();
    }

    /// Serialises every shard of physical db `phys` now (before FLUSHDB or SWAPDB
    /// changes it wholesale); the caller holds the exclusive sequencer.
    pub(crate) fn visit_db(&self, store: &Store, phys: usize) {
        for shard in 0..SHARDS {
            self.visit(store, phys, shard);
        }
    }

    /// Runs the whole snapshot shard by shard (writers keep running), then completes the
    /// sink. Returns the number of keys written.
    pub fn run(&self, store: &Store) -> io::Result<usize> {
        for phys in 0..NUM_DBS {
            for shard in 0..SHARDS {
                self.visit(store, phys, shard);
            }
        }
        let mut st = self.sink.lock();
        if let Some(e) = st.error.take() {
            return Err(e);
        }
        let keys = st.keys;
        match st.sink.take() {
            Some(sink) => sink.finish()?,
            None => return Err(io::Error::other("snapshot already finished")),
        }
        Ok(keys)
    }
}
