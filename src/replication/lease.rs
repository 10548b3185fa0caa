//! Leader lease (`leader-lease-ms`): a leader takes writes only while a majority of the
//! sentinels that watch it have reached it within the lease, so a leader cut off from
//! them stops taking writes before they can agree it is down and promote another (a
//! sentinel sees it down `down-after-milliseconds` after its last valid reply at the
//! earliest, and the lease is shorter).
//!
//! No new protocol: sentinels (stock and ours) name their command connection
//! `sentinel-<first 8 of id>-cmd` and PING through it every second, and each publishes a
//! hello on `__sentinel__:hello` through every node it watches, so every sentinel that
//! watches us names itself here within a hello period. A command on such a connection is
//! a contact; the set of sentinels ever seen is the membership a majority is taken of.
//! Members are never forgotten on their own (a sentinel cut off must keep counting, or
//! a minority left on our side would become a majority): `CONFIG SET leader-lease-ms`
//! starts a fresh membership. A fresh membership is still being learnt for
//! [`LEARN_MS`] (longer than two hello periods), and the lease is not held meanwhile.
//!
//! Time is monotonic (an [`Instant`]), so a wall-clock jump neither extends nor ends
//! a lease.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

/// How long a fresh membership is learnt before the lease can be held: sentinels
/// publish hellos every 2 s, so every sentinel has named itself within it.
pub const LEARN_MS: u64 = 5000;

/// The reply to a write refused for want of a lease. `READONLY` is what Sentinel-aware
/// clients (redis-py, ioredis, go-redis, Jedis) treat as "this is no longer the leader":
/// they ask their sentinels again and retry on the leader they name.
pub const REFUSED: &str = "READONLY No leader lease: a majority of the sentinels has not reached this leader within leader-lease-ms; writes are refused.";

/// Sentinel contacts and whether they hold the lease.
pub struct LeaderLease {
    /// Monotonic time origin for the millisecond stamps below.
    base: Instant,
    state: Mutex<Members>,
    /// Stamp (ms since `base`) until which the lease holds, recomputed at each contact;
    /// read lock-free by every write.
    held_until: AtomicU64,
    /// Whether the lease held at the last check, for the log line at each change.
    was_held: AtomicBool,
}

struct Members {
    /// Sentinel id (first 8 characters) → stamp of its last contact.
    last_contact: HashMap<[u8; 8], u64>,
    /// Stamp at which this membership started being learnt.
    learning_since: u64,
    /// The lease's length in ms (0: off).
    lease_ms: u64,
}

impl Default for LeaderLease {
    fn default() -> Self {
        LeaderLease {
            base: Instant::now(),
            state: Mutex::new(Members {
                last_contact: HashMap::new(),
                learning_since: 0,
                lease_ms: 0,
            }),
            // Off until `leader-lease-ms` says otherwise: always held.
            held_until: AtomicU64::new(u64::MAX),
            was_held: AtomicBool::new(false),
        }
    }
}

/// The sentinel id a connection name carries (`sentinel-<id8>-cmd`, as both stock and
/// our sentinels name their command links), packed for [`LeaderLease::contact`].
pub fn sentinel_id(name: &[u8]) -> Option<u64> {
    let id = name.strip_prefix(b"sentinel-")?.strip_suffix(b"-cmd")?;
    let id: [u8; 8] = id.try_into().ok()?;
    Some(u64::from_le_bytes(id))
}

impl LeaderLease {
    fn stamp(&self) -> u64 {
        // Starts at 1 so that 0 can mean "never".
        self.base.elapsed().as_millis() as u64 + 1
    }

    /// Applies `leader-lease-ms`: any change starts a fresh membership (how an operator
    /// drops sentinels that no longer exist).
    pub fn configure(&self, lease_ms: u64) {
        let now = self.stamp();
        let mut m = self.state.lock();
        m.lease_ms = lease_ms;
        m.last_contact.clear();
        m.learning_since = now;
        self.held_until.store(m.held_until(now), Ordering::Release);
    }

    /// True when `leader-lease-ms` is set.
    pub fn enabled(&self) -> bool {
        self.state.lock().lease_ms > 0
    }

    /// Records a command from the sentinel `id` (see [`sentinel_id`]); `leading` says
    /// whether the lease matters now (for the log line when it comes back).
    pub fn contact(&self, id: u64, leading: bool) {
        let now = self.stamp();
        let until = {
            let mut m = self.state.lock();
            m.last_contact.insert(id.to_le_bytes(), now);
            m.held_until(now)
        };
        self.held_until.store(until, Ordering::Release);
        if leading && until != u64::MAX {
            self.note(now < until);
        }
    }

    /// For a write about to run on the leader: whether the lease lets it (logging the
    /// moment it stops doing so).
    pub fn allows_write(&self) -> bool {
        let held = self.holds();
        if !held {
            self.note(false);
        }
        held
    }

    /// Whether writes may be taken now: always with the lease off.
    pub fn holds(&self) -> bool {
        let until = self.held_until.load(Ordering::Acquire);
        until == u64::MAX || self.stamp() < until
    }

    /// Checked by the cron: the lease running out with no write to notice it is logged
    /// too, and a follower starts from "held" (it logs nothing until it leads).
    pub fn log_changes(&self, leading: bool) {
        if !leading || !self.enabled() {
            self.was_held.store(true, Ordering::Relaxed);
            return;
        }
        self.note(self.holds());
    }

    /// Logs each change of the lease, so an operator sees when and why writes stopped.
    fn note(&self, held: bool) {
        if self.was_held.swap(held, Ordering::Relaxed) != held {
            let (reached, known, lease_ms) = self.counts();
            if held {
                tracing::warn!(
                    reached,
                    known,
                    lease_ms,
                    "leader lease acquired: taking writes"
                );
            } else {
                tracing::warn!(
                    reached,
                    known,
                    lease_ms,
                    "leader lease lost: a majority of the sentinels has not reached this leader within the lease; refusing writes"
                );
            }
        }
    }

    /// (sentinels heard within the lease, sentinels known, lease ms) for INFO.
    pub fn counts(&self) -> (usize, usize, u64) {
        let now = self.stamp();
        let m = self.state.lock();
        let reached = m
            .last_contact
            .values()
            .filter(|&&t| now.saturating_sub(t) < m.lease_ms)
            .count();
        (reached, m.last_contact.len(), m.lease_ms)
    }
}

impl Members {
    /// The stamp until which the lease holds with the contacts as they are: the
    /// majority-th most recent contact plus the lease (u64::MAX with the lease off).
    fn held_until(&self, now: u64) -> u64 {
        if self.lease_ms == 0 {
            return u64::MAX;
        }
        if now.saturating_sub(self.learning_since) < LEARN_MS {
            return 0;
        }
        let mut stamps: Vec<u64> = self.last_contact.values().copied().collect();
        if stamps.is_empty() {
            return 0;
        }
        stamps.sort_unstable_by(|a, b| b.cmp(a));
        let majority = stamps.len() / 2 + 1;
        stamps[majority - 1] + self.lease_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(lease_ms: u64, contacts: &[(&[u8; 8], u64)]) -> Members {
        Members {
            last_contact: contacts.iter().map(|(id, t)| (**id, *t)).collect(),
            learning_since: 0,
            lease_ms,
        }
    }

    #[test]
    fn held_while_a_majority_reached_within_the_lease() {
        let m = members(
            1500,
            &[
                (b"aaaaaaaa", 10_000),
                (b"bbbbbbbb", 9_000),
                (b"cccccccc", 2_000),
            ],
        );
        // The second most recent of three decides: 9000 + 1500.
        assert_eq!(m.held_until(10_000), 10_500);
        let m = members(
            1500,
            &[
                (b"aaaaaaaa", 10_000),
                (b"bbbbbbbb", 2_000),
                (b"cccccccc", 2_000),
            ],
        );
        assert_eq!(m.held_until(10_000), 3_500);
        // Two of four is no majority.
        let m = members(
            1500,
            &[
                (b"aaaaaaaa", 10_000),
                (b"bbbbbbbb", 10_000),
                (b"cccccccc", 1),
                (b"dddddddd", 1),
            ],
        );
        assert_eq!(m.held_until(10_000), 1_501);
    }

    #[test]
    fn off_always_holds_and_learning_never_does() {
        assert_eq!(members(0, &[]).held_until(10_000), u64::MAX);
        assert_eq!(members(1500, &[]).held_until(10_000), 0);
        let mut m = members(1500, &[(b"aaaaaaaa", 10_000)]);
        m.learning_since = 9_000;
        assert_eq!(m.held_until(10_000), 0);
    }

    #[test]
    fn sentinel_names_parse() {
        assert!(sentinel_id(b"sentinel-1a2b3c4d-cmd").is_some());
        assert_eq!(sentinel_id(b"sentinel-1a2b3c4d-pubsub"), None);
        assert_eq!(sentinel_id(b"sentinel-1a2b-cmd"), None);
        assert_eq!(sentinel_id(b"worker"), None);
    }
}
