//! `redis.call` / `redis.pcall`: runs one command for a script, inside the write section
//! the script holds, with the checks Redis applies to commands called from scripts
//! (script.c's scriptCall), and returns the raw RESP reply.

use crate::commands::{self, Ctx, flags};
use crate::protocol::ReplyBuf;
use bytes::{Bytes, BytesMut};
use std::sync::atomic::Ordering;

/// What a script run carries between the commands it calls.
#[derive(Debug)]
pub struct RunCtx<'k> {
    /// The database the script's commands use (SELECT inside a script changes it, not
    /// the caller's).
    pub db: usize,
    /// `redis.setresp(3)` was called.
    pub resp3: bool,
    /// EVAL_RO, or a `no-writes` script: writes are refused.
    pub read_only: bool,
    /// `allow-oom`: writes are not refused over maxmemory.
    pub allow_oom: bool,
    /// Over maxmemory when the script started (Redis decides OOM once per script).
    pub oom_at_start: bool,
    /// A write already ran: later writes are never refused on server state, so a script
    /// is never left half applied.
    pub wrote: bool,
    /// `redis.set_repl`: effects go to followers only while `REPL_REPLICA` is set (there
    /// is no AOF for `REPL_AOF` to choose).
    pub repl: u8,
    /// The script's KEYS: a read it makes tracks these for CLIENT TRACKING.
    pub declared_keys: &'k [Bytes],
}

/// `redis.REPL_REPLICA`: effects are replicated to followers.
pub const REPL_REPLICA: u8 = 2;
/// `redis.REPL_ALL`, the default.
pub const REPL_ALL: u8 = 3;

/// Why a command called from a script did not run: Redis's texts, without a code (the
/// caller adds `ERR`) unless they carry their own (`-READONLY ...`).
fn refuse(msg: &str) -> Result<BytesMut, String> {
    Err(msg.to_string())
}

/// Runs `args` for the script: Ok with the command's RESP reply (which may be an error
/// reply), or Err with the text of a refusal.
pub fn call(ctx: &mut Ctx<'_>, run: &mut RunCtx<'_>, args: Vec<Bytes>) -> Result<BytesMut, String> {
    let name = args.first().cloned();
    let result = check_and_execute(ctx, run, args);
    if let Err(msg) = &result {
        // As Redis: a refused command counts as rejected, and its error counts once,
        // here (the script's error carries a flag so it is not counted again).
        let srv = ctx.srv;
        match msg.strip_prefix('-') {
            Some(text) => srv.count_error(text),
            None => srv.count_error(&format!("ERR {msg}")),
        }
        if let Some(cmd) = name.and_then(|n| srv.commands.get(&n)) {
            cmd.stats.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }
    result
}

fn check_and_execute(
    ctx: &mut Ctx<'_>,
    run: &mut RunCtx<'_>,
    args: Vec<Bytes>,
) -> Result<BytesMut, String> {
    let srv = ctx.srv;
    if args.is_empty() {
        return refuse("Please specify at least one argument for this redis lib call");
    }
    let Some(cmd) = srv.commands.get(&args[0]) else {
        return refuse("Unknown Redis command called from script");
    };
    if !cmd.subcommands.is_empty() && args.len() >= 2 && cmd.subcommand(&args).is_none() {
        return refuse("Unknown Redis command called from script");
    }
    if !cmd.arity_ok(args.len()) || cmd.check_subcommand(&args).is_err() {
        return refuse("Wrong number of args calling Redis command from script");
    }
    let cmd_flags = cmd.flags | cmd.effective_flags(&args);
    if cmd_flags & flags::NOSCRIPT != 0 && !srv.scripts.allow_noscript.load(Ordering::Relaxed) {
        return refuse("This Redis command is not allowed from script");
    }
    let follower = srv.store.follower_mode();
    if cmd_flags & flags::STALE == 0 && commands::stale_data_refused(srv) {
        return refuse("Can not execute the command on a stale replica");
    }
    if !ctx.client.user.unrestricted()
        && let Err(denied) = srv.acl.check(&ctx.client.user, cmd, &args)
    {
        let full = commands::full_name(cmd, &args);
        commands::log_acl_denial(
            srv,
            ctx.client,
            denied,
            crate::acl::LogContext::Lua,
            &full,
            &args,
        );
        return Err(format!("The user executing the script {}", denied.reason()));
    }
    if run.read_only && cmd_flags & (flags::WRITE | flags::MAY_REPLICATE) != 0 {
        return refuse("Write commands are not allowed from read-only scripts.");
    }
    let writes = cmd_flags & flags::WRITE != 0;
    if writes && !run.wrote {
        if follower && !ctx.client.is_leader_link() {
            return refuse("-READONLY You can't write against a read only replica.");
        }
        if crate::server::persistence::writes_denied_by_disk_error(srv) {
            return Err(format!("-{}", commands::MISCONF));
        }
        if !follower && let Some(refusal) = commands::leader_refusal(srv) {
            return Err(format!("-{refusal}"));
        }
    }
    if !run.allow_oom && run.oom_at_start && !run.wrote && cmd_flags & flags::DENYOOM != 0 {
        return refuse("-OOM command not allowed when used memory > 'maxmemory'.");
    }
    if writes {
        run.wrote = true;
        srv.scripts.run.wrote.store(true, Ordering::Relaxed);
    }
    Ok(execute(ctx, run, cmd, &args))
}

/// Runs an admitted command with the script's database and protocol, capturing its reply.
fn execute(
    ctx: &mut Ctx<'_>,
    run: &mut RunCtx<'_>,
    cmd: &'static commands::Command,
    args: &[Bytes],
) -> BytesMut {
    let srv = ctx.srv;
    let caller_db = std::mem::replace(&mut ctx.client.db, run.db);
    let mut reply = ReplyBuf {
        buf: Default::default(),
        resp3: run.resp3,
    };
    std::mem::swap(ctx.out, &mut reply);
    srv.feed_monitors_from_script(ctx.client, cmd, args);
    if cmd.has(flags::READONLY) && ctx.client.tracking.mode.is_some() {
        let keys: Vec<&Bytes> = run.declared_keys.iter().collect();
        commands::remember_keys(srv, ctx.client, &keys);
    }
    // Timed for commandstats as the dispatcher times commands (and as rarely).
    let timed = srv.config.live.slowlog_slower_than.load(Ordering::Relaxed) >= 0
        || srv.config.live.latency_tracking.load(Ordering::Relaxed);
    let started = timed.then(quanta::Instant::now);
    // redis.set_repl without REPL_REPLICA: this call's effects stay on this node.
    let unreplicated = run.repl & REPL_REPLICA == 0;
    let suppressed = ctx
        .txn
        .as_mut()
        .filter(|_| unreplicated)
        .map(|t| std::mem::replace(&mut t.log().suppress_effects, true));
    let in_script = std::mem::replace(&mut ctx.client.in_script, true);
    let changes_before = srv.store.changes();
    let result = (cmd.handler_for(args))(ctx, args);
    let changed = srv.store.changes() != changes_before;
    ctx.client.in_script = in_script;
    if let (Some(before), Some(t)) = (suppressed, ctx.txn.as_mut()) {
        t.log().suppress_effects = before;
    }
    if let Err(e) = &result {
        srv.reply_error(ctx.out, e);
    }
    commands::record_call(
        srv,
        cmd,
        args,
        started.map(|s| s.elapsed()),
        result.is_err(),
        changed,
    );
    srv.stats.commands_processed.fetch_add(1, Ordering::Relaxed);
    std::mem::swap(ctx.out, &mut reply);
    run.db = std::mem::replace(&mut ctx.client.db, caller_db);
    reply.buf
}

/// Converts the Lua arguments of `redis.call` (and `redis.acl_check_cmd`) into a
/// command: strings as they are, numbers as `%.17g` (Redis's conversion); anything else
/// is refused with Redis's text.
pub fn lua_args(args: &mlua::MultiValue) -> Result<Vec<Bytes>, &'static str> {
    // One buffer for every argument, then shared slices of it: one allocation per call
    // rather than one per argument.
    let room = args
        .iter()
        .map(|v| match v {
            mlua::Value::String(s) => s.as_bytes().len(),
            _ => 24,
        })
        .sum();
    let mut buf = BytesMut::with_capacity(room);
    let mut ends: smallvec::SmallVec<[usize; 8]> = smallvec::SmallVec::new();
    for v in args.iter() {
        match v {
            mlua::Value::String(s) => buf.extend_from_slice(&s.as_bytes()),
            mlua::Value::Integer(i) => {
                buf.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes())
            }
            mlua::Value::Number(n) => {
                buf.extend_from_slice(crate::protocol::reply::format_double(*n).as_bytes())
            }
            _ => return Err("Lua redis lib command arguments must be strings or integers"),
        }
        ends.push(buf.len());
    }
    let all = buf.freeze();
    let mut start = 0;
    Ok(ends
        .into_iter()
        .map(|end| {
            let arg = all.slice(start..end);
            start = end;
            arg
        })
        .collect())
}
