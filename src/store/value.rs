//! Values stored in the keyspace and the per-key metadata kept beside them.

use bytes::Bytes;
use std::sync::atomic::{AtomicU32, Ordering};

/// A stored value. Collection types join this enum with their own modules.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A binary-safe string (also holds integers, as Redis does).
    Str(Bytes),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// Redis's object type number (OBJ_STRING = 0, ...), used by digests and RDB.
    pub fn rdb_type_code(&self) -> u32 {
        match self {
            Value::Str(_) => 0,
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
        }
    }

    /// Approximate heap bytes held by the value (for CLIENT/MEMORY style reporting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
        }
    }
}

/// Seconds resolution clock used for idle time, wrapping like Redis's 24-bit LRU clock.
pub fn lru_clock() -> u32 {
    (crate::store::now_ms() / 1000) as u32
}

/// One key's value plus its expiry and access metadata.
#[derive(Debug)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry in unix milliseconds; 0 means no expiry.
    pub expire_at: u64,
    /// Last access time (seconds clock) for OBJECT IDLETIME and LRU eviction.
    pub access: AtomicU32,
}

impl Entry {
    /// A fresh entry accessed now.
    pub fn new(value: Value, expire_at: u64) -> Self {
        Entry {
            value,
            expire_at,
            access: AtomicU32::new(lru_clock()),
        }
    }

    /// True when the key is logically gone at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now
    }

    /// Records an access (reads and writes both count, as in Redis).
    pub fn touch_access(&self) {
        self.access.store(lru_clock(), Ordering::Relaxed);
    }

    /// Seconds since the last access.
    pub fn idle_seconds(&self) -> u64 {
        lru_clock().saturating_sub(self.access.load(Ordering::Relaxed)) as u64
    }
}

impl Clone for Entry {
    fn clone(&self) -> Self {
        Entry {
            value: self.value.clone(),
            expire_at: self.expire_at,
            access: AtomicU32::new(self.access.load(Ordering::Relaxed)),
        }
    }
}
