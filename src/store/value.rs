//! Values stored in the keyspace and the per-key metadata kept beside them.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// True when `maxmemory-policy` is an LFU policy: `Entry::access` then holds an LFU
/// counter instead of an LRU clock, as Redis's `lru` field does.
pub static LFU_MODE: AtomicBool = AtomicBool::new(false);
/// `lfu-log-factor`.
pub static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
/// `lfu-decay-time` in minutes.
pub static LFU_DECAY_TIME: AtomicU32 = AtomicU32::new(1);
/// Counter given to new keys so they are not evicted before they can be used.
const LFU_INIT_VAL: u32 = 5;

fn lfu_minutes() -> u32 {
    ((crate::store::now_ms() / 60_000) & 0xFFFF) as u32
}

/// The LFU counter of an access word after decay (Redis's `LFUDecrAndReturn`).
fn lfu_decayed(word: u32) -> u32 {
    let ldt = word >> 8;
    let counter = word & 0xFF;
    let now = lfu_minutes();
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let decay = LFU_DECAY_TIME.load(Ordering::Relaxed);
    let periods = elapsed.checked_div(decay).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Logarithmic increment (Redis's `LFULogIncr`).
fn lfu_incr(counter: u32) -> u32 {
    use rand::RngExt;
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * LFU_LOG_FACTOR.load(Ordering::Relaxed) as f64 + 1.0);
    if rand::rng().random::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

fn initial_access() -> u32 {
    if LFU_MODE.load(Ordering::Relaxed) {
        (lfu_minutes() << 8) | LFU_INIT_VAL
    } else {
        lru_clock()
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
    set_lru_clock(crate::store::now_ms())
}

/// Sets the cached clock from a time already read (Unix ms); returns it.
pub fn set_lru_clock(now_ms: u64) -> u32 {
    let c = (now_ms as u32).max(1);
    LRU_CLOCK.store(c, Ordering::Relaxed);
    c
}

/// The clock in seconds, 24 bits, as INFO's `lru_clock` shows Redis's.
pub fn lru_clock_seconds() -> u32 {
    ((crate::store::now_ms() / 1000) & 0xFF_FFFF) as u32
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
    /// A fresh entry accessed now.
    pub fn new(value: Value, expire_at: u64) -> Self {
        Entry {
            value,
            expire_at,
            access: AtomicU32::new(initial_access()),
            raw: false,
        }
    }

    /// True when the key is logically gone at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now
    }

    /// Records an access (reads and writes both count, as in Redis).
    pub fn touch_access(&self) {
        if LFU_MODE.load(Ordering::Relaxed) {
            let counter = lfu_incr(lfu_decayed(self.access.load(Ordering::Relaxed)));
            self.access
                .store((lfu_minutes() << 8) | counter, Ordering::Relaxed);
        } else {
            self.access.store(lru_clock(), Ordering::Relaxed);
        }
    }

    /// The LFU access frequency (OBJECT FREQ); meaningful under LFU policies.
    pub fn frequency(&self) -> u32 {
        lfu_decayed(self.access.load(Ordering::Relaxed))
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
