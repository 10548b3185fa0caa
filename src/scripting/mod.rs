//! Lua scripting (EVAL and friends): the script cache every connection shares, the state
//! other clients consult while a script runs (BUSY, SCRIPT KILL), and the engine.
//!
//! A script runs inside the write section its command took, like EXEC, so it is one step
//! to every other writer and to the replication stream; the commands it calls go through
//! [`call`] with Redis's checks for scripts. Each worker thread has its own Lua state
//! ([`engine`]): scripts keep no state between runs (globals are read-only), so compiling
//! a cached body once per thread is all the sharing there is.

pub mod call;
pub mod convert;
pub mod engine;
pub mod functions;
pub mod libs;
pub mod shebang;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

pub use shebang::ScriptFlags;

/// A cached script body and the flags its shebang declared.
#[derive(Debug)]
pub struct Script {
    /// Its lower-case hex SHA1: its name in the cache and in errors.
    pub sha: String,
    /// The source, as sent to EVAL or SCRIPT LOAD.
    pub body: Bytes,
    /// Declared flags (or compatibility mode without a shebang).
    pub flags: ScriptFlags,
    /// Bytes of the shebang line, skipped when compiling (its newline is kept so line
    /// numbers stay the user's).
    pub shebang_len: usize,
}

/// The server's scripts: the cache by SHA1, the run in progress and the PRNG scripts share.
#[derive(Default)]
pub struct Scripts {
    /// Lower-case hex SHA1 → script.
    cache: RwLock<HashMap<[u8; 40], Arc<Script>, ahash::RandomState>>,
    /// Bytes of cached bodies (INFO `used_memory_scripts_eval`).
    cache_bytes: AtomicUsize,
    /// Raised by SCRIPT FLUSH: each thread's engine drops what it compiled when it sees a
    /// new value.
    pub generation: AtomicU64,
    /// The script running now, if any.
    pub run: RunState,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call commands flagged `noscript`
    /// (Redis's test suite uses it to run CLIENT LIST from a script).
    pub allow_noscript: AtomicBool,
}

/// What other connections need to know about the script running now.
#[derive(Default)]
pub struct RunState {
    running: AtomicBool,
    /// When the running script started, in nanoseconds since [`clock_base`].
    started_ns: AtomicU64,
    /// Clients parked in [`RunState::done`]'s wait: a script ending with none skips the
    /// wake-up (most scripts end before anyone waits).
    pub parked: AtomicUsize,
    /// Set by SCRIPT KILL; the engine's hook stops the script when it sees it.
    pub kill: AtomicBool,
    /// The script has run a write (then it can no longer be killed).
    pub wrote: AtomicBool,
    /// Woken when a script ends, for the clients held while it ran.
    pub done: tokio::sync::Notify,
    /// The running code is a function (FCALL), not an EVAL script: BUSY texts and which
    /// KILL stops it differ.
    function: AtomicBool,
    /// For FUNCTION STATS: the running function's name and the command that called it.
    current: Mutex<Option<(String, Vec<Bytes>)>>,
}

/// How long a command waits on its thread for a script to end before it is parked.
const BRIEF_WAIT: std::time::Duration = std::time::Duration::from_micros(200);

/// The BUSY reply while an EVAL script runs.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The BUSY reply while a function runs.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

impl RunState {
    /// True while a script runs; a relaxed load, cheap enough for every command.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// Waits on this thread, up to `BRIEF_WAIT`, for the running script to end: most
    /// scripts take microseconds, far less than parking a connection and waking it
    /// again. False when one is still running.
    pub fn wait_briefly(&self) -> bool {
        let deadline = std::time::Instant::now() + BRIEF_WAIT;
        while self.is_running() {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }

    /// Milliseconds since the running script started, or None when none runs.
    pub fn elapsed_ms(&self) -> Option<u64> {
        if !self.is_running() {
            return None;
        }
        let started = self.started_ns.load(Ordering::Acquire);
        Some(since_base_ns().saturating_sub(started) / 1_000_000)
    }

    /// True while the running code is a function.
    pub fn is_function(&self) -> bool {
        self.function.load(Ordering::Acquire)
    }

    /// The BUSY text for what runs now.
    pub fn busy_text(&self) -> &'static str {
        if self.is_function() {
            BUSY_FUNCTION
        } else {
            BUSY_EVAL
        }
    }

    /// The running function's name and calling command (FUNCTION STATS).
    pub fn current(&self) -> Option<(String, Vec<Bytes>)> {
        self.current.lock().clone()
    }

    /// Marks a script started (the caller holds the write section); `function` names
    /// a function and the command that called it.
    pub fn begin(&self, function: Option<(String, Vec<Bytes>)>) {
        self.function.store(function.is_some(), Ordering::Release);
        if function.is_some() {
            *self.current.lock() = function;
        }
        self.started_ns.store(since_base_ns(), Ordering::Release);
        self.kill.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.running.store(true, Ordering::SeqCst);
    }

    /// Marks the script ended and wakes the clients held meanwhile.
    pub fn end(&self) {
        self.running.store(false, Ordering::SeqCst);
        if self.function.load(Ordering::Relaxed) {
            *self.current.lock() = None;
        }
        // A client parking now sees the script ended (it checks after counting itself).
        if self.parked.load(Ordering::SeqCst) > 0 {
            self.done.notify_waiters();
        }
    }
}

/// The instant script start times count from.
/// A TSC-based clock (quanta): read at every script start, where a system call's worth
/// of clock shows in pipelined EVALSHA.
fn clock_base() -> quanta::Instant {
    static BASE: std::sync::OnceLock<quanta::Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(quanta::Instant::now)
}

fn since_base_ns() -> u64 {
    clock_base().elapsed().as_nanos() as u64
}

/// A SHA1 as the cache keys it (lower case); None when it is not 40 bytes long.
fn cache_key(sha: &[u8]) -> Option<[u8; 40]> {
    let mut key: [u8; 40] = sha.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

/// Lower-case hex SHA1 of a body: a script's name in the cache.
pub fn sha1_hex(body: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    crate::base::hex(&Sha1::digest(body))
}

impl Scripts {
    /// The cached script named by `sha` (any case); looked up on every EVALSHA, so
    /// without allocating.
    pub fn get(&self, sha: &[u8]) -> Option<Arc<Script>> {
        let key = cache_key(sha)?;
        // An EVALSHA looks its script up three times (flags when admitted, when run, in
        // the handler) and pipelines repeat one script: each thread remembers its last
        // hit, valid while no SCRIPT FLUSH came after it.
        thread_local! {
            static LAST_HIT: std::cell::RefCell<Option<(usize, u64, Arc<Script>)>> =
                const { std::cell::RefCell::new(None) };
        }
        let me = self as *const Scripts as usize;
        let generation = self.generation.load(Ordering::Acquire);
        let memo = LAST_HIT.with_borrow(|last| match last {
            Some((owner, g, s)) if *owner == me && *g == generation && s.sha.as_bytes() == key => {
                Some(s.clone())
            }
            _ => None,
        });
        if memo.is_some() {
            return memo;
        }
        let found = self.cache.read().get(&key).cloned()?;
        LAST_HIT.set(Some((me, generation, found.clone())));
        Some(found)
    }

    /// Adds `body` to the cache (a no-op when already there) after checking its shebang;
    /// compiling is the engine's job, which the caller asks for first.
    pub fn insert(&self, sha: &str, body: Bytes, parsed: (ScriptFlags, usize)) -> Arc<Script> {
        let key = cache_key(sha.as_bytes()).expect("a SHA1 is 40 hex digits");
        let mut cache = self.cache.write();
        if let Some(s) = cache.get(&key) {
            return s.clone();
        }
        self.cache_bytes
            .fetch_add(body.len() + 40, Ordering::Relaxed);
        let script = Arc::new(Script {
            sha: sha.to_string(),
            body,
            flags: parsed.0,
            shebang_len: parsed.1,
        });
        cache.insert(key, script.clone());
        script
    }

    /// True when `sha` is cached.
    pub fn exists(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    /// Empties the cache (SCRIPT FLUSH); engines recompile from scratch.
    pub fn flush(&self) {
        self.cache.write().clear();
        self.cache_bytes.store(0, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Number of cached scripts (INFO `number_of_cached_scripts`).
    pub fn count(&self) -> usize {
        self.cache.read().len()
    }

    /// Bytes of cached script bodies.
    pub fn cache_bytes(&self) -> usize {
        self.cache_bytes.load(Ordering::Relaxed)
    }
}
