//! `struct`: Roberto Ierusalimschy's binary packing library as bundled with
//! Redis (`struct.pack`, `struct.unpack`, `struct.size`), reproducing the
//! x86-64 Linux layout (`long` and `size_t` are 8 bytes, max alignment 8).

use mlua::{Lua, MultiValue, Table, Value};

use super::{Args, LUA_MAX_C_STACK, Ret, c_double_to_i64, module_with, runtime_error};

/// Largest size accepted for the `i`/`I` options.
const MAX_INT_SIZE: usize = 32;
/// Alignment `!` uses without an explicit number.
const MAX_ALIGN: usize = 8;

/// Builds the `struct` module table.
pub(super) fn create_module(lua: &Lua) -> mlua::Result<Table> {
    type Op = fn(&Lua, MultiValue) -> mlua::Result<Ret>;
    let funcs: Vec<(&'static str, Op)> = vec![("pack", pack), ("unpack", unpack), ("size", size)];
    module_with(lua, funcs)
}

#[derive(Clone, Copy, PartialEq)]
enum Endian {
    Big,
    Little,
}

/// Current byte order and maximum alignment while walking a format.
struct Header {
    endian: Endian,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// Cursor over a format string; like the C code it stops at the first NUL.
struct Format<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Self {
        let end = fmt.iter().position(|&c| c == 0).unwrap_or(fmt.len());
        Format {
            bytes: &fmt[..end],
            pos: 0,
        }
    }

    fn next_opt(&mut self) -> Option<u8> {
        let c = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(c)
    }

    /// Reads an optional decimal count, `default` when there is none.
    fn number(&mut self, default: usize) -> mlua::Result<usize> {
        if !self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(&c) = self.bytes.get(self.pos).filter(|c| c.is_ascii_digit()) {
            let d = i32::from(c - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(runtime_error("integral size overflow"));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a as usize)
    }

    /// Size in bytes of option `opt` (0 for options without a fixed size).
    fn opt_size(&mut self, opt: u8) -> mlua::Result<usize> {
        Ok(match opt {
            b'B' | b'b' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let sz = self.number(4)?;
                if sz > MAX_INT_SIZE {
                    return Err(runtime_error(format!(
                        "integral size {sz} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                sz
            }
            _ => 0,
        })
    }

    /// Handles the non-data options (space, `<`, `>`, `!n`).
    fn control(&mut self, args: &Args, opt: u8, h: &mut Header) -> mlua::Result<()> {
        match opt {
            b' ' => Ok(()),
            b'>' => {
                h.endian = Endian::Big;
                Ok(())
            }
            b'<' => {
                h.endian = Endian::Little;
                Ok(())
            }
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(runtime_error(format!("alignment {a} is not a power of 2")));
                }
                h.align = a;
                Ok(())
            }
            _ => Err(args.error(1, format!("invalid format option '{}'", char::from(opt)))),
        }
    }
}

/// Padding needed before an item of `size` bytes at offset `len`; mirrors
/// the C arithmetic, including its results for non-power-of-two sizes.
fn to_align(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & (size - 1)) & (size - 1)
}

/// Converts a Lua number to the 64-bit pattern `struct` stores, with the
/// x86-64 results for out-of-range values.
fn integer_bits(n: f64) -> u64 {
    if n < 0.0 {
        c_double_to_i64(n) as u64
    } else if n >= 9_223_372_036_854_775_808.0 {
        (c_double_to_i64(n - 9_223_372_036_854_775_808.0) as u64) ^ (1 << 63)
    } else {
        c_double_to_i64(n) as u64
    }
}

fn put_integer(out: &mut Vec<u8>, mut value: u64, endian: Endian, size: usize) {
    let mut buf = [0u8; MAX_INT_SIZE];
    let buf = &mut buf[..size];
    for i in 0..size {
        let idx = if endian == Endian::Little {
            i
        } else {
            size - 1 - i
        };
        buf[idx] = (value & 0xff) as u8;
        value = value.checked_shr(8).unwrap_or(0);
    }
    out.extend_from_slice(buf);
}

fn get_integer(data: &[u8], endian: Endian, signed: bool, size: usize) -> f64 {
    let mut l: u64 = 0;
    for i in 0..size {
        let idx = if endian == Endian::Big {
            i
        } else {
            size - 1 - i
        };
        l = (l << 8) | u64::from(data[idx]);
    }
    if !signed {
        return l as f64;
    }
    // The C code shifts by (size*8 - 1) with x86's modulo-64 shift count.
    let shift = ((size as i64) * 8 - 1) & 63;
    let mask = u64::MAX << shift;
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// `struct.pack(fmt, ...)`.
fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<Ret> {
    let mut args = Args::new(lua, "pack", args);
    let fmt_bytes = args.check_bytes(1)?;
    // The C code pushes a nil marker right after the arguments, so a missing
    // first value reads as "nil" rather than "no value".
    args.push(Value::Nil);
    let mut fmt = Format::new(&fmt_bytes);
    let mut h = Header::default();
    let mut arg = 2;
    let mut total: usize = 0;
    let mut out = Vec::new();
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.opt_size(opt)?;
        let pad = to_align(total, &h, opt, size);
        total = total.wrapping_add(pad);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = args.check_number(arg)?;
                arg += 1;
                put_integer(&mut out, integer_bits(n), h.endian, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = args.check_number(arg)? as f32;
                arg += 1;
                match h.endian {
                    Endian::Little => out.extend_from_slice(&f.to_le_bytes()),
                    Endian::Big => out.extend_from_slice(&f.to_be_bytes()),
                }
            }
            b'd' => {
                let d = args.check_number(arg)?;
                arg += 1;
                match h.endian {
                    Endian::Little => out.extend_from_slice(&d.to_le_bytes()),
                    Endian::Big => out.extend_from_slice(&d.to_be_bytes()),
                }
            }
            b'c' | b's' => {
                let s = args.check_bytes(arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C code reports the position after the string.
                    return Err(args.error(arg, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                    size += 1;
                }
            }
            _ => fmt.control(&args, opt, &mut h)?,
        }
        total = total.wrapping_add(size);
    }
    Ret::one(Value::String(lua.create_string(&out)?))
}

/// `struct.unpack(fmt, data [, pos])`: the values, then the next position.
fn unpack(lua: &Lua, args: MultiValue) -> mlua::Result<Ret> {
    let args = Args::new(lua, "unpack", args);
    let fmt_bytes = args.check_bytes(1)?;
    let data = args.check_bytes(2)?;
    let ld = data.len();
    // size_t arithmetic: negative offsets wrap around, as in C.
    let mut pos = args.opt_integer(3, 1)? as u64 as usize;
    if pos == 0 {
        return Err(args.error(3, "offset must be 1 or greater"));
    }
    pos -= 1;
    let mut fmt = Format::new(&fmt_bytes);
    let mut h = Header::default();
    // Results go straight into a table: there may be thousands of them.
    let out = lua.create_table()?;
    let mut n: usize = 0;
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.opt_size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(args.error(2, "data string too short"));
        }
        if args.len() + n + 2 > LUA_MAX_C_STACK {
            return Err(runtime_error("stack overflow (too many results)"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                let v = get_integer(&data[pos..pos + size], h.endian, signed, size);
                n += 1;
                out.raw_set(n, v)?;
            }
            b'x' => {}
            b'f' => {
                let raw: [u8; 4] = data[pos..pos + 4].try_into().unwrap_or_default();
                let f = match h.endian {
                    Endian::Little => f32::from_le_bytes(raw),
                    Endian::Big => f32::from_be_bytes(raw),
                };
                n += 1;
                out.raw_set(n, f64::from(f))?;
            }
            b'd' => {
                let raw: [u8; 8] = data[pos..pos + 8].try_into().unwrap_or_default();
                let d = match h.endian {
                    Endian::Little => f64::from_le_bytes(raw),
                    Endian::Big => f64::from_be_bytes(raw),
                };
                n += 1;
                out.raw_set(n, d)?;
            }
            b'c' => {
                if size == 0 {
                    // 'c0' takes its length from the previous result, which
                    // must be convertible to a number.
                    let prev = if n == 0 {
                        None
                    } else {
                        lua.coerce_number(out.raw_get::<Value>(n)?)?
                    };
                    let Some(len) = prev else {
                        return Err(runtime_error("format 'c0' needs a previous size"));
                    };
                    out.raw_set(n, Value::Nil)?;
                    n -= 1;
                    size = integer_bits(len) as usize;
                    if !(size <= ld && pos <= ld - size) {
                        return Err(args.error(2, "data string too short"));
                    }
                }
                n += 1;
                out.raw_set(n, lua.create_string(&data[pos..pos + size])?)?;
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(runtime_error("unfinished string in data"));
                };
                n += 1;
                out.raw_set(n, lua.create_string(&data[pos..pos + len])?)?;
                size = len + 1;
            }
            _ => fmt.control(&args, opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    n += 1;
    out.raw_set(n, pos.wrapping_add(1) as i64 as f64)?;
    Ok(Ret::Packed(out, n))
}

/// `struct.size(fmt)`: bytes a fixed-size format occupies.
fn size(lua: &Lua, args: MultiValue) -> mlua::Result<Ret> {
    let args = Args::new(lua, "size", args);
    let fmt_bytes = args.check_bytes(1)?;
    let mut fmt = Format::new(&fmt_bytes);
    let mut h = Header::default();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_opt() {
        let size = fmt.opt_size(opt)?;
        pos = pos.wrapping_add(to_align(pos, &h, opt, size));
        if opt == b's' {
            return Err(args.error(1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(args.error(1, "option 'c0' has no fixed size"));
        }
        // Unknown letters and digits are silently ignored here, unlike in
        // pack/unpack.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(&args, opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ret::one(Value::Number(pos as i64 as f64))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::check_hex as check;

    /// Joins all results of an expression with spaces via tostring.
    fn all(expr: &str) -> String {
        format!(
            "local r = {{{expr}}} for i = 1, #r do r[i] = tostring(r[i]) end \
             return table.concat(r, ' ')"
        )
    }

    #[test]
    fn pack_integers_both_endians() {
        check(&[
            (
                "return hex(struct.pack('>bBhHlLiIT', -1, 255, -2, 65535, -3, 4, -5, 6, 7))",
                "fffffffefffffffffffffffffffd0000000000000004fffffffb000000060000000000000007",
            ),
            (
                "return hex(struct.pack('<bBhHlLiIT', -1, 255, -2, 65535, -3, 4, -5, 6, 7))",
                "fffffefffffffdffffffffffffff0400000000000000fbffffff060000000700000000000000",
            ),
            (
                "return hex(struct.pack('>i16', -2)) .. ' ' .. hex(struct.pack('<i9', -2)) .. ' ' \
                 .. hex(struct.pack('<I3', 2^24+5)) .. ' ' .. hex(struct.pack('i0b', 5, 6))",
                "0000000000000000fffffffffffffffe feffffffffffffff00 050000 06",
            ),
            (
                "return hex(struct.pack('>I4', -1)) .. ' ' .. hex(struct.pack('>i20', -1)) .. ' ' \
                 .. hex(struct.pack('<i', 2^31)) .. ' ' .. hex(struct.pack('>L', -2^63-4096))",
                "ffffffff 000000000000000000000000ffffffffffffffff 00000080 8000000000000000",
            ),
        ]);
    }

    #[test]
    fn pack_out_of_range_numbers_like_x86() {
        check(&[(
            "return hex(struct.pack('>L', 2^64)) .. ' ' .. hex(struct.pack('>L', 1e30)) .. ' ' \
             .. hex(struct.pack('>l', -1e30)) .. ' ' .. hex(struct.pack('>L', 0/0)) .. ' ' \
             .. hex(struct.pack('>L', 2^63)) .. ' ' .. hex(struct.pack('>l', 1.9)) .. ' ' \
             .. hex(struct.pack('>l', -1.9)) .. ' ' .. hex(struct.pack('>b', 300)) .. ' ' \
             .. hex(struct.pack('>L', 1/0)) .. ' ' .. hex(struct.pack('>l', -1/0))",
            "0000000000000000 0000000000000000 8000000000000000 8000000000000000 \
             8000000000000000 0000000000000001 ffffffffffffffff 2c 0000000000000000 \
             8000000000000000",
        )]);
    }

    #[test]
    fn pack_alignment_floats_and_strings() {
        check(&[
            (
                "return hex(struct.pack('!bhbibdbf', 1, 2, 3, 4, 5, 6, 7, 8))",
                "0100020003000000040000000500000000000000000018400700000000000041",
            ),
            (
                "return hex(struct.pack('!4bd', 1, 2)) .. ' ' .. hex(struct.pack('!2bi', 1, 2)) \
                 .. ' ' .. hex(struct.pack('!bi3', 1, 2)) .. ' ' .. hex(struct.pack('!8bi3b', 1, 2, 3))",
                "010000000000000000000040 010002000000 010000020000 01000002000003",
            ),
            (
                "return hex(struct.pack('>fd', 1.5, -0.1)) .. ' ' .. hex(struct.pack('<fd', 1.5, -0.1))",
                "3fc00000bfb999999999999a 0000c03f9a9999999999b9bf",
            ),
            (
                "return hex(struct.pack('c3c0xs', 'abcdef', 'gh', 'ij'))",
                "616263676800696a00",
            ),
            ("return hex(struct.pack('b\\0b', 1, 2))", "01"),
            (
                "return hex(struct.pack('>!4 b i', 1, 2)) .. ' ' .. hex(struct.pack('!2 b d', 1, 2))",
                "0100000000000002 01000000000000000040",
            ),
        ]);
    }

    #[test]
    fn pack_errors() {
        check(&[
            (
                "return select(2, pcall(struct.pack, 'z', 'cd'))",
                "bad argument #1 to '?' (invalid format option 'z')",
            ),
            (
                "return select(2, pcall(struct.pack, 'c5', 'ab'))",
                "bad argument #3 to '?' (string too short)",
            ),
            (
                "return select(2, pcall(struct.pack, 'bc5', 1, 'ab'))",
                "bad argument #4 to '?' (string too short)",
            ),
            (
                "return select(2, pcall(struct.pack, 'i33', 1))",
                "integral size 33 is larger than limit of 32",
            ),
            (
                "return select(2, pcall(struct.pack, 'i99999999999', 1))",
                "integral size overflow",
            ),
            (
                "return select(2, pcall(struct.pack, '!3', 1))",
                "alignment 3 is not a power of 2",
            ),
            (
                "return select(2, pcall(struct.pack, 'b'))",
                "bad argument #2 to '?' (number expected, got nil)",
            ),
            (
                "return select(2, pcall(struct.pack, 'b', 'x'))",
                "bad argument #2 to '?' (number expected, got string)",
            ),
            ("return struct.pack('s', 1)", "1\0"),
            (
                "return select(2, pcall(struct.pack, 'c', {}))",
                "bad argument #2 to '?' (string expected, got table)",
            ),
        ]);
    }

    #[test]
    fn unpack_values() {
        check(&[
            (
                &all(
                    "struct.unpack('>bBhHlLiIT', struct.pack('>bBhHlLiIT', -1, 255, -2, 65535, -3, 4, -5, 6, 7))",
                ),
                "-1 255 -2 65535 -3 4 -5 6 7 39",
            ),
            (
                &all("struct.unpack('<i16I16i9', struct.pack('<i16I16i9', -2, -2, -3))"),
                "-2 1.844674407371e+19 -3 42",
            ),
            (
                &all(
                    "struct.unpack('>i16I9i3I3i0', string.rep('\\255', 16) .. string.rep('\\128', 9) .. '\\128\\0\\1' .. '\\255\\255\\255')",
                ),
                "-1 9.2595421232738e+18 -8388607 16777215 0 32",
            ),
            (
                &all("struct.unpack('!bd', struct.pack('!bd', 1, 2.5))"),
                "1 2.5 17",
            ),
            (
                &all("struct.unpack('<fd>fd', struct.pack('<fd>fd', 1.5, 0.1, -2.25, 1e300))"),
                "1.5 0.1 -2.25 1e+300 25",
            ),
            (&all("struct.unpack('bc0', '\\3abcd')"), "abc 5"),
            (&all("struct.unpack('c1c0', '2abcd')"), "ab 4"),
            (&all("struct.unpack('b', 'abc', 2)"), "98 3"),
            (&all("struct.unpack('b', 'abc', 3)"), "99 4"),
            (&all("struct.unpack('', 'abc', -1)"), "-1"),
            (&all("struct.unpack('x', 'abc')"), "2"),
            (
                "return select(2, pcall(struct.unpack, 'xb', 'abc', 3))",
                "bad argument #2 to '?' (data string too short)",
            ),
            (&all("struct.unpack('', 'abc', 10)"), "10"),
            (
                &all("struct.unpack('i4', '\\1\\2\\3\\4', 1.9)"),
                "67305985 5",
            ),
            (&all("struct.unpack('s', 'ab\\0cd')"), "ab 4"),
            (
                &all(
                    "struct.unpack('>L>l', '\\255\\255\\255\\255\\255\\255\\255\\255\\128\\0\\0\\0\\0\\0\\0\\0')",
                ),
                "1.844674407371e+19 -9.2233720368548e+18 17",
            ),
        ]);
    }

    #[test]
    fn unpack_errors() {
        check(&[
            (
                "return select(2, pcall(struct.unpack, 'c0', 'abc'))",
                "format 'c0' needs a previous size",
            ),
            (
                "return select(2, pcall(struct.unpack, 'c1c0', 'xabcd'))",
                "format 'c0' needs a previous size",
            ),
            (
                "return select(2, pcall(struct.unpack, 'bc0', '\\9abcd'))",
                "bad argument #2 to '?' (data string too short)",
            ),
            (
                "return select(2, pcall(struct.unpack, 's', 'abc'))",
                "unfinished string in data",
            ),
            (
                "return select(2, pcall(struct.unpack, 'i', 'abc'))",
                "bad argument #2 to '?' (data string too short)",
            ),
            (
                "return select(2, pcall(struct.unpack, 'b', 'abc', 4))",
                "bad argument #2 to '?' (data string too short)",
            ),
            (
                "return select(2, pcall(struct.unpack, 'b', 'abc', 0))",
                "bad argument #3 to '?' (offset must be 1 or greater)",
            ),
            (
                "return select(2, pcall(struct.unpack, 'b', 'abc', -1))",
                "bad argument #2 to '?' (data string too short)",
            ),
            (
                "return select(2, pcall(struct.unpack, 'b'))",
                "bad argument #2 to '?' (string expected, got no value)",
            ),
            (
                "return select(2, pcall(struct.unpack, 'q', 'abc'))",
                "bad argument #1 to '?' (invalid format option 'q')",
            ),
            (
                "return select(2, pcall(struct.unpack, 'b', 'abc', 'x'))",
                "bad argument #3 to '?' (number expected, got string)",
            ),
            (
                "return select(2, pcall(struct.unpack, '!bi8', '\\1\\0\\0\\0\\2\\0\\0\\0\\0\\0\\0\\0'))",
                "bad argument #2 to '?' (data string too short)",
            ),
        ]);
    }

    #[test]
    fn unpack_result_limit_matches_lua_stack() {
        check(&[
            (
                "return select('#', struct.unpack(string.rep('b', 7997), string.rep('a', 8000)))",
                "7998",
            ),
            (
                "return select(2, pcall(struct.unpack, string.rep('b', 7998), string.rep('a', 8000)))",
                "stack overflow (too many results)",
            ),
        ]);
    }

    #[test]
    fn size_of_formats() {
        check(&[
            (
                "return table.concat({struct.size('bhilfdT'), struct.size('!bhilfdT'), \
                 struct.size('!4bd'), struct.size('c10'), struct.size('x'), struct.size('i3'), \
                 struct.size('<>'), struct.size('zq'), struct.size('!i7b')}, ' ')",
                "35 40 12 10 1 3 0 0 14",
            ),
            (
                "return struct.size('!16bd') .. ' ' .. struct.size('!1bd') .. ' ' .. struct.size('!bi16b')",
                "16 9 25",
            ),
            (
                "return select(2, pcall(struct.size, 's'))",
                "bad argument #1 to '?' (option 's' has no fixed size)",
            ),
            (
                "return select(2, pcall(struct.size, 'c0'))",
                "bad argument #1 to '?' (option 'c0' has no fixed size)",
            ),
            (
                "return select(2, pcall(struct.size, '#'))",
                "bad argument #1 to '?' (invalid format option '#')",
            ),
            (
                "return select(2, pcall(struct.size, 'i40'))",
                "integral size 40 is larger than limit of 32",
            ),
            (
                "return select(2, pcall(struct.size, '!5'))",
                "alignment 5 is not a power of 2",
            ),
            (
                "return select(2, pcall(struct.size))",
                "bad argument #1 to '?' (string expected, got no value)",
            ),
        ]);
    }

    #[test]
    fn huge_counts_do_not_allocate_or_panic() {
        check(&[
            (
                "return select(2, pcall(struct.pack, 'c2147483647', 'x'))",
                "bad argument #3 to '?' (string too short)",
            ),
            (
                "return select(2, pcall(struct.unpack, 'c2147483647', 'x'))",
                "bad argument #2 to '?' (data string too short)",
            ),
            (
                "return struct.size(string.rep('c2147483647', 100))",
                "214748364700",
            ),
        ]);
    }
}
