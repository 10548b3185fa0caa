//! List commands (the blocking ones are still to come). Every write here is
//! deterministic and propagates itself; LMPOP propagates as the LPOP/RPOP it did.

use super::table::{Command, cmd, flags::*, key, key_num, key_range};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::StrBytes;
use crate::store::notify::LIST;
use bytes::Bytes;
use std::collections::VecDeque;

type List = VecDeque<StrBytes>;

/// List family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    let w = WRITE | DENYOOM | FAST;
    vec![
        cmd("lpush", -3, w, const { &[key_range(key::RW | key::INSERT, 1, 0, 1, 0)] }, "list", "1.0.0", "Prepend one or multiple elements to a list", lpush),
        cmd("rpush", -3, w, const { &[key_range(key::RW | key::INSERT, 1, 0, 1, 0)] }, "list", "1.0.0", "Append one or multiple elements to a list", rpush),
        cmd("lpushx", -3, w, const { &[key_range(key::RW | key::INSERT, 1, 0, 1, 0)] }, "list", "2.2.0", "Prepend an element to a list, only if the list exists", lpushx),
        cmd("rpushx", -3, w, const { &[key_range(key::RW | key::INSERT, 1, 0, 1, 0)] }, "list", "2.2.0", "Append an element to a list, only if the list exists", rpushx),
        cmd("lpop", -2, WRITE | FAST, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0)] }, "list", "1.0.0", "Remove and get the first elements in a list", lpop),
        cmd("rpop", -2, WRITE | FAST, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0)] }, "list", "1.0.0", "Remove and get the last elements in a list", rpop),
        cmd("llen", 2, READONLY | FAST, const { &[key_range(key::RO, 1, 0, 1, 0)] }, "list", "1.0.0", "Get the length of a list", llen),
        cmd("lrange", 4, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "list", "1.0.0", "Get a range of elements from a list", lrange),
        cmd("lindex", 3, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "list", "1.0.0", "Get an element from a list by its index", lindex),
        cmd("lset", 4, WRITE | DENYOOM, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, "list", "1.0.0", "Set the value of an element in a list by its index", lset),
        cmd("linsert", 5, WRITE | DENYOOM, const { &[key_range(key::RW | key::INSERT, 1, 0, 1, 0)] }, "list", "2.2.0", "Insert an element before or after another element in a list", linsert),
        cmd("lrem", 4, WRITE, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, "list", "1.0.0", "Remove elements from a list", lrem),
        cmd("ltrim", 4, WRITE, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, "list", "1.0.0", "Trim a list to the specified range", ltrim),
        cmd("lpos", -3, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "list", "6.0.6", "Return the index of matching elements on a list", lpos),
        cmd("lmove", 5, WRITE | DENYOOM, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0), key_range(key::RW | key::INSERT, 2, 0, 1, 0)] }, "list", "6.2.0", "Pop an element from a list, push it to another list and return it", lmove),
        cmd("rpoplpush", 3, WRITE | DENYOOM, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0), key_range(key::RW | key::INSERT, 2, 0, 1, 0)] }, "list", "1.2.0", "Remove the last element in a list, prepend it to another list and return it", rpoplpush),
        cmd("lmpop", -4, WRITE, const { &[key_num(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 1)] }, "list", "7.0.0", "Pop elements from a list", lmpop),
    ]
}

super::collection::typed_access!(List);

fn propagate(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> CmdResult {
    let db = ctx.db();
    ctx.w()?.propagate(db, args);
    Ok(())
}

fn push(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool, only_existing: bool) -> CmdResult {
    let len = write(ctx, &args[1], !only_existing, |l| {
        for el in &args[2..] {
            let el = StrBytes::from_slice(el);
            if left {
                l.push_front(el);
            } else {
                l.push_back(el);
            }
        }
        Ok(l.len())
    })?;
    match len {
        Some(n) => {
            ctx.propagate_self(args)?;
            ctx.notify(LIST, push_event(left), &args[1])?;
            ctx.out.int(n as i64);
        }
        None => ctx.out.int(0),
    }
    Ok(())
}

/// The event a push announces (also for the destination of LMOVE).
pub fn push_event(left: bool) -> &'static str {
    if left { "lpush" } else { "rpush" }
}

/// The event a pop announces (also for the source of LMOVE).
pub fn pop_event(left: bool) -> &'static str {
    if left { "lpop" } else { "rpop" }
}

fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, true, false)
}

fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, false, false)
}

fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, true, true)
}

fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    push(ctx, args, false, true)
}

fn positive_count(a: &[u8]) -> Result<usize, CmdError> {
    match crate::protocol::parse_i64(a) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(CmdError::err("value is out of range, must be positive")),
    }
}

fn pop_n(l: &mut List, left: bool, n: usize) -> Vec<StrBytes> {
    (0..n.min(l.len()))
        .filter_map(|_| if left { l.pop_front() } else { l.pop_back() })
        .collect()
}

fn pop(ctx: &mut Ctx<'_>, args: &[Bytes], left: bool) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => Some(positive_count(&args[2])?),
        _ => {
            return Err(CmdError::Arity(if left { "lpop" } else { "rpop" }.into()));
        }
    };
    // Type and existence first: a missing key answers nil whatever the count.
    let exists = read(ctx, &args[1], |l| l.is_some())?;
    if !exists {
        if count.is_some() {
            ctx.out.null_array();
        } else {
            ctx.out.null();
        }
        return Ok(());
    }
    if count == Some(0) {
        ctx.out.array(0);
        return Ok(());
    }
    let popped = write(ctx, &args[1], false, |l| {
        Ok(pop_n(l, left, count.unwrap_or(1)))
    })?
    .unwrap_or_default();
    ctx.propagate_self(args)?;
    ctx.notify(LIST, pop_event(left), &args[1])?;
    match count {
        None => ctx.out.bulk(&popped[0]),
        Some(_) => {
            ctx.out.array(popped.len());
            for el in &popped {
                ctx.out.bulk(el);
            }
        }
    }
    Ok(())
}

fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, true)
}

fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    pop(ctx, args, false)
}

fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = read(ctx, &args[1], |l| l.map_or(0, |l| l.len()))?;
    ctx.out.int(n as i64);
    Ok(())
}

/// Clamps Redis-style inclusive indexes (negative from the end) to a range of `len`.
fn range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, end) = (arg_i64(&args[2])?, arg_i64(&args[3])?);
    let items: Vec<StrBytes> = read(ctx, &args[1], |l| match l {
        None => Vec::new(),
        Some(l) => match range(start, end, l.len()) {
            None => Vec::new(),
            Some((s, e)) => l.range(s..=e).cloned().collect(),
        },
    })?;
    ctx.out.array(items.len());
    for el in &items {
        ctx.out.bulk(el);
    }
    Ok(())
}

fn index_of(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (i >= 0 && (i as usize) < len).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let i = arg_i64(&args[2])?;
    let el = read(ctx, &args[1], |l| {
        l.and_then(|l| index_of(i, l.len()).map(|i| l[i].clone()))
    })?;
    match el {
        Some(el) => ctx.out.bulk(&el),
        None => ctx.out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let i = arg_i64(&args[2])?;
    let done = write(ctx, &args[1], false, |l| {
        let i = index_of(i, l.len()).ok_or_else(|| CmdError::err("index out of range"))?;
        l[i] = StrBytes::from_slice(&args[3]);
        Ok(())
    })?;
    if done.is_none() {
        return Err(CmdError::NoSuchKey);
    }
    ctx.propagate_self(args)?;
    ctx.notify(LIST, "lset", &args[1])?;
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let n = write(ctx, &args[1], false, |l| {
        match l.iter().position(|e| e[..] == args[3][..]) {
            None => Ok(-1),
            Some(p) => {
                l.insert(
                    if after { p + 1 } else { p },
                    StrBytes::from_slice(&args[4]),
                );
                Ok(l.len() as i64)
            }
        }
    })?
    .unwrap_or(0);
    if n > 0 {
        ctx.propagate_self(args)?;
        ctx.notify(LIST, "linsert", &args[1])?;
    }
    ctx.out.int(n);
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let count = arg_i64(&args[2])?;
    let el = &args[3];
    let removed = write(ctx, &args[1], false, |l| {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        if count >= 0 {
            let mut i = 0;
            while i < l.len() && removed < limit {
                if l[i][..] == el[..] {
                    l.remove(i);
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        } else {
            let mut i = l.len();
            while i > 0 && removed < limit {
                i -= 1;
                if l[i][..] == el[..] {
                    l.remove(i);
                    removed += 1;
                }
            }
        }
        Ok(removed)
    })?
    .unwrap_or(0);
    if removed > 0 {
        ctx.propagate_self(args)?;
        ctx.notify(LIST, "lrem", &args[1])?;
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (start, end) = (arg_i64(&args[2])?, arg_i64(&args[3])?);
    let done = write(ctx, &args[1], false, |l| {
        match range(start, end, l.len()) {
            None => l.clear(),
            Some((s, e)) => {
                l.truncate(e + 1);
                l.drain(..s);
            }
        }
        Ok(())
    })?;
    if done.is_some() {
        ctx.propagate_self(args)?;
        ctx.notify(LIST, "ltrim", &args[1])?;
    }
    ctx.out.ok();
    Ok(())
}

fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen = 0usize;
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        let v = arg_i64(&args[i + 1])?;
        if is(&args[i], "rank") {
            if v == 0 {
                return Err(CmdError::err(
                    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
            if v == i64::MIN {
                return Err(CmdError::err("value is out of range"));
            }
            rank = v;
        } else if is(&args[i], "count") {
            if v < 0 {
                return Err(CmdError::err("COUNT can't be negative"));
            }
            count = Some(v as usize);
        } else if is(&args[i], "maxlen") {
            if v < 0 {
                return Err(CmdError::err("MAXLEN can't be negative"));
            }
            maxlen = v as usize;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let el = &args[2];
    let found: Vec<usize> = read(ctx, &args[1], |l| {
        let Some(l) = l else {
            return Vec::new();
        };
        let want = match count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n,
        };
        let scan = if maxlen == 0 {
            l.len()
        } else {
            maxlen.min(l.len())
        };
        let mut skip = rank.unsigned_abs() as usize - 1;
        let mut out = Vec::new();
        let indexes: Box<dyn Iterator<Item = usize>> = if rank > 0 {
            Box::new(0..scan)
        } else {
            Box::new((l.len() - scan..l.len()).rev())
        };
        for idx in indexes {
            if l[idx][..] == el[..] {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                out.push(idx);
                if out.len() >= want {
                    break;
                }
            }
        }
        out
    })?;
    match count {
        None => match found.first() {
            Some(&i) => ctx.out.int(i as i64),
            None => ctx.out.null(),
        },
        Some(_) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.int(i as i64);
            }
        }
    }
    Ok(())
}

/// LEFT (true) or RIGHT (false), as LMOVE, BLMOVE and friends take it.
pub fn side(a: &[u8]) -> Result<bool, CmdError> {
    if is(a, "left") {
        Ok(true)
    } else if is(a, "right") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Moves one element; None when the source is missing (types checked first).
fn move_one(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<StrBytes>, CmdError> {
    let src_exists = read(ctx, src, |l| l.is_some())?;
    read(ctx, dst, |_| ())?;
    if !src_exists {
        return Ok(None);
    }
    if src == dst {
        // A rotation: the list never empties, so the key is neither deleted nor created.
        let el = write(ctx, src, false, |l| {
            let el = if from_left {
                l.pop_front()
            } else {
                l.pop_back()
            };
            if let Some(el) = &el {
                if to_left {
                    l.push_front(el.clone());
                } else {
                    l.push_back(el.clone());
                }
            }
            Ok(el)
        })?
        .flatten();
        if el.is_some() {
            ctx.notify(LIST, push_event(to_left), dst)?;
            ctx.notify(LIST, pop_event(from_left), src)?;
        }
        return Ok(el);
    }
    let el = write(ctx, src, false, |l| {
        Ok(if from_left {
            l.pop_front()
        } else {
            l.pop_back()
        })
    })?
    .flatten();
    let Some(el) = el else {
        return Ok(None);
    };
    let moved = el.clone();
    write(ctx, dst, true, move |l| {
        if to_left {
            l.push_front(el);
        } else {
            l.push_back(el);
        }
        Ok(())
    })?;
    // As Redis: the push on the destination, then the pop (and any `del`) on the source.
    ctx.notify(LIST, push_event(to_left), dst)?;
    ctx.notify(LIST, pop_event(from_left), src)?;
    Ok(Some(moved))
}

fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (from_left, to_left) = (side(&args[3])?, side(&args[4])?);
    match move_one(ctx, &args[1], &args[2], from_left, to_left)? {
        Some(el) => {
            ctx.propagate_self(args)?;
            ctx.out.bulk(&el);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match move_one(ctx, &args[1], &args[2], false, true)? {
        Some(el) => {
            ctx.propagate_self(args)?;
            ctx.out.bulk(&el);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (keys, left, count) = super::collection::mpop_args(&args[1..], "left", "right")?;
    for key in &keys {
        if !read(ctx, key, |l| l.is_some())? {
            continue;
        }
        let popped = write(ctx, key, false, |l| Ok(pop_n(l, left, count)))?.unwrap_or_default();
        // Followers get the pop that happened, on the key it happened to.
        let n = popped.len().to_string();
        let name: &[u8] = if left { b"LPOP" } else { b"RPOP" };
        propagate(ctx, &[name, key, n.as_bytes()])?;
        ctx.notify(LIST, pop_event(left), key)?;
        ctx.out.array(2);
        ctx.out.bulk(key);
        ctx.out.array(popped.len());
        for el in &popped {
            ctx.out.bulk(el);
        }
        return Ok(());
    }
    ctx.out.null_array();
    Ok(())
}
