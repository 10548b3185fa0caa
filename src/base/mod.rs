//! Leaf helpers that every layer may use (commands, ACL, replication, sentinel,
//! persistence). This module uses nothing else from the crate, so depending on it never
//! creates an edge from a lower layer to a higher one.

use bytes::BufMut;

pub mod alloc;
pub mod glob;

/// Unix time in milliseconds: the one clock expiry, the LRU clock, sentinels and stats read.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs blocking work (DEBUG SLEEP, MIGRATE's network I/O) on this worker the way Redis
/// blocks its event loop, letting a multi-threaded runtime move the worker's other
/// connections to another thread meanwhile.
pub fn block_in_place<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Lower-case hex of a digest (SHA1 script names, SHA-256 passwords, DEBUG DIGEST).
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    s
}

/// The Redis version we answer as: client libraries gate features on it.
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";

/// Compares secrets without leaking where they differ through timing.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Any difference in length is kept whole (not truncated to a byte), and every byte
    // of the longer input is visited either way.
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0xff));
    }
    diff == 0
}

/// Encodes a command as a RESP array of bulk strings: the only form a replication stream
/// carries, in either direction.
pub fn encode_command<B: BufMut, A: AsRef<[u8]>>(out: &mut B, args: &[A]) {
    let mut num = itoa::Buffer::new();
    out.put_u8(b'*');
    out.put_slice(num.format(args.len()).as_bytes());
    out.put_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.put_u8(b'$');
        out.put_slice(num.format(a.len()).as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

/// Allocator and process memory figures.
pub struct MemoryStats {
    /// Bytes allocated by the program (jemalloc `stats.allocated`).
    pub allocated: u64,
    /// Bytes in active pages (jemalloc `stats.active`).
    pub active: u64,
    /// Bytes resident for the allocator (jemalloc `stats.resident`).
    pub resident: u64,
    /// Process RSS from /proc.
    pub rss: u64,
}

/// Reads current memory figures (refreshing jemalloc's stats epoch first).
pub fn memory_stats() -> MemoryStats {
    use tikv_jemalloc_ctl::{epoch, stats};
    let _ = epoch::advance();
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * page_size())
        .unwrap_or(0);
    MemoryStats {
        allocated: stats::allocated::read().unwrap_or(0) as u64,
        active: stats::active::read().unwrap_or(0) as u64,
        resident: stats::resident::read().unwrap_or(0) as u64,
        rss,
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}
