//! `bit`: LuaBitOp 1.0.2 as bundled with Redis — 32-bit bitwise operations
//! on Lua numbers, results returned as signed 32-bit values.

use mlua::{Lua, MultiValue, Table, Value};

use super::{Args, Ret, module_with};

/// 2^52 + 2^51: adding it to a double leaves the number, rounded to an
/// integer (ties to even) and reduced modulo 2^32, in the low mantissa bits.
const BIT_MAGIC: f64 = 6_755_399_441_055_744.0;

/// Builds the `bit` module table.
pub(super) fn create_module(lua: &Lua) -> mlua::Result<Table> {
    type Op = fn(&Lua, MultiValue) -> mlua::Result<Ret>;
    let funcs: Vec<(&'static str, Op)> = vec![
        ("tobit", |l, a| unary(l, a, "tobit", |b| b)),
        ("bnot", |l, a| unary(l, a, "bnot", |b| !b)),
        ("band", |l, a| fold(l, a, "band", |x, y| x & y)),
        ("bor", |l, a| fold(l, a, "bor", |x, y| x | y)),
        ("bxor", |l, a| fold(l, a, "bxor", |x, y| x ^ y)),
        ("lshift", |l, a| shift(l, a, "lshift", |b, n| b << n)),
        ("rshift", |l, a| shift(l, a, "rshift", |b, n| b >> n)),
        ("arshift", |l, a| {
            shift(l, a, "arshift", |b, n| ((b as i32) >> n) as u32)
        }),
        ("rol", |l, a| shift(l, a, "rol", u32::rotate_left)),
        ("ror", |l, a| shift(l, a, "ror", u32::rotate_right)),
        ("bswap", |l, a| unary(l, a, "bswap", u32::swap_bytes)),
        ("tohex", tohex),
    ];
    module_with(lua, funcs)
}

/// Converts argument `pos` to a 32-bit pattern the way LuaBitOp does: any
/// value goes through `lua_tonumber`, and a zero result from something that
/// is not a number is a type error.
fn barg(args: &Args, pos: usize) -> mlua::Result<u32> {
    let n = args.to_number(pos)?;
    let bits = to_bits(n.unwrap_or(0.0));
    if bits == 0 && n.is_none() {
        return Err(args.type_error(pos, "number"));
    }
    Ok(bits)
}

/// The magic-number conversion from a double to its low 32 bits.
fn to_bits(n: f64) -> u32 {
    (n + BIT_MAGIC).to_bits() as u32
}

/// Result convention: the bit pattern as a signed 32-bit number.
fn ret(b: u32) -> mlua::Result<Ret> {
    Ret::one(Value::Number(b as i32 as f64))
}

fn unary(lua: &Lua, args: MultiValue, name: &'static str, op: fn(u32) -> u32) -> mlua::Result<Ret> {
    let args = Args::new(lua, name, args);
    ret(op(barg(&args, 1)?))
}

fn fold(
    lua: &Lua,
    args: MultiValue,
    name: &'static str,
    op: fn(u32, u32) -> u32,
) -> mlua::Result<Ret> {
    let args = Args::new(lua, name, args);
    let mut b = barg(&args, 1)?;
    // LuaBitOp folds from the last argument down to the second.
    for pos in (2..=args.len()).rev() {
        b = op(b, barg(&args, pos)?);
    }
    ret(b)
}

fn shift(
    lua: &Lua,
    args: MultiValue,
    name: &'static str,
    op: fn(u32, u32) -> u32,
) -> mlua::Result<Ret> {
    let args = Args::new(lua, name, args);
    let b = barg(&args, 1)?;
    let n = barg(&args, 2)? & 31;
    ret(op(b, n))
}

/// `bit.tohex(x [, n])`: `n` hex digits (default 8, at most 8); a negative
/// `n` selects upper-case digits.
fn tohex(lua: &Lua, args: MultiValue) -> mlua::Result<Ret> {
    let args = Args::new(lua, "tohex", args);
    let mut b = barg(&args, 1)?;
    let n = if args.get(2).is_none() {
        8
    } else {
        barg(&args, 2)? as i32
    };
    let digits: &[u8; 16] = if n < 0 {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let count = n.unsigned_abs().min(8) as usize;
    let mut buf = vec![0u8; count];
    for slot in buf.iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    Ret::one(Value::String(lua.create_string(&buf)?))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::check;

    #[test]
    fn redis_suite_minimal_bitop() {
        check(&[(
            "assert(bit.tobit(1) == 1) assert(bit.band(1) == 1) \
             assert(bit.bxor(1,2) == 3) assert(bit.bor(1,2,4,8,16,32,64,128) == 255) return 'ok'",
            "ok",
        )]);
    }

    #[test]
    fn tobit_wraps_and_rounds_like_redis() {
        check(&[
            ("return bit.tobit(2^32+5)", "5"),
            ("return bit.tobit(-1)", "-1"),
            ("return bit.tobit(2^31)", "-2147483648"),
            ("return bit.tobit(1.5)", "2"),
            ("return bit.tobit(2.5)", "2"),
            ("return bit.tobit(-1.5)", "-2"),
            ("return bit.tobit(1e100)", "630506365"),
            ("return bit.tobit(0/0)", "0"),
            ("return bit.tobit(1/0)", "0"),
            ("return bit.tobit('0x10')", "16"),
            ("return bit.tobit(' 12 ')", "12"),
            ("return bit.tobit(2^53)", "0"),
            ("return bit.tobit(2^52+3)", "2"),
            ("return bit.tobit(-2^52-3)", "-12"),
        ]);
    }

    #[test]
    fn shifts_rotates_and_swaps() {
        check(&[
            ("return bit.lshift(1, 31)", "-2147483648"),
            ("return bit.lshift(1, 32)", "1"),
            ("return bit.lshift(1, 33)", "2"),
            ("return bit.lshift(1, -1)", "-2147483648"),
            ("return bit.rshift(-1, 1)", "2147483647"),
            ("return bit.rshift(-1, 0)", "-1"),
            ("return bit.arshift(-8, 2)", "-2"),
            ("return bit.arshift(-1, 31)", "-1"),
            ("return bit.rol(0x12345678, 4)", "591751041"),
            ("return bit.ror(0x12345678, 4)", "-2128394905"),
            ("return bit.rol(1, 0)", "1"),
            ("return bit.ror(1, 32)", "1"),
            ("return bit.bswap(0x12345678)", "2018915346"),
            ("return bit.bswap(-1)", "-1"),
            ("return bit.bnot(0)", "-1"),
            ("return bit.band(0xff, 0x0f, 0x3)", "3"),
            ("return bit.bxor(1,2,4,1)", "6"),
            ("return bit.rshift(0x80000000, 31)", "1"),
        ]);
    }

    #[test]
    fn tohex_formats() {
        check(&[
            ("return bit.tohex(1)", "00000001"),
            ("return bit.tohex(-1)", "ffffffff"),
            ("return bit.tohex(255, 2)", "ff"),
            ("return bit.tohex(255, -4)", "00FF"),
            ("return bit.tohex(0x12345678, 20)", "12345678"),
            ("return bit.tohex(1, 0)", ""),
            ("return bit.tohex(0xdeadbeef, -8)", "DEADBEEF"),
            ("return bit.tohex(1, -2^31)", "00000001"),
        ]);
    }

    #[test]
    fn argument_errors() {
        check(&[
            (
                "return select(2, pcall(bit.tohex, 1, nil))",
                "bad argument #2 to '?' (number expected, got nil)",
            ),
            (
                "return select(2, pcall(bit.band, 1, 'x'))",
                "bad argument #2 to '?' (number expected, got string)",
            ),
            (
                "return select(2, pcall(bit.band, 1, {}))",
                "bad argument #2 to '?' (number expected, got table)",
            ),
            (
                "return select(2, pcall(bit.tobit, true))",
                "bad argument #1 to '?' (number expected, got boolean)",
            ),
            (
                "return select(2, pcall(bit.lshift, 5))",
                "bad argument #2 to '?' (number expected, got no value)",
            ),
        ]);
    }
}
