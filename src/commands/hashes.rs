//! Hash commands. Writes change the stored hash in place inside the write section and
//! propagate themselves (they are deterministic), except HINCRBYFLOAT, which propagates
//! the resulting HSET, as Redis does.

use super::table::{Command, cmd, flags::*, key, key_range};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::StrBytes;
use crate::store::hash::HashValue;
use crate::store::notify::HASH;
use bytes::Bytes;

/// Hash family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    let w = WRITE | DENYOOM | FAST;
    let r = READONLY | FAST;
    vec![
        cmd("hset", -4, w, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, "hash", "2.0.0", "Set the string value of a hash field", hset),
        cmd("hsetnx", 4, w, const { &[key_range(key::RW | key::INSERT, 1, 0, 1, 0)] }, "hash", "2.0.0", "Set the value of a hash field, only if the field does not exist", hsetnx),
        cmd("hmset", -4, w, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, "hash", "2.0.0", "Set multiple hash fields to multiple values", hmset),
        cmd("hget", 3, r, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "hash", "2.0.0", "Get the value of a hash field", hget),
        cmd("hmget", -3, r, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "hash", "2.0.0", "Get the values of all the given hash fields", hmget),
        cmd("hdel", -3, WRITE | FAST, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, "hash", "2.0.0", "Delete one or more hash fields", hdel),
        cmd("hexists", 3, r, const { &[key_range(key::RO, 1, 0, 1, 0)] }, "hash", "2.0.0", "Determine if a hash field exists", hexists),
        cmd("hlen", 2, r, const { &[key_range(key::RO, 1, 0, 1, 0)] }, "hash", "2.0.0", "Get the number of fields in a hash", hlen),
        cmd("hstrlen", 3, r, const { &[key_range(key::RO, 1, 0, 1, 0)] }, "hash", "3.2.0", "Get the length of the value of a hash field", hstrlen),
        cmd("hkeys", 2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "hash", "2.0.0", "Get all the fields in a hash", hkeys)
            .tips("nondeterministic_output_order"),
        cmd("hvals", 2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "hash", "2.0.0", "Get all the values in a hash", hvals)
            .tips("nondeterministic_output_order"),
        cmd("hgetall", 2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "hash", "2.0.0", "Get all the fields and values in a hash", hgetall)
            .tips("nondeterministic_output_order"),
        cmd("hincrby", 4, w, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, "hash", "2.0.0", "Increment the integer value of a hash field by the given number", hincrby),
        cmd("hincrbyfloat", 4, w, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, "hash", "2.6.0", "Increment the float value of a hash field by the given amount", hincrbyfloat),
        cmd("hrandfield", -2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "hash", "6.2.0", "Get one or multiple random fields from a hash", hrandfield)
            .tips("nondeterministic_output"),
        cmd("hscan", -3, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "hash", "2.8.0", "Incrementally iterate hash fields and associated values", hscan)
            .tips("nondeterministic_output"),
    ]
}

super::collection::typed_access!(HashValue);

fn hset_pairs(ctx: &mut Ctx<'_>, args: &[Bytes], name: &str) -> Result<i64, CmdError> {
    if args.len() % 2 == 1 {
        return Err(CmdError::Arity(name.into()));
    }
    let limits = ctx.limits();
    let added = write(ctx, &args[1], true, |h| {
        let mut added = 0;
        for pair in args[2..].chunks(2) {
            if h.set(&pair[0], &pair[1], limits) {
                added += 1;
            }
        }
        Ok(added)
    })?
    .unwrap_or(0);
    ctx.propagate_self(args)?;
    ctx.notify(HASH, "hset", &args[1])?;
    Ok(added)
}

fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = hset_pairs(ctx, args, "hset")?;
    ctx.out.int(n);
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    hset_pairs(ctx, args, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let limits = ctx.limits();
    let set = write(ctx, &args[1], true, |h| {
        if h.get(&args[2]).is_some() {
            Ok(false)
        } else {
            h.set(&args[2], &args[3], limits);
            Ok(true)
        }
    })?
    .unwrap_or(false);
    if set {
        ctx.propagate_self(args)?;
        ctx.notify(HASH, "hset", &args[1])?;
    }
    ctx.out.int(i64::from(set));
    Ok(())
}

fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let v = read(ctx, &args[1], |h| {
        h.and_then(|h| h.get(&args[2]).map(StrBytes::from_slice))
    })?;
    match v {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let vals: Vec<Option<StrBytes>> = read(ctx, &args[1], |h| {
        args[2..]
            .iter()
            .map(|f| h.and_then(|h| h.get(f).map(StrBytes::from_slice)))
            .collect()
    })?;
    ctx.out.array(vals.len());
    for v in vals {
        match v {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let removed = write(ctx, &args[1], false, |h| {
        Ok(args[2..].iter().filter(|f| h.remove(f)).count())
    })?
    .unwrap_or(0);
    if removed > 0 {
        ctx.propagate_self(args)?;
        ctx.notify(HASH, "hdel", &args[1])?;
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let e = read(ctx, &args[1], |h| {
        h.is_some_and(|h| h.get(&args[2]).is_some())
    })?;
    ctx.out.int(i64::from(e));
    Ok(())
}

fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = read(ctx, &args[1], |h| h.map_or(0, |h| h.len()))?;
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = read(ctx, &args[1], |h| {
        h.and_then(|h| h.get(&args[2]).map(|v| v.len()))
    })?;
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

fn pairs(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Vec<(StrBytes, StrBytes)>, CmdError> {
    read(ctx, key, |h| {
        h.map(|h| {
            h.iter()
                .map(|(f, v)| (StrBytes::from_slice(f), StrBytes::from_slice(v)))
                .collect()
        })
        .unwrap_or_default()
    })
}

fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let p = pairs(ctx, &args[1])?;
    ctx.out.array(p.len());
    for (f, _) in p {
        ctx.out.bulk(&f);
    }
    Ok(())
}

fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let p = pairs(ctx, &args[1])?;
    ctx.out.array(p.len());
    for (_, v) in p {
        ctx.out.bulk(&v);
    }
    Ok(())
}

fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let p = pairs(ctx, &args[1])?;
    ctx.out.map(p.len());
    for (f, v) in p {
        ctx.out.bulk(&f);
        ctx.out.bulk(&v);
    }
    Ok(())
}

fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let delta = arg_i64(&args[3])?;
    let limits = ctx.limits();
    let new = write(ctx, &args[1], true, |h| {
        let cur = match h.get(&args[2]) {
            None => 0,
            Some(v) => crate::protocol::parse_i64(v)
                .ok_or_else(|| CmdError::err("hash value is not an integer"))?,
        };
        let new = cur.checked_add(delta).ok_or(CmdError::Overflow)?;
        h.set(&args[2], itoa::Buffer::new().format(new).as_bytes(), limits);
        Ok(new)
    })?
    .unwrap_or(0);
    ctx.propagate_self(args)?;
    ctx.notify(HASH, "hincrby", &args[1])?;
    ctx.out.int(new);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let incr = crate::protocol::parse_f64(&args[3]).ok_or(CmdError::NotFloat)?;
    if !incr.is_finite() {
        return Err(CmdError::err("value is NaN or Infinity"));
    }
    let limits = ctx.limits();
    let text = write(ctx, &args[1], true, |h| {
        let cur_text: StrBytes = h
            .get(&args[2])
            .map_or_else(|| StrBytes::from_slice(b"0"), StrBytes::from_slice);
        let cur = crate::protocol::parse_f64(&cur_text)
            .ok_or_else(|| CmdError::err("hash value is not a float"))?;
        let new = cur + incr;
        if !new.is_finite() {
            return Err(CmdError::err("increment would produce NaN or Infinity"));
        }
        // Decimal text as Redis's long double arithmetic gives it (0.1 + 0.2 = 0.3).
        let text = super::strings::decimal_sum_text(&cur_text, &args[3])
            .unwrap_or_else(|| super::strings::human_float(new));
        h.set(&args[2], text.as_bytes(), limits);
        Ok(text)
    })?
    .unwrap_or_default();
    // The result, not the increment, goes to followers (float rounding must not differ).
    let db = ctx.db();
    ctx.w()?
        .propagate(db, &[b"HSET", &args[1], &args[2], text.as_bytes()]);
    ctx.notify(HASH, "hincrbyfloat", &args[1])?;
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    use rand::RngExt;
    let mut rng = rand::rng();
    if args.len() == 2 {
        let p = pairs(ctx, &args[1])?;
        if p.is_empty() {
            ctx.out.null();
        } else {
            ctx.out.bulk(&p[rng.random_range(0..p.len())].0);
        }
        return Ok(());
    }
    let count = arg_i64(&args[2])?;
    let withvalues = match args.len() {
        3 => false,
        4 if is(&args[3], "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    if count.unsigned_abs() > (i64::MAX as u64) / 2 {
        return Err(CmdError::err("value is out of range"));
    }
    super::check_random_picks(count)?;
    let p = pairs(ctx, &args[1])?;
    let picked: Vec<&(StrBytes, StrBytes)> = if p.is_empty() || count == 0 {
        Vec::new()
    } else if count < 0 {
        // Negative: that many picks, repetitions allowed.
        (0..count.unsigned_abs())
            .map(|_| &p[rng.random_range(0..p.len())])
            .collect()
    } else {
        // Positive: distinct fields, at most all of them.
        let n = (count as usize).min(p.len());
        let mut idx: Vec<usize> = (0..p.len()).collect();
        for i in 0..n {
            let j = rng.random_range(i..idx.len());
            idx.swap(i, j);
        }
        idx[..n].iter().map(|&i| &p[i]).collect()
    };
    if withvalues && ctx.out.resp3 {
        ctx.out.array(picked.len());
        for (f, v) in picked {
            ctx.out.array(2);
            ctx.out.bulk(f);
            ctx.out.bulk(v);
        }
    } else {
        ctx.out.array(if withvalues {
            picked.len() * 2
        } else {
            picked.len()
        });
        for (f, v) in picked {
            ctx.out.bulk(f);
            if withvalues {
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count].
fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let scan = super::collection::ScanArgs::parse(args)?;
    let (kept, next) = read(ctx, &args[1], |h| match h {
        None => (Vec::new(), 0),
        Some(h) => {
            let items = h.iter().map(|(f, v)| (f, (f, v)));
            let (kept, next) =
                super::collection::scan_step(items, h.encoding() == "listpack", &scan);
            let owned: Vec<(StrBytes, StrBytes)> = kept
                .into_iter()
                .map(|(f, v)| (StrBytes::from_slice(f), StrBytes::from_slice(v)))
                .collect();
            (owned, next)
        }
    })?;
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(kept.len() * 2);
    for (f, v) in &kept {
        ctx.out.bulk(f);
        ctx.out.bulk(v);
    }
    Ok(())
}
