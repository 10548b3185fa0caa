//! The server: shared state, the listener, connection tasks and background jobs.

pub mod aof;
pub mod aof_commands;
pub mod aof_manifest;
pub mod client;
pub mod connection;
pub mod cron;
pub mod latency_monitor;
pub mod listener;
pub mod persistence;
pub mod process;
pub mod pubsub;
pub mod reply_buffer;
pub mod tls;

use crate::commands::{Client, Command, CommandTable, flags};
use crate::config::Config;
use crate::protocol::ReplyBuf;
use crate::store::Store;
use bytes::Bytes;
use client::ClientHandle;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// Server-wide counters reported by INFO stats.
#[derive(Default)]
pub struct Stats {
    /// `total_connections_received`.
    pub connections_received: AtomicU64,
    /// `total_commands_processed`.
    pub commands_processed: AtomicU64,
    /// `rejected_connections` (maxclients).
    pub rejected_connections: AtomicU64,
    /// `total_net_input_bytes`.
    pub net_input_bytes: AtomicU64,
    /// `total_net_output_bytes`.
    pub net_output_bytes: AtomicU64,
    /// `total_error_replies`.
    pub error_replies: AtomicU64,
    /// `client_query_buffer_limit_disconnections`.
    pub qbuf_limit_disconnections: AtomicU64,
    /// `client_output_buffer_limit_disconnections`.
    pub obuf_limit_disconnections: AtomicU64,
    /// `instantaneous_ops_per_sec`, refreshed by the cron.
    pub instantaneous_ops: AtomicU64,
    /// `sync_full`: full resynchronisations served.
    pub sync_full: AtomicU64,
    /// `sync_partial_ok`: partial resynchronisations accepted.
    pub sync_partial_ok: AtomicU64,
    /// `sync_partial_err`: partial resynchronisations refused (full sync instead).
    pub sync_partial_err: AtomicU64,
}

/// One SLOWLOG entry.
#[derive(Clone, Debug)]
pub struct SlowEntry {
    /// Monotonic id.
    pub id: u64,
    /// Unix seconds.
    pub time: u64,
    /// Microseconds spent.
    pub micros: u64,
    /// Arguments, truncated as Redis does.
    pub args: Vec<Bytes>,
    /// Client address.
    pub addr: String,
    /// Client name.
    pub name: String,
}

/// The slow log ring.
#[derive(Default)]
pub struct SlowLog {
    /// Newest first.
    pub entries: VecDeque<SlowEntry>,
    /// Next id.
    pub next_id: u64,
}

/// CLIENT PAUSE state.
#[derive(Clone, Copy, Debug)]
pub struct Pause {
    /// Unix ms when the pause ends.
    pub until_ms: u64,
    /// True for `ALL`, false for `WRITE`.
    pub all: bool,
}

/// Everything shared between connection tasks.
pub struct Server {
    /// A handle to itself, for work handed to background threads (BGSAVE).
    me: std::sync::Weak<Server>,
    /// Configuration.
    pub config: Config,
    /// The keyspace.
    pub store: Store,
    /// Pub/sub subscriptions.
    pub pubsub: pubsub::PubSub,
    /// The command table.
    pub commands: CommandTable,
    /// ACL users and the denial log.
    pub acl: crate::acl::Acl,
    /// TLS for outgoing links (`tls-replication yes`), set at startup.
    pub tls_connector: std::sync::OnceLock<tokio_rustls::TlsConnector>,
    /// Connected clients by id.
    pub clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    next_client_id: AtomicU64,
    /// Counters.
    pub stats: Stats,
    /// SLOWLOG.
    pub slowlog: Mutex<SlowLog>,
    monitors: Mutex<Vec<Arc<ClientHandle>>>,
    monitor_count: AtomicUsize,
    /// CLIENT PAUSE.
    pub pause: Mutex<Option<Pause>>,
    /// Fast check for the request path: true while a pause may be in force.
    pub pause_active: std::sync::atomic::AtomicBool,
    /// Woken on CLIENT UNPAUSE.
    pub unpause: Notify,
    /// Clients whose command CLIENT PAUSE holds (part of INFO blocked_clients).
    pub paused_clients: std::sync::atomic::AtomicUsize,
    /// `leader-lease-ms`: the sentinels' contacts that let this leader take writes.
    pub lease: crate::replication::lease::LeaderLease,
    /// Follower links of this leader (INFO replication, ROLE, WAIT).
    pub followers: Mutex<Vec<Arc<crate::replication::leader::Follower>>>,
    /// Followers waiting for a full-sync snapshot (shared by those that wait together).
    pub sync_queue: Mutex<crate::replication::leader::SyncQueue>,
    /// A coordinated FAILOVER in progress.
    pub switchover: Mutex<crate::replication::switchover::Switchover>,
    /// CLIENT TRACKING state.
    pub tracking: crate::tracking::Tracking,
    /// Clients blocked in BLPOP and friends.
    pub blocking: crate::commands::blocking::Blocking,
    /// Lua scripts: the cache and the run in progress.
    pub scripts: crate::scripting::Scripts,
    /// Function libraries (FUNCTION LOAD, FCALL).
    pub functions: crate::scripting::functions::Functions,
    /// The leader this node follows, if any (REPLICAOF), and the link state.
    pub follower: crate::replication::follower::SharedFollowerState,
    /// Woken whenever a follower acknowledges (WAIT).
    pub ack_notify: Notify,
    /// Unix ms of the last PING sent down the replication stream.
    pub last_repl_ping_ms: AtomicU64,
    /// Error replies by code (`ERR`, `WRONGTYPE`...), for INFO errorstats.
    pub errorstats: Mutex<HashMap<String, u64>>,
    /// Set to true to stop the server.
    pub shutdown: watch::Sender<bool>,
    /// 40-hex run id.
    pub run_id: String,
    /// Process start.
    pub started: Instant,
    /// The TCP port actually bound.
    pub port: AtomicU16,
    /// The tasks accepting plain TCP connections (replaced when `port` or `bind` change).
    pub plain_accept_loops: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Unix seconds of the last successful save (start time until one happens).
    pub lastsave: AtomicU64,
    /// Write commands since the last save (`rdb_changes_since_last_save`).
    pub dirty: AtomicU64,
    /// The active expire cycle runs (DEBUG SET-ACTIVE-EXPIRE 0 stops it, so tests can
    /// watch keys expire on access only).
    pub active_expire: std::sync::atomic::AtomicBool,
    /// DEBUG PAUSE-CRON 1: the cron does nothing (tests that need no background work,
    /// such as enforcing the tracking table's limit, in between their commands).
    pub cron_paused: std::sync::atomic::AtomicBool,
    /// LATENCY LATEST / HISTORY: slow commands and cycles over `latency-monitor-threshold`.
    pub latency: latency_monitor::LatencyMonitor,
    /// How connections size their reply buffers (DEBUG REPLYBUFFER).
    pub reply_buffers: reply_buffer::Policy,
    /// The append-only file while `appendonly yes`.
    pub aof: aof::Aof,
    /// Successful saves (`rdb_saves`).
    pub rdb_saves: AtomicU64,
    /// Outcome of the last background save (`rdb_last_bgsave_status`).
    pub last_bgsave_ok: std::sync::atomic::AtomicBool,
    /// Unix seconds when the last background save finished or failed (retry pacing).
    pub last_bgsave_try: AtomicU64,
    /// BGSAVE SCHEDULE arrived while one was running: start another when it ends.
    pub bgsave_scheduled: std::sync::atomic::AtomicBool,
    /// The cron's current frequency: `hz`, raised with many clients under `dynamic-hz`.
    pub effective_hz: AtomicU64,
    /// BGREWRITEAOF's state (INFO `aof_*`).
    pub aof_rewrite: persistence::AofRewriteState,
    /// MIGRATE's kept connections to its targets.
    pub migrate_sockets: crate::commands::migrate::SocketCache,
}

/// Redis's `islocalClient`: only 127.0.0.1 and ::1 count as local (not the rest of
/// 127.0.0.0/8), for protected mode and the `local` setting of protected actions.
pub fn is_local_address(ip: std::net::IpAddr) -> bool {
    ip == std::net::IpAddr::from([127, 0, 0, 1]) || ip == std::net::Ipv6Addr::LOCALHOST
}

impl Server {
    /// Builds the shared state from a loaded configuration whose `rename-command`
    /// directives are known to be valid (panics otherwise; see [`Server::try_new`]).
    pub fn new(config: Config) -> Arc<Self> {
        Self::try_new(config).unwrap_or_else(|e| panic!("invalid configuration: {e}"))
    }

    /// Builds the shared state; fails on a `rename-command` naming no command.
    pub fn try_new(config: Config) -> Result<Arc<Self>, String> {
        let (tx, _) = watch::channel(false);
        let mut commands = CommandTable::new(crate::commands::all_commands());
        for (old, new) in config.renames.lock().iter() {
            commands
                .rename(old, new)
                .map_err(|e| format!("rename-command {old} {new}: {e}"))?;
        }
        let acl = crate::acl::Acl::new(&commands);
        acl.set_default_password(&config.get("requirepass").unwrap_or_default());
        let srv = Arc::new_cyclic(|me| Server {
            me: me.clone(),
            config,
            store: Store::default(),
            pubsub: pubsub::PubSub::default(),
            commands,
            acl,
            tls_connector: std::sync::OnceLock::new(),
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            stats: Stats::default(),
            slowlog: Mutex::new(SlowLog::default()),
            monitors: Mutex::new(Vec::new()),
            monitor_count: AtomicUsize::new(0),
            pause: Mutex::new(None),
            pause_active: std::sync::atomic::AtomicBool::new(false),
            unpause: Notify::new(),
            paused_clients: Default::default(),
            errorstats: Mutex::new(HashMap::new()),
            lease: Default::default(),
            followers: Mutex::new(Vec::new()),
            sync_queue: Mutex::new(Default::default()),
            switchover: Mutex::new(Default::default()),
            tracking: Default::default(),
            blocking: Default::default(),
            scripts: Default::default(),
            functions: Default::default(),
            last_repl_ping_ms: AtomicU64::new(0),
            ack_notify: Notify::new(),
            follower: Mutex::new(Default::default()),
            shutdown: tx,
            run_id: crate::replication::log::new_replid(),
            started: Instant::now(),
            port: AtomicU16::new(0),
            plain_accept_loops: Mutex::new(Vec::new()),
            lastsave: AtomicU64::new(crate::base::now_ms() / 1000),
            dirty: AtomicU64::new(0),
            active_expire: std::sync::atomic::AtomicBool::new(true),
            cron_paused: std::sync::atomic::AtomicBool::new(false),
            latency: latency_monitor::LatencyMonitor::default(),
            reply_buffers: reply_buffer::Policy::default(),
            aof: aof::Aof::default(),
            rdb_saves: AtomicU64::new(0),
            last_bgsave_ok: std::sync::atomic::AtomicBool::new(true),
            last_bgsave_try: AtomicU64::new(0),
            bgsave_scheduled: std::sync::atomic::AtomicBool::new(false),
            effective_hz: AtomicU64::new(10),
            aof_rewrite: persistence::AofRewriteState::new(),
            migrate_sockets: Default::default(),
        });
        // Keyspace events are published to this server's subscribers (a weak handle: the
        // store lives inside the server).
        let me = Arc::downgrade(&srv);
        srv.store.events.set_sink(Box::new(move |channel, message| {
            if let Some(srv) = me.upgrade() {
                srv.pubsub
                    .publish(channel, message, |c, msg| srv.deliver(c, msg));
            }
        }));
        for p in crate::config::params::PARAMS {
            srv.apply_setting(p.name);
        }
        Ok(srv)
    }

    /// Carries a configuration parameter into the server parts that are not the config
    /// itself (the store's lazy-free switches, jemalloc, the process's OOM score); called
    /// at startup for every parameter and after each CONFIG SET.
    pub fn apply_setting(&self, name: &str) {
        use crate::store::lazyfree::FreeReason;
        let yes = || self.config.get(name).as_deref() == Some("yes");
        if let Some(reason) = FreeReason::ALL.iter().find(|r| r.setting() == name) {
            self.store.lazyfree.set(*reason, yes());
            return;
        }
        match name {
            "jemalloc-bg-thread" => {
                let want = yes();
                if tikv_jemalloc_ctl::background_thread::read().ok() != Some(want)
                    && let Err(e) = tikv_jemalloc_ctl::background_thread::write(want)
                {
                    tracing::warn!(error = %e, "could not switch jemalloc's background thread");
                }
            }
            "oom-score-adj" | "oom-score-adj-values" => process::apply_oom_score(self),
            "leader-lease-ms" => self
                .lease
                .configure(self.config.get_i64(name).max(0) as u64),
            "appendfsync" => self
                .aof
                .set_fsync(&self.config.get(name).unwrap_or_default()),
            "maxmemory"
            | "maxmemory-policy"
            | "maxmemory-samples"
            | "maxmemory-eviction-tenacity"
            | "replica-ignore-maxmemory"
            | "lfu-log-factor"
            | "lfu-decay-time" => {
                let e = &self.store.evictor.settings;
                let v = self.config.get_i64(name).max(0);
                match name {
                    "maxmemory" => e.maxmemory.store(v as u64, Ordering::Relaxed),
                    "maxmemory-policy" => e.set_policy(&self.config.get(name).unwrap_or_default()),
                    "maxmemory-samples" => e.samples.store(v as u32, Ordering::Relaxed),
                    "maxmemory-eviction-tenacity" => e.tenacity.store(v as u32, Ordering::Relaxed),
                    "lfu-log-factor" => e.lfu_log_factor.store(v as u32, Ordering::Relaxed),
                    "lfu-decay-time" => e.lfu_decay_time.store(v as u32, Ordering::Relaxed),
                    _ => e.replica_ignore.store(yes(), Ordering::Relaxed),
                }
            }
            "set-max-intset-entries"
            | "hash-max-listpack-entries"
            | "hash-max-listpack-value"
            | "zset-max-listpack-entries"
            | "zset-max-listpack-value"
            | "hll-sparse-max-bytes"
            | "stream-node-max-bytes"
            | "stream-node-max-entries" => {
                if let Some(limit) = self.store.encoding.by_setting(name) {
                    let v = self.config.get_i64(name).max(0) as usize;
                    limit.store(v, Ordering::Relaxed);
                }
            }
            "notify-keyspace-events" => {
                let classes = self.config.get(name).unwrap_or_default();
                let flags = crate::store::notify::parse_classes(&classes).unwrap_or(0);
                self.store.events.set_flags(flags);
            }
            _ => {}
        }
    }

    /// Writes an error reply and counts it (total_error_replies, errorstats).
    pub fn reply_error(
        &self,
        out: &mut crate::protocol::ReplyBuf,
        err: &crate::commands::CmdError,
    ) {
        let text = err.to_string();
        if !matches!(err, crate::commands::CmdError::Counted(_)) {
            self.count_error(&text);
        }
        out.error(&text);
    }

    /// Counts an error reply (`total_error_replies` and INFO errorstats) by its code.
    pub fn count_error(&self, text: &str) {
        self.stats.error_replies.fetch_add(1, Ordering::Relaxed);
        let code = text.split_whitespace().next().unwrap_or("ERR");
        let mut stats = self.errorstats.lock();
        // Bounded like Redis's errorstats (128 distinct codes at most).
        if stats.contains_key(code) || stats.len() < 128 {
            *stats.entry(code.to_string()).or_insert(0) += 1;
        }
    }

    /// An owning handle to this server (it always exists while a method runs).
    pub fn arc(&self) -> Option<Arc<Server>> {
        self.me.upgrade()
    }

    /// Allocates a client id.
    pub fn next_client_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Asks every task to stop.
    pub fn request_shutdown(&self) {
        // What the AOF received is on disk before the process goes.
        self.aof.flush();
        let _ = self.shutdown.send(true);
    }

    /// Queues a message for another client, enforcing its output buffer limit: a client
    /// over the hard limit, or over the soft limit for too long, is disconnected.
    pub fn deliver(&self, target: &ClientHandle, msg: Bytes) {
        if target.killed.load(Ordering::Relaxed) {
            return;
        }
        target.outbox.push(msg);
        self.enforce_output_limit(target);
    }

    /// Appends replication stream bytes for a follower link (coalesced with what is
    /// already queued), under the same output buffer limit as [`Server::deliver`].
    pub fn deliver_stream(&self, target: &ClientHandle, bytes: &[u8]) {
        if target.killed.load(Ordering::Relaxed) {
            return;
        }
        target.outbox.push_slice(bytes);
        self.enforce_output_limit(target);
    }

    /// Kills `target` when its pending output (queued messages plus unwritten replies) is
    /// over its class's hard limit, or over the soft limit for too long. Returns true if so.
    pub fn enforce_output_limit(&self, target: &ClientHandle) -> bool {
        let limit = if target.replica.load(Ordering::Relaxed) {
            *self.config.live.replica_limit.read()
        } else if target.is_pubsub() {
            *self.config.live.pubsub_limit.read()
        } else {
            *self.config.live.normal_limit.read()
        };
        let pending = (target.outbox.pending.load(Ordering::Relaxed)
            + target.obuf.load(Ordering::Relaxed)) as u64;
        let mut over = limit.hard > 0 && pending > limit.hard;
        if limit.soft > 0 && pending > limit.soft {
            // The clock is read only over the soft limit: this runs on every fan-out.
            let now = crate::base::now_ms();
            let since = target.soft_since_ms.load(Ordering::Relaxed);
            if since == 0 {
                target.soft_since_ms.store(now, Ordering::Relaxed);
            } else if now.saturating_sub(since) >= limit.soft_seconds.saturating_mul(1000) {
                over = true;
            }
        } else if target.soft_since_ms.load(Ordering::Relaxed) != 0 {
            target.soft_since_ms.store(0, Ordering::Relaxed);
        }
        if over {
            self.stats
                .obuf_limit_disconnections
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(client = target.id, addr = %target.addr, pending, "client scheduled to be closed ASAP for overcoming of output buffer limits");
            target.kill();
        }
        over
    }

    /// Turns MONITOR on for a client.
    pub fn add_monitor(&self, h: &Arc<ClientHandle>) {
        h.monitor.store(true, Ordering::Relaxed);
        let mut m = self.monitors.lock();
        m.push(h.clone());
        self.monitor_count.store(m.len(), Ordering::Release);
    }

    /// Forgets a client everywhere (disconnect). The handle is marked closed too: a
    /// follower link that went away must stop receiving the replication stream (writers
    /// drop closed subscribers), or its outbox would grow until the output limit.
    pub fn remove_client(&self, id: u64) {
        if let Some(h) = self.clients.lock().remove(&id) {
            h.killed.store(true, Ordering::Release);
        }
        self.tracking.disable(self, id);
        self.followers.lock().retain(|f| f.handle.id != id);
        if self.monitor_count.load(Ordering::Acquire) > 0 {
            let mut m = self.monitors.lock();
            m.retain(|h| h.id != id);
            self.monitor_count.store(m.len(), Ordering::Release);
        }
    }

    /// Records a latency-monitor sample for `event` if `elapsed` reaches
    /// `latency-monitor-threshold`.
    pub fn latency_sample(&self, event: &str, elapsed: Duration) {
        let threshold = self
            .config
            .live
            .latency_monitor_threshold
            .load(Ordering::Relaxed);
        if threshold > 0 {
            self.latency
                .add_sample_if_needed(threshold, event, elapsed.as_millis() as u64);
        }
    }

    /// Delivers the invalidations the last write caused (CLIENT TRACKING); `origin` is
    /// the client that wrote, for NOLOOP.
    pub fn deliver_invalidations(&self, origin: Option<u64>) {
        if let Some((keys, flushed)) = self.store.invalidations.take() {
            self.tracking
                .invalidate(self, keys, flushed, origin, None, true);
        } else if self.tracking.bcast_waiting.load(Ordering::Relaxed) {
            // BCAST keys a transaction's commands left pending.
            self.tracking
                .invalidate(self, Vec::new(), false, origin, None, true);
        }
    }

    /// Inside a transaction, between its commands: invalidates the keys the commands so
    /// far changed for the clients that read them, before the next command registers its
    /// own reads (a key written then read stays tracked). BCAST messages wait for the end.
    pub fn deliver_key_invalidations(&self, origin: Option<u64>) {
        if let Some((keys, flushed)) = self.store.invalidations.take() {
            self.tracking
                .invalidate(self, keys, flushed, origin, None, false);
        }
    }

    /// Delivers the invalidations of what happened before a command ran (keys evicted to
    /// make room for it): the client running it gets its own in `out`, ahead of the
    /// command's reply, as Redis sends them.
    pub fn deliver_invalidations_before_reply(&self, client: u64, out: &mut ReplyBuf) {
        if let Some((keys, flushed)) = self.store.invalidations.take() {
            self.tracking.invalidate(
                self,
                keys,
                flushed,
                Some(client),
                Some((client, out)),
                false,
            );
        }
    }

    /// Sends a command to every MONITOR client, in Redis's line format.
    pub fn feed_monitors(&self, client: &Client, cmd: &Command, args: &[Bytes]) {
        // Admin commands (and subcommands: CONFIG SET, ACL SETUSER) are not shown, as in
        // Redis.
        if self.monitor_count.load(Ordering::Acquire) == 0
            || cmd.has(flags::SKIP_MONITOR)
            || cmd.effective_flags(args) & flags::ADMIN != 0
        {
            return;
        }
        self.feed_monitors_line(client, args);
    }

    /// A command a script runs, shown as Redis shows it: from `lua`.
    pub fn feed_monitors_from_script(&self, client: &Client, cmd: &Command, args: &[Bytes]) {
        if self.monitor_count.load(Ordering::Acquire) == 0
            || cmd.has(flags::SKIP_MONITOR)
            || cmd.effective_flags(args) & flags::ADMIN != 0
        {
            return;
        }
        self.monitor_line(client.db, "lua", client.handle.id, args);
    }

    /// Sends a command to every MONITOR client whatever its flags: EVAL and FCALL are
    /// `skip_monitor` and fed by hand before they run, so a script's commands follow it.
    pub fn feed_monitors_line(&self, client: &Client, args: &[Bytes]) {
        if self.monitor_count.load(Ordering::Acquire) == 0 {
            return;
        }
        let origin = client.handle.addr.to_string();
        self.monitor_line(client.db, &origin, client.handle.id, args);
    }

    /// Formats one MONITOR line (`<time> [<db> <origin>] "arg" ...`) and sends it to every
    /// monitor but the client `from`.
    fn monitor_line(&self, db: usize, origin: &str, from: u64, args: &[Bytes]) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = format!(
            "{}.{:06} [{} {}]",
            now.as_secs(),
            now.subsec_micros(),
            db,
            origin
        );
        for (i, a) in args.iter().enumerate() {
            if is_secret_arg(args, i) {
                line.push_str(" \"(redacted)\"");
                continue;
            }
            line.push_str(" \"");
            for &b in a.iter() {
                match b {
                    b'\\' => line.push_str("\\\\"),
                    b'"' => line.push_str("\\\""),
                    b'\n' => line.push_str("\\n"),
                    b'\r' => line.push_str("\\r"),
                    b'\t' => line.push_str("\\t"),
                    7 => line.push_str("\\a"),
                    8 => line.push_str("\\b"),
                    0x20..=0x7e => line.push(b as char),
                    _ => line.push_str(&format!("\\x{:02x}", b)),
                }
            }
            line.push('"');
        }
        let msg = Bytes::from(format!("+{}\r\n", line));
        let monitors = self.monitors.lock().clone();
        for m in monitors.iter().filter(|m| m.id != from) {
            self.deliver(m, msg.clone());
        }
    }

    /// Records a command in SLOWLOG when it ran longer than the threshold (secrets
    /// redacted, as Redis does).
    pub fn slowlog_record(&self, client: &ClientHandle, args: &[Bytes], elapsed: Duration) {
        let threshold = self.config.live.slowlog_slower_than.load(Ordering::Relaxed);
        let micros = elapsed.as_micros() as u64;
        if threshold < 0 || micros < threshold as u64 {
            return;
        }
        let max_len = self.config.live.slowlog_max_len.load(Ordering::Relaxed);
        let mut kept: Vec<Bytes> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i == 31 && args.len() > 32 {
                kept.push(Bytes::from(format!(
                    "... ({} more arguments)",
                    args.len() - 31
                )));
                break;
            }
            if is_secret_arg(args, i) {
                kept.push(Bytes::from_static(b"(redacted)"));
            } else if a.len() > 128 {
                let mut v = a[..128].to_vec();
                v.extend_from_slice(format!("... ({} more bytes)", a.len() - 128).as_bytes());
                kept.push(Bytes::from(v));
            } else {
                // A copy: a slice would pin the whole request buffer it came from.
                kept.push(Bytes::copy_from_slice(a));
            }
        }
        let mut log = self.slowlog.lock();
        let id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(SlowEntry {
            id,
            time: crate::base::now_ms() / 1000,
            micros,
            args: kept,
            addr: client.addr.to_string(),
            name: client.name.lock().clone(),
        });
        while log.entries.len() > max_len {
            log.entries.pop_back();
        }
    }

    /// Sets or clears CLIENT PAUSE, waking paused clients when it ends.
    pub fn set_pause(&self, pause: Option<Pause>) {
        let mut p = self.pause.lock();
        *p = pause;
        self.pause_active.store(pause.is_some(), Ordering::Release);
        self.store.hold_changes(pause.is_some());
        if pause.is_none() {
            self.unpause.notify_waiters();
        }
    }

    /// The CLIENT PAUSE in force and the milliseconds left of it (None when there is
    /// none); ends a pause whose time is up.
    fn pause_in_force(&self) -> Option<(Pause, u64)> {
        if !self.pause_active.load(Ordering::Acquire) {
            return None;
        }
        let p = (*self.pause.lock())?;
        let now = crate::base::now_ms();
        if p.until_ms <= now {
            self.set_pause(None);
            return None;
        }
        Some((p, p.until_ms - now))
    }

    /// Milliseconds left of the CLIENT PAUSE in force (None when there is none).
    pub fn pause_remaining_ms(&self) -> Option<u64> {
        self.pause_in_force().map(|(_, left)| left)
    }

    /// How long a command running with `cmd_flags` (`Client::command_flags`: an EXEC
    /// holding a write counts as one, as in Redis) must wait for CLIENT PAUSE (None: run
    /// now).
    pub fn paused_for(&self, cmd_flags: u32) -> Option<u64> {
        let (pause, left) = self.pause_in_force()?;
        let blocks = pause.all || cmd_flags & (flags::WRITE | flags::MAY_REPLICATE) != 0;
        blocks.then_some(left)
    }
}

/// Arguments SLOWLOG and MONITOR show as `(redacted)`, as Redis does: the rules of ACL
/// SETUSER (they carry passwords), AUTH, HELLO's and MIGRATE's credentials, and the
/// values of CONFIG SET requirepass/masterauth.
fn is_secret_arg(args: &[Bytes], i: usize) -> bool {
    let is = |j: usize, w: &str| {
        args.get(j)
            .is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()))
    };
    if is(0, "acl") && is(1, "setuser") {
        return i >= 2;
    }
    if is(0, "auth") {
        return i >= 1;
    }
    // HELLO [protover [AUTH username password] ...]
    if is(0, "hello") && i >= 3 {
        return is(i - 1, "auth") || is(i - 2, "auth");
    }
    // MIGRATE ... [AUTH password | AUTH2 username password] ... [KEYS ...]
    if is(0, "migrate") {
        let mut j = 6;
        while j < args.len() && j < i {
            if is(j, "keys") {
                break;
            }
            let secrets = if is(j, "auth") {
                1
            } else if is(j, "auth2") {
                2
            } else {
                0
            };
            if i > j && i <= j + secrets {
                return true;
            }
            j += 1 + secrets;
        }
        return false;
    }
    if is(0, "config") && is(1, "set") && i >= 3 && i % 2 == 1 {
        return is(i - 1, "requirepass") || is(i - 1, "masterauth");
    }
    false
}
