//! Per-client state: [`Client`], what only the connection's own task touches (grouped by
//! concern: transaction, subscriptions, tracking, the leader link, pending waits), and
//! [`ClientHandle`], what CLIENT LIST/KILL and message fan-out need to see of a connection
//! owned by another task.

use crate::commands::table::Command;
use crate::server::Server;
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use tokio::sync::Notify;

/// State of one connection that only its own task touches.
pub struct Client {
    /// The shared part (CLIENT LIST, fan-out).
    pub handle: Arc<ClientHandle>,
    /// Selected logical database.
    pub db: usize,
    /// Passed AUTH (or the default user needs no password).
    pub authenticated: bool,
    /// The ACL user this connection acts as.
    pub user: Arc<crate::acl::UserRef>,
    /// MULTI and WATCH.
    pub tx: Transaction,
    /// SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE.
    pub subs: Subscriptions,
    /// CLIENT REPLY: which replies this connection is sent.
    pub reply: ReplyMode,
    /// CLIENT TRACKING and CLIENT CACHING.
    pub tracking: TrackingState,
    /// Set when this connection is the link to our leader: its writes are applied even
    /// though we are read-only.
    pub leader: Option<LeaderLink>,
    /// Close after flushing replies (QUIT, protocol error, kill).
    pub close: bool,
    /// Replication offset reached by this client's last write (what WAIT waits for).
    pub last_write_offset: u64,
    /// A WAIT the connection task must finish asynchronously.
    pub pending_wait: Option<PendingWait>,
    /// A blocking pop the connection task must wait for (served or timed out).
    pub pending_block: Option<(
        Arc<crate::commands::blocking::Waiter>,
        Option<std::time::Instant>,
    )>,
    /// CLIENT PAUSE held the command back (nothing ran, nothing was replied).
    pub postponed: bool,
    /// True while a script's `redis.call` runs a command for this client: SORT then
    /// orders a set even under `BY nosort`, as stock does for scripts.
    pub in_script: bool,
}

/// MULTI/EXEC and WATCH state of one connection.
#[derive(Default)]
pub struct Transaction {
    /// Commands queued since MULTI (None outside MULTI).
    pub queued: Option<Vec<Vec<Bytes>>>,
    /// A queueing error happened: EXEC must abort.
    pub failed: bool,
    /// The flags of every queued command OR-ed (Redis's `mstate.cmd_flags`): EXEC is
    /// refused or paused as a write when it holds one.
    pub flags: u32,
    /// The flags some queued command lacks, OR-ed (Redis's `mstate.cmd_inv_flags`): EXEC
    /// is refused on a stale follower when one queued command is not STALE.
    pub inv_flags: u32,
    /// Raised by writers when a WATCHed key changes.
    pub watch_dirty: Arc<AtomicBool>,
    /// WATCHed keys: logical db and key. A key that expires after WATCH makes EXEC abort
    /// even if nothing deleted it yet, as Redis 7.0, unless its watch is stale (the
    /// registry's `WatchRegistry::is_stale`).
    pub watched: Vec<(usize, Bytes)>,
    /// Running queued commands in EXEC: blocking commands must not block.
    pub in_exec: bool,
}

/// Channels, patterns and shard channels one connection is subscribed to.
#[derive(Default)]
pub struct Subscriptions {
    /// Subscribed channels.
    pub channels: HashSet<Bytes>,
    /// Subscribed patterns.
    pub patterns: HashSet<Bytes>,
    /// Subscribed shard channels (SSUBSCRIBE).
    pub shard: HashSet<Bytes>,
}

impl Subscriptions {
    /// Subscriptions of every kind: while any is held a RESP2 connection is in
    /// subscribed mode.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }

    /// Channels and patterns, the count SUBSCRIBE/PSUBSCRIBE replies carry (shard
    /// channels are counted apart, in SSUBSCRIBE's replies, as stock counts them).
    pub fn global_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }
}

/// CLIENT REPLY ON|OFF|SKIP, as Redis's CLIENT_REPLY_OFF / _SKIP / _SKIP_NEXT flags.
/// Push messages (pub/sub, invalidations) are sent whatever the mode.
#[derive(Default, Debug, Clone, Copy)]
pub struct ReplyMode {
    /// OFF: nothing is replied until CLIENT REPLY ON.
    pub off: bool,
    /// The command running now is not replied to (the one after CLIENT REPLY SKIP).
    pub skip: bool,
    /// CLIENT REPLY SKIP ran: the next command is not replied to.
    pub skip_next: bool,
}

impl ReplyMode {
    /// True when the current command's replies are discarded.
    pub fn silenced(&self) -> bool {
        self.off || self.skip
    }

    /// After a command completes (Redis's resetClient): SKIP's mark moves on to the
    /// next command and is spent there.
    pub fn command_done(&mut self) {
        self.skip = std::mem::take(&mut self.skip_next);
    }
}

/// CLIENT TRACKING as this connection set it.
#[derive(Default)]
pub struct TrackingState {
    /// Tracking on, with its mode (a copy of what the tracking table holds).
    pub mode: Option<crate::tracking::Mode>,
    /// CLIENT CACHING yes/no applies to the next command.
    pub caching: bool,
}

/// What the connection that is our leader's link carries between commands.
#[derive(Default)]
pub struct LeaderLink {
    /// The exact stream bytes of the command being applied (buffer reused between
    /// commands). They are appended to our log inside the same write section as its
    /// effects, so a snapshot (a sub-follower's full sync, BGSAVE) never sees one without
    /// the other.
    pub raw: Vec<u8>,
    /// `raw` still has to be appended (the command has not run yet).
    pub raw_pending: bool,
    /// The REPLICAOF this link serves (`FollowerState::generation`). A command read from
    /// a replaced leader's connection is neither applied nor counted.
    pub generation: u64,
    /// A command arrived after a newer REPLICAOF: the link must close.
    pub stale: bool,
}

/// A WAIT in progress: reply with the count of followers at `target` or beyond once
/// `needed` of them are, or at `deadline`.
#[derive(Debug, Clone, Copy)]
pub struct PendingWait {
    /// Offset the followers must have acknowledged.
    pub target: u64,
    /// Followers wanted.
    pub needed: usize,
    /// When to give up (None: wait forever).
    pub deadline: Option<std::time::Instant>,
}

impl Client {
    /// A client for a fresh connection acting as `user`: authenticated from the start
    /// when that user is on and needs no password.
    pub fn new(handle: Arc<ClientHandle>, user: Arc<crate::acl::UserRef>) -> Self {
        Client {
            handle,
            db: 0,
            authenticated: user.open_without_auth(),
            user,
            tx: Transaction::default(),
            subs: Subscriptions::default(),
            reply: ReplyMode::default(),
            tracking: TrackingState::default(),
            leader: None,
            close: false,
            last_write_offset: 0,
            pending_wait: None,
            pending_block: None,
            postponed: false,
            in_script: false,
        }
    }

    /// This connection applies our leader's stream (writes allowed on a follower, no ACL
    /// checks, nothing replied).
    pub fn is_leader_link(&self) -> bool {
        self.leader.is_some()
    }

    /// Leaves MULTI (EXEC, DISCARD, an aborted EXEC): returns the queue and drops the
    /// WATCHes.
    pub fn end_transaction(&mut self, srv: &Server) -> Option<Vec<Vec<Bytes>>> {
        let q = self.tx.queued.take();
        self.tx.failed = false;
        self.tx.flags = 0;
        self.tx.inv_flags = 0;
        self.handle.multi.store(-1, Ordering::Relaxed);
        self.unwatch(srv);
        q
    }

    /// The flags `cmd` runs with: its own (or its subcommand's), plus, for EXEC, those
    /// of the queued commands.
    pub fn command_flags(&self, cmd: &Command, args: &[Bytes]) -> u32 {
        let own = cmd.flags | cmd.effective_flags(args);
        if cmd.runs_queue() && self.tx.queued.is_some() {
            own | self.tx.flags
        } else {
            own
        }
    }

    /// Marks an open transaction as failed after a refused command, so EXEC aborts it
    /// (Redis's flagTransaction); outside MULTI it does nothing.
    pub fn flag_transaction(&mut self) {
        if self.tx.queued.is_some() {
            self.tx.failed = true;
        }
    }

    /// Drops WATCHes (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&mut self, srv: &Server) {
        if !self.tx.watched.is_empty() {
            srv.store.watches.unwatch_all(&self.tx.watch_dirty);
            self.tx.watched.clear();
        }
        self.tx.watch_dirty.store(false, Ordering::Release);
    }
}

/// Where a client stands with WAIT, so CLIENT UNBLOCK can end one from another connection.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitState {
    /// Not waiting.
    Idle = 0,
    /// Blocked in WAIT.
    Waiting = 1,
    /// CLIENT UNBLOCK [TIMEOUT]: answer with the count now, as at a timeout.
    UnblockedTimeout = 2,
    /// CLIENT UNBLOCK ERROR: answer `-UNBLOCKED`.
    UnblockedError = 3,
}

impl ClientHandle {
    /// CLIENT UNBLOCK for a client in WAIT: true when it was waiting (it answers now).
    pub fn unblock_wait(&self, as_error: bool) -> bool {
        let to = if as_error {
            WaitState::UnblockedError
        } else {
            WaitState::UnblockedTimeout
        };
        let done = self
            .wait_state
            .compare_exchange(
                WaitState::Waiting as u8,
                to as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if done {
            self.outbox.notify.notify_one();
        }
        done
    }
}

/// Messages pushed to a client by others (pub/sub, MONITOR), bounded by its output limit.
#[derive(Default, Debug)]
pub struct Outbox {
    queue: Mutex<OutboxQueue>,
    /// Bytes queued and not yet written.
    pub pending: AtomicUsize,
    /// Wakes the owning connection when something is queued or it must close.
    pub notify: Notify,
}

#[derive(Default, Debug)]
struct OutboxQueue {
    messages: VecDeque<Bytes>,
    /// Small pieces appended by [`Outbox::push_slice`] after the last message, coalesced
    /// so a stream of small writes costs one buffer and one wake-up, not one each.
    tail: BytesMut,
}

impl OutboxQueue {
    fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.tail.is_empty()
    }
}

impl Outbox {
    /// Queues a pre-encoded message and wakes the connection.
    pub fn push(&self, msg: Bytes) {
        self.pending.fetch_add(msg.len(), Ordering::Relaxed);
        let mut q = self.queue.lock();
        if !q.tail.is_empty() {
            let tail = q.tail.split().freeze();
            q.messages.push_back(tail);
        }
        q.messages.push_back(msg);
        drop(q);
        self.notify.notify_one();
    }

    /// Appends a copy of `bytes`, waking the connection only when the queue was empty:
    /// the replication stream's many small writes reach a follower link as one buffer.
    pub fn push_slice(&self, bytes: &[u8]) {
        self.pending.fetch_add(bytes.len(), Ordering::Relaxed);
        let mut q = self.queue.lock();
        let was_empty = q.is_empty();
        q.tail.extend_from_slice(bytes);
        drop(q);
        if was_empty {
            self.notify.notify_one();
        }
    }

    /// Takes everything queued.
    pub fn drain(&self) -> Vec<Bytes> {
        let mut q = self.queue.lock();
        let mut v: Vec<Bytes> = q.messages.drain(..).collect();
        if !q.tail.is_empty() {
            v.push(q.tail.split().freeze());
        }
        drop(q);
        let n: usize = v.iter().map(|b| b.len()).sum();
        self.pending.fetch_sub(n, Ordering::Relaxed);
        v
    }
}

/// The part of a client visible to other tasks.
#[derive(Debug)]
pub struct ClientHandle {
    /// CLIENT ID.
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// The socket's file descriptor (CLIENT LIST `fd=`).
    pub fd: i32,
    /// Unix ms when connected.
    pub created_ms: u64,
    /// Unix ms of the last command.
    pub last_cmd_ms: AtomicU64,
    /// CLIENT SETNAME.
    pub name: Mutex<String>,
    /// The sentinel id the name carries (`sentinel-<id8>-cmd`), 0 for other clients: its
    /// commands renew the leader lease.
    pub sentinel_id: AtomicU64,
    /// CLIENT SETINFO lib-name / lib-ver.
    pub lib: Mutex<(String, String)>,
    /// Selected database.
    pub db: AtomicUsize,
    /// Channel subscriptions.
    pub sub: AtomicUsize,
    /// Pattern subscriptions.
    pub psub: AtomicUsize,
    /// Shard channel subscriptions.
    pub ssub: AtomicUsize,
    /// Commands queued in MULTI, or -1 outside one.
    pub multi: AtomicI64,
    /// Last command name, for CLIENT LIST `cmd=`.
    pub last_cmd: Mutex<(&'static str, &'static str)>,
    /// Query buffer bytes, output buffer bytes (refreshed per batch).
    pub qbuf: AtomicUsize,
    /// Unused room in the query buffer (CLIENT LIST `qbuf-free`).
    pub qbuf_free: AtomicUsize,
    /// The reply buffer size kept between writes (CLIENT LIST `rbs`).
    pub rbs: AtomicUsize,
    /// The recent peak of the reply buffer (CLIENT LIST `rbp`).
    pub rbp: AtomicUsize,
    /// Output bytes waiting on the socket.
    pub obuf: AtomicUsize,
    /// RESP version (2 or 3).
    pub resp: AtomicUsize,
    /// Set by CLIENT KILL / limits: the connection closes at its next wake-up.
    pub killed: AtomicBool,
    /// In MONITOR mode.
    pub monitor: AtomicBool,
    /// CLIENT NO-EVICT on.
    pub no_evict: AtomicBool,
    /// Blocked in a pop, XREAD or similar (CLIENT LIST flag `b`).
    pub blocked: AtomicBool,
    /// WAIT in progress and how CLIENT UNBLOCK ended it (see [`WaitState`]).
    pub wait_state: std::sync::atomic::AtomicU8,
    /// Authenticated user name ("default").
    pub user: Mutex<String>,
    /// Messages from other clients.
    pub outbox: Outbox,
    /// Unix ms since when the pub/sub output has been over the soft limit (0 = not).
    pub soft_since_ms: AtomicU64,
    /// This connection is a follower's replication link (after PSYNC).
    pub replica: AtomicBool,
    /// REPLCONF ip-address (the follower's replica-announce-ip).
    pub repl_ip: Mutex<Option<String>>,
    /// REPLCONF listening-port.
    pub repl_port: std::sync::atomic::AtomicU16,
    /// REPLCONF capa eof: the follower takes a diskless (EOF-marked) snapshot.
    pub repl_capa_eof: AtomicBool,
    /// Last offset the follower acknowledged (REPLCONF ACK).
    pub repl_ack_offset: AtomicU64,
    /// Unix ms of the follower's last ACK.
    pub repl_ack_ms: AtomicU64,
}

impl ClientHandle {
    /// A fresh handle for a new connection.
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, fd: i32) -> Self {
        let now = crate::base::now_ms();
        ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created_ms: now,
            last_cmd_ms: AtomicU64::new(now),
            name: Mutex::new(String::new()),
            sentinel_id: AtomicU64::new(0),
            lib: Mutex::new((String::new(), String::new())),
            db: AtomicUsize::new(0),
            sub: AtomicUsize::new(0),
            psub: AtomicUsize::new(0),
            ssub: AtomicUsize::new(0),
            multi: AtomicI64::new(-1),
            last_cmd: Mutex::new(("NULL", "")),
            qbuf: AtomicUsize::new(0),
            qbuf_free: AtomicUsize::new(0),
            rbs: AtomicUsize::new(crate::server::reply_buffer::CHUNK),
            rbp: AtomicUsize::new(0),
            obuf: AtomicUsize::new(0),
            resp: AtomicUsize::new(2),
            killed: AtomicBool::new(false),
            monitor: AtomicBool::new(false),
            no_evict: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            wait_state: std::sync::atomic::AtomicU8::new(WaitState::Idle as u8),
            user: Mutex::new("default".into()),
            outbox: Outbox::default(),
            soft_since_ms: AtomicU64::new(0),
            replica: AtomicBool::new(false),
            repl_ip: Mutex::new(None),
            repl_port: std::sync::atomic::AtomicU16::new(0),
            repl_capa_eof: AtomicBool::new(false),
            repl_ack_offset: AtomicU64::new(0),
            repl_ack_ms: AtomicU64::new(now),
        }
    }

    /// Asks the owning connection to close.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.outbox.notify.notify_one();
    }

    /// True for pub/sub clients (output limit class).
    pub fn is_pubsub(&self) -> bool {
        self.sub.load(Ordering::Relaxed)
            + self.psub.load(Ordering::Relaxed)
            + self.ssub.load(Ordering::Relaxed)
            > 0
    }

    /// One CLIENT LIST / CLIENT INFO line.
    pub fn info_line(&self) -> String {
        let now = crate::base::now_ms();
        let mut flags = String::new();
        if self.monitor.load(Ordering::Relaxed) {
            flags.push('O');
        }
        if self.replica.load(Ordering::Relaxed) {
            flags.push('S');
        }
        if self.is_pubsub() {
            flags.push('P');
        }
        if self.multi.load(Ordering::Relaxed) >= 0 {
            flags.push('x');
        }
        if self.blocked.load(Ordering::Relaxed)
            || self.wait_state.load(Ordering::Relaxed) == WaitState::Waiting as u8
        {
            flags.push('b');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let (lib_name, lib_ver) = self.lib.lock().clone();
        let qbuf = self.qbuf.load(Ordering::Relaxed);
        let qbuf_free = self.qbuf_free.load(Ordering::Relaxed);
        let obuf = self.obuf.load(Ordering::Relaxed) + self.outbox.pending.load(Ordering::Relaxed);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl={} oll=0 omem={} tot-mem={} events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name.lock(),
            now.saturating_sub(self.created_ms) / 1000,
            now.saturating_sub(self.last_cmd_ms.load(Ordering::Relaxed)) / 1000,
            flags,
            self.db.load(Ordering::Relaxed),
            self.sub.load(Ordering::Relaxed),
            self.psub.load(Ordering::Relaxed),
            self.ssub.load(Ordering::Relaxed),
            self.multi.load(Ordering::Relaxed),
            qbuf,
            qbuf_free,
            self.rbs.load(Ordering::Relaxed),
            self.rbp.load(Ordering::Relaxed),
            obuf,
            obuf,
            qbuf + qbuf_free + self.rbs.load(Ordering::Relaxed) + obuf,
            {
                let (name, sub) = *self.last_cmd.lock();
                if sub.is_empty() {
                    name.to_string()
                } else {
                    format!("{}|{}", name, sub)
                }
            },
            self.user.lock(),
            self.resp.load(Ordering::Relaxed),
            lib_name,
            lib_ver
        )
    }
}
