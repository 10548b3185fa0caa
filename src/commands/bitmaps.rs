//! Bitmap commands: bit-level views of string values. Bits are numbered from the most
//! significant bit of the first byte, as in Redis, so a bitmap written here reads the
//! same on stock Redis (it is an ordinary string in RDB files and on the wire).

use super::strings::edit_string;
use super::table::{Command, cmd, flags::*, key, key_range};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::store::notify::{GENERIC, STRING};
use crate::store::{Entry, StrBytes, Value};
use bytes::Bytes;

/// Bitmap family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("setbit", 4, WRITE | DENYOOM, const { &[key_range(key::RW | key::ACCESS | key::UPDATE, 1, 0, 1, 0)] }, "bitmap", "2.2.0", "Sets or clears the bit at offset in the string value stored at key", setbit)
            .args("key:key offset:integer value:integer"),
        cmd("getbit", 3, READONLY | FAST, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "bitmap", "2.2.0", "Returns the bit value at offset in the string value stored at key", getbit)
            .args("key:key offset:integer"),
        cmd("bitcount", -2, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "bitmap", "2.6.0", "Count set bits in a string", bitcount)
            .args("key:key [index{start:integer end:integer [unit(BYTE|BIT)]}]"),
        cmd("bitpos", -3, READONLY, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "bitmap", "2.8.7", "Find first bit set or clear in a string", bitpos)
            .args("key:key bit:integer [index{start:integer [end_unit_block{end:integer [unit(BYTE|BIT)]}]}]"),
        cmd("bitop", -4, WRITE | DENYOOM, const { &[key_range(key::OW | key::UPDATE, 2, 0, 1, 0), key_range(key::RO | key::ACCESS, 3, -1, 1, 0)] }, "bitmap", "2.6.0", "Perform bitwise operations between strings", bitop)
            .args("operation(AND|OR|XOR|NOT) destkey:key key:key..."),
        cmd("bitfield", -2, WRITE | DENYOOM, const { &[key_range(key::RW | key::UPDATE | key::ACCESS | key::VARIABLE_FLAGS, 1, 0, 1, 0).notes("This command allows both access and modification of the key").flags_by(bitfield_key_flags)] }, "bitmap", "3.2.0", "Perform arbitrary bitfield integer operations on strings", bitfield)
            .args("key:key [operation(GET=get_block{encoding offset:integer}|write{[OVERFLOW=overflow_block(WRAP|SAT|FAIL)] write_operation(SET=set_block{encoding offset:integer value:integer}|INCRBY=incrby_block{encoding offset:integer increment:integer})})...]"),
        cmd("bitfield_ro", -2, READONLY | FAST, const { &[key_range(key::RO | key::ACCESS, 1, 0, 1, 0)] }, "bitmap", "6.0.0", "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD", bitfield_ro)
            .args("key:key [GET=get_block{encoding offset:integer}...*]"),
    ]
}

const BAD_OFFSET: &str = "bit offset is not an integer or out of range";
const BAD_BIT: &str = "bit is not an integer or out of range";
const BAD_TYPE: &str =
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// A bit offset argument. With `hash_bits` (BITFIELD), `#N` means the N-th field of that
/// width. Past `proto-max-bulk-len` bytes it is refused, except from our leader, whose
/// stream is obeyed whatever our settings.
fn bit_offset(ctx: &Ctx<'_>, arg: &[u8], hash_bits: u32) -> Result<u64, CmdError> {
    let bad = || CmdError::err(BAD_OFFSET);
    let (digits, times) = match arg.first() {
        Some(b'#') if hash_bits > 0 => (&arg[1..], hash_bits as i64),
        _ => (arg, 1),
    };
    let n = crate::protocol::parse_i64(digits)
        .and_then(|n| n.checked_mul(times))
        .filter(|n| *n >= 0)
        .ok_or_else(bad)?;
    let max = ctx
        .srv
        .config
        .live
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed) as u64;
    if !ctx.client.is_leader_link() && (n as u64 >> 3) >= max {
        return Err(bad());
    }
    Ok(n as u64)
}

/// The bit at `offset` (0 past the end).
fn bit_at(s: &[u8], offset: u64) -> u8 {
    s.get((offset >> 3) as usize)
        .map_or(0, |b| (b >> (7 - (offset & 7))) & 1)
}

fn setbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &args[2], 0)?;
    let on = crate::protocol::parse_i64(&args[3])
        .filter(|v| *v == 0 || *v == 1)
        .ok_or_else(|| CmdError::err(BAD_BIT))? as u8;
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7);
    let (old, grown) = edit_string(ctx, &args[1], byte + 1, |s, _| {
        let old = (s[byte] >> shift) & 1;
        s[byte] = (s[byte] & !(1 << shift)) | (on << shift);
        old
    })?;
    if grown || old != on {
        let db = ctx.db();
        ctx.w()?.modified(db, &args[1]);
        ctx.propagate_self(args)?;
        ctx.notify(STRING, "setbit", &args[1])?;
    }
    ctx.out.int(old as i64);
    Ok(())
}

fn getbit(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let offset = bit_offset(ctx, &args[2], 0)?;
    let bit = ctx.with_str(&args[1], |s| s.map_or(0, |s| bit_at(s, offset)))?;
    ctx.out.int(bit as i64);
    Ok(())
}

/// A BITCOUNT/BITPOS range argument in bits, inclusive, clamped to a string of `len`
/// bytes as Redis clamps it; None when it is empty.
fn bit_range(start: i64, end: i64, len: usize, in_bits: bool) -> Option<(u64, u64)> {
    let total = if in_bits { len as i64 * 8 } else { len as i64 };
    let fix = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let (start, end) = (fix(start), fix(end).min(total - 1));
    if start > end {
        return None;
    }
    Some(if in_bits {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    })
}

/// `BYTE` or `BIT` (None: syntax error).
fn unit_is_bit(a: &[u8]) -> Option<bool> {
    if is(a, "bit") {
        Some(true)
    } else if is(a, "byte") {
        Some(false)
    } else {
        None
    }
}

/// Set bits in the bit range `[from, to]` of `s`.
fn popcount(s: &[u8], from: u64, to: u64) -> u64 {
    let (first, last) = ((from >> 3) as usize, (to >> 3) as usize);
    let bytes = &s[first..=last];
    let mut chunks = bytes.chunks_exact(8);
    let mut n: u64 = chunks
        .by_ref()
        .map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes")).count_ones() as u64)
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    // Take off the bits of the edge bytes that lie outside the range.
    n -= s[first]
        .checked_shr(8 - (from & 7) as u32)
        .unwrap_or(0)
        .count_ones() as u64;
    n -= (s[last] & (0xFFu8.checked_shr(1 + (to & 7) as u32).unwrap_or(0))).count_ones() as u64;
    n
}

fn bitcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    // The key is looked up before the range is parsed, as stock does: a missing key
    // counts 0 whatever follows.
    let n = ctx.with_str(&args[1], |s| -> Result<u64, CmdError> {
        let Some(s) = s else { return Ok(0) };
        let range = match args.len() {
            2 => bit_range(0, -1, s.len(), false),
            4 | 5 => {
                let (start, end) = (arg_i64(&args[2])?, arg_i64(&args[3])?);
                if start < 0 && end < 0 && start > end {
                    return Ok(0);
                }
                let in_bits = match args.get(4) {
                    Some(u) => unit_is_bit(u).ok_or(CmdError::Syntax)?,
                    None => false,
                };
                bit_range(start, end, s.len(), in_bits)
            }
            _ => return Err(CmdError::Syntax),
        };
        Ok(range.map_or(0, |(from, to)| popcount(s, from, to)))
    })??;
    ctx.out.int(n as i64);
    Ok(())
}

/// The first bit equal to `bit` in `[from, to]` of `s`.
fn first_bit(s: &[u8], bit: u8, from: u64, to: u64) -> Option<u64> {
    let skip = if bit == 1 { 0 } else { u64::MAX };
    let mut i = from;
    while i <= to {
        if i & 63 == 0 && i + 63 <= to {
            let at = (i >> 3) as usize;
            let word = u64::from_be_bytes(s[at..at + 8].try_into().expect("8 bytes"));
            if word != skip {
                let w = if bit == 1 { word } else { !word };
                return Some(i + w.leading_zeros() as u64);
            }
            i += 64;
            continue;
        }
        if bit_at(s, i) == bit {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn bitpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let bit = arg_i64(&args[2])?;
    if bit != 0 && bit != 1 {
        return Err(CmdError::err("The bit argument must be 1 or 0."));
    }
    let bit = bit as u8;
    let pos = ctx.with_str(&args[1], |s| -> Result<i64, CmdError> {
        // A missing key is an endless run of zero bits.
        let Some(s) = s else {
            return Ok(if bit == 1 { -1 } else { 0 });
        };
        let (range, end_given) = match args.len() {
            3 => (bit_range(0, -1, s.len(), false), false),
            4..=6 => {
                let start = arg_i64(&args[3])?;
                let in_bits = match args.get(5) {
                    Some(u) => unit_is_bit(u).ok_or(CmdError::Syntax)?,
                    None => false,
                };
                let end = match args.get(4) {
                    Some(e) => arg_i64(e)?,
                    None => -1,
                };
                (bit_range(start, end, s.len(), in_bits), args.len() >= 5)
            }
            _ => return Err(CmdError::Syntax),
        };
        let Some((from, to)) = range else {
            return Ok(-1);
        };
        Ok(match first_bit(s, bit, from, to) {
            Some(p) => p as i64,
            // Looking for a clear bit with no end given, the string counts as padded
            // with zeros: the first bit after the range's last byte.
            None if bit == 0 && !end_given => (((to >> 3) + 1) * 8) as i64,
            None => -1,
        })
    })??;
    ctx.out.int(pos);
    Ok(())
}

fn bitop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let op = &args[1];
    let combine: fn(u8, u8) -> u8 = if is(op, "and") {
        |a, b| a & b
    } else if is(op, "or") {
        |a, b| a | b
    } else if is(op, "xor") {
        |a, b| a ^ b
    } else if is(op, "not") {
        |a, _| a
    } else {
        return Err(CmdError::Syntax);
    };
    if is(op, "not") && args.len() != 4 {
        return Err(CmdError::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let mut sources = Vec::with_capacity(args.len() - 3);
    for k in &args[3..] {
        sources.push(ctx.with_str(k, |s| s.map(<[u8]>::to_vec).unwrap_or_default())?);
    }
    let len = sources.iter().map(Vec::len).max().unwrap_or(0);
    let not = is(op, "not");
    let mut res = StrBytes::from_elem(0, len);
    for (i, out) in res.iter_mut().enumerate() {
        // Bytes past a source's end count as zeros.
        let mut bytes = sources.iter().map(|s| s.get(i).copied().unwrap_or(0));
        let first = bytes.next().unwrap_or(0);
        *out = if not {
            !first
        } else {
            bytes.fold(first, combine)
        };
    }
    let dest = &args[2];
    let db = ctx.db();
    if len > 0 {
        let mut entry = Entry::new(Value::Str(res), 0);
        entry.raw = true;
        ctx.w()?.insert(db, dest, entry);
        ctx.propagate_self(args)?;
        ctx.notify(STRING, "set", dest)?;
    } else if ctx.w()?.remove(db, dest).is_some() {
        ctx.propagate_self(args)?;
        ctx.notify(GENERIC, "del", dest)?;
    }
    ctx.out.int(len as i64);
    Ok(())
}

/// What BITFIELD does when a value does not fit its field.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One BITFIELD operation on a field of `bits` bits at bit `offset`.
#[derive(Debug, Clone, Copy)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// `i1`..`i64` or `u1`..`u63`.
fn field_type(a: &[u8]) -> Result<(bool, u32), CmdError> {
    let bad = || CmdError::err(BAD_TYPE);
    let signed = match a.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(bad()),
    };
    let bits = crate::protocol::parse_i64(&a[1..])
        .filter(|b| *b >= 1 && *b <= if signed { 64 } else { 63 })
        .ok_or_else(bad)?;
    Ok((signed, bits as u32))
}

/// Parses BITFIELD's operations (after the key).
fn parse_fields(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<Vec<Field>, CmdError> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 0;
    while j < args.len() {
        let rest = args.len() - j - 1;
        let a = &args[j];
        let takes_value = if is(a, "get") && rest >= 2 {
            false
        } else if (is(a, "set") || is(a, "incrby")) && rest >= 3 {
            true
        } else if is(a, "overflow") && rest >= 1 {
            let t = &args[j + 1];
            overflow = if is(t, "wrap") {
                Overflow::Wrap
            } else if is(t, "sat") {
                Overflow::Sat
            } else if is(t, "fail") {
                Overflow::Fail
            } else {
                return Err(CmdError::err("Invalid OVERFLOW type specified"));
            };
            j += 2;
            continue;
        } else {
            return Err(CmdError::Syntax);
        };
        let (signed, bits) = field_type(&args[j + 1])?;
        let offset = bit_offset(ctx, &args[j + 2], bits)?;
        let op = if !takes_value {
            FieldOp::Get
        } else if is(a, "set") {
            FieldOp::Set(arg_i64(&args[j + 3])?)
        } else {
            FieldOp::IncrBy(arg_i64(&args[j + 3])?)
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if takes_value { 4 } else { 3 };
    }
    Ok(fields)
}

/// BITFIELD's key flags: read-only when every operation is a GET.
fn bitfield_key_flags(args: &[Bytes]) -> u32 {
    let writes = args.iter().skip(2).any(|a| is(a, "set") || is(a, "incrby"));
    if writes {
        key::RW | key::ACCESS | key::UPDATE
    } else {
        key::RO | key::ACCESS
    }
}

/// The `bits`-bit unsigned field at bit `offset` (zeros past the end).
fn get_field(s: &[u8], offset: u64, bits: u32) -> u64 {
    (0..bits as u64).fold(0, |v, j| (v << 1) | bit_at(s, offset + j) as u64)
}

fn set_field(s: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let pos = offset + j;
        let shift = 7 - (pos & 7);
        let byte = &mut s[(pos >> 3) as usize];
        let bit = ((value >> (bits as u64 - 1 - j)) & 1) as u8;
        *byte = (*byte & !(1 << shift)) | (bit << shift);
    }
}

/// A field read as a signed number (two's complement of `bits` bits).
fn sign_extend(v: u64, bits: u32) -> i64 {
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// `value + incr` for an unsigned field: Ok when it fits, else Err(what the overflow
/// policy stores instead; unused for FAIL).
fn add_unsigned(value: u64, incr: i64, bits: u32, ow: Overflow) -> Result<u64, u64> {
    let max = (1u64 << bits) - 1;
    let wrapped = value.wrapping_add(incr as u64) & max;
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = (value as i64).wrapping_neg();
    if value > max || (incr > 0 && incr > max_incr) {
        Err(if ow == Overflow::Sat { max } else { wrapped })
    } else if incr < 0 && incr < min_incr {
        Err(if ow == Overflow::Sat { 0 } else { wrapped })
    } else {
        Ok(value.wrapping_add(incr as u64))
    }
}

/// `value + incr` for a signed field, as [`add_unsigned`].
fn add_signed(value: i64, incr: i64, bits: u32, ow: Overflow) -> Result<i64, i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let wrapped = sign_extend(
        value.wrapping_add(incr) as u64 & (u64::MAX >> (64 - bits)),
        bits,
    );
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        Err(if ow == Overflow::Sat { max } else { wrapped })
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        Err(if ow == Overflow::Sat { min } else { wrapped })
    } else {
        Ok(value.wrapping_add(incr))
    }
}

/// Runs one SET or INCRBY on `s`: the reply (None when FAIL refused it) and whether the
/// field changed.
fn write_field(s: &mut [u8], f: &Field) -> (Option<i64>, bool) {
    let old = get_field(s, f.offset, f.bits);
    let (value, incr, reply_old) = match f.op {
        FieldOp::Set(v) => (v, 0, true),
        FieldOp::IncrBy(by) => (0, by, false),
        FieldOp::Get => unreachable!("GET is not a write"),
    };
    let (new, old_reply, new_reply) = if f.signed {
        let old = sign_extend(old, f.bits);
        let start = if reply_old { value } else { old };
        match add_signed(start, incr, f.bits, f.overflow) {
            Err(_) if f.overflow == Overflow::Fail => return (None, false),
            Ok(n) | Err(n) => (n as u64, old, n),
        }
    } else {
        let start = if reply_old { value as u64 } else { old };
        match add_unsigned(start, incr, f.bits, f.overflow) {
            Err(_) if f.overflow == Overflow::Fail => return (None, false),
            Ok(n) | Err(n) => (n, old as i64, n as i64),
        }
    };
    let mask = u64::MAX >> (64 - f.bits);
    set_field(s, f.offset, f.bits, new & mask);
    let reply = if reply_old { old_reply } else { new_reply };
    (Some(reply), (new & mask) != (old & mask))
}

/// A GET's reply.
fn read_field(s: &[u8], f: &Field) -> i64 {
    let v = get_field(s, f.offset, f.bits);
    if f.signed {
        sign_extend(v, f.bits)
    } else {
        v as i64
    }
}

fn reply_fields(ctx: &mut Ctx<'_>, replies: &[Option<i64>]) {
    ctx.out.array(replies.len());
    for r in replies {
        match r {
            Some(v) => ctx.out.int(*v),
            None => ctx.out.null(),
        }
    }
}

fn bitfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    bitfield_generic(ctx, args, true)
}

fn bitfield_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult {
    let fields = parse_fields(ctx, &args[2..])?;
    let writes = fields.iter().any(|f| f.op != FieldOp::Get);
    if !writes {
        let replies = ctx.with_str(&args[1], |s| {
            let s = s.unwrap_or_default();
            fields
                .iter()
                .map(|f| Some(read_field(s, f)))
                .collect::<Vec<_>>()
        })?;
        reply_fields(ctx, &replies);
        return Ok(());
    }
    if read_only {
        return Err(CmdError::err(
            "BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max()
        .unwrap_or(0);
    let min_len = (highest >> 3) as usize + 1;
    let ((replies, changes), grown) = edit_string(ctx, &args[1], min_len, |s, grew| {
        let mut changes = 0;
        let replies: Vec<Option<i64>> = fields
            .iter()
            .map(|f| match f.op {
                FieldOp::Get => Some(read_field(s, f)),
                _ => {
                    let (reply, changed) = write_field(s, f);
                    // As stock counts: every write that ran on a created or
                    // grown string is a change.
                    changes += usize::from(changed || (reply.is_some() && grew));
                    reply
                }
            })
            .collect();
        (replies, changes)
    })?;
    if changes > 0 || grown {
        let db = ctx.db();
        ctx.w()?.modified(db, &args[1]);
        // A string created or grown by operations that all failed still reaches the
        // followers, so they hold the same bytes.
        ctx.propagate_self(args)?;
        if changes > 0 {
            ctx.notify(STRING, "setbit", &args[1])?;
        }
    }
    reply_fields(ctx, &replies);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popcount_respects_bit_edges() {
        let s = [0xFFu8; 20];
        assert_eq!(popcount(&s, 0, 159), 160);
        assert_eq!(popcount(&s, 3, 5), 3);
        assert_eq!(popcount(&s, 7, 8), 2);
        assert_eq!(popcount(&[0b1010_0000], 0, 2), 2);
    }

    #[test]
    fn first_bit_finds_across_words() {
        let mut s = vec![0u8; 32];
        s[20] = 0b0001_0000;
        assert_eq!(first_bit(&s, 1, 0, 255), Some(163));
        assert_eq!(first_bit(&s, 1, 164, 255), None);
        let ones = vec![0xFFu8; 16];
        assert_eq!(first_bit(&ones, 0, 0, 127), None);
    }

    #[test]
    fn fields_overflow_as_stock() {
        assert_eq!(add_unsigned(250, 10, 8, Overflow::Wrap), Err(4));
        assert_eq!(add_unsigned(250, 10, 8, Overflow::Sat), Err(255));
        assert_eq!(add_unsigned(5, -10, 8, Overflow::Sat), Err(0));
        assert_eq!(add_signed(120, 10, 8, Overflow::Wrap), Err(-126));
        assert_eq!(add_signed(-120, -10, 8, Overflow::Sat), Err(-128));
        assert_eq!(add_signed(i64::MAX, 1, 64, Overflow::Wrap), Err(i64::MIN));
        assert_eq!(add_signed(3, 4, 4, Overflow::Wrap), Ok(7));
        let mut s = [0u8; 2];
        set_field(&mut s, 4, 8, 0xAB);
        assert_eq!(s, [0x0A, 0xB0]);
        assert_eq!(get_field(&s, 4, 8), 0xAB);
        assert_eq!(sign_extend(0xAB, 8), -85);
    }
}
