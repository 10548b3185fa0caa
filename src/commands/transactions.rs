//! MULTI/EXEC/DISCARD/WATCH/UNWATCH. EXEC runs the whole queue inside one write section,
//! so no client and no follower can observe part of a transaction (invariant 2); its
//! effects reach the replication log wrapped in MULTI/EXEC.

use super::table::{Command, cmd, flags::*, key, key_range};
use super::{CmdError, CmdResult, Ctx};
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// Transaction family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("multi", 1, NOSCRIPT | LOADING | STALE | FAST | TX_CONTROL | ALLOW_BUSY, &[], "transactions", "1.2.0", "Mark the start of a transaction block", multi),
        cmd("exec", 1, NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | TX_CONTROL | WRITE_SECTION, &[], "transactions", "1.2.0", "Execute all commands issued after MULTI", exec),
        cmd("discard", 1, NOSCRIPT | LOADING | STALE | FAST | TX_CONTROL | ALLOW_BUSY, &[], "transactions", "2.0.0", "Discard all commands issued after MULTI", discard),
        cmd("watch", -2, NOSCRIPT | LOADING | STALE | FAST | TX_CONTROL | ATOMIC_READ | ALLOW_BUSY, const { &[key_range(key::RO, 1, -1, 1, 0)] }, "transactions", "2.2.0", "Watch the given keys to determine execution of the MULTI/EXEC block", watch)
            .args("key:key..."),
        cmd("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, &[], "transactions", "2.2.0", "Forget about all watched keys", unwatch),
    ]
}

fn multi(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.client.tx.queued.is_some() {
        return Err(CmdError::err("MULTI calls can not be nested"));
    }
    ctx.client.tx.queued = Some(Vec::new());
    ctx.client.tx.failed = false;
    ctx.client.tx.flags = 0;
    ctx.client.tx.inv_flags = 0;
    ctx.client.handle.multi.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn end_multi(ctx: &mut Ctx<'_>) -> Option<Vec<Vec<Bytes>>> {
    ctx.client.end_transaction(ctx.srv)
}

fn discard(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.client.tx.queued.is_none() {
        return Err(CmdError::err("DISCARD without MULTI"));
    }
    end_multi(ctx);
    ctx.out.ok();
    Ok(())
}

fn exec(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.client.tx.queued.is_none() {
        return Err(CmdError::err("EXEC without MULTI"));
    }
    if ctx.client.tx.failed {
        end_multi(ctx);
        return Err(CmdError::Msg(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ));
    }
    let srv = ctx.srv;
    // The WATCH flags are read inside the write section (the dispatcher takes it for
    // EXEC): every write that finished before it has raised them (writers signal inside
    // their own section), and none can run between this check and the queued commands.
    // Read before taking the section, a write committed in between (another client's
    // EXEC) would go unnoticed.
    let now = ctx.now;
    let flag = &ctx.client.tx.watch_dirty;
    let expired_since_watch = ctx.client.tx.watched.iter().any(|(db, key)| {
        !srv.store.watches.is_stale(key, flag)
            && srv
                .store
                .db(*db)
                .get(key)
                .is_some_and(|e| e.is_expired(now))
    });
    let dirty = ctx.client.tx.watch_dirty.load(Ordering::Acquire) || expired_since_watch;
    let queued_flags = ctx.client.tx.flags;
    let queue = end_multi(ctx).unwrap_or_default();
    if dirty {
        ctx.out.null_array();
        return Ok(());
    }
    let txn = ctx.w()?;
    let denyoom = queued_flags & super::table::flags::DENYOOM != 0;
    if denyoom && !crate::store::evict::make_room(txn) {
        return Err(CmdError::Msg(format!(
            "EXECABORT Transaction discarded because of: {}",
            CmdError::Oom
        )));
    }
    txn.log().begin();
    ctx.out.array(queue.len());
    ctx.client.tx.in_exec = true;
    for args in queue {
        let Some(cmd) = srv.commands.get(&args[0]) else {
            ctx.out.error("ERR unknown command");
            continue;
        };
        // Rules may have changed since the command was queued (Redis checks again here).
        if !ctx.client.user.unrestricted()
            && let Err(denied) = srv.acl.check(&ctx.client.user, cmd, &args)
        {
            let full = super::full_name(cmd, &args);
            super::log_acl_denial(
                srv,
                ctx.client,
                denied,
                crate::acl::LogContext::Multi,
                &full,
                &args,
            );
            let reason = match denied {
                crate::acl::Denied::Command => "no permission to execute the command or subcommand",
                crate::acl::Denied::Key(_) => "no permission to touch the specified keys",
                crate::acl::Denied::Channel(_) => {
                    "no permission to access one of the channels used as arguments"
                }
            };
            srv.reply_error(
                ctx.out,
                &CmdError::Msg(format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}")),
            );
            continue;
        }
        srv.feed_monitors(ctx.client, cmd, &args);
        // The earlier commands' invalidations are matched now, before this one's reads are
        // registered: a key the transaction writes and then reads stays tracked, as Redis.
        srv.deliver_key_invalidations(Some(ctx.client.handle.id));
        super::remember_reads(srv, ctx.client, cmd, &args);
        let started = std::time::Instant::now();
        let changes_before = srv.store.changes();
        let result = (cmd.handler_for(&args))(ctx, &args);
        let changed = srv.store.changes() != changes_before;
        let elapsed = started.elapsed();
        super::record_call(srv, cmd, &args, Some(elapsed), result.is_err(), changed);
        // The slow log shows the commands a transaction ran, not EXEC, as Redis.
        if !cmd.has(super::flags::SKIP_SLOWLOG) {
            srv.slowlog_record(&ctx.client.handle, &args, elapsed);
        }
        if let Err(e) = result {
            srv.reply_error(ctx.out, &e);
        }
        srv.stats.commands_processed.fetch_add(1, Ordering::Relaxed);
    }
    ctx.client.tx.in_exec = false;
    // The dispatcher serves blocked clients and records the offset for WAIT.
    ctx.w()?.log().commit();
    Ok(())
}

fn watch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.client.tx.queued.is_some() {
        return Err(CmdError::err("WATCH inside MULTI is not allowed"));
    }
    let db = ctx.db();
    let store = &ctx.srv.store;
    let phys = store.physical(db);
    for k in &args[1..] {
        // A key watched twice is listed twice (the registry keeps one flag per client).
        let key = Bytes::copy_from_slice(k);
        let expired = store.db(db).get(k).is_some_and(|e| e.is_expired(ctx.now));
        store.watches.watch(
            phys,
            key.clone(),
            ctx.client.tx.watch_dirty.clone(),
            expired,
        );
        ctx.client.tx.watched.push((db, key));
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let srv = ctx.srv;
    ctx.client.unwatch(srv);
    ctx.out.ok();
    Ok(())
}
