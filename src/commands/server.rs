//! Server commands: COMMAND, INFO, CONFIG, DEBUG, SLOWLOG, LATENCY, MONITOR, SHUTDOWN...

use super::table::{
    Command, FindKeys, KeySpec, SubCommand, cmd, container, flags, flags::*, key, sub,
};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::stream::StreamId;
use crate::store::{NUM_DBS, Value};
use bytes::Bytes;
use sha1::{Digest, Sha1};
use std::sync::atomic::Ordering;

/// Server family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        Command { arity: -1, handler: command, ..container("command", LOADING | STALE, "server", "2.8.13", "Get array of Redis command details", COMMAND_SUBCOMMANDS).acl("connection") }
            .tips("nondeterministic_output_order"),
        cmd("info", -1, LOADING | STALE | ATOMIC_READ, &[], "server", "1.0.0", "Get information and statistics about the server", info)
            .tips("nondeterministic_output request_policy:all_shards response_policy:special")
            .args("[section...]")
            .acl("dangerous"),
        container("config", ADMIN | NOSCRIPT | LOADING | STALE, "server", "2.0.0", "A container for server configuration commands", CONFIG_SUBCOMMANDS),
        cmd("time", 1, LOADING | STALE | FAST, &[], "server", "2.6.0", "Return the current server time", time)
            .tips("nondeterministic_output")
            .acl(""),
        cmd("save", 1, ADMIN | NOSCRIPT | NO_MULTI | NO_ASYNC_LOADING | ATOMIC_READ, &[], "server", "1.0.0", "Synchronously save the dataset to disk", save),
        cmd("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | ATOMIC_READ, &[], "server", "1.0.0", "Asynchronously save the dataset to disk", bgsave),
        cmd("bgrewriteaof", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | ATOMIC_READ, &[], "server", "1.0.0", "Asynchronously rewrite the append-only file", bgrewriteaof),
        cmd("lastsave", 1, LOADING | STALE | FAST, &[], "server", "1.0.0", "Get the UNIX time stamp of the last successful save to disk", lastsave)
            .tips("nondeterministic_output")
            .acl("admin dangerous"),
        cmd("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, &[], "server", "1.0.0", "Listen for all requests received by the server in real time", monitor),
        cmd("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ATOMIC_READ | ALLOW_BUSY, &[], "server", "1.0.0", "Synchronously save the dataset to disk and then shut down the server", shutdown)
            .args("[nosave_save(NOSAVE|SAVE)] [NOW] [FORCE] [ABORT]"),
        cmd("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE | ATOMIC_READ | PROTECTED, &[], "server", "1.0.0", "A container for debugging commands", debug),
        container("slowlog", ADMIN | LOADING | STALE, "server", "2.2.12", "A container for slow log commands", SLOWLOG_SUBCOMMANDS),
        container("latency", ADMIN | NOSCRIPT | LOADING | STALE, "server", "2.8.13", "A container for latency diagnostics commands", LATENCY_SUBCOMMANDS),
        cmd("lolwut", -1, READONLY | FAST, &[], "server", "5.0.0", "Display some computer art and the Redis version", super::lolwut::lolwut)
            .args("[VERSION=version:integer]"),
        cmd("role", 1, NOSCRIPT | LOADING | STALE | FAST | ATOMIC_READ, &[], "server", "2.8.12", "Return the role of the instance in the context of replication", role)
            .acl("admin dangerous"),
    ]
}

/// The flags and ACL categories a command shows (COMMAND INFO, COMMAND LIST FILTERBY
/// ACLCAT): a pure container (CONFIG, CLIENT...) describes itself as Redis does, no flags
/// and @slow; what it does is described by its subcommands.
fn shown_flags_and_categories(c: &Command) -> (u32, u32) {
    use crate::acl::catalog;
    if c.subcommands.is_empty() || c.arity != -2 {
        (c.flags, catalog::command_categories(c))
    } else {
        (0, catalog::category_bit("slow").unwrap_or(0))
    }
}

fn command_info_entry(ctx: &mut Ctx<'_>, c: &Command) {
    let (flag_bits, cats) = shown_flags_and_categories(c);
    let o = &mut *ctx.out;
    write_info(o, c.name, c.arity, flag_bits, cats, c.tips, c.keys);
    o.array(c.subcommands.len());
    for s in c.subcommands {
        let cats = crate::acl::catalog::subcommand_categories(c, s);
        let name = format!("{}|{}", c.name, s.name);
        write_info(o, &name, s.arity, s.flags, cats, s.tips, s.keys);
        o.array(0);
    }
}

/// A command's (or subcommand's) COMMAND INFO entry up to its subcommands, which the
/// caller writes: name, arity, flags, legacy key range, ACL categories, tips, key specs.
fn write_info(
    o: &mut crate::protocol::ReplyBuf,
    name: &str,
    arity: i32,
    flag_bits: u32,
    categories: u32,
    tips: &str,
    keys: &[KeySpec],
) {
    let ((first, last, step), movable) = super::table::legacy_range(keys);
    o.array(10);
    o.bulk_str(name);
    o.int(arity as i64);
    let mut names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(f, _)| flag_bits & *f != 0)
        .map(|(_, n)| *n)
        .collect();
    if movable {
        names.push("movablekeys");
    }
    if flag_bits & flags::ALLOW_BUSY != 0 {
        names.push("allow_busy");
    }
    o.set(names.len());
    for n in names {
        o.simple(n);
    }
    o.int(first as i64);
    o.int(last as i64);
    o.int(step as i64);
    let cats: Vec<&str> = crate::acl::catalog::category_names(categories).collect();
    o.set(cats.len());
    for cat in cats {
        o.simple(&format!("@{cat}"));
    }
    let tips: Vec<&str> = tips.split_whitespace().collect();
    o.set(tips.len());
    for t in tips {
        o.bulk_str(t);
    }
    o.array(keys.len());
    for k in keys {
        write_key_spec(o, k);
    }
}

/// One key spec as COMMAND INFO shows it (maps in RESP3, flat arrays in RESP2).
fn write_key_spec(o: &mut crate::protocol::ReplyBuf, k: &KeySpec) {
    o.map(3 + !k.notes.is_empty() as usize);
    if !k.notes.is_empty() {
        o.bulk_str("notes");
        o.bulk_str(k.notes);
    }
    o.bulk_str("flags");
    let names: Vec<&str> = key::NAMES
        .iter()
        .filter(|(f, _)| k.flags & *f != 0)
        .map(|(_, n)| *n)
        .collect();
    o.set(names.len());
    for n in names {
        o.simple(n);
    }
    o.bulk_str("begin_search");
    o.map(2);
    o.bulk_str("type");
    if k.find == FindKeys::Unknown {
        o.bulk_str("unknown");
        o.bulk_str("spec");
        o.map(0);
    } else if let Some((word, startfrom)) = k.keyword {
        o.bulk_str("keyword");
        o.bulk_str("spec");
        o.map(2);
        o.bulk_str("keyword");
        o.bulk_str(word);
        o.bulk_str("startfrom");
        o.int(startfrom as i64);
    } else {
        o.bulk_str("index");
        o.bulk_str("spec");
        o.map(1);
        o.bulk_str("index");
        o.int(k.index as i64);
    }
    o.bulk_str("find_keys");
    o.map(2);
    o.bulk_str("type");
    match k.find {
        FindKeys::Unknown => {
            o.bulk_str("unknown");
            o.bulk_str("spec");
            o.map(0);
        }
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => {
            o.bulk_str("range");
            o.bulk_str("spec");
            o.map(3);
            for (name, v) in [("lastkey", lastkey), ("keystep", keystep), ("limit", limit)] {
                o.bulk_str(name);
                o.int(v as i64);
            }
        }
        FindKeys::KeyNum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            o.bulk_str("keynum");
            o.bulk_str("spec");
            o.map(3);
            for (name, v) in [
                ("keynumidx", keynumidx),
                ("firstkey", firstkey),
                ("keystep", keystep),
            ] {
                o.bulk_str(name);
                o.int(v as i64);
            }
        }
    }
}

fn command_docs_entry(ctx: &mut Ctx<'_>, c: &Command) {
    let o = &mut *ctx.out;
    o.bulk_str(c.name);
    write_docs_map(
        o,
        c.name,
        c.summary,
        c.since,
        c.group,
        c.args,
        c.subcommands,
    );
}

/// One command's (or subcommand's) COMMAND DOCS map: summary, since, group, and when
/// known its arguments and subcommands.
fn write_docs_map(
    o: &mut crate::protocol::ReplyBuf,
    full_name: &str,
    summary: &str,
    since: &str,
    group: &str,
    syntax: &str,
    subcommands: &[super::table::SubCommand],
) {
    let args = super::docs::parse_arguments(syntax)
        .ok()
        .filter(|a| !a.is_empty());
    o.map(3 + args.is_some() as usize + !subcommands.is_empty() as usize);
    o.bulk_str("summary");
    o.bulk_str(summary);
    o.bulk_str("since");
    o.bulk_str(since);
    o.bulk_str("group");
    o.bulk_str(group);
    if let Some(a) = args {
        o.bulk_str("arguments");
        super::docs::write_arguments(o, &a);
    }
    if !subcommands.is_empty() {
        o.bulk_str("subcommands");
        o.map(subcommands.len());
        for s in subcommands {
            let name = format!("{}|{}", full_name, s.name);
            o.bulk_str(&name);
            write_docs_map(o, &name, s.summary, since, group, s.args, &[]);
        }
    }
}

/// COMMAND without a subcommand: details of every command (each subcommand has its own
/// handler).
fn command(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let table = &ctx.srv.commands;
    ctx.out.array(table.all.len());
    for c in table.all.iter() {
        command_info_entry(ctx, c);
    }
    Ok(())
}

fn command_count(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.srv.commands.all.len() as i64);
    Ok(())
}

/// COMMAND LIST; its FILTERBY is not supported.
/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: every command,
/// and every subcommand of a container as `container|sub`, as stock lists them.
fn command_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    enum Filter<'a> {
        All,
        Module,
        AclCat(Option<u32>),
        Pattern(&'a [u8]),
    }
    let filter = match &args[2..] {
        [] => Filter::All,
        [by, kind, arg] if is(by, "filterby") => {
            if is(kind, "module") {
                // No modules here: no command comes from one.
                Filter::Module
            } else if is(kind, "aclcat") {
                Filter::AclCat(crate::acl::catalog::category_bit(
                    &String::from_utf8_lossy(arg).to_ascii_lowercase(),
                ))
            } else if is(kind, "pattern") {
                Filter::Pattern(arg)
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let keep = |name: &str, cats: u32| match &filter {
        Filter::All => true,
        Filter::Module => false,
        Filter::AclCat(cat) => cat.is_some_and(|b| cats & b != 0),
        Filter::Pattern(p) => crate::base::glob::glob_match(p, name.as_bytes(), true),
    };
    let mut names = Vec::new();
    for c in ctx.srv.commands.all.iter() {
        if keep(c.name, shown_flags_and_categories(c).1) {
            names.push(c.name.to_string());
        }
        for s in c.subcommands {
            let full = format!("{}|{}", c.name, s.name);
            if keep(&full, crate::acl::catalog::subcommand_categories(c, s)) {
                names.push(full);
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk_str(&n);
    }
    Ok(())
}

fn command_info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let table = &ctx.srv.commands;
    let list: Vec<Option<&'static Command>> = if args.len() == 2 {
        table.all.iter().map(|c| Some(*c)).collect()
    } else {
        args[2..].iter().map(|n| table.get(n)).collect()
    };
    ctx.out.array(list.len());
    for c in list {
        match c {
            Some(c) => command_info_entry(ctx, c),
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

fn command_docs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let table = &ctx.srv.commands;
    let list: Vec<&'static Command> = if args.len() == 2 {
        table.all.clone()
    } else {
        args[2..].iter().filter_map(|n| table.get(n)).collect()
    };
    ctx.out.map(list.len());
    for c in list {
        command_docs_entry(ctx, c);
    }
    Ok(())
}

fn command_getkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    getkeys(ctx, args, false)
}

/// COMMAND GETKEYSANDFLAGS: GETKEYS with each key's flags (as COMMAND INFO names them).
fn command_getkeysandflags(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    getkeys(ctx, args, true)
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS, with the checks and errors of Redis's
/// getKeysSubcommandImpl.
fn getkeys(ctx: &mut Ctx<'_>, args: &[Bytes], with_flags: bool) -> CmdResult {
    let table = &ctx.srv.commands;
    let invalid = || CmdError::err("Invalid command specified");
    let c = table.get(&args[2]).ok_or_else(invalid)?;
    let request = &args[2..];
    // A container is looked up with its subcommand, as Redis does.
    let (arity, specs) = if c.subcommands.is_empty() || request.len() < 2 {
        (c.arity, c.keys)
    } else {
        let s = c.subcommand(request).ok_or_else(invalid)?;
        (s.arity, s.keys)
    };
    // Only specs that are not NOT_KEY (SPUBLISH's channel) make a command have keys.
    if specs.iter().all(|s| s.flags & key::NOT_KEY != 0) {
        return Err(CmdError::err("The command has no key arguments"));
    }
    if !super::table::arity_allows(arity, request.len()) {
        return Err(CmdError::err(
            "Invalid number of arguments specified for command",
        ));
    }
    // A command whose keys are optional (EVAL with numkeys 0) answers with no keys
    // rather than an error, as Redis does.
    let no_mandatory = c.has(super::table::flags::NO_MANDATORY_KEYS);
    let found = match c.getkeys {
        Some(f) => f(request),
        None => super::table::find_keys(specs, request),
    };
    let keys = match found.filter(|k| !k.is_empty()) {
        Some(k) => k,
        None if no_mandatory => Vec::new(),
        None => return Err(CmdError::err("Invalid arguments specified for command")),
    };
    ctx.out.array(keys.len());
    for k in keys {
        if with_flags {
            ctx.out.array(2);
        }
        ctx.out.bulk(&request[k.pos]);
        if with_flags {
            let names: Vec<&str> = key::NAMES
                .iter()
                .filter(|(f, _)| k.flags & *f != 0)
                .map(|(_, n)| *n)
                .collect();
            ctx.out.set(names.len());
            for n in names {
                ctx.out.simple(n);
            }
        }
    }
    Ok(())
}

fn command_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(&[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let req: Vec<String> = args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let text = super::info::render(ctx.srv, ctx.seq()?, &req);
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

fn config_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let cfg = &ctx.srv.config;
    let mut pairs: Vec<(&'static str, String)> = Vec::new();
    for pat in &args[2..] {
        for (k, v) in cfg.matching(pat) {
            if !pairs.iter().any(|(n, _)| *n == k) {
                pairs.push((k, v));
            }
        }
    }
    ctx.out.map(pairs.len());
    for (k, v) in pairs {
        ctx.out.bulk_str(k);
        ctx.out.bulk_str(&v);
    }
    Ok(())
}

fn config_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Arity("config|set".into()));
    }
    let cfg = &ctx.srv.config;
    let pairs: Vec<(String, String)> = args[2..]
        .chunks(2)
        .map(|p| {
            (
                String::from_utf8_lossy(&p[0]).into_owned(),
                String::from_utf8_lossy(&p[1]).into_owned(),
            )
        })
        .collect();
    for (i, (k, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(o, _)| o.eq_ignore_ascii_case(k)) {
            return Err(CmdError::err(format!(
                "CONFIG SET failed (possibly related to argument '{}') - duplicate parameter",
                k
            )));
        }
    }
    let protected_ok = super::protected_allowed(ctx.srv, ctx.client, "enable-protected-configs");
    for (k, v) in &pairs {
        cfg.validate(k, v, protected_ok).map_err(|e| match e {
            crate::config::ConfigError::UnknownDirective => CmdError::err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{}'",
                k
            )),
            other => CmdError::err(format!(
                "CONFIG SET failed (possibly related to argument '{}') - {}",
                k, other
            )),
        })?;
    }
    let previous: Vec<Option<String>> = pairs.iter().map(|(k, _)| cfg.get(k)).collect();
    for (k, v) in &pairs {
        cfg.set(k, v).map_err(|e| {
            CmdError::err(format!(
                "CONFIG SET failed (possibly related to argument '{}') - {}",
                k, e
            ))
        })?;
        if k.eq_ignore_ascii_case("requirepass") {
            ctx.srv.acl.set_default_password(v);
        }
        if let Some(p) = crate::config::params::find(k) {
            ctx.srv.apply_setting(p.name);
        }
        tracing::info!(param = %k, value = if k.eq_ignore_ascii_case("requirepass") || k.eq_ignore_ascii_case("masterauth") { "(redacted)" } else { v.as_str() }, "CONFIG SET");
    }
    let listener = pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("port") || k.eq_ignore_ascii_case("bind"));
    if let (Some((k, _)), Some(srv)) = (listener, ctx.srv.arc())
        && let Err(e) = crate::server::listener::rebind(&srv)
    {
        // As Redis: the whole CONFIG SET is undone and the old addresses bound again.
        tracing::warn!(error = %e, "CONFIG SET could not listen on the new addresses");
        for ((name, _), old) in pairs.iter().zip(previous) {
            if let Some(old) = old {
                let _ = cfg.set(name, &old);
                ctx.srv.apply_setting(name);
            }
        }
        if let Err(e) = crate::server::listener::rebind(&srv) {
            tracing::error!(error = %e, "could not listen on the previous addresses either");
        }
        let why = if k.eq_ignore_ascii_case("port") {
            "Unable to listen on this port. Check server logs."
        } else {
            "Failed to bind to specified addresses."
        };
        return Err(CmdError::err(format!(
            "CONFIG SET failed (possibly related to argument '{}') - {}",
            k, why
        )));
    }
    if pairs
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("appendonly"))
    {
        drop(ctx.read_guard.take());
        let srv = ctx.srv;
        if let Err(e) = crate::server::aof::apply(srv, ctx.w_taken()) {
            tracing::warn!(error = %e, "could not turn the AOF on");
            return Err(CmdError::err(format!(
                "CONFIG SET failed (possibly related to argument 'appendonly') - {e}"
            )));
        }
    }
    if pairs
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("maxmemory"))
    {
        // As Redis: a limit lowered below what is used evicts now, not at the next write.
        drop(ctx.read_guard.take());
        crate::store::evict::make_room(ctx.w_taken());
    }
    ctx.out.ok();
    Ok(())
}

fn config_resetstat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let st = &ctx.srv.stats;
    for a in [
        &st.connections_received,
        &st.commands_processed,
        &st.rejected_connections,
        &st.net_input_bytes,
        &st.net_output_bytes,
        &st.error_replies,
        &st.qbuf_limit_disconnections,
        &st.obuf_limit_disconnections,
        &st.sync_full,
        &st.sync_partial_ok,
        &st.sync_partial_err,
        &ctx.srv.rdb_saves,
    ] {
        a.store(0, Ordering::Relaxed);
    }
    let ks = &ctx.srv.store.stats;
    for a in [&ks.expired_keys, &ks.evicted_keys, &ks.hits, &ks.misses] {
        a.store(0, Ordering::Relaxed);
    }
    ctx.srv.store.lazyfree.reset_freed();
    // (The slow log stays: SLOWLOG RESET clears it, as in Redis.)
    ctx.srv.errorstats.lock().clear();
    for c in ctx.srv.commands.all.iter() {
        c.stats.reset();
    }
    ctx.out.ok();
    Ok(())
}

fn config_rewrite(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let cfg = &ctx.srv.config;
    // ACL users are part of the file unless an aclfile holds them.
    let users = if cfg.get("aclfile").unwrap_or_default().is_empty() {
        ctx.srv.acl.list()
    } else {
        Vec::new()
    };
    cfg.rewrite(&users).map_err(CmdError::err)?;
    tracing::info!("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

fn config_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(&[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

fn time(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_int(d.as_secs() as i64);
    ctx.out.bulk_int(d.subsec_micros() as i64);
    Ok(())
}

/// SAVE: a blocking point-in-time snapshot (the command holds the sequencer, so writers
/// wait for it, as every client waits for SAVE in Redis).
fn save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.srv.store.snapshot_in_progress() {
        return Err(CmdError::err("Background save already in progress"));
    }
    match crate::server::persistence::save(ctx.srv, ctx.seq()?) {
        Ok(_) => {
            ctx.out.ok();
            Ok(())
        }
        Err(_) => Err(CmdError::Msg("ERR".into())),
    }
}

/// BGSAVE [SCHEDULE]: a point-in-time snapshot written in the background while writes go
/// on (see store::snapshot).
fn bgsave(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let schedule = match args.len() {
        1 => false,
        2 if is(&args[1], "schedule") => true,
        _ => return Err(CmdError::Syntax),
    };
    let srv = ctx.srv;
    if srv.store.snapshot_in_progress() {
        if schedule {
            srv.bgsave_scheduled.store(true, Ordering::Relaxed);
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        if srv.aof_rewrite.in_progress.load(Ordering::Relaxed) {
            return Err(CmdError::err(
                "Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.",
            ));
        }
        return Err(CmdError::err("Background save already in progress"));
    }
    match crate::server::persistence::bgsave(srv, ctx.seq()?) {
        Ok(true) => ctx.out.simple("Background saving started"),
        Ok(false) => return Err(CmdError::err("Background save already in progress")),
        Err(e) => {
            tracing::warn!(error = %e, "Can't save in background");
            return Err(CmdError::err(format!("Background save failed: {}", e)));
        }
    }
    Ok(())
}

/// BGREWRITEAOF: a new AOF base snapshot and manifest in `appenddirname` (see
/// persistence::bgrewriteaof); waits for a running snapshot, as Redis waits for its child.
fn bgrewriteaof(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let srv = ctx.srv;
    if srv.aof_rewrite.in_progress.load(Ordering::Relaxed) {
        return Err(CmdError::err(
            "Background append only file rewriting already in progress",
        ));
    }
    let schedule = || {
        srv.aof_rewrite.scheduled.store(true, Ordering::Relaxed);
        srv.aof_rewrite
            .consecutive_failures
            .store(0, Ordering::Relaxed);
    };
    if srv.store.snapshot_in_progress() || ctx.client.tx.in_exec {
        schedule();
        ctx.out
            .simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    match crate::server::persistence::bgrewriteaof(srv, ctx.seq()?) {
        Ok(true) => ctx
            .out
            .simple("Background append only file rewriting started"),
        Ok(false) => {
            schedule();
            ctx.out
                .simple("Background append only file rewriting scheduled");
        }
        Err(e) => {
            tracing::warn!(error = %e, "Can't rewrite append only file in background");
            return Err(CmdError::err(
                "Can't execute an AOF background rewriting. Please check the server logs for more information.",
            ));
        }
    }
    Ok(())
}

fn lastsave(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.srv.lastsave.load(Ordering::Relaxed) as i64);
    Ok(())
}

fn monitor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    if ctx.client.tx.queued.is_some() {
        return Err(CmdError::err("MONITOR isn't allowed inside MULTI"));
    }
    if !ctx.client.handle.monitor.load(Ordering::Relaxed) {
        ctx.srv.add_monitor(&ctx.client.handle);
    }
    ctx.out.ok();
    Ok(())
}

fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut save, mut nosave, mut force) = (false, false, false);
    for a in &args[1..] {
        if is(a, "nosave") {
            nosave = true;
        } else if is(a, "save") {
            save = true;
        } else if is(a, "force") {
            force = true;
        } else if is(a, "now") {
            // Nothing to skip: there is no replica wait yet.
        } else if is(a, "abort") && args.len() == 2 {
            return Err(CmdError::err("No shutdown in progress."));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if save && nosave {
        return Err(CmdError::Syntax);
    }
    // While a script keeps the server busy only a shutdown that saves nothing may run.
    if !nosave && ctx.read_guard.is_none() && ctx.txn.is_none() {
        return Err(CmdError::Msg(ctx.srv.scripts.run.busy_text().into()));
    }
    tracing::warn!(client = ctx.client.handle.id, "User requested shutdown...");
    // As Redis: save when asked, or when save points are configured unless NOSAVE; a
    // failed save cancels the shutdown unless FORCE.
    let srv = ctx.srv;
    if save || (!nosave && crate::server::persistence::save_points_configured(srv)) {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if crate::server::persistence::save(srv, ctx.seq()?).is_err() && !force {
            tracing::warn!("Error trying to save the DB, can't exit.");
            return Err(CmdError::err("Errors trying to SHUTDOWN. Check logs."));
        }
    }
    ctx.srv.request_shutdown();
    // Redis closes the connection without a reply on success.
    ctx.client.close = true;
    Ok(())
}

fn xor_digest(digest: &mut [u8; 20], data: &[u8]) {
    let h = Sha1::digest(data);
    for (d, x) in digest.iter_mut().zip(h.iter()) {
        *d ^= x;
    }
}

fn mix_digest(digest: &mut [u8; 20], data: &[u8]) {
    xor_digest(digest, data);
    let h = Sha1::digest(&digest[..]);
    digest.copy_from_slice(&h);
}

/// The digest of one value with its expiry, as Redis's `xorObjectDigest` builds it.
fn value_digest(digest: &mut [u8; 20], value: &Value, expire_at: u64) {
    mix_digest(digest, &value.rdb_type_code().to_be_bytes());
    match value {
        Value::Str(s) => mix_digest(digest, s),
        Value::Hash(h) => {
            // Field order does not matter: each pair is digested alone and XORed in.
            for (f, v) in h.iter() {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, f);
                mix_digest(&mut ele, v);
                xor_digest(digest, &ele);
            }
        }
        Value::Set(set) => {
            for m in set.members() {
                xor_digest(digest, &m);
            }
        }
        // Order matters for lists: each element is mixed in turn.
        Value::List(l) => {
            for e in l.iter() {
                mix_digest(digest, e);
            }
        }
        // Each member is digested with its score as `%.17g` text, then XORed in.
        Value::ZSet(z) => {
            for (m, s) in z.iter() {
                let mut ele = [0u8; 20];
                mix_digest(&mut ele, m);
                mix_digest(
                    &mut ele,
                    crate::protocol::reply::format_double(s).as_bytes(),
                );
                xor_digest(digest, &ele);
            }
        }
        // Entries in order: the ID as `ms.seq`, then each field and value. Consumer
        // groups are not part of the digest, as in Redis.
        Value::Stream(st) => {
            for (id, fields) in st.range(StreamId::MIN, StreamId::MAX, false) {
                mix_digest(digest, format!("{}.{}", id.ms, id.seq).as_bytes());
                for (f, v) in fields.iter() {
                    mix_digest(digest, f);
                    mix_digest(digest, v);
                }
            }
        }
    }
    if expire_at != 0 {
        xor_digest(digest, b"!!expire!!");
    }
}

/// DEBUG DIGEST: an order-independent SHA1 mix of every key, value and TTL presence,
/// computed as Redis's `computeDatasetDigest` so nodes can be compared.
pub fn dataset_digest(ctx: &Ctx<'_>) -> [u8; 20] {
    let mut fin = [0u8; 20];
    let now = ctx.now;
    for db in 0..NUM_DBS {
        let d = ctx.srv.store.db(db);
        if d.map.is_empty() {
            continue;
        }
        mix_digest(&mut fin, &(db as u32).to_be_bytes());
        for e in d.entries() {
            if e.is_expired(now) {
                continue;
            }
            let mut dg = [0u8; 20];
            mix_digest(&mut dg, e.key());
            value_digest(&mut dg, &e.value, e.expire_at);
            // Redis folds each key's digest in through `xorDigest`, i.e. its SHA1.
            xor_digest(&mut fin, &dg);
        }
    }
    fin
}

fn debug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "sleep" if args.len() == 3 => {
            let secs = crate::protocol::parse_f64(&args[2]).ok_or(CmdError::NotFloat)?;
            if secs > 0.0 {
                let d = std::time::Duration::from_secs_f64(secs.min(3600.0));
                crate::base::block_in_place(|| std::thread::sleep(d));
            }
            ctx.out.ok();
        }
        "digest" if args.len() == 2 => {
            let d = dataset_digest(ctx);
            ctx.out.simple(&crate::base::hex(&d));
        }
        "reload" => {
            let (mut save, mut flush, mut merge) = (true, true, false);
            for opt in &args[2..] {
                match String::from_utf8_lossy(opt).to_ascii_lowercase().as_str() {
                    "merge" => merge = true,
                    "noflush" => flush = false,
                    "nosave" => save = false,
                    _ => {
                        return Err(CmdError::err(
                            "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                        ));
                    }
                }
            }
            // The exclusive section replaces the shared one DEBUG runs under.
            drop(ctx.read_guard.take());
            let srv = ctx.srv;
            if let Err(e) =
                crate::server::persistence::reload(srv, ctx.w_taken(), save, flush, merge)
            {
                tracing::warn!(error = %e, "DEBUG RELOAD failed");
                return Err(CmdError::err(
                    "Error trying to load the RDB dump, check server logs.",
                ));
            }
            ctx.out.ok();
        }
        "loadaof" => {
            // As Redis: what the AOF holds is synced, the dataset emptied and the files
            // loaded back (nothing is propagated).
            let srv = ctx.srv;
            if !crate::server::aof::exists(srv) {
                return Err(CmdError::err(
                    "Error loading the append only file: there is none, check server logs.",
                ));
            }
            srv.aof.flush();
            drop(ctx.read_guard.take());
            ctx.w_taken().flush_all(false);
            srv.functions.set(Default::default());
            match crate::server::aof::load(ctx) {
                Ok(Some(_)) => {
                    tracing::warn!("Append Only File loaded by DEBUG LOADAOF");
                    ctx.out.ok();
                }
                Ok(None) => {
                    return Err(CmdError::err(
                        "Error loading the append only file: there is none, check server logs.",
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "DEBUG LOADAOF failed");
                    return Err(CmdError::err(
                        "Error loading the append only file, check server logs.",
                    ));
                }
            }
        }
        "protocol" if args.len() == 3 => debug_protocol(ctx, &args[2])?,
        "object" if args.len() == 3 => {
            // Expired or not, as Redis finds it (the test suite checks an expired key is
            // still there before a script reads it).
            let db = ctx.db();
            let line = {
                let Some(e) = ctx.srv.store.db(db).get(&args[2]) else {
                    return Err(CmdError::NoSuchKey);
                };
                let encoding = if e.raw { "raw" } else { e.value.encoding() };
                format!(
                    "Value at:{:p} refcount:1 encoding:{encoding} serializedlength:{} lru:{} lru_seconds_idle:{}",
                    &*e,
                    crate::server::persistence::serialized_length(&e.value),
                    (crate::base::now_ms() / 1000 - e.idle_seconds()) & ((1 << 24) - 1),
                    e.idle_seconds()
                )
            };
            ctx.out.simple(&line);
        }
        "set-active-expire" if args.len() == 3 => {
            let on = arg_i64(&args[2]).unwrap_or(0) != 0;
            ctx.srv.active_expire.store(on, Ordering::Relaxed);
            ctx.out.ok();
        }
        "replybuffer" if args.len() == 4 => {
            let policy = &ctx.srv.reply_buffers;
            let value = &args[3];
            if args[2].eq_ignore_ascii_case(b"peak-reset-time") {
                let ms = if value.eq_ignore_ascii_case(b"never") {
                    -1
                } else if value.eq_ignore_ascii_case(b"reset") {
                    crate::server::reply_buffer::DEFAULT_PEAK_RESET_MS
                } else {
                    arg_i64(value)?
                };
                policy.peak_reset_ms.store(ms, Ordering::Relaxed);
            } else if args[2].eq_ignore_ascii_case(b"resizing") {
                let on = arg_i64(value).unwrap_or(0) != 0;
                policy.resizing.store(on, Ordering::Relaxed);
            } else {
                return Err(CmdError::subcommand(args, "DEBUG"));
            }
            ctx.out.ok();
        }
        "pause-cron" if args.len() == 3 => {
            let on = arg_i64(&args[2]).unwrap_or(0) != 0;
            ctx.srv.cron_paused.store(on, Ordering::Relaxed);
            ctx.out.ok();
        }
        "set-disable-deny-scripts" if args.len() == 3 => {
            let on = arg_i64(&args[2]).unwrap_or(0) != 0;
            ctx.srv.scripts.allow_noscript.store(on, Ordering::Relaxed);
            ctx.out.ok();
        }
        "digest-value" => {
            ctx.out.array(args.len() - 2);
            for k in &args[2..] {
                let mut dg = [0u8; 20];
                if let Some(e) = ctx.peek(k) {
                    value_digest(&mut dg, &e.value, e.expire_at);
                }
                ctx.out.simple(&crate::base::hex(&dg));
            }
        }
        "change-repl-id" if args.len() == 2 => {
            // A new id with no history (Redis clears replid2 too): followers must full-sync.
            tracing::warn!("Changing replication IDs after receiving DEBUG change-repl-id");
            drop(ctx.read_guard.take());
            let log = ctx.w_taken().log();
            log.replid = crate::replication::log::new_replid();
            log.replid2 = "0".repeat(40);
            log.second_offset = -1;
            ctx.out.ok();
        }
        "listpack" if args.len() == 3 => {
            let e = ctx.lookup_notouch(&args[2]).ok_or(CmdError::NoSuchKey)?;
            if e.value.encoding() != "listpack" {
                return Err(CmdError::err("Not a listpack encoded object."));
            }
            // Our compact encodings are not listpack bytes: log the elements instead.
            tracing::info!(key = %String::from_utf8_lossy(&args[2]), value = ?e.value, "DEBUG LISTPACK");
            ctx.out.simple("Listpack structure printed on stdout");
        }
        "quicklist-packed-threshold" if args.len() == 3 => {
            // Lists are not quicklists here: the threshold is checked as stock checks it (0
            // restores the default, at most 4 GB less 1 MB) and has nothing to apply to.
            let v = crate::config::parse_memory(&String::from_utf8_lossy(&args[2]))
                .filter(|v| *v <= (1u64 << 32) - (1 << 20));
            if v.is_none() {
                return Err(CmdError::err(
                    "argument must be a memory value bigger than 1 and smaller than 4gb",
                ));
            }
            ctx.out.ok();
        }
        "stringmatch-test" if args.len() == 2 => {
            // Random patterns and strings through the glob matcher (KEYS, SCAN MATCH,
            // PSUBSCRIBE): it must return, whatever it is given.
            use rand::RngExt;
            let mut rng = rand::rng();
            for _ in 0..100_000 {
                let p: Vec<u8> = (0..rng.random_range(0..32)).map(|_| rng.random()).collect();
                let t: Vec<u8> = (0..rng.random_range(0..32)).map(|_| rng.random()).collect();
                std::hint::black_box(crate::base::glob::glob_match(&p, &t, false));
            }
            ctx.out
                .simple("Apparently Redis did not crash: test passed");
        }
        "help" if args.len() == 2 => ctx.help(&[
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANGE-REPL-ID",
            "    Change the replication IDs of the instance.",
            "    Dangerous: should be used only for testing the replication subsystem.",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "LOADAOF",
            "    Flush the AOF buffers on disk and reload the AOF in memory.",
            "LISTPACK <key>",
            "    Show low level info about the listpack encoding of <key>.",
            "OBJECT <key>",
            "    Show low level info about the `key` and associated value.",
            "PAUSE-CRON <0|1>",
            "    Stop periodic cron job processing.",
            "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
            "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
            "    In case NEVER is provided the last observed peak will never be reset",
            "    In case RESET is provided the peak reset time will be restored to the default value",
            "REPLYBUFFER RESIZING <0|1>",
            "    Enable or disable the reply buffer resize cron job",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "QUICKLIST-PACKED-THRESHOLD <size>",
            "    Sets the threshold for elements to be inserted as plain vs packed nodes",
            "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SET-DISABLE-DENY-SCRIPTS <0|1>",
            "    Enable/disable the no-script flag check: 1 lets scripts run commands flagged",
            "    noscript, for testing.",
            "RELOAD [option ...]",
            "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
            "    * MERGE: conflicting keys will be loaded from RDB.",
            "    * NOFLUSH: the existing database will not be removed before load, but",
            "      conflicting keys will generate an exception and kill the server.",
            "    * NOSAVE: the database will be loaded from an existing RDB file.",
            "    Examples:",
            "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
            "      the database.",
            "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
            "      existing RDB file.",
            "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
            "      file to the database.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "STRINGMATCH-TEST",
            "    Run a fuzz tester against the stringmatchlen() function.",
            "HELP",
            "    Prints this help.",
        ]),
        _ => return Err(CmdError::subcommand(args, "DEBUG")),
    }
    Ok(())
}

/// DEBUG PROTOCOL <type>: one reply of each RESP type, as Redis sends them, for
/// clients (and scripts) to test their parsing against.
fn debug_protocol(ctx: &mut Ctx<'_>, name: &[u8]) -> CmdResult {
    let out = &mut *ctx.out;
    let resp3 = out.resp3;
    match String::from_utf8_lossy(name).to_ascii_lowercase().as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // Stock's test value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => {
            const BIG: &[u8] = b"1234567999999999999999999999999999999";
            if resp3 {
                out.raw(b"(");
                out.raw(BIG);
                out.raw(b"\r\n");
            } else {
                out.bulk(BIG);
            }
        }
        "null" => out.null(),
        "array" | "set" => {
            if name.eq_ignore_ascii_case(b"set") {
                out.set(3);
            } else {
                out.array(3);
            }
            for j in 0..3 {
                out.int(j);
            }
        }
        "map" => {
            out.map(3);
            for j in 0..3 {
                out.int(j);
                out.boolean(j == 1);
            }
        }
        "attrib" => {
            if resp3 {
                out.raw(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !resp3 {
                return Err(CmdError::err("RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        "verbatim" => out.verbatim(b"This is a verbatim\nstring"),
        _ => {
            return Err(CmdError::err(
                "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ));
        }
    }
    Ok(())
}

/// SLOWLOG GET [count]: more arguments get the old match's error, as stock.
fn slowlog_get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand(args, "SLOWLOG"));
    }
    let count = match args.get(2) {
        None => 10,
        Some(a) => {
            let n = arg_i64(a)
                .map_err(|_| CmdError::err("count should be greater than or equal to -1"))?;
            if n < -1 {
                return Err(CmdError::err("count should be greater than or equal to -1"));
            }
            if n == -1 { usize::MAX } else { n as usize }
        }
    };
    let entries: Vec<_> = ctx
        .srv
        .slowlog
        .lock()
        .entries
        .iter()
        .take(count)
        .cloned()
        .collect();
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time as i64);
        ctx.out.int(e.micros as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk_str(&e.addr);
        ctx.out.bulk_str(&e.name);
    }
    Ok(())
}

fn slowlog_len(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.srv.slowlog.lock().entries.len() as i64);
    Ok(())
}

fn slowlog_reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.srv.slowlog.lock().entries.clear();
    ctx.srv.errorstats.lock().clear();
    for c in ctx.srv.commands.all.iter() {
        c.stats.reset();
    }
    ctx.out.ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(&[
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

/// LATENCY LATEST. The latency monitor is disabled (Redis's default
/// `latency-monitor-threshold 0`), so there are no samples: LATENCY's replies have Redis's
/// shapes for that state.
fn latency_latest(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let latest = ctx.srv.latency.latest();
    ctx.out.array(latest.len());
    for (event, time, ms, max) in latest {
        ctx.out.array(4);
        ctx.out.bulk(event.as_bytes());
        ctx.out.int(time as i64);
        ctx.out.int(ms as i64);
        ctx.out.int(max as i64);
    }
    Ok(())
}

fn latency_history(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let event = String::from_utf8_lossy(&args[2]);
    let samples = ctx
        .srv
        .latency
        .series(&event)
        .map(|s| s.samples)
        .unwrap_or_default();
    ctx.out.array(samples.len());
    for (time, ms) in samples {
        ctx.out.array(2);
        ctx.out.int(time as i64);
        ctx.out.int(ms as i64);
    }
    Ok(())
}

fn latency_reset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let names: Vec<String> = args[2..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let n = ctx.srv.latency.reset(&names);
    ctx.out.int(n as i64);
    Ok(())
}

fn latency_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(&[
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

fn role(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let offset = ctx.seq()?.log.offset;
    let me = crate::replication::follower::snapshot(ctx.srv);
    if let Some((host, port)) = me.leader {
        ctx.out.array(5);
        ctx.out.bulk_str("slave");
        ctx.out.bulk_str(&host);
        ctx.out.int(port as i64);
        let state = if me.link_up {
            "connected"
        } else if me.sync_in_progress {
            "sync"
        } else {
            "connect"
        };
        ctx.out.bulk_str(state);
        ctx.out.int(offset as i64);
        return Ok(());
    }
    let followers = crate::replication::leader::follower_lines(ctx.srv);
    ctx.out.array(3);
    ctx.out.bulk_str("master");
    ctx.out.int(offset as i64);
    ctx.out.array(followers.len());
    for f in followers {
        ctx.out.array(3);
        ctx.out.bulk_str(&f.ip);
        ctx.out.bulk_str(&f.port.to_string());
        ctx.out.bulk_str(&f.offset.to_string());
    }
    Ok(())
}

/// Subcommands of COMMAND.
#[rustfmt::skip]
static COMMAND_SUBCOMMANDS: &[SubCommand] = &[
    sub("count", 2, "Count the commands").with_flags(LOADING | STALE).run(command_count),
    sub("list", -2, "List command names").with_flags(LOADING | STALE).with_tips("nondeterministic_output_order").with_args("[FILTERBY=filterby(MODULE=module-name|ACLCAT=category|PATTERN=pattern:pattern)]").run(command_list),
    sub("info", -2, "Describe commands").with_flags(LOADING | STALE).with_tips("nondeterministic_output_order").with_args("[command-name...]").run(command_info),
    sub("docs", -2, "Document commands").with_flags(LOADING | STALE).with_tips("nondeterministic_output_order").with_args("[command-name...]").run(command_docs),
    sub("getkeys", -4, "Extract the keys of a full command").with_flags(LOADING | STALE).run(command_getkeys),
    sub("getkeysandflags", -4, "Extract keys and access flags given a full Redis command").with_flags(LOADING | STALE).run(command_getkeysandflags),
    sub("help", 2, "Show helpful text about the subcommands").with_flags(LOADING | STALE).run(command_help),
];

/// Subcommands of CONFIG.
#[rustfmt::skip]
static CONFIG_SUBCOMMANDS: &[SubCommand] = &[
    sub("get", -3, "Read configuration parameters").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_args("parameter{parameter}...").run(config_get),
    sub("set", -4, "Set configuration parameters").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_tips("request_policy:all_nodes response_policy:all_succeeded").with_args("parameter_value{parameter value}...").run(config_set),
    sub("resetstat", 2, "Reset INFO statistics").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).run(config_resetstat),
    sub("rewrite", 2, "Rewrite the configuration file").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).run(config_rewrite),
    sub("help", 2, "Show helpful text about the subcommands").with_flags(LOADING | STALE).run(config_help),
];

/// Subcommands of SLOWLOG.
#[rustfmt::skip]
static SLOWLOG_SUBCOMMANDS: &[SubCommand] = &[
    sub("get", -2, "Read slow log entries").with_flags(ADMIN | LOADING | STALE).with_tips("request_policy:all_nodes nondeterministic_output").with_args("[count:integer]").run(slowlog_get),
    sub("len", 2, "Count slow log entries").with_flags(ADMIN | LOADING | STALE).with_tips("request_policy:all_nodes response_policy:agg_sum nondeterministic_output").run(slowlog_len),
    sub("reset", 2, "Clear the slow log").with_flags(ADMIN | LOADING | STALE).with_tips("request_policy:all_nodes response_policy:all_succeeded").run(slowlog_reset),
    sub("help", 2, "Show helpful text about the subcommands").with_flags(LOADING | STALE).run(slowlog_help),
];

/// Subcommands of LATENCY.
#[rustfmt::skip]
static LATENCY_SUBCOMMANDS: &[SubCommand] = &[
    sub("latest", 2, "Report the latest latency samples").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_tips("nondeterministic_output request_policy:all_nodes response_policy:special").run(latency_latest),
    sub("history", 3, "Report latency samples of an event").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_tips("nondeterministic_output request_policy:all_nodes response_policy:special").with_args("event").run(latency_history),
    sub("reset", -2, "Reset latency data").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_tips("request_policy:all_nodes response_policy:all_succeeded").with_args("[event...]").run(latency_reset),
    sub("doctor", 2, "Return a human readable latency analysis report.").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_tips("nondeterministic_output request_policy:all_nodes response_policy:special").run(super::latency::latency_doctor),
    sub("graph", 3, "Return a latency graph for the event.").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_tips("nondeterministic_output request_policy:all_nodes response_policy:special").with_args("event").run(super::latency::latency_graph),
    sub("histogram", -2, "Return the cumulative distribution of latencies of a subset of commands or all.").with_flags(ADMIN | NOSCRIPT | LOADING | STALE).with_tips("nondeterministic_output request_policy:all_nodes response_policy:special").with_args("[COMMAND...]").run(super::latency::latency_histogram),
    sub("help", 2, "Show helpful text about the subcommands").with_flags(LOADING | STALE).run(latency_help),
];
