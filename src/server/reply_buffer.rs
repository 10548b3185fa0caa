//! How much reply buffer a connection keeps between writes, adapted to its use as Redis's
//! clientsCronResizeOutputBuffer does: halved (down to 1 KiB) while the recent peak stays
//! under half of it, doubled (up to 16 KiB) while replies fill it; the peak is forgotten
//! every `peak-reset-time` (5 s; DEBUG REPLYBUFFER changes it). Idle connections thus
//! hold 1 KiB instead of 16 KiB. CLIENT LIST shows the size as `rbs`, the peak as `rbp`.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The smallest buffer kept (Redis's PROTO_REPLY_MIN_BYTES).
const MIN: usize = 1024;
/// The largest buffer kept, and a new connection's (PROTO_REPLY_CHUNK_BYTES).
pub const CHUNK: usize = 16 * 1024;
/// How often a connection's buffer is reconsidered.
const CHECK_EVERY: Duration = Duration::from_millis(50);
/// Redis's REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME, in milliseconds.
pub const DEFAULT_PEAK_RESET_MS: i64 = 5000;

/// Server-wide settings and counters (INFO `reply_buffer_shrinks` / `_expands`).
pub struct Policy {
    /// Milliseconds between peak resets; -1: never.
    pub peak_reset_ms: AtomicI64,
    /// DEBUG REPLYBUFFER RESIZING 0 turns resizing off.
    pub resizing: AtomicBool,
    /// Buffers shrunk.
    pub shrinks: AtomicU64,
    /// Buffers grown.
    pub expands: AtomicU64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            peak_reset_ms: AtomicI64::new(DEFAULT_PEAK_RESET_MS),
            resizing: AtomicBool::new(true),
            shrinks: AtomicU64::new(0),
            expands: AtomicU64::new(0),
        }
    }
}

/// One connection's buffer size and recent peak.
pub struct Sizer {
    /// The buffer size kept between writes.
    pub size: usize,
    /// The most bytes a write found waiting since the last reset (at most `size`).
    pub peak: usize,
    last_check: Instant,
    last_reset: Instant,
}

impl Default for Sizer {
    fn default() -> Self {
        let now = Instant::now();
        Sizer {
            size: CHUNK,
            peak: 0,
            last_check: now,
            last_reset: now,
        }
    }
}

impl Sizer {
    /// A write sent `bytes` at once.
    pub fn wrote(&mut self, bytes: usize) {
        self.peak = self.peak.max(bytes.min(self.size));
    }

    fn target(&self) -> Option<usize> {
        if self.size / 2 >= MIN && self.peak < self.size / 2 {
            Some(MIN.max(self.peak + 1))
        } else if self.size * 2 < CHUNK * 2 && self.peak == self.size {
            Some(CHUNK.min(self.size * 2))
        } else {
            None
        }
    }

    /// Applies the policy when a check is due; true when the size changed.
    pub fn check(&mut self, policy: &Policy, now: Instant) -> bool {
        if now < self.last_check + CHECK_EVERY || !policy.resizing.load(Ordering::Relaxed) {
            return false;
        }
        self.last_check = now;
        let target = self.target();
        let reset = policy.peak_reset_ms.load(Ordering::Relaxed);
        if reset >= 0 && now >= self.last_reset + Duration::from_millis(reset as u64) {
            self.peak = 0;
            self.last_reset = now;
        }
        match target {
            Some(t) if t < self.size => policy.shrinks.fetch_add(1, Ordering::Relaxed),
            Some(t) if t > self.size => policy.expands.fetch_add(1, Ordering::Relaxed),
            _ => return false,
        };
        self.size = target.unwrap_or(self.size);
        true
    }

    /// When an idle connection should check again (None: nothing would change).
    pub fn next_check(&self, policy: &Policy) -> Option<Instant> {
        if !policy.resizing.load(Ordering::Relaxed) {
            return None;
        }
        if self.target().is_some() {
            return Some(self.last_check + CHECK_EVERY);
        }
        let reset = policy.peak_reset_ms.load(Ordering::Relaxed);
        (reset >= 0 && self.peak > 0 && self.size / 2 >= MIN).then(|| {
            (self.last_reset + Duration::from_millis(reset as u64))
                .max(self.last_check + CHECK_EVERY)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_buffers_shrink_and_full_ones_grow() {
        let policy = Policy::default();
        policy.peak_reset_ms.store(-1, Ordering::Relaxed);
        let mut s = Sizer::default();
        s.wrote(5);
        let mut t = Instant::now();
        for _ in 0..10 {
            t += CHECK_EVERY;
            s.check(&policy, t);
        }
        assert_eq!(s.size, MIN);
        assert_eq!(s.next_check(&policy), None);
        for _ in 0..4 {
            s.wrote(32 * 1024);
            t += CHECK_EVERY;
            assert!(s.check(&policy, t));
        }
        assert_eq!(s.size, CHUNK);
    }
}
