//! The follower side of replication: REPLICAOF, the handshake with a leader (ours or a
//! stock Redis primary), full sync (loading the leader's RDB) or partial resync, then
//! applying the stream while recording it verbatim so offsets stay the leader's.

use crate::base::encode_command;
use crate::commands::{self, Client};
use crate::protocol::{Parsed, ReplyBuf, RequestLimits, RequestParser};
use crate::rdb;
use crate::server::Server;
use crate::server::client::ClientHandle;
use bytes::BytesMut;
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What this node follows, and the link's health (INFO replication on a follower).
#[derive(Debug, Default, Clone)]
pub struct FollowerState {
    /// Leader host and port; None when this node is a leader.
    pub leader: Option<(String, u16)>,
    /// The link is established and streaming.
    pub link_up: bool,
    /// A full sync is being received.
    pub sync_in_progress: bool,
    /// Unix ms of the last byte from the leader.
    pub last_io_ms: u64,
    /// Unix ms when the link went down.
    pub down_since_ms: u64,
    /// Bumped on every REPLICAOF so an old link task stops.
    pub generation: u64,
    /// Our data belongs to a known history (a past sync, or an RDB with replication
    /// info): ask for a partial resync instead of a full one.
    pub has_history: bool,
}

/// Why a link attempt failed; logged, then retried.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Rdb(#[from] rdb::RdbError),
    /// A newer REPLICAOF replaced this link while it was syncing.
    #[error("replaced by a newer REPLICAOF")]
    Replaced,
}

fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command(&mut out, args);
    out
}

/// Makes this node follow `leader` (REPLICAOF host port), or a leader again (None).
pub fn set_leader(srv: &Arc<Server>, leader: Option<(String, u16)>) {
    let mut txn = srv.store.write(crate::base::now_ms());
    set_leader_in(srv, &mut txn, leader);
}

/// [`set_leader`] inside a write section the caller already holds (REPLICAOF inside
/// MULTI/EXEC, as stock Sentinel sends it: the section is not re-entrant).
pub fn set_leader_in(
    srv: &Arc<Server>,
    txn: &mut crate::store::WriteTxn<'_>,
    leader: Option<(String, u16)>,
) {
    let mut st = srv.follower.lock();
    st.generation += 1;
    let generation = st.generation;
    let was_follower = st.leader.is_some();
    st.leader = leader.clone();
    st.link_up = false;
    st.sync_in_progress = false;
    st.down_since_ms = crate::base::now_ms();
    drop(st);
    if !was_follower && leader.is_some() && txn.log().active() {
        // A leader turning follower offers its own history (PSYNC <its replid> <offset>):
        // a new leader that has it as replid2 continues partially (PSYNC2).
        srv.follower.lock().has_history = true;
    }
    match leader {
        Some((host, port)) => {
            srv.store.set_follower_mode(true);
            txn.log().suppress_effects = true;
            tracing::warn!(leader = %format!("{}:{}", host, port), "Role change: now a follower (REPLICAOF)");
            let owner = srv.clone();
            tokio::spawn(async move { link_loop(owner, host, port, generation).await });
        }
        None => {
            srv.store.set_follower_mode(false);
            let log = txn.log();
            log.suppress_effects = false;
            if was_follower {
                srv.lease.became_leader();
                // Keep the old history as replid2 so our followers can continue partially.
                log.shift_replid(None);
                tracing::warn!(replid = %log.replid, "Role change: now a leader (REPLICAOF NO ONE)");
            }
        }
    }
}

async fn link_loop(srv: Arc<Server>, host: String, port: u16, generation: u64) {
    loop {
        if srv.follower.lock().generation != generation {
            return;
        }
        match run_link(&srv, &host, port, generation).await {
            Ok(()) => return,
            Err(e) => {
                let mut st = srv.follower.lock();
                if st.generation != generation {
                    // A newer REPLICAOF owns the link state now.
                    return;
                }
                if st.link_up {
                    st.down_since_ms = crate::base::now_ms();
                }
                st.link_up = false;
                st.sync_in_progress = false;
                drop(st);
                tracing::warn!(leader = %format!("{}:{}", host, port), error = %e, "Replication link down, retrying in 1 s");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

struct Conn {
    stream: crate::server::tls::MaybeTls,
    buf: BytesMut,
    /// `repl-timeout`: the leader said nothing (not even a keepalive) for this long.
    timeout: Duration,
}

impl Conn {
    async fn fill(&mut self) -> Result<(), LinkError> {
        self.buf.reserve(16 * 1024);
        let n = tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf))
            .await
            .map_err(|_| LinkError::Protocol("timeout reading from the leader".into()))??;
        if n == 0 {
            return Err(LinkError::Protocol(
                "connection closed by the leader".into(),
            ));
        }
        Ok(())
    }

    /// Reads one reply line, skipping the bare newlines a leader sends as keepalives.
    async fn line(&mut self) -> Result<String, LinkError> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(i + 1);
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                if text.is_empty() {
                    continue;
                }
                return Ok(text);
            }
            if self.buf.len() > 64 * 1024 {
                return Err(LinkError::Protocol("reply line too long".into()));
            }
            self.fill().await?;
        }
    }

    async fn command(&mut self, args: &[&[u8]]) -> Result<String, LinkError> {
        self.stream.write_all(&encode(args)).await?;
        self.line().await
    }
}

async fn run_link(
    srv: &Arc<Server>,
    host: &str,
    port: u16,
    generation: u64,
) -> Result<(), LinkError> {
    // With tls-replication the link is TLS, verified against tls-ca-cert-file.
    let stream = crate::server::tls::MaybeTls::connect(host, port, srv.tls_connector.get()).await?;
    let mut c = Conn {
        stream,
        buf: BytesMut::new(),
        timeout: Duration::from_secs(srv.config.get_i64("repl-timeout").max(1) as u64),
    };
    let pong = c.command(&[b"PING"]).await?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") {
        return Err(LinkError::Protocol(format!(
            "leader replied to PING: {}",
            pong
        )));
    }
    let masterauth = srv.config.get("masterauth").unwrap_or_default();
    if !masterauth.is_empty() {
        let user = srv.config.get("masteruser").unwrap_or_default();
        let reply = if user.is_empty() {
            c.command(&[b"AUTH", masterauth.as_bytes()]).await?
        } else {
            c.command(&[b"AUTH", user.as_bytes(), masterauth.as_bytes()])
                .await?
        };
        if reply.starts_with('-') {
            return Err(LinkError::Protocol(format!(
                "AUTH with the leader failed: {}",
                reply
            )));
        }
    }
    let announced = srv.config.get_i64("replica-announce-port");
    // Over TLS links the port others should use to reach us is the TLS one (as Redis).
    let my_port = if announced > 0 {
        announced.to_string()
    } else if srv.tls_connector.get().is_some() {
        srv.config.get_i64("tls-port").to_string()
    } else {
        srv.port.load(Ordering::Relaxed).to_string()
    };
    c.command(&[b"REPLCONF", b"listening-port", my_port.as_bytes()])
        .await?;
    let announce_ip = srv.config.get("replica-announce-ip").unwrap_or_default();
    if !announce_ip.is_empty() {
        c.command(&[b"REPLCONF", b"ip-address", announce_ip.as_bytes()])
            .await?;
    }
    c.command(&[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    let (replid, offset) = {
        let seq = srv.store.read_lock();
        (seq.log.replid.clone(), seq.log.offset)
    };
    let have_data = srv.follower.lock().has_history;
    let psync_off = (offset + 1).to_string();
    let switching = crate::replication::switchover::in_progress(srv);
    let reply = if switching {
        // A coordinated FAILOVER: the target promotes itself on this request.
        let reply = c
            .command(&[
                b"PSYNC",
                replid.as_bytes(),
                psync_off.as_bytes(),
                b"FAILOVER",
            ])
            .await?;
        crate::replication::switchover::psync_answered(
            srv,
            reply.starts_with("+CONTINUE") || reply.starts_with("+FULLRESYNC"),
        );
        reply
    } else if have_data {
        c.command(&[b"PSYNC", replid.as_bytes(), psync_off.as_bytes()])
            .await?
    } else {
        c.command(&[b"PSYNC", b"?", b"-1"]).await?
    };
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut it = rest.split_whitespace();
        let (Some(id), Some(off)) = (it.next(), it.next().and_then(|o| o.parse::<u64>().ok()))
        else {
            return Err(LinkError::Protocol(format!(
                "bad FULLRESYNC reply: {}",
                reply
            )));
        };
        {
            let mut st = srv.follower.lock();
            if st.generation != generation {
                return Err(LinkError::Replaced);
            }
            st.sync_in_progress = true;
        }
        let payload = receive_rdb(&mut c).await?;
        load_snapshot(srv, &payload, id, off, generation)?;
        tracing::info!(leader = %format!("{}:{}", host, port), replid = id, offset = off, bytes = payload.len(), "MASTER <-> REPLICA sync: Finished with success");
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let new_id = rest.trim();
        let mut txn = srv.store.write(crate::base::now_ms());
        if !link_current(srv, generation) {
            return Err(LinkError::Replaced);
        }
        if !new_id.is_empty() && new_id != replid {
            txn.log().shift_replid(Some(new_id));
        }
        drop(txn);
        tracing::info!(leader = %format!("{}:{}", host, port), offset, "Successful partial resynchronization with the leader");
    } else {
        return Err(LinkError::Protocol(format!(
            "unexpected PSYNC reply: {}",
            reply
        )));
    }
    {
        let mut st = srv.follower.lock();
        if st.generation != generation {
            return Err(LinkError::Replaced);
        }
        st.link_up = true;
        st.has_history = true;
        st.sync_in_progress = false;
        st.last_io_ms = crate::base::now_ms();
    }
    stream_loop(srv, c, generation).await
}

async fn receive_rdb(c: &mut Conn) -> Result<Vec<u8>, LinkError> {
    let header = c.line().await?;
    if let Some(mark) = header.strip_prefix("$EOF:") {
        let mark = mark.as_bytes().to_vec();
        if mark.len() != 40 {
            return Err(LinkError::Protocol("bad EOF mark".into()));
        }
        let mut data = c.buf.split().to_vec();
        while !(data.len() >= 40 && data[data.len() - 40..] == mark[..]) {
            c.fill().await?;
            data.extend_from_slice(&c.buf.split());
        }
        data.truncate(data.len() - 40);
        Ok(data)
    } else if let Some(len) = header
        .strip_prefix('$')
        .and_then(|l| l.parse::<usize>().ok())
    {
        while c.buf.len() < len {
            c.fill().await?;
        }
        Ok(c.buf.split_to(len).to_vec())
    } else {
        Err(LinkError::Protocol(format!(
            "bad snapshot header: {}",
            header
        )))
    }
}

/// Replaces the dataset with the leader's snapshot and adopts its history at `offset`.
fn load_snapshot(
    srv: &Arc<Server>,
    payload: &[u8],
    replid: &str,
    offset: u64,
    generation: u64,
) -> Result<(), LinkError> {
    let now = crate::base::now_ms();
    let mut txn = srv.store.write(now);
    if !link_current(srv, generation) {
        return Err(LinkError::Replaced);
    }
    let lazy = srv
        .store
        .lazyfree
        .enabled(crate::store::lazyfree::FreeReason::ReplicaFlush);
    txn.flush_all(lazy);
    let backlog = srv.config.get_i64("repl-backlog-size").max(16 * 1024) as usize;
    if let Err(e) = crate::server::persistence::load_into(srv, &mut txn, payload, None) {
        // Never keep part of a snapshot, nor a history a partial resync could continue
        // on top of it: empty, under a new replication id, so the next sync is full.
        txn.flush_all(lazy);
        let fresh = crate::replication::log::new_replid();
        let at = txn.log().offset;
        txn.log().reset_history(&fresh, at, backlog);
        tracing::error!(error = %e, "the leader's snapshot is corrupt or truncated: dataset emptied, will resynchronise fully");
        return Err(LinkError::Protocol(format!(
            "loading the leader's snapshot: {}",
            e
        )));
    }
    let log = txn.log();
    log.reset_history(replid, offset, backlog);
    log.suppress_effects = true;
    drop(txn);
    // Our own followers followed the old history: they must resynchronise.
    for f in srv.followers.lock().iter() {
        f.handle.kill();
    }
    Ok(())
}

/// Applies the leader's stream: each command runs through the command table as the
/// leader's client (writes allowed, replies discarded), then its exact bytes are appended
/// to our log. Acknowledges every second and on REPLCONF GETACK.
async fn stream_loop(srv: &Arc<Server>, mut c: Conn, generation: u64) -> Result<(), LinkError> {
    let peer = c
        .stream
        .peer_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    let local = c.stream.local_addr().unwrap_or(peer);
    let handle = Arc::new(ClientHandle::new(srv.next_client_id(), peer, local, -1));
    // The leader's stream is applied whatever the ACL rules: it acts as the default user,
    // authenticated, and ACL checks skip the leader link.
    let mut client = Client::new(handle, srv.acl.default_user());
    client.authenticated = true;
    client.leader = Some(commands::LeaderLink {
        generation,
        ..Default::default()
    });
    let mut parser = RequestParser::default();
    let limits = RequestLimits {
        max_bulk_len: srv.config.live.proto_max_bulk_len.load(Ordering::Relaxed),
        max_multibulk_len: usize::MAX,
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut out = ReplyBuf::default();
    loop {
        // Apply every complete command already buffered, with one clock reading per
        // batch as for any client.
        let now = crate::base::now_ms();
        loop {
            let before = c.buf.len();
            let parsed = parser
                .parse(&mut c.buf, &limits)
                .map_err(|e| LinkError::Protocol(e.to_string()))?;
            match parsed {
                Parsed::Command(args) => {
                    let consumed = before - c.buf.len();
                    let is_getack = args.len() >= 2
                        && args[0].eq_ignore_ascii_case(b"REPLCONF")
                        && args[1].eq_ignore_ascii_case(b"GETACK");
                    // The stream is RESP arrays of bulk strings: re-encoding gives the
                    // leader's exact bytes.
                    let link = client.leader.get_or_insert_default();
                    link.raw.clear();
                    encode_command(&mut link.raw, &args);
                    debug_assert_eq!(link.raw.len(), consumed);
                    link.raw_pending = true;
                    if is_getack {
                        send_ack(srv, &mut c).await?;
                    } else {
                        out.buf.clear();
                        commands::execute(srv, &mut client, &mut out, args, now);
                    }
                    if let Some(link) = client.leader.as_mut()
                        && link.raw_pending
                    {
                        // Not run (queued in MULTI, refused, GETACK): still part of the
                        // stream our own followers and offsets follow.
                        link.raw_pending = false;
                        let mut txn = srv.store.write(now);
                        if link_current(srv, generation) {
                            txn.log().append_raw(&link.raw);
                        } else {
                            link.stale = true;
                        }
                    }
                    if client.leader.as_ref().is_some_and(|l| l.stale) {
                        tracing::info!(leader = %peer, "Replaced leader link closed: its late stream is not applied");
                        return Ok(());
                    }
                }
                Parsed::Nothing => {}
                Parsed::Incomplete => break,
            }
        }
        if srv.follower.lock().generation != generation {
            return Ok(());
        }
        tokio::select! {
            r = c.stream.read_buf(&mut c.buf) => {
                match r {
                    Ok(0) => return Err(LinkError::Protocol("connection closed by the leader".into())),
                    Ok(_) => srv.follower.lock().last_io_ms = crate::base::now_ms(),
                    Err(e) => return Err(e.into()),
                }
            }
            _ = tick.tick() => {
                send_ack(srv, &mut c).await?;
                let quiet = crate::base::now_ms().saturating_sub(srv.follower.lock().last_io_ms);
                if quiet > 60_000 {
                    return Err(LinkError::Protocol("no data from the leader for 60 s".into()));
                }
            }
        }
        c.buf.reserve(16 * 1024);
    }
}

/// Whether `generation` is still the current REPLICAOF. Asked inside the store's write
/// section: REPLICAOF bumps the generation inside it too, so the answer holds while the
/// caller applies a command from that link or counts its bytes.
pub fn link_current(srv: &Server, generation: u64) -> bool {
    srv.follower.lock().generation == generation
}

async fn send_ack(srv: &Server, c: &mut Conn) -> Result<(), LinkError> {
    let off = srv.store.read_lock().log.offset.to_string();
    c.stream
        .write_all(&encode(&[b"REPLCONF", b"ACK", off.as_bytes()]))
        .await?;
    Ok(())
}

/// A copy of the leader address and link state, for INFO and ROLE.
pub fn snapshot(srv: &Server) -> FollowerState {
    srv.follower.lock().clone()
}

/// Shared follower state type, held by the server.
pub type SharedFollowerState = Mutex<FollowerState>;
