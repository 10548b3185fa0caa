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

/// Writes snapshot bytes into the follower's outbox (the connection task sends them).
struct OutboxWriter {
    handle: Arc<ClientHandle>,
    /// The `replica` class hard output limit: a follower that falls this far behind the
    /// snapshot transfer is dropped (and will retry), so the leader's memory stays bounded.
    hard_limit: u64,
}

impl Write for OutboxWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.handle.killed.load(Ordering::Relaxed) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "follower gone",
            ));
        }
        let pending = self.handle.outbox.pending.load(Ordering::Relaxed) as u64;
        if self.hard_limit > 0 && pending > self.hard_limit {
            tracing::warn!(follower = %self.handle.addr, pending, "replica over its output buffer limit during the snapshot transfer, closing it");
            self.handle.kill();
            return Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "follower over its output buffer limit",
            ));
        }
        self.handle.outbox.push(Bytes::copy_from_slice(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct SharedVec(Arc<Mutex<Vec<u8>>>);

impl Write for SharedVec {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
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
pub fn psync(srv: &Server, handle: &Arc<ClientHandle>, replid: &str, offset: i64) -> Psync {
    let backlog_size = srv.config.get_i64("repl-backlog-size").max(16 * 1024) as usize;
    handle.replica.store(true, Ordering::Relaxed);
    let follower = Arc::new(Follower {
        handle: handle.clone(),
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
        let mut txn = srv.store.write(crate::store::now_ms());
        let seq = txn.sequencer_mut();
        seq.log.activate(backlog_size);
        let log = &seq.log;
        // `offset` is the first byte the follower wants (its offset + 1), as in Redis.
        let same_history = replid == log.replid
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
    let _ = std::thread::Builder::new()
        .name("ferrocache-fullsync".into())
        .spawn(move || full_sync(&owner, follower));
    Psync::Full
}

/// Takes the snapshot at a point in the stream, registers the follower there, and streams
/// the snapshot; the follower goes online when it is complete.
fn full_sync(srv: &Arc<Server>, follower: Arc<Follower>) {
    let eof = follower.handle.repl_capa_eof.load(Ordering::Relaxed)
        && srv.config.get("repl-diskless-sync").as_deref() == Some("yes");
    loop {
        if follower.closed() {
            return;
        }
        let mut txn = srv.store.write(crate::store::now_ms());
        if srv.store.snapshot_in_progress() {
            drop(txn);
            std::thread::sleep(std::time::Duration::from_millis(10));
            continue;
        }
        let seq = txn.sequencer_mut();
        seq.log.reset_selected_db();
        let offset = seq.log.offset;
        let aux = crate::server::persistence::snapshot_aux(seq);
        let out = &follower.handle.outbox;
        out.push(Bytes::from(format!(
            "+FULLRESYNC {} {}\r\n",
            seq.log.replid, offset
        )));
        let mark = eof.then(random_mark);
        let buffered = (!eof).then(|| Arc::new(Mutex::new(Vec::new())));
        let target: Box<dyn Write + Send> = match &buffered {
            Some(b) => Box::new(SharedVec(b.clone())),
            None => Box::new(OutboxWriter {
                handle: follower.handle.clone(),
                hard_limit: srv.config.live.replica_limit.read().hard,
            }),
        };
        if let Some(m) = &mark {
            out.push(Bytes::from(format!(
                "$EOF:{}\r\n",
                String::from_utf8_lossy(m)
            )));
        }
        follower.inner.lock().state = LinkState::SendBulk;
        seq.subscribers.push(follower.clone());
        let done = follower.clone();
        let finish: crate::server::persistence::RdbFinish<Box<dyn Write + Send>> =
            Box::new(move |_w| {
                let out = &done.handle.outbox;
                if let Some(mark) = mark {
                    out.push(Bytes::copy_from_slice(&mark));
                    // The follower detects the end by the mark being the last bytes it
                    // read: hold the stream until it acknowledges, as Redis does.
                    done.inner.lock().rdb_sent = true;
                } else if let Some(buf) = buffered {
                    let data = std::mem::take(&mut *buf.lock());
                    out.push(Bytes::from(format!("${}\r\n", data.len())));
                    out.push(Bytes::from(data));
                    done.go_online();
                }
                Ok(())
            });
        let sink = match crate::server::persistence::RdbSink::new(srv, target, &aux, finish) {
            Ok(s) => Box::new(s),
            Err(e) => {
                tracing::warn!(error = %e, "full sync: cannot start the snapshot");
                follower.handle.kill();
                return;
            }
        };
        let Some(snap) = srv.store.begin_snapshot(offset, sink) else {
            follower.handle.kill();
            return;
        };
        drop(txn);
        tracing::info!(follower = %follower.handle.addr, offset, diskless = eof, "Starting snapshot for replica");
        let result = snap.run(&srv.store);
        srv.store.end_snapshot();
        if let Err(e) = result {
            tracing::warn!(follower = %follower.handle.addr, error = %e, "full sync failed");
            follower.handle.kill();
        }
        return;
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
    let now = crate::store::now_ms();
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
    if srv.followers.lock().is_empty() || srv.store.follower_mode() {
        return;
    }
    let now = crate::store::now_ms();
    let period = srv.config.get_i64("repl-ping-replica-period").max(1) as u64 * 1000;
    if now.saturating_sub(srv.last_repl_ping_ms.load(Ordering::Relaxed)) < period {
        return;
    }
    srv.last_repl_ping_ms.store(now, Ordering::Relaxed);
    let mut txn = srv.store.write(now);
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
    if srv.followers.lock().is_empty() {
        return;
    }
    let mut txn = srv.store.write(crate::store::now_ms());
    txn.log().append_global(&[b"REPLCONF", b"GETACK", b"*"]);
}

/// Online followers whose last ACK is at most `max_lag` seconds old
/// (`min-replicas-to-write` counts these).
pub fn good_followers(srv: &Server, max_lag: u64) -> usize {
    let now = crate::store::now_ms();
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
