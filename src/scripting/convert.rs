//! Conversions between Redis replies and Lua values, as Redis documents them: a command's
//! RESP reply becomes a Lua value for `redis.call`, and the script's return value becomes
//! the reply of EVAL.

use crate::protocol::ReplyBuf;
use mlua::{Lua, Table, Value};

/// Nesting a reply or a returned table may have (Redis is bounded by Lua's C stack).
const MAX_DEPTH: usize = 1000;

/// A reply that is not well-formed RESP (a handler bug): the script gets an error.
#[derive(Debug)]
pub struct Malformed;

/// Reads one RESP value from `buf` at `*pos` into a Lua value (Redis's
/// redisProtocolToLuaType): integers become numbers, nulls false (RESP2) or nil (RESP3
/// `_`), status and error lines `{ok=...}` / `{err=...}`, maps `{map={...}}`, sets
/// `{set={...}}`, doubles `{double=...}`, big numbers `{big_number=...}`.
pub fn reply_to_lua(lua: &Lua, buf: &[u8], pos: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(mlua::Error::runtime("reply nested too deeply"));
    }
    let line = read_line(buf, pos).ok_or_else(malformed)?;
    let (kind, rest) = line.split_first().ok_or_else(malformed)?;
    let num =
        |r: &[u8]| -> mlua::Result<i64> { crate::protocol::parse_i64(r).ok_or_else(malformed) };
    Ok(match kind {
        b':' => Value::Number(num(rest)? as f64),
        b'$' => {
            let n = num(rest)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let data = read_exact(buf, pos, n as usize)?;
            Value::String(lua.create_string(data)?)
        }
        b'+' => single_field(lua, "ok", Value::String(lua.create_string(rest)?))?,
        b'-' => Value::Table(error_table(lua, rest)?),
        b'*' | b'~' | b'%' | b'>' => {
            let n = num(rest)?;
            if n < 0 {
                return Ok(Value::Boolean(false));
            }
            let t = lua.create_table()?;
            match kind {
                b'%' => {
                    let m = lua.create_table()?;
                    for _ in 0..n {
                        let k = reply_to_lua(lua, buf, pos, depth + 1)?;
                        let v = reply_to_lua(lua, buf, pos, depth + 1)?;
                        m.raw_set(k, v)?;
                    }
                    t.raw_set("map", m)?;
                }
                b'~' => {
                    let s = lua.create_table()?;
                    for _ in 0..n {
                        let k = reply_to_lua(lua, buf, pos, depth + 1)?;
                        s.raw_set(k, true)?;
                    }
                    t.raw_set("set", s)?;
                }
                _ => {
                    for i in 1..=n {
                        let v = reply_to_lua(lua, buf, pos, depth + 1)?;
                        t.raw_set(i, v)?;
                    }
                }
            }
            Value::Table(t)
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(rest == b"t"),
        b',' => {
            let d = parse_double(rest).ok_or_else(malformed)?;
            single_field(lua, "double", Value::Number(d))?
        }
        b'(' => single_field(lua, "big_number", Value::String(lua.create_string(rest)?))?,
        b'=' => {
            let n = num(rest)?;
            let data = read_exact(buf, pos, n.max(0) as usize)?;
            let (format, text) = if data.len() >= 4 {
                (&data[..3], &data[4..])
            } else {
                (&b"txt"[..], data)
            };
            let inner = lua.create_table()?;
            inner.raw_set("string", lua.create_string(text)?)?;
            inner.raw_set("format", lua.create_string(format)?)?;
            single_field(lua, "verbatim_string", Value::Table(inner))?
        }
        b'|' => {
            // Attributes are not shown to scripts: skip them, then read the reply itself.
            let n = num(rest)?;
            for _ in 0..n.max(0) * 2 {
                reply_to_lua(lua, buf, pos, depth + 1)?;
            }
            reply_to_lua(lua, buf, pos, depth + 1)?
        }
        _ => return Err(malformed()),
    })
}

fn malformed() -> mlua::Error {
    mlua::Error::runtime("malformed reply from a command called by the script")
}

fn read_line<'b>(buf: &'b [u8], pos: &mut usize) -> Option<&'b [u8]> {
    let start = *pos;
    let rel = buf.get(start..)?.windows(2).position(|w| w == b"\r\n")?;
    *pos = start + rel + 2;
    Some(&buf[start..start + rel])
}

fn read_exact<'b>(buf: &'b [u8], pos: &mut usize, n: usize) -> mlua::Result<&'b [u8]> {
    let end = pos.checked_add(n).ok_or_else(malformed)?;
    let data = buf.get(*pos..end).ok_or_else(malformed)?;
    *pos = end + 2;
    Ok(data)
}

fn parse_double(s: &[u8]) -> Option<f64> {
    match s {
        b"inf" => Some(f64::INFINITY),
        b"-inf" => Some(f64::NEG_INFINITY),
        b"nan" => Some(f64::NAN),
        _ => std::str::from_utf8(s).ok()?.parse().ok(),
    }
}

fn single_field(lua: &Lua, name: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(name, v)?;
    Ok(Value::Table(t))
}

/// The `{err=...}` table for an error line (without its `-`): `CODE message`, with `ERR`
/// added when the line has no code, as Redis's luaPushErrorBuff.
pub fn error_table(lua: &Lua, line: &[u8]) -> mlua::Result<Table> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    let msg = match text.split_once(' ') {
        Some(_) => text.to_string(),
        None => format!("ERR {text}"),
    };
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok(t)
}

/// The `{err=...}` table for an error the script layer raises itself (a message without a
/// code gets `ERR`; one starting with `-` carries its own code).
pub fn script_error(lua: &Lua, msg: &str) -> mlua::Result<Table> {
    match msg.strip_prefix('-') {
        Some(coded) => error_table(lua, coded.as_bytes()),
        None => {
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {msg}"))?;
            Ok(t)
        }
    }
}

/// A Lua number as Redis replies with it: truncated to an integer, and out-of-range values
/// as x86's conversion gives them (i64::MIN), which is what stock returns.
pub fn lua_number_to_i64(d: f64) -> i64 {
    if d.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// Writes the script's return value as the caller's reply (Redis's luaReplyToRedisReply).
/// `script_resp3` is the protocol the script chose with `redis.setresp` (it decides how
/// booleans come back); `out.resp3` is the caller's.
pub fn lua_to_reply(v: &Value, out: &mut ReplyBuf, script_resp3: bool, depth: usize) {
    if depth > MAX_DEPTH {
        out.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                out.boolean(*b);
            } else if *b {
                out.int(1);
            } else {
                out.null();
            }
        }
        Value::Integer(i) => out.int(*i),
        Value::Number(n) => out.int(lua_number_to_i64(*n)),
        Value::Table(t) => table_to_reply(t, out, script_resp3, depth),
        _ => out.null(),
    }
}

fn table_to_reply(t: &Table, out: &mut ReplyBuf, script_resp3: bool, depth: usize) {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        out.error(&String::from_utf8_lossy(&e.as_bytes()));
        return;
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        out.simple(&String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " "));
        return;
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return out.double(d),
        Ok(Value::Integer(i)) => return out.double(i as f64),
        _ => {}
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        let text = String::from_utf8_lossy(&s.as_bytes()).replace(['\r', '\n'], " ");
        if out.resp3 {
            out.raw(format!("({text}\r\n").as_bytes());
        } else {
            out.bulk(text.as_bytes());
        }
        return;
    }
    if let Ok(Value::Table(vs)) = t.raw_get::<Value>("verbatim_string")
        && let (Ok(Value::String(format)), Ok(Value::String(text))) =
            (vs.raw_get::<Value>("format"), vs.raw_get::<Value>("string"))
    {
        let (format, text) = (format.as_bytes(), text.as_bytes());
        if out.resp3 {
            let mut payload = Vec::with_capacity(text.len() + 4);
            payload.extend_from_slice(&format[..format.len().min(3)]);
            payload.push(b':');
            payload.extend_from_slice(&text);
            out.raw(format!("={}\r\n", payload.len()).as_bytes());
            out.raw(&payload);
            out.raw(b"\r\n");
        } else {
            out.bulk(&text);
        }
        return;
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let pairs: Vec<(Value, Value)> = m.pairs::<Value, Value>().filter_map(Result::ok).collect();
        out.map(pairs.len());
        for (k, v) in &pairs {
            lua_to_reply(k, out, script_resp3, depth + 1);
            lua_to_reply(v, out, script_resp3, depth + 1);
        }
        return;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let members: Vec<Value> = s
            .pairs::<Value, Value>()
            .filter_map(|p| p.ok().map(|(k, _)| k))
            .collect();
        out.set(members.len());
        for m in &members {
            lua_to_reply(m, out, script_resp3, depth + 1);
        }
        return;
    }
    // An array: elements 1..n up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(v),
        }
    }
    out.array(items.len());
    for v in &items {
        lua_to_reply(v, out, script_resp3, depth + 1);
    }
}
