//! The hash value: a small packed vector (what Redis calls a listpack) while it has at
//! most `hash-max-listpack-entries` fields of at most `hash-max-listpack-value` bytes, a
//! hash table beyond; OBJECT ENCODING reports which, as Redis does.

use super::value::StrBytes;
use std::collections::HashMap;

use std::sync::atomic::{AtomicUsize, Ordering};

/// `hash-max-listpack-entries` (Redis 7.0's compiled-in default: 512).
pub static MAX_PACKED_ENTRIES: AtomicUsize = AtomicUsize::new(512);
/// `hash-max-listpack-value` (Redis's default: 64).
pub static MAX_PACKED_VALUE: AtomicUsize = AtomicUsize::new(64);

/// Fields and values of one hash.
#[derive(Debug, Clone, PartialEq)]
pub enum HashValue {
    /// Insertion-ordered pairs, scanned linearly (small hashes).
    Packed(Vec<(StrBytes, StrBytes)>),
    /// A table (large hashes).
    Table(HashMap<StrBytes, StrBytes, ahash::RandomState>),
}

/// Replaces `slot`'s bytes with `value`, reusing its allocation when it is large enough
/// (updating a field then allocates and frees nothing).
fn overwrite(slot: &mut StrBytes, value: &[u8]) {
    slot.clear();
    slot.extend_from_slice(value);
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Packed(Vec::new())
    }
}

impl HashValue {
    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            HashValue::Packed(v) => v.len(),
            HashValue::Table(m) => m.len(),
        }
    }

    /// True when there is no field (the key is then deleted).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&StrBytes> {
        match self {
            HashValue::Packed(v) => v.iter().find(|(f, _)| &f[..] == field).map(|(_, v)| v),
            HashValue::Table(m) => m.get(field),
        }
    }

    /// Sets `field`; returns true when it is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let HashValue::Packed(v) = self {
            if let Some(slot) = v.iter_mut().find(|(f, _)| &f[..] == field) {
                overwrite(&mut slot.1, value);
                self.convert_if_needed(value.len().max(field.len()));
                return false;
            }
            v.push((StrBytes::from_slice(field), StrBytes::from_slice(value)));
            self.convert_if_needed(value.len().max(field.len()));
            return true;
        }
        let HashValue::Table(m) = self else {
            unreachable!("packed handled above")
        };
        match m.entry(StrBytes::from_slice(field)) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                overwrite(o.get_mut(), value);
                false
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(StrBytes::from_slice(value));
                true
            }
        }
    }

    /// Removes `field`; returns true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Packed(v) => match v.iter().position(|(f, _)| &f[..] == field) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            HashValue::Table(m) => m.remove(field).is_some(),
        }
    }

    /// Every field and value (insertion order while packed).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&StrBytes, &StrBytes)> + '_> {
        match self {
            HashValue::Packed(v) => Box::new(v.iter().map(|(f, v)| (f, v))),
            HashValue::Table(m) => Box::new(m.iter()),
        }
    }

    /// "listpack" or "hashtable".
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Packed(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    /// Heap bytes held (approximate).
    pub fn heap_size(&self) -> usize {
        self.iter().map(|(f, v)| f.len() + v.len() + 48).sum()
    }

    /// Builds a hash from pairs (RDB load), packed when small enough.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> Self {
        let mut h = HashValue::default();
        for (f, v) in pairs {
            h.set(&f, &v);
        }
        h
    }

    fn convert_if_needed(&mut self, longest: usize) {
        if let HashValue::Packed(v) = self
            && (v.len() > MAX_PACKED_ENTRIES.load(Ordering::Relaxed)
                || longest > MAX_PACKED_VALUE.load(Ordering::Relaxed))
        {
            let map = std::mem::take(v).into_iter().collect();
            *self = HashValue::Table(map);
        }
    }
}
