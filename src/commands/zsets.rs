//! Sorted-set commands. Every write here is deterministic given the data (ZPOPMIN pops
//! the lowest, unions aggregate in a fixed order), so each propagates as received, except
//! ZMPOP, which propagates as the ZPOPMIN/ZPOPMAX it amounted to, and the blocking pops
//! (commands/blocking.rs).

use super::table::{Command, cmd, flags::*, key, key_num, key_range};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::notify::ZSET;
use crate::store::zset::{AddFlags, AddOutcome, LexBound, LexRange, ScoreRange, ZSetValue};
use crate::store::{StrBytes, Value};
use bytes::Bytes;

/// Sorted-set family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    let wf = WRITE | DENYOOM | FAST;
    let rf = READONLY | FAST;
    let multi = READONLY | ATOMIC_READ;
    let store = WRITE | DENYOOM;
    let g = "sorted-set";
    vec![
        cmd("zadd", -4, wf, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, g, "1.2.0", "Add one or more members to a sorted set, or update its score if it already exists", zadd),
        cmd("zincrby", 4, wf, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, g, "1.2.0", "Increment the score of a member in a sorted set", zincrby),
        cmd("zrem", -3, WRITE | FAST, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, g, "1.2.0", "Remove one or more members from a sorted set", zrem),
        cmd("zscore", 3, rf, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "1.2.0", "Get the score associated with the given member in a sorted set", zscore),
        cmd("zmscore", -3, rf, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "6.2.0", "Get the score associated with the given members in a sorted set", zmscore),
        cmd("zcard", 2, rf, const { &[key_range(key::RO, 1, 0, 1, 0)] }, g, "1.2.0", "Get the number of members in a sorted set", zcard),
        cmd("zcount", 4, rf, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "2.0.0", "Count the members in a sorted set with scores within the given values", zcount),
        cmd("zlexcount", 4, rf, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "2.8.9", "Count the number of members in a sorted set between a given lexicographical range", zlexcount),
        cmd("zrank", 3, rf, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "2.0.0", "Determine the index of a member in a sorted set", zrank),
        cmd("zrevrank", 3, rf, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "2.0.0", "Determine the index of a member in a sorted set, with scores ordered from high to low", zrevrank),
        cmd("zrange", -4, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "1.2.0", "Return a range of members in a sorted set", zrange),
        cmd("zrangestore", -5, store, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0), key_range(key::RO | key::ACCESS, 2, 0, 1, 0)] }, g, "6.2.0", "Store a range of members from sorted set into another key", zrangestore),
        cmd("zrevrange", -4, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "1.2.0", "Return a range of members in a sorted set, by index, with scores ordered from high to low", zrevrange),
        cmd("zrangebyscore", -4, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "1.0.5", "Return a range of members in a sorted set, by score", zrangebyscore),
        cmd("zrevrangebyscore", -4, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "2.2.0", "Return a range of members in a sorted set, by score, with scores ordered from high to low", zrevrangebyscore),
        cmd("zrangebylex", -4, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "2.8.9", "Return a range of members in a sorted set, by lexicographical range", zrangebylex),
        cmd("zrevrangebylex", -4, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "2.8.9", "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", zrevrangebylex),
        cmd("zremrangebyrank", 4, WRITE, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, g, "2.0.0", "Remove all members in a sorted set within the given indexes", zremrangebyrank),
        cmd("zremrangebyscore", 4, WRITE, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, g, "1.2.0", "Remove all members in a sorted set within the given scores", zremrangebyscore),
        cmd("zremrangebylex", 4, WRITE, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, g, "2.8.9", "Remove all members in a sorted set between the given lexicographical range", zremrangebylex),
        cmd("zpopmin", -2, WRITE | FAST, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0)] }, g, "5.0.0", "Remove and return members with the lowest scores in a sorted set", zpopmin),
        cmd("zpopmax", -2, WRITE | FAST, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0)] }, g, "5.0.0", "Remove and return members with the highest scores in a sorted set", zpopmax),
        cmd("zmpop", -4, WRITE, const { &[key_num(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 1)] }, g, "7.0.0", "Remove and return members with scores in a sorted set", zmpop),
        cmd("zrandmember", -2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "6.2.0", "Get one or multiple random elements from a sorted set", zrandmember)
            .tips("nondeterministic_output"),
        cmd("zunionstore", -4, store, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0), key_num(key::RO | key::ACCESS, 2, 0, 1, 1)] }, g, "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key", zunionstore),
        cmd("zinterstore", -4, store, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0), key_num(key::RO | key::ACCESS, 2, 0, 1, 1)] }, g, "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key", zinterstore),
        cmd("zdiffstore", -4, store, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0), key_num(key::RO | key::ACCESS, 2, 0, 1, 1)] }, g, "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key", zdiffstore),
        cmd("zunion", -3, multi, const { &[key_num(key::RO | key::ACCESS, 1, 0, 1, 1)] }, g, "6.2.0", "Add multiple sorted sets", zunion),
        cmd("zinter", -3, multi, const { &[key_num(key::RO | key::ACCESS, 1, 0, 1, 1)] }, g, "6.2.0", "Intersect multiple sorted sets", zinter),
        cmd("zintercard", -3, multi, const { &[key_num(key::RO | key::ACCESS, 1, 0, 1, 1)] }, g, "7.0.0", "Intersect multiple sorted sets and return the cardinality of the result", zintercard),
        cmd("zdiff", -3, multi, const { &[key_num(key::RO | key::ACCESS, 1, 0, 1, 1)] }, g, "6.2.0", "Subtract multiple sorted sets", zdiff),
        cmd("zscan", -3, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, g, "2.8.0", "Incrementally iterate sorted sets elements and associated scores", zscan)
            .tips("nondeterministic_output"),
    ]
}

super::collection::typed_access!(ZSetValue);

/// A score argument (`ERR value is not a valid float`).
fn arg_score(a: &[u8]) -> Result<f64, CmdError> {
    crate::protocol::parse_f64_in_range(a).ok_or(CmdError::NotFloat)
}

/// A ZRANGEBYSCORE interval; `(` opens an end.
fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let bad = || CmdError::err("min or max is not a float");
    let end = |a: &[u8]| -> Result<(f64, bool), CmdError> {
        match a.strip_prefix(b"(") {
            Some(rest) => Ok((crate::protocol::parse_f64(rest).ok_or_else(bad)?, true)),
            None => Ok((crate::protocol::parse_f64(a).ok_or_else(bad)?, false)),
        }
    };
    let (min, min_ex) = end(min)?;
    let (max, max_ex) = end(max)?;
    Ok(ScoreRange {
        min,
        max,
        min_ex,
        max_ex,
    })
}

/// A ZRANGEBYLEX interval: `-`, `+`, `[member` or `(member` at each end.
fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    let end = |a: &[u8]| -> Result<LexBound, CmdError> {
        match a.first() {
            Some(b'-') if a.len() == 1 => Ok(LexBound::Min),
            Some(b'+') if a.len() == 1 => Ok(LexBound::Max),
            Some(b'[') => Ok(LexBound::Incl(Bytes::copy_from_slice(&a[1..]))),
            Some(b'(') => Ok(LexBound::Excl(Bytes::copy_from_slice(&a[1..]))),
            _ => Err(CmdError::err("min or max not valid string range item")),
        }
    };
    Ok(LexRange {
        min: end(min)?,
        max: end(max)?,
    })
}

/// Members (with their scores when asked): a flat array in RESP2, [member, score] pairs
/// in RESP3, as Redis answers ZRANGE ... WITHSCORES.
fn reply_items(ctx: &mut Ctx<'_>, items: &[(StrBytes, f64)], withscores: bool) {
    let nested = withscores && ctx.out.resp3;
    ctx.out.array(if withscores && !nested {
        items.len() * 2
    } else {
        items.len()
    });
    for (m, s) in items {
        if nested {
            ctx.out.array(2);
        }
        ctx.out.bulk(m);
        if withscores {
            ctx.out.double(*s);
        }
    }
}

/// Replaces `dst` with `z` (deleted when empty), as the STORE commands do.
fn store_result(
    ctx: &mut Ctx<'_>,
    dst: &[u8],
    z: ZSetValue,
    event: &str,
) -> Result<usize, CmdError> {
    let n = z.len();
    super::collection::replace(ctx, dst, z, ZSET, event)?;
    Ok(n)
}

fn zadd_generic(ctx: &mut Ctx<'_>, args: &[Bytes], mut f: AddFlags) -> CmdResult {
    let mut ch = false;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "nx") {
            f.nx = true;
        } else if is(a, "xx") {
            f.xx = true;
        } else if is(a, "ch") {
            ch = true;
        } else if is(a, "incr") {
            f.incr = true;
        } else if is(a, "gt") {
            f.gt = true;
        } else if is(a, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if f.nx && f.xx {
        return Err(CmdError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if ((f.gt || f.lt) && f.nx) || (f.gt && f.lt) {
        return Err(CmdError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && rest.len() > 2 {
        return Err(CmdError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    let scores = rest
        .chunks(2)
        .map(|p| arg_score(&p[0]))
        .collect::<Result<Vec<f64>, _>>()?;
    let (mut added, mut updated, mut processed, mut last) = (0usize, 0usize, 0usize, 0.0);
    let mut nan = false;
    let limits = ctx.limits();
    write(ctx, &args[1], !f.xx, |z| {
        for (p, &s) in rest.chunks(2).zip(&scores) {
            match z.add(s, &p[1], f, limits) {
                AddOutcome::Added(v) => (added, processed, last) = (added + 1, processed + 1, v),
                AddOutcome::Updated(v) => {
                    (updated, processed, last) = (updated + 1, processed + 1, v)
                }
                AddOutcome::Unchanged(v) => (processed, last) = (processed + 1, v),
                AddOutcome::Skipped => {}
                AddOutcome::Nan => {
                    nan = true;
                    break;
                }
            }
        }
        Ok(())
    })?;
    if added + updated > 0 {
        ctx.propagate_self(args)?;
        ctx.notify(ZSET, if f.incr { "zincr" } else { "zadd" }, &args[1])?;
    }
    if nan {
        return Err(CmdError::err("resulting score is not a number (NaN)"));
    }
    if f.incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out
            .int((if ch { added + updated } else { added }) as i64);
    }
    Ok(())
}

/// ZADD itself (GEOADD runs as the ZADD of its scores, and replicates as one).
pub fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zadd_generic(ctx, args, AddFlags::default())
}

fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zadd_generic(
        ctx,
        args,
        AddFlags {
            incr: true,
            ..Default::default()
        },
    )
}

fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let removed = write(ctx, &args[1], false, |z| {
        Ok(args[2..].iter().filter(|m| z.remove(m)).count())
    })?
    .unwrap_or(0);
    if removed > 0 {
        ctx.propagate_self(args)?;
        ctx.notify(ZSET, "zrem", &args[1])?;
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match read(ctx, &args[1], |z| z.and_then(|z| z.score(&args[2])))? {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scores: Vec<Option<f64>> = read(ctx, &args[1], |z| {
        args[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)))
            .collect()
    })?;
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = read(ctx, &args[1], |z| z.map_or(0, |z| z.len()))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// ZCOUNT / ZLEXCOUNT: members inside the range.
fn count_generic(ctx: &mut Ctx<'_>, args: &[Bytes], by: By) -> CmdResult {
    let sel = Selection::parse(by, &args[2], &args[3])?;
    let n = read(ctx, &args[1], |z| {
        z.map_or(0, |z| {
            let (a, b) = sel.bounds(z, false);
            b - a
        })
    })?;
    ctx.out.int(n as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    count_generic(ctx, args, By::Score)
}

fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    count_generic(ctx, args, By::Lex)
}

fn rank_generic(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    match read(ctx, &args[1], |z| z.and_then(|z| z.rank(&args[2], rev)))? {
        Some(r) => ctx.out.int(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    rank_generic(ctx, args, true)
}

/// How a ZRANGE-family command selects members.
#[derive(Clone, Copy, PartialEq)]
enum By {
    /// Not fixed by the command name (ZRANGE, ZRANGESTORE): BYSCORE/BYLEX may choose.
    Auto,
    Rank,
    Score,
    Lex,
}

/// The parsed min/max of a ZRANGE-family command.
enum Selection {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

impl Selection {
    /// Parses `lo`/`hi` as ranks, a score range or a lexicographic range.
    fn parse(by: By, lo: &[u8], hi: &[u8]) -> Result<Self, CmdError> {
        Ok(match by {
            By::Score => Selection::Score(score_range(lo, hi)?),
            By::Lex => Selection::Lex(lex_range(lo, hi)?),
            _ => Selection::Rank(arg_i64(lo)?, arg_i64(hi)?),
        })
    }

    /// Ascending ranks `[from, to)` selected in `z`; a rank pair counts from the highest
    /// score when `rev` (negative ranks from the end, clamped as Redis does).
    fn bounds(&self, z: &ZSetValue, rev: bool) -> (usize, usize) {
        match self {
            Selection::Score(r) => z.score_bounds(r),
            Selection::Lex(r) => z.lex_bounds(r),
            Selection::Rank(start, end) => {
                let len = z.len() as i64;
                let start = if *start < 0 { start + len } else { *start }.max(0);
                let end = if *end < 0 { end + len } else { *end };
                if start > end || start >= len {
                    return (0, 0);
                }
                let (s, e) = (start as usize, end.min(len - 1) as usize + 1);
                if rev {
                    (len as usize - e, len as usize - s)
                } else {
                    (s, e)
                }
            }
        }
    }
}

/// The selected members, in reply order (LIMIT applies to score and lex ranges only).
fn select(
    z: &ZSetValue,
    sel: &Selection,
    rev: bool,
    offset: i64,
    limit: i64,
) -> Vec<(StrBytes, f64)> {
    let (lo, hi) = sel.bounds(z, rev);
    if let Selection::Rank(..) = sel {
        return z.range(lo, hi, rev, usize::MAX);
    }
    if offset < 0 || (offset > 0 && offset >= z.len() as i64) {
        return Vec::new();
    }
    let (offset, limit) = (
        offset as usize,
        usize::try_from(limit).unwrap_or(usize::MAX),
    );
    if rev {
        z.range(lo, hi.saturating_sub(offset).max(lo), true, limit)
    } else {
        z.range((lo + offset).min(hi), hi, false, limit)
    }
}

/// ZRANGE and its older forms, and ZRANGESTORE (`dst` set): `args[src_at]` is the source
/// key, followed by min, max and the options, parsed and checked as Redis does.
fn range_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    src_at: usize,
    dst: Option<&Bytes>,
    mut by: By,
    mut rev: Option<bool>,
) -> CmdResult {
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = src_at + 3;
    while j < args.len() {
        let a = &args[j];
        let left = args.len() - j - 1;
        if dst.is_none() && is(a, "withscores") {
            withscores = true;
        } else if is(a, "limit") && left >= 2 {
            offset = arg_i64(&args[j + 1])?;
            limit = arg_i64(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(a, "rev") {
            rev = Some(true);
        } else if by == By::Auto && is(a, "bylex") {
            by = By::Lex;
        } else if by == By::Auto && is(a, "byscore") {
            by = By::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        return Err(CmdError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == By::Lex {
        return Err(CmdError::err(
            "syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut lo, mut hi) = (&args[src_at + 1], &args[src_at + 2]);
    if rev && by != By::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let sel = Selection::parse(by, lo, hi)?;
    let items = read(ctx, &args[src_at], |z| {
        z.map(|z| select(z, &sel, rev, offset, limit))
    })?
    .unwrap_or_default();
    match dst {
        Some(dst) => {
            let z = ZSetValue::from_pairs(items, ctx.limits());
            let n = store_result(ctx, dst, z, "zrangestore")?;
            ctx.propagate_self(args)?;
            ctx.out.int(n as i64);
        }
        None => reply_items(ctx, &items, withscores),
    }
    Ok(())
}

fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 1, None, By::Auto, None)
}

fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 2, Some(&args[1]), By::Auto, None)
}

fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 1, None, By::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 1, None, By::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 1, None, By::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 1, None, By::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    range_generic(ctx, args, 1, None, By::Lex, Some(true))
}

fn remrange_generic(ctx: &mut Ctx<'_>, args: &[Bytes], by: By) -> CmdResult {
    let sel = Selection::parse(by, &args[2], &args[3])?;
    let removed = write(ctx, &args[1], false, |z| {
        let (from, to) = sel.bounds(z, false);
        Ok(z.remove_range(from, to))
    })?
    .unwrap_or(0);
    if removed > 0 {
        ctx.propagate_self(args)?;
        let event = match by {
            By::Score => "zremrangebyscore",
            By::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.notify(ZSET, event, &args[1])?;
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    remrange_generic(ctx, args, By::Rank)
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    remrange_generic(ctx, args, By::Score)
}

fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    remrange_generic(ctx, args, By::Lex)
}

/// Pops up to `count` members from the lowest (or highest) end of the sorted set at
/// `key` and propagates the pop as `ZPOPMIN|ZPOPMAX key n`. Shared with the blocking pops.
pub fn pop_and_propagate(
    txn: &mut crate::store::WriteTxn<'_>,
    db: usize,
    key: &[u8],
    lowest: bool,
    count: usize,
) -> Vec<(StrBytes, f64)> {
    let (popped, empty) = {
        let Some(mut e) = txn.get_mut(db, key) else {
            return Vec::new();
        };
        let Value::ZSet(z) = &mut e.value else {
            return Vec::new();
        };
        let popped = z.pop(lowest, count);
        (popped, z.is_empty())
    };
    if popped.is_empty() {
        return popped;
    }
    if empty {
        txn.remove_emptied(db, key);
    } else {
        txn.modified(db, key);
    }
    let name: &[u8] = if lowest { b"ZPOPMIN" } else { b"ZPOPMAX" };
    let n = popped.len().to_string();
    txn.propagate(db, &[name, key, n.as_bytes()]);
    let event = if lowest { "zpopmin" } else { "zpopmax" };
    txn.notify(ZSET, event, db, key);
    popped
}

/// Writes popped members as Redis does: flat `member score ...` (RESP2, or a single pop),
/// or `[member, score]` pairs (RESP3 with a count, and always for ZMPOP's inner array).
pub fn reply_popped(out: &mut crate::protocol::ReplyBuf, items: &[(StrBytes, f64)], nested: bool) {
    out.array(if nested { items.len() } else { items.len() * 2 });
    for (m, s) in items {
        if nested {
            out.array(2);
        }
        out.bulk(m);
        out.double(*s);
    }
}

fn zpop_generic(ctx: &mut Ctx<'_>, args: &[Bytes], lowest: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        None => None,
        Some(a) => Some(
            arg_i64(a)
                .ok()
                .and_then(|c| usize::try_from(c).ok())
                .ok_or_else(|| CmdError::err("value is out of range, must be positive"))?,
        ),
    };
    // WRONGTYPE before anything else happens.
    let len = read(ctx, &args[1], |z| z.map_or(0, |z| z.len()))?;
    let popped = if len == 0 || count == Some(0) {
        Vec::new()
    } else {
        let db = ctx.db();
        pop_and_propagate(ctx.w()?, db, &args[1], lowest, count.unwrap_or(1))
    };
    let nested = ctx.out.resp3 && count.is_some();
    reply_popped(ctx.out, &popped, nested);
    Ok(())
}

fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, args, true)
}

fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    zpop_generic(ctx, args, false)
}

fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (keys, lowest, count) = super::collection::mpop_args(&args[1..], "min", "max")?;
    for k in &keys {
        if read(ctx, k, |z| z.is_some())? {
            let db = ctx.db();
            let popped = pop_and_propagate(ctx.w()?, db, k, lowest, count);
            ctx.out.array(2);
            ctx.out.bulk(k);
            reply_popped(ctx.out, &popped, true);
            return Ok(());
        }
    }
    ctx.out.null_array();
    Ok(())
}

fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    use rand::RngExt;
    let mut rng = rand::rng();
    if args.len() == 2 {
        let m = read(ctx, &args[1], |z| {
            z.and_then(|z| z.at(rng.random_range(0..z.len())).map(|(m, _)| m.clone()))
        })?;
        match m {
            Some(m) => ctx.out.bulk(&m),
            None => ctx.out.null(),
        }
        return Ok(());
    }
    let count = arg_i64(&args[2])?;
    if count == i64::MIN {
        return Err(CmdError::err(format!(
            "value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    let withscores = match args.len() {
        3 => false,
        4 if is(&args[3], "withscores") => true,
        _ => return Err(CmdError::Syntax),
    };
    if withscores && count.unsigned_abs() > (i64::MAX as u64) / 2 {
        return Err(CmdError::err("value is out of range"));
    }
    super::check_random_picks(count)?;
    let picked: Vec<(StrBytes, f64)> = read(ctx, &args[1], |z| {
        let Some(z) = z else { return Vec::new() };
        let n = z.len();
        let item = |r: usize| z.at(r).map(|(m, s)| (m.clone(), s));
        if count < 0 {
            // Repetitions allowed, in random order.
            (0..count.unsigned_abs())
                .filter_map(|_| item(rng.random_range(0..n)))
                .collect()
        } else if count as usize >= n {
            // The whole set, highest first: Redis iterates sorted sets from the tail.
            let mut all: Vec<(StrBytes, f64)> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
            all.reverse();
            all
        } else {
            // Distinct ranks, chosen by a partial shuffle.
            let k = count as usize;
            let mut ranks: Vec<usize> = (0..n).collect();
            for i in 0..k {
                let j = rng.random_range(i..n);
                ranks.swap(i, j);
            }
            ranks[..k].iter().filter_map(|&r| item(r)).collect()
        }
    })?;
    reply_items(ctx, &picked, withscores);
    Ok(())
}

/// How a union or intersection combines the scores of one member.
#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += v;
            // inf + -inf is NaN; Redis makes it 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => *target = target.min(v),
        Aggregate::Max => *target = target.max(v),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// The members and scores of an input key of ZUNION & co: a sorted set, or a set whose
/// members all score 1 (missing keys are empty).
fn input_pairs(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Vec<(StrBytes, f64)>, CmdError> {
    match ctx.lookup(key) {
        None => Ok(Vec::new()),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(z.iter().map(|(m, s)| (m.clone(), s)).collect()),
            Value::Set(s) => Ok(s.members().into_iter().map(|m| (m, 1.0)).collect()),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// ZUNION/ZINTER/ZDIFF, their STORE forms and ZINTERCARD: `args[numkeys_at]` is numkeys.
fn combine_generic(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    numkeys_at: usize,
    op: SetOp,
    dst: Option<&Bytes>,
    card_only: bool,
) -> CmdResult {
    let setnum = arg_i64(&args[numkeys_at])?;
    if setnum < 1 {
        return Err(CmdError::err(format!(
            "at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(&args[0]).to_ascii_lowercase()
        )));
    }
    if setnum as u64 > (args.len() - numkeys_at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys = &args[numkeys_at + 1..numkeys_at + 1 + setnum];
    let mut inputs = Vec::with_capacity(setnum);
    for k in keys {
        inputs.push(input_pairs(ctx, k)?);
    }
    let mut weights = vec![1.0f64; setnum];
    let (mut how, mut withscores, mut limit) = (Aggregate::Sum, false, 0usize);
    let mut j = numkeys_at + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = &args[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && is(a, "weights") {
            for (i, w) in weights.iter_mut().enumerate() {
                *w = crate::protocol::parse_f64_in_range(&args[j + 1 + i])
                    .ok_or_else(|| CmdError::err("weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && is(a, "aggregate") {
            how = match &args[j + 1] {
                x if is(x, "sum") => Aggregate::Sum,
                x if is(x, "min") => Aggregate::Min,
                x if is(x, "max") => Aggregate::Max,
                _ => return Err(CmdError::Syntax),
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(a, "limit") {
            limit = arg_i64(&args[j + 1])
                .ok()
                .and_then(|l| usize::try_from(l).ok())
                .ok_or_else(|| CmdError::err("LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut sources: Vec<(Vec<(StrBytes, f64)>, f64)> = inputs.into_iter().zip(weights).collect();
    if op != SetOp::Diff {
        // Smallest first, as Redis orders them (it decides the order scores are summed in).
        sources.sort_by_key(|(items, _)| items.len());
    }
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() { 0.0 } else { v }
    };
    let mut result: Vec<(StrBytes, f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            let others: Vec<(std::collections::HashMap<&[u8], f64>, f64)> = sources[1..]
                .iter()
                .map(|(items, w)| (items.iter().map(|(m, s)| (&m[..], *s)).collect(), *w))
                .collect();
            'members: for (m, s) in &sources[0].0 {
                let mut score = weighted(*s, sources[0].1);
                for (o, w) in &others {
                    match o.get(&m[..]) {
                        Some(v) => aggregate(&mut score, v * w, how),
                        None => continue 'members,
                    }
                }
                result.push((m.clone(), score));
                if card_only && limit > 0 && result.len() >= limit {
                    break;
                }
            }
        }
        SetOp::Union => {
            let mut acc: std::collections::HashMap<StrBytes, f64> =
                std::collections::HashMap::new();
            let mut order: Vec<StrBytes> = Vec::new();
            for (items, w) in &sources {
                for (m, s) in items {
                    let v = weighted(*s, *w);
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, v, how),
                        None => {
                            acc.insert(m.clone(), v);
                            order.push(m.clone());
                        }
                    }
                }
            }
            result = order
                .into_iter()
                .map(|m| {
                    let s = acc[&m];
                    (m, s)
                })
                .collect();
        }
        SetOp::Diff => {
            let others: Vec<std::collections::HashSet<&[u8]>> = sources[1..]
                .iter()
                .map(|(items, _)| items.iter().map(|(m, _)| &m[..]).collect())
                .collect();
            result = sources[0]
                .0
                .iter()
                .filter(|(m, _)| !others.iter().any(|o| o.contains(&m[..])))
                .cloned()
                .collect();
        }
    }
    if card_only {
        ctx.out.int(result.len() as i64);
        return Ok(());
    }
    let z = ZSetValue::from_pairs(result, ctx.limits());
    match dst {
        Some(dst) => {
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            let n = store_result(ctx, dst, z, event)?;
            ctx.propagate_self(args)?;
            ctx.out.int(n as i64);
        }
        None => {
            let items: Vec<(StrBytes, f64)> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
            reply_items(ctx, &items, withscores);
        }
    }
    Ok(())
}

fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_generic(ctx, args, 2, SetOp::Union, Some(&args[1]), false)
}

fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_generic(ctx, args, 2, SetOp::Inter, Some(&args[1]), false)
}

fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_generic(ctx, args, 2, SetOp::Diff, Some(&args[1]), false)
}

fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_generic(ctx, args, 1, SetOp::Union, None, false)
}

fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_generic(ctx, args, 1, SetOp::Inter, None, false)
}

fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_generic(ctx, args, 1, SetOp::Inter, None, true)
}

fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    combine_generic(ctx, args, 1, SetOp::Diff, None, false)
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count].
fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scan = super::collection::ScanArgs::parse(args)?;
    let (items, next) = read(ctx, &args[1], |z| match z {
        None => (Vec::new(), 0),
        Some(z) => {
            let all = z.iter().map(|(m, s)| (&m[..], (m, s)));
            let (kept, next) = super::collection::scan_step(all, z.encoding() == "listpack", &scan);
            let owned: Vec<(StrBytes, f64)> =
                kept.into_iter().map(|(m, s)| (m.clone(), s)).collect();
            (owned, next)
        }
    })?;
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(items.len() * 2);
    for (m, s) in &items {
        ctx.out.bulk(m);
        ctx.out
            .bulk(crate::protocol::reply::format_double(*s).as_bytes());
    }
    Ok(())
}
