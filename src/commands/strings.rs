//! String commands. Writes propagate their effects (absolute expiries, final values), so a
//! follower applying the stream reaches the same state whatever its clock says.

use super::table::{Command, cmd, flags::*, key, key_range};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::notify::{GENERIC, STRING};
use crate::store::{Entry, StrBytes, Value};
use bytes::Bytes;

/// String family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("get", 2, READONLY | FAST, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "string", "1.0.0", "Get the value of a key", get)
            .args("key:key"),
        cmd("set", -3, WRITE | DENYOOM, const { &[key_range(key::RW | key::ACCESS | key::UPDATE | key::VARIABLE_FLAGS, 1, 0, 1, 0).notes("GET reads the old value").flags_by(set_key_flags)] }, "string", "1.0.0", "Set the string value of a key", set)
            .args("key:key value [condition(NX|XX)] [GET] [expiration(EX=seconds:integer|PX=milliseconds:integer|EXAT=unix-time-seconds:unix-time|PXAT=unix-time-milliseconds:unix-time|KEEPTTL)]"),
        cmd("setnx", 3, WRITE | DENYOOM | FAST, const { &[key_range(key::OW | key::INSERT, 1, 0, 1, 0)] }, "string", "1.0.0", "Set the value of a key, only if the key does not exist", setnx)
            .args("key:key value"),
        cmd("setex", 4, WRITE | DENYOOM, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0)] }, "string", "2.0.0", "Set the value and expiration of a key", setex)
            .args("key:key seconds:integer value"),
        cmd("psetex", 4, WRITE | DENYOOM, const { &[key_range(key::OW | key::UPDATE, 1, 0, 1, 0)] }, "string", "2.6.0", "Set the value and expiration in milliseconds of a key", psetex)
            .args("key:key milliseconds:integer value"),
        cmd("getset", 3, WRITE | DENYOOM | FAST, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, "string", "1.0.0", "Set the string value of a key and return its old value", getset)
            .args("key:key value"),
        cmd("getdel", 2, WRITE | FAST, const { &[key_range(key::RW | key::ACCESS | key::DELETE, 1, 0, 1, 0)] }, "string", "6.2.0", "Get the value of a key and delete the key", getdel)
            .args("key:key"),
        cmd("getex", -2, WRITE | FAST, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0).notes("changing the TTL updates the key")] }, "string", "6.2.0", "Get the value of a key and optionally set its expiration", getex)
            .args("key:key [expiration(EX=seconds:integer|PX=milliseconds:integer|EXAT=unix-time-seconds:unix-time|PXAT=unix-time-milliseconds:unix-time|PERSIST)]"),
        cmd("mget", -2, READONLY | FAST | ATOMIC_READ, const { &[key_range(key::RO | key::ACCESS, 1, -1, 1, 0)] }, "string", "1.0.0", "Get the values of all the given keys", mget)
            .tips("request_policy:multi_shard")
            .args("key:key..."),
        cmd("mset", -3, WRITE | DENYOOM, const { &[key_range(key::OW | key::UPDATE, 1, -1, 2, 0)] }, "string", "1.0.1", "Set multiple keys to multiple values", mset)
            .tips("request_policy:multi_shard response_policy:all_succeeded")
            .args("key_value{key:key value}..."),
        cmd("msetnx", -3, WRITE | DENYOOM, const { &[key_range(key::OW | key::INSERT, 1, -1, 2, 0)] }, "string", "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist", msetnx)
            .tips("request_policy:multi_shard response_policy:agg_min")
            .args("key_value{key:key value}..."),
        cmd("incr", 2, WRITE | DENYOOM | FAST, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, "string", "1.0.0", "Increment the integer value of a key by one", incr)
            .args("key:key"),
        cmd("decr", 2, WRITE | DENYOOM | FAST, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, "string", "1.0.0", "Decrement the integer value of a key by one", decr)
            .args("key:key"),
        cmd("incrby", 3, WRITE | DENYOOM | FAST, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, "string", "1.0.0", "Increment the integer value of a key by the given amount", incrby)
            .args("key:key increment:integer"),
        cmd("decrby", 3, WRITE | DENYOOM | FAST, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, "string", "1.0.0", "Decrement the integer value of a key by the given number", decrby)
            .args("key:key decrement:integer"),
        cmd("incrbyfloat", 3, WRITE | DENYOOM | FAST, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, "string", "2.6.0", "Increment the float value of a key by the given amount", incrbyfloat)
            .args("key:key increment:double"),
        cmd("append", 3, WRITE | DENYOOM | FAST, const { &[key_range(key::RW | key::INSERT, 1, 0, 1, 0)] }, "string", "2.0.0", "Append a value to a key", append)
            .args("key:key value"),
        cmd("strlen", 2, READONLY | FAST, const { &[key_range(key::RO, 1, 0, 1, 0)] }, "string", "2.2.0", "Get the length of the value stored in a key", strlen)
            .args("key:key"),
        cmd("getrange", 4, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "string", "2.4.0", "Get a substring of the string stored at a key", getrange)
            .args("key:key start:integer end:integer"),
        cmd("substr", 4, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "string", "1.0.0", "Get a substring of the string stored at a key", getrange)
            .args("key:key start:integer end:integer"),
        cmd("setrange", 4, WRITE | DENYOOM, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] }, "string", "2.2.0", "Overwrite part of a string at key starting at the specified offset", setrange)
            .args("key:key offset:integer value"),
        cmd("lcs", -3, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 1, 1, 0)] }, "string", "7.0.0", "Find longest common substring", lcs)
            .args("key1:key key2:key [LEN] [IDX] [MINMATCHLEN=min-match-len:integer] [WITHMATCHLEN]"),
    ]
}

/// How a SET-like command treats the key's expiry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExpireArg {
    /// Remove any TTL.
    None,
    /// Keep the existing TTL.
    Keep,
    /// Absolute unix ms.
    At(u64),
}

/// Parsed SET options.
#[derive(Debug, PartialEq)]
pub struct SetOptions {
    /// NX: only if missing.
    pub nx: bool,
    /// XX: only if present.
    pub xx: bool,
    /// GET: reply with the old value.
    pub get: bool,
    /// Expiry handling.
    pub expire: ExpireArg,
}

/// Converts an EX/PX/EXAT/PXAT argument to absolute ms, with Redis's validation.
pub fn parse_expire(unit: &[u8], arg: &[u8], now: u64, cmd: &str) -> Result<u64, CmdError> {
    let v = arg_i64(arg)?;
    let invalid = || CmdError::err(format!("invalid expire time in '{}' command", cmd));
    if v <= 0 {
        return Err(invalid());
    }
    let u = unit.to_ascii_lowercase();
    let at = match u.as_slice() {
        b"ex" => v
            .checked_mul(1000)
            .and_then(|ms| ms.checked_add(now as i64)),
        b"px" => v.checked_add(now as i64),
        b"exat" => v.checked_mul(1000),
        b"pxat" => Some(v),
        _ => return Err(CmdError::Syntax),
    };
    at.map(|a| a as u64).ok_or_else(invalid)
}

/// Parses SET's flags (after key and value).
pub fn parse_set_options(args: &[Bytes], now: u64) -> Result<SetOptions, CmdError> {
    let mut o = SetOptions {
        nx: false,
        xx: false,
        get: false,
        expire: ExpireArg::None,
    };
    let mut has_expire = false;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if is(a, "nx") && !o.xx {
            o.nx = true;
        } else if is(a, "xx") && !o.nx {
            o.xx = true;
        } else if is(a, "get") {
            o.get = true;
        } else if is(a, "keepttl") && !has_expire {
            has_expire = true;
            o.expire = ExpireArg::Keep;
        } else if (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat"))
            && !has_expire
            && i + 1 < args.len()
        {
            has_expire = true;
            o.expire = ExpireArg::At(parse_expire(a, &args[i + 1], now, "set")?);
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// SET's key flags for one request: with GET it reads and returns the old value.
pub fn set_key_flags(args: &[Bytes]) -> u32 {
    if args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
        key::RW | key::ACCESS | key::UPDATE
    } else {
        key::OW | key::UPDATE
    }
}

/// Stores a string under the write section and propagates it as `SET k v [PXAT t]`.
/// An expiry already in the past deletes the key instead (propagated as DEL).
pub fn store_string(ctx: &mut Ctx<'_>, key: &[u8], val: Bytes, expire: ExpireArg) -> CmdResult {
    let db = ctx.db();
    let t = ctx.w()?;
    // The section's clock: a follower applying its leader's stream never expires.
    let now = t.now;
    let at = match expire {
        ExpireArg::None => 0,
        ExpireArg::At(at) => at,
        ExpireArg::Keep => t.get(db, key).map(|e| e.expire_at).unwrap_or(0),
    };
    let with_ttl = matches!(expire, ExpireArg::At(_));
    if at != 0 && at <= now {
        if t.remove(db, key).is_some() {
            t.propagate(db, &[b"DEL", key]);
        }
        // Announced as Redis does for a TTL in the past: the set, then the expire.
        t.notify(STRING, "set", db, key);
        t.notify(GENERIC, "expire", db, key);
        return Ok(());
    }
    t.insert(
        db,
        key,
        Entry::new(Value::Str(StrBytes::from_slice(&val)), at),
    );
    if at != 0 {
        let ts = at.to_string();
        t.propagate(db, &[b"SET", key, &val, b"PXAT", ts.as_bytes()]);
    } else if matches!(expire, ExpireArg::Keep) {
        // As stock writes it (the key had no TTL to keep: same effect as a plain SET).
        t.propagate(db, &[b"SET", key, &val, b"KEEPTTL"]);
    } else {
        t.propagate(db, &[b"SET", key, &val]);
    }
    t.notify(STRING, "set", db, key);
    if with_ttl {
        t.notify(GENERIC, "expire", db, key);
    }
    Ok(())
}

fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match ctx.lookup(&args[1]) {
        None => ctx.out.null(),
        Some(r) => match &r.value {
            Value::Str(s) => ctx.out.bulk(s),
            _ => return Err(CmdError::WrongType),
        },
    }
    Ok(())
}

fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let o = parse_set_options(&args[3..], ctx.now)?;
    let key = &args[1];
    // Plain SET overwrites whatever is there: only GET needs the old value (and its
    // type check), NX/XX only its existence.
    let old = if o.get {
        ctx.get_str_counted(key)?
    } else {
        None
    };
    let exists = if o.get {
        old.is_some()
    } else {
        (o.nx || o.xx) && ctx.lookup(key).is_some()
    };
    if (o.nx && exists) || (o.xx && !exists) {
        match (o.get, old) {
            (true, Some(v)) => ctx.out.bulk(&v),
            _ => ctx.out.null(),
        }
        return Ok(());
    }
    store_string(ctx, key, args[2].clone(), o.expire)?;
    if o.get {
        match old {
            Some(v) => ctx.out.bulk(&v),
            None => ctx.out.null(),
        }
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.lookup(&args[1]).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    store_string(ctx, &args[1], args[2].clone(), ExpireArg::None)?;
    ctx.out.int(1);
    Ok(())
}

fn setex_common(ctx: &mut Ctx<'_>, args: &[Bytes], unit: &[u8], name: &str) -> CmdResult {
    let at = parse_expire(unit, &args[2], ctx.now, name)?;
    store_string(ctx, &args[1], args[3].clone(), ExpireArg::At(at))?;
    ctx.out.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    setex_common(ctx, args, b"ex", "setex")
}

fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    setex_common(ctx, args, b"px", "psetex")
}

fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let old = ctx.get_str_counted(&args[1])?;
    store_string(ctx, &args[1], args[2].clone(), ExpireArg::None)?;
    match old {
        Some(v) => ctx.out.bulk(&v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(v) = ctx.get_str_counted(&args[1])? else {
        ctx.out.null();
        return Ok(());
    };
    let db = ctx.db();
    let t = ctx.w()?;
    t.remove(db, &args[1]);
    t.propagate(db, &[b"DEL", &args[1]]);
    t.notify(GENERIC, "del", db, &args[1]);
    ctx.out.bulk(&v);
    Ok(())
}

fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // Parse options first: errors win over the lookup, as in Redis.
    let mut expire: Option<ExpireArg> = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if is(a, "persist") && expire.is_none() {
            expire = Some(ExpireArg::None);
        } else if (is(a, "ex") || is(a, "px") || is(a, "exat") || is(a, "pxat"))
            && expire.is_none()
            && i + 1 < args.len()
        {
            expire = Some(ExpireArg::At(parse_expire(
                a,
                &args[i + 1],
                ctx.now,
                "getex",
            )?));
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    let Some(v) = ctx.get_str_counted(&args[1])? else {
        ctx.out.null();
        return Ok(());
    };
    let db = ctx.db();
    let now = ctx.w()?.now;
    let key = &args[1];
    match expire {
        Some(ExpireArg::At(at)) if at <= now => {
            let t = ctx.w()?;
            t.remove(db, key);
            t.propagate(db, &[b"DEL", key]);
            t.notify(GENERIC, "del", db, key);
        }
        Some(ExpireArg::At(at)) => {
            let t = ctx.w()?;
            t.set_expire(db, key, at);
            let ts = at.to_string();
            t.propagate(db, &[b"PEXPIREAT", key, ts.as_bytes()]);
            t.notify(GENERIC, "expire", db, key);
        }
        Some(ExpireArg::None) => {
            super::keys::persist_key(ctx.w()?, db, key);
        }
        _ => {}
    }
    ctx.out.bulk(&v);
    Ok(())
}

fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ctx.out.array(args.len() - 1);
    for k in &args[1..] {
        match ctx.lookup(k) {
            Some(r) => match &r.value {
                Value::Str(s) => ctx.out.bulk(s),
                // MGET answers nil for keys of other types, as Redis.
                _ => ctx.out.null(),
            },
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset_pairs(ctx: &mut Ctx<'_>, args: &[Bytes], name: &str) -> Result<(), CmdError> {
    if !(args.len() - 1).is_multiple_of(2) {
        return Err(CmdError::Arity(name.into()));
    }
    let db = ctx.db();
    let t = ctx.w()?;
    for pair in args[1..].chunks(2) {
        t.insert(
            db,
            &pair[0],
            Entry::new(Value::Str(StrBytes::from_slice(&pair[1])), 0),
        );
        t.notify(STRING, "set", db, &pair[0]);
    }
    let refs: Vec<&[u8]> = std::iter::once(&b"MSET"[..])
        .chain(args[1..].iter().map(|a| &a[..]))
        .collect();
    t.propagate(db, &refs);
    Ok(())
}

fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    mset_pairs(ctx, args, "mset")?;
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if !(args.len() - 1).is_multiple_of(2) {
        return Err(CmdError::Arity("msetnx".into()));
    }
    for pair in args[1..].chunks(2) {
        if ctx.lookup(&pair[0]).is_some() {
            ctx.out.int(0);
            return Ok(());
        }
    }
    mset_pairs(ctx, args, "msetnx")?;
    ctx.out.int(1);
    Ok(())
}

/// Adds `delta` to the integer at `args[1]`, keeping its TTL; propagates the command
/// as it came (INCR is deterministic, and stock replicas and tools expect it verbatim).
fn incr_by(ctx: &mut Ctx<'_>, args: &[Bytes], delta: i64) -> CmdResult {
    let key: &[u8] = &args[1];
    let db = ctx.db();
    let t = ctx.w()?;
    let mut buf = itoa::Buffer::new();
    // Update in place when the key exists: one lookup, no key allocation.
    let new = match t.get_mut(db, key) {
        Some(mut e) => {
            let cur = match &e.value {
                Value::Str(s) => crate::protocol::parse_i64(s).ok_or(CmdError::NotInteger)?,
                _ => return Err(CmdError::WrongType),
            };
            let new = cur.checked_add(delta).ok_or(CmdError::Overflow)?;
            e.value = Value::Str(StrBytes::from_slice(buf.format(new).as_bytes()));
            e.raw = false;
            e.touch_access(t.store().evictor.settings.access_mode());
            drop(e);
            t.modified(db, key);
            new
        }
        None => {
            t.insert(
                db,
                key,
                Entry::new(
                    Value::Str(StrBytes::from_slice(buf.format(delta).as_bytes())),
                    0,
                ),
            );
            delta
        }
    };
    let verbatim: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
    t.propagate(db, &verbatim);
    t.notify(STRING, "incrby", db, key);
    ctx.out.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, args, 1)
}

fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    incr_by(ctx, args, -1)
}

fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let d = arg_i64(&args[2])?;
    incr_by(ctx, args, d)
}

fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let d = arg_i64(&args[2])?;
    if d == i64::MIN {
        return Err(CmdError::err("decrement would overflow"));
    }
    incr_by(ctx, args, -d)
}

/// Formats a float the way INCRBYFLOAT replies (no exponent, shortest exact digits).
pub fn human_float(v: f64) -> String {
    let s = format!("{}", v);
    if s == "-0" { "0".into() } else { s }
}

/// A decimal number held exactly: `mantissa * 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// Parses decimal text exactly (`-1.5`, `5.0e3`); None if it does not fit in 38 digits.
fn parse_decimal(s: &[u8]) -> Option<Decimal> {
    let text = std::str::from_utf8(s).ok()?;
    let (num, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (neg, digits) = match num.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, num.strip_prefix('+').unwrap_or(num)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut mantissa: i128 = 0;
    for c in int_part.bytes().chain(frac_part.bytes()) {
        if !c.is_ascii_digit() {
            return None;
        }
        mantissa = mantissa.checked_mul(10)?.checked_add((c - b'0') as i128)?;
    }
    // Beyond 38 digits nothing fits an i128 anyway; refuse before looping on the exponent.
    if !(-40..=40).contains(&exp) {
        return None;
    }
    let mut scale = frac_part.len() as i32 - exp;
    while scale < 0 {
        mantissa = mantissa.checked_mul(10)?;
        scale += 1;
    }
    Some(Decimal {
        mantissa: if neg { -mantissa } else { mantissa },
        scale: scale as u32,
    })
}

/// Exact sum, printed as Redis prints INCRBYFLOAT results (`%.17Lf` with trailing zeros
/// removed). None when the exact form would not fit; the caller then uses f64.
pub fn decimal_sum_text(a: &[u8], b: &[u8]) -> Option<String> {
    let (x, y) = (parse_decimal(a)?, parse_decimal(b)?);
    let scale = x.scale.max(y.scale);
    let lift = |d: Decimal| d.mantissa.checked_mul(10i128.checked_pow(scale - d.scale)?);
    let mut m = lift(x)?.checked_add(lift(y)?)?;
    let mut scale = scale;
    if scale > 17 {
        let div = 10i128.checked_pow(scale - 17)?;
        let (q, r) = (m / div, m % div);
        m = q + if r.abs() * 2 >= div { r.signum() } else { 0 };
        scale = 17;
    }
    let neg = m < 0;
    let digits = m.unsigned_abs().to_string();
    let s = scale as usize;
    let (int_part, frac_part) = if digits.len() > s {
        (
            digits[..digits.len() - s].to_string(),
            digits[digits.len() - s..].to_string(),
        )
    } else {
        ("0".to_string(), format!("{:0>width$}", digits, width = s))
    };
    let frac = frac_part.trim_end_matches('0');
    let body = if frac.is_empty() {
        int_part
    } else {
        format!("{}.{}", int_part, frac)
    };
    Some(if neg && body != "0" {
        format!("-{}", body)
    } else {
        body
    })
}

fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let incr = crate::protocol::parse_f64(&args[2]).ok_or(CmdError::NotFloat)?;
    let db = ctx.db();
    let key = &args[1];
    let t = ctx.w()?;
    let (cur_text, at) = match t.get(db, key) {
        None => (Bytes::from_static(b"0"), 0),
        Some(e) => match &e.value {
            Value::Str(s) => (Bytes::copy_from_slice(s), e.expire_at),
            _ => return Err(CmdError::WrongType),
        },
    };
    let cur = crate::protocol::parse_f64(&cur_text).ok_or(CmdError::NotFloat)?;
    let new = cur + incr;
    if !new.is_finite() {
        return Err(CmdError::err("increment would produce NaN or Infinity"));
    }
    let text = decimal_sum_text(&cur_text, &args[2]).unwrap_or_else(|| human_float(new));
    t.insert(
        db,
        key,
        Entry::new(Value::Str(StrBytes::from_slice(text.as_bytes())), at),
    );
    t.propagate(db, &[b"SET", key, text.as_bytes(), b"KEEPTTL"]);
    t.notify(STRING, "incrbyfloat", db, key);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

/// `proto-max-bulk-len`'s limit on a string a command would make.
pub fn check_size(ctx: &Ctx<'_>, len: usize) -> CmdResult {
    let max = ctx
        .srv
        .config
        .live
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed);
    if len > max {
        return Err(CmdError::err(
            "string exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    Ok(())
}

/// Stores the edited bytes of a string (APPEND, SETRANGE), keeping its TTL; raw-encoded,
/// as Redis keeps a string it edited in place.
fn store_edited_string(ctx: &mut Ctx<'_>, key: &[u8], bytes: Vec<u8>) -> CmdResult {
    let db = ctx.db();
    let t = ctx.w()?;
    let at = t.get(db, key).map_or(0, |e| e.expire_at);
    let mut entry = Entry::new(Value::Str(StrBytes::from_vec(bytes)), at);
    entry.raw = true;
    t.insert(db, key, entry);
    Ok(())
}

/// Edits the string at `key` where it lies, creating it when missing and padding it with
/// zero bytes to at least `min_len` first (Redis's lookupStringForBitCommand): the bit
/// and HyperLogLog commands change a few bytes of strings that may be large. WRONGTYPE
/// for other types. `f` learns whether the string was created or grew, and so does the
/// caller, which signals the key as modified when it changed it.
pub fn edit_string<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    min_len: usize,
    f: impl FnOnce(&mut [u8], bool) -> R,
) -> Result<(R, bool), CmdError> {
    let db = ctx.db();
    let t = ctx.w()?;
    if let Some(mut e) = t.get_mut(db, key) {
        let e = &mut *e;
        let Value::Str(s) = &mut e.value else {
            return Err(CmdError::WrongType);
        };
        let grown = s.len() < min_len;
        if grown {
            s.resize(min_len, 0);
        }
        e.raw = true;
        return Ok((f(&mut s[..], grown), grown));
    }
    let mut bytes = StrBytes::from_elem(0, min_len);
    let r = f(&mut bytes[..], true);
    let mut entry = Entry::new(Value::Str(bytes), 0);
    entry.raw = true;
    t.insert(db, key, entry);
    Ok((r, true))
}

fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let old = ctx.get_str(key)?;
    let total = old.as_ref().map_or(0, |v| v.len()) + args[2].len();
    check_size(ctx, total)?;
    let mut v = Vec::with_capacity(total);
    if let Some(o) = &old {
        v.extend_from_slice(o);
    }
    v.extend_from_slice(&args[2]);
    store_edited_string(ctx, key, v)?;
    let db = ctx.db();
    let t = ctx.w()?;
    t.propagate(db, &[b"APPEND", key, &args[2]]);
    t.notify(STRING, "append", db, key);
    ctx.out.int(total as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = ctx.get_str(&args[1])?.map_or(0, |v| v.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut start = arg_i64(&args[2])?;
    let mut end = arg_i64(&args[3])?;
    let v = ctx.get_str(&args[1])?.unwrap_or_default();
    let len = v.len() as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        ctx.out.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0).min(len - 1);
    if start > end {
        ctx.out.bulk(b"");
    } else {
        ctx.out.bulk(&v[start as usize..=end as usize]);
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let key = &args[1];
    let offset = arg_i64(&args[2])?;
    if offset < 0 {
        return Err(CmdError::err("offset is out of range"));
    }
    let val = &args[3];
    let old = ctx.get_str(key)?;
    let offset = offset as usize;
    if val.is_empty() {
        ctx.out.int(old.map_or(0, |v| v.len()) as i64);
        return Ok(());
    }
    check_size(ctx, offset + val.len())?;
    let mut v = old.map(|o| o.to_vec()).unwrap_or_default();
    if v.len() < offset + val.len() {
        v.resize(offset + val.len(), 0);
    }
    v[offset..offset + val.len()].copy_from_slice(val);
    let n = v.len();
    store_edited_string(ctx, key, v)?;
    let db = ctx.db();
    let t = ctx.w()?;
    t.propagate(db, &[b"SETRANGE", key, &args[2], val]);
    t.notify(STRING, "setrange", db, key);
    ctx.out.int(n as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn set_options_parse() {
        let o = parse_set_options(&b(&["NX", "PX", "100", "GET"]), 1000).unwrap();
        assert!(o.nx && o.get);
        assert_eq!(o.expire, ExpireArg::At(1100));
        assert_eq!(
            parse_set_options(&b(&["NX", "XX"]), 0).unwrap_err(),
            CmdError::Syntax
        );
        assert_eq!(
            parse_set_options(&b(&["EX", "1", "KEEPTTL"]), 0).unwrap_err(),
            CmdError::Syntax
        );
        assert!(
            parse_set_options(&b(&["EX", "0"]), 0)
                .unwrap_err()
                .to_string()
                .contains("invalid expire time in 'set'")
        );
    }

    #[test]
    fn decimal_sums_like_long_double() {
        assert_eq!(decimal_sum_text(b"0.1", b"0.2").unwrap(), "0.3");
        assert_eq!(decimal_sum_text(b"5.0e3", b"0").unwrap(), "5000");
        assert_eq!(decimal_sum_text(b"3", b"-3").unwrap(), "0");
        assert_eq!(decimal_sum_text(b"0", b"-2.5").unwrap(), "-2.5");
        assert_eq!(decimal_sum_text(b"10.5", b"0.1").unwrap(), "10.6");
        assert!(decimal_sum_text(b"1e300", b"1").is_none());
        assert!(decimal_sum_text(b"0e-2147483648", b"1").is_none());
        assert_eq!(decimal_sum_text(b"1.5e1", b"0").unwrap(), "15");
    }

    #[test]
    fn float_format() {
        assert_eq!(human_float(10.5 + 0.1), "10.6");
        assert_eq!(human_float(5000.0), "5000");
        assert_eq!(human_float(-0.0), "0");
    }
}

/// LCS's options.
#[derive(Default)]
struct LcsOptions {
    len: bool,
    idx: bool,
    with_match_len: bool,
    min_match_len: u64,
}

fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let not_strings = || CmdError::err("The specified keys must contain string values");
    let a = ctx.get_str(&args[1]).map_err(|_| not_strings())?;
    let b = ctx.get_str(&args[2]).map_err(|_| not_strings())?;
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let mut o = LcsOptions::default();
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        if is(opt, "idx") {
            o.idx = true;
        } else if is(opt, "len") {
            o.len = true;
        } else if is(opt, "withmatchlen") {
            o.with_match_len = true;
        } else if is(opt, "minmatchlen") && j + 1 < args.len() {
            o.min_match_len = arg_i64(&args[j + 1])?.max(0) as u64;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if o.len && o.idx {
        return Err(CmdError::err(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    // The table is (|a|+1)(|b|+1) counters: bounded as stock bounds it.
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1);
    let max = ctx
        .srv
        .config
        .live
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed) as u64;
    if cells.saturating_mul(4) > max {
        return Err(CmdError::err(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    lcs_reply(ctx, &a, &b, &o);
    Ok(())
}

/// Redis's dynamic-programming LCS and its walk back through the table, whose ranges
/// (and their quirks) IDX reports exactly as stock does.
fn lcs_reply(ctx: &mut Ctx<'_>, a: &[u8], b: &[u8], o: &LcsOptions) {
    let (alen, blen) = (a.len(), b.len());
    let w = blen + 1;
    let mut t = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let total = t[alen * w + blen] as usize;
    if o.len && !o.idx {
        ctx.out.int(total as i64);
        return;
    }
    let mut result = vec![0u8; total];
    let mut ranges: Vec<[usize; 5]> = Vec::new();
    let (mut astart, mut aend, mut bstart, mut bend) = (alen, 0, 0, 0);
    let (mut i, mut j, mut idx) = (alen, blen, total);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if astart == alen {
                (astart, aend, bstart, bend) = (i - 1, i - 1, j - 1, j - 1);
            } else if astart == i && bstart == j {
                astart -= 1;
                bstart -= 1;
            } else {
                emit = true;
            }
            if astart == 0 || bstart == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if astart != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = aend.wrapping_sub(astart).wrapping_add(1);
            if o.min_match_len == 0 || match_len as u64 >= o.min_match_len {
                ranges.push([astart, aend, bstart, bend, match_len]);
            }
            astart = alen;
        }
    }
    if !o.idx {
        ctx.out.bulk(&result);
        return;
    }
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(ranges.len());
    for r in &ranges {
        ctx.out.array(2 + usize::from(o.with_match_len));
        ctx.out.array(2);
        ctx.out.int(r[0] as i64);
        ctx.out.int(r[1] as i64);
        ctx.out.array(2);
        ctx.out.int(r[2] as i64);
        ctx.out.int(r[3] as i64);
        if o.with_match_len {
            ctx.out.int(r[4] as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
}
