//! Stream commands: entries (XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID), reads
//! (XREAD, XREADGROUP, blocking through the shared blocking machinery), consumer groups
//! (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) and XINFO, with Redis 7.0's replies,
//! errors and replication: XADD and XTRIM propagate with the generated ID and the exact
//! trim point, reads by a group propagate as XCLAIM / XGROUP SETID / XGROUP
//! CREATECONSUMER, so a replica's groups follow the leader's.

use super::table::{Command, SubCommand, cmd, container, flags::*, key, key_range, sub};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::protocol::ReplyBuf;
use crate::store::notify::STREAM;
use crate::store::stream::{
    ConsumerGroup, ENTRIES_READ_UNKNOWN, EntryFields, Fields, MAX_NODE_BYTES, NodeLimits, StreamId,
    StreamValue, Trim,
};
use crate::store::{StrBytes, Value, WriteTxn};
use bytes::Bytes;

/// XREAD/XREADGROUP keys: after STREAMS, half of what remains.
const READ_KEYS_RO: &[super::table::KeySpec] =
    &[key_range(key::RO | key::ACCESS, 0, -1, 1, 2).after_keyword("STREAMS", 1)];
const READ_KEYS_GROUP: &[super::table::KeySpec] =
    &[key_range(key::RO | key::ACCESS, 0, -1, 1, 2).after_keyword("STREAMS", 4)];

/// Stream family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    let k1_rw = const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0)] };
    let k1_ro = const { &[key_range(key::RO, 1, 0, 1, 0)] };
    let k1_roa = const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] };
    vec![
        cmd("xadd", -5, WRITE | DENYOOM | FAST, const { &[key_range(key::RW | key::UPDATE, 1, 0, 1, 0).notes("UPDATE instead of INSERT because of the optional trimming feature")] }, "stream", "5.0.0", "Appends a new entry to a stream", xadd)
            .tips("nondeterministic_output"),
        cmd("xrange", -4, READONLY, k1_roa, "stream", "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval", xrange),
        cmd("xrevrange", -4, READONLY, k1_roa, "stream", "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE", xrevrange),
        cmd("xlen", 2, READONLY | FAST, k1_ro, "stream", "5.0.0", "Return the number of entries in a stream", xlen),
        cmd("xdel", -3, WRITE | FAST, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, "stream", "5.0.0", "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.", xdel),
        cmd("xtrim", -4, WRITE, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, "stream", "5.0.0", "Trims the stream to (approximately if '~' is passed) a certain size", xtrim)
            .tips("nondeterministic_output"),
        cmd("xsetid", -3, WRITE | DENYOOM | FAST, k1_rw, "stream", "5.0.0", "An internal command for replicating stream values", xsetid),
        cmd("xread", -4, READONLY | BLOCKING, READ_KEYS_RO, "stream", "5.0.0", "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.", xread),
        cmd("xreadgroup", -7, WRITE | BLOCKING, READ_KEYS_GROUP, "stream", "5.0.0", "Return new entries from a stream using a consumer group, or access the history of the pending entries for a given consumer. Can block.", xreadgroup),
        cmd("xack", -4, WRITE | FAST, k1_rw, "stream", "5.0.0", "Marks a pending message as correctly processed, effectively removing it from the pending entries list of the consumer group. Return value of the command is the number of messages successfully acknowledged, that is, the IDs we were actually able to resolve in the PEL.", xack),
        cmd("xpending", -3, READONLY, k1_roa, "stream", "5.0.0", "Return information and entries from a stream consumer group pending entries list, that are messages fetched but never acknowledged.", xpending)
            .tips("nondeterministic_output"),
        cmd("xclaim", -6, WRITE | FAST, k1_rw, "stream", "5.0.0", "Changes (or acquires) ownership of a message in a consumer group, as if the message was delivered to the specified consumer.", xclaim)
            .tips("nondeterministic_output"),
        cmd("xautoclaim", -6, WRITE | FAST, const { &[key_range(key::RW | key::DELETE, 1, 0, 1, 0)] }, "stream", "6.2.0", "Changes (or acquires) ownership of messages in a consumer group, as if the messages were delivered to the specified consumer.", xautoclaim)
            .tips("nondeterministic_output"),
        container("xgroup", 0, "stream", "5.0.0", "A container for consumer groups commands", XGROUP_SUBCOMMANDS),
        container("xinfo", 0, "stream", "5.0.0", "A container for stream introspection commands", XINFO_SUBCOMMANDS),
    ]
}

#[rustfmt::skip]
static XGROUP_SUBCOMMANDS: &[SubCommand] = &[
    sub("create", -5, "Create a consumer group.").with_flags(WRITE | DENYOOM).with_keys(const { &[key_range(key::RW | key::INSERT, 2, 0, 1, 0)] }).run(xgroup),
    sub("createconsumer", 5, "Create a consumer in a consumer group.").with_flags(WRITE | DENYOOM).with_keys(const { &[key_range(key::RW | key::INSERT, 2, 0, 1, 0)] }).run(xgroup),
    sub("delconsumer", 5, "Delete a consumer from a consumer group.").with_flags(WRITE).with_keys(const { &[key_range(key::RW | key::DELETE, 2, 0, 1, 0)] }).run(xgroup),
    sub("destroy", 4, "Destroy a consumer group.").with_flags(WRITE).with_keys(const { &[key_range(key::RW | key::DELETE, 2, 0, 1, 0)] }).run(xgroup),
    sub("help", 2, "Show helpful text about the different subcommands").with_flags(LOADING | STALE).run(xgroup_help),
    sub("setid", -5, "Set a consumer group to an arbitrary last delivered ID value.").with_flags(WRITE).with_keys(const { &[key_range(key::RW | key::UPDATE, 2, 0, 1, 0)] }).run(xgroup),
];

#[rustfmt::skip]
static XINFO_SUBCOMMANDS: &[SubCommand] = &[
    sub("consumers", 4, "List the consumers in a consumer group").with_flags(READONLY).with_tips("nondeterministic_output").with_keys(const { &[key_range(key::RO | key::ACCESS, 2, 0, 1, 0)] }).run(xinfo),
    sub("groups", 3, "List the consumer groups of a stream").with_flags(READONLY).with_keys(const { &[key_range(key::RO | key::ACCESS, 2, 0, 1, 0)] }).run(xinfo),
    sub("help", 2, "Show helpful text about the different subcommands").with_flags(LOADING | STALE).run(xinfo_help),
    sub("stream", -3, "Get information about a stream").with_flags(READONLY).with_keys(const { &[key_range(key::RO | key::ACCESS, 2, 0, 1, 0)] }).run(xinfo),
];

super::collection::typed_access!(StreamValue);

/// Entries one blocked XREAD returns when it gave no COUNT (Redis's default).
const BLOCKED_DEFAULT_COUNT: usize = 1000;

fn invalid_id() -> CmdError {
    CmdError::err("Invalid stream ID specified as stream command argument")
}

/// `strtoull`-style number as Redis's `string2ull` accepts it (digits, optionally after
/// spaces and `+`), never a negative.
fn parse_u64(s: &[u8]) -> Option<u64> {
    let t = s.trim_ascii_start();
    let t = t.strip_prefix(b"+").unwrap_or(t);
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(t).ok()?.parse().ok()
}

/// Parses a stream ID: `-` and `+` unless `strict`, `ms` (sequence `missing_seq`) or
/// `ms-seq`, and `ms-*` when `star` (then the second value is false: no sequence given).
fn parse_id_ext(
    a: &[u8],
    missing_seq: u64,
    strict: bool,
    star: bool,
) -> Result<(StreamId, bool), CmdError> {
    if a.len() > 127 {
        return Err(invalid_id());
    }
    match a {
        b"-" if !strict => return Ok((StreamId::MIN, true)),
        b"+" if !strict => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match a.iter().position(|&c| c == b'-') {
        Some(i) => (&a[..i], Some(&a[i + 1..])),
        None => (a, None),
    };
    let ms = parse_u64(ms).ok_or_else(invalid_id)?;
    match seq {
        None => Ok((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if star => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((
            StreamId::new(ms, parse_u64(s).ok_or_else(invalid_id)?),
            true,
        )),
    }
}

/// A strict ID (no `-`/`+`).
fn parse_strict(a: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_ext(a, 0, true, false).map(|(id, _)| id)
}

/// A range bound: `(id` for exclusive, `-`, `+`, or an ID with `missing_seq`.
fn parse_bound(a: &[u8], missing_seq: u64, start: bool) -> Result<StreamId, CmdError> {
    if a.len() > 1 && a[0] == b'(' {
        let id = parse_id_ext(&a[1..], missing_seq, true, false)?.0;
        let moved = if start { id.next() } else { id.prev() };
        return moved.ok_or_else(|| {
            CmdError::err(if start {
                "invalid start ID for the interval"
            } else {
                "invalid end ID for the interval"
            })
        });
    }
    parse_id_ext(a, missing_seq, false, false).map(|(id, _)| id)
}

fn id_bytes(id: StreamId) -> Bytes {
    Bytes::copy_from_slice(id.text().as_bytes())
}

fn reply_id(out: &mut ReplyBuf, id: StreamId) {
    out.bulk(id.text().as_bytes());
}

fn reply_entry(out: &mut ReplyBuf, id: StreamId, fields: EntryFields<'_>) {
    out.array(2);
    reply_id(out, id);
    out.array(fields.len() * 2);
    for (f, v) in fields.iter() {
        out.bulk(f);
        out.bulk(v);
    }
}

/// Runs `f` with the write section's effects wrapped in one MULTI/EXEC (unless already
/// inside a transaction), as Redis wraps a command's several propagated effects.
fn in_one_transaction<R>(t: &mut WriteTxn<'_>, f: impl FnOnce(&mut WriteTxn<'_>) -> R) -> R {
    let own = !t.log().in_transaction();
    if own {
        t.log().begin();
    }
    let r = f(t);
    if own {
        t.log().commit();
    }
    r
}

fn propagate_all(t: &mut WriteTxn<'_>, db: usize, effects: &[Vec<Bytes>]) {
    for e in effects {
        let refs: Vec<&[u8]> = e.iter().map(|a| &a[..]).collect();
        t.propagate(db, &refs);
    }
}

// ---------------------------------------------------------------- XADD / XTRIM

/// Parsed XADD/XTRIM options.
#[derive(Default)]
struct TrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: u64,
    /// Index of the MAXLEN/MINID value (the `~`/`=` is just before it when given).
    value_idx: usize,
    /// Index of the `~` marker, when given.
    approx_idx: Option<usize>,
    nomkstream: bool,
    /// XADD: the ID argument's index and the ID (None for `*`), and whether a sequence
    /// was given.
    id_idx: usize,
    id: Option<(StreamId, bool)>,
}

fn parse_trim_args(ctx: &Ctx<'_>, args: &[Bytes], xadd: bool) -> Result<TrimArgs, CmdError> {
    let mut o = TrimArgs::default();
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let a = &args[i];
        if xadd && &a[..] == b"*" {
            break;
        } else if (is(a, "maxlen") || is(a, "minid")) && more > 0 {
            if o.trim.is_some() {
                return Err(CmdError::err(
                    "syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            o.approx = false;
            o.approx_idx = None;
            if more >= 2 && (&args[i + 1][..] == b"~" || &args[i + 1][..] == b"=") {
                if &args[i + 1][..] == b"~" {
                    o.approx = true;
                    o.approx_idx = Some(i + 1);
                }
                i += 1;
            }
            let v = &args[i + 1];
            o.trim = Some(if is(a, "maxlen") {
                let n = arg_i64(v)?;
                if n < 0 {
                    return Err(CmdError::err("The MAXLEN argument must be >= 0."));
                }
                Trim::MaxLen(n as u64)
            } else {
                Trim::MinId(parse_strict(v)?)
            });
            i += 1;
            o.value_idx = i;
        } else if is(a, "limit") && more > 0 {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return Err(CmdError::err("The LIMIT argument must be >= 0."));
            }
            o.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && is(a, "nomkstream") {
            o.nomkstream = true;
        } else if xadd {
            o.id = Some(parse_id_ext(a, 0, true, true)?);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    o.id_idx = i;
    if o.limit != 0 && o.trim.is_none() {
        return Err(CmdError::err(
            "syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && o.trim.is_none() {
        return Err(CmdError::err(
            "syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if ctx.client.is_leader_link() {
        // The leader rewrote the trim point: replay it exactly.
        o.limit = 0;
    } else if limit_given {
        if !o.approx {
            return Err(CmdError::err(
                "syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if o.approx {
        let per_node = crate::store::encoding::limit(&ctx.limits().stream_node_max_entries) as u64;
        o.limit = per_node.saturating_mul(100).clamp(1, 1_000_000);
        if per_node == 0 {
            o.limit = 10_000;
        }
    } else {
        o.limit = 0;
    }
    Ok(o)
}

/// The trim arguments as replicas must replay them: `~` becomes `=` and the value the
/// exact point reached (the length, or the first remaining ID, deleted or not).
/// Where an approximate (`~`) trim stopped: propagated as an exact trim to that point,
/// as Redis rewrites it, so followers remove exactly what the leader removed.
enum TrimPoint {
    Len(u64),
    Id(StreamId),
}

impl TrimPoint {
    /// The point reached, or None when the trim was exact (propagated as given).
    fn of(o: &TrimArgs, s: &StreamValue) -> Option<TrimPoint> {
        o.approx_idx?;
        Some(match o.trim {
            Some(Trim::MaxLen(_)) => TrimPoint::Len(s.length),
            _ => TrimPoint::Id(s.first_entry_any().unwrap_or(StreamId::MAX)),
        })
    }
}

/// Propagates XADD / XTRIM as given except for the generated ID (`id`, at `o.id_idx`)
/// and an approximate trim made exact; borrowed slices, so nothing is copied.
fn propagate_rewritten(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    o: &TrimArgs,
    id: Option<StreamId>,
    point: Option<TrimPoint>,
) -> CmdResult {
    let id_text = id.map(StreamId::text);
    let point_text = point.map(|p| match p {
        TrimPoint::Len(n) => {
            let mut b = itoa::Buffer::new();
            b.format(n).as_bytes().to_vec()
        }
        TrimPoint::Id(id) => id.text().as_bytes().to_vec(),
    });
    let mut refs: smallvec::SmallVec<[&[u8]; 16]> = args.iter().map(|a| &a[..]).collect();
    if let Some(t) = &id_text {
        refs[o.id_idx] = t.as_bytes();
    }
    if let (Some(t), Some(approx_idx)) = (&point_text, o.approx_idx) {
        refs[approx_idx] = b"=";
        refs[o.value_idx] = t;
    }
    let db = ctx.db();
    ctx.w()?.propagate(db, &refs);
    Ok(())
}

fn xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let o = parse_trim_args(ctx, args, true)?;
    let field_pos = o.id_idx + 1;
    let nfields = args.len().saturating_sub(field_pos);
    if nfields < 2 || nfields % 2 == 1 {
        return Err(CmdError::Arity("xadd".into()));
    }
    if let Some((id, true)) = o.id
        && id.is_zero()
    {
        return Err(CmdError::err(
            "The ID specified in XADD must be greater than 0-0",
        ));
    }
    let limits = NodeLimits::of(ctx.limits());
    // The command's clock (one reading per pipelined batch, as Redis 7.2's command time
    // snapshot): IDs stay increasing through `last_id` whatever it reads.
    let now = ctx.now;
    let fields: Fields = args[field_pos..]
        .chunks(2)
        .map(|p| (StrBytes::from_slice(&p[0]), StrBytes::from_slice(&p[1])))
        .collect();
    let total: usize = fields.iter().map(|(f, v)| f.len() + v.len()).sum();
    let mut point = None;
    let done = write(ctx, &args[1], !o.nomkstream, |s| {
        if s.last_id == StreamId::MAX {
            return Err(CmdError::err(
                "The stream has exhausted the last possible ID, unable to add more items",
            ));
        }
        let id = match o.id {
            Some((id, true)) => id,
            Some((id, false)) => {
                if s.last_id.ms == id.ms {
                    if s.last_id.seq == u64::MAX {
                        return Err(too_small());
                    }
                    StreamId::new(id.ms, s.last_id.seq + 1)
                } else {
                    id
                }
            }
            None => {
                if now > s.last_id.ms {
                    StreamId::new(now, 0)
                } else {
                    s.last_id.next().ok_or_else(too_small)?
                }
            }
        };
        if id <= s.last_id {
            return Err(too_small());
        }
        if total > MAX_NODE_BYTES {
            return Err(CmdError::err("Elements are too large to be stored"));
        }
        s.append(id, fields, limits);
        let trimmed = match o.trim {
            Some(t) => s.trim(t, o.approx, o.limit),
            None => 0,
        };
        point = TrimPoint::of(&o, s);
        Ok((id, trimmed))
    })?;
    let Some((id, trimmed)) = done else {
        ctx.out.null();
        return Ok(());
    };
    reply_id(ctx.out, id);
    ctx.notify(STREAM, "xadd", &args[1])?;
    if trimmed > 0 {
        ctx.notify(STREAM, "xtrim", &args[1])?;
    }
    propagate_rewritten(ctx, args, &o, Some(id), point)
}

fn too_small() -> CmdError {
    CmdError::err("The ID specified in XADD is equal or smaller than the target stream top item")
}

fn xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let o = parse_trim_args(ctx, args, false)?;
    let Some(trim) = o.trim else {
        return Err(CmdError::Syntax);
    };
    let mut point = None;
    let deleted = write(ctx, &args[1], false, |s| {
        let n = s.trim(trim, o.approx, o.limit);
        point = TrimPoint::of(&o, s);
        Ok(n)
    })?
    .unwrap_or(0);
    if deleted > 0 {
        ctx.notify(STREAM, "xtrim", &args[1])?;
        propagate_rewritten(ctx, args, &o, None, point)?;
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    match ctx.w()?.get(db, &args[1]) {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(e) if !matches!(e.value, Value::Stream(_)) => return Err(CmdError::WrongType),
        Some(_) => {}
    }
    let ids = args[2..]
        .iter()
        .map(|a| parse_strict(a))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = write(ctx, &args[1], false, |s| {
        Ok(ids.iter().filter(|id| s.delete(**id)).count())
    })?
    .unwrap_or(0);
    if deleted > 0 {
        ctx.notify(STREAM, "xdel", &args[1])?;
        ctx.propagate_self(args)?;
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let id = parse_strict(&args[2])?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(&args[i], "entriesadded") && more > 0 {
            let n = arg_i64(&args[i + 1])?;
            if n < 0 {
                return Err(CmdError::err("entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if is(&args[i], "maxdeletedid") && more > 0 {
            max_deleted = parse_strict(&args[i + 1])?;
            if id < max_deleted {
                return Err(CmdError::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    write(ctx, &args[1], false, |s| {
        if s.length > 0 {
            if id < s.edge(true).unwrap_or_default() {
                return Err(CmdError::err(
                    "The ID specified in XSETID is smaller than the target stream top item",
                ));
            }
            if entries_added.is_some_and(|n| s.length > n) {
                return Err(CmdError::err(
                    "The entries_added specified in XSETID is smaller than the target stream length",
                ));
            }
        }
        s.last_id = id;
        if let Some(n) = entries_added {
            s.entries_added = n;
        }
        if !max_deleted.is_zero() {
            s.max_deleted_id = max_deleted;
        }
        Ok(())
    })?
    .ok_or(CmdError::NoSuchKey)?;
    ctx.notify(STREAM, "xsetid", &args[1])?;
    ctx.propagate_self(args)?;
    ctx.out.ok();
    Ok(())
}

// ---------------------------------------------------------------- XRANGE / XLEN

fn xrange_generic(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    let start = parse_bound(start_arg, 0, true)?;
    let end = parse_bound(end_arg, u64::MAX, false)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(&args[j], "count") && j + 1 < args.len() {
            count = arg_i64(&args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let out = &mut *ctx.out;
    let mut buf = ReplyBuf {
        resp3: out.resp3,
        ..Default::default()
    };
    read(ctx, &args[1], |s| match s {
        None => buf.array(0),
        Some(_) if count == 0 => buf.null_array(),
        Some(s) => {
            let limit = if count < 0 {
                usize::MAX
            } else {
                count as usize
            };
            let items: Vec<_> = s.range(start, end, rev).take(limit).collect();
            buf.array(items.len());
            for (id, f) in items {
                reply_entry(&mut buf, id, f);
            }
        }
    })?;
    ctx.out.raw(&buf.buf);
    Ok(())
}

fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    xrange_generic(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    xrange_generic(ctx, args, true)
}

fn xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let n = read(ctx, &args[1], |s| s.map_or(0, |s| s.length))?;
    ctx.out.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------- XREAD / XREADGROUP

/// A group read: which group and consumer, and whether entries skip the PEL.
#[derive(Debug, Clone)]
pub struct GroupRead {
    /// Group name.
    pub group: Bytes,
    /// Consumer name.
    pub consumer: Bytes,
    /// NOACK.
    pub noack: bool,
}

/// What a blocked XREAD/XREADGROUP waits for.
#[derive(Debug, Clone)]
pub struct BlockedRead {
    /// Per key (in the waiter's key order): entries after this ID are wanted.
    pub ids: Vec<StreamId>,
    /// Entries to return at most.
    pub count: usize,
    /// The group, for XREADGROUP.
    pub group: Option<GroupRead>,
}

/// The parsed XREAD/XREADGROUP request.
struct ReadArgs {
    block: Option<Option<std::time::Duration>>,
    count: usize,
    group: Option<GroupRead>,
    keys: Vec<Bytes>,
    /// Per key: the ID argument as given.
    id_args: Vec<Bytes>,
}

fn parse_read_args(ctx: &Ctx<'_>, args: &[Bytes], group_cmd: bool) -> Result<ReadArgs, CmdError> {
    let name = if group_cmd { "XREADGROUP" } else { "XREAD" };
    let mut block = None;
    let mut count = 0usize;
    let mut group: Option<GroupRead> = None;
    let mut noack = false;
    let mut streams_at = 0;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let a = &args[i];
        if is(a, "block") && more > 0 {
            if ctx.client.in_script {
                return Err(CmdError::err(format!(
                    "{} command is not allowed with BLOCK option from scripts",
                    args[0].to_ascii_lowercase().escape_ascii()
                )));
            }
            i += 1;
            let ms = crate::protocol::parse_i64(&args[i])
                .ok_or_else(|| CmdError::err("timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(CmdError::err("timeout is negative"));
            }
            block = Some((ms > 0).then(|| std::time::Duration::from_millis(ms as u64)));
        } else if is(a, "count") && more > 0 {
            i += 1;
            count = arg_i64(&args[i])?.max(0) as usize;
        } else if is(a, "streams") && more > 0 {
            streams_at = i + 1;
            if !(args.len() - streams_at).is_multiple_of(2) {
                return Err(CmdError::err(
                    "Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            break;
        } else if is(a, "group") && more >= 2 {
            if !group_cmd {
                return Err(CmdError::err(
                    "The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            group = Some(GroupRead {
                group: args[i + 1].clone(),
                consumer: args[i + 2].clone(),
                noack: false,
            });
            i += 2;
        } else if is(a, "noack") {
            if !group_cmd {
                return Err(CmdError::err(
                    "The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if streams_at == 0 {
        return Err(CmdError::Syntax);
    }
    if group_cmd && group.is_none() {
        return Err(CmdError::err(format!("Missing GROUP option for {name}")));
    }
    if let Some(g) = group.as_mut() {
        g.noack = noack;
    }
    let n = (args.len() - streams_at) / 2;
    Ok(ReadArgs {
        block,
        count,
        group,
        keys: args[streams_at..streams_at + n].to_vec(),
        id_args: args[streams_at + n..].to_vec(),
    })
}

fn xread(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let r = parse_read_args(ctx, args, false)?;
    if r.block.is_some() {
        // The check and the registration happen in one write section, so an XADD
        // cannot land in between.
        ctx.w_taken();
    }
    let mut ids = Vec::with_capacity(r.keys.len());
    for (k, a) in r.keys.iter().zip(&r.id_args) {
        let last = read(ctx, k, |s| s.map(|s| s.last_id))?;
        ids.push(match &a[..] {
            b"$" => last.unwrap_or_default(),
            b">" => {
                return Err(CmdError::err(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            _ => parse_strict(a)?,
        });
    }
    let mut served = 0usize;
    let mut body = ReplyBuf {
        resp3: ctx.out.resp3,
        ..Default::default()
    };
    for (k, gt) in r.keys.iter().zip(&ids) {
        let count = r.count;
        read(ctx, k, |s| {
            let Some(s) = s else { return };
            if s.length == 0 || s.edge(true).is_none_or(|max| max <= *gt) {
                return;
            }
            served += 1;
            if !body.resp3 {
                body.array(2);
            }
            body.bulk(k);
            reply_range_after(&mut body, s, *gt, count);
        })?;
    }
    if served > 0 {
        ctx.out.map_or_array(served);
        ctx.out.raw(&body.buf);
        return Ok(());
    }
    match r.block {
        Some(timeout) if !ctx.client.tx.in_exec => {
            let op = BlockedRead {
                ids,
                count: if r.count == 0 {
                    BLOCKED_DEFAULT_COUNT
                } else {
                    r.count
                },
                group: None,
            };
            super::blocking::block_on_streams(ctx, r.keys, op, timeout)
        }
        _ => {
            ctx.out.null_array();
            Ok(())
        }
    }
}

/// Writes the entries after `gt` (up to `count`, 0 = all) as an array.
fn reply_range_after(out: &mut ReplyBuf, s: &StreamValue, gt: StreamId, count: usize) {
    let Some(start) = gt.next() else {
        out.array(0);
        return;
    };
    let limit = if count == 0 { usize::MAX } else { count };
    let items: Vec<_> = s.range(start, StreamId::MAX, false).take(limit).collect();
    out.array(items.len());
    for (id, f) in items {
        reply_entry(out, id, f);
    }
}

fn nogroup_read(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn xreadgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let r = parse_read_args(ctx, args, true)?;
    let Some(g) = r.group.clone() else {
        return Err(CmdError::Syntax);
    };
    let db = ctx.db();
    // Validate every key, group and ID before serving any.
    let mut ids = Vec::with_capacity(r.keys.len());
    for (k, a) in r.keys.iter().zip(&r.id_args) {
        let t = ctx.w()?;
        let has_group = match t.get(db, k) {
            Some(e) => match &e.value {
                Value::Stream(s) => s.groups.contains_key(&g.group[..]),
                _ => return Err(CmdError::WrongType),
            },
            None => false,
        };
        if !has_group {
            return Err(nogroup_read(k, &g.group));
        }
        ids.push(match &a[..] {
            b"$" => {
                return Err(CmdError::err(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            b">" => None,
            _ => Some(parse_strict(a)?),
        });
    }
    let mut served = 0usize;
    let mut body = ReplyBuf {
        resp3: ctx.out.resp3,
        ..Default::default()
    };
    let now = crate::base::now_ms();
    let t = ctx
        .txn
        .as_mut()
        .ok_or_else(|| CmdError::err("internal: no write section"))?;
    in_one_transaction(t, |t| {
        for (k, id) in r.keys.iter().zip(&ids) {
            let ready = match id {
                Some(_) => true,
                None => group_has_new(t, db, k, &g.group),
            };
            if !ready {
                continue;
            }
            served += 1;
            if !body.resp3 {
                body.array(2);
            }
            body.bulk(k);
            group_read(t, db, k, &g, *id, r.count, now, &mut body);
        }
    });
    if served > 0 {
        ctx.out.map_or_array(served);
        ctx.out.raw(&body.buf);
        return Ok(());
    }
    match r.block {
        Some(timeout) if !ctx.client.tx.in_exec => {
            let op = BlockedRead {
                ids: vec![StreamId::MAX; r.keys.len()],
                count: if r.count == 0 {
                    BLOCKED_DEFAULT_COUNT
                } else {
                    r.count
                },
                group: Some(g),
            };
            super::blocking::block_on_streams(ctx, r.keys, op, timeout)
        }
        _ => {
            ctx.out.null_array();
            Ok(())
        }
    }
}

/// True when the group has entries it was not yet given.
fn group_has_new(t: &mut WriteTxn<'_>, db: usize, key: &[u8], group: &[u8]) -> bool {
    t.get(db, key).is_some_and(|e| match &e.value {
        Value::Stream(s) => s
            .groups
            .get(group)
            .is_some_and(|g| s.length > 0 && s.edge(true).is_some_and(|max| max > g.last_id)),
        _ => false,
    })
}

/// The XCLAIM a replica replays to get a pending entry exactly as the leader has it.
fn xclaim_effect(key: &[u8], group: &[u8], id: StreamId, g: &ConsumerGroup) -> Vec<Bytes> {
    let p = &g.pel[&id];
    vec![
        Bytes::from_static(b"XCLAIM"),
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        Bytes::copy_from_slice(&p.consumer),
        Bytes::from_static(b"0"),
        id_bytes(id),
        Bytes::from_static(b"TIME"),
        Bytes::from(p.delivery_time.to_string()),
        Bytes::from_static(b"RETRYCOUNT"),
        Bytes::from(p.delivery_count.to_string()),
        Bytes::from_static(b"FORCE"),
        Bytes::from_static(b"JUSTID"),
        Bytes::from_static(b"LASTID"),
        id_bytes(g.last_id),
    ]
}

fn setid_effect(key: &[u8], group: &[u8], g: &ConsumerGroup) -> Vec<Bytes> {
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        Bytes::copy_from_slice(key),
        Bytes::copy_from_slice(group),
        id_bytes(g.last_id),
        Bytes::from_static(b"ENTRIESREAD"),
        Bytes::from(g.entries_read.to_string()),
    ]
}

/// Serves one key of an XREADGROUP (immediately or for a blocked client): new entries
/// (`id` None) advance the group and enter the PEL; an ID reads the consumer's own
/// history. Writes the entries array to `out` and propagates the effects.
#[allow(clippy::too_many_arguments)]
pub(crate) fn group_read(
    t: &mut WriteTxn<'_>,
    db: usize,
    key: &[u8],
    g: &GroupRead,
    id: Option<StreamId>,
    count: usize,
    now: u64,
    out: &mut ReplyBuf,
) {
    let mut effects: Vec<Vec<Bytes>> = Vec::new();
    let created = {
        let Some(mut e) = t.get_mut(db, key) else {
            out.array(0);
            return;
        };
        let Value::Stream(s) = &mut e.value else {
            out.array(0);
            return;
        };
        let s: &mut StreamValue = s;
        let Some(mut group) = s.groups.remove(&g.group[..]) else {
            out.array(0);
            return;
        };
        let created = !group.consumers.contains_key(&g.consumer[..]);
        let consumer = group
            .consumers
            .entry(StrBytes::from_slice(&g.consumer))
            .or_default();
        consumer.seen_time = now;
        let limit = if count == 0 { usize::MAX } else { count };
        match id {
            Some(after) => {
                // History: the consumer's own pending entries after `after`.
                let pending: Vec<StreamId> = match after.next() {
                    Some(from) => consumer.pel.range(from..).take(limit).copied().collect(),
                    None => Vec::new(),
                };
                out.array(pending.len());
                for pid in pending {
                    match s.get(pid) {
                        Some(f) => {
                            reply_entry(out, pid, f);
                            if let Some(p) = group.pel.get_mut(&pid) {
                                p.delivery_time = now;
                                p.delivery_count += 1;
                            }
                        }
                        None => {
                            out.array(2);
                            reply_id(out, pid);
                            out.null_array();
                        }
                    }
                }
            }
            None => {
                let start = group.last_id.next().unwrap_or(StreamId::MAX);
                let items: Vec<(StreamId, EntryFields<'_>)> =
                    s.range(start, StreamId::MAX, false).take(limit).collect();
                out.array(items.len());
                let mut advanced = false;
                for (eid, f) in &items {
                    if *eid > group.last_id {
                        s.advance_group(&mut group, *eid);
                        advanced = true;
                    }
                    reply_entry(out, *eid, *f);
                    if !g.noack {
                        group.assign(*eid, &g.consumer, now, 1);
                        effects.push(xclaim_effect(key, &g.group, *eid, &group));
                    }
                }
                if g.noack && advanced {
                    effects.push(setid_effect(key, &g.group, &group));
                }
            }
        }
        s.groups.insert(StrBytes::from_slice(&g.group), group);
        created
    };
    // A consumer created by a NOACK read is announced explicitly (otherwise the
    // XCLAIMs of what it read create it on replicas).
    if created {
        t.notify(STREAM, "xgroup-createconsumer", db, key);
        if g.noack {
            effects.insert(
                0,
                vec![
                    Bytes::from_static(b"XGROUP"),
                    Bytes::from_static(b"CREATECONSUMER"),
                    Bytes::copy_from_slice(key),
                    g.group.clone(),
                    g.consumer.clone(),
                ],
            );
        }
    }
    propagate_all(t, db, &effects);
}

/// True when a blocked read of `key` can be served now (or must be failed: the key or
/// group it waited on is gone).
pub(crate) fn blocked_read_ready(
    t: &mut WriteTxn<'_>,
    db: usize,
    key: &[u8],
    gt: StreamId,
    op: &BlockedRead,
) -> bool {
    match t.get(db, key) {
        None => op.group.is_some(),
        Some(e) => match &e.value {
            Value::Stream(s) => {
                // Entries after the wanted ID must exist: a stream whose newest entries
                // were deleted has nothing to give (Redis would answer an empty read).
                let newest = s.edge(true);
                match &op.group {
                    None => newest.is_some_and(|n| n > gt),
                    Some(g) => match s.groups.get(&g.group[..]) {
                        None => true,
                        Some(cg) => newest.is_some_and(|n| n > cg.last_id),
                    },
                }
            }
            _ => op.group.is_some(),
        },
    }
}

/// Serves a blocked read of `key` (ready per [`blocked_read_ready`]): the one-key reply,
/// or the error when its key or group went away.
pub(crate) fn serve_blocked_read(
    srv: &crate::server::Server,
    t: &mut WriteTxn<'_>,
    db: usize,
    key: &[u8],
    gt: StreamId,
    op: &BlockedRead,
    out: &mut ReplyBuf,
) {
    // A blocked read that ends in an error counts as a failed call, as stock counts it.
    let fail = |out: &mut ReplyBuf, text: &str| {
        srv.count_error(text);
        if let Some(c) = srv.commands.get(if op.group.is_some() {
            b"xreadgroup"
        } else {
            b"xread"
        }) {
            c.stats
                .failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        out.error(text);
    };
    let state = t.get(db, key).map(|e| match &e.value {
        Value::Stream(s) => Some(
            op.group
                .as_ref()
                .map(|g| s.groups.contains_key(&g.group[..])),
        ),
        _ => None,
    });
    match state {
        None | Some(None) => {
            fail(out, "UNBLOCKED the stream key no longer exists");
            return;
        }
        Some(Some(Some(false))) => {
            fail(
                out,
                "NOGROUP the consumer group this client was blocked on no longer exists",
            );
            return;
        }
        _ => {}
    }
    out.map_or_array(1);
    if !out.resp3 {
        out.array(2);
    }
    out.bulk(key);
    match &op.group {
        Some(g) => {
            let now = crate::base::now_ms();
            in_one_transaction(t, |t| group_read(t, db, key, g, None, op.count, now, out));
        }
        None => {
            if let Some(e) = t.get(db, key)
                && let Value::Stream(s) = &e.value
            {
                reply_range_after(out, s, gt, op.count);
            }
        }
    }
}

// ---------------------------------------------------------------- XGROUP

fn xgroup_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(&[
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

fn nogroup_for_key(group: &[u8], key: &[u8]) -> CmdError {
    CmdError::Msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

fn xgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = args[1].to_ascii_lowercase();
    let create = sub == b"create";
    let setid = sub == b"setid";
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    let mut i = 5;
    while i < args.len() {
        if create && is(&args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(&args[i], "entriesread") && i + 1 < args.len() {
            entries_read = arg_i64(&args[i + 1])?;
            if entries_read < 0 && entries_read != ENTRIES_READ_UNKNOWN {
                return Err(CmdError::err(
                    "value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(CmdError::subcommand(args, "XGROUP"));
        }
    }
    let (key, group) = (&args[2], &args[3]);
    let db = ctx.db();
    let (exists, has_group) = match ctx.w()?.get(db, key) {
        None => (false, false),
        Some(e) => match &e.value {
            Value::Stream(s) => (true, s.groups.contains_key(&group[..])),
            _ => return Err(CmdError::WrongType),
        },
    };
    if !mkstream {
        if !exists {
            return Err(CmdError::err(
                "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        }
        if !has_group && matches!(&sub[..], b"setid" | b"createconsumer" | b"delconsumer") {
            return Err(nogroup_for_key(group, key));
        }
    }
    let arity_ok = match &sub[..] {
        b"create" => (5..=8).contains(&args.len()),
        b"setid" => args.len() == 5 || args.len() == 7,
        _ => true,
    };
    if !arity_ok {
        return Err(CmdError::subcommand(args, "XGROUP"));
    }
    let now = crate::base::now_ms();
    match &sub[..] {
        b"create" => {
            let id_arg = args[4].clone();
            let created = write(ctx, key, true, |s| {
                let id = if &id_arg[..] == b"$" {
                    s.last_id
                } else {
                    parse_strict(&id_arg)?
                };
                if s.groups.contains_key(&group[..]) {
                    return Ok(false);
                }
                s.groups.insert(
                    StrBytes::from_slice(group),
                    ConsumerGroup::new(id, entries_read),
                );
                Ok(true)
            })?
            .unwrap_or(false);
            if !created {
                return Err(CmdError::Msg(
                    "BUSYGROUP Consumer Group name already exists".into(),
                ));
            }
            ctx.notify(STREAM, "xgroup-create", key)?;
            ctx.propagate_self(args)?;
            ctx.out.ok();
        }
        b"setid" => {
            let id_arg = args[4].clone();
            write(ctx, key, false, |s| {
                let id = if &id_arg[..] == b"$" {
                    s.last_id
                } else {
                    parse_id_ext(&id_arg, 0, false, false)?.0
                };
                if let Some(g) = s.groups.get_mut(&group[..]) {
                    g.last_id = id;
                    g.entries_read = entries_read;
                }
                Ok(())
            })?;
            ctx.notify(STREAM, "xgroup-setid", key)?;
            ctx.propagate_self(args)?;
            ctx.out.ok();
        }
        b"destroy" => {
            let removed = has_group
                && write(ctx, key, false, |s| {
                    Ok(s.groups.remove(&group[..]).is_some())
                })?
                .unwrap_or(false);
            if removed {
                ctx.notify(STREAM, "xgroup-destroy", key)?;
                ctx.propagate_self(args)?;
            }
            ctx.out.int(i64::from(removed));
        }
        b"createconsumer" => {
            let consumer = args[4].clone();
            let created = write(ctx, key, false, |s| {
                let g = s
                    .groups
                    .get_mut(&group[..])
                    .ok_or_else(|| nogroup_for_key(group, key))?;
                if g.consumers.contains_key(&consumer[..]) {
                    return Ok(false);
                }
                g.consumers.insert(
                    StrBytes::from_slice(&consumer),
                    crate::store::stream::Consumer {
                        seen_time: now,
                        ..Default::default()
                    },
                );
                Ok(true)
            })?
            .unwrap_or(false);
            if created {
                ctx.notify(STREAM, "xgroup-createconsumer", key)?;
                ctx.propagate_self(args)?;
            }
            ctx.out.int(i64::from(created));
        }
        b"delconsumer" => {
            let consumer = args[4].clone();
            let pending = write(ctx, key, false, |s| {
                let g = s
                    .groups
                    .get_mut(&group[..])
                    .ok_or_else(|| nogroup_for_key(group, key))?;
                Ok(g.consumers.remove(&consumer[..]).map(|c| {
                    for id in &c.pel {
                        g.pel.remove(id);
                    }
                    c.pel.len()
                }))
            })?
            .flatten();
            if pending.is_some() {
                ctx.notify(STREAM, "xgroup-delconsumer", key)?;
                ctx.propagate_self(args)?;
            }
            ctx.out.int(pending.unwrap_or(0) as i64);
        }
        _ => return Err(CmdError::subcommand(args, "XGROUP")),
    }
    Ok(())
}

// ---------------------------------------------------------------- XACK / XPENDING

fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let has_group = read(ctx, &args[1], |s| {
        s.is_some_and(|s| s.groups.contains_key(&args[2][..]))
    })?;
    if !has_group {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = args[3..]
        .iter()
        .map(|a| parse_strict(a))
        .collect::<Result<Vec<_>, _>>()?;
    let acked = write(ctx, &args[1], false, |s| {
        let g = s.groups.get_mut(&args[2][..]).ok_or(CmdError::Syntax)?;
        Ok(ids.iter().filter(|id| g.ack(**id)).count())
    })?
    .unwrap_or(0);
    if acked > 0 {
        ctx.propagate_self(args)?;
    }
    ctx.out.int(acked as i64);
    Ok(())
}

fn nogroup_key_or_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CmdError::Syntax);
    }
    let mut range = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0i64;
        if is(&args[3], "idle") {
            min_idle = arg_i64(&args[4])?;
            if argc < 8 {
                return Err(CmdError::Syntax);
            }
            at += 2;
        }
        let count = arg_i64(&args[at + 2])?.max(0) as usize;
        let start = parse_bound(&args[at], 0, true)?;
        let end = parse_bound(&args[at + 1], u64::MAX, false)?;
        let consumer = args.get(at + 3).cloned();
        range = Some((min_idle, start, end, count, consumer));
    }
    let (key, group) = (&args[1], &args[2]);
    let now = crate::base::now_ms() as i64;
    let mut out = ReplyBuf {
        resp3: ctx.out.resp3,
        ..Default::default()
    };
    let found = read(ctx, key, |s| {
        let Some(g) = s.and_then(|s| s.groups.get(&group[..])) else {
            return false;
        };
        match &range {
            None => {
                out.array(4);
                out.int(g.pel.len() as i64);
                match (g.pel.keys().next(), g.pel.keys().next_back()) {
                    (Some(first), Some(last)) => {
                        reply_id(&mut out, *first);
                        reply_id(&mut out, *last);
                        let with: Vec<_> = g
                            .consumers
                            .iter()
                            .filter(|(_, c)| !c.pel.is_empty())
                            .collect();
                        out.array(with.len());
                        for (name, c) in with {
                            out.array(2);
                            out.bulk(name);
                            out.bulk(c.pel.len().to_string().as_bytes());
                        }
                    }
                    _ => {
                        out.null();
                        out.null();
                        out.null_array();
                    }
                }
            }
            Some((min_idle, start, end, count, consumer)) => {
                let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
                    Some(name) => match g.consumers.get(&name[..]) {
                        Some(c) => Box::new(c.pel.range(*start..).copied()),
                        None => {
                            out.array(0);
                            return true;
                        }
                    },
                    None => Box::new(g.pel.range(*start..).map(|(id, _)| *id)),
                };
                let mut rows = Vec::new();
                if start <= end {
                    for id in ids.take_while(|id| id <= end) {
                        if rows.len() >= *count {
                            break;
                        }
                        let p = &g.pel[&id];
                        let idle = now - p.delivery_time as i64;
                        if *min_idle != 0 && idle < *min_idle {
                            continue;
                        }
                        rows.push((id, p.consumer.clone(), idle.max(0), p.delivery_count));
                    }
                }
                out.array(rows.len());
                for (id, c, idle, n) in rows {
                    out.array(4);
                    reply_id(&mut out, id);
                    out.bulk(&c);
                    out.int(idle);
                    out.int(n as i64);
                }
            }
        }
        true
    })?;
    if !found {
        return Err(nogroup_key_or_group(key, group));
    }
    ctx.out.raw(&out.buf);
    Ok(())
}

// ---------------------------------------------------------------- XCLAIM / XAUTOCLAIM

/// Looks the group up for a claim, NOGROUP when the key or group is missing.
fn claim_target(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let ok = read(ctx, &args[1], |s| {
        s.is_some_and(|s| s.groups.contains_key(&args[2][..]))
    })?;
    if ok {
        Ok(())
    } else {
        Err(nogroup_key_or_group(&args[1], &args[2]))
    }
}

fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    claim_target(ctx, args)?;
    let min_idle = crate::protocol::parse_i64(&args[4])
        .ok_or_else(|| CmdError::err("Invalid min-idle-time argument for XCLAIM"))?
        .max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < args.len() {
        match parse_strict(&args[j]) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = crate::base::now_ms() as i64;
    let (mut force, mut justid) = (false, false);
    let mut delivery: Option<i64> = None;
    let mut retry: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let a = &args[j];
        let num = |v: &Bytes, what: &str| {
            crate::protocol::parse_i64(v)
                .ok_or_else(|| CmdError::err(format!("Invalid {what} option argument for XCLAIM")))
        };
        if is(a, "force") {
            force = true;
        } else if is(a, "justid") {
            justid = true;
        } else if is(a, "idle") && more > 0 {
            j += 1;
            delivery = Some(now - num(&args[j], "IDLE")?);
        } else if is(a, "time") && more > 0 {
            j += 1;
            delivery = Some(num(&args[j], "TIME")?);
        } else if is(a, "retrycount") && more > 0 {
            j += 1;
            retry = Some(num(&args[j], "RETRYCOUNT")?);
        } else if is(a, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict(&args[j])?;
        } else {
            return Err(CmdError::err(format!(
                "Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(a)
            )));
        }
        j += 1;
    }
    let delivery = match delivery {
        Some(d) if d >= 0 && d <= now => d,
        _ => now,
    } as u64;
    let (key, group, consumer) = (args[1].clone(), args[2].clone(), args[3].clone());
    let mut out = ReplyBuf {
        resp3: ctx.out.resp3,
        ..Default::default()
    };
    let (effects, created) = write(ctx, &key, false, |s| {
        let mut g = s.groups.remove(&group[..]).ok_or(CmdError::Syntax)?;
        let mut effects = Vec::new();
        let mut propagate_last = false;
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last = true;
        }
        let mut created = false;
        let mut n = 0usize;
        let mut body = ReplyBuf {
            resp3: out.resp3,
            ..Default::default()
        };
        for id in &ids {
            let pending = g.pel.contains_key(id);
            if s.get(*id).is_none() {
                if pending {
                    effects.push(xclaim_effect(&key, &group, *id, &g));
                    propagate_last = false;
                    g.ack(*id);
                }
                continue;
            }
            if !pending && !force {
                continue;
            }
            if let Some(p) = g.pel.get(id)
                && min_idle > 0
                && now - (p.delivery_time as i64) < min_idle
            {
                continue;
            }
            if !g.consumers.contains_key(&consumer[..]) {
                created = true;
            }
            let old_count = g.pel.get(id).map_or(0, |p| p.delivery_count);
            let count = match retry {
                Some(r) if r >= 0 => r as u64,
                _ if !justid => old_count + 1,
                _ => old_count,
            };
            g.assign(*id, &consumer, delivery, count);
            if let Some(c) = g.consumers.get_mut(&consumer[..]) {
                c.seen_time = now as u64;
            }
            if justid {
                reply_id(&mut body, *id);
            } else if let Some(f) = s.get(*id) {
                reply_entry(&mut body, *id, f);
            }
            n += 1;
            effects.push(xclaim_effect(&key, &group, *id, &g));
            propagate_last = false;
        }
        if propagate_last {
            effects.push(setid_effect(&key, &group, &g));
        }
        s.groups.insert(StrBytes::from_slice(&group), g);
        out.array(n);
        out.raw(&body.buf);
        Ok((effects, created))
    })?
    .ok_or_else(|| nogroup_key_or_group(&args[1], &args[2]))?;
    if created {
        ctx.notify(STREAM, "xgroup-createconsumer", &key)?;
    }
    let db = ctx.db();
    in_one_transaction(ctx.w()?, |t| propagate_all(t, db, &effects));
    ctx.out.raw(&out.buf);
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let min_idle = crate::protocol::parse_i64(&args[4])
        .ok_or_else(|| CmdError::err("Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = parse_bound(&args[5], 0, true)?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if is(&args[j], "count") && more > 0 {
            let max = i64::MAX / 16;
            count = crate::protocol::parse_i64(&args[j + 1])
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| CmdError::err("COUNT must be > 0"))?;
            j += 1;
        } else if is(&args[j], "justid") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    claim_target(ctx, args)?;
    let now = crate::base::now_ms();
    let (key, group, consumer) = (args[1].clone(), args[2].clone(), args[3].clone());
    let resp3 = ctx.out.resp3;
    let (effects, created, reply) = write(ctx, &key, false, |s| {
        let mut g = s.groups.remove(&group[..]).ok_or(CmdError::Syntax)?;
        let mut effects = Vec::new();
        let mut body = ReplyBuf {
            resp3,
            ..Default::default()
        };
        let mut deleted = Vec::new();
        let mut claimed = 0usize;
        let mut attempts = count.saturating_mul(10);
        let mut left = count;
        let mut created = false;
        let mut cursor = start;
        let mut next = StreamId::MIN;
        while let Some((&id, p)) = g.pel.range(cursor..).next() {
            if attempts == 0 || left == 0 {
                next = id;
                break;
            }
            attempts -= 1;
            cursor = id.next().unwrap_or(StreamId::MAX);
            if s.get(id).is_none() {
                effects.push(xclaim_effect(&key, &group, id, &g));
                g.ack(id);
                deleted.push(id);
                left -= 1;
            } else {
                if min_idle > 0 && (now as i64 - p.delivery_time as i64) < min_idle {
                    if id == StreamId::MAX {
                        break;
                    }
                    continue;
                }
                if !g.consumers.contains_key(&consumer[..]) {
                    created = true;
                }
                let n = p.delivery_count + u64::from(!justid);
                g.assign(id, &consumer, now, n);
                if let Some(c) = g.consumers.get_mut(&consumer[..]) {
                    c.seen_time = now;
                }
                if justid {
                    reply_id(&mut body, id);
                } else if let Some(f) = s.get(id) {
                    reply_entry(&mut body, id, f);
                }
                claimed += 1;
                left -= 1;
                effects.push(xclaim_effect(&key, &group, id, &g));
            }
            if id == StreamId::MAX {
                break;
            }
        }
        s.groups.insert(StrBytes::from_slice(&group), g);
        let mut reply = ReplyBuf {
            resp3,
            ..Default::default()
        };
        reply.array(3);
        reply_id(&mut reply, next);
        reply.array(claimed);
        reply.raw(&body.buf);
        reply.array(deleted.len());
        for id in deleted {
            reply_id(&mut reply, id);
        }
        Ok((effects, created, reply))
    })?
    .ok_or_else(|| nogroup_key_or_group(&args[1], &args[2]))?;
    if created {
        ctx.notify(STREAM, "xgroup-createconsumer", &key)?;
    }
    let db = ctx.db();
    in_one_transaction(ctx.w()?, |t| propagate_all(t, db, &effects));
    ctx.out.raw(&reply.buf);
    Ok(())
}

// ---------------------------------------------------------------- XINFO

fn xinfo_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(&[
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

fn reply_entries_read(out: &mut ReplyBuf, g: &ConsumerGroup) {
    if g.entries_read != ENTRIES_READ_UNKNOWN {
        out.int(g.entries_read);
    } else {
        out.null();
    }
}

fn reply_lag(out: &mut ReplyBuf, s: &StreamValue, g: &ConsumerGroup) {
    match s.group_lag(g) {
        Some(l) => out.int(l),
        None => out.null(),
    }
}

fn xinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = args[1].to_ascii_lowercase();
    let key = &args[2];
    // STREAM options are checked before the key, as Redis parses them first.
    let mut full = false;
    let mut count: i64 = 10;
    if sub == b"stream" {
        let opts = &args[3..];
        if !opts.is_empty() {
            if (opts.len() != 1 && opts.len() != 3) || !is(&opts[0], "full") {
                return Err(CmdError::subcommand(args, "XINFO"));
            }
            if opts.len() == 3 {
                if !is(&opts[1], "count") {
                    return Err(CmdError::subcommand(args, "XINFO"));
                }
                count = arg_i64(&opts[2])?;
                if count < 0 {
                    count = 10;
                }
            }
            full = true;
        }
    }
    let now = crate::base::now_ms() as i64;
    let mut out = ReplyBuf {
        resp3: ctx.out.resp3,
        ..Default::default()
    };
    let result = read(ctx, key, |s| -> Result<(), CmdError> {
        let s = s.ok_or(CmdError::NoSuchKey)?;
        match &sub[..] {
            b"consumers" => {
                let g = s
                    .groups
                    .get(&args[3][..])
                    .ok_or_else(|| nogroup_for_key(&args[3], key))?;
                out.array(g.consumers.len());
                for (name, c) in &g.consumers {
                    out.map(3);
                    out.bulk(b"name");
                    out.bulk(name);
                    out.bulk(b"pending");
                    out.int(c.pel.len() as i64);
                    out.bulk(b"idle");
                    out.int((now - c.seen_time as i64).max(0));
                }
            }
            b"groups" => {
                out.array(s.groups.len());
                for (name, g) in &s.groups {
                    out.map(6);
                    out.bulk(b"name");
                    out.bulk(name);
                    out.bulk(b"consumers");
                    out.int(g.consumers.len() as i64);
                    out.bulk(b"pending");
                    out.int(g.pel.len() as i64);
                    out.bulk(b"last-delivered-id");
                    reply_id(&mut out, g.last_id);
                    out.bulk(b"entries-read");
                    reply_entries_read(&mut out, g);
                    out.bulk(b"lag");
                    reply_lag(&mut out, s, g);
                }
            }
            b"stream" => stream_info(&mut out, s, full, count as usize),
            _ => return Err(CmdError::subcommand(args, "XINFO")),
        }
        Ok(())
    })?;
    result?;
    ctx.out.raw(&out.buf);
    Ok(())
}

fn stream_info(out: &mut ReplyBuf, s: &StreamValue, full: bool, count: usize) {
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.length as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_nodes() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
    let limit = if count == 0 { usize::MAX } else { count };
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        for (name, last) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
            out.bulk(name);
            match s.range(StreamId::MIN, StreamId::MAX, last).next() {
                Some((id, f)) => reply_entry(out, id, f),
                None => out.null(),
            }
        }
        return;
    }
    out.bulk(b"entries");
    let items: Vec<_> = s
        .range(StreamId::MIN, StreamId::MAX, false)
        .take(limit)
        .collect();
    out.array(items.len());
    for (id, f) in items {
        reply_entry(out, id, f);
    }
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        reply_id(out, g.last_id);
        out.bulk(b"entries-read");
        reply_entries_read(out, g);
        out.bulk(b"lag");
        reply_lag(out, s, g);
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let pel: Vec<_> = g.pel.iter().take(limit).collect();
        out.array(pel.len());
        for (id, p) in pel {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&p.consumer);
            out.int(p.delivery_time as i64);
            out.int(p.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let ids: Vec<_> = c.pel.iter().take(limit).collect();
            out.array(ids.len());
            for id in ids {
                let p = &g.pel[id];
                out.array(3);
                reply_id(out, *id);
                out.int(p.delivery_time as i64);
                out.int(p.delivery_count as i64);
            }
        }
    }
}
