//! Values stored in the keyspace and the per-key metadata kept beside them.

use std::sync::atomic::{AtomicU32, Ordering};

/// Counter given to new keys so they are not evicted before they can be used.
const LFU_INIT_VAL: u32 = 5;

/// What `Entry::access` holds, as the store's `maxmemory-policy` decides: an LRU clock, or
/// (LFU policies) Redis's logarithmic counter with the minute it was last decayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    /// Last access time.
    Lru,
    /// `minutes << 8 | counter`, tuned by `lfu-log-factor` and `lfu-decay-time`.
    Lfu {
        /// `lfu-log-factor`.
        log_factor: u32,
        /// `lfu-decay-time` in minutes.
        decay_minutes: u32,
    },
}

fn lfu_minutes() -> u32 {
    ((crate::base::now_ms() / 60_000) & 0xFFFF) as u32
}

/// The LFU counter of an access word after decay (Redis's `LFUDecrAndReturn`).
fn lfu_decayed(word: u32, decay_minutes: u32) -> u32 {
    let ldt = word >> 8;
    let counter = word & 0xFF;
    let now = lfu_minutes();
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = elapsed.checked_div(decay_minutes).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Logarithmic increment (Redis's `LFULogIncr`).
fn lfu_incr(counter: u32, log_factor: u32) -> u32 {
    use rand::RngExt;
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if rand::rng().random::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

fn initial_access(mode: AccessMode) -> u32 {
    match mode {
        AccessMode::Lfu { .. } => (lfu_minutes() << 8) | LFU_INIT_VAL,
        AccessMode::Lru => lru_clock(),
    }
}

/// Key bytes as stored in the map: keys of up to 16 bytes (most keys) live inline in the
/// table slot, longer ones on the heap.
pub type Key = smallvec::SmallVec<[u8; 16]>;

/// String value bytes: small values (counters, flags, short tokens) inline, no allocation.
pub type StrBytes = smallvec::SmallVec<[u8; 16]>;

/// A stored value. Collection types join this enum with their own modules.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A binary-safe string (also holds integers, as Redis does).
    Str(StrBytes),
    /// A hash of fields to values.
    Hash(Box<super::hash::HashValue>),
    /// A set of members.
    Set(Box<super::set::SetValue>),
    /// A list of elements, head first.
    List(Box<std::collections::VecDeque<StrBytes>>),
    /// A sorted set of members ordered by score.
    ZSet(Box<super::zset::ZSetValue>),
    /// A stream of entries with consumer groups.
    Stream(Box<super::stream::StreamValue>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// Redis's object type number (OBJ_STRING = 0, ...), used by digests and RDB.
    pub fn rdb_type_code(&self) -> u32 {
        match self {
            Value::Str(_) => 0,
            Value::Hash(_) => 4,
            Value::Set(_) => 2,
            Value::List(_) => 1,
            Value::ZSet(_) => 3,
            Value::Stream(_) => 6,
        }
    }

    /// The encoding OBJECT ENCODING reports, derived as Redis would choose it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.len() <= 20 && crate::protocol::parse_i64(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            // Redis 7.0 keeps every list as a quicklist.
            Value::List(_) => "quicklist",
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// Approximate heap bytes held by the value (for CLIENT/MEMORY style reporting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::List(l) => l.iter().map(|e| e.len() + 24).sum(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => s.heap_size(),
        }
    }
}

/// The access clock for LRU: milliseconds, wrapping at 2^32 (49 days). Redis keeps
/// seconds in 24 bits; we have 32 bits in the entry and use them for resolution, so
/// approximated LRU can tell a key read a moment ago from one written a moment before
/// (with one-second resolution, everything touched within the same second ties).
pub fn lru_clock() -> u32 {
    match LRU_CLOCK.load(Ordering::Relaxed) {
        0 => refresh_lru_clock(),
        c => c,
    }
}

/// The cached access clock: reading the system time on every key access would cost more
/// than the access itself, so it is refreshed by the cron and at the start of each
/// connection's batch of commands (which reads the time anyway).
static LRU_CLOCK: AtomicU32 = AtomicU32::new(0);

/// Re-reads the system time into the cached clock; returns it.
pub fn refresh_lru_clock() -> u32 {
    set_lru_clock(crate::base::now_ms())
}

/// Sets the cached clock from a time already read (Unix ms); returns it.
pub fn set_lru_clock(now_ms: u64) -> u32 {
    let c = (now_ms as u32).max(1);
    LRU_CLOCK.store(c, Ordering::Relaxed);
    c
}

/// The clock in seconds, 24 bits, as INFO's `lru_clock` shows Redis's.
pub fn lru_clock_seconds() -> u32 {
    ((crate::base::now_ms() / 1000) & 0xFF_FFFF) as u32
}

/// One key's value plus its expiry and access metadata.
#[derive(Debug)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry in unix milliseconds; 0 means no expiry.
    pub expire_at: u64,
    /// Last access time (ms clock, [`lru_clock`]) under LRU policies, or `minutes << 8 | counter`
    /// under LFU policies: what OBJECT IDLETIME/FREQ report and eviction uses.
    pub access: AtomicU32,
    /// Set once the value was modified in place (APPEND, SETRANGE): OBJECT ENCODING
    /// then says `raw`, as Redis does for strings it had to make mutable.
    pub raw: bool,
}

impl Entry {
    /// A fresh entry; it counts as accessed when the store takes it
    /// ([`Entry::place`]), which knows whether the access word is an LRU clock or an LFU
    /// counter.
    pub fn new(value: Value, expire_at: u64) -> Self {
        Entry {
            value,
            expire_at,
            access: AtomicU32::new(0),
            raw: false,
        }
    }

    /// Gives a fresh entry its first access word; an entry moved from another key
    /// (RENAME, MOVE) keeps its own, as Redis keeps the object's `lru`.
    pub fn place(&mut self, mode: AccessMode) {
        if *self.access.get_mut() == 0 {
            *self.access.get_mut() = initial_access(mode);
        }
    }

    /// True when the key is logically gone at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now
    }

    /// Records an access (reads and writes both count, as in Redis).
    pub fn touch_access(&self, mode: AccessMode) {
        match mode {
            AccessMode::Lfu {
                log_factor,
                decay_minutes,
            } => {
                let word = self.access.load(Ordering::Relaxed);
                let counter = lfu_incr(lfu_decayed(word, decay_minutes), log_factor);
                self.access
                    .store((lfu_minutes() << 8) | counter, Ordering::Relaxed);
            }
            AccessMode::Lru => self.access.store(lru_clock(), Ordering::Relaxed),
        }
    }

    /// Gives a restored entry the idle time or frequency its source reported (RESTORE
    /// IDLETIME / FREQ) when the policy keeps that kind of access word; otherwise it
    /// counts as accessed when stored.
    pub fn set_access_hint(
        &mut self,
        mode: AccessMode,
        idle_seconds: Option<u64>,
        freq: Option<u8>,
    ) {
        let word = match mode {
            AccessMode::Lru => idle_seconds.map(|s| {
                let idle_ms = s.saturating_mul(1000).min(u32::MAX as u64) as u32;
                lru_clock().wrapping_sub(idle_ms).max(1)
            }),
            AccessMode::Lfu { .. } => freq.map(|f| (lfu_minutes() << 8) | f as u32),
        };
        if let Some(w) = word {
            *self.access.get_mut() = w;
        }
    }

    /// The LFU access frequency (OBJECT FREQ, eviction rank); meaningful under LFU
    /// policies, where `decay_minutes` is `lfu-decay-time`.
    pub fn frequency(&self, decay_minutes: u32) -> u32 {
        lfu_decayed(self.access.load(Ordering::Relaxed), decay_minutes)
    }

    /// Milliseconds since the last access (LRU policies).
    pub fn idle_ms(&self) -> u64 {
        lru_clock().wrapping_sub(self.access.load(Ordering::Relaxed)) as u64
    }

    /// Seconds since the last access.
    pub fn idle_seconds(&self) -> u64 {
        self.idle_ms() / 1000
    }
}

impl Clone for Entry {
    fn clone(&self) -> Self {
        Entry {
            value: self.value.clone(),
            expire_at: self.expire_at,
            access: AtomicU32::new(self.access.load(Ordering::Relaxed)),
            raw: self.raw,
        }
    }
}
