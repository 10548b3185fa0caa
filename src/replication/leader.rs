//! The leader side of replication: PSYNC (partial from the backlog, or full: a fork-free
//! snapshot streamed as RDB, then the writes after its offset), REPLCONF, follower state
//! for INFO/ROLE, and the stream fan-out to each follower link.

use crate::server::Server;
use crate::server::client::ClientHandle;
use crate::store::StreamSubscriber;
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Where a follower link is in its life (INFO `state=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting for a snapshot slot.
    WaitBgsave,
    /// Receiving the snapshot; stream bytes are held back.
    SendBulk,
    /// Receiving the live stream.
    Online,
}

impl LinkState {
    /// The name Redis prints.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::WaitBgsave => "wait_bgsave",
            LinkState::SendBulk => "send_bulk",
            LinkState::Online => "online",
        }
    }
}

struct LinkInner {
    state: LinkState,
    /// Stream bytes produced while the snapshot is being sent.
    pending: BytesMut,
    /// The diskless snapshot is fully sent; the stream starts at the follower's first
    /// ACK (an EOF-marked transfer must end the bytes it reads, as Redis also waits).
    rdb_sent: bool,
}

/// One follower attached to this leader.
pub struct Follower {
    /// The follower's connection.
    pub handle: Arc<ClientHandle>,
    /// Attached by SYNC (the pre-PSYNC protocol): the snapshot comes without a
    /// `+FULLRESYNC` line.
    legacy: bool,
    inner: Mutex<LinkInner>,
    srv: std::sync::Weak<Server>,
}

impl Follower {
    /// Current link state.
    pub fn state(&self) -> LinkState {
        self.inner.lock().state
    }

    fn send(&self, bytes: &[u8]) {
        match self.srv.upgrade() {
            Some(srv) => srv.deliver_stream(&self.handle, bytes),
            None => self.handle.outbox.push_slice(bytes),
        }
    }

    /// The follower acknowledged an offset: after a diskless transfer, that means it has
    /// loaded the snapshot, so the stream may start.
    pub fn acked(&self) {
        if self.inner.lock().rdb_sent {
            self.go_online();
        }
    }

    /// Snapshot done: release the held-back stream, then stream live. Holding the link
    /// lock makes this atomic with respect to writers pushing new bytes.
    fn go_online(&self) {
        let mut inner = self.inner.lock();
        if inner.state == LinkState::Online {
            return;
        }
        inner.rdb_sent = false;
        let held = inner.pending.split().freeze();
        if !held.is_empty() {
            self.handle.outbox.push(held);
        }
        inner.state = LinkState::Online;
        tracing::info!(follower = %self.handle.addr, "Synchronization with replica succeeded");
    }
}

impl StreamSubscriber for Follower {
    fn push(&self, bytes: &[u8]) {
        let mut inner = self.inner.lock();
        if inner.state == LinkState::Online {
            drop(inner);
            self.send(bytes);
        } else {
            inner.pending.extend_from_slice(bytes);
            // The held-back stream counts toward the replica output limit, as in Redis:
            // a follower whose transfer outlasts the buffer is dropped (and retries).
            let held = inner.pending.len() + self.handle.outbox.pending.load(Ordering::Relaxed);
            let hard = self
                .srv
                .upgrade()
                .map_or(0, |srv| srv.config.live.replica_limit.read().hard);
            if hard > 0 && held as u64 > hard {
                inner.pending = BytesMut::new();
                drop(inner);
                tracing::warn!(follower = %self.handle.addr, held, "replica over its output buffer limit while syncing, closing it");
                self.handle.kill();
            }
        }
    }

    fn closed(&self) -> bool {
        self.handle.killed.load(Ordering::Relaxed)
    }
}

/// Followers waiting for the next full-sync snapshot. One sync thread at a time takes
/// everyone queued when its snapshot starts, so followers that ask together share one
/// snapshot (`repl-diskless-sync-delay` gives latecomers time to join, as in Redis).
#[derive(Default)]
pub struct SyncQueue {
    waiting: Vec<(Arc<Follower>, std::time::Instant)>,
    thread_running: bool,
}

/// One follower fed by a shared snapshot.
struct SyncTarget {
    follower: Arc<Follower>,
    /// The diskless end mark, or None for `$len` framing from the shared buffer.
    mark: Option<[u8; 40]>,
    alive: bool,
}

/// The snapshot's one writer, fanning each chunk out to every follower of the batch:
/// diskless followers get the chunk (shared, not copied) in their outbox as it is made;
/// the others get the whole buffered file with its length once it is complete.
struct FanOutWriter {
    targets: Vec<SyncTarget>,
    /// The file for `$len` followers, when there are any.
    buffered: Option<Vec<u8>>,
    /// The `replica` class hard output limit: a follower that falls this far behind the
    /// transfer is dropped (and will retry), so the leader's memory stays bounded.
    hard_limit: u64,
}

impl FanOutWriter {
    fn drop_target(t: &mut SyncTarget, why: &str) {
        t.alive = false;
        tracing::warn!(follower = %t.follower.handle.addr, "{why}");
        t.follower.handle.kill();
    }

    /// The file is complete: end each diskless transfer with its mark (the stream then
    /// starts at the follower's first ACK, as Redis waits too) and send the buffered
    /// file to the others, which go online at once.
    fn finish(self) -> std::io::Result<()> {
        let file = self.buffered.map(Bytes::from);
        for t in self
            .targets
            .iter()
            .filter(|t| t.alive && !t.follower.closed())
        {
            let out = &t.follower.handle.outbox;
            match (&t.mark, &file) {
                (Some(mark), _) => {
                    out.push(Bytes::copy_from_slice(mark));
                    t.follower.inner.lock().rdb_sent = true;
                }
                (None, Some(file)) => {
                    out.push(Bytes::from(format!("${}\r\n", file.len())));
                    out.push(file.clone());
                    t.follower.go_online();
                }
                (None, None) => {}
            }
        }
        Ok(())
    }
}

impl Write for FanOutWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let chunk = Bytes::copy_from_slice(buf);
        let mut any = false;
        for t in self.targets.iter_mut().filter(|t| t.alive) {
            if t.follower.closed() {
                t.alive = false;
                continue;
            }
            if t.mark.is_some() {
                let pending = t.follower.handle.outbox.pending.load(Ordering::Relaxed) as u64;
                if self.hard_limit > 0 && pending > self.hard_limit {
                    Self::drop_target(
                        t,
                        "replica over its output buffer limit during the snapshot transfer, closing it",
                    );
                    continue;
                }
                t.follower.handle.outbox.push(chunk.clone());
            }
            any = true;
        }
        if !any {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "every follower of this snapshot is gone",
            ));
        }
        if let Some(b) = self.buffered.as_mut() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn random_mark() -> [u8; 40] {
    let id = crate::replication::log::new_replid();
    let mut m = [0u8; 40];
    m.copy_from_slice(id.as_bytes());
    m
}

/// Result of a PSYNC request.
pub enum Psync {
    /// Partial resync accepted: these bytes (reply line + backlog) go to the follower.
    Continue(Vec<u8>),
    /// A full sync has been scheduled; its reply comes from the sync thread.
    Full,
}

/// Handles `PSYNC replid offset` for the follower on `handle`. Registers the follower and
/// either continues from the backlog or starts a full sync on a background thread.
/// `legacy` is SYNC: always a full resync, announced by nothing but the snapshot.
pub fn psync(
    srv: &Server,
    handle: &Arc<ClientHandle>,
    replid: &str,
    offset: i64,
    legacy: bool,
) -> Psync {
    let backlog_size = srv.config.get_i64("repl-backlog-size").max(16 * 1024) as usize;
    handle.replica.store(true, Ordering::Relaxed);
    let follower = Arc::new(Follower {
        handle: handle.clone(),
        legacy,
        inner: Mutex::new(LinkInner {
            state: LinkState::WaitBgsave,
            pending: BytesMut::new(),
            rdb_sent: false,
        }),
        srv: srv.arc().map(|a| Arc::downgrade(&a)).unwrap_or_default(),
    });
    // Partial resync: same history (current id, or the previous one up to where it
    // ended) and the offset still in the backlog.
    {
        let mut txn = srv.store.write(crate::base::now_ms());
        let seq = txn.sequencer_mut();
        seq.log.activate(backlog_size);
        let log = &seq.log;
        // `offset` is the first byte the follower wants (its offset + 1), as in Redis.
        let same_history = !legacy && replid == log.replid
            || (replid == log.replid2 && offset >= 0 && offset <= log.second_offset);
        if same_history && offset > 0 {
            let since = log.backlog.as_ref().and_then(|b| b.since(offset as u64));
            if let Some(bytes) = since {
                let mut reply = format!("+CONTINUE {}\r\n", log.replid).into_bytes();
                reply.extend_from_slice(&bytes);
                follower.inner.lock().state = LinkState::Online;
                seq.subscribers.push(follower.clone());
                srv.followers.lock().push(follower);
                srv.stats.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
                tracing::info!(follower = %handle.addr, offset, "Partial resynchronization request accepted");
                return Psync::Continue(reply);
            }
        }
    }
    if replid != "?" {
        srv.stats.sync_partial_err.fetch_add(1, Ordering::Relaxed);
    }
    srv.stats.sync_full.fetch_add(1, Ordering::Relaxed);
    tracing::info!(follower = %handle.addr, replid, offset, "Full resync requested by replica");
    srv.followers.lock().push(follower.clone());
    let Some(owner) = srv.arc() else {
        return Psync::Full;
    };
    let mut queue = srv.sync_queue.lock();
    queue
        .waiting
        .push((follower.clone(), std::time::Instant::now()));
    if !queue.thread_running {
        let spawned = std::thread::Builder::new()
            .name("ferrocache-fullsync".into())
            .spawn(move || sync_thread(&owner));
        match spawned {
            Ok(_) => queue.thread_running = true,
            Err(e) => {
                queue.waiting.clear();
                tracing::warn!(error = %e, "full sync: cannot start the sync thread");
                follower.handle.kill();
            }
        }
    }
    Psync::Full
}

/// Serves the sync queue until it is empty: waits for the batch to be ready (the
/// diskless delay, or enough followers), then one snapshot for the whole batch.
fn sync_thread(srv: &Arc<Server>) {
    loop {
        let batch = loop {
            let diskless = srv.config.get("repl-diskless-sync").as_deref() == Some("yes");
            let delay_ms = if diskless {
                srv.config.get_i64("repl-diskless-sync-delay").max(0) as u128 * 1000
            } else {
                0
            };
            let enough = srv.config.get_i64("repl-diskless-sync-max-replicas").max(0) as usize;
            {
                let mut q = srv.sync_queue.lock();
                q.waiting.retain(|(f, _)| !f.closed());
                let Some((_, first)) = q.waiting.first() else {
                    q.thread_running = false;
                    return;
                };
                let ready = first.elapsed().as_millis() >= delay_ms
                    || (enough > 0 && q.waiting.len() >= enough);
                if ready && !srv.store.snapshot_in_progress() {
                    break std::mem::take(&mut q.waiting);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        full_sync(srv, batch);
    }
}

/// Takes one snapshot at a point in the stream, registers every follower of the batch
/// there, and streams the snapshot to all of them; each goes online when it is complete.
fn full_sync(srv: &Arc<Server>, batch: Vec<(Arc<Follower>, std::time::Instant)>) {
    let mut txn = srv.store.write(crate::base::now_ms());
    if srv.store.snapshot_in_progress() {
        // A BGSAVE started meanwhile: wait for the next turn.
        drop(txn);
        let mut q = srv.sync_queue.lock();
        let later = std::mem::take(&mut q.waiting);
        q.waiting = batch.into_iter().chain(later).collect();
        return;
    }
    let diskless = srv.config.get("repl-diskless-sync").as_deref() == Some("yes");
    let seq = txn.sequencer_mut();
    seq.log.reset_selected_db();
    let offset = seq.log.offset;
    let aux = crate::server::persistence::snapshot_aux(srv, seq);
    let mut targets = Vec::new();
    for (follower, _) in batch {
        if follower.closed() {
            continue;
        }
        let out = &follower.handle.outbox;
        if !follower.legacy {
            out.push(Bytes::from(format!(
                "+FULLRESYNC {} {}\r\n",
                seq.log.replid, offset
            )));
        }
        let eof = diskless && follower.handle.repl_capa_eof.load(Ordering::Relaxed);
        let mark = eof.then(random_mark);
        if let Some(m) = &mark {
            out.push(Bytes::from(format!(
                "$EOF:{}\r\n",
                String::from_utf8_lossy(m)
            )));
        }
        follower.inner.lock().state = LinkState::SendBulk;
        seq.subscribers.push(follower.clone());
        targets.push(SyncTarget {
            follower,
            mark,
            alive: true,
        });
    }
    if targets.is_empty() {
        return;
    }
    let names: Vec<String> = targets
        .iter()
        .map(|t| t.follower.handle.addr.to_string())
        .collect();
    let all: Vec<Arc<Follower>> = targets.iter().map(|t| t.follower.clone()).collect();
    let kill_all = || all.iter().for_each(|f| f.handle.kill());
    let writer = FanOutWriter {
        buffered: targets.iter().any(|t| t.mark.is_none()).then(Vec::new),
        targets,
        hard_limit: srv.config.live.replica_limit.read().hard,
    };
    let finish: crate::server::persistence::RdbFinish<FanOutWriter> = Box::new(|w| w.finish());
    let sink = match crate::server::persistence::RdbSink::new(srv, writer, &aux, finish) {
        Ok(s) => Box::new(s),
        Err(e) => {
            tracing::warn!(error = %e, "full sync: cannot start the snapshot");
            kill_all();
            return;
        }
    };
    let Some(snap) = srv.store.begin_snapshot(offset, sink) else {
        kill_all();
        return;
    };
    drop(txn);
    tracing::info!(followers = ?names, offset, diskless, "Starting snapshot for {} replica(s)", names.len());
    let result = snap.run(&srv.store);
    srv.store.end_snapshot();
    if let Err(e) = result {
        tracing::warn!(followers = ?names, error = %e, "full sync failed");
        kill_all();
    }
}

/// One follower as INFO replication and ROLE describe it.
pub struct FollowerLine {
    /// Follower address.
    pub ip: String,
    /// Its REPLCONF listening-port.
    pub port: u16,
    /// `wait_bgsave`, `send_bulk` or `online`.
    pub state: &'static str,
    /// Last acknowledged offset.
    pub offset: u64,
    /// Seconds since the last acknowledgement.
    pub lag: u64,
}

/// The attached followers, in attach order.
pub fn follower_lines(srv: &Server) -> Vec<FollowerLine> {
    let now = crate::base::now_ms();
    srv.followers
        .lock()
        .iter()
        .filter(|f| !f.closed())
        .map(|f| FollowerLine {
            ip: f
                .handle
                .repl_ip
                .lock()
                .clone()
                .unwrap_or_else(|| f.handle.addr.ip().to_string()),
            port: f.handle.repl_port.load(Ordering::Relaxed),
            state: f.state().as_str(),
            offset: f.handle.repl_ack_offset.load(Ordering::Relaxed),
            lag: now.saturating_sub(f.handle.repl_ack_ms.load(Ordering::Relaxed)) / 1000,
        })
        .collect()
}

/// Sends a PING down the stream every `repl-ping-replica-period` seconds while followers
/// are attached, so they can tell a quiet leader from a dead link (it counts in offsets).
pub fn ping_followers(srv: &Server) {
    // A follower relays its leader's PINGs; it sends none of its own.
    // Nor while a FAILOVER waits for a follower to acknowledge the paused stream.
    let now = crate::base::now_ms();
    if srv.followers.lock().is_empty() {
        // The period runs from the first follower's arrival, as stock's (which pings
        // every tenth cron tick), not at once.
        srv.last_repl_ping_ms.store(now, Ordering::Relaxed);
        return;
    }
    if srv.store.follower_mode() || crate::replication::switchover::in_wait(srv) {
        return;
    }
    let period = srv.config.get_i64("repl-ping-replica-period").max(1) as u64 * 1000;
    if now.saturating_sub(srv.last_repl_ping_ms.load(Ordering::Relaxed)) < period {
        return;
    }
    // Skipped while a script holds the keyspace (the next tick pings).
    let Some(mut txn) = srv.store.write_unless(now, || srv.scripts.run.is_running()) else {
        return;
    };
    srv.last_repl_ping_ms.store(now, Ordering::Relaxed);
    txn.log().append_global(&[b"PING"]);
}

/// Followers that acknowledged at least `offset`.
pub fn acked_at_least(srv: &Server, offset: u64) -> usize {
    srv.followers
        .lock()
        .iter()
        .filter(|f| !f.closed() && f.handle.repl_ack_offset.load(Ordering::Relaxed) >= offset)
        .count()
}

/// Asks every follower to acknowledge now (`REPLCONF GETACK *` in the stream), so WAIT
/// does not have to sit out the followers' one-second ACK period.
pub fn request_acks(srv: &Server) {
    // Only a leader writes into the stream; a follower relays its leader's bytes as
    // they came.
    if srv.followers.lock().is_empty() || srv.store.follower_mode() {
        return;
    }
    let mut txn = srv.store.write(crate::base::now_ms());
    txn.log().append_global(&[b"REPLCONF", b"GETACK", b"*"]);
}

/// Online followers whose last ACK is at most `max_lag` seconds old
/// (`min-replicas-to-write` counts these).
pub fn good_followers(srv: &Server, max_lag: u64) -> usize {
    let now = crate::base::now_ms();
    srv.followers
        .lock()
        .iter()
        .filter(|f| {
            !f.closed()
                && f.state() == LinkState::Online
                && now.saturating_sub(f.handle.repl_ack_ms.load(Ordering::Relaxed)) / 1000
                    <= max_lag
        })
        .count()
}
