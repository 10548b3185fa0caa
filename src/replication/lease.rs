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
//! A sentinel that has moved on to another leader stops renewing ours: its hellos name
//! the group's leader and that configuration's epoch, and a hello naming an address that
//! is not this node, at an epoch above the one this node became leader at, means a
//! failover happened that we were not part of. Without this, sentinels that reach an
//! old leader again after a partition heals (or after it restarts as a leader) would
//! renew its lease until they get round to demoting it. For the same reason a sentinel
//! that lost touch for longer than the lease (a partition, a restart) renews nothing
//! again until its next hello has said whom it follows. "This node" is its port (or
//! `replica-announce-port`, or the TLS port) on a local address or on
//! `replica-announce-ip`: behind NAT or a proxy, the announce settings must give the
//! address the sentinels know the node by.
//!
//! Time is monotonic (an [`Instant`]), so a wall-clock jump neither extends nor ends
//! a lease.

use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
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
    /// Sentinels whose latest hello names another leader at a newer epoch: members
    /// still (they count in the majority), but their contacts renew nothing.
    elsewhere: HashSet<[u8; 8]>,
    /// Sentinels back after a silence longer than the lease: their contacts renew
    /// nothing until their next hello says whom they follow now.
    awaiting_hello: HashSet<[u8; 8]>,
    /// The highest configuration epoch any hello named.
    max_epoch: u64,
    /// The epoch this node became leader at (the highest seen then): hellos naming
    /// another node at it or below are views not yet updated, not a newer failover.
    floor: u64,
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
                elsewhere: HashSet::new(),
                awaiting_hello: HashSet::new(),
                max_epoch: 0,
                floor: 0,
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

/// A hello published on `__sentinel__:hello` (`crate::sentinel::hello`): (sentinel id
/// as [`sentinel_id`] packs it, leader ip, leader port, config epoch).
pub fn parse_hello(payload: &[u8]) -> Option<(u64, String, u16, u64)> {
    let h = crate::sentinel::hello::Hello::parse(std::str::from_utf8(payload).ok()?)?;
    let id: [u8; 8] = h.run_id.as_bytes().get(..8)?.try_into().ok()?;
    Some((
        u64::from_le_bytes(id),
        h.master_ip.to_string(),
        h.master_port,
        h.config_epoch,
    ))
}

/// Whether `ip:port`, as a sentinel names a leader, is this node: one of our `ports` on
/// `announce_ip` or on an address of this host. A hostname on one of our ports cannot
/// be told apart without DNS and counts as us (the lease then works as without hellos).
pub fn names_this_node(ip: &str, port: u16, ports: &[u16], announce_ip: &str) -> bool {
    if !ports.contains(&port) {
        return false;
    }
    if !announce_ip.is_empty() && ip.eq_ignore_ascii_case(announce_ip) {
        return true;
    }
    match ip.parse::<std::net::IpAddr>() {
        // Binding succeeds only on an address of this host.
        Ok(addr) => std::net::UdpSocket::bind((addr, 0)).is_ok(),
        Err(_) => true,
    }
}

/// Feeds a hello published through this node (any role: a follower keeps the highest
/// epoch for when it is promoted) to the lease.
pub fn on_hello(srv: &crate::server::Server, payload: &[u8]) {
    let Some((id, ip, port, epoch)) = parse_hello(payload) else {
        return;
    };
    let mut ports = vec![srv.port.load(Ordering::Relaxed)];
    for setting in ["replica-announce-port", "tls-port"] {
        if let Ok(p) = u16::try_from(srv.config.get_i64(setting))
            && p > 0
        {
            ports.push(p);
        }
    }
    let announce_ip = srv.config.get("replica-announce-ip").unwrap_or_default();
    let is_us = names_this_node(&ip, port, &ports, &announce_ip);
    srv.lease.hello(
        id,
        &format!("{ip}:{port}"),
        is_us,
        epoch,
        !srv.store.follower_mode(),
    );
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
            let key = id.to_le_bytes();
            let previous = m.last_contact.insert(key, now);
            if previous.is_none_or(|t| now.saturating_sub(t) >= m.lease_ms) {
                m.awaiting_hello.insert(key);
            }
            m.held_until(now)
        };
        self.held_until.store(until, Ordering::Release);
        if leading && until != u64::MAX {
            self.note(now < until);
        }
    }

    /// Records a hello from sentinel `id` naming `leader` (`ip:port`, which `is_us` says
    /// is this node or not) at configuration `epoch`; `leading` as for [`Self::contact`].
    pub fn hello(&self, id: u64, leader: &str, is_us: bool, epoch: u64, leading: bool) {
        let now = self.stamp();
        let key = id.to_le_bytes();
        let (changed, until) = {
            let mut m = self.state.lock();
            m.max_epoch = m.max_epoch.max(epoch);
            m.awaiting_hello.remove(&key);
            let elsewhere = !is_us && epoch > m.floor;
            let changed = if elsewhere {
                m.elsewhere.insert(key)
            } else {
                m.elsewhere.remove(&key)
            };
            (changed.then_some(elsewhere), m.held_until(now))
        };
        self.held_until.store(until, Ordering::Release);
        if leading && self.enabled() {
            let sentinel = String::from_utf8_lossy(&key).into_owned();
            match changed {
                Some(true) => tracing::warn!(
                    sentinel,
                    leader,
                    epoch,
                    "leader lease: sentinel {sentinel} names another leader ({leader}, config epoch {epoch}); its contacts no longer renew the lease"
                ),
                Some(false) => tracing::info!(
                    sentinel,
                    "leader lease: sentinel {sentinel} names this node as leader again"
                ),
                None => {}
            }
            if until != u64::MAX {
                self.note(now < until);
            }
        }
    }

    /// This node was just promoted: hellos naming other nodes at epochs seen so far are
    /// the old configuration, not a newer failover.
    pub fn became_leader(&self) {
        let now = self.stamp();
        let mut m = self.state.lock();
        m.floor = m.max_epoch;
        m.elsewhere.clear();
        self.held_until.store(m.held_until(now), Ordering::Release);
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
            let LeaseCounts {
                reached,
                known,
                lease_ms,
                ..
            } = self.counts();
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

    /// For INFO: sentinels heard within the lease (those naming us), sentinels known,
    /// sentinels naming another leader, lease ms.
    pub fn counts(&self) -> LeaseCounts {
        let now = self.stamp();
        let m = self.state.lock();
        let reached = m
            .last_contact
            .iter()
            .filter(|(id, t)| m.renews(id) && now.saturating_sub(**t) < m.lease_ms)
            .count();
        LeaseCounts {
            reached,
            known: m.last_contact.len(),
            elsewhere: m.elsewhere.len(),
            lease_ms: m.lease_ms,
        }
    }
}

/// The lease's state as INFO reports it.
pub struct LeaseCounts {
    /// Sentinels naming us that reached us within the lease.
    pub reached: usize,
    /// Sentinels known (the majority is of these).
    pub known: usize,
    /// Sentinels naming another leader.
    pub elsewhere: usize,
    /// `leader-lease-ms`.
    pub lease_ms: u64,
}

impl Members {
    /// Whether sentinel `id`'s contacts renew the lease: it has said, since it was last
    /// out of touch, that it follows us.
    fn renews(&self, id: &[u8; 8]) -> bool {
        !self.elsewhere.contains(id) && !self.awaiting_hello.contains(id)
    }

    /// The stamp until which the lease holds with the contacts as they are: the
    /// majority-th most recent contact plus the lease (u64::MAX with the lease off).
    fn held_until(&self, now: u64) -> u64 {
        if self.lease_ms == 0 {
            return u64::MAX;
        }
        if now.saturating_sub(self.learning_since) < LEARN_MS {
            return 0;
        }
        let known = self.last_contact.len();
        let mut stamps: Vec<u64> = self
            .last_contact
            .iter()
            .filter(|(id, _)| self.renews(id))
            .map(|(_, t)| *t)
            .collect();
        let majority = known / 2 + 1;
        if stamps.len() < majority {
            return 0;
        }
        stamps.sort_unstable_by(|a, b| b.cmp(a));
        stamps[majority - 1] + self.lease_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(lease_ms: u64, contacts: &[(&[u8; 8], u64)]) -> Members {
        Members {
            last_contact: contacts.iter().map(|(id, t)| (**id, *t)).collect(),
            elsewhere: HashSet::new(),
            awaiting_hello: HashSet::new(),
            max_epoch: 0,
            floor: 0,
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
    fn sentinels_naming_another_leader_at_a_newer_epoch_renew_nothing() {
        // Stamps from 10 s on, so the learning period (from stamp 0) is over.
        let lease = LeaderLease {
            base: Instant::now() - std::time::Duration::from_secs(10),
            ..LeaderLease::default()
        };
        lease.configure(1500);
        {
            let mut m = lease.state.lock();
            m.learning_since = 0;
            for id in [b"aaaaaaaa", b"bbbbbbbb", b"cccccccc"] {
                m.last_contact.insert(*id, lease.stamp());
            }
        }
        let id = |s: &[u8; 8]| u64::from_le_bytes(*s);
        // Epoch 0 names us by an alias (a proxy): that is no newer failover.
        lease.hello(id(b"aaaaaaaa"), "10.0.0.9:7000", false, 0, true);
        assert!(lease.holds());
        // Two of three move to another leader at epoch 1: no majority renews us.
        lease.hello(id(b"aaaaaaaa"), "10.0.0.2:6379", false, 1, true);
        assert!(lease.holds());
        lease.hello(id(b"bbbbbbbb"), "10.0.0.2:6379", false, 1, true);
        assert!(!lease.holds());
        assert_eq!(lease.counts().elsewhere, 2);
        // Promoted ourselves afterwards: epoch 1 hellos naming the old leader are stale.
        lease.became_leader();
        assert!(lease.holds());
        lease.hello(id(b"aaaaaaaa"), "10.0.0.2:6379", false, 1, true);
        assert!(lease.holds());
        lease.hello(id(b"aaaaaaaa"), "10.0.0.3:6379", false, 2, true);
        lease.hello(id(b"bbbbbbbb"), "10.0.0.3:6379", false, 2, true);
        assert!(!lease.holds());
        // Named as leader again: counts again.
        lease.hello(id(b"bbbbbbbb"), "10.0.0.1:6379", true, 3, true);
        assert!(lease.holds());
    }

    #[test]
    fn a_sentinel_back_from_a_silence_renews_only_after_its_hello() {
        let lease = LeaderLease {
            base: Instant::now() - std::time::Duration::from_secs(10),
            ..LeaderLease::default()
        };
        lease.configure(1500);
        lease.state.lock().learning_since = 0;
        let ids = [b"aaaaaaaa", b"bbbbbbbb", b"cccccccc"].map(|s| u64::from_le_bytes(*s));
        for id in ids {
            lease.contact(id, true);
        }
        // Contacts alone (a first one, or one after a silence): no lease yet.
        assert!(!lease.holds());
        lease.hello(ids[0], "127.0.0.1:6379", true, 0, true);
        assert!(!lease.holds());
        lease.hello(ids[1], "127.0.0.1:6379", true, 0, true);
        assert!(lease.holds());
        assert_eq!(lease.counts().reached, 2);
    }

    #[test]
    fn hellos_and_addresses_parse() {
        let h = parse_hello(
            b"127.0.0.1,26379,0123456789abcdef0123456789abcdef01234567,3,mymaster,127.0.0.1,6380,2",
        );
        assert_eq!(
            h,
            Some((
                u64::from_le_bytes(*b"01234567"),
                "127.0.0.1".into(),
                6380,
                2
            ))
        );
        assert_eq!(parse_hello(b"127.0.0.1,26379,x"), None);
        assert!(names_this_node("127.0.0.1", 6379, &[6379], ""));
        assert!(!names_this_node("127.0.0.1", 6380, &[6379], ""));
        assert!(names_this_node(
            "203.0.113.7",
            7000,
            &[6379, 7000],
            "203.0.113.7"
        ));
        // Not an address of this host.
        assert!(!names_this_node("203.0.113.7", 6379, &[6379], ""));
    }

    #[test]
    fn sentinel_names_parse() {
        assert!(sentinel_id(b"sentinel-1a2b3c4d-cmd").is_some());
        assert_eq!(sentinel_id(b"sentinel-1a2b3c4d-pubsub"), None);
        assert_eq!(sentinel_id(b"sentinel-1a2b-cmd"), None);
        assert_eq!(sentinel_id(b"worker"), None);
    }
}
