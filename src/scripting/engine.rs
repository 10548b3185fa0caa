//! The Lua 5.1 state scripts run in: one per worker thread, built once with Redis's
//! libraries and sandbox (prelude.lua), and the run of one script inside a command.

use super::call::{self, RunCtx};
use super::convert;
use super::functions::{self, FunctionInfo, Functions};
use super::{Script, ScriptFlags};
use crate::commands::{CmdError, CmdResult, Ctx};
use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Instructions between two checks for SCRIPT KILL (Redis checks every 100,000; a
/// check here is one atomic load, and a killed script is stopped sooner).
const KILL_CHECK_EVERY: u32 = 1000;
/// Milliseconds a script runs before its worker's other tasks move to another thread.
const HAND_OFF_AFTER_MS: u64 = 10;
/// How a run's KEYS and ARGV reach the runner.
enum RunArgs<'a> {
    /// As strings on the Lua stack (keys first).
    Stack(Vec<&'a str>),
    /// As the two tables.
    Tables(Table, Table),
}

/// Keys and arguments passed to the runner on the Lua stack (more go as tables: the C
/// stack of a Lua 5.1 call is limited).
const STACK_ARGS: usize = 64;
/// Scripts between two incremental garbage collection steps (Redis's LUA_GC_CYCLE_PERIOD).
const GC_EVERY: u32 = 50;

/// Redis's redisLrand48: the 48-bit linear congruential generator `math.random` uses, so
/// scripts see the sequence stock Redis gives them.
#[derive(Debug, Clone, Copy)]
pub struct Rand48(u64);

impl Default for Rand48 {
    fn default() -> Self {
        Rand48(0x1234_ABCD_330E)
    }
}

impl Rand48 {
    const MASK: u64 = (1 << 48) - 1;

    /// Reseeds as srand48: the seed's 32 bits above 0x330E.
    pub fn seed(&mut self, seed: i32) {
        self.0 = ((seed as u32 as u64) << 16) | 0x330E;
    }

    /// The next value in [0, 2^31).
    pub fn next_i31(&mut self) -> i32 {
        self.0 = (self.0.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & Self::MASK;
        (self.0 >> 17) as i32
    }

    /// A double in [0, 1) as Redis's math.random computes it.
    pub fn next_f64(&mut self) -> f64 {
        const MAX: i64 = 0x7fff_ffff;
        (self.next_i31() as i64 % MAX) as f64 / MAX as f64
    }
}

/// An error `redis.call` raises (and the kill hook): carried through Lua as an error
/// value and turned back into Redis's `{err=...}` table by the prelude's handler, so a
/// Rust function can raise what Redis raises from C.
#[derive(Debug)]
struct RaisedReply {
    err: String,
    /// Raised by `redis.call` for a command's error, already counted in the error
    /// statistics.
    counted: bool,
}

impl std::fmt::Display for RaisedReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.err)
    }
}

impl std::error::Error for RaisedReply {}

/// An error raised as Redis raises it from C: `{err=msg}` once the handler sees it.
fn raise(msg: &str) -> mlua::Error {
    mlua::Error::external(RaisedReply {
        err: msg.into(),
        counted: false,
    })
}

/// `source:line: ` of the Lua code calling the current native, as luaL_argerror prefixes
/// its message.
fn caller_position(lua: &Lua) -> String {
    lua.inspect_stack(1, |d| {
        let line = d.current_line()?;
        let src = d.source().short_src?.into_owned();
        Some(format!("{src}:{line}: "))
    })
    .flatten()
    .unwrap_or_default()
}

/// A Lua number or numeric string, as lua_tonumber reads it.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A Lua string or number as text (what lua_tolstring accepts).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Number(n) => Some(crate::protocol::reply::format_double(*n)),
        _ => None,
    }
}

/// What an error raised from Rust means to a script: the `{err=...}` table of a
/// [`RaisedReply`], or the message of any other error (as a C function's `luaL_error`
/// text), or nil for a value that is no such error.
fn unwrap_raised(lua: &Lua, v: Value) -> mlua::Result<Value> {
    let Value::Error(e) = v else {
        return Ok(Value::Nil);
    };
    if let Some(raised) = e.chain().find_map(|c| c.downcast_ref::<RaisedReply>()) {
        let t = lua.create_table()?;
        t.raw_set("err", raised.err.as_str())?;
        if raised.counted {
            t.raw_set("ignore_error_stats_update", true)?;
        }
        return Ok(Value::Table(t));
    }
    let mut root: &mlua::Error = &e;
    while let mlua::Error::CallbackError { cause, .. } = root {
        root = cause;
    }
    let msg = match root {
        mlua::Error::RuntimeError(m) => m.clone(),
        other => other.to_string(),
    };
    Ok(Value::String(lua.create_string(msg)?))
}

/// Which of a thread's two Lua states: EVAL's, or the one function libraries live in
/// (separate, as in Redis, so neither sees the other's code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Eval,
    Functions,
}

/// The command side of a script run, reached by the `redis.call` natives (made once
/// per Lua state) through a [`CallerSlot`].
trait Caller {
    /// `redis.call` (`raise`) or `redis.pcall`.
    fn call(&self, lua: &Lua, args: MultiValue, raise: bool) -> mlua::Result<Value>;
    /// `redis.acl_check_cmd`.
    fn acl_check(&self, args: MultiValue) -> mlua::Result<bool>;
    /// `redis.set_repl`: where the effects of later calls go (`REPL_*` bits).
    fn set_repl(&self, flags: u8);
}

/// Where the natives find the [`Caller`] of the run in progress: set by [`install`] for
/// the length of one run, empty otherwise.
type CallerSlot = Rc<Cell<Option<*const (dyn Caller + 'static)>>>;

/// Clears a [`CallerSlot`] when the run ends, however it ends.
struct Installed<'s>(&'s Cell<Option<*const (dyn Caller + 'static)>>);

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        self.0.set(None);
    }
}

/// Points `slot` at `caller` until the returned guard drops; the guard must drop before
/// `caller` does (declare it after).
fn install<'s>(
    slot: &'s Cell<Option<*const (dyn Caller + 'static)>>,
    caller: &(dyn Caller + '_),
) -> Installed<'s> {
    let p: *const (dyn Caller + '_) = caller;
    // SAFETY: only the lifetime bound is erased. The pointer is dereferenced by the
    // natives of this thread's Lua state, which run only inside the run the guard spans,
    // and the guard clears it before `caller` goes away.
    let p: *const (dyn Caller + 'static) = unsafe { std::mem::transmute(p) };
    slot.set(Some(p));
    Installed(slot)
}

/// Runs `f` with the caller of the run in progress (a `redis.call` kept and called after
/// its run gets an error, never a dangling context).
fn with_caller<R>(
    slot: &Cell<Option<*const (dyn Caller + 'static)>>,
    f: impl FnOnce(&dyn Caller) -> mlua::Result<R>,
) -> mlua::Result<R> {
    let Some(p) = slot.get() else {
        return Err(raise("ERR redis.call can only be used while a script runs"));
    };
    // SAFETY: set by `install` only while the caller it points to lives (see there).
    f(unsafe { &*p })
}

/// The command context of one run, as the natives see it.
struct RunCaller<'c, 'a> {
    state: RefCell<(&'c mut Ctx<'a>, &'c mut RunCtx<'c>)>,
    resp3: Rc<Cell<bool>>,
}

impl Caller for RunCaller<'_, '_> {
    fn call(&self, lua: &Lua, args: MultiValue, raise: bool) -> mlua::Result<Value> {
        let mut guard = self.state.borrow_mut();
        let (ctx, run) = &mut *guard;
        run.resp3 = self.resp3.get();
        let (ok, value) = redis_call(lua, ctx, run, args)?;
        if ok || !raise {
            return Ok(value);
        }
        let err = match &value {
            Value::Table(t) => t.raw_get::<String>("err")?,
            _ => "ERR command failed".into(),
        };
        Err(mlua::Error::external(RaisedReply { err, counted: true }))
    }

    fn acl_check(&self, args: MultiValue) -> mlua::Result<bool> {
        let mut guard = self.state.borrow_mut();
        acl_check(guard.0, args)
    }

    fn set_repl(&self, flags: u8) {
        self.state.borrow_mut().1.repl = flags;
    }
}

/// The instruction hook's view of a run: when it started, whether its worker's queue
/// was handed off, and the server (for SCRIPT KILL).
struct HookRun {
    handed_off: bool,
    srv: Arc<crate::server::Server>,
    /// SCRIPT KILL was seen: the hook now fires on every line.
    killed: bool,
}

/// What `redis.register_function` collected while a library's code ran.
type Registrations = Vec<(FunctionInfo, Function)>;

/// One thread's Lua state with its compiled scripts (EVAL) or loaded functions.
struct Engine {
    lua: Lua,
    /// Calls a script (`runner(f)`) or a function (`runner(f, keys, args)`) under
    /// Redis's error handler.
    runner: Function,
    /// EVAL: SHA1 → compiled body. Functions: lower-cased name → registered callback.
    compiled: HashMap<String, Function, ahash::RandomState>,
    /// The script cache's or the libraries' generation `compiled` reflects.
    generation: u64,
    /// `redis.setresp(3)` was called by the running script.
    resp3: Rc<Cell<bool>>,
    runs: u32,
    /// Functions mode: `Some` while a library's code runs (FUNCTION LOAD).
    registering: Rc<RefCell<Option<Registrations>>>,
    /// The read-only environment scripts and libraries are compiled in.
    env: Table,
    /// The command side of the run in progress, for the `redis.call` natives.
    caller: CallerSlot,
    /// What the instruction hook needs of the run in progress (None between runs and
    /// while `busy-reply-threshold` is 0).
    hook: Rc<RefCell<Option<HookRun>>>,
    /// Functions mode: the loader, which runs a library chunk with only the registration
    /// API visible.
    loader: Option<Function>,
    /// Which of the thread's two states this is (INFO counts their memory apart).
    mode: Mode,
    /// Bytes of this state last added to [`VM_MEMORY`].
    reported: usize,
}

/// Memory of every thread's Lua states, EVAL's and functions' (INFO
/// `used_memory_vm_eval`, `used_memory_vm_functions`), kept up to date every
/// `GC_EVERY` runs and when a state is made or dropped.
static VM_MEMORY: [std::sync::atomic::AtomicUsize; 2] = [
    std::sync::atomic::AtomicUsize::new(0),
    std::sync::atomic::AtomicUsize::new(0),
];

/// Bytes used by the Lua states of every thread: (EVAL's, functions').
pub fn vm_memory() -> (usize, usize) {
    (
        VM_MEMORY[0].load(Ordering::Relaxed),
        VM_MEMORY[1].load(Ordering::Relaxed),
    )
}

impl Drop for Engine {
    fn drop(&mut self) {
        VM_MEMORY[self.mode as usize].fetch_sub(self.reported, Ordering::Relaxed);
    }
}

impl Engine {
    /// Brings this state's share of [`VM_MEMORY`] up to date.
    fn report_memory(&mut self) {
        let now = self.lua.used_memory();
        let slot = &VM_MEMORY[self.mode as usize];
        if now >= self.reported {
            slot.fetch_add(now - self.reported, Ordering::Relaxed);
        } else {
            slot.fetch_sub(self.reported - now, Ordering::Relaxed);
        }
        self.reported = now;
    }
}

thread_local! {
    static EVAL_ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    static FUNCTION_ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

impl Engine {
    fn new(mode: Mode) -> mlua::Result<Engine> {
        // SAFETY: the debug library is needed by the error handler only; the prelude keeps
        // a private reference and removes it from the globals before any script runs.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::default(),
            )
        };
        super::libs::register_all(&lua)?;
        let resp3 = Rc::new(Cell::new(false));
        let natives = lua.create_table()?;
        natives.raw_set(
            "sha1hex",
            lua.create_function(|_, args: MultiValue| {
                if args.len() != 1 {
                    return Err(raise("ERR wrong number of arguments"));
                }
                let bytes = match &args[0] {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Integer(i) => i.to_string().into_bytes(),
                    Value::Number(n) => crate::protocol::reply::format_double(*n).into_bytes(),
                    _ => Vec::new(),
                };
                Ok(super::sha1_hex(&bytes))
            })?,
        )?;
        natives.raw_set(
            "error_table",
            lua.create_function(|lua, msg: mlua::LuaString| {
                let msg = msg.as_bytes();
                convert::error_table(lua, msg.strip_prefix(b"-").unwrap_or(&msg))
            })?,
        )?;
        natives.raw_set(
            "log",
            lua.create_function(|_, args: MultiValue| {
                if args.len() < 2 {
                    return Err(raise("ERR redis.log() requires two arguments or more."));
                }
                let Some(level) = number(&args[0]) else {
                    return Err(raise("ERR First argument must be a number (log level)."));
                };
                if !(0.0..=3.0).contains(&level) {
                    return Err(raise("ERR Invalid debug level."));
                }
                let parts: Vec<String> = args.iter().skip(1).filter_map(text).collect();
                let msg = parts.join(" ");
                match level as u8 {
                    0 => tracing::debug!(target: "script", "{msg}"),
                    1 | 2 => tracing::info!(target: "script", "{msg}"),
                    _ => tracing::warn!(target: "script", "{msg}"),
                }
                Ok(())
            })?,
        )?;
        let s = resp3.clone();
        natives.raw_set(
            "setresp",
            lua.create_function(move |_, args: MultiValue| {
                if args.len() != 1 {
                    return Err(raise("ERR redis.setresp() requires one argument."));
                }
                let v = number(&args[0]).unwrap_or(0.0) as i64;
                if v != 2 && v != 3 {
                    return Err(raise("ERR RESP version must be 2 or 3."));
                }
                s.set(v == 3);
                Ok(())
            })?,
        )?;
        let rand = Rc::new(Cell::new(Rand48::default()));
        let r = rand.clone();
        natives.raw_set(
            "random",
            lua.create_function(move |lua, args: MultiValue| {
                let mut g = r.get();
                let x = g.next_f64();
                r.set(g);
                let arg_error = |n: usize, why: &str| {
                    mlua::Error::runtime(format!(
                        "{}bad argument #{n} to 'random' ({why})",
                        caller_position(lua)
                    ))
                };
                let int_arg = |i: usize| -> mlua::Result<f64> {
                    number(&args[i]).map(f64::floor).ok_or_else(|| {
                        arg_error(
                            i + 1,
                            &format!("number expected, got {}", args[i].type_name()),
                        )
                    })
                };
                match args.len() {
                    0 => Ok(x),
                    1 => {
                        let u = int_arg(0)?;
                        if u < 1.0 {
                            return Err(arg_error(1, "interval is empty"));
                        }
                        Ok((x * u).floor() + 1.0)
                    }
                    2 => {
                        let (l, u) = (int_arg(0)?, int_arg(1)?);
                        if l > u {
                            return Err(arg_error(2, "interval is empty"));
                        }
                        Ok((x * (u - l + 1.0)).floor() + l)
                    }
                    _ => Err(mlua::Error::runtime("wrong number of arguments")),
                }
            })?,
        )?;
        natives.raw_set(
            "randomseed",
            lua.create_function(move |_, seed: f64| {
                let mut g = rand.get();
                g.seed(seed as i64 as i32);
                rand.set(g);
                Ok(())
            })?,
        )?;
        natives.raw_set(
            "unwrap",
            lua.create_function(|lua, v: Value| unwrap_raised(lua, v))?,
        )?;
        natives.raw_set("version", crate::base::REDIS_COMPAT_VERSION)?;
        natives.raw_set(
            "version_num",
            version_num(crate::base::REDIS_COMPAT_VERSION),
        )?;
        let registering: Rc<RefCell<Option<Registrations>>> = Rc::new(RefCell::new(None));
        let reg = registering.clone();
        natives.raw_set(
            "register_function",
            lua.create_function(move |_, args: MultiValue| {
                let fail = |m: &str| raise(&format!("ERR {m}"));
                let mut slot = reg.borrow_mut();
                let Some(list) = slot.as_mut() else {
                    return Err(fail(
                        "redis.register_function can only be called on FUNCTION LOAD command",
                    ));
                };
                let (info, callback) = register_args(&args).map_err(fail)?;
                if !functions::valid_name(&info.name) {
                    return Err(fail(functions::BAD_NAME));
                }
                if list.iter().any(|(f, _)| f.name == info.name) {
                    return Err(fail("Function already exists in the library"));
                }
                list.push((info, callback));
                Ok(())
            })?,
        )?;
        let caller: CallerSlot = Rc::new(Cell::new(None));
        for (name, raise) in [("call", true), ("pcall", false)] {
            let slot = caller.clone();
            natives.raw_set(
                name,
                lua.create_function(move |lua, args: MultiValue| {
                    with_caller(&slot, |c| c.call(lua, args, raise))
                })?,
            )?;
        }
        let slot = caller.clone();
        natives.raw_set(
            "set_repl",
            lua.create_function(move |_, args: MultiValue| {
                if args.len() != 1 {
                    return Err(raise("ERR redis.set_repl() requires two arguments."));
                }
                let v = number(&args[0]).unwrap_or(0.0) as i64;
                if v & !3 != 0 {
                    return Err(raise(
                        "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                    ));
                }
                with_caller(&slot, |c| {
                    c.set_repl(v as u8);
                    Ok(())
                })
            })?,
        )?;
        let slot = caller.clone();
        natives.raw_set(
            "acl_check_cmd",
            lua.create_function(move |_, args: MultiValue| {
                with_caller(&slot, |c| c.acl_check(args))
            })?,
        )?;
        let globals = lua.globals();
        let mut prelude: MultiValue = lua
            .load(include_str!("prelude.lua"))
            .set_name("=ferrocache")
            .call((globals.clone(), natives, mode == Mode::Functions))?;
        let mut next = || prelude.pop_front().unwrap_or(Value::Nil);
        let (Value::Function(runner), Value::Table(_redis), Value::Table(env)) =
            (next(), next(), next())
        else {
            return Err(mlua::Error::runtime("prelude returned no runner"));
        };
        let loader = match next() {
            Value::Function(loader) => Some(loader),
            _ => None,
        };
        let engine = Engine {
            lua,
            runner,
            compiled: HashMap::default(),
            generation: 0,
            resp3,
            runs: 0,
            registering,
            env,
            caller,
            hook: Rc::new(RefCell::new(None)),
            loader,
            mode,
            reported: 0,
        };
        engine.install_hook()?;
        let mut engine = engine;
        engine.report_memory();
        Ok(engine)
    }

    /// The instruction hook, set once per state: every `KILL_CHECK_EVERY` instructions
    /// of a run past `busy-reply-threshold` it hands the worker's queue off once and
    /// checks for SCRIPT KILL; after a kill it fires on every line until the run ends.
    fn install_hook(&self) -> mlua::Result<()> {
        let hook = self.hook.clone();
        self.lua.set_hook(
            HookTriggers::new().every_nth_instruction(KILL_CHECK_EVERY),
            move |lua, _| {
                let mut guard = hook.borrow_mut();
                let Some(run) = guard.as_mut() else {
                    return Ok(VmState::Continue);
                };
                // A long script gives its worker's queued tasks (the LIFO slot included,
                // which other workers cannot steal) to another thread, so a client
                // parked on this worker still gets its BUSY reply and SCRIPT KILL still
                // arrives.
                if !run.handed_off
                    && run.srv.scripts.run.elapsed_ms().unwrap_or(0) >= HAND_OFF_AFTER_MS
                {
                    run.handed_off = true;
                    // The handed-off core is picked up by a new thread while this one
                    // waits; once taken, it is not reclaimed here.
                    crate::base::block_in_place(|| {
                        std::thread::sleep(std::time::Duration::from_millis(5))
                    });
                }
                if run.srv.scripts.run.kill.load(Ordering::Relaxed) {
                    // From now on every line raises, as in Redis: a script looping
                    // around pcall cannot swallow the error for ever.
                    run.killed = true;
                    let killed = || raise("ERR Script killed by user with SCRIPT KILL...");
                    lua.set_hook(HookTriggers::EVERY_LINE, move |_, _| Err(killed()))?;
                    return Err(killed());
                }
                Ok(VmState::Continue)
            },
        )
    }

    /// Runs a library's code (after its shebang line) so it registers its functions;
    /// the callbacks are not kept here: the caller decides (FUNCTION LOAD only checks,
    /// a reload keeps them).
    fn load(
        &mut self,
        body: &[u8],
        timeout: Option<std::time::Duration>,
    ) -> Result<Registrations, String> {
        let Some(loader) = self.loader.clone() else {
            return Err("internal: not a functions engine".into());
        };
        let chunk = self
            .lua
            .load(body)
            .set_name("@user_function")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", syntax_message(e)))?;
        if let Some(limit) = timeout {
            let started = std::time::Instant::now();
            self.lua
                .set_hook(
                    HookTriggers::new().every_nth_instruction(KILL_CHECK_EVERY),
                    move |_, _| {
                        if started.elapsed() > limit {
                            return Err(raise("ERR FUNCTION LOAD timeout"));
                        }
                        Ok(VmState::Continue)
                    },
                )
                .map_err(|e| e.to_string())?;
        }
        *self.registering.borrow_mut() = Some(Vec::new());
        let result = loader.call::<(bool, Value)>(chunk);
        if timeout.is_some() {
            self.install_hook().map_err(|e| e.to_string())?;
        }
        let registered = self.registering.borrow_mut().take().unwrap_or_default();
        match result {
            Ok((true, _)) => Ok(registered),
            Ok((false, err)) => Err(format!(
                "Error registering functions: {}",
                error_text(&self.lua, err)
            )),
            Err(e) => Err(format!("Error registering functions: {e}")),
        }
    }

    /// Brings a functions engine up to the server's libraries: a fresh Lua state (what
    /// removed libraries left behind goes with the old one) with every library loaded.
    fn sync_libraries(&mut self, functions: &Functions) -> Result<(), CmdError> {
        let generation = functions.generation.load(Ordering::Acquire);
        if self.generation == generation {
            return Ok(());
        }
        let libs = functions.current();
        *self = Engine::new(Mode::Functions).map_err(init_error)?;
        for lib in libs.iter() {
            let registered = self.load(lib.body(), None).map_err(|m| {
                CmdError::err(format!(
                    "internal: library {} failed to reload: {m}",
                    lib.name
                ))
            })?;
            for (info, f) in registered {
                self.compiled.insert(info.name.to_ascii_lowercase(), f);
            }
        }
        self.generation = generation;
        Ok(())
    }

    /// Compiles a cached script on its first use on this thread (`compiled` then holds it).
    fn compile_once(&mut self, sha: &str, script: &Script) -> Result<(), String> {
        if !self.compiled.contains_key(sha) {
            let f = compile(&self.lua, &self.env, script)?;
            self.compiled.insert(sha.to_string(), f);
        }
        Ok(())
    }
}

/// Compiles a body (its shebang line skipped, its newline kept) as `@user_script`, in
/// the read-only environment.
fn compile(lua: &Lua, env: &Table, script: &Script) -> Result<Function, String> {
    lua.load(&script.body[script.shebang_len..])
        .set_name("@user_script")
        .set_environment(env.clone())
        .into_function()
        .map_err(syntax_message)
}

/// The message of a compile error, as Lua gives it (`user_script:1: ...`).
fn syntax_message(e: mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message,
        other => other.to_string(),
    }
}

/// What an error value caught in Lua says, as Redis's luaExtractErrorInformation reads
/// it: a string becomes `ERR <string>`, an error table gives its `err`.
fn error_text(lua: &Lua, err: Value) -> String {
    let err = match err {
        e @ Value::Error(_) => unwrap_raised(lua, e).unwrap_or(Value::Nil),
        other => other,
    };
    match &err {
        Value::String(s) => format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())),
        Value::Table(t) => t
            .raw_get::<Option<String>>("err")
            .ok()
            .flatten()
            .unwrap_or_default(),
        other => text(other).map(|t| format!("ERR {t}")).unwrap_or_default(),
    }
}

fn init_error(e: mlua::Error) -> CmdError {
    CmdError::err(format!("internal: Lua initialisation failed: {e}"))
}

/// `redis.register_function`'s arguments, positional (name, callback) or named
/// ({function_name=..., callback=..., description=..., flags={...}}), with Redis's
/// texts for what is wrong.
fn register_args(args: &MultiValue) -> Result<(FunctionInfo, Function), &'static str> {
    let info = |name: String, description: Option<Bytes>, flags: ScriptFlags| FunctionInfo {
        name,
        description,
        flags,
    };
    match args.len() {
        2 => {
            let name = text(&args[0])
                .ok_or("first argument to redis.register_function must be a string")?;
            let Value::Function(f) = &args[1] else {
                return Err("second argument to redis.register_function must be a function");
            };
            Ok((info(name, None, ScriptFlags::default()), f.clone()))
        }
        1 => {
            let Value::Table(t) = &args[0] else {
                return Err(
                    "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).",
                );
            };
            let (mut name, mut description, mut callback) = (None, None, None);
            let mut flags = ScriptFlags::default();
            for pair in t.pairs::<Value, Value>() {
                let (k, v) =
                    pair.map_err(|_| "unknown argument given to redis.register_function")?;
                let key = match &k {
                    Value::String(_) | Value::Integer(_) | Value::Number(_) => {
                        text(&k).unwrap_or_default()
                    }
                    _ => {
                        return Err(
                            "named argument key given to redis.register_function is not a string",
                        );
                    }
                };
                match key.to_ascii_lowercase().as_str() {
                    "function_name" => name = Some(text(&v).ok_or(
                        "function_name argument given to redis.register_function must be a string",
                    )?),
                    "description" => {
                        let d = match &v {
                            Value::String(s) => Bytes::copy_from_slice(&s.as_bytes()),
                            other => Bytes::from(text(other).ok_or(
                                "description argument given to redis.register_function must be a string",
                            )?),
                        };
                        description = Some(d);
                    }
                    "callback" => {
                        let Value::Function(f) = v else {
                            return Err(
                                "callback argument given to redis.register_function must be a function",
                            );
                        };
                        callback = Some(f);
                    }
                    "flags" => {
                        let Value::Table(list) = v else {
                            return Err(
                                "flags argument to redis.register_function must be a table representing function flags",
                            );
                        };
                        for i in 1.. {
                            match list.raw_get::<Value>(i).unwrap_or(Value::Nil) {
                                Value::Nil => break,
                                flag => {
                                    let name = text(&flag).unwrap_or_default().to_ascii_lowercase();
                                    if !flags.set(name.as_bytes()) {
                                        return Err("unknown flag given");
                                    }
                                }
                            }
                        }
                    }
                    _ => return Err("unknown argument given to redis.register_function"),
                }
            }
            let name = name.ok_or("redis.register_function must get a function name argument")?;
            let callback =
                callback.ok_or("redis.register_function must get a callback argument")?;
            Ok((info(name, description, flags), callback))
        }
        _ => Err("wrong number of arguments to redis.register_function"),
    }
}

/// `7.0.15` as Redis's REDIS_VERSION_NUM (0x00MMmmpp).
fn version_num(v: &str) -> i64 {
    let mut n = 0i64;
    for part in v.split('.').take(3) {
        n = (n << 8) | part.parse::<i64>().unwrap_or(0);
    }
    n
}

/// Runs `f` with this thread's engine of `mode`, building it on first use.
fn with_engine<R>(mode: Mode, f: impl FnOnce(&mut Engine) -> R) -> Result<R, CmdError> {
    let key = match mode {
        Mode::Eval => &EVAL_ENGINE,
        Mode::Functions => &FUNCTION_ENGINE,
    };
    key.with(|cell| {
        let mut slot = cell
            .try_borrow_mut()
            .map_err(|_| CmdError::err("internal: script engine re-entered"))?;
        if slot.is_none() {
            *slot = Some(Engine::new(mode).map_err(init_error)?);
        }
        Ok(f(slot.as_mut().expect("engine just built")))
    })
}

impl Engine {
    /// After a SCRIPT FLUSH, starts over with a fresh Lua state, as Redis does (what
    /// the flushed scripts left behind goes with the old one).
    fn sync_scripts(&mut self, generation: u64) -> Result<(), CmdError> {
        if self.generation != generation {
            *self = Engine::new(Mode::Eval).map_err(init_error)?;
            self.generation = generation;
        }
        Ok(())
    }
}

/// Drops this thread's EVAL state now (SCRIPT FLUSH: its memory goes at once, as in
/// Redis; other threads start over when they next run a script).
pub fn drop_eval_engine() {
    EVAL_ENGINE.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = None;
        }
    });
}

/// Checks that `script` compiles (SCRIPT LOAD and EVAL cache only scripts that do).
pub fn check_compiles(generation: u64, sha: &str, script: &Script) -> Result<(), CmdError> {
    with_engine(Mode::Eval, |e| {
        e.sync_scripts(generation).map_err(|e| e.to_string())?;
        e.compile_once(sha, script)
    })?
    .map_err(|m| CmdError::err(format!("Error compiling script (new function): {m}")))
}

/// Runs a library's code to learn the functions it registers (FUNCTION LOAD, RESTORE
/// and snapshots check every library so): Redis's error text when it does not compile,
/// raises an error, or runs past `timeout`.
pub fn load_library(
    body: &[u8],
    timeout: Option<std::time::Duration>,
) -> Result<Vec<FunctionInfo>, String> {
    with_engine(Mode::Functions, |e| e.load(body, timeout))
        .map_err(|e| e.to_string())?
        .map(|registered| registered.into_iter().map(|(info, _)| info).collect())
}

/// What runs: a cached script or a library function.
#[derive(Clone, Copy)]
pub enum Target<'s> {
    /// EVAL / EVALSHA: the script and its SHA1 (its name in errors).
    Script {
        /// The script's SHA1.
        sha: &'s str,
        /// The cached script.
        script: &'s Arc<Script>,
    },
    /// FCALL: a function by name.
    Function {
        /// The function's name as registered (its name in errors).
        name: &'s str,
    },
}

/// What a script run needs besides the command context.
pub struct Invocation<'s> {
    /// The script or function.
    pub target: Target<'s>,
    /// Its declared flags.
    pub flags: ScriptFlags,
    /// KEYS.
    pub keys: &'s [Bytes],
    /// ARGV.
    pub argv: &'s [Bytes],
    /// EVAL_RO / EVALSHA_RO / FCALL_RO.
    pub read_only: bool,
}

/// Runs a script for EVAL/EVALSHA and writes its reply. The caller holds the write section
/// and has done the checks that depend on the script's flags.
pub fn run(ctx: &mut Ctx<'_>, inv: Invocation<'_>, oom_at_start: bool) -> CmdResult {
    let srv = ctx.srv;
    let flags: ScriptFlags = inv.flags;
    let mut run = RunCtx {
        db: ctx.client.db,
        resp3: false,
        read_only: inv.read_only || (!flags.compat && flags.no_writes),
        allow_oom: !flags.compat && flags.allow_oom,
        oom_at_start,
        wrote: false,
        repl: call::REPL_ALL,
        declared_keys: inv.keys,
    };
    let (mode, name) = match inv.target {
        Target::Script { sha, .. } => (Mode::Eval, sha),
        Target::Function { name } => (Mode::Functions, name),
    };
    with_engine(mode, |engine| -> Result<(), CmdError> {
        // Compiled (or synced) first, then borrowed for the call: a reference pushes the
        // function without the registry round trip a clone costs on every run.
        let key = match inv.target {
            Target::Script { sha, script } => {
                engine.sync_scripts(srv.scripts.generation.load(Ordering::Acquire))?;
                engine.compile_once(sha, script).map_err(|m| {
                    CmdError::err(format!("Error compiling script (new function): {m}"))
                })?;
                std::borrow::Cow::Borrowed(sha)
            }
            Target::Function { name } => {
                engine.sync_libraries(&srv.functions)?;
                std::borrow::Cow::Owned(name.to_ascii_lowercase())
            }
        };
        let f = engine
            .compiled
            .get(key.as_ref())
            .ok_or_else(|| CmdError::err("Function not found"))?;
        let lua = engine.lua.clone();
        let lua_err = |e: mlua::Error| CmdError::err(format!("internal: {e}"));
        // KEYS and ARGV (globals for scripts, arguments for functions) are built by the
        // runner: few text arguments go over the Lua stack as they are, the cheapest way
        // in; many, or binary ones, as two tables made here.
        let count = inv.keys.len() + inv.argv.len();
        let texts: Option<Vec<&str>> = (count <= STACK_ARGS)
            .then(|| {
                inv.keys
                    .iter()
                    .chain(inv.argv)
                    .map(|a| std::str::from_utf8(a).ok())
                    .collect()
            })
            .flatten();
        let run_args = match texts {
            Some(texts) => RunArgs::Stack(texts),
            None => RunArgs::Tables(
                string_array(&lua, inv.keys).map_err(lua_err)?,
                string_array(&lua, inv.argv).map_err(lua_err)?,
            ),
        };
        engine.resp3.set(false);
        let threshold = srv.config.live.busy_reply_threshold.load(Ordering::Relaxed);
        if threshold > 0 {
            *engine.hook.borrow_mut() = srv.arc().map(|srv| HookRun {
                handed_off: false,
                srv,
                killed: false,
            });
        }
        let caller = RunCaller {
            state: RefCell::new((&mut *ctx, &mut run)),
            resp3: engine.resp3.clone(),
        };
        let installed = install(&engine.caller, &caller);
        let result = match run_args {
            RunArgs::Stack(texts) => engine.runner.call::<(bool, Value)>((
                f,
                inv.keys.len() as i64,
                mlua::Variadic::from(texts),
            )),
            RunArgs::Tables(keys, argv) => {
                engine.runner.call::<(bool, Value)>((f, -1i64, keys, argv))
            }
        };
        drop(installed);
        if engine.hook.take().is_some_and(|h| h.killed) {
            engine.install_hook().map_err(lua_err)?;
        }
        engine.runs += 1;
        if engine.runs % GC_EVERY == 0 {
            let _ = lua.gc_step();
            engine.report_memory();
        }
        let script_resp3 = engine.resp3.get();
        let (ok, value) = result.map_err(lua_err)?;
        let (ctx, _) = caller.state.into_inner();
        if !ok {
            return Err(script_error(&value, name));
        }
        // An error table returned as the reply: the script failed (for commandstats),
        // and its error counts unless a command the script called counted it already.
        if let Value::Table(t) = &value
            && let Ok(Value::String(e)) = t.raw_get::<Value>("err")
        {
            let text = String::from_utf8_lossy(&e.as_bytes()).into_owned();
            return Err(if already_counted(t) {
                CmdError::Counted(text)
            } else {
                CmdError::Msg(text)
            });
        }
        convert::lua_to_reply(&value, ctx.out, script_resp3, 0);
        Ok(())
    })?
}

/// The error EVAL replies with when the script raised one: the error's own text, then
/// where it was raised, as Redis formats it.
fn script_error(value: &Value, sha: &str) -> CmdError {
    let Value::Table(t) = value else {
        let msg = match value {
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => "execution failure".into(),
        };
        let msg: String = msg.chars().take(100).collect();
        return CmdError::err(format!("Error running script {sha}, {msg}"));
    };
    let mut msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Ok(Value::Integer(i)) => i.to_string(),
        Ok(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let source = t.raw_get::<Option<String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    if let (Some(source), Some(line)) = (source, line) {
        msg = format!("{msg} script: {sha}, on {source}:{line}.");
    }
    if already_counted(t) {
        CmdError::Counted(msg)
    } else {
        CmdError::Msg(msg)
    }
}

/// An error table from a command the script called: its error was counted then.
fn already_counted(t: &Table) -> bool {
    matches!(
        t.raw_get::<Value>("ignore_error_stats_update"),
        Ok(Value::Boolean(true))
    )
}

fn string_array(lua: &Lua, items: &[Bytes]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(t)
}

/// `redis.call` / `redis.pcall` for the prelude: (true, reply) or (false, error table).
fn redis_call(
    lua: &Lua,
    ctx: &mut Ctx<'_>,
    run: &mut RunCtx<'_>,
    args: MultiValue,
) -> mlua::Result<(bool, Value)> {
    let argv = match call::lua_args(&args) {
        Ok(argv) => argv,
        Err(msg) => return Ok((false, Value::Table(convert::script_error(lua, msg)?))),
    };
    match call::call(ctx, run, argv) {
        Ok(reply) => {
            let is_error = reply.first() == Some(&b'-');
            let mut pos = 0;
            let v = convert::reply_to_lua(lua, &reply, &mut pos, 0)?;
            if is_error && let Value::Table(t) = &v {
                // Counted when the command failed; not again when the script does.
                t.raw_set("ignore_error_stats_update", true)?;
            }
            Ok((!is_error, v))
        }
        Err(msg) => {
            let t = convert::script_error(lua, &msg)?;
            t.raw_set("ignore_error_stats_update", true)?;
            Ok((false, Value::Table(t)))
        }
    }
}

/// `redis.acl_check_cmd`: whether the script's user may run the command.
fn acl_check(ctx: &mut Ctx<'_>, args: MultiValue) -> mlua::Result<bool> {
    let argv = call::lua_args(&args).map_err(|m| raise(&format!("ERR {m}")))?;
    if argv.is_empty() {
        return Err(raise(
            "ERR Please specify at least one argument for this redis lib call",
        ));
    }
    let srv = ctx.srv;
    let cmd = srv
        .commands
        .get(&argv[0])
        .ok_or_else(|| raise("ERR Invalid command passed to redis.acl_check_cmd()"))?;
    Ok(ctx.client.user.unrestricted() || srv.acl.check(&ctx.client.user, cmd, &argv).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand48_matches_redis_sequence() {
        // The first two math.random() values a fresh stock 7.0 server gives.
        let mut r = Rand48::default();
        assert_eq!(format!("{:.14}", r.next_f64()), "0.39646477363839");
        assert_eq!(format!("{:.14}", r.next_f64()), "0.84048536971234");
    }

    #[test]
    fn version_num_as_redis() {
        assert_eq!(version_num("7.0.15"), 458767);
    }
}
