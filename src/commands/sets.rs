//! Set commands. SPOP's random picks are propagated as the explicit SREM (or DEL) of what
//! was popped (invariant 3 in docs/ARCHITECTURE.md); the other writes are deterministic
//! and propagate themselves.

use super::table::{Command, cmd, flags::*, key, key_num, key_range};
use super::{CmdError, CmdResult, Ctx, arg_i64};
use crate::store::StrBytes;
use crate::store::notify::SET;
use crate::store::set::SetValue;
use bytes::Bytes;

/// Set family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    let w = WRITE | DENYOOM | FAST;
    let r = READONLY | FAST;
    let multi = READONLY | ATOMIC_READ;
    let store = WRITE | DENYOOM;
    vec![
        cmd("sadd", -3, w, const { &[key_range(key::RW | key::INSERT, 1, 0, 1, 0)] }, "set", "1.0.0", "Add one or more members to a set", sadd),
        cmd("srem", -3, WRITE | FAST, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, "set", "1.0.0", "Remove one or more members from a set", srem),
        cmd("sismember", 3, r, const { &[key_range(key::RO, 1, 0, 1, 0)] }, "set", "1.0.0", "Determine if a given value is a member of a set", sismember),
        cmd("smismember", -3, r, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "set", "6.2.0", "Returns the membership associated with the given elements for a set", smismember),
        cmd("smembers", 2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "set", "1.0.0", "Get all the members in a set", smembers)
            .tips("nondeterministic_output_order"),
        cmd("scard", 2, r, const { &[key_range(key::RO, 1, 0, 1, 0)] }, "set", "1.0.0", "Get the number of members in a set", scard),
        cmd("spop", -2, WRITE | FAST, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0)] }, "set", "1.0.0", "Remove and return one or multiple random members from a set", spop)
            .tips("nondeterministic_output"),
        cmd("srandmember", -2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "set", "1.0.0", "Get one or multiple random members from a set", srandmember)
            .tips("nondeterministic_output"),
        cmd("smove", 4, WRITE | FAST, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0), key_range(key::RW | key::INSERT, 2, 0, 1, 0)] }, "set", "1.0.0", "Move a member from one set to another", smove),
        cmd("sinter", -2, multi, const { &[key_range(key::RO | key::ACCESS, 1, -1, 1, 0)] }, "set", "1.0.0", "Intersect multiple sets", sinter)
            .tips("nondeterministic_output_order"),
        cmd("sintercard", -3, multi, const { &[key_num(key::RO | key::ACCESS, 1, 0, 1, 1)] }, "set", "7.0.0", "Intersect multiple sets and return the cardinality of the result", sintercard),
        cmd("sunion", -2, multi, const { &[key_range(key::RO | key::ACCESS, 1, -1, 1, 0)] }, "set", "1.0.0", "Add multiple sets", sunion)
            .tips("nondeterministic_output_order"),
        cmd("sdiff", -2, multi, const { &[key_range(key::RO | key::ACCESS, 1, -1, 1, 0)] }, "set", "1.0.0", "Subtract multiple sets", sdiff)
            .tips("nondeterministic_output_order"),
        cmd("sinterstore", -3, store, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0), key_range(key::RO | key::ACCESS, 2, -1, 1, 0)] }, "set", "1.0.0", "Intersect multiple sets and store the resulting set in a key", sinterstore),
        cmd("sunionstore", -3, store, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0), key_range(key::RO | key::ACCESS, 2, -1, 1, 0)] }, "set", "1.0.0", "Add multiple sets and store the resulting set in a key", sunionstore),
        cmd("sdiffstore", -3, store, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0), key_range(key::RO | key::ACCESS, 2, -1, 1, 0)] }, "set", "1.0.0", "Subtract multiple sets and store the resulting set in a key", sdiffstore),
        cmd("sscan", -3, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "set", "2.0.0", "Incrementally iterate Set elements", sscan)
            .tips("nondeterministic_output"),
    ]
}

/// The members of the set at `key` (None when missing); WRONGTYPE for other types.
fn members(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<Vec<StrBytes>>, CmdError> {
    read(ctx, key, |s| s.map(|s| s.members()))
}

super::collection::typed_access!(SetValue);

fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let limits = ctx.limits();
    change_members(ctx, args, true, "sadd", |s, m| s.add(m, limits))
}

fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    change_members(ctx, args, false, "srem", |s, m| s.remove(m))
}

/// SADD and SREM: `change` each member (true when it changed the set; `create`: a missing
/// key starts empty), then propagate and announce `event` only if something changed, and
/// reply with the count.
fn change_members(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    create: bool,
    event: &str,
    change: impl Fn(&mut SetValue, &[u8]) -> bool,
) -> CmdResult {
    let changed = write(ctx, &args[1], create, |s| {
        Ok(args[2..].iter().filter(|m| change(s, m)).count())
    })?
    .unwrap_or(0);
    if changed > 0 {
        ctx.propagate_self(args)?;
        ctx.notify(SET, event, &args[1])?;
    }
    ctx.out.int(changed as i64);
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let yes = read(ctx, &args[1], |s| s.is_some_and(|s| s.contains(&args[2])))?;
    ctx.out.int(i64::from(yes));
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let v: Vec<bool> = read(ctx, &args[1], |s| {
        args[2..]
            .iter()
            .map(|m| s.is_some_and(|s| s.contains(m)))
            .collect()
    })?;
    ctx.out.array(v.len());
    for b in v {
        ctx.out.int(i64::from(b));
    }
    Ok(())
}

fn reply_set(ctx: &mut Ctx<'_>, members: &[StrBytes]) {
    ctx.out.set(members.len());
    for m in members {
        ctx.out.bulk(m);
    }
}

fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = members(ctx, &args[1])?.unwrap_or_default();
    reply_set(ctx, &m);
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = read(ctx, &args[1], |s| s.map_or(0, |s| s.len()))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// Picks `n` distinct members at random.
fn pick_distinct(all: &[StrBytes], n: usize) -> Vec<StrBytes> {
    use rand::RngExt;
    let mut rng = rand::rng();
    let mut idx: Vec<usize> = (0..all.len()).collect();
    let n = n.min(all.len());
    for i in 0..n {
        let j = rng.random_range(i..idx.len());
        idx.swap(i, j);
    }
    idx[..n].iter().map(|&i| all[i].clone()).collect()
}

fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => {
            let c = arg_i64(&args[2])
                .map_err(|_| CmdError::err("value is out of range, must be positive"))?;
            if c < 0 {
                return Err(CmdError::err("value is out of range, must be positive"));
            }
            Some(c as usize)
        }
        _ => return Err(CmdError::Syntax),
    };
    let all = members(ctx, &args[1])?;
    let Some(all) = all else {
        if count.is_some() {
            ctx.out.set(0);
        } else {
            ctx.out.null();
        }
        return Ok(());
    };
    let picked = pick_distinct(&all, count.unwrap_or(1));
    if picked.is_empty() {
        ctx.out.set(0);
        return Ok(());
    }
    let whole = picked.len() == all.len();
    write(ctx, &args[1], false, |s| {
        for m in &picked {
            s.remove(m);
        }
        Ok(())
    })?;
    // The stream carries what was popped, not the random choice.
    let db = ctx.db();
    if whole && count.is_some() {
        ctx.w()?.propagate(db, &[b"DEL", &args[1]]);
    } else {
        let mut cmd: Vec<&[u8]> = vec![b"SREM", &args[1]];
        cmd.extend(picked.iter().map(|m| &m[..]));
        ctx.w()?.propagate(db, &cmd);
    }
    ctx.notify(SET, "spop", &args[1])?;
    match count {
        None => ctx.out.bulk(&picked[0]),
        Some(_) => reply_set(ctx, &picked),
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    use rand::RngExt;
    let all = members(ctx, &args[1])?.unwrap_or_default();
    match args.len() {
        2 => {
            if all.is_empty() {
                ctx.out.null();
            } else {
                let i = rand::rng().random_range(0..all.len());
                ctx.out.bulk(&all[i]);
            }
        }
        3 => {
            let c = arg_i64(&args[2])?;
            if c.unsigned_abs() > (i64::MAX as u64) / 2 {
                return Err(CmdError::err("value is out of range"));
            }
            super::check_random_picks(c)?;
            let picked: Vec<StrBytes> = if all.is_empty() || c == 0 {
                Vec::new()
            } else if c < 0 {
                let mut rng = rand::rng();
                (0..c.unsigned_abs())
                    .map(|_| all[rng.random_range(0..all.len())].clone())
                    .collect()
            } else {
                pick_distinct(&all, c as usize)
            };
            ctx.out.array(picked.len());
            for m in &picked {
                ctx.out.bulk(m);
            }
        }
        _ => return Err(CmdError::Syntax),
    }
    Ok(())
}

fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (src, dst, m) = (&args[1], &args[2], &args[3]);
    // Both keys must be sets (or missing) before anything moves.
    let src_has = read(ctx, src, |s| s.map(|s| s.contains(m)))?;
    let dst_has = read(ctx, dst, |s| s.is_some_and(|s| s.contains(m)))?;
    let Some(true) = src_has else {
        ctx.out.int(0);
        return Ok(());
    };
    if src != dst {
        write(ctx, src, false, |s| Ok(s.remove(m)))?;
        ctx.notify(SET, "srem", src)?;
        // A destination that already has the member is not changed (no WATCH signal,
        // no event), as in Redis.
        if !dst_has {
            let limits = ctx.limits();
            write(ctx, dst, true, |s| Ok(s.add(m, limits)))?;
            ctx.notify(SET, "sadd", dst)?;
        }
    }
    ctx.propagate_self(args)?;
    ctx.out.int(1);
    Ok(())
}

#[derive(Clone, Copy)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The result of an operation over `keys` (missing keys are empty sets).
fn combine(ctx: &mut Ctx<'_>, keys: &[Bytes], op: Op) -> Result<Vec<StrBytes>, CmdError> {
    let mut sets: Vec<Vec<StrBytes>> = Vec::with_capacity(keys.len());
    for k in keys {
        sets.push(members(ctx, k)?.unwrap_or_default());
    }
    let limits = ctx.limits();
    let first: SetValue = SetValue::from_members(sets[0].iter(), limits);
    let result: Vec<StrBytes> = match op {
        Op::Union => {
            let mut u = first;
            for s in &sets[1..] {
                for m in s {
                    u.add(m, limits);
                }
            }
            u.members()
        }
        Op::Inter | Op::Diff => {
            let others: Vec<SetValue> = sets[1..]
                .iter()
                .map(|s| SetValue::from_members(s.iter(), limits))
                .collect();
            let keep = |m: &StrBytes| match op {
                Op::Inter => others.iter().all(|o| o.contains(m)),
                _ => !others.iter().any(|o| o.contains(m)),
            };
            sets[0].iter().filter(|m| keep(m)).cloned().collect()
        }
    };
    Ok(result)
}

fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let r = combine(ctx, &args[1..], Op::Inter)?;
    reply_set(ctx, &r);
    Ok(())
}

fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let r = combine(ctx, &args[1..], Op::Union)?;
    reply_set(ctx, &r);
    Ok(())
}

fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let r = combine(ctx, &args[1..], Op::Diff)?;
    reply_set(ctx, &r);
    Ok(())
}

fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // Not a number or not positive: one error, as Redis's range-checked parse gives.
    let numkeys = crate::protocol::parse_i64(&args[1])
        .filter(|n| *n > 0)
        .ok_or_else(|| CmdError::err("numkeys should be greater than 0"))?;
    let numkeys = numkeys as usize;
    if numkeys > args.len() - 2 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if super::is(&args[i], "limit") && i + 1 < args.len() {
            // Not a number or negative: one error, as Redis's positive-long parse gives.
            let l = crate::protocol::parse_i64(&args[i + 1])
                .filter(|l| *l >= 0)
                .ok_or_else(|| CmdError::err("LIMIT can't be negative"))?;
            limit = l as usize;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let r = combine(ctx, &args[2..2 + numkeys], Op::Inter)?;
    let n = if limit > 0 {
        r.len().min(limit)
    } else {
        r.len()
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn store(ctx: &mut Ctx<'_>, args: &[Bytes], op: Op) -> CmdResult {
    let r = combine(ctx, &args[2..], op)?;
    let event = match op {
        Op::Inter => "sinterstore",
        Op::Union => "sunionstore",
        Op::Diff => "sdiffstore",
    };
    let set = SetValue::from_members(r.iter(), ctx.limits());
    super::collection::replace(ctx, &args[1], set, SET, event)?;
    ctx.propagate_self(args)?;
    ctx.out.int(r.len() as i64);
    Ok(())
}

fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    store(ctx, args, Op::Inter)
}

fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    store(ctx, args, Op::Union)
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    store(ctx, args, Op::Diff)
}

/// SSCAN key cursor [MATCH pattern] [COUNT count].
fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scan = super::collection::ScanArgs::parse(args)?;
    let (kept, next) = read(ctx, &args[1], |s| match s {
        None => (Vec::new(), 0),
        Some(SetValue::Table(t)) => {
            let items = t.iter().map(|m| (&m[..], m));
            let (kept, next) = super::collection::scan_step(items, false, &scan);
            (kept.into_iter().cloned().collect(), next)
        }
        Some(s) => {
            let all = s.members();
            let items = all.iter().map(|m| (&m[..], m));
            let (kept, _) = super::collection::scan_step(items, true, &scan);
            (kept.into_iter().cloned().collect::<Vec<StrBytes>>(), 0)
        }
    })?;
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(kept.len());
    for m in &kept {
        ctx.out.bulk(m);
    }
    Ok(())
}
