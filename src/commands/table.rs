//! The command table as data: name, arity, flags and key positions for every command.
//! Dispatch, MULTI queueing, subscribed-mode checks, COMMAND INFO/DOCS/GETKEYS and (later)
//! replication, ACL categories and tracking all read these entries instead of keeping their
//! own lists.

use super::Ctx;
use super::error::CmdResult;
use bytes::Bytes;
use std::collections::HashMap;

/// A command handler: parses its arguments, runs, and writes the reply into `ctx.out`.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;

/// Command flags (bitset); names follow Redis's COMMAND INFO flags.
pub mod flags {
    /// Modifies the keyspace: runs inside a write section, replicated.
    pub const WRITE: u32 = 1;
    /// Reads data only.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory (refused under OOM with noeviction).
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// Pub/sub related.
    pub const PUBSUB: u32 = 1 << 4;
    /// Not allowed from scripts.
    pub const NOSCRIPT: u32 = 1 << 5;
    /// Allowed while loading.
    pub const LOADING: u32 = 1 << 6;
    /// Allowed on a stale replica.
    pub const STALE: u32 = 1 << 7;
    /// O(1) or O(log n).
    pub const FAST: u32 = 1 << 8;
    /// Allowed before AUTH.
    pub const NO_AUTH: u32 = 1 << 9;
    /// Not allowed inside MULTI (runs or errors immediately).
    pub const NO_MULTI: u32 = 1 << 10;
    /// Reads several keys or the whole keyspace (or, WATCH, registers interest in keys):
    /// takes the shared sequencer side so it never overlaps a write.
    pub const ATOMIC_READ: u32 = 1 << 11;
    /// Allowed in RESP2 subscribed mode.
    pub const SUBSCRIBED_OK: u32 = 1 << 12;
    /// Hidden from MONITOR (arguments are secrets).
    pub const SKIP_MONITOR: u32 = 1 << 13;
    /// Not recorded in SLOWLOG.
    pub const SKIP_SLOWLOG: u32 = 1 << 14;
    /// Blocks the client.
    pub const BLOCKING: u32 = 1 << 15;
    /// Executes immediately even inside MULTI (EXEC, DISCARD, MULTI, WATCH, QUIT, RESET).
    pub const TX_CONTROL: u32 = 1 << 16;
    /// May generate replication traffic (PUBLISH-like).
    pub const MAY_REPLICATE: u32 = 1 << 17;
    /// Runs inside the write section without being a write itself (EXEC, for its queue):
    /// CLIENT PAUSE is checked there, so no write slips past a pause.
    pub const WRITE_SECTION: u32 = 1 << 19;
    /// Refused unless `enable-debug-command` allows it (DEBUG); not shown by COMMAND
    /// INFO, as in Redis.
    pub const PROTECTED: u32 = 1 << 18;

    /// Names COMMAND INFO prints, in order.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MULTI, "no_multi"),
    ];
}

/// A subcommand of a container command (CONFIG GET, CLIENT LIST...): dispatch checks its
/// name and arity centrally, so errors read `wrong number of arguments for 'config|get'`.
#[derive(Debug)]
pub struct SubCommand {
    /// Lower-case name.
    pub name: &'static str,
    /// Arity counted like Redis: including the container and subcommand names.
    pub arity: i32,
    /// One-line description (COMMAND DOCS).
    pub summary: &'static str,
    /// `flags::*` bits of the subcommand itself (COMMAND INFO, ACL categories: CONFIG GET
    /// and CONFIG SET are both admin, CLIENT ID is not).
    pub flags: u32,
}

/// Shorthand for a [`SubCommand`] without flags.
pub const fn sub(name: &'static str, arity: i32, summary: &'static str) -> SubCommand {
    SubCommand {
        name,
        arity,
        summary,
        flags: 0,
    }
}

impl SubCommand {
    /// The same subcommand with its flags set.
    pub const fn with_flags(mut self, flags: u32) -> SubCommand {
        self.flags = flags;
        self
    }

    /// True when the flag bit is set.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// Per-command counters for INFO commandstats; they live in the static table entry itself,
/// so counting costs no lookup.
#[derive(Debug)]
pub struct CommandStats {
    /// Executions.
    pub calls: std::sync::atomic::AtomicU64,
    /// Nanoseconds spent executing (summed unrounded: most commands take less than a
    /// microsecond, so per-call microseconds would mostly add up zeros).
    pub nanos: std::sync::atomic::AtomicU64,
    /// Refused before running (arity, auth, context errors).
    pub rejected: std::sync::atomic::AtomicU64,
    /// Ran and replied with an error.
    pub failed: std::sync::atomic::AtomicU64,
}

impl CommandStats {
    const fn new() -> Self {
        use std::sync::atomic::AtomicU64;
        CommandStats {
            calls: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Zeroes the counters (CONFIG RESETSTAT).
    pub fn reset(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        for c in [&self.calls, &self.nanos, &self.rejected, &self.failed] {
            c.store(0, Relaxed);
        }
    }
}

/// One command's table entry.
#[derive(Debug)]
pub struct Command {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: exact count if positive, minimum count if negative (name included).
    pub arity: i32,
    /// `flags::*` bits.
    pub flags: u32,
    /// First key argument index (0 = none).
    pub first_key: i32,
    /// Last key index (negative counts from the end).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// Command group (COMMAND DOCS `group`, ACL category).
    pub group: &'static str,
    /// One-line description (COMMAND DOCS `summary`).
    pub summary: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// The handler.
    pub handler: Handler,
    /// Subcommands, for container commands.
    pub subcommands: &'static [SubCommand],
    /// INFO commandstats counters.
    pub stats: CommandStats,
}

impl Command {
    /// True when the flag bit is set.
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// The flags that apply to a request: its subcommand's for a container.
    pub fn effective_flags(&self, args: &[bytes::Bytes]) -> u32 {
        if self.subcommands.is_empty() {
            return self.flags;
        }
        args.get(1)
            .and_then(|a| {
                self.subcommands
                    .iter()
                    .find(|s| s.name.as_bytes().eq_ignore_ascii_case(a))
            })
            .map_or(0, |s| s.flags)
    }

    /// True when `argc` (including the name) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    /// Checks a container's subcommand name and arity, with Redis's error texts.
    pub fn check_subcommand(&self, args: &[bytes::Bytes]) -> Result<(), super::CmdError> {
        if self.subcommands.is_empty() || args.len() < 2 {
            return Ok(());
        }
        let name = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
        let Some(s) = self.subcommands.iter().find(|s| s.name == name) else {
            let shown: String = String::from_utf8_lossy(&args[1])
                .chars()
                .take(128)
                .collect();
            return Err(super::CmdError::err(format!(
                "unknown subcommand '{}'. Try {} HELP.",
                shown,
                self.name.to_ascii_uppercase()
            )));
        };
        let argc = args.len();
        if (s.arity > 0 && argc != s.arity as usize) || (s.arity < 0 && argc < (-s.arity) as usize)
        {
            return Err(super::CmdError::Arity(format!("{}|{}", self.name, s.name)));
        }
        Ok(())
    }

    /// Indexes of key arguments in `args` (COMMAND GETKEYS, tracking, ACL).
    pub fn key_indexes(&self, argc: usize) -> Vec<usize> {
        if self.first_key <= 0 || argc <= self.first_key as usize {
            return Vec::new();
        }
        let last = if self.last_key < 0 {
            argc as i32 + self.last_key
        } else {
            self.last_key.min(argc as i32 - 1)
        };
        let mut v = Vec::new();
        let mut i = self.first_key;
        while i <= last {
            v.push(i as usize);
            i += self.step.max(1);
        }
        v
    }
}

/// Shorthand constructor used by the family modules' tables.
#[allow(clippy::too_many_arguments)]
pub const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group,
        summary,
        since,
        handler,
        subcommands: &[],
        stats: CommandStats::new(),
    }
}

/// A container command (CONFIG, CLIENT...) with its subcommand table.
#[allow(clippy::too_many_arguments)]
pub const fn container(
    name: &'static str,
    flags: u32,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: Handler,
    subcommands: &'static [SubCommand],
) -> Command {
    Command {
        name,
        arity: -2,
        flags,
        first_key: 0,
        last_key: 0,
        step: 0,
        group,
        summary,
        since,
        handler,
        subcommands,
        stats: CommandStats::new(),
    }
}

/// Name -> command lookup over every family's table.
pub struct CommandTable {
    by_name: HashMap<&'static str, &'static Command, ahash::RandomState>,
    /// All commands in table order.
    pub all: Vec<&'static Command>,
}

impl CommandTable {
    /// Builds the table from the family modules.
    pub fn new(commands: &'static [Command]) -> Self {
        let mut by_name = HashMap::with_hasher(ahash::RandomState::new());
        let mut all = Vec::new();
        for c in commands {
            by_name.insert(c.name, c);
            all.push(c);
        }
        CommandTable { by_name, all }
    }

    /// `rename-command old new` (or `old ""` to remove it), as Redis applies it at
    /// startup; errors use Redis's texts. ACL rules keep using the original names.
    pub fn rename(&mut self, old: &str, new: &str) -> Result<(), String> {
        let old = old.to_ascii_lowercase();
        let cmd = self
            .by_name
            .remove(old.as_str())
            .ok_or("No such command in rename-command")?;
        if new.is_empty() {
            return Ok(());
        }
        let new = new.to_ascii_lowercase();
        if self.by_name.contains_key(new.as_str()) {
            return Err("Target command name already exists".into());
        }
        // Startup only and bounded by the configuration: the name lives as long as the table.
        self.by_name.insert(Box::leak(new.into_boxed_str()), cmd);
        Ok(())
    }

    /// Case-insensitive lookup without allocating for usual names (renamed commands may
    /// be longer: redis.conf's own example renames CONFIG to a 40-character hash).
    pub fn get(&self, name: &[u8]) -> Option<&'static Command> {
        let mut buf = [0u8; 64];
        if name.len() > buf.len() {
            let lower = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
            return self.by_name.get(lower.as_str()).copied();
        }
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        let lower = std::str::from_utf8(&buf[..name.len()]).ok()?;
        self.by_name.get(lower).copied()
    }
}
