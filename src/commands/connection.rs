//! Connection commands: PING, ECHO, QUIT, RESET, AUTH, HELLO and CLIENT.

use super::table::{Command, SubCommand, cmd, container, flags::*, sub};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::server::Pause;
use crate::server::client::ClientHandle;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Connection family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("ping", -1, FAST | SUBSCRIBED_OK, &[], "connection", "1.0.0", "Ping the server", ping)
            .tips("request_policy:all_shards response_policy:all_succeeded")
            .args("[message]"),
        cmd("echo", 2, FAST | LOADING | STALE, &[], "connection", "1.0.0", "Echo the given string", echo)
            .args("message"),
        cmd("quit", -1, NO_AUTH | NOSCRIPT | LOADING | STALE | FAST | SUBSCRIBED_OK | TX_CONTROL | ALLOW_BUSY, &[], "connection", "1.0.0", "Close the connection", quit),
        cmd("reset", 1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SUBSCRIBED_OK | TX_CONTROL | ALLOW_BUSY, &[], "connection", "6.2.0", "Reset the connection", reset),
        cmd("auth", -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, &[], "connection", "1.0.0", "Authenticate to the server", auth)
            .args("[username] password"),
        cmd("hello", -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY, &[], "connection", "6.0.0", "Handshake with Redis", hello)
            .args("[arguments{protover:integer [AUTH=username_password{username password}] [SETNAME=clientname]}]"),
        cmd("readonly", 1, FAST | LOADING | STALE, &[], "cluster", "3.0.0", "Enables read queries for a connection to a cluster replica node", readonly)
            .acl("connection"),
        cmd("readwrite", 1, FAST | LOADING | STALE, &[], "cluster", "3.0.0", "Disables read queries for a connection to a cluster replica node", readwrite)
            .acl("connection"),
        container("client", ADMIN | NOSCRIPT | LOADING | STALE, "connection", "2.4.0", "A container for client connection commands", CLIENT_SUBCOMMANDS)
            .acl(""),
    ]
}

fn ping(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::Arity("ping".into()));
    }
    if !ctx.out.resp3 && ctx.client.subs.count() > 0 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).map_or(&b""[..], |a| &a[..]));
    } else if let Some(msg) = args.get(1) {
        ctx.out.bulk(msg);
    } else {
        ctx.out.simple("PONG");
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&args[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.ok();
    ctx.client.close = true;
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let srv = ctx.srv;
    ctx.client.tx.queued = None;
    ctx.client.tx.failed = false;
    ctx.client.handle.multi.store(-1, Ordering::Relaxed);
    ctx.client.unwatch(srv);
    super::pubsub::unsubscribe_all(srv, ctx.client);
    ctx.client.db = 0;
    ctx.client.handle.db.store(0, Ordering::Relaxed);
    ctx.out.resp3 = false;
    ctx.client.handle.resp.store(2, Ordering::Relaxed);
    ctx.client.handle.name.lock().clear();
    ctx.client.handle.no_evict.store(false, Ordering::Relaxed);
    // CLIENT REPLY OFF and a pending SKIP end, as in Redis's clearClientConnectionState
    // (which leaves a SKIP already applying to this very command in place).
    ctx.client.reply.off = false;
    ctx.client.reply.skip_next = false;
    let default = srv.acl.default_user();
    ctx.client.authenticated = default.open_without_auth();
    *ctx.client.handle.user.lock() = default.name.clone();
    ctx.client.user = default;
    ctx.out.simple("RESET");
    Ok(())
}

/// Authenticates the connection as `user` (AUTH, HELLO AUTH); a failure is logged in
/// the ACL LOG with the command that tried, as Redis does.
fn authenticate(ctx: &mut Ctx<'_>, command: &[u8], user: &[u8], pass: &[u8]) -> CmdResult {
    let srv = ctx.srv;
    match srv.acl.authenticate(user, pass) {
        Some(u) => {
            *ctx.client.handle.user.lock() = u.name.clone();
            ctx.client.user = u;
            ctx.client.authenticated = true;
            Ok(())
        }
        None => {
            let context = if ctx.client.tx.queued.is_some() {
                crate::acl::LogContext::Multi
            } else {
                crate::acl::LogContext::Toplevel
            };
            srv.acl.log_denial(
                "auth",
                context,
                String::from_utf8_lossy(command).into_owned(),
                String::from_utf8_lossy(user).into_owned(),
                ctx.client.handle.info_line(),
                srv.config.live.acllog_max_len.load(Ordering::Relaxed),
            );
            Err(CmdError::Msg(
                "WRONGPASS invalid username-password pair or user is disabled.".into(),
            ))
        }
    }
}

fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (user, pass): (&[u8], &[u8]) = match args.len() {
        2 => (b"default", &args[1]),
        3 => (&args[1], &args[2]),
        _ => return Err(CmdError::Syntax),
    };
    if args.len() == 2 && ctx.srv.acl.default_user().snapshot().nopass {
        return Err(CmdError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    authenticate(ctx, &args[0], user, pass)?;
    ctx.out.ok();
    Ok(())
}

fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn set_name(handle: &ClientHandle, name: &[u8]) -> CmdResult {
    if !valid_client_name(name) {
        return Err(CmdError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *handle.name.lock() = String::from_utf8_lossy(name).into_owned();
    let sentinel = crate::replication::lease::sentinel_id(name).unwrap_or(0);
    handle
        .sentinel_id
        .store(sentinel, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut proto = None;
    let mut i = 1;
    if args.len() > 1 {
        let v = crate::protocol::parse_i64(&args[1])
            .ok_or_else(|| CmdError::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::Msg("NOPROTO unsupported protocol version".into()));
        }
        proto = Some(v);
        i = 2;
    }
    let mut auth: Option<(Bytes, Bytes)> = None;
    let mut name: Option<Bytes> = None;
    while i < args.len() {
        if is(&args[i], "auth") && i + 2 < args.len() {
            auth = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if is(&args[i], "setname") && i + 1 < args.len() {
            name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Err(CmdError::err(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            )));
        }
    }
    if let Some((u, p)) = &auth {
        authenticate(ctx, &args[0], u, p)?;
    }
    if !ctx.client.authenticated {
        return Err(CmdError::Msg("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into()));
    }
    if let Some(n) = &name {
        set_name(&ctx.client.handle, n)?;
    }
    if let Some(p) = proto {
        ctx.out.resp3 = p == 3;
        ctx.client.handle.resp.store(p as usize, Ordering::Relaxed);
    }
    let o = &mut *ctx.out;
    o.map(7);
    o.bulk_str("server");
    o.bulk_str("redis");
    o.bulk_str("version");
    o.bulk_str(crate::base::REDIS_COMPAT_VERSION);
    o.bulk_str("proto");
    o.int(if o.resp3 { 3 } else { 2 });
    o.bulk_str("id");
    o.int(ctx.client.handle.id as i64);
    o.bulk_str("mode");
    o.bulk_str("standalone");
    o.bulk_str("role");
    o.bulk_str("master");
    o.bulk_str("modules");
    o.array(0);
    Ok(())
}

fn client_type_matches(h: &ClientHandle, t: &str) -> bool {
    let replica = h.replica.load(Ordering::Relaxed);
    match t {
        "normal" => !h.is_pubsub() && !replica,
        "pubsub" => h.is_pubsub(),
        "replica" | "slave" => replica,
        // This server has no link to a leader of its own yet.
        _ => false,
    }
}

fn parse_type(a: &[u8]) -> Result<String, CmdError> {
    let t = String::from_utf8_lossy(a).to_ascii_lowercase();
    match t.as_str() {
        "normal" | "pubsub" | "master" | "replica" | "slave" => Ok(t),
        _ => Err(CmdError::err(format!("Unknown client type '{}'", t))),
    }
}

fn client_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut ty = None;
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "type") && i + 1 < args.len() {
            ty = Some(parse_type(&args[i + 1])?);
            i += 2;
        } else if is(&args[i], "id") && i + 1 < args.len() {
            let mut v = Vec::new();
            for a in &args[i + 1..] {
                let id = arg_i64(a)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| CmdError::err("Invalid client ID"))?;
                v.push(id as u64);
            }
            ids = Some(v);
            i = args.len();
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut clients: Vec<Arc<ClientHandle>> = ctx.srv.clients.lock().values().cloned().collect();
    clients.sort_by_key(|c| c.id);
    let mut text = String::new();
    for c in clients {
        if ty.as_deref().is_some_and(|t| !client_type_matches(&c, t)) {
            continue;
        }
        if ids.as_ref().is_some_and(|v| !v.contains(&c.id)) {
            continue;
        }
        text.push_str(&c.info_line());
        text.push('\n');
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let all: Vec<Arc<ClientHandle>> = ctx.srv.clients.lock().values().cloned().collect();
    let me = ctx.client.handle.id;
    if args.len() == 3 {
        // Old form: CLIENT KILL addr:port.
        let addr = String::from_utf8_lossy(&args[2]);
        let Some(c) = all.iter().find(|c| c.addr.to_string() == addr) else {
            return Err(CmdError::err("No such client"));
        };
        if c.id == me {
            ctx.client.close = true;
        } else {
            c.kill();
        }
        ctx.out.ok();
        return Ok(());
    }
    if !(args.len() - 2).is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut skipme = true;
    let mut filters: Vec<(String, String)> = Vec::new();
    for pair in args[2..].chunks(2) {
        let k = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let v = String::from_utf8_lossy(&pair[1]).into_owned();
        match k.as_str() {
            "id" => {
                arg_i64(&pair[1])
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| CmdError::err("client-id should be greater than 0"))?;
            }
            "type" => {
                parse_type(&pair[1])?;
            }
            "user" => {
                if ctx.srv.acl.get(&v).is_none() {
                    return Err(CmdError::err(format!("No such user '{v}'")));
                }
            }
            "addr" | "laddr" => {}
            "skipme" => {
                skipme = match v.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(CmdError::Syntax),
                };
                continue;
            }
            "maxage" => {
                arg_i64(&pair[1])?;
            }
            _ => return Err(CmdError::Syntax),
        }
        filters.push((k, v));
    }
    let now = crate::base::now_ms();
    let mut killed = 0;
    for c in &all {
        let matches = filters.iter().all(|(k, v)| match k.as_str() {
            "id" => c.id.to_string() == *v,
            "addr" => c.addr.to_string() == *v,
            "laddr" => c.laddr.to_string() == *v,
            "user" => *c.user.lock() == *v,
            "type" => client_type_matches(c, &v.to_ascii_lowercase()),
            "maxage" => {
                (now.saturating_sub(c.created_ms) / 1000) as i64 >= v.parse::<i64>().unwrap_or(0)
            }
            _ => false,
        });
        if !matches || (skipme && c.id == me) {
            continue;
        }
        if c.id == me {
            ctx.client.close = true;
        } else {
            c.kill();
        }
        killed += 1;
    }
    ctx.out.int(killed);
    Ok(())
}

fn client_id(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.client.handle.id as i64);
    Ok(())
}

fn client_setname(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    set_name(&ctx.client.handle, &args[2])?;
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let name = ctx.client.handle.name.lock().clone();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

fn client_caching(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(mode) = ctx.client.tracking.mode.clone() else {
        return Err(CmdError::err(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        ));
    };
    if is(&args[2], "yes") {
        if !mode.optin {
            return Err(CmdError::err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(&args[2], "no") {
        if !mode.optout {
            return Err(CmdError::err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.client.tracking.caching = true;
    ctx.out.ok();
    Ok(())
}

fn client_getredir(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let r = ctx
        .client
        .tracking
        .mode
        .as_ref()
        .map_or(-1, |m| m.redirect as i64);
    ctx.out.int(r);
    Ok(())
}

fn client_trackinginfo(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let state = ctx.srv.tracking.mode(ctx.client.handle.id);
    let mut flags: Vec<&str> = Vec::new();
    match &state {
        None => flags.push("off"),
        Some((m, broken)) => {
            flags.push("on");
            if m.bcast {
                flags.push("bcast");
            }
            if m.optin {
                flags.push("optin");
                if ctx.client.tracking.caching {
                    flags.push("caching-yes");
                }
            }
            if m.optout {
                flags.push("optout");
                if ctx.client.tracking.caching {
                    flags.push("caching-no");
                }
            }
            if m.noloop {
                flags.push("noloop");
            }
            if *broken {
                flags.push("broken_redirect");
            }
        }
    }
    ctx.out.map(3);
    ctx.out.bulk(b"flags");
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.bulk(f.as_bytes());
    }
    ctx.out.bulk(b"redirect");
    ctx.out
        .int(state.as_ref().map_or(-1, |(m, _)| m.redirect as i64));
    ctx.out.bulk(b"prefixes");
    let prefixes = state.map(|(m, _)| m.prefixes).unwrap_or_default();
    // BCAST without PREFIX tracks the empty prefix, listed as "" as Redis does.
    ctx.out.array(prefixes.len());
    for p in &prefixes {
        ctx.out.bulk(p);
    }
    Ok(())
}

fn client_info(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let line = ctx.client.handle.info_line() + "\n";
    ctx.out.verbatim(line.as_bytes());
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]; more arguments get Redis's subcommand syntax error.
fn client_pause(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::subcommand(args, "CLIENT"));
    }
    let ms = arg_i64(&args[2])
        .map_err(|_| CmdError::err("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::err("timeout is negative"));
    }
    let all = match args.get(3) {
        None => true,
        Some(a) if is(a, "all") => true,
        Some(a) if is(a, "write") => false,
        Some(_) => return Err(CmdError::err("CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let until_ms = crate::base::now_ms() + ms as u64;
    let current = *ctx.srv.pause.lock();
    // A new pause never shortens a longer one, and ALL wins over WRITE, as in Redis.
    let merged = match current {
        Some(old) => Pause {
            until_ms: old.until_ms.max(until_ms),
            all: old.all || all,
        },
        None => Pause { until_ms, all },
    };
    ctx.srv.set_pause(Some(merged));
    ctx.write_fence();
    ctx.out.ok();
    Ok(())
}

fn client_unpause(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.srv.set_pause(None);
    ctx.out.ok();
    Ok(())
}

fn client_no_evict(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let on = if is(&args[2], "on") {
        true
    } else if is(&args[2], "off") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    ctx.client.handle.no_evict.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let val = &args[3];
    if !valid_client_name(val) {
        return Err(CmdError::err(format!(
            "{} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(&args[2]).to_ascii_lowercase()
        )));
    }
    let v = String::from_utf8_lossy(val).into_owned();
    if is(&args[2], "lib-name") {
        ctx.client.handle.lib.lock().0 = v;
    } else if is(&args[2], "lib-ver") {
        ctx.client.handle.lib.lock().1 = v;
    } else {
        return Err(CmdError::err(format!(
            "Unrecognized option '{}'",
            String::from_utf8_lossy(&args[2])
        )));
    }
    ctx.out.ok();
    Ok(())
}

fn client_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let lines = [
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are: ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE.",
        "LIST [options ...]",
        "    Return information about client connections. Options: TYPE, ID.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <LIB-NAME|LIB-VER> <value>",
        "    Set client meta attributes.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.help(&lines);
    Ok(())
}

/// READONLY: cluster replicas only; without cluster mode stock refuses it so.
fn readonly(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::err("This instance has cluster support disabled"))
}

/// READWRITE: as READONLY, refused without cluster mode.
fn readwrite(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    Err(CmdError::err("This instance has cluster support disabled"))
}

/// CLIENT REPLY ON|OFF|SKIP: OFF silences every reply until ON, SKIP the next
/// command's (ignored while OFF). Only ON is answered; the silencing itself is applied by
/// `commands::execute` once each command has run.
fn client_reply(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mode = &mut ctx.client.reply;
    if is(&args[2], "on") {
        mode.off = false;
        mode.skip = false;
        mode.skip_next = false;
        ctx.out.ok();
    } else if is(&args[2], "off") {
        mode.off = true;
    } else if is(&args[2], "skip") {
        if !mode.off {
            mode.skip_next = true;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends another client's blocking command as its
/// timeout would (TIMEOUT, the default) or with `-UNBLOCKED`; 1 when it was blocked.
fn client_unblock(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::subcommand(args, "CLIENT"));
    }
    let as_error = match args.get(3) {
        None => false,
        Some(a) if is(a, "timeout") => false,
        Some(a) if is(a, "error") => true,
        Some(_) => {
            return Err(CmdError::err(
                "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    };
    let id = arg_i64(&args[2])?;
    // A blocked pop or XREAD, else a WAIT.
    let unblocked = u64::try_from(id).ok().is_some_and(|id| {
        ctx.srv.blocking.unblock(ctx.srv, id, as_error)
            || ctx
                .srv
                .clients
                .lock()
                .get(&id)
                .is_some_and(|c| c.unblock_wait(as_error))
    });
    ctx.out.int(unblocked as i64);
    Ok(())
}

/// CLIENT TRACKING on|off [REDIRECT id] [PREFIX p]... [BCAST] [OPTIN] [OPTOUT] [NOLOOP],
/// with Redis's checks and error texts.
fn client_tracking(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut mode = crate::tracking::Mode::default();
    let mut redirect: Option<i64> = None;
    let mut j = 3;
    while j < args.len() {
        let more = j + 1 < args.len();
        let a = &args[j];
        if is(a, "redirect") && more {
            if redirect.is_some() {
                return Err(CmdError::err(
                    "A client can only redirect to a single other client",
                ));
            }
            let id = arg_i64(&args[j + 1])?;
            if id != 0 && !ctx.srv.clients.lock().contains_key(&(id as u64)) {
                return Err(CmdError::err(
                    "The client ID you want redirect to does not exist",
                ));
            }
            redirect = Some(id);
            j += 2;
        } else if is(a, "bcast") {
            mode.bcast = true;
            j += 1;
        } else if is(a, "optin") {
            mode.optin = true;
            j += 1;
        } else if is(a, "optout") {
            mode.optout = true;
            j += 1;
        } else if is(a, "noloop") {
            mode.noloop = true;
            j += 1;
        } else if is(a, "prefix") && more {
            mode.prefixes.push(args[j + 1].clone());
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    mode.redirect = redirect.unwrap_or(0).max(0) as u64;
    let id = ctx.client.handle.id;
    if is(&args[2], "off") {
        ctx.client.tracking.mode = None;
        ctx.client.tracking.caching = false;
        ctx.srv.tracking.disable(ctx.srv, id);
        ctx.out.ok();
        return Ok(());
    }
    if !is(&args[2], "on") {
        return Err(CmdError::Syntax);
    }
    if !mode.bcast && !mode.prefixes.is_empty() {
        return Err(CmdError::err(
            "PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if let Some(old) = &ctx.client.tracking.mode
        && old.bcast != mode.bcast
    {
        return Err(CmdError::err(
            "You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    if mode.bcast && (mode.optin || mode.optout) {
        return Err(CmdError::err(
            "OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if mode.optin && mode.optout {
        return Err(CmdError::err(
            "You can't specify both OPTIN mode and OPTOUT mode",
        ));
    }
    if let Some(old) = &ctx.client.tracking.mode
        && ((mode.optin && old.optout) || (mode.optout && old.optin))
    {
        return Err(CmdError::err(
            "You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
        ));
    }
    // A client's prefixes must not overlap (one a prefix of the other, or equal): first
    // against those it has, then among the new ones, in Redis's order and words.
    let existing: Vec<Bytes> = ctx
        .client
        .tracking
        .mode
        .as_ref()
        .map(|m| m.prefixes.clone())
        .unwrap_or_default();
    let overlap = |a: &Bytes, b: &Bytes| a.starts_with(b) || b.starts_with(a);
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    for (i, p) in mode.prefixes.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(e, p)) {
            return Err(CmdError::err(format!(
                "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                text(p),
                text(e)
            )));
        }
        if let Some(q) = mode.prefixes[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(CmdError::err(format!(
                "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                text(p),
                text(q)
            )));
        }
    }
    let mut all = existing;
    all.extend(mode.prefixes.iter().cloned());
    if mode.bcast {
        all.retain(|p| !p.is_empty());
        all.dedup();
        mode.prefixes = all;
    }
    ctx.srv
        .tracking
        .enable(ctx.srv, ctx.client.handle.clone(), mode.clone());
    ctx.client.tracking.mode = Some(mode);
    ctx.out.ok();
    Ok(())
}

/// Subcommands of CLIENT.
#[rustfmt::skip]
static CLIENT_SUBCOMMANDS: &[SubCommand] = &[
    sub("id", 2, "Return the ID of the current connection").with_flags(NOSCRIPT | LOADING | STALE).run(client_id),
    sub("setname", 3, "Set the name of the current connection").with_flags(NOSCRIPT | LOADING | STALE).with_args("connection-name").run(client_setname),
    sub("getname", 2, "Return the name of the current connection").with_flags(NOSCRIPT | LOADING | STALE).run(client_getname),
    sub("list", -2, "List the client connections").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_tips("nondeterministic_output").with_args("[TYPE=normal_master_replica_pubsub(NORMAL|MASTER|REPLICA|PUBSUB)] [ID=id{client-id:integer...}]").run(client_list),
    sub("info", 2, "Describe the current connection").with_flags(NOSCRIPT | LOADING | STALE).with_tips("nondeterministic_output").run(client_info),
    sub("kill", -3, "Close client connections").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_args("filter(ip:port|new-format([ID=client-id:integer]|[TYPE=normal_master_slave_pubsub(NORMAL|MASTER|SLAVE|REPLICA|PUBSUB)]|[USER=username]|[ADDR=ip:port]|[LADDR=ip:port]|[SKIPME=yes/no])...)").run(client_kill),
    sub("pause", -3, "Suspend commands from clients for a time").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_args("timeout:integer [mode(WRITE|ALL)]").run(client_pause),
    sub("unpause", 2, "End a client pause").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).run(client_unpause),
    sub("no-evict", 3, "Protect the current connection from client eviction").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_args("enabled(ON|OFF)").run(client_no_evict),
    sub("setinfo", 4, "Record the client library name and version").with_flags(NOSCRIPT | LOADING | STALE).with_args("attr(LIB-NAME=libname|LIB-VER=libver)").run(client_setinfo),
    sub("tracking", -3, "Enable or disable server assisted client side caching").with_flags(NOSCRIPT | LOADING | STALE).run(client_tracking),
    sub("caching", 3, "Instruct the server about tracking or not keys in the next request").with_flags(NOSCRIPT | LOADING | STALE).run(client_caching),
    sub("getredir", 2, "Return the client ID invalidations are redirected to").with_flags(NOSCRIPT | LOADING | STALE).run(client_getredir),
    sub("trackinginfo", 2, "Return information about server assisted client side caching").with_flags(NOSCRIPT | LOADING | STALE).run(client_trackinginfo),
    sub("reply", 3, "Instruct the server whether to reply to commands").with_flags(NOSCRIPT | LOADING | STALE).with_args("on_off_skip(ON|OFF|SKIP)").run(client_reply),
    sub("unblock", -3, "Unblock a client blocked in a blocking command from a different connection").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_args("client-id:integer [timeout_error(TIMEOUT|ERROR)]").run(client_unblock),
    sub("help", 2, "Show helpful text about the subcommands").with_flags(LOADING | STALE).run(client_help),
];
