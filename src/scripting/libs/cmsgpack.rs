//! `cmsgpack`: lua-cmsgpack 0.4.0 as bundled with Redis — MessagePack
//! encoding of Lua values and decoding of (streams of) MessagePack objects.

use mlua::{Lua, MultiValue, Table, Value};

use super::{
    Args, LUA_MAX_C_STACK, Ret, arg_error, as_number, module_with, raw_error, runtime_error,
};

/// Tables nested deeper than this are encoded as nil, which also stops
/// cycles.
const MAX_NESTING: usize = 16;

const TOO_MANY_VALUES: &str =
    "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";
const ARRAY_STACK_OVERFLOW: &str = "stack overflow (in function mp_decode_to_lua_array)";

/// Builds the `cmsgpack` module table.
pub(super) fn create_module(lua: &Lua) -> mlua::Result<Table> {
    type Op = fn(&Lua, MultiValue) -> mlua::Result<Ret>;
    let funcs: Vec<(&'static str, Op)> = vec![
        ("pack", pack),
        ("unpack", |l, a| {
            let args = Args::new(l, "unpack", a);
            let base = args.len();
            unpack_full(l, &args, 0, 0, base)
        }),
        ("unpack_one", |l, a| {
            let args = Args::new(l, "unpack_one", a);
            let offset = args.opt_integer(2, 0)?;
            unpack_full(l, &args, 1, offset, 1)
        }),
        ("unpack_limit", |l, a| {
            let args = Args::new(l, "unpack_limit", a);
            let limit = args.check_integer(2)?;
            let offset = args.opt_integer(3, 0)?;
            unpack_full(l, &args, limit, offset, 1)
        }),
    ];
    let module = module_with(lua, funcs)?;
    module.raw_set("_NAME", "cmsgpack")?;
    module.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    module.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    module.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(module)
}

// ---------------------------------------------------------------- encoding

/// `cmsgpack.pack(...)`: the concatenated encodings of all arguments.
fn pack(lua: &Lua, args: MultiValue) -> mlua::Result<Ret> {
    let nargs = args.len();
    if nargs == 0 {
        return Err(arg_error("pack", 0, "MessagePack pack needs input."));
    }
    // lua_checkstack(L, nargs) on top of the nargs already there.
    if nargs * 2 > LUA_MAX_C_STACK {
        return Err(arg_error(
            "pack",
            0,
            "Too many arguments for MessagePack pack.",
        ));
    }
    let mut buf = Vec::new();
    for v in args {
        encode_value(&mut buf, &v, 0)?;
    }
    Ret::one(Value::String(lua.create_string(&buf)?))
}

fn encode_value(buf: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(buf, &s.as_bytes()),
        Value::Boolean(b) => buf.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => encode_number(buf, as_number(v).unwrap_or(0.0)),
        Value::Table(t) if level < MAX_NESTING => encode_table(buf, t, level)?,
        _ => buf.push(0xc0),
    }
    Ok(())
}

fn encode_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | len as u8);
    } else if len <= 0xff {
        buf.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

/// Integral doubles that fit an `int64_t` use the integer formats; others
/// use float32 when exact, else float64.
fn encode_number(buf: &mut Vec<u8>, n: f64) {
    if n.is_finite()
        && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n)
        && n.trunc() == n
    {
        encode_int(buf, n as i64);
    } else {
        let f = n as f32;
        if f64::from(f) == n {
            buf.push(0xca);
            buf.extend_from_slice(&f.to_be_bytes());
        } else {
            buf.push(0xcb);
            buf.extend_from_slice(&n.to_be_bytes());
        }
    }
}

fn encode_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            buf.push(n as u8);
        } else if n <= 0xff {
            buf.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            buf.push(0xcd);
            buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            buf.push(0xce);
            buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            buf.push(0xcf);
            buf.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -128 {
        buf.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_header(buf: &mut Vec<u8>, n: usize, fix: u8, tag16: u8, tag32: u8) {
    if n <= 15 {
        buf.push(fix | n as u8);
    } else if n <= 0xffff {
        buf.push(tag16);
        buf.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        buf.push(tag32);
        buf.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Tables whose keys are exactly 1..N become arrays, all others maps.
fn encode_table(buf: &mut Vec<u8>, t: &Table, level: usize) -> mlua::Result<()> {
    if table_is_array(t)? {
        let len = t.raw_len();
        encode_header(buf, len, 0x90, 0xdc, 0xdd);
        for i in 1..=len {
            // The C code reads elements with lua_gettable (metamethods apply).
            let v: Value = t.get(i)?;
            encode_value(buf, &v, level + 1)?;
        }
    } else {
        let mut count = 0usize;
        for pair in t.pairs::<Value, Value>() {
            pair?;
            count += 1;
        }
        encode_header(buf, count, 0x80, 0xde, 0xdf);
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            encode_value(buf, &k, level + 1)?;
            encode_value(buf, &v, level + 1)?;
        }
    }
    Ok(())
}

/// True when every key is a positive integer (within C `int` range) and the
/// largest equals the key count, i.e. the keys are exactly 1..N.
fn table_is_array(t: &Table) -> mlua::Result<bool> {
    let mut count: i64 = 0;
    let mut max: i64 = 0;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let Some(n) = as_number(&k) else {
            return Ok(false);
        };
        if n <= 0.0 || n >= 2_147_483_648.0 || n.trunc() != n {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

// ---------------------------------------------------------------- decoding

enum DecodeError {
    /// Input ended in the middle of an object.
    Eof,
    /// A type byte this library does not understand.
    BadFormat,
    /// Any other error, passed through unchanged.
    Lua(mlua::Error),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Lua(e)
    }
}

/// Byte cursor over the input.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.left() < n {
            return Err(DecodeError::Eof);
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }
}

/// What one header produced: a finished value or the start of a container.
enum Item {
    Value(Value),
    Array(usize),
    Map(usize),
}

/// An open container while decoding; the tables themselves (and pending map
/// keys) live in a Lua-side stack table so deep nesting holds no Rust refs.
enum Frame {
    Array { remaining: usize, next_index: usize },
    Map { remaining: usize, have_key: bool },
}

/// Decoder state, including a replay of the C implementation's Lua stack
/// usage so "stack overflow" errors happen at the same depths.
struct Decoder<'a> {
    lua: &'a Lua,
    cur: Cursor<'a>,
    /// Slots the C function would have on its Lua stack right now.
    top: usize,
    frames: Vec<Frame>,
    /// Lua table holding, for open frame `d` (1-based), the table at `2d-1`
    /// and a pending map key at `2d`.
    open: Table,
}

impl<'a> Decoder<'a> {
    fn check_stack(&self, msg: &str) -> Result<(), DecodeError> {
        if self.top + 1 > LUA_MAX_C_STACK {
            return Err(DecodeError::Lua(runtime_error(msg)));
        }
        Ok(())
    }

    fn header(&mut self) -> Result<Item, DecodeError> {
        if self.cur.left() == 0 {
            return Err(DecodeError::Eof);
        }
        self.check_stack(TOO_MANY_VALUES)?;
        let tag = self.cur.take(1)?[0];
        let lua = self.lua;
        let num = |n: f64| Ok(Item::Value(Value::Number(n)));
        match tag {
            0xcc => num(self.cur.be(1)? as f64),
            0xd0 => num(f64::from(self.cur.be(1)? as u8 as i8)),
            0xcd => num(self.cur.be(2)? as f64),
            0xd1 => num(f64::from(self.cur.be(2)? as u16 as i16)),
            0xce => num(self.cur.be(4)? as f64),
            0xd2 => num(f64::from(self.cur.be(4)? as u32 as i32)),
            // Pushed through lua_Integer, so values above i64::MAX wrap.
            0xcf => num(self.cur.be(8)? as i64 as f64),
            0xd3 => num(self.cur.be(8)? as i64 as f64),
            0xc0 => Ok(Item::Value(Value::Nil)),
            0xc3 => Ok(Item::Value(Value::Boolean(true))),
            0xc2 => Ok(Item::Value(Value::Boolean(false))),
            0xca => num(f64::from(f32::from_bits(self.cur.be(4)? as u32))),
            0xcb => num(f64::from_bits(self.cur.be(8)?)),
            0xd9..=0xdb => {
                let width = match tag {
                    0xd9 => 1,
                    0xda => 2,
                    _ => 4,
                };
                let len = self.cur.be(width)? as usize;
                let bytes = self.cur.take(len)?;
                Ok(Item::Value(Value::String(lua.create_string(bytes)?)))
            }
            0xdc => Ok(Item::Array(self.cur.be(2)? as usize)),
            0xdd => Ok(Item::Array(self.cur.be(4)? as usize)),
            0xde => Ok(Item::Map(self.cur.be(2)? as usize)),
            0xdf => Ok(Item::Map(self.cur.be(4)? as usize)),
            t if t & 0x80 == 0 => num(f64::from(t)),
            t if t & 0xe0 == 0xe0 => num(f64::from(t as i8)),
            t if t & 0xe0 == 0xa0 => {
                let bytes = self.cur.take(usize::from(t & 0x1f))?;
                Ok(Item::Value(Value::String(lua.create_string(bytes)?)))
            }
            t if t & 0xf0 == 0x90 => Ok(Item::Array(usize::from(t & 0x0f))),
            t if t & 0xf0 == 0x80 => Ok(Item::Map(usize::from(t & 0x0f))),
            _ => Err(DecodeError::BadFormat),
        }
    }

    /// Decodes one complete top-level object.
    fn object(&mut self) -> Result<Value, DecodeError> {
        loop {
            let mut value = match self.header()? {
                Item::Value(v) => v,
                Item::Array(n) => {
                    self.top += 1;
                    self.check_stack(ARRAY_STACK_OVERFLOW)?;
                    let t = self.lua.create_table()?;
                    if n == 0 {
                        self.top -= 1;
                        Value::Table(t)
                    } else {
                        self.push_frame(
                            t,
                            Frame::Array {
                                remaining: n,
                                next_index: 1,
                            },
                        )?;
                        self.top += 1; // the index pushed before each element
                        continue;
                    }
                }
                Item::Map(n) => {
                    self.top += 1;
                    let t = self.lua.create_table()?;
                    if n == 0 {
                        self.top -= 1;
                        Value::Table(t)
                    } else {
                        self.push_frame(
                            t,
                            Frame::Map {
                                remaining: n,
                                have_key: false,
                            },
                        )?;
                        continue;
                    }
                }
            };
            // Hand the finished value to its parent, closing every container
            // it completes.
            loop {
                let depth = self.frames.len();
                let Some(frame) = self.frames.last_mut() else {
                    return Ok(value);
                };
                let table: Table = self.open.raw_get(2 * depth - 1)?;
                match frame {
                    Frame::Array {
                        remaining,
                        next_index,
                    } => {
                        table.raw_set(*next_index, value)?;
                        *next_index += 1;
                        *remaining -= 1;
                        if *remaining > 0 {
                            break; // index slot is reused for the next element
                        }
                        self.top -= 1;
                    }
                    Frame::Map {
                        remaining,
                        have_key,
                    } => {
                        if !*have_key {
                            *have_key = true;
                            self.open.raw_set(2 * depth, value)?;
                            self.top += 1;
                            break;
                        }
                        let key: Value = self.open.raw_get(2 * depth)?;
                        set_field(&table, key, value)?;
                        self.open.raw_set(2 * depth, Value::Nil)?;
                        *have_key = false;
                        self.top -= 1;
                        *remaining -= 1;
                        if *remaining > 0 {
                            break;
                        }
                    }
                }
                self.frames.pop();
                self.open.raw_set(2 * depth - 1, Value::Nil)?;
                self.top -= 1;
                value = Value::Table(table);
            }
        }
    }

    fn push_frame(&mut self, t: Table, frame: Frame) -> mlua::Result<()> {
        self.frames.push(frame);
        self.open.raw_set(2 * self.frames.len() - 1, t)
    }
}

/// `t[key] = value` with the errors `lua_settable` raises for bad keys.
fn set_field(t: &Table, key: Value, value: Value) -> mlua::Result<()> {
    match key {
        Value::Nil => Err(raw_error("table index is nil")),
        Value::Number(n) if n.is_nan() => Err(raw_error("table index is NaN")),
        key => t.raw_set(key, value),
    }
}

/// Shared body of `unpack`, `unpack_one` and `unpack_limit`.  With both
/// `limit` and `offset` zero every object is returned; otherwise the next
/// offset (-1 at the end) comes first.  `base` is the Lua stack depth the C
/// version starts from.
fn unpack_full(lua: &Lua, args: &Args, limit: i64, offset: i64, base: usize) -> mlua::Result<Ret> {
    let data = args.check_bytes(1)?;
    let len = data.len();
    if offset < 0 || limit < 0 {
        // The C text prints the input length where it says "limit".
        return Err(runtime_error(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(runtime_error(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let results = lua.create_table()?;
    let mut dec = Decoder {
        lua,
        cur: Cursor {
            data: &data,
            pos: offset as usize,
        },
        top: base,
        frames: Vec::new(),
        open: lua.create_table()?,
    };
    let mut count: usize = 0;
    while dec.cur.left() > 0 && (count as i64) < limit {
        match dec.object() {
            Ok(v) => {
                count += 1;
                dec.top += 1;
                results.raw_set(count, v)?;
            }
            Err(DecodeError::Eof) => return Err(runtime_error("Missing bytes in input.")),
            Err(DecodeError::BadFormat) => return Err(runtime_error("Bad data format in input.")),
            Err(DecodeError::Lua(e)) => return Err(e),
        }
    }
    if decode_all {
        return Ok(Ret::Packed(results, count));
    }
    let next = if dec.cur.left() == 0 {
        -1
    } else {
        dec.cur.pos as i64
    };
    // Shift the objects up by one to put the offset first.
    for i in (1..=count).rev() {
        let v: Value = results.raw_get(i)?;
        results.raw_set(i + 1, v)?;
    }
    results.raw_set(1, next)?;
    Ok(Ret::Packed(results, count + 1))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{check_hex as check, eval, lua};

    fn all(expr: &str) -> String {
        format!(
            "local r = {{{expr}}} for i = 1, select('#', {expr}) do r[i] = tostring(r[i]) end \
             return table.concat(r, ' ')"
        )
    }

    #[test]
    fn redis_suite_pack_double_and_negative_int64() {
        check(&[
            ("return hex(cmsgpack.pack(0.1))", "cb3fb999999999999a"),
            (
                "return hex(cmsgpack.pack(-1099511627776))",
                "d3ffffff0000000000",
            ),
        ]);
    }

    #[test]
    fn redis_suite_smoke_test() {
        check(&[(
            r#"
            local str_lt_32 = string.rep("x", 30)
            local str_lt_255 = string.rep("x", 250)
            local str_lt_65535 = string.rep("x", 65530)
            local str_long = string.rep("x", 100000)
            local array_big = {}
            for i = 1, 100000 do array_big[i] = i end
            local map_big = {}
            for i = 1, 100000 do map_big[tostring(i)] = i end
            local some_map = {
                s1 = str_lt_32, s2 = str_lt_255, s3 = str_lt_65535, s4 = str_long,
                d1 = 0.1, i1 = 1, i2 = 250, i3 = 65530, i4 = 100000, i5 = 2^40,
                i6 = -1, i7 = -120, i8 = -32000, i9 = -100000, i10 = -3147483648,
                a1 = {1, 2, 3, 4, 5},
                a2 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18},
                a3 = array_big, m1 = {a = 1, b = 2}, m2 = map_big,
                b1 = false, b2 = true, n = nil,
            }
            local encoded = cmsgpack.pack(some_map)
            local decoded = cmsgpack.unpack(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            for k, v in pairs(some_map) do
                if type(v) ~= 'table' then assert(decoded[k] == v, k) end
            end
            assert(#decoded.a3 == 100000 and decoded.m2["77777"] == 77777)
            local offset, decoded_one = cmsgpack.unpack_one(encoded, 0)
            assert(table.concat(some_map) == table.concat(decoded_one))
            assert(offset == -1)
            local multi = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long)
            local obj
            offset, obj = cmsgpack.unpack_limit(multi, 1, 0)
            assert(obj == str_lt_32)
            offset, obj = cmsgpack.unpack_limit(multi, 1, offset)
            assert(obj == str_lt_255)
            offset, obj = cmsgpack.unpack_limit(multi, 1, offset)
            assert(obj == str_lt_65535)
            offset, obj = cmsgpack.unpack_limit(multi, 1, offset)
            assert(obj == str_long)
            assert(offset == -1)
            return 'ok'"#,
            "ok",
        )]);
    }

    #[test]
    fn redis_suite_circular_references() {
        let want = "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905\
                    a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0 true true";
        check(&[(
            "local a = {x=nil,y=5} local b = {x=a} a['x'] = b \
             local encoded = cmsgpack.pack(a) local re = cmsgpack.unpack(encoded) \
             assert(re and re.x and re.x.x.y == re.y and re.x.x.x.x.y == re.y) \
             assert(re.x.x.x.x.x.x.y == re.y and re.x.x.x.x.x.x.x.x.x.x.y == re.y) \
             assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y) \
             assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x) \
             assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil) \
             return hex(encoded) .. ' ' .. tostring(re.x.x.x.x.x.x.x.x.y == re.y) .. ' ' .. tostring(re.y == 5)",
            want,
        )]);
    }

    #[test]
    fn pack_exact_bytes() {
        check(&[
            (
                "return hex(cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 2^32-1, 2^32, 2^53, \
                 -1, -32, -33, -128, -129, -32768, -32769, -2^31, -2^31-1, -2^53))",
                "00017fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000cf0020000000000000\
                 ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffffd3ffe0000000000000",
            ),
            (
                "return hex(cmsgpack.pack(0.5, 0.1, -0.0, 1/0, -1/0, 1e300, 2^63, -2^63, 2^64, 1.5, 3.4e38, 1e-50))",
                "ca3f000000cb3fb999999999999a00caff800000ca7f800000cb7e37e43c8800759cca5f000000\
                 d38000000000000000ca5f800000ca3fc00000cb47eff933c78cdfadcb358dee7a4ad4b81f",
            ),
            ("return hex(cmsgpack.pack(0/0)):sub(1, 4)", "cbff"),
            (
                "return hex(cmsgpack.pack(true, false, nil, cjson.null, {}, {1,2}, {a=1}, \
                 {[1]=1,[3]=3}, {[0]=1}, {1.5}, '', 'abc', string.rep('x', 31), string.rep('y', 32)))",
                "c3c2c0c09092010281a16101820101030381000191ca3fc00000a0a3616263bf\
                 78787878787878787878787878787878787878787878787878787878787878d920\
                 7979797979797979797979797979797979797979797979797979797979797979",
            ),
            (
                "return hex(cmsgpack.pack(string.rep('x', 255))):sub(1,10) .. ' ' .. \
                 hex(cmsgpack.pack(string.rep('x', 256))):sub(1,10) .. ' ' .. \
                 hex(cmsgpack.pack(string.rep('x', 65536))):sub(1,14)",
                "d9ff787878 da01007878 db000100007878",
            ),
            (
                "local t = {} for i=1,16 do t[i]=i end local m = {} for i=1,16 do m['k'..i] = i end \
                 return hex(cmsgpack.pack(t)):sub(1,8) .. ' ' .. hex(cmsgpack.pack(m)):sub(1,8)",
                "dc001001 de0010a3",
            ),
            (
                "local t = {} for i=1,65536 do t[i]=1 end return hex(cmsgpack.pack(t)):sub(1,12)",
                "dd0001000001",
            ),
            (
                "return hex(cmsgpack.pack(coroutine.create(function() end)))",
                "c0",
            ),
            (
                "local t = {} local c = t for i=1,20 do c[1] = {} c = c[1] end return hex(cmsgpack.pack(t))",
                "91919191919191919191919191919191c0",
            ),
            ("return hex(cmsgpack.pack({[2^31]=1}))", "81ce8000000001"),
            (
                "return hex(cmsgpack.pack({[1]=1, [2]=2, [2.0000001]=3}))",
                "8301010202cb400000000d6bf94d03",
            ),
        ]);
    }

    #[test]
    fn pack_argument_errors() {
        check(&[
            (
                "return select(2, pcall(cmsgpack.pack))",
                "bad argument #0 to '?' (MessagePack pack needs input.)",
            ),
            (
                "local t={} for i=1,4000 do t[i]=1 end return #cmsgpack.pack(unpack(t))",
                "4000",
            ),
            (
                "local t={} for i=1,4001 do t[i]=1 end return select(2, pcall(cmsgpack.pack, unpack(t)))",
                "bad argument #0 to '?' (Too many arguments for MessagePack pack.)",
            ),
        ]);
    }

    #[test]
    fn unpack_scalars() {
        check(&[
            (
                &all(
                    "cmsgpack.unpack('\\204\\255\\208\\255\\205\\1\\0\\209\\255\\0\\206\\255\\255\\255\\255\\210\\255\\255\\255\\255\\207\\0\\0\\0\\1\\0\\0\\0\\0\\211\\255\\255\\255\\255\\255\\255\\255\\255\\192\\195\\194')",
                ),
                "255 -1 256 -256 4294967295 -1 4294967296 -1 nil true false",
            ),
            (
                &all("cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')"),
                "-1",
            ),
            (
                &all("cmsgpack.unpack('\\207\\128\\0\\0\\0\\0\\0\\0\\0')"),
                "-9.2233720368548e+18",
            ),
            (
                &all("cmsgpack.unpack('\\211\\128\\0\\0\\0\\0\\0\\0\\0')"),
                "-9.2233720368548e+18",
            ),
            (
                &all(
                    "cmsgpack.unpack('\\202\\63\\192\\0\\0\\203\\63\\185\\153\\153\\153\\153\\153\\154\\127\\224\\0')",
                ),
                "1.5 0.1 127 -32 0",
            ),
            ("return select('#', cmsgpack.unpack(''))", "0"),
            (&all("cmsgpack.unpack(5)"), "53"),
            ("return type(cmsgpack.unpack('\\147\\1\\192\\3'))", "table"),
            // The length operator finds the border at 1, as on Redis.
            (
                "local t = cmsgpack.unpack('\\147\\1\\192\\3') return #t .. ' ' .. t[3]",
                "1 3",
            ),
            (
                "local t = cmsgpack.unpack('\\130\\1\\2\\3\\4') return t[1] .. ' ' .. t[3]",
                "2 4",
            ),
        ]);
    }

    #[test]
    fn unpack_errors() {
        check(&[
            (
                "return select(2, pcall(cmsgpack.unpack, '\\193'))",
                "Bad data format in input.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, '\\196\\1a'))",
                "Bad data format in input.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, '\\212\\1a'))",
                "Bad data format in input.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, '\\205\\1'))",
                "Missing bytes in input.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, '\\146\\1'))",
                "Missing bytes in input.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, '\\221\\255\\255\\255\\255\\1'))",
                "Missing bytes in input.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, '\\219\\0\\0\\0\\5ab'))",
                "Missing bytes in input.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, '\\220\\0\\1'))",
                "Missing bytes in input.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack))",
                "bad argument #1 to '?' (string expected, got no value)",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, {}))",
                "bad argument #1 to '?' (string expected, got table)",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, '\\130\\192\\2\\3\\4'))",
                "table index is nil",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, '\\129\\203\\127\\248\\0\\0\\0\\0\\0\\0\\1'))",
                "table index is NaN",
            ),
        ]);
    }

    #[test]
    fn unpack_one_and_limit() {
        check(&[
            (&all("cmsgpack.unpack_one(cmsgpack.pack(1,2,3))"), "1 1"),
            (&all("cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 1)"), "2 2"),
            (&all("cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 2)"), "-1 3"),
            (&all("cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 3)"), "-1"),
            (
                &all("cmsgpack.unpack_one(cmsgpack.pack(1,2,3), '1')"),
                "2 2",
            ),
            (
                &all("cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 1.9)"),
                "2 2",
            ),
            (&all("cmsgpack.unpack_one('', 0)"), "-1"),
            (
                &all("cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2)"),
                "2 1 2",
            ),
            (
                &all("cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 0)"),
                "1 2 3",
            ),
            (
                &all("cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 0, 1)"),
                "1",
            ),
            (
                &all("cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 5, 1)"),
                "-1 2 3",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack_one, cmsgpack.pack(1,2,3), 4))",
                "Start offset 4 greater than input length 3.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack_one, cmsgpack.pack(1,2,3), -1))",
                "Invalid request to unpack with offset of -1 and limit of 3.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack_one, cmsgpack.pack(1,2,3), 'x'))",
                "bad argument #2 to '?' (number expected, got string)",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack_limit, cmsgpack.pack(1,2,3)))",
                "bad argument #2 to '?' (number expected, got no value)",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack_limit, cmsgpack.pack(1,2,3), -1))",
                "Invalid request to unpack with offset of 0 and limit of 3.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack_limit, cmsgpack.pack(1,2,3), 1, -5))",
                "Invalid request to unpack with offset of -5 and limit of 3.",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack_one, 'abc', 2^33+1))",
                "Start offset 1 greater than input length 3.",
            ),
        ]);
    }

    #[test]
    fn stack_limits_match_redis() {
        let overflow = "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";
        check(&[
            (
                "return select('#', cmsgpack.unpack(string.rep('\\1', 7999)))",
                "7999",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, string.rep('\\1', 8000)))",
                overflow,
            ),
            (
                "return #{cmsgpack.unpack(string.rep('\\145', 3999) .. '\\1')}",
                "1",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, string.rep('\\145', 4000) .. '\\1'))",
                "stack overflow (in function mp_decode_to_lua_array)",
            ),
            (
                "return #{cmsgpack.unpack(string.rep('\\129\\1', 3999) .. '\\1')}",
                "1",
            ),
            (
                "return select(2, pcall(cmsgpack.unpack, string.rep('\\129\\1', 4000) .. '\\1'))",
                overflow,
            ),
        ]);
    }

    #[test]
    fn deep_and_hostile_input_does_not_panic() {
        let lua = lua();
        // Huge declared lengths with no data, deep nesting, random bytes.
        for code in [
            "return pcall(cmsgpack.unpack, '\\223\\255\\255\\255\\255')",
            "return pcall(cmsgpack.unpack, string.rep('\\221\\255\\255\\255\\255', 100000))",
            "return pcall(cmsgpack.unpack, string.rep('\\223\\255\\255\\255\\255\\1', 100000))",
            "local s = {} for i = 1, 20000 do s[i] = string.char((i * 7919) % 256) end \
             return pcall(cmsgpack.unpack, table.concat(s))",
        ] {
            eval(&lua, code);
        }
    }
}
