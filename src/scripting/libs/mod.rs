//! The helper libraries Redis 7.0 preloads into every script environment:
//! `cjson`, `cmsgpack`, `bit` and `struct`, re-implemented in Rust on top of
//! `mlua` so that scripts observe the same results and error texts as on
//! stock Redis.
//!
//! Every library function is a Rust closure returning `mlua::Result`.  Errors
//! are raised into Lua as *plain strings* (not mlua's error userdata) by a tiny
//! C trampoline, because scripts routinely `pcall` these functions and then
//! inspect or return the message.  The trampoline raises argument errors via
//! `luaL_argerror`, so the `bad argument #N to 'name'` text names the function
//! exactly as the C libraries do, and prefixes runtime errors with the
//! caller's position like `luaL_error` does.

use std::ffi::c_int;
use std::sync::Arc;

use mlua::{Error, Function, Lua, MultiValue, Table, Value, ffi};

mod bit;
mod cjson;
mod cmsgpack;
mod lstruct;

/// Lua 5.1's `LUAI_MAXCSTACK`: the most stack slots one C function may use.
/// The C libraries fail with "stack overflow (...)" when they reach it; we
/// replay the same accounting to fail at the same points.
pub(crate) const LUA_MAX_C_STACK: usize = 8000;

/// Results above this count travel to the trampoline packed in a table, so
/// the Rust side never holds thousands of live references at once.
const PACK_RESULTS_ABOVE: usize = 32;

/// Installs the globals `cjson`, `cmsgpack`, `bit` and `struct`, each with the
/// same functions and fields Redis 7.0.15 exposes.
pub fn register_all(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.raw_set("cjson", cjson::create_module(lua)?)?;
    globals.raw_set("cmsgpack", cmsgpack::create_module(lua)?)?;
    globals.raw_set("bit", bit::create_module(lua)?)?;
    globals.raw_set("struct", lstruct::create_module(lua)?)?;
    Ok(())
}

/// A runtime error carrying exactly the message the C library would raise.
pub(crate) fn runtime_error(msg: impl Into<String>) -> Error {
    Error::RuntimeError(msg.into())
}

/// An argument error; the trampoline turns it into Lua's
/// `bad argument #pos to 'name' (msg)` text.
// mlua's `BadArgument` stores its cause in an `Arc` even though errors are
// not `Send` without mlua's "send" feature.
#[allow(clippy::arc_with_non_send_sync)]
pub(crate) fn arg_error(func: &str, pos: usize, msg: impl Into<String>) -> Error {
    Error::BadArgument {
        to: Some(func.to_string()),
        pos,
        name: None,
        cause: Arc::new(Error::RuntimeError(msg.into())),
    }
}

/// Lua's own name for a value's type (`lua_typename`), which differs from
/// mlua's for light userdata.
pub(crate) fn lua_type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// The number inside a Lua number value, if it is one (no string coercion).
pub(crate) fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// C's double-to-`int64_t` conversion as x86-64 performs it: truncation, and
/// the "integer indefinite" value for anything out of range or NaN.
pub(crate) fn c_double_to_i64(d: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

/// C's double-to-`int` conversion as x86-64 performs it.
pub(crate) fn c_double_to_i32(d: f64) -> i32 {
    if d > -2_147_483_649.0 && d < 2_147_483_648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

/// Positional access to a call's arguments with the Lua auxiliary library's
/// conversion rules and error texts (`luaL_check*` / `luaL_opt*`).
pub(crate) struct Args<'a> {
    lua: &'a Lua,
    func: &'static str,
    vals: Vec<Value>,
}

impl<'a> Args<'a> {
    pub(crate) fn new(lua: &'a Lua, func: &'static str, args: MultiValue) -> Self {
        Args {
            lua,
            func,
            vals: args.into_vec(),
        }
    }

    /// Appends a value after the real arguments, for C functions that push
    /// onto their stack before reading optional arguments.
    pub(crate) fn push(&mut self, v: Value) {
        self.vals.push(v);
    }

    /// The interpreter the call runs in.
    pub(crate) fn lua(&self) -> &'a Lua {
        self.lua
    }

    /// Number of arguments actually passed (`lua_gettop`).
    pub(crate) fn len(&self) -> usize {
        self.vals.len()
    }

    /// Argument `pos` (1-based); `None` when absent ("no value").
    pub(crate) fn get(&self, pos: usize) -> Option<&Value> {
        pos.checked_sub(1).and_then(|i| self.vals.get(i))
    }

    /// True when the argument is absent or nil.
    pub(crate) fn is_nil(&self, pos: usize) -> bool {
        matches!(self.get(pos), None | Some(Value::Nil))
    }

    fn type_name(&self, pos: usize) -> &'static str {
        self.get(pos).map(lua_type_name).unwrap_or("no value")
    }

    /// The error `luaL_typerror` raises.
    pub(crate) fn type_error(&self, pos: usize, expected: &str) -> Error {
        let got = self.type_name(pos);
        arg_error(self.func, pos, format!("{expected} expected, got {got}"))
    }

    /// An argument error attributed to this function.
    pub(crate) fn error(&self, pos: usize, msg: impl Into<String>) -> Error {
        arg_error(self.func, pos, msg)
    }

    /// `lua_tonumber`: numbers and numeric strings; `None` otherwise.
    pub(crate) fn to_number(&self, pos: usize) -> mlua::Result<Option<f64>> {
        match self.get(pos) {
            None => Ok(None),
            Some(v) => match as_number(v) {
                Some(n) => Ok(Some(n)),
                None if matches!(v, Value::String(_)) => self.lua.coerce_number(v.clone()),
                None => Ok(None),
            },
        }
    }

    /// `luaL_checknumber`.
    pub(crate) fn check_number(&self, pos: usize) -> mlua::Result<f64> {
        self.to_number(pos)?
            .ok_or_else(|| self.type_error(pos, "number"))
    }

    /// `luaL_checkinteger` (truncating, like `lua_tointeger` on x86-64).
    pub(crate) fn check_integer(&self, pos: usize) -> mlua::Result<i64> {
        Ok(c_double_to_i64(self.check_number(pos)?))
    }

    /// `luaL_optinteger`.
    pub(crate) fn opt_integer(&self, pos: usize, default: i64) -> mlua::Result<i64> {
        if self.is_nil(pos) {
            Ok(default)
        } else {
            self.check_integer(pos)
        }
    }

    /// `luaL_checklstring`: strings, and numbers converted with `%.14g`.
    pub(crate) fn check_bytes(&self, pos: usize) -> mlua::Result<Vec<u8>> {
        match self.get(pos) {
            Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Some(v @ (Value::Integer(_) | Value::Number(_))) => {
                match self.lua.coerce_string(v.clone())? {
                    Some(s) => Ok(s.as_bytes().to_vec()),
                    None => Err(self.type_error(pos, "string")),
                }
            }
            _ => Err(self.type_error(pos, "string")),
        }
    }
}

/// What a library function returns to its caller.
pub(crate) enum Ret {
    /// A handful of results, returned as they are.
    Values(MultiValue),
    /// Results stored at `1..=n` of a table; used where a call may return
    /// thousands of values, so they never sit in Rust as live references.
    Packed(Table, usize),
}

impl Ret {
    /// A single result.
    pub(crate) fn one(v: Value) -> mlua::Result<Ret> {
        Ok(Ret::Values(MultiValue::from_vec(vec![v])))
    }
}

/// An error Lua itself would raise inside the library (such as "table index
/// is nil"): shown without the caller's position, unlike `luaL_error` texts.
#[derive(Debug)]
pub(crate) struct RawLuaError(pub(crate) String);

impl std::fmt::Display for RawLuaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RawLuaError {}

/// Builds a [`RawLuaError`].
pub(crate) fn raw_error(msg: impl Into<String>) -> Error {
    Error::external(RawLuaError(msg.into()))
}

/// Wraps a Rust implementation into a Lua function that behaves like a C
/// library function: plain-string errors, `luaL_argerror` naming, and any
/// number of results.
pub(crate) fn wrap<F>(lua: &Lua, func: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, MultiValue) -> mlua::Result<Ret> + 'static,
{
    let inner = lua.create_function(move |lua, args: MultiValue| match func(lua, args) {
        Ok(Ret::Values(mut results)) => {
            if results.len() <= PACK_RESULTS_ABOVE {
                results.push_front(Value::Boolean(true));
                return Ok(results);
            }
            let count = results.len();
            let packed = lua.create_table_with_capacity(count, 0)?;
            for (i, v) in results.into_iter().enumerate() {
                packed.raw_set(i + 1, v)?;
            }
            Ok(MultiValue::from_vec(vec![
                Value::Table(packed),
                Value::Integer(count as i64),
            ]))
        }
        Ok(Ret::Packed(table, count)) => Ok(MultiValue::from_vec(vec![
            Value::Table(table),
            Value::Integer(count as i64),
        ])),
        Err(err) => {
            let (status, msg) = match err {
                Error::BadArgument { pos, cause, .. } => {
                    (Value::Integer(pos as i64), error_text(&cause))
                }
                Error::ExternalError(ref e) if e.downcast_ref::<RawLuaError>().is_some() => {
                    (Value::Nil, error_text(&err))
                }
                other => (Value::Boolean(false), error_text(&other)),
            };
            Ok(MultiValue::from_vec(vec![
                status,
                Value::String(lua.create_string(msg)?),
            ]))
        }
    })?;
    // SAFETY: pushes one C closure over the function just created; the
    // trampoline only uses documented Lua 5.1 API calls on its own frame.
    unsafe {
        lua.exec_raw::<Function>(inner, |state| {
            ffi::lua_pushcclosure(state, trampoline, 1);
        })
    }
}

/// The message an error should show inside Lua.
fn error_text(err: &Error) -> String {
    match err {
        Error::RuntimeError(msg) => msg.clone(),
        Error::CallbackError { cause, .. } => error_text(cause),
        Error::ExternalError(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// C entry point for every library function.  Calls the wrapped Rust closure
/// (upvalue 1) and translates its status protocol:
/// `true, results...` | `table, n` (packed results) | `false, msg` (error
/// with position) | `nil, msg` (error without position) | `pos, msg`
/// (argument error).
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    unsafe {
        let nargs = ffi::lua_gettop(state);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
        match ffi::lua_type(state, 1) {
            ffi::LUA_TBOOLEAN if ffi::lua_toboolean(state, 1) != 0 => {
                ffi::lua_remove(state, 1);
                ffi::lua_gettop(state)
            }
            ffi::LUA_TTABLE => {
                let count = ffi::lua_tointeger(state, 2) as c_int;
                ffi::lua_settop(state, 1);
                if count > 0 && ffi::lua_checkstack(state, count) == 0 {
                    return ffi::luaL_error(state, c"stack overflow (too many results)".as_ptr());
                }
                for i in 1..=count {
                    ffi::lua_rawgeti(state, 1, i as _);
                }
                ffi::lua_remove(state, 1);
                count
            }
            ffi::LUA_TNUMBER => {
                let pos = ffi::lua_tointeger(state, 1) as c_int;
                let msg = ffi::lua_tolstring(state, 2, std::ptr::null_mut());
                ffi::luaL_argerror(state, pos, msg)
            }
            ffi::LUA_TNIL => {
                ffi::lua_settop(state, 2);
                ffi::lua_error(state)
            }
            _ => {
                ffi::lua_settop(state, 2);
                ffi::luaL_where(state, 1);
                ffi::lua_insert(state, 2);
                ffi::lua_concat(state, 2);
                ffi::lua_error(state)
            }
        }
    }
}

/// Builds a module table from named implementations.
pub(crate) fn module_with<F>(lua: &Lua, funcs: Vec<(&'static str, F)>) -> mlua::Result<Table>
where
    F: Fn(&Lua, MultiValue) -> mlua::Result<Ret> + 'static,
{
    let module = lua.create_table()?;
    for (name, f) in funcs {
        module.raw_set(name, wrap(lua, f)?)?;
    }
    Ok(module)
}

#[cfg(test)]
pub(crate) mod test_support {
    use mlua::Lua;

    /// A fresh interpreter with the four libraries installed.
    pub(crate) fn lua() -> Lua {
        let lua = Lua::new();
        super::register_all(&lua).expect("register libraries");
        lua
    }

    /// Evaluates a chunk and returns its first result converted to a string
    /// with Lua's `tostring`.
    pub(crate) fn eval(lua: &Lua, code: &str) -> String {
        let wrapped = format!("return tostring((function() {code} end)())");
        lua.load(wrapped)
            .eval::<String>()
            .unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    /// Runs `code` under pcall and returns the error message it raised.
    pub(crate) fn err(lua: &Lua, code: &str) -> String {
        let wrapped = format!(
            "local ok, e = pcall(function() {code} end) assert(not ok, 'no error') return e"
        );
        lua.load(wrapped)
            .eval::<String>()
            .unwrap_or_else(|e| panic!("{code}: {e}"))
    }

    /// Asserts each `(code, expected tostring of its result)` pair.
    pub(crate) fn check(cases: &[(&str, &str)]) {
        let lua = lua();
        for (code, want) in cases {
            assert_eq!(eval(&lua, code), *want, "{code}");
        }
    }

    /// [`check`] with the [`HEX`] helper defined before each chunk.
    pub(crate) fn check_hex(cases: &[(&str, &str)]) {
        let lua = lua();
        for (code, want) in cases {
            assert_eq!(eval(&lua, &format!("{HEX}{code}")), *want, "{code}");
        }
    }

    /// Hex helper installed for tests that compare exact bytes.
    pub(crate) const HEX: &str = "local function hex(s) return (s:gsub('.', function(c) \
                                  return string.format('%02x', c:byte()) end)) end ";
}

#[cfg(test)]
mod tests {
    use super::test_support::{err, eval, lua};

    #[test]
    fn globals_are_installed() {
        let lua = lua();
        for lib in ["cjson", "cmsgpack", "bit", "struct"] {
            assert_eq!(eval(&lua, &format!("return type({lib})")), "table");
        }
    }

    #[test]
    fn errors_are_plain_strings_with_position() {
        let lua = lua();
        assert_eq!(
            eval(
                &lua,
                "local ok, e = pcall(cjson.encode, print) return type(e)"
            ),
            "string"
        );
        // Called from a Lua function, the caller's position is prefixed like
        // luaL_error does.
        let e = err(&lua, "return cjson.encode(print)");
        assert!(
            e.ends_with(": Cannot serialise function: type not supported"),
            "{e}"
        );
        assert!(e.contains(":1: "), "{e}");
        // Through pcall directly there is no Lua caller, hence no prefix.
        assert_eq!(
            eval(&lua, "return select(2, pcall(cjson.encode, print))"),
            "Cannot serialise function: type not supported"
        );
    }

    #[test]
    fn argument_errors_name_the_function_like_lua() {
        let lua = lua();
        assert_eq!(
            eval(&lua, "return select(2, pcall(bit.bor))"),
            "bad argument #1 to '?' (number expected, got no value)"
        );
        let e = err(&lua, "return bit.bor()");
        assert!(
            e.ends_with("bad argument #1 to 'bor' (number expected, got no value)"),
            "{e}"
        );
        let e = err(&lua, "local f = cjson.encode return f()");
        assert!(
            e.ends_with("bad argument #1 to 'f' (expected 1 argument)"),
            "{e}"
        );
    }

    #[test]
    fn c_conversions_match_x86() {
        assert_eq!(super::c_double_to_i64(f64::NAN), i64::MIN);
        assert_eq!(super::c_double_to_i64(1e30), i64::MIN);
        assert_eq!(super::c_double_to_i64(-1.9), -1);
        assert_eq!(super::c_double_to_i32(2f64.powi(40)), i32::MIN);
        assert_eq!(super::c_double_to_i32(-2147483648.5), -2147483648);
    }
}
