//! The server's global allocator: jemalloc, plus a flag raised by any large allocation.
//!
//! The maxmemory gauge caches jemalloc's allocated bytes (a fresh reading merges every
//! arena's statistics: too slow for every command). A single command can still allocate
//! a lot at once (SETBIT far into a string, a big SET, a table doubling), and the next
//! command must see it, as Redis's exact counter would. Large allocations are rare, so
//! raising a flag for them costs nothing measurable, and the gauge reads afresh when it
//! is up.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, Ordering};

/// Allocations of at least this many bytes make the cached memory reading stale.
const LARGE: usize = 64 * 1024;

/// A large allocation happened since the gauge last read the allocator.
static LARGE_ALLOCATION: AtomicBool = AtomicBool::new(false);

/// True (once) when a large allocation happened since the last call: the caller should
/// read the allocator's statistics afresh.
pub fn take_large_allocation() -> bool {
    LARGE_ALLOCATION.load(Ordering::Relaxed) && LARGE_ALLOCATION.swap(false, Ordering::Relaxed)
}

/// jemalloc, reporting large allocations to the maxmemory gauge.
pub struct Allocator;

fn note(size: usize) {
    if size >= LARGE {
        LARGE_ALLOCATION.store(true, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to jemalloc with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded as received.
        unsafe { tikv_jemallocator::Jemalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded as received.
        unsafe { tikv_jemallocator::Jemalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { tikv_jemallocator::Jemalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            note(new_size - layout.size());
        }
        // SAFETY: forwarded as received.
        unsafe { tikv_jemallocator::Jemalloc.realloc(ptr, layout, new_size) }
    }
}
