//! One keyspace slot: a thin pointer to a single allocation holding the entry and the
//! key bytes.
//!
//! Why not `DashMap<Key, Entry>`: its table slots held the key (24 bytes) and the entry
//! (48) inline, and a hash table sits between 44% and 87% full, so every key paid for
//! 1.1-2.3 slots of 72 bytes. Here a slot is 8 bytes and the node is allocated once,
//! exactly sized: `[Entry][key length][key bytes]`, which for keys up to 15 bytes is one
//! 64-byte allocator size class. The price is one more pointer to follow per lookup,
//! which Redis pays too (bucket -> dictEntry -> key).

use super::Entry;
use dashmap::mapref::multiple::RefMulti;
use dashmap::mapref::one::{Ref, RefMut};
use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ptr::NonNull;

/// Length-prefix byte meaning "a 4-byte little-endian length follows".
const LONG_KEY: u8 = u8::MAX;

/// The owner of one node allocation: an entry and its key.
pub struct Node(NonNull<u8>);

// SAFETY: a Node owns its allocation exclusively (like a Box) and the entry it holds is
// Send + Sync; mutable access is only handed out under the map shard's write lock
// (see `EntryRefMut` in the store), so sharing `&Node` across threads is as safe as
// sharing `&Entry`.
unsafe impl Send for Node {}
// SAFETY: see above.
unsafe impl Sync for Node {}

/// Bytes of the length prefix for a key of `len` bytes.
fn prefix_len(len: usize) -> usize {
    if len < LONG_KEY as usize { 1 } else { 5 }
}

/// Bytes a node for a key of `len` bytes asks the allocator for (eviction estimates).
pub fn alloc_size(len: usize) -> usize {
    layout_for(len).size()
}

/// The allocation layout of a node whose key is `len` bytes long.
fn layout_for(len: usize) -> Layout {
    let size = std::mem::size_of::<Entry>() + prefix_len(len) + len;
    Layout::from_size_align(size, std::mem::align_of::<Entry>()).expect("key length bounded")
}

impl Node {
    /// Allocates a node holding `entry` under `key`.
    pub fn new(key: &[u8], entry: Entry) -> Node {
        let len = key.len();
        assert!(len <= u32::MAX as usize, "key longer than 4 GiB");
        let layout = layout_for(len);
        // SAFETY: the layout has a non-zero size (it holds an Entry).
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        // SAFETY: the allocation is `layout.size()` bytes, aligned for Entry; the entry
        // goes first, then the prefix and the key bytes, all inside it.
        unsafe {
            ptr.as_ptr().cast::<Entry>().write(entry);
            let mut at = ptr.as_ptr().add(std::mem::size_of::<Entry>());
            if len < LONG_KEY as usize {
                at.write(len as u8);
                at = at.add(1);
            } else {
                at.write(LONG_KEY);
                std::ptr::copy_nonoverlapping((len as u32).to_le_bytes().as_ptr(), at.add(1), 4);
                at = at.add(5);
            }
            std::ptr::copy_nonoverlapping(key.as_ptr(), at, len);
        }
        Node(ptr)
    }

    /// The key bytes.
    pub fn key(&self) -> &[u8] {
        // SAFETY: the node was written by `new`: the prefix and `len` key bytes follow the
        // entry inside the live allocation, which lives as long as `self`.
        unsafe {
            let at = self.0.as_ptr().add(std::mem::size_of::<Entry>());
            if *at != LONG_KEY {
                std::slice::from_raw_parts(at.add(1), *at as usize)
            } else {
                let mut len = [0u8; 4];
                std::ptr::copy_nonoverlapping(at.add(1), len.as_mut_ptr(), 4);
                std::slice::from_raw_parts(at.add(5), u32::from_le_bytes(len) as usize)
            }
        }
    }

    /// The entry.
    pub fn entry(&self) -> &Entry {
        // SAFETY: the allocation starts with an initialised Entry that lives as long as
        // `self`; shared access is fine because mutation needs `entry_mut`'s guarantee.
        unsafe { &*self.0.as_ptr().cast::<Entry>() }
    }

    /// Mutable access to the entry through a shared reference to the node.
    ///
    /// # Safety
    /// The caller must have exclusive access to this node for the returned borrow: the
    /// store guarantees this by calling it only while it holds the map shard's write
    /// lock (a dashmap `RefMut`), borrowed mutably for as long as the entry is.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn entry_mut(&self) -> &mut Entry {
        // SAFETY: the entry is initialised, and the caller guarantees exclusivity.
        unsafe { &mut *self.0.as_ptr().cast::<Entry>() }
    }

    /// Consumes the node, returning its entry and freeing the allocation.
    pub fn into_entry(self) -> Entry {
        let layout = layout_for(self.key().len());
        let ptr = self.0;
        std::mem::forget(self);
        // SAFETY: the entry is read out exactly once (the node is forgotten, so Drop will
        // not drop it again), then the allocation is freed with the layout it was made with.
        unsafe {
            let entry = ptr.as_ptr().cast::<Entry>().read();
            dealloc(ptr.as_ptr(), layout);
            entry
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let layout = layout_for(self.key().len());
        // SAFETY: the entry is initialised and dropped once; then the allocation is freed
        // with its own layout. Nothing uses the pointer afterwards.
        unsafe {
            std::ptr::drop_in_place(self.0.as_ptr().cast::<Entry>());
            dealloc(self.0.as_ptr(), layout);
        }
    }
}

/// A map guard that gives access to one node: what [`EntryGuard`] wraps.
pub trait NodeGuard {
    /// The guarded node.
    fn node(&self) -> &Node;
}

impl NodeGuard for Ref<'_, Node, ()> {
    fn node(&self) -> &Node {
        self.key()
    }
}

impl NodeGuard for RefMut<'_, Node, ()> {
    fn node(&self) -> &Node {
        self.key()
    }
}

impl NodeGuard for RefMulti<'_, Node, ()> {
    fn node(&self) -> &Node {
        self.key()
    }
}

/// A held map guard seen as the entry it guards, plus its key: callers use entries as if
/// the map stored them directly.
pub struct EntryGuard<G>(pub G);

impl<G: NodeGuard> EntryGuard<G> {
    /// The key this entry is stored under.
    pub fn key(&self) -> &[u8] {
        self.0.node().key()
    }
}

impl<G: NodeGuard> std::ops::Deref for EntryGuard<G> {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        self.0.node().entry()
    }
}

impl std::ops::DerefMut for EntryGuard<RefMut<'_, Node, ()>> {
    fn deref_mut(&mut self) -> &mut Entry {
        // SAFETY: the RefMut holds the shard's write lock, so no other reference to this
        // node exists, and `&mut self` makes the returned borrow the only one through it.
        unsafe { self.0.key().entry_mut() }
    }
}

/// A read guard on one entry (holds the shard's read lock).
pub type EntryRef<'a> = EntryGuard<Ref<'a, Node, ()>>;

/// A write guard on one entry (holds the shard's write lock).
pub type EntryRefMut<'a> = EntryGuard<RefMut<'a, Node, ()>>;

/// An entry met while iterating a whole map (holds that shard's read lock).
pub type EntryRefMulti<'a> = EntryGuard<RefMulti<'a, Node, ()>>;

/// Hashes as the key bytes do, so the map can be searched with a plain `&[u8]`.
impl Hash for Node {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Node {}

impl Borrow<[u8]> for Node {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("entry", self.entry())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StrBytes, Value};

    fn entry(v: &[u8]) -> Entry {
        Entry::new(Value::Str(StrBytes::from_slice(v)), 7)
    }

    #[test]
    fn short_and_long_keys_round_trip() {
        for len in [0usize, 1, 11, 15, 16, 254, 255, 256, 70_000] {
            let key: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let node = Node::new(&key, entry(b"value"));
            assert_eq!(node.key(), &key[..]);
            assert_eq!(node.entry().expire_at, 7);
            let e = node.into_entry();
            assert_eq!(e.value, Value::Str(StrBytes::from_slice(b"value")));
        }
    }

    #[test]
    fn short_keys_fit_one_64_byte_size_class() {
        // The point of the layout: an 11-byte key (the memory benchmark's) and a 15-byte
        // one need no more than 64 bytes with the entry.
        assert!(layout_for(15).size() <= 64, "{:?}", layout_for(15));
    }

    #[test]
    fn mutation_in_place_keeps_the_key() {
        let node = Node::new(b"k", entry(b"a"));
        // SAFETY: the test owns the node exclusively.
        let e = unsafe { node.entry_mut() };
        *e = entry(b"a much longer value that lives on the heap......");
        e.expire_at = 9;
        assert_eq!(node.key(), b"k");
        assert_eq!(node.entry().expire_at, 9);
    }
}
