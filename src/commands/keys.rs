//! Keyspace and TTL commands: DEL, EXISTS, RENAME, SCAN, EXPIRE family, databases.

use super::table::{Command, KeySpec, SubCommand, cmd, container, flags::*, key, key_range, sub};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::lazyfree::FreeReason;
use crate::store::notify::GENERIC;
use crate::store::{Entry, NUM_DBS, scan_step};
use bytes::Bytes;

/// Keyspace family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("del", -2, WRITE, const { &[key_range(key::RM | key::DELETE, 1, -1, 1, 0)] }, "generic", "1.0.0", "Delete a key", del)
            .tips("request_policy:multi_shard response_policy:agg_sum")
            .args("key:key..."),
        cmd("unlink", -2, WRITE | FAST, const { &[key_range(key::RM | key::DELETE, 1, -1, 1, 0)] }, "generic", "4.0.0", "Delete a key asynchronously in another thread", unlink)
            .tips("request_policy:multi_shard response_policy:agg_sum")
            .args("key:key..."),
        cmd("exists", -2, READONLY | FAST | ATOMIC_READ, const { &[key_range(key::RO, 1, -1, 1, 0)] }, "generic", "1.0.0", "Determine if a key exists", exists)
            .tips("request_policy:multi_shard response_policy:agg_sum")
            .args("key:key..."),
        cmd("type", 2, READONLY | FAST, const { &[key_range(key::RO, 1, 0, 1, 0)] }, "generic", "1.0.0", "Determine the type stored at key", type_)
            .args("key:key"),
        cmd("rename", 3, WRITE, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0), key_range(key::OW | key::UPDATE, 2, 0, 1, 0)] }, "generic", "1.0.0", "Rename a key", rename)
            .args("key:key newkey:key"),
        cmd("renamenx", 3, WRITE | FAST, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0), key_range(key::OW | key::INSERT, 2, 0, 1, 0)] }, "generic", "1.0.0", "Rename a key, only if the new key does not exist", renamenx)
            .args("key:key newkey:key"),
        cmd("copy", -3, WRITE | DENYOOM, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0), key_range(key::OW | key::UPDATE, 2, 0, 1, 0)] }, "generic", "6.2.0", "Copy a key", copy)
            .args("source:key destination:key [DB=destination-db:integer] [REPLACE]"),
        cmd("dump", 2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "generic", "2.6.0", "Return a serialized version of the value stored at the specified key.", dump)
            .tips("nondeterministic_output")
            .args("key:key"),
        cmd("restore", -4, WRITE | DENYOOM, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0)] }, "generic", "2.6.0", "Create a key using the provided serialized value, previously obtained using DUMP.", restore)
            .args("key:key ttl:integer serialized-value:string [REPLACE] [ABSTTL] [IDLETIME=seconds:integer] [FREQ=frequency:integer]")
            .acl("keyspace dangerous"),
        cmd("move", 3, WRITE | FAST, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, "generic", "1.0.0", "Move a key to another database", move_)
            .args("key:key db:integer"),
        cmd("keys", 2, READONLY | ATOMIC_READ, &[], "generic", "1.0.0", "Find all keys matching the given pattern", keys)
            .tips("request_policy:all_shards nondeterministic_output_order")
            .args("pattern:pattern")
            .acl("keyspace dangerous"),
        cmd("scan", -2, READONLY | ATOMIC_READ, &[], "generic", "2.8.0", "Incrementally iterate the keys space", scan)
            .tips("nondeterministic_output request_policy:special")
            .args("cursor:integer [MATCH=pattern:pattern] [COUNT=count:integer] [TYPE=type]"),
        cmd("randomkey", 1, READONLY | ATOMIC_READ, &[], "generic", "1.0.0", "Return a random key from the keyspace", randomkey)
            .tips("request_policy:all_shards nondeterministic_output")
            .acl("keyspace"),
        cmd("dbsize", 1, READONLY | FAST | ATOMIC_READ, &[], "server", "1.0.0", "Return the number of keys in the selected database", dbsize)
            .tips("request_policy:all_shards response_policy:agg_sum")
            .acl("keyspace"),
        cmd("touch", -2, READONLY | FAST | ATOMIC_READ, const { &[key_range(key::RO, 1, -1, 1, 0)] }, "generic", "3.2.1", "Alters the last access time of a key(s). Returns the number of existing keys specified.", touch)
            .tips("request_policy:multi_shard response_policy:agg_sum")
            .args("key:key..."),
        container("object", READONLY, "generic", "2.2.3", "A container for object introspection commands", OBJECT_SUBCOMMANDS)
            .acl(""),
        cmd("select", 2, LOADING | STALE | FAST, &[], "connection", "1.0.0", "Change the selected database for the current connection", select)
            .args("index:integer")
            .acl("connection"),
        cmd("swapdb", 3, WRITE | FAST, &[], "server", "4.0.0", "Swaps two Redis databases", swapdb)
            .args("index1:integer index2:integer")
            .acl("keyspace dangerous"),
        cmd("flushdb", -1, WRITE, &[], "server", "1.0.0", "Remove all keys from the current database", flushdb)
            .tips("request_policy:all_shards response_policy:all_succeeded")
            .args("[async(ASYNC|SYNC)]")
            .acl("keyspace dangerous"),
        cmd("flushall", -1, WRITE, &[], "server", "1.0.0", "Remove all keys from all databases", flushall)
            .tips("request_policy:all_shards response_policy:all_succeeded")
            .args("[async(ASYNC|SYNC)]")
            .acl("keyspace dangerous"),
        cmd("expire", -3, WRITE | FAST, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, "generic", "1.0.0", "Set a key's time to live in seconds", expire)
            .args("key:key seconds:integer [condition(NX|XX|GT|LT)]"),
        cmd("pexpire", -3, WRITE | FAST, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, "generic", "2.6.0", "Set a key's time to live in milliseconds", pexpire)
            .args("key:key milliseconds:integer [condition(NX|XX|GT|LT)]"),
        cmd("expireat", -3, WRITE | FAST, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, "generic", "1.2.0", "Set the expiration for a key as a UNIX timestamp", expireat)
            .args("key:key unix-time-seconds:unix-time [condition(NX|XX|GT|LT)]"),
        cmd("pexpireat", -3, WRITE | FAST, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, "generic", "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds", pexpireat)
            .args("key:key unix-time-milliseconds:unix-time [condition(NX|XX|GT|LT)]"),
        cmd("ttl", 2, READONLY | FAST, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "generic", "1.0.0", "Get the time to live for a key in seconds", ttl)
            .tips("nondeterministic_output")
            .args("key:key"),
        cmd("pttl", 2, READONLY | FAST, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "generic", "2.6.0", "Get the time to live for a key in milliseconds", pttl)
            .tips("nondeterministic_output")
            .args("key:key"),
        cmd("expiretime", 2, READONLY | FAST, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "generic", "7.0.0", "Get the expiration Unix timestamp for a key", expiretime)
            .args("key:key"),
        cmd("pexpiretime", 2, READONLY | FAST, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "generic", "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds", pexpiretime)
            .args("key:key"),
        cmd("persist", 2, WRITE | FAST, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, "generic", "2.2.0", "Remove the expiration from a key", persist)
            .args("key:key"),
    ]
}

fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    delete_keys(ctx, args, false)
}

fn unlink(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    delete_keys(ctx, args, true)
}

/// DEL and UNLINK: UNLINK always frees large values in the background, DEL when
/// `lazyfree-lazy-user-del` says so.
fn delete_keys(ctx: &mut Ctx<'_>, args: &[Bytes], lazy: bool) -> CmdResult {
    let db = ctx.db();
    let lazyfree = &ctx.srv.store.lazyfree;
    let t = ctx.w()?;
    let mut n = 0;
    for k in &args[1..] {
        if let Some(old) = t.remove(db, k) {
            lazyfree.free_entry(FreeReason::UserDel, old, lazy);
            t.propagate(db, &[b"DEL", k]);
            t.notify(GENERIC, "del", db, k);
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

/// EXISTS leaves the access time alone (Redis's LOOKUP_NOTOUCH); TOUCH is the same
/// count with the access time updated.
fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = args[1..]
        .iter()
        .filter(|k| ctx.lookup_notouch(k).is_some())
        .count();
    ctx.out.int(n as i64);
    Ok(())
}

fn touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = args[1..].iter().filter(|k| ctx.lookup(k).is_some()).count();
    ctx.out.int(n as i64);
    Ok(())
}

fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let name = ctx
        .lookup_notouch(&args[1])
        .map_or("none", |r| r.value.type_name());
    ctx.out.simple(name);
    Ok(())
}

/// Moves `src` to `dst` keeping its TTL. Returns false when `nx` and `dst` exists.
fn rename_common(ctx: &mut Ctx<'_>, args: &[Bytes], nx: bool) -> Result<bool, CmdError> {
    let db = ctx.db();
    let (src, dst) = (&args[1], &args[2]);
    let t = ctx.w()?;
    if !t.exists(db, src) {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        return Ok(!nx);
    }
    if nx && t.exists(db, dst) {
        return Ok(false);
    }
    let Some(entry) = t.remove(db, src) else {
        return Err(CmdError::NoSuchKey);
    };
    // The destination is deleted, then created (Redis announces `new` either way).
    if let Some(old) = t.remove(db, dst) {
        t.store()
            .lazyfree
            .free_entry(FreeReason::ServerDel, old, false);
    }
    t.insert(db, dst, entry);
    t.propagate(db, &[b"RENAME", src, dst]);
    t.notify(GENERIC, "rename_from", db, src);
    t.notify(GENERIC, "rename_to", db, dst);
    Ok(true)
}

fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rename_common(ctx, args, false)?;
    ctx.out.ok();
    Ok(())
}

fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let done = rename_common(ctx, args, true)?;
    ctx.out.int(done as i64);
    Ok(())
}

/// Parses a database index argument (`ERR value is not an integer...`, `ERR DB index...`).
pub fn parse_db(arg: &[u8]) -> Result<usize, CmdError> {
    let v = arg_i64(arg)?;
    if v < 0 || v >= NUM_DBS as i64 {
        return Err(CmdError::DbIndex);
    }
    Ok(v as usize)
}

fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let src_db = ctx.db();
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is(&args[i], "replace") {
            replace = true;
        } else if is(&args[i], "db") && i + 1 < args.len() {
            dst_db = parse_db(&args[i + 1]).map_err(|e| match e {
                CmdError::NotInteger => e,
                _ => CmdError::DbIndex,
            })?;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let (src, dst) = (&args[1], &args[2]);
    if src_db == dst_db && src == dst {
        return Err(CmdError::err("source and destination objects are the same"));
    }
    let t = ctx.w()?;
    let Some(entry) = t.get(src_db, src).map(|e| e.clone()) else {
        ctx.out.int(0);
        return Ok(());
    };
    if t.exists(dst_db, dst) {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        t.remove(dst_db, dst);
    }
    t.insert(dst_db, dst, Entry::new(entry.value, entry.expire_at));
    let dbs = dst_db.to_string();
    t.propagate(
        src_db,
        &[b"COPY", src, dst, b"DB", dbs.as_bytes(), b"REPLACE"],
    );
    t.notify(GENERIC, "copy_to", dst_db, dst);
    ctx.out.int(1);
    Ok(())
}

fn move_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let src_db = ctx.db();
    let dst_db = parse_db(&args[2])?;
    if src_db == dst_db {
        return Err(CmdError::err("source and destination objects are the same"));
    }
    let key = &args[1];
    let t = ctx.w()?;
    if !t.exists(src_db, key) || t.exists(dst_db, key) {
        ctx.out.int(0);
        return Ok(());
    }
    if let Some(e) = t.remove(src_db, key) {
        t.insert(dst_db, key, e);
    }
    t.propagate(src_db, &[b"MOVE", key, &args[2]]);
    t.notify(GENERIC, "move_from", src_db, key);
    t.notify(GENERIC, "move_to", dst_db, key);
    ctx.out.int(1);
    Ok(())
}

fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pat = &args[1];
    let all = pat.as_ref() == b"*";
    let now = ctx.now;
    let matched: Vec<Bytes> = ctx
        .srv
        .store
        .db(ctx.db())
        .entries()
        .filter(|e| {
            !e.is_expired(now) && (all || crate::base::glob::glob_match(pat, e.key(), false))
        })
        .map(|e| Bytes::copy_from_slice(e.key()))
        .collect();
    ctx.out.array(matched.len());
    for k in matched {
        ctx.out.bulk(&k);
    }
    Ok(())
}

/// Parsed SCAN-family options.
#[derive(Debug, Default)]
pub struct ScanOptions {
    /// MATCH pattern.
    pub pattern: Option<Bytes>,
    /// COUNT hint.
    pub count: usize,
    /// TYPE filter.
    pub type_name: Option<String>,
}

impl ScanOptions {
    /// True when `name` matches MATCH (or there is none).
    pub fn matches(&self, name: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| crate::base::glob::glob_match(p, name, false))
    }
}

/// Parses a SCAN cursor (`ERR invalid cursor`).
pub fn parse_cursor(a: &[u8]) -> Result<u64, CmdError> {
    std::str::from_utf8(a)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| CmdError::err("invalid cursor"))
}

/// Parses MATCH/COUNT/TYPE options.
pub fn parse_scan_options(args: &[Bytes], allow_type: bool) -> Result<ScanOptions, CmdError> {
    let mut o = ScanOptions {
        count: 10,
        ..Default::default()
    };
    let mut i = 0;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        let v = &args[i + 1];
        if is(&args[i], "match") {
            o.pattern = Some(v.clone());
        } else if is(&args[i], "count") {
            let c = arg_i64(v)?;
            if c < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = c as usize;
        } else if allow_type && is(&args[i], "type") {
            o.type_name = Some(String::from_utf8_lossy(v).to_ascii_lowercase());
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&args[1])?;
    let o = parse_scan_options(&args[2..], true)?;
    let mut expired = Vec::new();
    let (found, next) = scan_step(
        ctx.srv.store.db(ctx.db()),
        cursor,
        o.count,
        ctx.now,
        &mut expired,
        |k, e| {
            o.matches(k)
                && o.type_name
                    .as_deref()
                    .is_none_or(|t| e.value.type_name() == t)
        },
    );
    let db = ctx.db();
    ctx.expired_seen
        .extend(expired.into_iter().map(|k| (db, k)));
    ctx.out.array(2);
    ctx.out.bulk(next.to_string().as_bytes());
    ctx.out.array(found.len());
    for k in found {
        ctx.out.bulk(&k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let _ = args;
    use rand::RngExt;
    let db = ctx.srv.store.db(ctx.db());
    let shards = db.map.shards();
    let mut rng = rand::rng();
    let now = ctx.now;
    // Try random shards; fall back to a full pass when the map is sparse or mostly expired.
    for _ in 0..shards.len() * 2 {
        let s = shards[rng.random_range(0..shards.len())].read();
        if s.is_empty() {
            continue;
        }
        let idx = rng.random_range(0..s.len());
        let Some((k, expired)) = crate::store::shard_entries(&s)
            .nth(idx)
            .map(|(k, v)| (Bytes::copy_from_slice(k), v.is_expired(now)))
        else {
            continue;
        };
        if !expired {
            ctx.out.bulk(&k);
            return Ok(());
        }
        // An expired key drawn is deleted after the command, as Redis's RANDOMKEY does.
        let db = ctx.db();
        ctx.expired_seen.push((db, k));
    }
    let any = db
        .entries()
        .find(|e| !e.is_expired(now))
        .map(|e| Bytes::copy_from_slice(e.key()));
    match any {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let n = ctx.srv.store.db(ctx.db()).map.len();
    ctx.out.int(n as i64);
    Ok(())
}

const LFU_SELECTED_ERROR: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

const LFU_ERROR: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

fn object_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(&[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

/// True when an LFU maxmemory policy is selected (keys track frequency, not idle time).
fn lfu_selected(ctx: &Ctx<'_>) -> bool {
    ctx.srv.store.evictor.settings.access_mode() != crate::store::value::AccessMode::Lru
}

fn object_encoding(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(e) = ctx.peek(&args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    let encoding = if e.raw { "raw" } else { e.value.encoding() };
    ctx.out.bulk_str(encoding);
    Ok(())
}

fn object_idletime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let lfu = lfu_selected(ctx);
    let Some(e) = ctx.peek(&args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    if lfu {
        return Err(CmdError::Msg(LFU_SELECTED_ERROR.into()));
    }
    ctx.out.int(e.idle_seconds() as i64);
    Ok(())
}

fn object_refcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.peek(&args[2]).is_none() {
        ctx.out.null();
        return Ok(());
    }
    ctx.out.int(1);
    Ok(())
}

fn object_freq(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let lfu = lfu_selected(ctx);
    let settings = &ctx.srv.store.evictor.settings;
    let decay_minutes = settings
        .lfu_decay_time
        .load(std::sync::atomic::Ordering::Relaxed);
    let Some(e) = ctx.peek(&args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    if !lfu {
        return Err(CmdError::Msg(LFU_ERROR.into()));
    }
    ctx.out.int(e.frequency(decay_minutes) as i64);
    Ok(())
}

fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let db = parse_db(&args[1])?;
    ctx.client.db = db;
    ctx.client
        .handle
        .db
        .store(db, std::sync::atomic::Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let a = crate::protocol::parse_i64(&args[1])
        .ok_or_else(|| CmdError::err("invalid first DB index"))?;
    let b = crate::protocol::parse_i64(&args[2])
        .ok_or_else(|| CmdError::err("invalid second DB index"))?;
    if a < 0 || b < 0 || a >= NUM_DBS as i64 || b >= NUM_DBS as i64 {
        return Err(CmdError::DbIndex);
    }
    // Propagated in the client's database, as every command (the stream selects it).
    let db = ctx.db();
    let t = ctx.w()?;
    if a != b {
        t.swap_db(a as usize, b as usize);
    }
    t.propagate(db, &[b"SWAPDB", &args[1], &args[2]]);
    ctx.out.ok();
    Ok(())
}

/// Whether FLUSHALL / FLUSHDB frees in the background: ASYNC yes, SYNC no, neither as
/// `lazyfree-lazy-user-flush` says.
fn flush_lazily(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<bool, CmdError> {
    match args.len() {
        1 => Ok(ctx.srv.store.lazyfree.enabled(FreeReason::UserFlush)),
        2 if is(&args[1], "async") => Ok(true),
        2 if is(&args[1], "sync") => Ok(false),
        _ => Err(CmdError::Syntax),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let lazy = flush_lazily(ctx, args)?;
    let db = ctx.db();
    let t = ctx.w()?;
    t.flush_db(db, lazy);
    t.propagate(db, &[b"FLUSHDB"]);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let lazy = flush_lazily(ctx, args)?;
    let db = ctx.db();
    let t = ctx.w()?;
    t.flush_all(lazy);
    t.propagate(db, &[b"FLUSHALL"]);
    ctx.out.ok();
    Ok(())
}

/// EXPIRE's NX/XX/GT/LT condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExpireCond {
    /// Always.
    Always,
    /// Only without a TTL.
    Nx,
    /// Only with a TTL.
    Xx,
    /// Only if the new TTL is greater.
    Gt,
    /// Only if the new TTL is smaller (no TTL counts as infinite).
    Lt,
    /// XX LT: only with a TTL, and only if the new one is smaller.
    XxLt,
}

/// Parses EXPIRE's trailing flags with Redis's compatibility errors.
pub fn parse_expire_cond(args: &[Bytes]) -> Result<ExpireCond, CmdError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in args {
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else {
            return Err(CmdError::err(format!(
                "Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(CmdError::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    Ok(if nx {
        ExpireCond::Nx
    } else if xx && gt {
        ExpireCond::Gt
    } else if xx && lt {
        ExpireCond::XxLt
    } else if xx {
        ExpireCond::Xx
    } else if gt {
        ExpireCond::Gt
    } else if lt {
        ExpireCond::Lt
    } else {
        ExpireCond::Always
    })
}

/// Shared body of EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT: `unit_ms` scales the argument and
/// `relative` adds the current time.
fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    unit_ms: i64,
    relative: bool,
    name: &str,
) -> CmdResult {
    let v = arg_i64(&args[2])?;
    let cond = parse_expire_cond(&args[3..])?;
    let invalid = || CmdError::err(format!("invalid expire time in '{}' command", name));
    let mut at = v.checked_mul(unit_ms).ok_or_else(invalid)?;
    if relative {
        at = at.checked_add(ctx.now as i64).ok_or_else(invalid)?;
    }
    let db = ctx.db();
    let key = &args[1];
    let t = ctx.w()?;
    let Some(cur) = t.get(db, key).map(|e| e.expire_at) else {
        ctx.out.int(0);
        return Ok(());
    };
    let allowed = match cond {
        ExpireCond::Always => true,
        ExpireCond::Nx => cur == 0,
        ExpireCond::Xx => cur != 0,
        ExpireCond::Gt => cur != 0 && at > cur as i64,
        ExpireCond::Lt => cur == 0 || at < cur as i64,
        ExpireCond::XxLt => cur != 0 && at < cur as i64,
    };
    if !allowed {
        ctx.out.int(0);
        return Ok(());
    }
    if at <= t.now as i64 {
        t.remove(db, key);
        t.propagate(db, &[b"DEL", key]);
        t.notify(GENERIC, "del", db, key);
    } else {
        t.set_expire(db, key, at as u64);
        let ts = at.to_string();
        t.propagate(db, &[b"PEXPIREAT", key, ts.as_bytes()]);
        t.notify(GENERIC, "expire", db, key);
    }
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1000, true, "expire")
}

fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1, true, "pexpire")
}

fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1000, false, "expireat")
}

fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    expire_generic(ctx, args, 1, false, "pexpireat")
}

/// -2 missing, -1 no TTL, else the absolute expiry in ms.
fn expire_of(ctx: &mut Ctx<'_>, key: &[u8]) -> i64 {
    match ctx.lookup_notouch(key) {
        None => -2,
        Some(e) if e.expire_at == 0 => -1,
        Some(e) => e.expire_at as i64,
    }
}

fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], ms: bool, absolute: bool) -> CmdResult {
    let at = expire_of(ctx, key);
    let v = if at < 0 {
        at
    } else if absolute {
        if ms { at } else { (at + 500) / 1000 }
    } else {
        let left = (at - ctx.now as i64).max(0);
        if ms { left } else { (left + 500) / 1000 }
    };
    ctx.out.int(v);
    Ok(())
}

fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], false, false)
}

fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], true, false)
}

fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ttl_generic(ctx, &args[1], true, true)
}

/// Removes `key`'s TTL (PERSIST, GETEX PERSIST): propagated and announced when it had
/// one. Returns whether it had.
pub fn persist_key(t: &mut crate::store::WriteTxn<'_>, db: usize, key: &[u8]) -> bool {
    let had = t.get(db, key).is_some_and(|e| e.expire_at != 0);
    if had {
        t.set_expire(db, key, 0);
        t.propagate(db, &[b"PERSIST", key]);
        t.notify(GENERIC, "persist", db, key);
    }
    had
}

fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let had = persist_key(ctx.w()?, db, &args[1]);
    ctx.out.int(had as i64);
    Ok(())
}

/// The one key of OBJECT's subcommands (`OBJECT ENCODING key`).
const OBJECT_KEY: &[KeySpec] = &[key_range(key::RO, 2, 0, 1, 0)];

/// Subcommands of OBJECT.
#[rustfmt::skip]
static OBJECT_SUBCOMMANDS: &[SubCommand] = &[
    sub("encoding", 3, "Report the internal encoding of a value").with_flags(READONLY).with_keys(OBJECT_KEY).with_tips("nondeterministic_output").with_args("key:key").run(object_encoding),
    sub("idletime", 3, "Report seconds since a key was last accessed").with_flags(READONLY).with_keys(OBJECT_KEY).with_tips("nondeterministic_output").with_args("key:key").run(object_idletime),
    sub("freq", 3, "Report the access frequency counter of a key").with_flags(READONLY).with_keys(OBJECT_KEY).with_tips("nondeterministic_output").with_args("key:key").run(object_freq),
    sub("refcount", 3, "Report the reference count of a value").with_flags(READONLY).with_keys(OBJECT_KEY).with_tips("nondeterministic_output").with_args("key:key").run(object_refcount),
    sub("help", 2, "Show helpful text about the subcommands").with_flags(LOADING | STALE).run(object_help),
];

fn dump(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let payload = ctx
        .lookup(&args[1])
        .map(|e| crate::server::persistence::dump(&e.value));
    match payload {
        Some(p) => ctx.out.bulk(&p),
        None => ctx.out.null(),
    }
    Ok(())
}

/// RESTORE (and RESTORE-ASKING, its cluster-migration twin).
pub(super) fn restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None, None);
    let mut j = 4;
    while j < args.len() {
        let (a, more) = (&args[j], j + 1 < args.len());
        if is(a, "replace") {
            replace = true;
        } else if is(a, "absttl") {
            absttl = true;
        } else if is(a, "idletime") && more && freq.is_none() {
            let v = arg_i64(&args[j + 1])?;
            if v < 0 {
                return Err(CmdError::err("Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v as u64);
            j += 1;
        } else if is(a, "freq") && more && idle.is_none() {
            let v = arg_i64(&args[j + 1])?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::err("Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(v as u8);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let key = &args[1];
    let db = ctx.db();
    if !replace && ctx.w()?.exists(db, key) {
        return Err(CmdError::Msg(
            "BUSYKEY Target key name already exists.".into(),
        ));
    }
    let ttl = arg_i64(&args[2])?;
    if ttl < 0 {
        return Err(CmdError::err("Invalid TTL value, must be >= 0"));
    }
    let value =
        crate::server::persistence::restore(&args[3], ctx.limits()).map_err(CmdError::err)?;
    let at = match ttl {
        0 => 0,
        t if absttl => t as u64,
        t => ctx.now.saturating_add(t as u64),
    };
    let expired = at != 0 && at <= ctx.now && !ctx.srv.store.follower_mode();
    let mode = ctx.srv.store.evictor.settings.access_mode();
    let t = ctx.w()?;
    let deleted = replace && t.remove(db, key).is_some();
    // Already expired: nothing is created (a follower keeps what its leader sends).
    if expired {
        if deleted {
            t.propagate(db, &[b"DEL", key]);
            t.notify(GENERIC, "del", db, key);
        }
        ctx.out.ok();
        return Ok(());
    }
    let mut entry = Entry::new(value, at);
    entry.set_access_hint(mode, idle, freq);
    t.insert(db, key, entry);
    // A relative TTL reaches followers as the absolute time it gave here.
    if ttl != 0 && !absttl {
        let at = at.to_string();
        let mut refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        refs[2] = at.as_bytes();
        refs.push(b"ABSTTL");
        t.propagate(db, &refs);
    } else {
        let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        t.propagate(db, &refs);
    }
    t.notify(GENERIC, "restore", db, key);
    ctx.out.ok();
    Ok(())
}
