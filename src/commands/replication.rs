//! Replication commands on the leader side: REPLCONF and PSYNC (what a follower, ours or a
//! stock Redis replica, sends during its handshake and afterwards).

use super::table::{Command, cmd, flags::*};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::replication::switchover;
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// Replication family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY, &[], "server", "3.0.0", "An internal command for configuring the replication stream", replconf),
        cmd("replicaof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, &[], "server", "5.0.0", "Make the server a replica of another instance, or promote it as master", replicaof),
        cmd("slaveof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING, &[], "server", "1.0.0", "Make the server a replica of another instance, or promote it as master", replicaof),
        cmd("wait", 3, NOSCRIPT, &[], "generic", "3.0.0", "Wait for the synchronous replication of all the write commands sent in the context of the current connection", wait)
            .tips("request_policy:all_shards response_policy:agg_min")
            .acl("connection"),
        cmd("failover", -1, ADMIN | NOSCRIPT | STALE, &[], "server", "6.2.0", "Start a coordinated failover between this server and one of its replicas.", failover),
        cmd("psync", -3, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING, &[], "server", "2.8.0", "Internal command used for replication", psync),
        cmd("sync", 1, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING, &[], "server", "1.0.0", "Internal command used for replication", sync),
    ]
}

fn replconf(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if !(args.len() - 1).is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let h = &ctx.client.handle;
    for pair in args[1..].chunks(2) {
        let (opt, val) = (&pair[0], &pair[1]);
        if is(opt, "listening-port") {
            let port = arg_i64(val)?;
            h.repl_port
                .store(u16::try_from(port).unwrap_or(0), Ordering::Relaxed);
        } else if is(opt, "capa") {
            if is(val, "eof") {
                h.repl_capa_eof.store(true, Ordering::Relaxed);
            }
        } else if is(opt, "ack") {
            // Acknowledgements get no reply, as in Redis.
            if let Some(off) = crate::protocol::parse_i64(val) {
                h.repl_ack_offset
                    .store(off.max(0) as u64, Ordering::Relaxed);
                h.repl_ack_ms
                    .store(crate::base::now_ms(), Ordering::Relaxed);
            }
            let id = h.id;
            let follower = ctx
                .srv
                .followers
                .lock()
                .iter()
                .find(|f| f.handle.id == id)
                .cloned();
            if let Some(f) = follower {
                f.acked();
            }
            ctx.srv.ack_notify.notify_waiters();
            return Ok(());
        } else if is(opt, "getack") {
            // Sent by a leader to its followers; a leader receiving it has nothing to say.
            return Ok(());
        } else if is(opt, "ip-address") {
            *h.repl_ip.lock() = Some(String::from_utf8_lossy(val).into_owned());
        } else if is(opt, "rdb-only") || is(opt, "rdb-filter-only") {
            // Accepted: this leader always sends the whole dataset and the stream.
        } else {
            return Err(CmdError::err(format!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    ctx.out.ok();
    Ok(())
}

fn psync(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.client.handle.replica.load(Ordering::Relaxed) {
        // Already a follower link: Redis ignores repeated PSYNCs on it.
        return Ok(());
    }
    let replid = String::from_utf8_lossy(&args[1]).into_owned();
    let offset = crate::protocol::parse_i64(&args[2]).unwrap_or(-1);
    if args.len() > 3 && is(&args[3], "failover") {
        // Our leader hands over (FAILOVER on it): promote ourselves, keeping its history.
        let srv = ctx
            .srv
            .arc()
            .ok_or_else(|| CmdError::err("server is shutting down"))?;
        tracing::warn!(replid, "Failover request received for replid {}.", replid);
        if srv.follower.lock().leader.is_none() {
            return Err(CmdError::err("PSYNC FAILOVER can't be sent to a master."));
        }
        let mine = ctx.w_taken().log().replid.clone();
        if mine != replid {
            ctx.txn = None;
            return Err(CmdError::err("PSYNC FAILOVER replid must match my replid."));
        }
        crate::replication::follower::set_leader_in(&srv, ctx.w_taken(), None);
        // leader::psync takes the write section itself.
        ctx.txn = None;
        tracing::warn!(client = %ctx.client.handle.addr, "MASTER MODE enabled (failover request)");
    }
    if ctx.srv.switchover.lock().state != crate::replication::switchover::SwitchState::None {
        return Err(CmdError::err("-NOMASTERLINK Can't SYNC while failing over"));
    }
    let handle = ctx.client.handle.clone();
    match crate::replication::leader::psync(ctx.srv, &handle, &replid, offset, false) {
        crate::replication::leader::Psync::Continue(bytes) => ctx.out.raw(&bytes),
        crate::replication::leader::Psync::Full => {}
    }
    Ok(())
}

/// SYNC: the replication handshake before PSYNC (old replicas, and tools that read the
/// stream, such as Redis's test suite): a snapshot, then the stream.
fn sync(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.client.handle.replica.load(Ordering::Relaxed) {
        return Ok(());
    }
    let handle = ctx.client.handle.clone();
    crate::replication::leader::psync(ctx.srv, &handle, "?", -1, true);
    Ok(())
}

/// WAIT numreplicas timeout: how many followers have acknowledged this client's last
/// write; blocks (in the connection task) until enough have or the timeout passes.
fn wait(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // A follower has no writes of its own to wait for, and asking its sub-followers for
    // acknowledgements would put bytes into the stream it relays from its leader.
    if ctx.srv.store.follower_mode() {
        return Err(CmdError::err(
            "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let needed = arg_i64(&args[1])?;
    let timeout = arg_i64(&args[2])
        .map_err(|_| CmdError::err("timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let target = ctx.client.last_write_offset;
    let have = crate::replication::leader::acked_at_least(ctx.srv, target);
    // Inside MULTI (or when already satisfied) WAIT answers at once, as in Redis.
    if needed <= 0 || have >= needed as usize || ctx.txn.is_some() {
        ctx.out.int(have as i64);
        return Ok(());
    }
    crate::replication::leader::request_acks(ctx.srv);
    ctx.client.pending_wait = Some(super::PendingWait {
        target,
        needed: needed as usize,
        deadline: (timeout > 0)
            .then(|| std::time::Instant::now() + std::time::Duration::from_millis(timeout as u64)),
    });
    Ok(())
}

/// REPLICAOF host port | NO ONE.
fn replicaof(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let srv = ctx
        .srv
        .arc()
        .ok_or_else(|| CmdError::err("server is shutting down"))?;
    if is(&args[1], "no") && is(&args[2], "one") {
        if srv.follower.lock().leader.is_some() {
            crate::replication::follower::set_leader_in(&srv, ctx.w_taken(), None);
        }
        ctx.out.ok();
        return Ok(());
    }
    let host = String::from_utf8_lossy(&args[1]).into_owned();
    let port = arg_i64(&args[2])
        .ok()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| CmdError::err("Invalid master port"))?;
    if srv.follower.lock().leader.as_ref() == Some(&(host.clone(), port)) {
        ctx.out.simple("OK Already connected to specified master");
        return Ok(());
    }
    crate::replication::follower::set_leader_in(&srv, ctx.w_taken(), Some((host, port)));
    ctx.out.ok();
    Ok(())
}

/// The FAILOVER command.
fn failover(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let srv = ctx
        .srv
        .arc()
        .ok_or_else(|| CmdError::err("server is shutting down"))?;
    if args.len() == 2 && is(&args[1], "abort") {
        if srv.switchover.lock().state == switchover::SwitchState::None {
            return Err(CmdError::err("No failover in progress."));
        }
        switchover::abort(&srv, "Failover manually aborted");
        ctx.out.ok();
        return Ok(());
    }
    let mut timeout_ms = 0i64;
    let mut force = false;
    let mut target: Option<(String, u16)> = None;
    let mut j = 1;
    while j < args.len() {
        if is(&args[j], "timeout") && j + 1 < args.len() && timeout_ms == 0 {
            timeout_ms = arg_i64(&args[j + 1])?;
            if timeout_ms <= 0 {
                return Err(CmdError::err("FAILOVER timeout must be greater than 0"));
            }
            j += 2;
        } else if is(&args[j], "to") && j + 2 < args.len() && target.is_none() {
            let port = arg_i64(&args[j + 2])?;
            target = Some((
                String::from_utf8_lossy(&args[j + 1]).into_owned(),
                u16::try_from(port).unwrap_or(0),
            ));
            j += 3;
        } else if is(&args[j], "force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if srv.switchover.lock().state != switchover::SwitchState::None {
        return Err(CmdError::err("FAILOVER already in progress."));
    }
    if srv.follower.lock().leader.is_some() {
        return Err(CmdError::err(
            "FAILOVER is not valid when server is a replica.",
        ));
    }
    let lines = crate::replication::leader::follower_lines(&srv);
    if lines.is_empty() {
        return Err(CmdError::err("FAILOVER requires connected replicas."));
    }
    if force && (timeout_ms == 0 || target.is_none()) {
        return Err(CmdError::err(
            "FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    if let Some((host, port)) = &target {
        let Some(line) = lines.iter().find(|l| &l.ip == host && l.port == *port) else {
            return Err(CmdError::err(
                "FAILOVER target HOST and PORT is not a replica.",
            ));
        };
        if line.state != "online" {
            return Err(CmdError::err("FAILOVER target replica is not online."));
        }
        tracing::info!(target = %format!("{host}:{port}"), "FAILOVER requested to {}:{}.", host, port);
    } else {
        tracing::info!("FAILOVER requested to any replica.");
    }
    let now = crate::base::now_ms();
    // Writes wait (they are not refused) until the switchover ends either way. The pause
    // is set before the offset is read, and the offset under the write section, so no
    // write can land after it.
    srv.set_pause(Some(crate::server::Pause {
        until_ms: u64::MAX,
        all: false,
    }));
    let held = ctx.txn.is_some();
    let wait_offset = ctx.w_taken().log().offset;
    if !held {
        ctx.txn = None;
    }
    let end_ms = (timeout_ms > 0).then(|| now + timeout_ms as u64);
    switchover::begin(&srv, target, end_ms, force, wait_offset);
    ctx.out.ok();
    Ok(())
}
