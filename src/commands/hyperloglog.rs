//! HyperLogLog commands over strings in Redis's own representation
//! ([`crate::store::hll`]): writes propagate as the commands themselves, and every
//! follower, stock or ours, computes the same bytes from them.

use super::table::{Command, cmd, flags::*, key, key_range};
use super::{CmdError, CmdResult, Ctx, is};
use crate::store::hll::{self, HllError};
use crate::store::notify::STRING;
use crate::store::{Entry, StrBytes, Value};
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// HyperLogLog family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("pfadd", -2, WRITE | DENYOOM | FAST, const { &[key_range(key::RW | key::INSERT, 1, 0, 1, 0)] }, "hyperloglog", "2.8.9", "Adds the specified elements to the specified HyperLogLog.", pfadd)
            .args("key:key [element...]"),
        cmd("pfcount", -2, READONLY | MAY_REPLICATE, const { &[key_range(key::RW | key::ACCESS, 1, -1, 1, 0).notes("RW because it may change the internal representation of the key, and propagate to replicas")] }, "hyperloglog", "2.8.9", "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).", pfcount)
            .args("key:key..."),
        cmd("pfmerge", -2, WRITE | DENYOOM, const { &[key_range(key::RW | key::ACCESS | key::INSERT, 1, 0, 1, 0), key_range(key::RO | key::ACCESS, 2, -1, 1, 0)] }, "hyperloglog", "2.8.9", "Merge N different HyperLogLogs into a single one.", pfmerge)
            .args("destkey:key [sourcekey:key...]"),
        cmd("pfdebug", 3, WRITE | DENYOOM | ADMIN, const { &[key_range(key::RW | key::ACCESS, 2, 0, 1, 0)] }, "hyperloglog", "2.8.9", "Internal commands for debugging HyperLogLog values", pfdebug)
            .args("subcommand:string key:key"),
        cmd("pfselftest", 1, ADMIN, &[], "hyperloglog", "2.8.9", "An internal command for testing HyperLogLog values", pfselftest),
    ]
}

impl From<HllError> for CmdError {
    fn from(e: HllError) -> CmdError {
        CmdError::Msg(e.to_string())
    }
}

fn sparse_max(ctx: &Ctx<'_>) -> usize {
    ctx.limits().hll_sparse_max_bytes.load(Ordering::Relaxed)
}

/// Runs `f` on the HyperLogLog at `key` for a write (a new empty one when missing and
/// `create`; `f` is told which); WRONGTYPE for other values. Returns None when missing
/// and not created, else `f`'s result and whether the key was created.
fn edit<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut StrBytes, bool) -> Result<R, CmdError>,
) -> Result<Option<(R, bool)>, CmdError> {
    let db = ctx.db();
    let t = ctx.w()?;
    if let Some(mut e) = t.get_mut(db, key) {
        let e = &mut *e;
        let Value::Str(s) = &mut e.value else {
            return Err(CmdError::WrongType);
        };
        hll::check(s)?;
        e.raw = true;
        return f(s, false).map(|r| Some((r, false)));
    }
    if !create {
        return Ok(None);
    }
    let mut s = hll::new_sparse();
    let r = f(&mut s, true)?;
    let mut entry = Entry::new(Value::Str(s), 0);
    entry.raw = true;
    t.insert(db, key, entry);
    Ok(Some((r, true)))
}

/// The registers of `keys` merged (missing keys count as empty), and whether any was
/// dense.
fn merged(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<(Vec<u8>, bool), CmdError> {
    let mut max = vec![0u8; hll::REGISTERS];
    let mut dense = false;
    for k in keys {
        ctx.with_str(k, |s| -> Result<(), CmdError> {
            let Some(s) = s else { return Ok(()) };
            hll::check(s)?;
            dense |= hll::is_dense(s);
            Ok(hll::merge_into(&mut max, s)?)
        })??;
    }
    Ok((max, dense))
}

fn pfadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let limit = sparse_max(ctx);
    let (changed, created) = edit(ctx, &args[1], true, |s, created| {
        let mut changed = false;
        for ele in &args[2..] {
            changed |= hll::add(s, ele, limit)?;
        }
        if created {
            // A new key's count is stale until first computed, as stock marks it.
            hll::invalidate(s);
        }
        Ok(changed)
    })?
    .expect("created when missing");
    if changed || created {
        let db = ctx.db();
        ctx.w()?.modified(db, &args[1]);
        ctx.propagate_self(args)?;
        ctx.notify(STRING, "pfadd", &args[1])?;
    }
    ctx.out.int(i64::from(changed || created));
    Ok(())
}

fn pfcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        let (max, _) = merged(ctx, &args[1..])?;
        ctx.out.int(hll::count_registers(&max) as i64);
        return Ok(());
    }
    let key = &args[1];
    // The cached count, or a fresh one when the cache is stale.
    let known = ctx.with_str(key, |s| -> Result<Option<(u64, bool)>, CmdError> {
        let Some(s) = s else {
            return Ok(Some((0, true)));
        };
        hll::check(s)?;
        Ok(match hll::cached(s) {
            Some(card) => Some((card, true)),
            None => Some((hll::count(s)?, false)),
        })
    })??;
    let (card, fresh) = known.expect("always known");
    // A stale cache is refreshed in the key, and the refresh propagated (as PFCOUNT
    // itself) so followers hold the same bytes. A follower serving its own clients
    // leaves the key to its leader's stream.
    let leader_link = ctx.client.is_leader_link();
    if !fresh && (leader_link || !ctx.srv.store.follower_mode()) {
        let t = ctx.w_taken();
        if leader_link {
            t.apply_from_leader();
        }
        let refreshed = edit(ctx, key, false, |s, _| {
            let card = hll::count(s)?;
            hll::set_cached(s, card);
            Ok(card)
        })?;
        if let Some((card, _)) = refreshed {
            let db = ctx.db();
            ctx.w()?.modified(db, key);
            ctx.propagate_self(args)?;
            ctx.out.int(card as i64);
            return Ok(());
        }
    }
    ctx.out.int(card as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // The destination is one of the sources, as in Redis.
    let (max, dense) = merged(ctx, &args[1..])?;
    let limit = sparse_max(ctx);
    edit(ctx, &args[1], true, |s, _| {
        if dense {
            hll::to_dense(s)?;
        }
        for (i, m) in max.iter().enumerate() {
            if *m > 0 {
                // A register the sparse form cannot take turns the key dense; a
                // corrupted key was refused by the merge above.
                let _ = hll::set_register(s, i, *m, limit);
            }
        }
        // The cache is stale whatever changed.
        hll::invalidate(s);
        Ok(())
    })?;
    let db = ctx.db();
    ctx.w()?.modified(db, &args[1]);
    ctx.propagate_self(args)?;
    ctx.notify(STRING, "pfadd", &args[1])?;
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = &args[1];
    let key = &args[2];
    let db = ctx.db();
    if !ctx.w()?.exists(db, key) {
        return Err(CmdError::err("The specified key does not exist"));
    }
    if is(sub, "getreg") || is(sub, "todense") {
        let (converted, _) =
            edit(ctx, key, false, |s, _| Ok(hll::to_dense(s)?))?.expect("the key exists");
        if converted {
            // The encoding change reaches the followers, as stock forces it.
            ctx.w()?.modified(db, key);
            ctx.propagate_self(args)?;
        }
        if is(sub, "todense") {
            ctx.out.int(i64::from(converted));
            return Ok(());
        }
        let regs = ctx.with_str(key, |s| hll::registers(s.unwrap_or_default()))?;
        ctx.out.array(regs.len());
        for r in regs {
            ctx.out.int(r as i64);
        }
        return Ok(());
    }
    let (dense, decoded) = ctx.with_str(key, |s| -> Result<(bool, String), CmdError> {
        let s = s.unwrap_or_default();
        hll::check(s)?;
        Ok((hll::is_dense(s), hll::decode(s)))
    })??;
    if is(sub, "encoding") {
        ctx.out.simple(if dense { "dense" } else { "sparse" });
    } else if is(sub, "decode") {
        if dense {
            return Err(CmdError::err("HLL encoding is not sparse"));
        }
        ctx.out.bulk(decoded.as_bytes());
    } else {
        return Err(CmdError::err(format!(
            "Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(sub)
        )));
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    hll::self_test(sparse_max(ctx)).map_err(CmdError::err)?;
    ctx.out.ok();
    Ok(())
}
