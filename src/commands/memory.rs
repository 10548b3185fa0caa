//! MEMORY: what a key costs (USAGE, as memory analysers and RedisInsight ask), the
//! allocator's view (STATS, MALLOC-STATS, PURGE) and a short DOCTOR report. Figures are
//! measured here (jemalloc counters, our own node and value sizes), never copied from
//! what Redis would report.

use super::table::{Command, SubCommand, container, flags::*, key, key_range, sub};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::{NUM_DBS, Value};
use bytes::Bytes;

/// MEMORY table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![container("memory", 0, "server", "4.0.0", "A container for memory diagnostics commands", MEMORY_SUBCOMMANDS)]
}

#[rustfmt::skip]
static MEMORY_SUBCOMMANDS: &[SubCommand] = &[
    sub("doctor", 2, "Outputs memory problems report").with_tips("nondeterministic_output request_policy:all_shards response_policy:special").run(doctor),
    sub("help", 2, "Show helpful text about the different subcommands").with_flags(LOADING | STALE).run(help),
    sub("malloc-stats", 2, "Show allocator internal stats").with_tips("nondeterministic_output request_policy:all_shards response_policy:special").run(malloc_stats),
    sub("purge", 2, "Ask the allocator to release memory").with_tips("request_policy:all_shards response_policy:all_succeeded").run(purge),
    sub("stats", 2, "Show memory usage details").with_tips("nondeterministic_output request_policy:all_shards response_policy:special").run(stats),
    sub("usage", -3, "Estimate the memory usage of a key").with_flags(READONLY).with_keys(const { &[key_range(key::RO, 2, 0, 1, 0)] }).with_args("key:key [SAMPLES=count:integer]").run(usage),
];

fn help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(&[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

/// Bytes a key takes: its node (entry and key), its slot in the table and what its value
/// holds on the heap (a short string lives inside the entry).
pub fn key_usage(key_len: usize, value: &Value) -> usize {
    let value_heap = match value {
        Value::Str(s) if s.spilled() => s.capacity(),
        Value::Str(_) => 0,
        other => other.heap_size(),
    };
    crate::store::node::alloc_size(key_len) + 16 + value_heap
}

fn usage(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut j = 3;
    while j < args.len() {
        if is(&args[j], "samples") && j + 1 < args.len() {
            if arg_i64(&args[j + 1])? < 0 {
                return Err(CmdError::Syntax);
            }
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // Every element is counted: our sizes are kept exactly, so sampling would only
    // make the answer worse.
    let size = ctx
        .peek(&args[2])
        .map(|e| key_usage(args[2].len(), &e.value));
    match size {
        Some(n) => ctx.out.int(n as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn stats(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let srv = ctx.srv;
    let m = crate::base::memory_stats();
    // Under the write section when EXEC or a script holds it (the lock is not re-entrant).
    let backlog = match ctx.txn.as_mut() {
        Some(t) => t.log().backlog.as_ref().map_or(0, |b| b.histlen()),
        None => srv
            .store
            .read_lock()
            .log
            .backlog
            .as_ref()
            .map_or(0, |b| b.histlen()),
    } as u64;
    let scripts = srv.scripts.cache_bytes() as u64;
    let functions = srv.functions.current().code_bytes() as u64;
    let (mut keys, mut dbs) = (0u64, Vec::new());
    for db in 0..NUM_DBS {
        let (n, volatile) = srv.store.db_sizes(db);
        if n > 0 {
            // One table slot per key, and the expiry index's entry per volatile key.
            dbs.push((db, n as u64 * 16, volatile as u64 * 32));
            keys += n as u64;
        }
    }
    let overhead =
        backlog + scripts + functions + dbs.iter().map(|(_, main, exp)| main + exp).sum::<u64>();
    let dataset = m.allocated.saturating_sub(overhead);
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let o = &mut *ctx.out;
    o.map(24 + dbs.len());
    fn int(o: &mut crate::protocol::ReplyBuf, name: &str, v: u64) {
        o.bulk_str(name);
        o.int(v as i64);
    }
    int(o, "peak.allocated", m.allocated);
    int(o, "total.allocated", m.allocated);
    int(o, "replication.backlog", backlog);
    int(o, "lua.caches", scripts);
    int(o, "functions.caches", functions);
    for (db, main, expires) in &dbs {
        o.bulk_str(&format!("db.{db}"));
        o.map(2);
        int(o, "overhead.hashtable.main", *main);
        int(o, "overhead.hashtable.expires", *expires);
    }
    int(o, "overhead.total", overhead);
    int(o, "keys.count", keys);
    int(
        o,
        "keys.bytes-per-key",
        m.allocated.checked_div(keys).unwrap_or(0),
    );
    int(o, "dataset.bytes", dataset);
    o.bulk_str("dataset.percentage");
    o.double(ratio(dataset, m.allocated) * 100.0);
    o.bulk_str("peak.percentage");
    o.double(100.0);
    int(o, "allocator.allocated", m.allocated);
    int(o, "allocator.active", m.active);
    int(o, "allocator.resident", m.resident);
    o.bulk_str("allocator-fragmentation.ratio");
    o.double(ratio(m.active, m.allocated));
    int(
        o,
        "allocator-fragmentation.bytes",
        m.active.saturating_sub(m.allocated),
    );
    o.bulk_str("allocator.rss-ratio");
    o.double(ratio(m.resident, m.active));
    int(
        o,
        "allocator.rss-bytes",
        m.resident.saturating_sub(m.active),
    );
    o.bulk_str("rss-overhead.ratio");
    o.double(ratio(m.rss, m.resident));
    int(o, "rss-overhead.bytes", m.rss.saturating_sub(m.resident));
    o.bulk_str("fragmentation");
    o.double(ratio(m.rss, m.allocated));
    int(o, "fragmentation.bytes", m.rss.saturating_sub(m.allocated));
    // No cluster bus and no AOF here.
    int(o, "cluster.links", 0);
    int(o, "aof.buffer", 0);
    Ok(())
}

fn malloc_stats(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let mut text = Vec::new();
    tikv_jemalloc_ctl::stats_print::stats_print(&mut text, Default::default())
        .map_err(|e| CmdError::err(format!("allocator statistics unavailable: {e}")))?;
    ctx.out.verbatim(&text);
    Ok(())
}

fn purge(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    // jemalloc's arena.<MALLCTL_ARENAS_ALL>.purge: hand every arena's dirty pages back.
    const PURGE_ALL: &[u8] = b"arena.4096.purge\0";
    // SAFETY: the name is NUL-terminated and this control takes and returns nothing.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return Err(CmdError::err(format!(
            "Error purging dirty pages (code {rc})"
        )));
    }
    ctx.out.ok();
    Ok(())
}

fn doctor(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let m = crate::base::memory_stats();
    let keys: usize = (0..NUM_DBS).map(|db| ctx.srv.store.db_sizes(db).0).sum();
    let mut issues = Vec::new();
    if m.allocated > 5 << 20 && m.rss as f64 > m.allocated as f64 * 1.4 {
        issues.push(format!(
            " * High fragmentation: the process uses {} bytes of RAM for {} bytes allocated ({:.2}x). MEMORY PURGE may give some back.",
            m.rss,
            m.allocated,
            m.rss as f64 / m.allocated as f64
        ));
    }
    let text = if m.allocated < 5 << 20 && keys == 0 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.".to_string()
    } else if issues.is_empty() {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.".to_string()
    } else {
        format!(
            "Sam, I detected a few issues in this Ferrocache instance memory implants:\n\n{}\n\nI'm here to keep you safe, Sam. I want to help you.\n",
            issues.join("\n\n")
        )
    };
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}
