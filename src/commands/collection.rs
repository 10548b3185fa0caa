//! The one way collection commands reach their value: typed read and write access with
//! WRONGTYPE for other types, creation on first write, and deletion of the key when the
//! collection ends up empty (as Redis never keeps an empty collection).

use super::{CmdError, Ctx, arg_i64, is};
use crate::store::{Entry, StrBytes, Value};
use bytes::Bytes;

/// A collection type stored in a [`Value`] variant.
pub trait Collection: Default {
    /// The collection inside `v`, when `v` is of this type.
    fn of(v: &Value) -> Option<&Self>;
    /// The same, mutable.
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    /// Wraps a new collection into a value.
    fn into_value(self) -> Value;
    /// True when empty (the key is then deleted).
    fn is_empty(&self) -> bool;
}

impl Collection for crate::store::hash::HashValue {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Hash(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Collection for crate::store::set::SetValue {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Set(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Collection for crate::store::stream::StreamValue {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Stream(Box::new(self))
    }
    /// A stream is kept when it has no entries (Redis deletes streams only on request).
    fn is_empty(&self) -> bool {
        false
    }
}

impl Collection for std::collections::VecDeque<StrBytes> {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::List(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Collection for crate::store::zset::ZSetValue {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::ZSet(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Replaces whatever `key` holds with `c` (the key is deleted when `c` is empty), as
/// the STORE commands (SINTERSTORE, ZUNIONSTORE, ZRANGESTORE...) do, announcing `event`
/// of notification `class` (or `del` when an empty result removed the key).
pub fn replace<C: Collection>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    c: C,
    class: u32,
    event: &str,
) -> Result<(), CmdError> {
    let db = ctx.db();
    let t = ctx.w()?;
    if c.is_empty() {
        if t.remove(db, key).is_some() {
            t.notify(crate::store::notify::GENERIC, "del", db, key);
        }
    } else {
        t.insert(db, key, Entry::new(c.into_value(), 0));
        t.notify(class, event, db, key);
    }
    Ok(())
}

/// Replaces `dest` with `value` (deletes it when None) and propagates the outcome rather
/// than the command that computed it: DEL, then `rebuild` (the one command that recreates
/// the value), as one transaction. SORT ... STORE and the geo STORE searches take this
/// path, since the members they find come out of hash tables in an order each server has
/// its own way. DEL goes first even for a missing key: a follower may still hold a
/// destination whose TTL ran out here (the expiry is propagated inside the same
/// transaction).
pub fn replace_propagating_result(
    ctx: &mut Ctx<'_>,
    dest: &[u8],
    value: Option<(Value, &[&[u8]])>,
    class: u32,
    event: &str,
) -> Result<(), CmdError> {
    let db = ctx.db();
    let t = ctx.w()?;
    let own = !t.log().in_transaction();
    if own {
        t.log().begin();
    }
    let existed = t.remove(db, dest).is_some();
    match value {
        None => {
            if existed {
                t.propagate(db, &[b"DEL", dest]);
                t.notify(crate::store::notify::GENERIC, "del", db, dest);
            }
        }
        Some((value, rebuild)) => {
            t.propagate(db, &[b"DEL", dest]);
            t.propagate(db, rebuild);
            t.insert(db, dest, Entry::new(value, 0));
            t.notify(class, event, db, dest);
        }
    }
    if own {
        t.log().commit();
    }
    Ok(())
}

/// Declares a family module's `read` and `write`: [`read`] and [`write`] fixed to its
/// collection type, so handlers' closures need no type annotations.
macro_rules! typed_access {
    ($t:ty) => {
        /// [`super::collection::read`] for this family's type.
        fn read<R>(
            ctx: &mut Ctx<'_>,
            key: &[u8],
            f: impl FnOnce(Option<&$t>) -> R,
        ) -> Result<R, CmdError> {
            super::collection::read(ctx, key, f)
        }

        /// [`super::collection::write`] for this family's type.
        fn write<R>(
            ctx: &mut Ctx<'_>,
            key: &[u8],
            create: bool,
            f: impl FnOnce(&mut $t) -> Result<R, CmdError>,
        ) -> Result<Option<R>, CmdError> {
            super::collection::write(ctx, key, create, f)
        }
    };
}
pub(crate) use typed_access;

/// Runs `f` on the collection at `key` (None when missing); WRONGTYPE for other types.
pub fn read<C: Collection, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(Option<&C>) -> R,
) -> Result<R, CmdError> {
    match ctx.lookup(key) {
        None => Ok(f(None)),
        Some(e) => match C::of(&e.value) {
            Some(c) => Ok(f(Some(c))),
            None => Err(CmdError::WrongType),
        },
    }
}

/// Runs `f` on the collection at `key` for a write, creating an empty one when `create`;
/// the key is deleted when the collection ends up empty (its `del` event follows the
/// caller's own event on the key), and otherwise signalled as modified (WATCH,
/// tracking). None when missing and not created.
pub fn write<C: Collection, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut C) -> Result<R, CmdError>,
) -> Result<Option<R>, CmdError> {
    let db = ctx.db();
    let t = ctx.w()?;
    // One lookup for the common case (the key exists); `f` runs with the entry held.
    let done = match t.get_mut(db, key) {
        Some(mut e) => {
            let Some(c) = C::of_mut(&mut e.value) else {
                return Err(CmdError::WrongType);
            };
            let r = f(c)?;
            Ok((r, c.is_empty()))
        }
        None => Err(f),
    };
    match done {
        Ok((r, empty)) => {
            if empty {
                t.remove_emptied(db, key);
            } else {
                t.modified(db, key);
            }
            Ok(Some(r))
        }
        Err(_) if !create => Ok(None),
        Err(f) => {
            let mut c = C::default();
            let r = f(&mut c)?;
            if !c.is_empty() {
                t.insert(db, key, Entry::new(c.into_value(), 0));
            }
            Ok(Some(r))
        }
    }
}

/// Parsed arguments of HSCAN / SSCAN / ZSCAN: `key cursor [MATCH pattern] [COUNT count]`.
pub struct ScanArgs {
    /// Where this step starts (0: the beginning).
    pub cursor: u64,
    /// MATCH and COUNT (default 10, a hint), parsed as SCAN's.
    pub options: super::keys::ScanOptions,
}

impl ScanArgs {
    /// Parses `args` (the command name first), with SCAN's errors (no TYPE).
    pub fn parse(args: &[bytes::Bytes]) -> Result<ScanArgs, CmdError> {
        Ok(ScanArgs {
            cursor: super::keys::parse_cursor(&args[2])?,
            options: super::keys::parse_scan_options(&args[3..], false)?,
        })
    }
}

/// One step of HSCAN / SSCAN / ZSCAN over `items` (member, what to return for it):
/// the returned items matching MATCH, and the next cursor (0 when done).
///
/// As in Redis, a compact collection (listpack, intset) comes back whole in one step.
/// Otherwise members are visited in [`ScanBuckets`] order (cursors below about twice
/// the collection's size), so every member
/// present for the whole scan is returned at least once however the collection changes
/// or grows. Finding the place costs one pass, so a step visits at least 1/32 of the
/// collection (COUNT is a hint): a full scan takes at most about 32 passes.
///
/// [`ScanBuckets`]: crate::store::ScanBuckets
pub fn scan_step<'a, T>(
    items: impl Iterator<Item = (&'a [u8], T)>,
    compact: bool,
    args: &ScanArgs,
) -> (Vec<T>, u64) {
    if compact {
        let all = items
            .filter(|(m, _)| args.options.matches(m))
            .map(|(_, t)| t);
        return (all.collect(), 0);
    }
    let mut cands: Vec<(u64, &[u8], T)> = items.map(|(m, t)| (0, m, t)).collect();
    let total = cands.len();
    let buckets = crate::store::ScanBuckets::for_len(total);
    let from = buckets.decode(args.cursor);
    for c in cands.iter_mut() {
        c.0 = buckets.bucket(c.1);
    }
    cands.retain(|c| c.0 >= from);
    let batch = args.options.count.max(total / 32).max(1);
    let mut next = 0;
    if cands.len() > batch {
        cands.select_nth_unstable_by_key(batch - 1, |c| c.0);
        let cut = cands[batch - 1].0;
        // Members of the last bucket all go in this step, so a cursor never splits one.
        cands.retain(|c| c.0 <= cut);
        if cut + 1 < buckets.count() {
            next = buckets.encode(cut + 1);
        }
    }
    let kept = cands
        .into_iter()
        .filter(|(_, m, _)| args.options.matches(m))
        .map(|(_, _, t)| t)
        .collect();
    (kept, next)
}

/// LMPOP/BLMPOP/ZMPOP/BZMPOP arguments from `numkeys`: `numkeys key... side [COUNT n]`
/// where the side is `first` or `second` (LEFT/RIGHT, MIN/MAX): (keys, side is `first`,
/// count), with Redis's errors.
pub fn mpop_args(
    args: &[Bytes],
    first: &str,
    second: &str,
) -> Result<(Vec<Bytes>, bool, usize), CmdError> {
    let numkeys = arg_i64(&args[0])
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| CmdError::err("numkeys should be greater than 0"))?
        as usize;
    if numkeys + 1 >= args.len() {
        return Err(CmdError::Syntax);
    }
    let is_first = match &args[numkeys + 1] {
        a if is(a, first) => true,
        a if is(a, second) => false,
        _ => return Err(CmdError::Syntax),
    };
    let mut count = None;
    let mut j = numkeys + 2;
    while j < args.len() {
        if count.is_none() && is(&args[j], "count") && j + 1 < args.len() {
            let c = arg_i64(&args[j + 1])
                .ok()
                .filter(|c| *c >= 1)
                .ok_or_else(|| CmdError::err("count should be greater than 0"))?;
            count = Some(c as usize);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((args[1..=numkeys].to_vec(), is_first, count.unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::keys::ScanOptions;

    #[test]
    fn collection_scan_cursors_stay_below_2_pow_63_for_every_size() {
        for size in [1usize, 2, 3, 31, 32, 33, 129, 513, 2_000, 20_000] {
            let members: Vec<Vec<u8>> = (0..size).map(|i| format!("m{i}").into_bytes()).collect();
            for count in [1, 10, 1_000] {
                let mut seen = std::collections::HashSet::new();
                let mut cursor = 0;
                let mut steps = 0;
                loop {
                    let args = ScanArgs {
                        cursor,
                        options: ScanOptions {
                            count,
                            ..Default::default()
                        },
                    };
                    let items = members.iter().map(|m| (&m[..], m.clone()));
                    let (found, next) = scan_step(items, false, &args);
                    assert!(
                        next < 1 << 63,
                        "cursor {next} does not fit a signed 64-bit integer"
                    );
                    assert!(
                        next < 2 * size as u64 + 2,
                        "cursor {next} for {size} members"
                    );
                    seen.extend(found);
                    steps += 1;
                    assert!(steps < 100_000, "HSCAN did not finish");
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
                assert_eq!(seen.len(), size, "size {size} count {count}");
            }
            // A cursor clamped to i64::MAX by an old client ends the scan.
            let args = ScanArgs {
                cursor: i64::MAX as u64,
                options: ScanOptions::default(),
            };
            let items = members.iter().map(|m| (&m[..], ()));
            assert_eq!(scan_step(items, false, &args).1, 0);
        }
    }

    #[test]
    fn collection_scan_returns_every_member_present_throughout_while_it_changes() {
        let stable: Vec<Vec<u8>> = (0..2_000).map(|i| format!("s{i}").into_bytes()).collect();
        let mut churn: Vec<Vec<u8>> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        for step in 0.. {
            assert!(step < 10_000, "scan did not finish");
            let args = ScanArgs {
                cursor,
                options: ScanOptions {
                    count: 10,
                    ..Default::default()
                },
            };
            let items = stable
                .iter()
                .chain(churn.iter())
                .map(|m| (&m[..], m.clone()));
            let (found, next) = scan_step(items, false, &args);
            seen.extend(found);
            // Grow fast (bucket counts double), then shrink below the start.
            if step < 10 {
                churn.extend((0..1_000).map(|j| format!("c{step}:{j}").into_bytes()));
            } else {
                churn.truncate(churn.len().saturating_sub(1_000));
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        assert!(stable.iter().all(|m| seen.contains(m)));
    }
}
