//! Scripting commands: EVAL, EVALSHA, their read-only forms and SCRIPT; FCALL, FCALL_RO
//! and FUNCTION. The engine, the library registry and the rules for commands a script
//! calls live in `crate::scripting`.

use super::table::{Command, SubCommand, cmd, container, flags::*, key, key_num, sub};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::scripting::engine::{self, Target};
use crate::scripting::functions::{LOAD_TIMEOUT, Libraries};
use crate::scripting::{self, Script, ScriptFlags};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const EVAL_NOTES: &str =
    "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE";
const EVAL_RO_NOTES: &str =
    "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS";

/// Scripting family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    const RUN: u32 = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | WRITE_SECTION | SCRIPT_DECLARED;
    vec![
        cmd("eval", -3, RUN | MAY_REPLICATE, const { &[key_num(key::RW | key::ACCESS | key::UPDATE, 2, 0, 1, 1).notes(EVAL_NOTES)] }, "scripting", "2.6.0", "Execute a Lua script server side", eval)
            .args("script numkeys:integer [key:key...] [arg...]"),
        cmd("evalsha", -3, RUN | MAY_REPLICATE, const { &[key_num(key::RW | key::ACCESS | key::UPDATE, 2, 0, 1, 1)] }, "scripting", "2.6.0", "Execute a Lua script server side", evalsha)
            .args("sha1 numkeys:integer [key:key...] [arg...]"),
        cmd("eval_ro", -3, RUN | READONLY, const { &[key_num(key::RO | key::ACCESS, 2, 0, 1, 1).notes(EVAL_RO_NOTES)] }, "scripting", "7.0.0", "Execute a read-only Lua script server side", eval_ro)
            .args("script numkeys:integer [key:key...] [arg...]"),
        cmd("evalsha_ro", -3, RUN | READONLY, const { &[key_num(key::RO | key::ACCESS, 2, 0, 1, 1)] }, "scripting", "7.0.0", "Execute a read-only Lua script server side", evalsha_ro)
            .args("sha1 numkeys:integer [key:key...] [arg...]"),
        container("script", 0, "scripting", "2.6.0", "A container for Lua scripts management commands", SCRIPT_SUBCOMMANDS),
        cmd("fcall", -3, RUN | MAY_REPLICATE, const { &[key_num(key::RW | key::ACCESS | key::UPDATE, 2, 0, 1, 1).notes(EVAL_NOTES)] }, "scripting", "7.0.0", "Invoke a function", fcall)
            .args("function numkeys:integer [key:key...] [arg...]"),
        cmd("fcall_ro", -3, RUN | READONLY, const { &[key_num(key::RO | key::ACCESS, 2, 0, 1, 1).notes(EVAL_RO_NOTES)] }, "scripting", "7.0.0", "Invoke a read-only function", fcall_ro)
            .args("function numkeys:integer [key:key...] [arg...]"),
        container("function", 0, "scripting", "7.0.0", "A container for function commands", FUNCTION_SUBCOMMANDS),
    ]
}

/// Subcommands of FUNCTION.
#[rustfmt::skip]
static FUNCTION_SUBCOMMANDS: &[SubCommand] = &[
    sub("delete", 3, "Delete a function by name").with_flags(NOSCRIPT | WRITE).with_tips("request_policy:all_shards response_policy:all_succeeded").with_args("library-name").run(function_delete),
    sub("dump", 2, "Dump all functions into a serialized binary payload").with_flags(NOSCRIPT).run(function_dump),
    sub("flush", -2, "Deleting all functions").with_flags(NOSCRIPT | WRITE).with_tips("request_policy:all_shards response_policy:all_succeeded").with_args("[async(ASYNC|SYNC)]").run(function_flush),
    sub("help", 2, "Show helpful text about the different subcommands").with_flags(LOADING | STALE).run(function_help),
    sub("kill", 2, "Kill the function currently in execution.").with_flags(NOSCRIPT | ALLOW_BUSY).with_tips("request_policy:all_shards response_policy:one_succeeded").run(function_kill),
    sub("list", -2, "List information about all the functions").with_flags(NOSCRIPT).with_tips("nondeterministic_output_order").with_args("[LIBRARYNAME=library-name-pattern] [WITHCODE]").run(function_list),
    sub("load", -3, "Create a function with the given arguments (name, code, description)").with_flags(NOSCRIPT | WRITE | DENYOOM).with_tips("request_policy:all_shards response_policy:all_succeeded").with_args("[REPLACE] function-code").run(function_load),
    sub("restore", -3, "Restore all the functions on the given payload").with_flags(NOSCRIPT | WRITE | DENYOOM).with_tips("request_policy:all_shards response_policy:all_succeeded").with_args("serialized-value [policy(FLUSH|APPEND|REPLACE)]").run(function_restore),
    sub("stats", 2, "Return information about the function currently running (name, description, duration)").with_flags(NOSCRIPT | ALLOW_BUSY).with_tips("nondeterministic_output request_policy:all_shards response_policy:special").run(function_stats),
];

/// Subcommands of SCRIPT.
#[rustfmt::skip]
static SCRIPT_SUBCOMMANDS: &[SubCommand] = &[
    sub("exists", -3, "Check existence of scripts in the script cache.").with_flags(NOSCRIPT).with_tips("request_policy:all_shards response_policy:agg_logical_and").with_args("sha1...").run(script_exists),
    sub("flush", -2, "Remove all the scripts from the script cache.").with_flags(NOSCRIPT).with_tips("request_policy:all_nodes response_policy:all_succeeded").with_args("[async(ASYNC|SYNC)]").run(script_flush),
    sub("help", 2, "Show helpful text about the different subcommands").with_flags(LOADING | STALE).run(script_help),
    sub("load", 3, "Load the specified Lua script into the script cache.").with_flags(NOSCRIPT | STALE).with_tips("request_policy:all_nodes response_policy:all_succeeded").with_args("script").run(script_load),
    sub("kill", 2, "Kill the script currently in execution.").with_flags(NOSCRIPT | ALLOW_BUSY).with_tips("request_policy:all_shards response_policy:one_succeeded").run(script_kill),
];

fn eval(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let numkeys = eval_numkeys(args)?;
    let script = cache_body(ctx, &args[1])?;
    run_eval(ctx, args, numkeys, &script, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let numkeys = eval_numkeys(args)?;
    let script = cache_body(ctx, &args[1])?;
    run_eval(ctx, args, numkeys, &script, true)
}

fn evalsha(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let numkeys = eval_numkeys(args)?;
    let script = cached(ctx, &args[1])?;
    run_eval(ctx, args, numkeys, &script, false)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let numkeys = eval_numkeys(args)?;
    let script = cached(ctx, &args[1])?;
    run_eval(ctx, args, numkeys, &script, true)
}

/// EVAL's key count, checked before the script is looked up (as Redis does).
fn eval_numkeys(args: &[Bytes]) -> Result<usize, CmdError> {
    check_numkeys(arg_i64(&args[2])?, args)
}

/// The key count's bounds, with Redis's texts.
fn check_numkeys(numkeys: i64, args: &[Bytes]) -> Result<usize, CmdError> {
    if numkeys > (args.len() - 3) as i64 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    Ok(numkeys as usize)
}

fn run_eval(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    numkeys: usize,
    script: &Arc<Script>,
    read_only: bool,
) -> CmdResult {
    let target = Target::Script {
        sha: &script.sha,
        script,
    };
    run_script(ctx, args, numkeys, target, script.flags, read_only)
}

fn fcall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run_function(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    run_function(ctx, args, true)
}

fn run_function(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> CmdResult {
    let libs = ctx.srv.functions.current();
    let (_, f) = libs
        .function(&args[1])
        .ok_or_else(|| CmdError::err("Function not found"))?;
    let numkeys = arg_i64(&args[2]).map_err(|_| CmdError::err("Bad number of keys provided"))?;
    let numkeys = check_numkeys(numkeys, args)?;
    let target = Target::Function { name: &f.name };
    run_script(ctx, args, numkeys, target, f.flags, read_only)
}

/// A request's flags once the script it runs is known (Redis's evalGetCommandFlags and
/// fcallGetCommandFlags): a script that declared flags writes unless `no-writes`, is
/// refused over maxmemory unless `allow-oom` or `no-writes`, and runs on a stale replica
/// only with `allow-stale`. Scripts without a shebang, and unknown ones, keep `flags`.
pub fn declared_flags(
    srv: &crate::server::Server,
    cmd: &Command,
    args: &[Bytes],
    flags: u32,
) -> u32 {
    let Some(name) = args.get(1) else {
        return flags;
    };
    let declared = if cmd.name.starts_with("fcall") {
        srv.functions.current().function(name).map(|(_, f)| f.flags)
    } else if cmd.name.starts_with("evalsha") {
        srv.scripts.get(name).map(|s| s.flags)
    } else if name.starts_with(b"#!") {
        scripting::shebang::parse(name).ok().map(|(f, _)| f)
    } else {
        None
    };
    let Some(declared) = declared.filter(|f| !f.compat) else {
        return flags;
    };
    let mut out = flags & !(STALE | DENYOOM | WRITE | MAY_REPLICATE);
    if !declared.allow_oom && !declared.no_writes {
        out |= DENYOOM;
    }
    if !declared.no_writes {
        out |= WRITE;
    }
    if declared.allow_stale {
        out |= STALE;
    }
    out
}

fn cached(ctx: &Ctx<'_>, sha: &[u8]) -> Result<Arc<Script>, CmdError> {
    ctx.srv
        .scripts
        .get(sha)
        .ok_or_else(|| CmdError::Msg("NOSCRIPT No matching script. Please use EVAL.".into()))
}

/// Adds a body to the cache once it parses and compiles (EVAL and SCRIPT LOAD).
fn cache_body(ctx: &Ctx<'_>, body: &Bytes) -> Result<Arc<Script>, CmdError> {
    let scripts = &ctx.srv.scripts;
    let sha = scripting::sha1_hex(body);
    if let Some(found) = scripts.get(sha.as_bytes()) {
        return Ok(found);
    }
    let parsed = scripting::shebang::parse(body).map_err(CmdError::err)?;
    let candidate = Script {
        sha: sha.clone(),
        body: body.clone(),
        flags: parsed.0,
        shebang_len: parsed.1,
    };
    engine::check_compiles(scripts.generation.load(Ordering::Acquire), &sha, &candidate)?;
    Ok(scripts.insert(&sha, body.clone(), parsed))
}

/// The checks Redis makes from the script's declared flags before it runs
/// (scriptPrepareForRun), then the run itself.
fn run_script(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    numkeys: usize,
    target: Target<'_>,
    flags: ScriptFlags,
    read_only: bool,
) -> CmdResult {
    let srv = ctx.srv;
    let leader_link = ctx.client.is_leader_link();
    let follower = srv.store.follower_mode();
    let stale = super::stale_data_refused(srv);
    let maxmemory = srv.store.evictor.settings.maxmemory() > 0;
    let oom_at_start = maxmemory && !crate::store::evict::make_room(ctx.w()?);
    if flags.compat {
        if stale {
            return Err(CmdError::Msg(super::MASTERDOWN.into()));
        }
    } else {
        if flags.no_cluster && srv.config.get("cluster-enabled").as_deref() == Some("yes") {
            return Err(CmdError::err(
                "Can not run script on cluster, 'no-cluster' flag is set.",
            ));
        }
        if stale && !flags.allow_stale {
            return Err(CmdError::Msg("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.".into()));
        }
        if !flags.no_writes {
            if follower && !leader_link {
                return Err(CmdError::Msg(
                    "READONLY Can not run script with write flag on readonly replica".into(),
                ));
            }
            if !leader_link && crate::server::persistence::writes_denied_by_disk_error(srv) {
                return Err(CmdError::Msg("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".into()));
            }
            if read_only {
                return Err(CmdError::err(
                    "Can not execute a script with write flag using *_ro command.",
                ));
            }
            if !follower && let Some(refusal) = super::leader_refusal(srv) {
                return Err(CmdError::Msg(refusal.into()));
            }
        }
        if oom_at_start && !flags.allow_oom && !flags.no_writes {
            return Err(CmdError::Msg(
                "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into(),
            ));
        }
    }
    let split = 3 + numkeys;
    let run = &srv.scripts.run;
    ctx.w()?.log().begin();
    let in_exec = std::mem::replace(&mut ctx.client.tx.in_exec, true);
    run.begin(match target {
        Target::Function { name } => Some((name.to_string(), args.to_vec())),
        Target::Script { .. } => None,
    });
    let result = engine::run(
        ctx,
        engine::Invocation {
            target,
            flags,
            keys: &args[3..split],
            argv: &args[split..],
            read_only,
        },
        oom_at_start,
    );
    run.end();
    ctx.client.tx.in_exec = in_exec;
    ctx.w()?.log().commit();
    result
}

fn script_exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ctx.out.array(args.len() - 2);
    for sha in &args[2..] {
        let found = ctx.srv.scripts.exists(sha);
        ctx.out.int(found as i64);
    }
    Ok(())
}

fn script_flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if let Some(mode) = args.get(2)
        && (args.len() > 3 || !(is(mode, "async") || is(mode, "sync")))
    {
        return Err(CmdError::err("SCRIPT FLUSH only support SYNC|ASYNC option"));
    }
    ctx.srv.scripts.flush();
    engine::drop_eval_engine();
    ctx.out.ok();
    Ok(())
}

fn script_load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let script = cache_body(ctx, &args[2])?;
    ctx.out.bulk(script.sha.as_bytes());
    Ok(())
}

fn script_kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    kill(ctx, false)
}

/// SCRIPT KILL and FUNCTION KILL: each stops only its own kind, as in Redis.
fn kill(ctx: &mut Ctx<'_>, function: bool) -> CmdResult {
    let run = &ctx.srv.scripts.run;
    if !run.is_running() {
        return Err(CmdError::Msg(
            "NOTBUSY No scripts in execution right now.".into(),
        ));
    }
    if run.wrote.load(Ordering::Relaxed) {
        return Err(CmdError::Msg("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into()));
    }
    if run.is_function() != function {
        return Err(CmdError::Msg(run.busy_text().into()));
    }
    run.kill.store(true, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn function_kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    kill(ctx, true)
}

/// Replicates a FUNCTION change as it was given and counts it for save points.
fn function_changed(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let db = ctx.db();
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
    ctx.w()?.propagate(db, &argv);
    ctx.srv.dirty.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn function_load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (code, options) = args[2..].split_last().expect("arity is at least 3");
    let mut replace = false;
    for opt in options {
        if !is(opt, "replace") {
            return Err(CmdError::err(format!(
                "Unknown option given: {}",
                String::from_utf8_lossy(opt)
            )));
        }
        replace = true;
    }
    // Loads the leader replicates are not timed: a follower must not diverge.
    let timeout = (!ctx.client.is_leader_link()).then_some(LOAD_TIMEOUT);
    let name = ctx
        .srv
        .functions
        .update(|libs| libs.create(code.clone(), replace, timeout))
        .map_err(CmdError::err)?;
    function_changed(ctx, args)?;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let name = String::from_utf8_lossy(&args[2]);
    if !ctx.srv.functions.delete(&name) {
        return Err(CmdError::err("Library not found"));
    }
    function_changed(ctx, args)?;
    ctx.out.ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand(args, "FUNCTION"));
    }
    if let Some(mode) = args.get(2)
        && !(is(mode, "async") || is(mode, "sync"))
    {
        return Err(CmdError::err(
            "FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    ctx.srv.functions.set(Libraries::default());
    function_changed(ctx, args)?;
    ctx.out.ok();
    Ok(())
}

fn function_dump(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let codes = ctx.srv.functions.current().codes();
    ctx.out.bulk(&crate::rdb::function_dump(&codes));
    Ok(())
}

fn function_restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::subcommand(args, "FUNCTION"));
    }
    #[derive(PartialEq)]
    enum Policy {
        Append,
        Replace,
        Flush,
    }
    let policy = match args.get(3) {
        None => Policy::Append,
        Some(p) if is(p, "append") => Policy::Append,
        Some(p) if is(p, "replace") => Policy::Replace,
        Some(p) if is(p, "flush") => Policy::Flush,
        Some(_) => {
            return Err(CmdError::err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ));
        }
    };
    let codes = crate::rdb::function_restore(&args[2]).map_err(CmdError::err)?;
    let restored = Libraries::from_codes(&codes, false).map_err(CmdError::err)?;
    ctx.srv
        .functions
        .update(|libs| {
            if policy == Policy::Flush {
                *libs = restored;
                Ok(())
            } else {
                libs.join(restored, policy == Policy::Replace)
            }
        })
        .map_err(CmdError::err)?;
    function_changed(ctx, args)?;
    ctx.out.ok();
    Ok(())
}

fn function_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if !with_code && is(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(a, "libraryname") {
            let p = args
                .get(i + 1)
                .ok_or_else(|| CmdError::err("library name argument was not given"))?;
            pattern = Some(p.clone());
            i += 1;
        } else {
            return Err(CmdError::err(format!(
                "Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
        i += 1;
    }
    let libs = ctx.srv.functions.current();
    let shown: Vec<_> = libs
        .iter()
        .filter(|l| {
            pattern
                .as_ref()
                .is_none_or(|p| crate::base::glob::glob_match(p, l.name.as_bytes(), true))
        })
        .collect();
    let out = &mut *ctx.out;
    out.array(shown.len());
    for lib in shown {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(crate::scripting::functions::ENGINE_NAME.as_bytes());
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in &lib.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = f.flags.names().collect();
            out.set(names.len());
            for n in names {
                out.simple(n);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

fn function_stats(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let run = &ctx.srv.scripts.run;
    if run.is_running() && !run.is_function() {
        return Err(CmdError::Msg(scripting::BUSY_EVAL.into()));
    }
    let running = run.current().zip(run.elapsed_ms());
    let libs = ctx.srv.functions.current();
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some(((name, argv), ms)) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(argv.len());
            for a in &argv {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(ms as i64);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(crate::scripting::functions::ENGINE_NAME.as_bytes());
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(libs.len() as i64);
    out.bulk(b"functions_count");
    out.int(libs.function_count() as i64);
    Ok(())
}

fn function_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(&[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

fn script_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(&[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}
