//! `cjson`: Lua CJSON 2.1.0 as bundled with Redis — JSON encoding and
//! decoding with Redis's defaults (`%.14g` numbers, `\/` escaping, sparse
//! array detection, nesting limits of 1000).

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{Function, LightUserData, Lua, MultiValue, Table, Value};

use super::{Args, LUA_MAX_C_STACK, Ret, as_number, c_double_to_i32, runtime_error, wrap};

/// Settings shared by the functions of one `cjson` table (`cjson.new()`
/// creates an independent set).
#[derive(Clone, Debug)]
struct Config {
    sparse_convert: i32,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 = error, 1 = emit `nan`/`inf`, 2 = emit `null`.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: i32,
    encode_keep_buffer: i32,
    encode_number_precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: 1,
            encode_keep_buffer: 1,
            encode_number_precision: 14,
        }
    }
}

type Shared = Rc<RefCell<Config>>;

/// Builds a `cjson` module table with its own configuration.
pub(super) fn create_module(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Rc::new(RefCell::new(Config::default()));
    let module = lua.create_table()?;
    type Op = fn(&Lua, &Shared, MultiValue) -> mlua::Result<Ret>;
    let next: Function = lua.globals().raw_get("next")?;
    let encode_cfg = cfg.clone();
    module.raw_set(
        "encode",
        wrap(lua, move |l, a| encode(l, &encode_cfg, &next, a))?,
    )?;
    let funcs: [(&'static str, Op); 8] = [
        ("decode", decode),
        ("encode_sparse_array", cfg_sparse_array),
        ("encode_max_depth", |l, c, a| {
            int_setting(
                l,
                a,
                "encode_max_depth",
                c,
                |c| &mut c.encode_max_depth,
                1,
                i32::MAX,
            )
        }),
        ("decode_max_depth", |l, c, a| {
            int_setting(
                l,
                a,
                "decode_max_depth",
                c,
                |c| &mut c.decode_max_depth,
                1,
                i32::MAX,
            )
        }),
        ("encode_number_precision", |l, c, a| {
            int_setting(
                l,
                a,
                "encode_number_precision",
                c,
                |c| &mut c.encode_number_precision,
                1,
                14,
            )
        }),
        ("encode_keep_buffer", |l, c, a| {
            bool_setting(l, a, "encode_keep_buffer", c, |c| &mut c.encode_keep_buffer)
        }),
        ("encode_invalid_numbers", cfg_encode_invalid_numbers),
        ("decode_invalid_numbers", |l, c, a| {
            bool_setting(l, a, "decode_invalid_numbers", c, |c| {
                &mut c.decode_invalid_numbers
            })
        }),
    ];
    for (name, f) in funcs {
        let cfg = cfg.clone();
        module.raw_set(name, wrap(lua, move |l, a| f(l, &cfg, a))?)?;
    }
    module.raw_set(
        "new",
        wrap(lua, |l, _| Ret::one(Value::Table(create_module(l)?)))?,
    )?;
    module.raw_set("null", null())?;
    module.raw_set("_NAME", "cjson")?;
    module.raw_set("_VERSION", "2.1.0")?;
    Ok(module)
}

/// `cjson.null`: a NULL light userdata, standing for JSON null.
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

// ---------------------------------------------------------- configuration

/// Rejects calls with more than `max` arguments, like `json_arg_init`.
fn arg_init(args: &Args, max: usize) -> mlua::Result<()> {
    if args.len() > max {
        return Err(args.error(max + 1, "found too many arguments"));
    }
    Ok(())
}

/// Applies an optional integer argument within `[min, max]`; returns the
/// (possibly updated) value.
fn int_option(
    args: &Args,
    pos: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> mlua::Result<Value> {
    if !args.is_nil(pos) {
        let value = args.check_integer(pos)? as i32;
        if !(min <= value && value <= max) {
            // The C code always blames argument #1 here.
            return Err(args.error(1, format!("expected integer between {min} and {max}")));
        }
        *setting = value;
    }
    Ok(Value::Number(f64::from(*setting)))
}

/// Applies an optional enumerated argument (a boolean or one of `options`);
/// returns the setting as a boolean for 0/1, otherwise its option name.
fn enum_option(
    args: &Args,
    pos: usize,
    setting: &mut i32,
    options: &[&str],
) -> mlua::Result<Value> {
    match args.get(pos) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = i32::from(*b),
        Some(_) => {
            let name = match args.check_bytes(pos) {
                Ok(name) => name,
                Err(_) => return Err(args.type_error(pos, "string")),
            };
            match options.iter().position(|o| o.as_bytes() == name.as_slice()) {
                Some(i) => *setting = i as i32,
                None => {
                    let name = String::from_utf8_lossy(&name);
                    return Err(args.error(pos, format!("invalid option '{name}'")));
                }
            }
        }
    }
    Ok(match *setting {
        0 => Value::Boolean(false),
        1 => Value::Boolean(true),
        n => Value::String(args.lua().create_string(options[n as usize])?),
    })
}

const ON_OFF: [&str; 2] = ["off", "on"];

fn int_setting(
    lua: &Lua,
    args: MultiValue,
    name: &'static str,
    cfg: &Shared,
    field: fn(&mut Config) -> &mut i32,
    min: i32,
    max: i32,
) -> mlua::Result<Ret> {
    let args = Args::new(lua, name, args);
    arg_init(&args, 1)?;
    let mut cfg = cfg.borrow_mut();
    Ret::one(int_option(&args, 1, field(&mut cfg), min, max)?)
}

fn bool_setting(
    lua: &Lua,
    args: MultiValue,
    name: &'static str,
    cfg: &Shared,
    field: fn(&mut Config) -> &mut i32,
) -> mlua::Result<Ret> {
    let args = Args::new(lua, name, args);
    arg_init(&args, 1)?;
    let mut cfg = cfg.borrow_mut();
    Ret::one(enum_option(&args, 1, field(&mut cfg), &ON_OFF)?)
}

/// `cjson.encode_sparse_array([convert [, ratio [, safe]]])`.  Settings are
/// applied left to right, so a bad later argument keeps earlier changes.
fn cfg_sparse_array(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<Ret> {
    let args = Args::new(lua, "encode_sparse_array", args);
    arg_init(&args, 3)?;
    let mut cfg = cfg.borrow_mut();
    let convert = enum_option(&args, 1, &mut cfg.sparse_convert, &ON_OFF)?;
    let ratio = int_option(&args, 2, &mut cfg.sparse_ratio, 0, i32::MAX)?;
    let safe = int_option(&args, 3, &mut cfg.sparse_safe, 0, i32::MAX)?;
    Ok(Ret::Values(MultiValue::from_vec(vec![
        convert, ratio, safe,
    ])))
}

/// `cjson.encode_invalid_numbers([setting])`: off, on, or "null".
fn cfg_encode_invalid_numbers(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<Ret> {
    let args = Args::new(lua, "encode_invalid_numbers", args);
    arg_init(&args, 1)?;
    let mut cfg = cfg.borrow_mut();
    Ret::one(enum_option(
        &args,
        1,
        &mut cfg.encode_invalid_numbers,
        &["off", "on", "null"],
    )?)
}

// ---------------------------------------------------------------- encoding

/// `cjson.encode(value)`.  `next` is the base library's `next`, used to
/// resume object traversal from a stored key.
fn encode(lua: &Lua, cfg: &Shared, next: &Function, args: MultiValue) -> mlua::Result<Ret> {
    let args = Args::new(lua, "encode", args);
    if args.len() != 1 {
        return Err(args.error(1, "expected 1 argument"));
    }
    let cfg = cfg.borrow().clone();
    let mut enc = Encoder {
        cfg,
        out: Vec::new(),
        frames: Vec::new(),
        open: lua.create_table()?,
    };
    let value = args.get(1).cloned().unwrap_or(Value::Nil);
    enc.run(value, next)?;
    Ret::one(Value::String(lua.create_string(&enc.out)?))
}

/// A table being written.  The table itself (and an object's current key)
/// sit in the Lua-side `open` table, so depth costs no Rust references and
/// no native stack.
struct EncFrame {
    kind: EncKind,
    /// Replay of the C encoder's Lua stack use at this table.
    top: usize,
}

enum EncKind {
    Array { len: i32, next: i32 },
    Object { first: bool },
}

struct Encoder {
    cfg: Config,
    out: Vec<u8>,
    frames: Vec<EncFrame>,
    /// `open[2d-1]` is the table at depth `d`, `open[2d]` its current key.
    open: Table,
}

/// "Cannot serialise <type>: <reason>".
fn cannot_serialise(v: &Value, reason: &str) -> mlua::Error {
    runtime_error(format!(
        "Cannot serialise {}: {reason}",
        super::lua_type_name(v)
    ))
}

impl Encoder {
    /// Encodes `root` iteratively.
    fn run(&mut self, root: Value, next: &Function) -> mlua::Result<()> {
        self.begin(root, 1)?;
        loop {
            let depth = self.frames.len();
            let Some(frame) = self.frames.last_mut() else {
                return Ok(());
            };
            let top = frame.top;
            // Advance the frame's cursor first, then act with `self` free.
            let step = match &mut frame.kind {
                EncKind::Array { len, next: i } if *i > *len => None,
                EncKind::Array { next: i, .. } => {
                    *i += 1;
                    Some((true, *i - 1))
                }
                EncKind::Object { first } => {
                    let was_first = *first;
                    *first = false;
                    Some((false, i32::from(!was_first)))
                }
            };
            let table: Table = self.open.raw_get(2 * depth - 1)?;
            match step {
                None => {
                    self.out.push(b']');
                    self.close(depth)?;
                }
                Some((true, index)) => {
                    if index > 1 {
                        self.out.push(b',');
                    }
                    let v: Value = table.raw_get(index)?;
                    self.begin(v, top + 1)?;
                }
                Some((false, comma)) => {
                    let key: Value = self.open.raw_get(2 * depth)?;
                    let (k, v): (Value, Value) = next.call((table, key))?;
                    if k.is_nil() {
                        self.out.push(b'}');
                        self.close(depth)?;
                        continue;
                    }
                    if comma == 1 {
                        self.out.push(b',');
                    }
                    self.key(&k)?;
                    self.open.raw_set(2 * depth, k)?;
                    self.begin(v, top + 2)?;
                }
            }
        }
    }

    fn close(&mut self, depth: usize) -> mlua::Result<()> {
        self.frames.pop();
        self.open.raw_set(2 * depth - 1, Value::Nil)?;
        self.open.raw_set(2 * depth, Value::Nil)
    }

    /// Writes a scalar, or opens a table (pushing a frame).  `top` is the
    /// C encoder's stack height with `v` on top.
    fn begin(&mut self, v: Value, top: usize) -> mlua::Result<()> {
        match &v {
            Value::String(s) => self.string(&s.as_bytes()),
            Value::Integer(_) | Value::Number(_) => {
                self.number(&v, as_number(&v).unwrap_or(0.0))?
            }
            Value::Boolean(true) => self.out.extend_from_slice(b"true"),
            Value::Boolean(false) => self.out.extend_from_slice(b"false"),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(ud) if ud.0.is_null() => self.out.extend_from_slice(b"null"),
            Value::Table(t) => {
                let depth = self.frames.len() + 1;
                if depth > self.cfg.encode_max_depth as usize || top + 3 > LUA_MAX_C_STACK {
                    return Err(runtime_error(format!(
                        "Cannot serialise, excessive nesting ({depth})"
                    )));
                }
                let kind = match self.array_length(&v, t)? {
                    Some(len) if len > 0 => {
                        self.out.push(b'[');
                        EncKind::Array { len, next: 1 }
                    }
                    _ => {
                        self.out.push(b'{');
                        EncKind::Object { first: true }
                    }
                };
                self.frames.push(EncFrame { kind, top });
                self.open.raw_set(2 * depth - 1, t.clone())?;
            }
            _ => return Err(cannot_serialise(&v, "type not supported")),
        }
        Ok(())
    }

    /// Writes an object key followed by ':'.
    fn key(&mut self, k: &Value) -> mlua::Result<()> {
        match k {
            Value::Integer(_) | Value::Number(_) => {
                self.out.push(b'"');
                self.number(k, as_number(k).unwrap_or(0.0))?;
                self.out.extend_from_slice(b"\":");
            }
            Value::String(s) => {
                self.string(&s.as_bytes());
                self.out.push(b':');
            }
            _ => return Err(cannot_serialise(k, "table key must be a number or string")),
        }
        Ok(())
    }

    /// `Some(max index)` when every key is a positive integer and the array
    /// is not excessively sparse, `None` for objects.
    fn array_length(&self, v: &Value, t: &Table) -> mlua::Result<Option<i32>> {
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        for pair in t.pairs::<Value, Value>() {
            let (k, _) = pair?;
            match as_number(&k) {
                Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                    if k > f64::from(max) {
                        // An `int` assignment in C: huge keys become INT_MIN.
                        max = c_double_to_i32(k);
                    }
                    items = items.wrapping_add(1);
                }
                _ => return Ok(None),
            }
        }
        let cfg = &self.cfg;
        if cfg.sparse_ratio > 0
            && i64::from(max) > i64::from(items) * i64::from(cfg.sparse_ratio)
            && max > cfg.sparse_safe
        {
            if cfg.sparse_convert == 0 {
                return Err(cannot_serialise(v, "excessively sparse array"));
            }
            return Ok(None);
        }
        Ok(Some(max))
    }

    fn number(&mut self, v: &Value, n: f64) -> mlua::Result<()> {
        match self.cfg.encode_invalid_numbers {
            0 if !n.is_finite() => return Err(cannot_serialise(v, "must not be NaN or Inf")),
            1 if n.is_nan() => {
                self.out.extend_from_slice(b"nan");
                return Ok(());
            }
            0 | 1 => {}
            _ if !n.is_finite() => {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        let precision = self.cfg.encode_number_precision.clamp(1, 14) as usize;
        self.out
            .extend_from_slice(format_g(n, precision).as_bytes());
        Ok(())
    }

    fn string(&mut self, s: &[u8]) {
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        for &c in s {
            match c {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'/' => self.out.extend_from_slice(b"\\/"),
                b'\x08' => self.out.extend_from_slice(b"\\b"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\x0c' => self.out.extend_from_slice(b"\\f"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                0..=0x1f | 0x7f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(HEX[usize::from(c >> 4)]);
                    self.out.push(HEX[usize::from(c & 15)]);
                }
                _ => self.out.push(c),
            }
        }
        self.out.push(b'"');
    }
}

/// C's `printf("%.<precision>g", n)`.
pub(crate) fn format_g(n: f64, precision: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let p = precision.max(1);
    // Round once to p significant digits; both forms reuse these digits.
    let sci = format!("{:.*e}", p - 1, n);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::with_capacity(p + 8);
    if negative {
        out.push('-');
    }
    if exp < -4 || exp >= p as i32 {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        let rest = rest.trim_end_matches('0');
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push('0');
        }
        out.push_str(&e.to_string());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        let (int_part, frac) = digits.split_at(int_len.min(digits.len()));
        out.push_str(int_part);
        let frac = frac.trim_end_matches('0');
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
    } else {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

// ---------------------------------------------------------------- decoding

/// One lexical token; errors carry the C implementation's description.
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    /// The name used in "Expected ... but found ..." messages.
    fn describe(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(msg) => msg,
        }
    }
}

/// Tokenizer over the input, which behaves as NUL-terminated like the C
/// string it was in Redis.
struct Lexer<'a> {
    data: &'a [u8],
    pos: usize,
    decode_invalid_numbers: bool,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        word.iter()
            .enumerate()
            .all(|(i, &c)| self.at(self.pos + i) == c)
    }

    /// Next token and the 0-based offset it is reported at.
    fn next(&mut self) -> (Token, usize) {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let start = self.pos;
        let single = match self.at(start) {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b',' => Some(Token::Comma),
            b':' => Some(Token::Colon),
            0 => return (Token::End, start),
            _ => None,
        };
        if let Some(tok) = single {
            self.pos += 1;
            return (tok, start);
        }
        let ch = self.at(start);
        if !matches!(
            ch,
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9'
        ) {
            return (Token::Error("invalid token"), start);
        }
        if ch == b'"' {
            return self.string();
        }
        if ch == b'-' || ch.is_ascii_digit() {
            if !self.decode_invalid_numbers && self.is_invalid_number() {
                return (Token::Error("invalid number"), start);
            }
            return self.number();
        }
        if self.starts_with(b"true") {
            self.pos += 4;
            return (Token::Boolean(true), start);
        }
        if self.starts_with(b"false") {
            self.pos += 5;
            return (Token::Boolean(false), start);
        }
        if self.starts_with(b"null") {
            self.pos += 4;
            return (Token::Null, start);
        }
        if self.decode_invalid_numbers && self.is_invalid_number() {
            return self.number();
        }
        (Token::Error("invalid token"), start)
    }

    /// Numbers strtod accepts but strict JSON does not: leading '+', hex,
    /// leading zeros, inf and nan.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let lower = |i: usize| self.at(p + i).to_ascii_lowercase();
        let word = [lower(0), lower(1), lower(2)];
        &word == b"inf" || &word == b"nan"
    }

    fn number(&mut self) -> (Token, usize) {
        let start = self.pos;
        match strtod(self.data, start) {
            Some((value, end)) => {
                self.pos = end;
                (Token::Number(value), start)
            }
            None => (Token::Error("invalid number"), start),
        }
    }

    fn string(&mut self) -> (Token, usize) {
        let start = self.pos;
        let mut out = Vec::new();
        self.pos += 1;
        loop {
            let ch = self.at(self.pos);
            if ch == b'"' {
                break;
            }
            if ch == 0 {
                return (Token::Error("unexpected end of string"), self.pos);
            }
            if ch != b'\\' {
                out.push(ch);
                self.pos += 1;
                continue;
            }
            let translated = match self.at(self.pos + 1) {
                b'"' => b'"',
                b'\\' => b'\\',
                b'/' => b'/',
                b'b' => 8,
                b't' => b'\t',
                b'n' => b'\n',
                b'f' => 12,
                b'r' => b'\r',
                b'u' => {
                    if !self.unicode_escape(&mut out) {
                        return (Token::Error("invalid unicode escape code"), self.pos);
                    }
                    continue;
                }
                _ => return (Token::Error("invalid escape code"), self.pos),
            };
            out.push(translated);
            self.pos += 2;
        }
        self.pos += 1;
        (Token::Str(out), start)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            let d = char::from(self.at(at + i)).to_digit(16)?;
            Some(acc << 4 | d)
        })
    }

    /// Decodes `\uXXXX` (or a surrogate pair) at `pos` into UTF-8.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false;
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        push_utf8(out, cp);
        self.pos += len;
        true
    }
}

/// UTF-8 encoding without validity checks (lone surrogates cannot reach
/// here; code points are at most 0x10FFFF).
fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    if cp <= 0x7F {
        out.push(cp as u8);
    } else if cp <= 0x7FF {
        out.extend_from_slice(&[0xC0 | (cp >> 6) as u8, 0x80 | (cp & 0x3F) as u8]);
    } else if cp <= 0xFFFF {
        out.extend_from_slice(&[
            0xE0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3F) as u8,
            0x80 | (cp & 0x3F) as u8,
        ]);
    } else {
        out.extend_from_slice(&[
            0xF0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3F) as u8,
            0x80 | ((cp >> 6) & 0x3F) as u8,
            0x80 | (cp & 0x3F) as u8,
        ]);
    }
}

/// glibc `strtod` on the bytes at `start` (decimal, hex floats, inf,
/// infinity, nan, nan(...)); returns the value and the end offset, or
/// `None` when nothing converts.
fn strtod(data: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| data.get(i).copied().unwrap_or(0);
    let ci = |i: usize, word: &[u8]| {
        word.iter()
            .enumerate()
            .all(|(j, &c)| at(i + j).to_ascii_lowercase() == c)
    };
    let mut i = start;
    let negative = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    if ci(i, b"inf") {
        i += 3;
        if ci(i, b"inity") {
            i += 5;
        }
        return Some((sign * f64::INFINITY, i));
    }
    if ci(i, b"nan") {
        i += 3;
        if at(i) == b'(' {
            let mut j = i + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                i = j + 1;
            }
        }
        return Some((sign * f64::NAN, i));
    }
    if at(i) == b'0'
        && at(i + 1) | 0x20 == b'x'
        && (at(i + 2).is_ascii_hexdigit() || (at(i + 2) == b'.' && at(i + 3).is_ascii_hexdigit()))
    {
        let (v, end) = hex_float(data, i + 2);
        return Some((sign * v, end));
    }
    let mantissa_start = i;
    let mut digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    let mantissa_end = i;
    if at(i) | 0x20 == b'e' {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            while at(j).is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    // Rust's parser wants a digit on both sides of '.', so normalize.
    let mut text = String::with_capacity(i - start + 2);
    let mantissa = &data[mantissa_start..mantissa_end];
    if mantissa.first() == Some(&b'.') {
        text.push('0');
    }
    text.push_str(std::str::from_utf8(mantissa).ok()?);
    if text.ends_with('.') {
        text.push('0');
    }
    text.push_str(std::str::from_utf8(&data[mantissa_end..i]).ok()?);
    let v: f64 = text.parse().ok()?;
    Some((sign * v, i))
}

/// Hexadecimal float body (after "0x"): digits, optional fraction, optional
/// binary exponent `p[+-]N`.
fn hex_float(data: &[u8], mut i: usize) -> (f64, usize) {
    let at = |i: usize| data.get(i).copied().unwrap_or(0);
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut seen_point = false;
    loop {
        let c = at(i);
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = char::from(c).to_digit(16) {
            if mantissa >> 56 == 0 {
                mantissa = mantissa << 4 | u64::from(d);
                if seen_point {
                    exp -= 4;
                }
            } else {
                sticky |= d != 0;
                if !seen_point {
                    exp += 4;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if at(i) | 0x20 == b'p' {
        let mut j = i + 1;
        let neg = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(j).is_ascii_digit() {
                e = (e * 10 + i64::from(at(j) - b'0')).min(1 << 20);
                j += 1;
            }
            exp += if neg { -e } else { e };
            i = j;
        }
    }
    if sticky {
        mantissa |= 1;
    }
    let mut v = mantissa as f64;
    // Scale in steps that cannot overflow the exponent of powi.
    let mut e = exp.clamp(-1 << 21, 1 << 21);
    while e != 0 {
        let step = e.clamp(-1000, 1000);
        v *= 2f64.powi(step as i32);
        e -= step;
    }
    (v, i)
}

/// What the decoder is filling: tables live in a Lua-side stack table so
/// deep nesting holds no Rust references.
enum Frame {
    Array { next_index: i64 },
    Object { key: Vec<u8> },
}

/// `cjson.decode(json)`.
fn decode(lua: &Lua, cfg: &Shared, args: MultiValue) -> mlua::Result<Ret> {
    let args = Args::new(lua, "decode", args);
    if args.len() != 1 {
        return Err(args.error(1, "expected 1 argument"));
    }
    let cfg = cfg.borrow().clone();
    let data = args.check_bytes(1)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(runtime_error(
            "JSON parser does not support UTF-16 or UTF-32",
        ));
    }
    let mut p = Parser {
        lua,
        lex: Lexer {
            data: &data,
            pos: 0,
            decode_invalid_numbers: cfg.decode_invalid_numbers != 0,
        },
        max_depth: cfg.decode_max_depth,
        depth: 0,
        top: 1,
        frames: Vec::new(),
        open: lua.create_table()?,
    };
    let value = p.document()?;
    Ret::one(value)
}

struct Parser<'a> {
    lua: &'a Lua,
    lex: Lexer<'a>,
    max_depth: i32,
    depth: i32,
    /// Replay of the C parser's Lua stack use.
    top: usize,
    frames: Vec<Frame>,
    /// Open tables, `open[d]` for nesting level `d`.
    open: Table,
}

fn expected(what: &str, tok: &Token, index: usize) -> mlua::Error {
    runtime_error(format!(
        "Expected {what} but found {} at character {}",
        tok.describe(),
        index + 1
    ))
}

impl Parser<'_> {
    /// Enters a nested container needing `slots` Lua stack slots.
    fn descend(&mut self, slots: usize) -> mlua::Result<()> {
        self.depth += 1;
        if self.depth <= self.max_depth && self.top + slots <= LUA_MAX_C_STACK {
            return Ok(());
        }
        Err(runtime_error(format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.lex.pos
        )))
    }

    fn open_table(&mut self, frame: Frame) -> mlua::Result<()> {
        self.top += 1;
        self.frames.push(frame);
        self.open
            .raw_set(self.frames.len(), self.lua.create_table()?)
    }

    /// Reads `"key" :` after an object's `{` or `,`.
    fn key(&mut self, tok: Token, index: usize) -> mlua::Result<Vec<u8>> {
        let Token::Str(key) = tok else {
            return Err(expected("object key string", &tok, index));
        };
        let (colon, index) = self.lex.next();
        if !matches!(colon, Token::Colon) {
            return Err(expected("colon", &colon, index));
        }
        Ok(key)
    }

    fn document(&mut self) -> mlua::Result<Value> {
        let (mut tok, mut index) = self.lex.next();
        let result = 'doc: loop {
            let mut value = match tok {
                Token::Str(s) => Value::String(self.lua.create_string(&s)?),
                Token::Number(n) => Value::Number(n),
                Token::Boolean(b) => Value::Boolean(b),
                Token::Null => null(),
                Token::ObjBegin => {
                    self.descend(3)?;
                    let (next, next_index) = self.lex.next();
                    if matches!(next, Token::ObjEnd) {
                        self.depth -= 1;
                        Value::Table(self.lua.create_table()?)
                    } else {
                        let key = self.key(next, next_index)?;
                        self.open_table(Frame::Object { key })?;
                        self.top += 1;
                        (tok, index) = self.lex.next();
                        continue;
                    }
                }
                Token::ArrBegin => {
                    self.descend(2)?;
                    let (next, next_index) = self.lex.next();
                    if matches!(next, Token::ArrEnd) {
                        self.depth -= 1;
                        Value::Table(self.lua.create_table()?)
                    } else {
                        self.open_table(Frame::Array { next_index: 1 })?;
                        (tok, index) = (next, next_index);
                        continue;
                    }
                }
                other => return Err(expected("value", &other, index)),
            };
            // Store the value in its container, closing finished ones.
            loop {
                let level = self.frames.len();
                let Some(frame) = self.frames.last_mut() else {
                    break 'doc value;
                };
                let table: Table = self.open.raw_get(level)?;
                let (next, next_index) = self.lex.next();
                match frame {
                    Frame::Array { next_index: i } => {
                        table.raw_set(*i, value)?;
                        *i += 1;
                        match next {
                            Token::ArrEnd => {}
                            Token::Comma => {
                                (tok, index) = self.lex.next();
                                continue 'doc;
                            }
                            other => {
                                return Err(expected("comma or array end", &other, next_index));
                            }
                        }
                    }
                    Frame::Object { key } => {
                        table.raw_set(self.lua.create_string(&*key)?, value)?;
                        self.top -= 1;
                        match next {
                            Token::ObjEnd => {}
                            Token::Comma => {
                                let (k, k_index) = self.lex.next();
                                let key = self.key(k, k_index)?;
                                if let Some(Frame::Object { key: slot }) = self.frames.last_mut() {
                                    *slot = key;
                                }
                                self.top += 1;
                                (tok, index) = self.lex.next();
                                continue 'doc;
                            }
                            other => {
                                return Err(expected("comma or object end", &other, next_index));
                            }
                        }
                    }
                }
                self.frames.pop();
                self.open.raw_set(level, Value::Nil)?;
                self.top -= 1;
                self.depth -= 1;
                value = Value::Table(table);
            }
        };
        let (end, end_index) = self.lex.next();
        if !matches!(end, Token::End) {
            return Err(expected("the end", &end, end_index));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{check, eval, lua};
    use super::format_g;

    fn perr(call: &str) -> String {
        format!("return select(2, pcall({call}))")
    }

    #[test]
    fn redis_suite_numeric_decoding() {
        check(&[(
            "return table.concat(cjson.decode('[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]'), ' ')",
            "0 -5000 -1 0.0003 1023.2 0",
        )]);
    }

    #[test]
    fn redis_suite_string_decoding() {
        check(&[(
            "local d = cjson.decode('{\"keya\": \"a\", \"keyb\": \"b\"}') return d.keya .. d.keyb",
            "ab",
        )]);
    }

    #[test]
    fn redis_suite_smoke_test() {
        check(&[(
            r#"
            local some_map = { s1 = "Some string", n1 = 100, a1 = {"Some", "String", "Array"},
                               nil1 = nil, b1 = true, b2 = false }
            local encoded = cjson.encode(some_map)
            local decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            cjson.encode_keep_buffer(false)
            encoded = cjson.encode(some_map)
            decoded = cjson.decode(encoded)
            assert(table.concat(some_map) == table.concat(decoded))
            local table1 = {one = "one", [1] = "one"}
            decoded = cjson.decode(cjson.encode(table1))
            assert(decoded["one"] == table1["one"])
            assert(decoded["1"] == table1[1])
            local array1 = {[1] = "one", [2] = "two"}
            decoded = cjson.decode(cjson.encode(array1))
            assert(table.concat(array1) == table.concat(decoded))
            local invalid_map = {}
            invalid_map[false] = "false"
            local ok = pcall(cjson.encode, invalid_map)
            assert(ok == false)
            cjson.encode_max_depth(1)
            ok = pcall(cjson.encode, some_map)
            assert(ok == false)
            cjson.decode_max_depth(1)
            ok = pcall(cjson.decode, '{"obj": {"array": [1,2,3,4]}}')
            assert(ok == false)
            ok = pcall(cjson.encode, {num1 = 0/0})
            assert(ok == false)
            cjson.encode_invalid_numbers(true)
            ok = pcall(cjson.encode, {num1 = 0/0})
            assert(ok == true)
            cjson.decode_max_depth(1000)
            cjson.encode_max_depth(1000)
            cjson.encode_invalid_numbers(false)
            return 'ok'"#,
            "ok",
        )]);
    }

    #[test]
    fn encode_tables_and_sparse_arrays() {
        check(&[
            ("return cjson.encode({1,2,3})", "[1,2,3]"),
            ("return cjson.encode({})", "{}"),
            (
                "return cjson.encode({a={b={c={1,{}}}}})",
                r#"{"a":{"b":{"c":[1,{}]}}}"#,
            ),
            ("return cjson.encode({[1]=1,[3]=3})", "[1,null,3]"),
            (
                "return cjson.encode({[10]=1})",
                "[null,null,null,null,null,null,null,null,null,1]",
            ),
            (
                &perr("cjson.encode, {[11]=1}"),
                "Cannot serialise table: excessively sparse array",
            ),
            (
                &perr("cjson.encode, {[1]=1,[11]=3}"),
                "Cannot serialise table: excessively sparse array",
            ),
            ("return cjson.encode({[0]=1})", r#"{"0":1}"#),
            ("return cjson.encode({[-1]=1})", r#"{"-1":1}"#),
            ("return cjson.encode({[1.5]=1})", r#"{"1.5":1}"#),
            ("return cjson.encode({[-0.0]=1})", r#"{"-0":1}"#),
            ("return cjson.encode({[1e300]=1})", r#"{"1e+300":1}"#),
            ("return cjson.encode({cjson.null, nil, 3})", "[null,null,3]"),
            ("return cjson.encode({1, 2, nil, 4})", "[1,2,null,4]"),
            ("return cjson.encode({a=1, [2]=3}):len()", "13"),
            ("return cjson.encode({[1]=1, ['2']=2}):len()", "13"),
            (
                "cjson.encode_sparse_array(true) local r = cjson.encode({[20]=1}) \
                 cjson.encode_sparse_array(false) return r",
                r#"{"20":1}"#,
            ),
            (
                "cjson.encode_sparse_array(false, 0) local r = cjson.encode({[20]=1}) \
                 cjson.encode_sparse_array(false, 2) return r",
                "[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,1]",
            ),
            (
                "local t = setmetatable({}, {__index=function() return 1 end}) return cjson.encode(t)",
                "{}",
            ),
        ]);
    }

    #[test]
    fn encode_huge_integer_keys_follow_c_int_overflow() {
        // {[2^40]=1, [1]=2}: the C code's int max turns INT_MIN, then 1.
        check(&[(
            "local t = {} t[2^40] = 1 t[1] = 2 local s = cjson.encode(t) \
             return (s == '[2]' or s == '{\"1\":2,\"1099511627776\":1}' \
             or s == '{\"1099511627776\":1,\"1\":2}') and 'ok' or s",
            "ok",
        )]);
    }

    #[test]
    fn encode_strings() {
        check(&[
            (
                "return cjson.encode('a/b\"c\\\\d\\1\\8\\9\\10\\12\\13\\31\\127 é')",
                "\"a\\/b\\\"c\\\\d\\u0001\\b\\t\\n\\f\\r\\u001f\\u007f é\"",
            ),
            (
                "return cjson.encode('\\128\\255') == '\"\\128\\255\"' and 'raw' or 'escaped'",
                "raw",
            ),
            ("return cjson.encode('\\0')", "\"\\u0000\""),
        ]);
    }

    #[test]
    fn encode_numbers() {
        check(&[
            ("return cjson.encode(1/3)", "0.33333333333333"),
            (
                "return cjson.encode(123456789012345)",
                "1.2345678901234e+14",
            ),
            ("return cjson.encode(12345678901234)", "12345678901234"),
            ("return cjson.encode(1e15)", "1e+15"),
            ("return cjson.encode(-0.0)", "-0"),
            ("return cjson.encode(1e-5)", "1e-05"),
            ("return cjson.encode(0.0001)", "0.0001"),
            ("return cjson.encode(2^53)", "9.007199254741e+15"),
            (
                "return cjson.encode({0.1, 1e100, -1e-100, 100, -7})",
                "[0.1,1e+100,-1e-100,100,-7]",
            ),
            ("return cjson.encode(nil)", "null"),
            ("return cjson.encode(true)", "true"),
            (
                "return cjson.encode_number_precision(3) .. cjson.encode(1/3) .. cjson.encode(0.125) \
                 .. tostring(cjson.encode_number_precision(14))",
                "30.3330.12514",
            ),
            (
                "return cjson.encode_number_precision(2) .. cjson.encode(0.125) .. cjson.encode(0.375) \
                 .. cjson.encode(2.5) .. cjson.encode(25) .. cjson.encode(35) \
                 .. tostring(cjson.encode_number_precision(14))",
                "20.120.382.5253514",
            ),
        ]);
    }

    #[test]
    fn encode_errors() {
        check(&[
            (
                &perr("cjson.encode, 1/0"),
                "Cannot serialise number: must not be NaN or Inf",
            ),
            (
                &perr("cjson.encode, -1/0"),
                "Cannot serialise number: must not be NaN or Inf",
            ),
            (
                &perr("cjson.encode, 0/0"),
                "Cannot serialise number: must not be NaN or Inf",
            ),
            (
                &perr("cjson.encode, {[1/0]=1}"),
                "Cannot serialise number: must not be NaN or Inf",
            ),
            (
                &perr("cjson.encode, {[true]=1}"),
                "Cannot serialise boolean: table key must be a number or string",
            ),
            (
                &perr("cjson.encode, {a=print}"),
                "Cannot serialise function: type not supported",
            ),
            (
                &perr("cjson.encode, coroutine.create(function() end)"),
                "Cannot serialise thread: type not supported",
            ),
            (
                &perr("cjson.encode"),
                "bad argument #1 to '?' (expected 1 argument)",
            ),
            (
                &perr("cjson.encode, 1, 2"),
                "bad argument #1 to '?' (expected 1 argument)",
            ),
            (
                "local t = {} t[1] = t return select(2, pcall(cjson.encode, t))",
                "Cannot serialise, excessive nesting (1001)",
            ),
            (
                "local t = {} local c = t for i=1,999 do c[1] = {} c = c[1] end return #cjson.encode(t)",
                "2000",
            ),
            (
                "local t = {} local c = t for i=1,1000 do c[1] = {} c = c[1] end \
                 return select(2, pcall(cjson.encode, t))",
                "Cannot serialise, excessive nesting (1001)",
            ),
        ]);
    }

    #[test]
    fn configuration_functions() {
        check(&[
            (
                "return table.concat({tostring(cjson.encode_sparse_array())}, ' ') .. ' ' \
                 .. select(2, cjson.encode_sparse_array()) .. ' ' .. select(3, cjson.encode_sparse_array())",
                "false 2 10",
            ),
            (
                "local a, b, c = cjson.encode_sparse_array(true, 1, 0) \
                 return tostring(a) .. b .. c",
                "true10",
            ),
            (
                "local r = {tostring(cjson.encode_invalid_numbers()), cjson.encode_invalid_numbers('null'), \
                 cjson.encode(0/0), cjson.encode(1/0), tostring(cjson.encode_invalid_numbers(true)), \
                 cjson.encode(0/0), cjson.encode(-1/0), cjson.encode(1/0), \
                 tostring(cjson.encode_invalid_numbers(false))} return table.concat(r, ' ')",
                "false null null null true nan -inf inf false",
            ),
            (
                "return tostring(cjson.encode_keep_buffer()) .. tostring(cjson.encode_keep_buffer('off')) \
                 .. tostring(cjson.encode_keep_buffer('on'))",
                "truefalsetrue",
            ),
            (
                "return cjson.encode_max_depth() .. ' ' .. cjson.decode_max_depth() .. ' ' \
                 .. tostring(cjson.decode_invalid_numbers())",
                "1000 1000 true",
            ),
            (
                &perr("cjson.encode_number_precision, 15"),
                "bad argument #1 to '?' (expected integer between 1 and 14)",
            ),
            (
                &perr("cjson.encode_number_precision, 0"),
                "bad argument #1 to '?' (expected integer between 1 and 14)",
            ),
            (
                &perr("cjson.encode_number_precision, 'x'"),
                "bad argument #1 to '?' (number expected, got string)",
            ),
            (
                &perr("cjson.encode_number_precision, 1, 2"),
                "bad argument #2 to '?' (found too many arguments)",
            ),
            (
                &perr("cjson.encode_invalid_numbers, 'maybe'"),
                "bad argument #1 to '?' (invalid option 'maybe')",
            ),
            (
                &perr("cjson.encode_invalid_numbers, 1"),
                "bad argument #1 to '?' (invalid option '1')",
            ),
            (
                &perr("cjson.encode_invalid_numbers, {}"),
                "bad argument #1 to '?' (string expected, got table)",
            ),
            (
                &perr("cjson.encode_max_depth, 0"),
                "bad argument #1 to '?' (expected integer between 1 and 2147483647)",
            ),
            (
                &perr("cjson.encode_sparse_array, 'yes'"),
                "bad argument #1 to '?' (invalid option 'yes')",
            ),
            (
                &perr("cjson.encode_sparse_array, true, -1"),
                "bad argument #1 to '?' (expected integer between 0 and 2147483647)",
            ),
            // A failing later argument keeps the earlier change.
            (
                "pcall(cjson.encode_sparse_array, true, -1) return tostring(cjson.encode_sparse_array())",
                "true",
            ),
            ("return cjson.encode_max_depth(2^32 + 5)", "5"),
        ]);
    }

    #[test]
    fn module_fields_and_new() {
        check(&[
            ("return cjson._NAME .. ' ' .. cjson._VERSION", "cjson 2.1.0"),
            ("return type(cjson.null)", "userdata"),
            (
                "local t = cjson.new() t.encode_max_depth(1) \
                 return t.encode({1}) .. tostring(t.null == cjson.null) .. cjson.encode_max_depth() \
                 .. tostring(pcall(t.encode, {{}}))",
                "[1]true1000false",
            ),
            (
                "local keys = {} for k in pairs(cjson) do keys[#keys+1] = k end table.sort(keys) \
                 return table.concat(keys, ',')",
                "_NAME,_VERSION,decode,decode_invalid_numbers,decode_max_depth,encode,\
                 encode_invalid_numbers,encode_keep_buffer,encode_max_depth,\
                 encode_number_precision,encode_sparse_array,new,null",
            ),
        ]);
    }

    #[test]
    fn decode_values() {
        check(&[
            (
                "return cjson.encode(cjson.decode('{\"a\":[1,2,{\"b\":null}],\"c\":\"x\\\\u00e9\\\\ud83d\\\\ude00\"}'))",
                "{\"a\":[1,2,{\"b\":null}],\"c\":\"xé😀\"}",
            ),
            (
                "return cjson.decode('\"\\\\u0041\\\\/\\\\b\\\\f\\\\n\\\\r\\\\t\\\\\"\\\\\\\\\"')",
                "A/\u{8}\u{c}\n\r\t\"\\",
            ),
            (
                "return tostring(cjson.decode('+1')) .. ' ' .. tostring(cjson.decode('0x10')) .. ' ' \
                 .. tostring(cjson.decode('-0x10')) .. ' ' .. tostring(cjson.decode('inf')) .. ' ' \
                 .. tostring(cjson.decode('-Infinity')) .. ' ' .. tostring(cjson.decode('007')) .. ' ' \
                 .. tostring(cjson.decode('1.')) .. ' ' .. tostring(cjson.decode('1e400')) .. ' ' \
                 .. tostring(cjson.decode('1E+2')) .. ' ' .. tostring(cjson.decode('0x1p4')) .. ' ' \
                 .. tostring(cjson.decode('0x.8')) .. ' ' .. tostring(cjson.decode('-0'))",
                "1 16 -16 inf -inf 7 1 inf 100 16 0.5 -0",
            ),
            (
                "local v = cjson.decode('nan') return tostring(v ~= v)",
                "true",
            ),
            (
                "local v = cjson.decode('nan(123)') return tostring(v ~= v)",
                "true",
            ),
            ("return cjson.decode(' \\t\\r\\n 12 \\n')", "12"),
            ("return cjson.decode(123)", "123"),
            ("return cjson.decode('[1]\\0garbage')[1]", "1"),
            (
                "return type(cjson.decode('null')) .. tostring(cjson.decode('null') == cjson.null)",
                "userdatatrue",
            ),
            (
                "return cjson.decode('\"\\\\u0000\"') == '\\0' and 'nul' or 'x'",
                "nul",
            ),
            (
                "return cjson.encode(cjson.decode('{\"1\":1}'))",
                "{\"1\":1}",
            ),
            (
                "return tostring(cjson.decode('true')) .. tostring(cjson.decode('false'))",
                "truefalse",
            ),
            (
                "return #cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000))",
                "1",
            ),
            (
                "return cjson.decode('[[1,2],{\"a\":[3,{\"b\":4}]},5]')[2].a[2].b",
                "4",
            ),
        ]);
    }

    #[test]
    fn decode_errors() {
        check(&[
            (
                &perr("cjson.decode, '\"\\\\ud83d\"'"),
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                &perr("cjson.decode, '\"\\\\ude00\\\\ud83d\"'"),
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                &perr("cjson.decode, '\"\\\\x\"'"),
                "Expected value but found invalid escape code at character 2",
            ),
            (
                &perr("cjson.decode, '\"abc'"),
                "Expected value but found unexpected end of string at character 5",
            ),
            (
                &perr("cjson.decode, '[1,2'"),
                "Expected comma or array end but found T_END at character 5",
            ),
            (
                &perr("cjson.decode, '[1,2,]'"),
                "Expected value but found T_ARR_END at character 6",
            ),
            (
                &perr("cjson.decode, '{\"a\" 1}'"),
                "Expected colon but found T_NUMBER at character 6",
            ),
            (
                &perr("cjson.decode, '{1:1}'"),
                "Expected object key string but found T_NUMBER at character 2",
            ),
            (
                &perr("cjson.decode, '{\"a\":1,}'"),
                "Expected object key string but found T_OBJ_END at character 8",
            ),
            (
                &perr("cjson.decode, '{\"a\":1'"),
                "Expected comma or object end but found T_END at character 7",
            ),
            (
                &perr("cjson.decode, ''"),
                "Expected value but found T_END at character 1",
            ),
            (
                &perr("cjson.decode, '   '"),
                "Expected value but found T_END at character 4",
            ),
            (
                &perr("cjson.decode, 'nul'"),
                "Expected value but found invalid token at character 1",
            ),
            (
                &perr("cjson.decode, 'tru'"),
                "Expected value but found invalid token at character 1",
            ),
            (
                &perr("cjson.decode, '1 2'"),
                "Expected the end but found T_NUMBER at character 3",
            ),
            (
                &perr("cjson.decode, '.5'"),
                "Expected value but found invalid token at character 1",
            ),
            (
                &perr("cjson.decode, '-'"),
                "Expected value but found invalid number at character 1",
            ),
            (
                &perr("cjson.decode, '- 1'"),
                "Expected value but found invalid number at character 1",
            ),
            (
                &perr("cjson.decode, 'x'"),
                "Expected value but found invalid token at character 1",
            ),
            (
                &perr("cjson.decode, '\\0a'"),
                "JSON parser does not support UTF-16 or UTF-32",
            ),
            (
                &perr("cjson.decode, 'a\\0'"),
                "JSON parser does not support UTF-16 or UTF-32",
            ),
            (
                &perr("cjson.decode, '\"a\\0b\"'"),
                "Expected value but found unexpected end of string at character 3",
            ),
            (
                &perr("cjson.decode, '1e'"),
                "Expected the end but found invalid token at character 2",
            ),
            (
                &perr("cjson.decode, '0x'"),
                "Expected the end but found invalid token at character 2",
            ),
            (
                &perr("cjson.decode, 'infinit'"),
                "Expected the end but found invalid token at character 4",
            ),
            (
                &perr("cjson.decode, 'Nan(abc_1)x'"),
                "Expected the end but found invalid token at character 11",
            ),
            (
                &perr("cjson.decode, '1e5x'"),
                "Expected the end but found invalid token at character 4",
            ),
            (
                &perr("cjson.decode"),
                "bad argument #1 to '?' (expected 1 argument)",
            ),
            (
                &perr("cjson.decode, nil"),
                "bad argument #1 to '?' (string expected, got nil)",
            ),
            (
                &perr("cjson.decode, {}"),
                "bad argument #1 to '?' (string expected, got table)",
            ),
            (
                &perr("cjson.decode, '1', 2"),
                "bad argument #1 to '?' (expected 1 argument)",
            ),
            (
                &perr("cjson.decode, string.rep('[', 1001) .. string.rep(']', 1001)"),
                "Found too many nested data structures (1001) at character 1001",
            ),
            (
                &perr("cjson.decode, string.rep('{\"a\":', 1001)"),
                "Found too many nested data structures (1001) at character 5001",
            ),
            (
                &perr("cjson.decode, '[1,[2,[3'"),
                "Expected comma or array end but found T_END at character 9",
            ),
            (
                &perr("cjson.decode, '\"\\\\u12\"'"),
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                &perr("cjson.decode, '\"\\\\u00zz\"'"),
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                &perr("cjson.decode, '{\"a\":1} x'"),
                "Expected the end but found invalid token at character 9",
            ),
            (
                &perr("cjson.decode, '[1 2]'"),
                "Expected comma or array end but found T_NUMBER at character 4",
            ),
            (
                &perr("cjson.decode, '[:]'"),
                "Expected value but found T_COLON at character 2",
            ),
            (
                &perr("cjson.decode, ']'"),
                "Expected value but found T_ARR_END at character 1",
            ),
            (
                &perr("cjson.decode, '{\"a\":}'"),
                "Expected value but found T_OBJ_END at character 6",
            ),
            (
                &perr("cjson.decode, 'true false'"),
                "Expected the end but found T_BOOLEAN at character 6",
            ),
        ]);
    }

    #[test]
    fn decode_strict_numbers() {
        check(&[(
            "cjson.decode_invalid_numbers(false) \
             local r = {select(2, pcall(cjson.decode, '+1')), select(2, pcall(cjson.decode, '0x1')), \
             select(2, pcall(cjson.decode, '01')), select(2, pcall(cjson.decode, 'inf')), \
             select(2, pcall(cjson.decode, '-inf')), select(2, pcall(cjson.decode, 'nan')), \
             tostring(cjson.decode('-0'))} cjson.decode_invalid_numbers(true) return table.concat(r, '|')",
            "Expected value but found invalid token at character 1|\
             Expected value but found invalid number at character 1|\
             Expected value but found invalid number at character 1|\
             Expected value but found invalid token at character 1|\
             Expected value but found invalid number at character 1|\
             Expected value but found invalid token at character 1|-0",
        )]);
    }

    #[test]
    fn deep_nesting_with_raised_limits_is_bounded() {
        let lua = lua();
        // Redis's ceiling here is the Lua C stack: arrays need one slot per
        // level, so 7998 levels decode and 7999 do not.
        assert_eq!(
            eval(
                &lua,
                "cjson.decode_max_depth(100000) \
                 local ok, e = pcall(cjson.decode, string.rep('[', 7999) .. string.rep(']', 7999)) \
                 local ok2 = pcall(cjson.decode, string.rep('[', 7998) .. string.rep(']', 7998)) \
                 cjson.decode_max_depth(1000) return tostring(ok2) .. ' ' .. e"
            ),
            "true Found too many nested data structures (7999) at character 7999"
        );
        // The same ceiling for objects (two slots per level) and for the
        // encoder; all figures checked against Redis 7.0.15.
        let cases = [
            (
                "cjson.decode_max_depth(100000) \
                 local ok, e = pcall(cjson.decode, string.rep('{\"a\":', 4000)) \
                 local ok2 = pcall(cjson.decode, string.rep('{\"a\":', 3999) .. '1' .. string.rep('}', 3999)) \
                 cjson.decode_max_depth(1000) return tostring(ok2) .. ' ' .. e",
                "true Found too many nested data structures (4000) at character 19996",
            ),
            (
                "cjson.encode_max_depth(100000) \
                 local t = {} local c = t for i=1,7996 do c[1] = {} c = c[1] end \
                 local ok, e = pcall(cjson.encode, t) c[1] = {} local ok2, e2 = pcall(cjson.encode, t) \
                 cjson.encode_max_depth(1000) return #e .. ' ' .. e2",
                "15994 Cannot serialise, excessive nesting (7998)",
            ),
            (
                "cjson.encode_max_depth(100000) \
                 local t = {} local c = t for i=1,3999 do c.a = {} c = c.a end \
                 local ok, e = pcall(cjson.encode, t) cjson.encode_max_depth(1000) return e",
                "Cannot serialise, excessive nesting (4000)",
            ),
        ];
        for (code, want) in cases {
            assert_eq!(eval(&lua, code), want, "{code}");
        }
    }

    #[test]
    fn format_g_matches_c_printf() {
        let lua = lua();
        let samples = [
            0.0,
            -0.0,
            1.0,
            0.1,
            0.5,
            0.125,
            0.375,
            2.5,
            1e15,
            1e16,
            123456789012345.0,
            1e-5,
            1e-4,
            9.5,
            99.5,
            0.000123456,
            1.7976931348623157e308,
            5e-324,
            2.2250738585072014e-308,
            -3.25159265358979,
            1e21,
            1e22,
            12345.678,
            0.3,
            2f64.powi(53),
            1.0 / 3.0,
            2.0 / 3.0,
        ];
        let mut values: Vec<f64> = samples.to_vec();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = f64::from_bits(x);
            if v.is_finite() {
                values.push(v);
            }
            values.push((x % 100_000) as f64 / 8.0);
            values.push((x % 1_000_000_007) as f64 * 1e-3);
        }
        let f: mlua::Function = lua
            .load("return function(p, v) return string.format('%.' .. p .. 'g', v) end")
            .eval()
            .unwrap();
        for v in values {
            for p in [1usize, 2, 3, 6, 14] {
                let want: String = f.call((p, v)).unwrap();
                assert_eq!(format_g(v, p), want, "{v:e} with precision {p}");
            }
        }
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let lua = lua();
        let mut x: u32 = 12345;
        let alphabet = b"[]{}\":,0123456789.eE+-xXnulltruefalseinfINFnanNaN\\u/ \tab";
        for _ in 0..300 {
            let len = (x % 40) as usize;
            let mut s = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                s.push(alphabet[(x as usize) % alphabet.len()]);
            }
            let f: mlua::Function = lua
                .load("return function(s) return pcall(cjson.decode, s) end")
                .eval()
                .unwrap();
            let _: mlua::MultiValue = f.call(lua.create_string(&s).unwrap()).unwrap();
        }
    }
}
