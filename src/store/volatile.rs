//! The set of keys that carry a TTL, kept so active expiry can sample them at random in O(1).

use bytes::Bytes;
use std::collections::HashMap;

/// Keys with an expiry, indexable by position for uniform random sampling.
#[derive(Default, Debug)]
pub struct VolatileSet {
    keys: Vec<Bytes>,
    pos: HashMap<Bytes, usize, ahash::RandomState>,
}

impl VolatileSet {
    /// Adds a key (no-op when present).
    pub fn insert(&mut self, key: &Bytes) {
        if !self.pos.contains_key(key) {
            self.pos.insert(key.clone(), self.keys.len());
            self.keys.push(key.clone());
        }
    }

    /// Removes a key (no-op when absent).
    pub fn remove(&mut self, key: &[u8]) {
        if let Some(i) = self.pos.remove(key) {
            self.keys.swap_remove(i);
            if i < self.keys.len() {
                let moved = self.keys[i].clone();
                self.pos.insert(moved, i);
            }
        }
    }

    /// Number of keys with a TTL (INFO keyspace `expires=`).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key has a TTL.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A key at a random position.
    pub fn sample(&self, rng: &mut impl rand::RngExt) -> Option<Bytes> {
        if self.keys.is_empty() {
            None
        } else {
            Some(self.keys[rng.random_range(0..self.keys.len())].clone())
        }
    }

    /// Forgets every key.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.pos.clear();
    }
}
