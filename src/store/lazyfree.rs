//! Freeing large values off the write path (Redis's `lazyfree-*` settings): dropping a
//! hash of a million fields takes tens of milliseconds, and inside a write section every
//! other writer waits for it. With the matching setting on, the value is handed to one
//! background thread instead and the command returns at once.

use super::{Entry, Value};
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};

/// Values with at most this many elements are cheaper to free inline than to hand over
/// (Redis's `LAZYFREE_THRESHOLD`).
pub const THRESHOLD: usize = 64;

/// Why a value is being freed; each reason has its own `lazyfree-*` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreeReason {
    /// `maxmemory` eviction (`lazyfree-lazy-eviction`).
    Eviction,
    /// A TTL ran out (`lazyfree-lazy-expire`).
    Expire,
    /// A write replaced or removed a value as a side effect (`lazyfree-lazy-server-del`).
    ServerDel,
    /// DEL (`lazyfree-lazy-user-del`; UNLINK is always lazy).
    UserDel,
    /// FLUSHALL / FLUSHDB without SYNC or ASYNC (`lazyfree-lazy-user-flush`).
    UserFlush,
    /// A follower emptying its data before loading its leader's (`replica-lazy-flush`).
    ReplicaFlush,
}

impl FreeReason {
    /// The configuration parameter that turns lazy freeing on for this reason.
    pub const fn setting(self) -> &'static str {
        match self {
            FreeReason::Eviction => "lazyfree-lazy-eviction",
            FreeReason::Expire => "lazyfree-lazy-expire",
            FreeReason::ServerDel => "lazyfree-lazy-server-del",
            FreeReason::UserDel => "lazyfree-lazy-user-del",
            FreeReason::UserFlush => "lazyfree-lazy-user-flush",
            FreeReason::ReplicaFlush => "replica-lazy-flush",
        }
    }

    /// Every reason, for applying the configuration.
    pub const ALL: [FreeReason; 6] = [
        FreeReason::Eviction,
        FreeReason::Expire,
        FreeReason::ServerDel,
        FreeReason::UserDel,
        FreeReason::UserFlush,
        FreeReason::ReplicaFlush,
    ];
}

type Garbage = Box<dyn Send>;

/// The background freer and the per-reason switches.
#[derive(Default)]
pub struct LazyFree {
    on: [AtomicBool; 6],
    sender: Mutex<Option<Sender<(Garbage, usize)>>>,
    counters: Arc<Counters>,
}

/// What INFO reports: `lazyfree_pending_objects`, `lazyfreed_objects`.
#[derive(Default)]
struct Counters {
    pending: AtomicUsize,
    freed: AtomicU64,
}

impl Counters {
    fn done(&self, objects: usize) {
        self.pending.fetch_sub(objects, Ordering::Relaxed);
        self.freed.fetch_add(objects as u64, Ordering::Relaxed);
    }
}

impl LazyFree {
    /// Turns lazy freeing for `reason` on or off (from its configuration parameter).
    pub fn set(&self, reason: FreeReason, on: bool) {
        self.on[reason as usize].store(on, Ordering::Relaxed);
    }

    /// Whether `reason` frees lazily.
    pub fn enabled(&self, reason: FreeReason) -> bool {
        self.on[reason as usize].load(Ordering::Relaxed)
    }

    /// Frees `entry` in the background when `reason` is lazy (or `force`, as UNLINK) and
    /// the value is large enough to be worth it; otherwise drops it here.
    pub fn free_entry(&self, reason: FreeReason, entry: Entry, force: bool) {
        if (force || self.enabled(reason)) && elements(&entry.value) > THRESHOLD {
            self.free_later(entry, 1);
        }
    }

    /// Hands `garbage` to the background thread to drop; it counts as `objects` values
    /// in INFO (a flushed table counts its keys, as Redis counts them).
    pub fn free_later<T: Send + 'static>(&self, garbage: T, objects: usize) {
        let mut sender = self.sender.lock();
        if sender.is_none() {
            *sender = self.spawn();
        }
        self.counters.pending.fetch_add(objects, Ordering::Relaxed);
        let unsent = match sender.as_ref() {
            Some(tx) => tx.send((Box::new(garbage), objects)).err().map(|e| e.0),
            None => Some((Box::new(garbage) as Garbage, objects)),
        };
        if let Some((garbage, objects)) = unsent {
            // No thread could be started: free it here rather than lose track of it.
            drop(garbage);
            self.counters.done(objects);
        }
    }

    fn spawn(&self) -> Option<Sender<(Garbage, usize)>> {
        let (tx, rx) = channel::<(Garbage, usize)>();
        let counters = self.counters.clone();
        std::thread::Builder::new()
            .name("ferrocache-lazyfree".into())
            .spawn(move || {
                for (garbage, objects) in rx {
                    drop(garbage);
                    counters.done(objects);
                }
            })
            .ok()
            .map(|_| tx)
    }

    /// Objects handed over and not yet freed.
    pub fn pending(&self) -> usize {
        self.counters.pending.load(Ordering::Relaxed)
    }

    /// Objects freed in the background since startup (or CONFIG RESETSTAT).
    pub fn freed(&self) -> u64 {
        self.counters.freed.load(Ordering::Relaxed)
    }

    /// CONFIG RESETSTAT: `lazyfreed_objects` starts again from 0.
    pub fn reset_freed(&self) {
        self.counters.freed.store(0, Ordering::Relaxed);
    }
}

/// The work of freeing a value, counted as Redis does: one per element of a collection,
/// one for a string.
fn elements(value: &Value) -> usize {
    match value {
        Value::Str(_) => 1,
        Value::Hash(h) => h.len(),
        Value::Set(s) => s.len(),
        Value::List(l) => l.len(),
        Value::ZSet(z) => z.len(),
        Value::Stream(s) => s.len(),
    }
}
