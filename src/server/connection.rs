//! One task per connection: owns the socket and its framing; handlers never touch it.

use crate::commands::{self, Client};
use crate::protocol::{Parsed, ReplyBuf, RequestLimits, RequestParser};
use crate::server::client::{ClientHandle, WaitState};
use crate::server::{Server, reply_buffer};
use bytes::{Buf, BytesMut};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Read granularity; the buffer grows beyond it only for large arguments.
const READ_CHUNK: usize = 16 * 1024;
/// An idle client's query buffer is freed after this long (Redis: 2 s).
const QBUF_IDLE_FREE: Duration = Duration::from_secs(2);
/// How often a busy client's query buffer is checked against its recent peak.
const QBUF_RESIZE_EVERY: Duration = Duration::from_millis(250);
/// Query buffers at or under this size are never shrunk (Redis's PROTO_RESIZE_THRESHOLD).
const QBUF_RESIZE_THRESHOLD: usize = 32 * 1024;
/// Flush replies mid-batch once this much output accumulates (bounds a pipelined batch).
const FLUSH_AT: usize = 64 * 1024;

/// Writes `out` to the socket; returns Err when the client must be dropped (I/O error or
/// killed while blocked on a slow reader).
async fn flush<W: AsyncWrite + Unpin>(
    wr: &mut W,
    out: &mut ReplyBuf,
    sizer: &mut reply_buffer::Sizer,
    handle: &ClientHandle,
    srv: &Server,
) -> Result<(), ()> {
    sizer.wrote(out.buf.len());
    if !out.buf.is_empty() {
        handle.obuf.store(out.buf.len(), Ordering::Relaxed);
        if srv.enforce_output_limit(handle) {
            return Err(());
        }
    }
    while !out.buf.is_empty() {
        handle.obuf.store(out.buf.len(), Ordering::Relaxed);
        tokio::select! {
            r = wr.write(&out.buf) => match r {
                Ok(0) | Err(_) => return Err(()),
                Ok(n) => {
                    srv.stats.net_output_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    out.buf.advance(n);
                }
            },
            _ = handle.outbox.notify.notified() => {
                if handle.killed.load(Ordering::Acquire) {
                    return Err(());
                }
            }
        }
    }
    handle.obuf.store(0, Ordering::Relaxed);
    // A big reply grew the buffer: keep only the size this connection's use calls for.
    if out.buf.capacity() > sizer.size {
        out.buf = BytesMut::with_capacity(sizer.size);
    }
    Ok(())
}

fn limits(srv: &Server) -> RequestLimits {
    let l = &srv.config.live;
    RequestLimits {
        max_bulk_len: l.proto_max_bulk_len.load(Ordering::Relaxed),
        max_multibulk_len: l.proto_max_multibulk_len.load(Ordering::Relaxed),
    }
}

/// Whether the connection goes on after a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Waits while CLIENT PAUSE holds this client's command (counted in INFO
/// blocked_clients meanwhile, as Redis does), until the pause ends or is lifted.
async fn wait_out_pause(srv: &Server, shutdown: &mut tokio::sync::watch::Receiver<bool>) -> Flow {
    // Created before the check, so an UNPAUSE in between still wakes us.
    let unpaused = srv.unpause.notified();
    let Some(wait) = srv.pause_remaining_ms() else {
        return Flow::Continue;
    };
    srv.paused_clients.fetch_add(1, Ordering::Relaxed);
    let flow = tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(wait)) => Flow::Continue,
        _ = unpaused => Flow::Continue,
        _ = shutdown.changed() => Flow::Close,
    };
    srv.paused_clients.fetch_sub(1, Ordering::Relaxed);
    flow
}

/// Waits while a script runs, until it ends or reaches `busy-reply-threshold` (the held
/// request then runs again and gets `-BUSY`), rechecking now and then past it.
async fn wait_out_script(srv: &Server, shutdown: &mut tokio::sync::watch::Receiver<bool>) -> Flow {
    // Counted and created before the check, so a script ending in between still wakes
    // us (or we see it ended).
    let run = &srv.scripts.run;
    run.parked.fetch_add(1, Ordering::SeqCst);
    struct Unpark<'r>(&'r std::sync::atomic::AtomicUsize);
    impl Drop for Unpark<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let _unpark = Unpark(&run.parked);
    let done = run.done.notified();
    let Some(elapsed) = run.elapsed_ms() else {
        return Flow::Continue;
    };
    let threshold = srv
        .config
        .live
        .busy_reply_threshold
        .load(Ordering::Relaxed)
        .max(0) as u64;
    let wait = if elapsed < threshold {
        threshold - elapsed
    } else {
        10
    };
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(wait)) => Flow::Continue,
        _ = done => Flow::Continue,
        _ = shutdown.changed() => Flow::Close,
    }
}

/// Waits for a blocking pop to be served (its reply lands in the outbox) or to time out
/// (the timeout reply is written to `out`). Input arriving meanwhile is buffered and runs
/// after; a closed connection or a shutdown returns `Close`, and the caller withdraws
/// the pop.
async fn wait_for_blocked_pop<R: AsyncRead + Unpin>(
    srv: &Server,
    w: &Arc<commands::blocking::Waiter>,
    deadline: Option<Instant>,
    (rd, inbuf): (&mut R, &mut BytesMut),
    out: &mut ReplyBuf,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Flow {
    loop {
        tokio::select! {
            _ = w.notify.notified() => return Flow::Continue,
            _ = sleep_until(deadline) => {
                if w.claim() {
                    srv.blocking.remove(&srv.store, w);
                    commands::blocking::timed_out_reply(w, out);
                }
                return Flow::Continue;
            }
            r = rd.read_buf(inbuf) => if matches!(r, Ok(0) | Err(_)) {
                return Flow::Close;
            },
            _ = shutdown.changed() => return Flow::Close,
        }
    }
}

/// WAIT: waits until `w.needed` followers acknowledged `w.target` or the deadline
/// passes; the number that did, or None at shutdown.
/// CLIENT UNBLOCK answers at once (the count, or `-UNBLOCKED` as the caller decides from
/// `handle.wait_state`); CLIENT KILL ends the connection.
async fn wait_for_acks(
    srv: &Server,
    w: &commands::PendingWait,
    handle: &ClientHandle,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<usize> {
    loop {
        // Created before the count: an ACK landing in between wakes it (notify_waiters
        // reaches every Notified created before it).
        let acked = srv.ack_notify.notified();
        let have = crate::replication::leader::acked_at_least(srv, w.target);
        let unblocked = handle.wait_state.load(Ordering::Acquire) != WaitState::Waiting as u8;
        if have >= w.needed || unblocked || w.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(have);
        }
        if handle.killed.load(Ordering::Acquire) {
            return None;
        }
        tokio::select! {
            _ = acked => {}
            // CLIENT UNBLOCK or KILL (or a message to deliver: it waits for the reply).
            _ = handle.outbox.notify.notified() => {}
            _ = sleep_until(w.deadline) => {}
            _ = shutdown.changed() => return None,
        }
    }
}

/// Serves one client until it quits, is killed, errs or the server shuts down. The two
/// halves are a TCP socket's (split without locking) or a TLS stream's.
pub async fn serve<R, W>(srv: Arc<Server>, mut rd: R, mut wr: W, handle: Arc<ClientHandle>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut client = Client::new(handle.clone(), srv.acl.default_user());
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::default();
    let mut out = ReplyBuf::default();
    let mut shutdown = srv.shutdown.subscribe();
    let mut last_activity = Instant::now();
    let mut last_resize = Instant::now();
    let mut qbuf_peak = 0usize;
    let mut rbuf = reply_buffer::Sizer::default();

    'conn: loop {
        // Run every complete request already buffered.
        let lim = limits(&srv);
        // One clock reading per batch: pipelined commands share it, as Redis shares its
        // cached time within an event-loop iteration.
        let mut now = crate::base::now_ms();
        crate::store::value::set_lru_clock(now);
        loop {
            let buffered = inbuf.len();
            match parser.parse(&mut inbuf, &lim) {
                Ok(Parsed::Command(args)) => {
                    // While it runs, the command is still in the query buffer (CLIENT
                    // LIST `qbuf`), as in Redis.
                    handle.qbuf.store(buffered, Ordering::Relaxed);
                    let mut request = args;
                    while let Some(held) =
                        commands::execute(&srv, &mut client, &mut out, request, now)
                    {
                        // CLIENT PAUSE or a running script held the command: flush,
                        // wait for it to end, then run it again (it checks again).
                        if flush(&mut wr, &mut out, &mut rbuf, &handle, &srv)
                            .await
                            .is_err()
                        {
                            break 'conn;
                        }
                        let waited = if srv.scripts.run.is_running() {
                            wait_out_script(&srv, &mut shutdown).await
                        } else {
                            wait_out_pause(&srv, &mut shutdown).await
                        };
                        if waited == Flow::Close {
                            break 'conn;
                        }
                        now = crate::base::now_ms();
                        request = held;
                    }
                    if let Some((w, deadline)) = client.pending_block.take() {
                        let flushed = flush(&mut wr, &mut out, &mut rbuf, &handle, &srv)
                            .await
                            .is_ok();
                        let mark = out.buf.len();
                        let waited = if flushed {
                            let input = (&mut rd, &mut inbuf);
                            wait_for_blocked_pop(&srv, &w, deadline, input, &mut out, &mut shutdown)
                                .await
                        } else {
                            Flow::Close
                        };
                        handle.blocked.store(false, Ordering::Relaxed);
                        if waited == Flow::Close {
                            // A closed connection withdraws its pop.
                            if w.claim() {
                                srv.blocking.remove(&srv.store, &w);
                            }
                            break 'conn;
                        }
                        // The served reply comes before anything queued after it.
                        for msg in handle.outbox.drain() {
                            out.raw(&msg);
                        }
                        commands::finish_reply(&mut client, &mut out, mark);
                        now = crate::base::now_ms();
                    }
                    if let Some(w) = client.pending_wait.take() {
                        // WAIT: hold this client's replies until enough followers ack.
                        if flush(&mut wr, &mut out, &mut rbuf, &handle, &srv)
                            .await
                            .is_err()
                        {
                            break 'conn;
                        }
                        let mark = out.buf.len();
                        handle
                            .wait_state
                            .store(WaitState::Waiting as u8, Ordering::Release);
                        let count = wait_for_acks(&srv, &w, &handle, &mut shutdown).await;
                        let how = handle
                            .wait_state
                            .swap(WaitState::Idle as u8, Ordering::AcqRel);
                        match count {
                            _ if how == WaitState::UnblockedError as u8 => {
                                out.error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
                            }
                            Some(count) => out.int(count as i64),
                            None => break 'conn,
                        }
                        commands::finish_reply(&mut client, &mut out, mark);
                        now = crate::base::now_ms();
                    }
                    if client.close {
                        break;
                    }
                    if out.buf.len() >= FLUSH_AT
                        && flush(&mut wr, &mut out, &mut rbuf, &handle, &srv)
                            .await
                            .is_err()
                    {
                        break 'conn;
                    }
                }
                Ok(Parsed::Nothing) => {}
                Ok(Parsed::Incomplete) => break,
                Err(e) => {
                    tracing::info!(client = handle.id, addr = %handle.addr, error = %e, "closing client after protocol error");
                    out.error(&format!("ERR {}", e));
                    client.close = true;
                    break;
                }
            }
        }
        if !out.buf.is_empty() {
            // Let the other connections that are ready run before this one writes, so
            // replies leave in a burst as from Redis's beforeSleep: a client woken by
            // every write costs the kernel a cross-CPU wake-up per write (about a seventh
            // of all CPU time in pipelined benchmarks), one woken by a burst costs one.
            tokio::task::yield_now().await;
        }
        // Messages from other clients (pub/sub, MONITOR).
        for msg in handle.outbox.drain() {
            out.raw(&msg);
        }
        if flush(&mut wr, &mut out, &mut rbuf, &handle, &srv)
            .await
            .is_err()
        {
            break;
        }
        if client.close || handle.killed.load(Ordering::Acquire) {
            break;
        }
        if handle.outbox.pending.load(Ordering::Acquire) > 0 {
            // Messages arrived while we were writing (their wake-up was consumed there).
            continue;
        }
        let qlimit = srv.config.live.query_buffer_limit.load(Ordering::Relaxed);
        if inbuf.len() >= qlimit {
            tracing::warn!(client = handle.id, addr = %handle.addr, qbuf = inbuf.len(), "closing client that reached max query buffer length");
            srv.stats
                .qbuf_limit_disconnections
                .fetch_add(1, Ordering::Relaxed);
            break;
        }
        qbuf_peak = qbuf_peak.max(inbuf.len());
        // The query buffer follows use, as Redis's clientsCronResizeQueryBuffer: freed
        // after 2 s idle, halved to the recent peak when it is over 32 KiB and more than
        // twice that peak.
        let idle_for = last_activity.elapsed();
        if inbuf.is_empty() && idle_for >= QBUF_IDLE_FREE {
            if inbuf.capacity() > 0 {
                inbuf = BytesMut::new();
            }
        } else if last_resize.elapsed() >= QBUF_RESIZE_EVERY {
            if inbuf.capacity() > QBUF_RESIZE_THRESHOLD && inbuf.capacity() / 2 > qbuf_peak {
                let mut smaller = BytesMut::with_capacity(qbuf_peak.max(READ_CHUNK));
                smaller.extend_from_slice(&inbuf);
                inbuf = smaller;
            }
            qbuf_peak = inbuf.len();
            last_resize = Instant::now();
        }
        if inbuf.capacity() > 0 || idle_for < QBUF_IDLE_FREE {
            inbuf.reserve(READ_CHUNK);
        }
        handle.qbuf.store(inbuf.len(), Ordering::Relaxed);
        handle
            .qbuf_free
            .store(inbuf.capacity() - inbuf.len(), Ordering::Relaxed);
        if rbuf.check(&srv.reply_buffers, Instant::now()) && out.buf.capacity() > rbuf.size {
            out.buf = BytesMut::with_capacity(rbuf.size);
        }
        handle.rbs.store(rbuf.size, Ordering::Relaxed);
        handle.rbp.store(rbuf.peak, Ordering::Relaxed);
        let resize_at = rbuf.next_check(&srv.reply_buffers);
        let timeout = srv.config.live.timeout.load(Ordering::Relaxed);
        let idle_exempt = client.subs.count() > 0
            || handle.monitor.load(Ordering::Relaxed)
            || handle.replica.load(Ordering::Relaxed);
        let idle_deadline =
            (timeout > 0 && !idle_exempt).then(|| last_activity + Duration::from_secs(timeout));
        // An idle client's buffer is freed once (then a read brings it back).
        let free_at =
            (inbuf.capacity() > 0 && inbuf.is_empty()).then(|| last_activity + QBUF_IDLE_FREE);
        tokio::select! {
            r = rd.read_buf(&mut inbuf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    srv.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    last_activity = Instant::now();
                    handle.last_cmd_ms.store(crate::base::now_ms(), Ordering::Relaxed);
                }
            },
            _ = handle.outbox.notify.notified() => {
                if handle.replica.load(Ordering::Relaxed) {
                    // A follower link: let the clients that are ready run first, so the
                    // stream they produce leaves in one write, as Redis writes to its
                    // replicas once per event-loop turn.
                    tokio::task::yield_now().await;
                }
            }
            _ = shutdown.changed() => break,
            _ = sleep_until(idle_deadline) => {
                tracing::debug!(client = handle.id, "closing idle client");
                break;
            }
            _ = sleep_until(free_at) => {}
            _ = sleep_until(resize_at) => {}
        }
    }
    commands::pubsub::unsubscribe_all(&srv, &mut client);
    client.unwatch(&srv);
    srv.remove_client(handle.id);
}
