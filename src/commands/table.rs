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
    /// Arguments may name no key at all (EVAL with numkeys 0).
    pub const NO_MANDATORY_KEYS: u32 = 1 << 20;
    /// Runs while a script keeps the server busy (SCRIPT KILL, SHUTDOWN, AUTH...); every
    /// other command waits, then gets `-BUSY` past `busy-reply-threshold`.
    pub const ALLOW_BUSY: u32 = 1 << 21;
    /// EVAL, FCALL and their kin: a script's declared flags replace the command's WRITE,
    /// DENYOOM and STALE before the checks (Redis's getCommandFlags hook).
    pub const SCRIPT_DECLARED: u32 = 1 << 22;
    /// Runs for a client that sent ASKING in cluster mode (RESTORE-ASKING); shown only.
    pub const ASKING: u32 = 1 << 23;
    /// Refused while a replica loads its snapshot asynchronously; shown only (followers
    /// here load before serving).
    pub const NO_ASYNC_LOADING: u32 = 1 << 24;

    /// Names COMMAND INFO prints, in order (MAY_REPLICATE and PROTECTED are not shown,
    /// as in Redis).
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
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
    ];
}

/// Key spec flags, as Redis declares them per key: what a command does with a key. ACL
/// `%R~`/`%W~` checks (read = `ACCESS`; write = `INSERT`, `DELETE` or `UPDATE`), tracking
/// and COMMAND INFO read them.
pub mod key {
    /// Reads the key (may not return the value).
    pub const RO: u32 = 1;
    /// Reads and writes the key.
    pub const RW: u32 = 1 << 1;
    /// Overwrites the key without reading it.
    pub const OW: u32 = 1 << 2;
    /// Deletes the key.
    pub const RM: u32 = 1 << 3;
    /// Returns, copies or otherwise uses the value's content.
    pub const ACCESS: u32 = 1 << 4;
    /// Updates the existing value.
    pub const UPDATE: u32 = 1 << 5;
    /// Adds data to the value (or creates it).
    pub const INSERT: u32 = 1 << 6;
    /// Removes data from the value (or the key).
    pub const DELETE: u32 = 1 << 7;
    /// Not a key, though positioned as one (channels, ...).
    pub const NOT_KEY: u32 = 1 << 8;
    /// The spec may not find every key.
    pub const INCOMPLETE: u32 = 1 << 9;
    /// The flags depend on the arguments ([`super::KeySpec::flags_by`]).
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    /// Names COMMAND INFO prints, in order.
    pub const NAMES: &[(u32, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];
}

/// How a key spec finds its keys once it has found where they begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys up to `lastkey` (relative to the first; negative counts from the end), every
    /// `keystep` arguments.
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    /// A key count at `keynumidx`, the keys from `firstkey` (both relative to the
    /// spec's begin), every `keystep` arguments (ZUNION 2 a b, LMPOP 2 a b LEFT).
    KeyNum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    /// Keys no spec can locate (SORT's BY/GET patterns and STORE destination): the
    /// command checks them itself; COMMAND INFO shows the spec as `unknown`.
    Unknown,
}

/// A command's own key finder (see [`Command::getkeys`]); None when the arguments
/// contradict it.
pub type GetKeys = fn(&[Bytes]) -> Option<Vec<KeyRef>>;

/// Finds the one key of an `unknown` key spec in a request (its position).
pub type KeyLocator = fn(&[Bytes]) -> Option<usize>;

/// One group of keys of a command, as a Redis key spec: its flags, the argument where
/// the search begins, and how the keys are found from there. GETKEYS, ACL key checks,
/// tracking and COMMAND INFO all read these, so a command states its keys once.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// `key::*` bits.
    pub flags: u32,
    /// The argument where the search begins (the command name is 0).
    pub index: i32,
    /// How the keys are found from `index`.
    pub find: FindKeys,
    /// Why the flags are what they are, when not obvious (COMMAND INFO `notes`).
    pub notes: &'static str,
    /// For `key::VARIABLE_FLAGS`: the flags a given request really uses.
    pub flags_by: Option<fn(&[Bytes]) -> u32>,
    /// The search begins after this keyword, looked for from argument `startfrom`
    /// (GEORADIUS ... STORE key); `index` is then unused.
    pub keyword: Option<(&'static str, i32)>,
    /// For a [`FindKeys::Unknown`] spec: the command's own way to find its key, as
    /// Redis's getkeys procedures (SORT's STORE destination).
    pub locate: Option<KeyLocator>,
}

/// Keys from argument `index` to `index + lastkey` (or `argc + lastkey` when negative)
/// every `keystep` arguments.
pub const fn key_range(flags: u32, index: i32, lastkey: i32, keystep: i32, limit: i32) -> KeySpec {
    KeySpec {
        flags,
        index,
        find: FindKeys::Range {
            lastkey,
            keystep,
            limit,
        },
        notes: "",
        flags_by: None,
        keyword: None,
        locate: None,
    }
}

/// Keys only the command itself can find (see [`FindKeys::Unknown`]).
pub const fn key_unknown(flags: u32) -> KeySpec {
    KeySpec {
        flags,
        index: 0,
        find: FindKeys::Unknown,
        notes: "",
        flags_by: None,
        keyword: None,
        locate: None,
    }
}

/// Keys counted by the argument at `index + keynumidx`, from `index + firstkey`.
pub const fn key_num(
    flags: u32,
    index: i32,
    keynumidx: i32,
    firstkey: i32,
    keystep: i32,
) -> KeySpec {
    KeySpec {
        flags,
        index,
        find: FindKeys::KeyNum {
            keynumidx,
            firstkey,
            keystep,
        },
        notes: "",
        flags_by: None,
        keyword: None,
        locate: None,
    }
}

impl KeySpec {
    /// The same spec with its COMMAND INFO notes.
    pub const fn notes(mut self, notes: &'static str) -> KeySpec {
        self.notes = notes;
        self
    }

    /// The same spec, beginning after `keyword` found from argument `startfrom` on.
    pub const fn after_keyword(mut self, keyword: &'static str, startfrom: i32) -> KeySpec {
        self.keyword = Some((keyword, startfrom));
        self
    }

    /// The same spec, its key found by `f` (for [`FindKeys::Unknown`] specs).
    pub const fn located_by(mut self, f: KeyLocator) -> KeySpec {
        self.locate = Some(f);
        self
    }

    /// The same spec whose flags a request's arguments decide (SET ... GET).
    pub const fn flags_by(mut self, f: fn(&[Bytes]) -> u32) -> KeySpec {
        self.flags_by = Some(f);
        self
    }
}

/// A key argument of a request: its position and what the command does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    /// Index in the arguments (the command name is 0).
    pub pos: usize,
    /// `key::*` bits for this request.
    pub flags: u32,
}

/// The keys `specs` find in `args` (Redis's getKeysUsingKeySpecs); None when the
/// arguments contradict a spec (a key count that is not a number, or more keys than
/// arguments), which the command itself then reports.
pub fn find_keys(specs: &[KeySpec], args: &[Bytes]) -> Option<Vec<KeyRef>> {
    let argc = args.len() as i64;
    let mut out = Vec::new();
    for spec in specs {
        if spec.flags & key::NOT_KEY != 0 {
            continue;
        }
        let mut first = spec.index as i64;
        if let Some((word, from)) = spec.keyword {
            // A negative start searches backwards from the end (MIGRATE ... KEYS), as
            // Redis does; the command name is never a keyword.
            let matches = |i: &i64| args[*i as usize].eq_ignore_ascii_case(word.as_bytes());
            let found = if from < 0 {
                (1..=(argc + from as i64).min(argc - 1)).rev().find(matches)
            } else {
                ((from as i64).max(1)..argc).find(matches)
            };
            match found {
                Some(i) => first = i + 1,
                None => continue,
            }
        }
        let (last, step) = match spec.find {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey as i64
                } else if limit == 0 {
                    argc + lastkey as i64
                } else {
                    first + ((argc - first) / limit as i64 + lastkey as i64)
                };
                (last, keystep as i64)
            }
            FindKeys::KeyNum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let at = usize::try_from(first + keynumidx as i64).ok()?;
                let n = crate::protocol::parse_i64(args.get(at)?).filter(|n| *n >= 0)?;
                first += firstkey as i64;
                // A count up to i64::MAX comes from the network: checked, never wrapped.
                (first.checked_add(n)? - 1, keystep as i64)
            }
            FindKeys::Unknown => {
                if let Some(pos) = spec.locate.and_then(|f| f(args)) {
                    out.push(KeyRef {
                        pos,
                        flags: spec.flags,
                    });
                }
                continue;
            }
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let flags = spec.flags_by.map_or(spec.flags, |f| f(args));
        let mut i = first;
        while i <= last {
            out.push(KeyRef {
                pos: i as usize,
                flags,
            });
            i += step.max(1);
        }
    }
    Some(out)
}

/// The legacy (first, last, step) triple COMMAND INFO prints, derived from the specs as
/// Redis derives it, and whether some keys lie outside it (`movablekeys`).
pub fn legacy_range(specs: &[KeySpec]) -> ((i32, i32, i32), bool) {
    if let [spec] = specs
        && spec.keyword.is_none()
        && let FindKeys::Range {
            lastkey, keystep, ..
        } = spec.find
    {
        let last = if lastkey < 0 {
            lastkey
        } else {
            spec.index + lastkey
        };
        return (
            (spec.index, last, keystep),
            spec.flags & key::INCOMPLETE != 0,
        );
    }
    let (mut first, mut last, mut prev_last, mut movable) = (i32::MAX, 0i32, 0i32, false);
    for spec in specs {
        let FindKeys::Range {
            lastkey, keystep, ..
        } = spec.find
        else {
            movable = true;
            continue;
        };
        if spec.keyword.is_some() {
            movable = true;
            continue;
        }
        if keystep != 1 || (prev_last != 0 && prev_last != spec.index - 1) {
            movable = true;
            continue;
        }
        movable |= spec.flags & key::INCOMPLETE != 0;
        first = first.min(spec.index);
        let abs = if lastkey >= 0 {
            lastkey + spec.index
        } else {
            lastkey
        };
        // Compared unsigned, as Redis does, so a negative (from the end) wins.
        last = (last as u32).max(abs as u32) as i32;
        prev_last = last;
    }
    if first == i32::MAX {
        return ((0, 0, 0), movable);
    }
    ((first, last, 1), movable)
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
    /// Its keys (OBJECT ENCODING key).
    pub keys: &'static [KeySpec],
    /// COMMAND INFO tips (see [`Command::tips`]).
    pub tips: &'static str,
    /// Argument syntax (see [`Command::args`]).
    pub args: &'static str,
    /// What runs it (`.run(f)`, required: a unit test checks every entry has one); the
    /// dispatcher calls it once the subcommand and its arity are checked, so a container
    /// has no match of its own.
    pub handler: Option<Handler>,
}

/// Shorthand for a [`SubCommand`] without flags.
pub const fn sub(name: &'static str, arity: i32, summary: &'static str) -> SubCommand {
    SubCommand {
        name,
        arity,
        summary,
        flags: 0,
        keys: &[],
        tips: "",
        args: "",
        handler: None,
    }
}

impl SubCommand {
    /// The same subcommand with its flags set.
    pub const fn with_flags(mut self, flags: u32) -> SubCommand {
        self.flags = flags;
        self
    }

    /// The same subcommand with COMMAND INFO tips.
    pub const fn with_tips(mut self, tips: &'static str) -> SubCommand {
        self.tips = tips;
        self
    }

    /// The same subcommand with its argument syntax.
    pub const fn with_args(mut self, args: &'static str) -> SubCommand {
        self.args = args;
        self
    }

    /// The same subcommand with its keys declared.
    pub const fn with_keys(mut self, keys: &'static [KeySpec]) -> SubCommand {
        self.keys = keys;
        self
    }

    /// The same subcommand run by `handler`.
    pub const fn run(mut self, handler: Handler) -> SubCommand {
        self.handler = Some(handler);
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
    /// Latency histogram (`latency-tracking`): LATENCY HISTOGRAM, INFO latencystats.
    pub latency: super::latency::LatencyHistogram,
    /// A container's subcommands' latency histograms, by their place in its table (stock
    /// tracks `config|get` apart from `config`). Kept here rather than in the
    /// subcommand entries, which live in immutable statics.
    sub_latency: std::sync::OnceLock<Box<[super::latency::LatencyHistogram]>>,
}

impl CommandStats {
    const fn new() -> Self {
        use std::sync::atomic::AtomicU64;
        CommandStats {
            calls: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latency: super::latency::LatencyHistogram::new(),
            sub_latency: std::sync::OnceLock::new(),
        }
    }

    /// The latency histograms of a container's `n` subcommands (made at first use).
    pub fn sub_latency(&self, n: usize) -> &[super::latency::LatencyHistogram] {
        self.sub_latency.get_or_init(|| {
            (0..n)
                .map(|_| super::latency::LatencyHistogram::new())
                .collect()
        })
    }

    /// Zeroes the counters (CONFIG RESETSTAT).
    pub fn reset(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        for c in [&self.calls, &self.nanos, &self.rejected, &self.failed] {
            c.store(0, Relaxed);
        }
        self.latency.reset();
        if let Some(subs) = self.sub_latency.get() {
            subs.iter().for_each(|h| h.reset());
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
    /// Where its keys are and what it does with them.
    pub keys: &'static [KeySpec],
    /// COMMAND INFO tips, space-separated (`nondeterministic_output`,
    /// `request_policy:all_shards`...): how a cluster proxy should treat the command.
    pub tips: &'static str,
    /// Argument syntax in the compact notation of `commands/docs.rs` (`key:key value
    /// [NX|XX]`), served by COMMAND DOCS for `redis-cli` hints and help.
    pub args: &'static str,
    /// ACL categories replacing the one its group gives (`keyspace dangerous` for
    /// FLUSHALL), where Redis files a command by hand; the flags' categories still apply.
    pub acl: Option<&'static str>,
    /// Command group (COMMAND DOCS `group`, ACL category).
    pub group: &'static str,
    /// One-line description (COMMAND DOCS `summary`).
    pub summary: &'static str,
    /// Redis version that introduced it.
    pub since: &'static str,
    /// The handler.
    pub handler: Handler,
    /// Finds the keys where the specs cannot say it exactly (an `INCOMPLETE` spec), as
    /// Redis's getkeys procedures: MIGRATE's empty key argument before KEYS is no key.
    pub getkeys: Option<GetKeys>,
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
        self.subcommand(args).map_or(0, |s| s.flags)
    }

    /// True for EXEC: the command that runs a MULTI queue, whose checks cover what it
    /// queued.
    pub fn runs_queue(&self) -> bool {
        self.has(flags::TX_CONTROL) && self.has(flags::WRITE_SECTION)
    }

    /// True when `argc` (including the name) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        arity_allows(self.arity, argc)
    }

    /// The subcommand a request names, for a container (None for other commands, or
    /// when the name is unknown).
    pub fn subcommand(&self, args: &[Bytes]) -> Option<&'static SubCommand> {
        let name = args.get(1)?;
        self.subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
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
        if !arity_allows(s.arity, args.len()) {
            return Err(super::CmdError::Arity(format!("{}|{}", self.name, s.name)));
        }
        Ok(())
    }

    /// What runs a request: its subcommand's handler for a container (the command's own
    /// only when it has no subcommand, as bare COMMAND).
    pub fn handler_for(&self, args: &[Bytes]) -> Handler {
        match self.subcommand(args) {
            Some(s) => s.handler.unwrap_or(missing_handler),
            None => self.handler,
        }
    }

    /// The key specs that apply to a request: its subcommand's for a container.
    pub fn key_specs(&self, args: &[Bytes]) -> &'static [KeySpec] {
        if self.subcommands.is_empty() {
            return self.keys;
        }
        self.subcommand(args).map_or(&[], |s| s.keys)
    }

    /// The keys of a request (COMMAND GETKEYS, ACL key checks, tracking); None when the
    /// arguments contradict the key specs (the command reports the error when it runs).
    pub fn key_refs(&self, args: &[Bytes]) -> Option<Vec<KeyRef>> {
        match self.getkeys {
            Some(f) => f(args),
            None => find_keys(self.key_specs(args), args),
        }
    }

    /// The same command with its own key finder (see [`Command::getkeys`]).
    pub fn getkeys(mut self, f: GetKeys) -> Command {
        self.getkeys = Some(f);
        self
    }

    /// The same command with COMMAND INFO tips.
    pub fn tips(mut self, tips: &'static str) -> Command {
        self.tips = tips;
        self
    }

    /// The same command with its argument syntax.
    pub fn args(mut self, args: &'static str) -> Command {
        self.args = args;
        self
    }

    /// The same command filed under `categories` instead of its group's.
    pub fn acl(mut self, categories: &'static str) -> Command {
        self.acl = Some(categories);
        self
    }
}

/// True when `argc` arguments (the name included) satisfy a Redis arity: exactly `arity`
/// when positive, at least `-arity` when negative.
pub fn arity_allows(arity: i32, argc: usize) -> bool {
    (arity > 0 && argc == arity as usize) || (arity < 0 && argc >= arity.unsigned_abs() as usize)
}

/// Shorthand constructor used by the family modules' tables.
#[allow(clippy::too_many_arguments)]
pub const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: &'static [KeySpec],
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    handler: Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        keys,
        tips: "",
        args: "",
        acl: None,
        group,
        summary,
        since,
        handler,
        getkeys: None,
        subcommands: &[],
        stats: CommandStats::new(),
    }
}

/// A container command (CONFIG, CLIENT...) with its subcommand table.
#[allow(clippy::too_many_arguments)]
/// What runs a container reached with no subcommand (only COMMAND takes none, and it
/// declares its own handler) or a subcommand declared without one (the unit test
/// `every_subcommand_has_a_handler` rules that out).
fn missing_handler(_ctx: &mut super::Ctx<'_>, _args: &[Bytes]) -> super::CmdResult {
    Err(super::CmdError::err(
        "internal: subcommand without a handler",
    ))
}

pub const fn container(
    name: &'static str,
    flags: u32,
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    subcommands: &'static [SubCommand],
) -> Command {
    Command {
        name,
        arity: -2,
        flags,
        keys: &[],
        tips: "",
        args: "",
        acl: None,
        group,
        summary,
        since,
        handler: missing_handler,
        getkeys: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_has_a_handler() {
        let missing: Vec<String> = crate::commands::all_commands()
            .iter()
            .flat_map(|c| c.subcommands.iter().map(move |s| (c.name, s)))
            .filter(|(_, s)| s.handler.is_none())
            .map(|(c, s)| format!("{c}|{}", s.name))
            .collect();
        assert!(
            missing.is_empty(),
            "declared without .run(...): {missing:?}"
        );
    }

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn counted_keys_are_found_and_bad_counts_refused() {
        let specs = [key_num(key::RO | key::ACCESS, 1, 0, 1, 1)];
        let found = find_keys(&specs, &args(&["zunion", "2", "a", "b", "WITHSCORES"])).unwrap();
        assert_eq!(found.iter().map(|k| k.pos).collect::<Vec<_>>(), [2, 3]);
        for bad in ["3", "0", "-1", "x", "9223372036854775807"] {
            assert!(
                find_keys(&specs, &args(&["zunion", bad, "a", "b"])).is_none_or(|k| k.is_empty()),
                "{bad}"
            );
        }
        // A count at the end of i64 (found by fuzz_command): refused, not wrapped.
        let specs = [key_num(key::RW, 2, 0, 1, 1)];
        assert!(find_keys(&specs, &args(&["blmpop", "0", "9223372036854775807", "a"])).is_none());
    }
}
