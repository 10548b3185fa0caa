//! The size limits that decide which encoding Redis would give a small collection
//! (`set-max-intset-entries`, `hash-max-listpack-*`, `zset-max-listpack-*`) or a
//! HyperLogLog (`hll-sparse-max-bytes`). They belong to
//! one store, not to the process: two servers in one process (tests, the fuzz harness)
//! keep their own, and `Server::apply_setting` writes them.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The thresholds, each as Redis 7.0's default until configured.
#[derive(Debug)]
pub struct EncodingLimits {
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: AtomicUsize,
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: AtomicUsize,
    /// `hash-max-listpack-value`.
    pub hash_max_listpack_value: AtomicUsize,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: AtomicUsize,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: AtomicUsize,
    /// `hll-sparse-max-bytes`: a sparse HyperLogLog that would grow past it turns dense.
    pub hll_sparse_max_bytes: AtomicUsize,
    /// `stream-node-max-bytes`: a stream node (listpack) that would reach it is closed
    /// and the next entry starts a new one (0: no byte limit below Redis's 1 GB cap).
    pub stream_node_max_bytes: AtomicUsize,
    /// `stream-node-max-entries`: entries (live and deleted) per stream node; 0 means
    /// no limit.
    pub stream_node_max_entries: AtomicUsize,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            set_max_intset_entries: AtomicUsize::new(512),
            hash_max_listpack_entries: AtomicUsize::new(512),
            hash_max_listpack_value: AtomicUsize::new(64),
            zset_max_listpack_entries: AtomicUsize::new(128),
            zset_max_listpack_value: AtomicUsize::new(64),
            hll_sparse_max_bytes: AtomicUsize::new(3000),
            stream_node_max_bytes: AtomicUsize::new(4096),
            stream_node_max_entries: AtomicUsize::new(100),
        }
    }
}

/// Reads one threshold (relaxed: a value set by CONFIG SET applies from the next write).
pub fn limit(v: &AtomicUsize) -> usize {
    v.load(Ordering::Relaxed)
}

impl EncodingLimits {
    /// The limits for a setting's name, if it is one of them.
    pub fn by_setting(&self, name: &str) -> Option<&AtomicUsize> {
        Some(match name {
            "set-max-intset-entries" => &self.set_max_intset_entries,
            "hash-max-listpack-entries" => &self.hash_max_listpack_entries,
            "hash-max-listpack-value" => &self.hash_max_listpack_value,
            "zset-max-listpack-entries" => &self.zset_max_listpack_entries,
            "zset-max-listpack-value" => &self.zset_max_listpack_value,
            "hll-sparse-max-bytes" => &self.hll_sparse_max_bytes,
            "stream-node-max-bytes" => &self.stream_node_max_bytes,
            "stream-node-max-entries" => &self.stream_node_max_entries,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::set::SetValue;

    #[test]
    fn two_stores_keep_their_own_limits() {
        let small = EncodingLimits::default();
        small.set_max_intset_entries.store(2, Ordering::Relaxed);
        let default = EncodingLimits::default();
        let members = [b"1", b"2", b"3"];
        let a = SetValue::from_members(members, &small);
        let b = SetValue::from_members(members, &default);
        assert!(
            matches!(a, SetValue::Table(_)),
            "three ints exceed a limit of two"
        );
        assert!(
            matches!(b, SetValue::Ints(_)),
            "the other store's limit is untouched"
        );
    }
}
