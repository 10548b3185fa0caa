//! SORT and SORT_RO: a list, set or sorted set ordered by its elements or by keys their
//! names point to (`BY weight_*`, `GET obj_*->field`), as Redis orders them.
//! `SORT ... STORE` propagates its result (DEL, RPUSH) rather than the command: set and
//! sorted-set members come out of a hash table in an order each server has its own way,
//! so only the result itself is sure to be the same on every follower.

use super::table::{Command, cmd, flags::*, key, key_range, key_unknown};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::Value;
use crate::store::notify::LIST;
use bytes::Bytes;
use std::cmp::Ordering;

const BY_GET_NOTES: &str = "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort";
const STORE_NOTES: &str = "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array";

/// SORT family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("sort", -2, WRITE | DENYOOM, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0), key_unknown(key::RO | key::ACCESS).notes(BY_GET_NOTES), key_unknown(key::OW | key::UPDATE).notes(STORE_NOTES).located_by(store_key)] }, "generic", "1.0.0", "Sort the elements in a list, set or sorted set", sort)
            .args("key:key [BY=pattern:pattern] [LIMIT=limit{offset:integer count:integer}] [GET=pattern:pattern...*] [order(ASC|DESC)] [ALPHA] [STORE=destination:key]")
            .acl("set sortedset list dangerous"),
        cmd("sort_ro", -2, READONLY | ATOMIC_READ, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0), key_unknown(key::RO | key::ACCESS).notes(BY_GET_NOTES)] }, "generic", "7.0.0", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", sort_ro)
            .args("key:key [BY=pattern:pattern] [LIMIT=limit{offset:integer count:integer}] [GET=pattern:pattern...*] [order(ASC|DESC)] [ALPHA]")
            .acl("set sortedset list dangerous"),
    ]
}

fn sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    sort_generic(ctx, args, true)
}

/// Where SORT's STORE destination is (Redis's sortGetKeys: the last STORE wins, and
/// the arguments of LIMIT, GET and BY are skipped), so ACLs, COMMAND GETKEYS and
/// tracking see it.
fn store_key(args: &[Bytes]) -> Option<usize> {
    let mut found = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < args.len() {
            found = Some(i + 1);
        }
        i += 1;
    }
    found
}

/// SORT's options.
#[derive(Default)]
struct SortOptions {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<Bytes>,
    by: Option<Bytes>,
    /// `BY` without `*`: keep the source's own order.
    dont_sort: bool,
    gets: Vec<Bytes>,
}

fn parse_options(ctx: &Ctx<'_>, args: &[Bytes], read_only: bool) -> Result<SortOptions, CmdError> {
    let mut o = SortOptions::default();
    let mut full_access = None;
    let mut may_use_patterns = |ctx: &Ctx<'_>| {
        *full_access.get_or_insert_with(|| {
            let cmd = ctx.srv.commands.get(&args[0]);
            cmd.is_none_or(|c| ctx.srv.acl.full_key_access(&ctx.client.user, c, args))
        })
    };
    let mut j = 2;
    while j < args.len() {
        let (a, left) = (&args[j], args.len() - j - 1);
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.limit = Some((arg_i64(&args[j + 1])?, arg_i64(&args[j + 2])?));
            j += 2;
        } else if !read_only && is(a, "store") && left >= 1 {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let pattern = &args[j + 1];
            if !pattern.contains(&b'*') {
                o.dont_sort = true;
            } else if !may_use_patterns(ctx) {
                return Err(CmdError::err(
                    "BY option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.by = Some(pattern.clone());
            j += 1;
        } else if is(a, "get") && left >= 1 {
            if !may_use_patterns(ctx) {
                return Err(CmdError::err(
                    "GET option of SORT denied due to insufficient ACL permissions.",
                ));
            }
            o.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// The value a `BY`/`GET` pattern finds for `elem`: `#` is the element itself,
/// `pre*post` the string at that key, `pre*post->field` a field of the hash there.
fn lookup_by_pattern(ctx: &mut Ctx<'_>, pattern: &[u8], elem: &[u8]) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(Bytes::copy_from_slice(elem));
    }
    let star = pattern.iter().position(|b| *b == b'*')?;
    let arrow = pattern[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|i| star + 1 + i)
        .filter(|i| i + 2 < pattern.len());
    let key_end = arrow.unwrap_or(pattern.len());
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let entry = ctx.lookup(&key)?;
    match (&entry.value, arrow) {
        (Value::Hash(h), Some(a)) => h.get(&pattern[a + 2..]).map(Bytes::copy_from_slice),
        (Value::Str(s), None) => Some(Bytes::copy_from_slice(s)),
        _ => None,
    }
}

/// What a source holds, for the order rules that depend on it.
#[derive(PartialEq, Clone, Copy)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// A sort weight as strtod reads it for Redis: the whole text a number (empty reads
/// as 0), not NaN, in range.
fn weight(v: &[u8]) -> Option<f64> {
    let t = v.trim_ascii_start();
    if t.is_empty() {
        return Some(0.0);
    }
    crate::protocol::parse_f64_in_range(t)
}

/// One element with what it sorts by.
struct Item {
    elem: Bytes,
    score: f64,
    by: Option<Bytes>,
}

fn sort_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult {
    let mut o = parse_options(ctx, args, read_only)?;
    let (kind, elems) = match ctx.lookup(&args[1]) {
        None => (Kind::List, Vec::new()),
        Some(e) => match &e.value {
            Value::List(l) => (
                Kind::List,
                l.iter().map(|x| Bytes::copy_from_slice(x)).collect(),
            ),
            Value::Set(s) => (
                Kind::Set,
                s.members()
                    .iter()
                    .map(|x| Bytes::copy_from_slice(x))
                    .collect(),
            ),
            Value::ZSet(z) => (
                Kind::ZSet,
                z.iter().map(|(m, _)| Bytes::copy_from_slice(m)).collect(),
            ),
            _ => return Err(CmdError::WrongType),
        },
    };
    // A set has no order of its own: to be the same everywhere (a stored result, a
    // script's effects), it is sorted as strings.
    if o.dont_sort && kind == Kind::Set && (o.store.is_some() || ctx.client.in_script) {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let n = elems.len() as i64;
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.clamp(0, n);
    let count = limit_count.max(-1).min(n);
    let mut end = if count < 0 { n - 1 } else { start + count - 1 };
    if start >= n {
        start = n - 1;
        end = n - 2;
    }
    end = end.min(n - 1);
    let mut items: Vec<Item> = if o.dont_sort && kind != Kind::Set {
        // The source's order, from the first element of the range (from the end with
        // DESC).
        let take = (end - start + 1).max(0) as usize;
        let mut v: Vec<Bytes> = if o.desc {
            elems
                .into_iter()
                .rev()
                .skip(start.max(0) as usize)
                .take(take)
                .collect()
        } else {
            elems
                .into_iter()
                .skip(start.max(0) as usize)
                .take(take)
                .collect()
        };
        if take == 0 {
            v.clear();
        }
        end -= start;
        start = 0;
        v.into_iter()
            .map(|elem| Item {
                elem,
                score: 0.0,
                by: None,
            })
            .collect()
    } else {
        elems
            .into_iter()
            .map(|elem| Item {
                elem,
                score: 0.0,
                by: None,
            })
            .collect()
    };
    if !o.dont_sort {
        let mut bad_weight = false;
        for it in items.iter_mut() {
            let by = match &o.by {
                Some(p) => match lookup_by_pattern(ctx, p, &it.elem) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.elem.clone(),
            };
            if o.alpha {
                if o.by.is_some() {
                    it.by = Some(by);
                }
            } else {
                match weight(&by) {
                    Some(w) => it.score = w,
                    None => bad_weight = true,
                }
            }
        }
        if bad_weight {
            return Err(CmdError::err(
                "One or more scores can't be converted into double",
            ));
        }
        let by_pattern = o.by.is_some();
        items.sort_by(|a, b| {
            let c = if !o.alpha {
                a.score
                    .partial_cmp(&b.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| a.elem.cmp(&b.elem))
            } else if by_pattern {
                match (&a.by, &b.by) {
                    (Some(x), Some(y)) => x.cmp(y),
                    (x, y) => x.is_some().cmp(&y.is_some()),
                }
            } else {
                a.elem.cmp(&b.elem)
            };
            if o.desc { c.reverse() } else { c }
        });
    }
    let range: &[Item] = if end >= start && start >= 0 {
        &items[start as usize..=end as usize]
    } else {
        &[]
    };
    // What each element gives: itself, or what each GET pattern finds.
    let mut out: Vec<Option<Bytes>> = Vec::with_capacity(range.len() * o.gets.len().max(1));
    for it in range {
        if o.gets.is_empty() {
            out.push(Some(it.elem.clone()));
        }
        for g in &o.gets {
            out.push(lookup_by_pattern(ctx, g, &it.elem));
        }
    }
    match o.store {
        None => {
            ctx.out.array(out.len());
            for v in &out {
                match v {
                    Some(v) => ctx.out.bulk(v),
                    None => ctx.out.null(),
                }
            }
        }
        Some(dest) => {
            // What each element gives, as stored: a missing GET value is stored empty.
            let items: Vec<&[u8]> = out
                .iter()
                .map(|v| v.as_deref().unwrap_or_default())
                .collect();
            let value = (!items.is_empty()).then(|| {
                let list: std::collections::VecDeque<crate::store::StrBytes> = items
                    .iter()
                    .map(|e| crate::store::StrBytes::from_slice(e))
                    .collect();
                Value::List(Box::new(list))
            });
            let mut rpush: Vec<&[u8]> = vec![b"RPUSH", &dest];
            rpush.extend(&items);
            super::collection::replace_propagating_result(
                ctx,
                &dest,
                value.map(|v| (v, &rpush[..])),
                LIST,
                "sortstore",
            )?;
            ctx.out.int(out.len() as i64);
        }
    }
    Ok(())
}
