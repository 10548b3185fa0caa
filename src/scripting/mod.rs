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
use std::time::Instant;

pub use shebang::ScriptFlags;

/// A cached script body and the flags its shebang declared.
#[derive(Debug)]
pub struct Script {
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
    cache: RwLock<HashMap<String, Arc<Script>, ahash::RandomState>>,
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
    started: Mutex<Option<Instant>>,
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

/// The BUSY reply while an EVAL script runs.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The BUSY reply while a function runs.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

impl RunState {
    /// True while a script runs; a relaxed load, cheap enough for every command.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    /// Milliseconds since the running script started, or None when none runs.
    pub fn elapsed_ms(&self) -> Option<u64> {
        if !self.is_running() {
            return None;
        }
        self.started.lock().map(|s| s.elapsed().as_millis() as u64)
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
        *self.current.lock() = function;
        *self.started.lock() = Some(Instant::now());
        self.kill.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.running.store(true, Ordering::Release);
    }

    /// Marks the script ended and wakes the clients held meanwhile.
    pub fn end(&self) {
        self.running.store(false, Ordering::Release);
        *self.started.lock() = None;
        *self.current.lock() = None;
        self.done.notify_waiters();
    }
}

/// Lower-case hex SHA1 of a body: a script's name in the cache.
pub fn sha1_hex(body: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    crate::base::hex(&Sha1::digest(body))
}

impl Scripts {
    /// The cached script named by `sha` (any case).
    pub fn get(&self, sha: &[u8]) -> Option<(String, Arc<Script>)> {
        if sha.len() != 40 {
            return None;
        }
        let key = String::from_utf8_lossy(sha).to_ascii_lowercase();
        let script = self.cache.read().get(&key).cloned()?;
        Some((key, script))
    }

    /// Adds `body` to the cache (a no-op when already there) after checking its shebang;
    /// compiling is the engine's job, which the caller asks for first.
    pub fn insert(&self, sha: &str, body: Bytes, parsed: (ScriptFlags, usize)) -> Arc<Script> {
        let mut cache = self.cache.write();
        if let Some(s) = cache.get(sha) {
            return s.clone();
        }
        self.cache_bytes
            .fetch_add(body.len() + 40, Ordering::Relaxed);
        let script = Arc::new(Script {
            body,
            flags: parsed.0,
            shebang_len: parsed.1,
        });
        cache.insert(sha.to_string(), script.clone());
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
