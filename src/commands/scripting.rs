//! Scripting commands: EVAL, EVALSHA, their read-only forms and SCRIPT. The engine and the
//! rules for commands a script calls live in `crate::scripting`.

use super::table::{Command, SubCommand, cmd, container, flags::*, key, key_num, sub};
use super::{CmdError, CmdResult, Ctx, arg_i64, is};
use crate::scripting::{self, Script, engine};
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
    const RUN: u32 = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | WRITE_SECTION;
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
    ]
}

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
    let (sha, script) = cache_body(ctx, &args[1])?;
    run_script(ctx, args, &sha, &script, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (sha, script) = cache_body(ctx, &args[1])?;
    run_script(ctx, args, &sha, &script, true)
}

fn evalsha(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (sha, script) = cached(ctx, &args[1])?;
    run_script(ctx, args, &sha, &script, false)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (sha, script) = cached(ctx, &args[1])?;
    run_script(ctx, args, &sha, &script, true)
}

fn cached(ctx: &Ctx<'_>, sha: &[u8]) -> Result<(String, Arc<Script>), CmdError> {
    ctx.srv
        .scripts
        .get(sha)
        .ok_or_else(|| CmdError::Msg("NOSCRIPT No matching script. Please use EVAL.".into()))
}

/// Adds a body to the cache once it parses and compiles (EVAL and SCRIPT LOAD).
fn cache_body(ctx: &Ctx<'_>, body: &Bytes) -> Result<(String, Arc<Script>), CmdError> {
    let scripts = &ctx.srv.scripts;
    let sha = scripting::sha1_hex(body);
    if let Some(found) = scripts.get(sha.as_bytes()) {
        return Ok(found);
    }
    let parsed = scripting::shebang::parse(body).map_err(CmdError::err)?;
    let candidate = Script {
        body: body.clone(),
        flags: parsed.0,
        shebang_len: parsed.1,
    };
    engine::check_compiles(scripts.generation.load(Ordering::Acquire), &sha, &candidate)?;
    let script = scripts.insert(&sha, body.clone(), parsed);
    Ok((sha, script))
}

/// The checks Redis makes from the script's declared flags before it runs
/// (scriptPrepareForRun), then the run itself.
fn run_script(
    ctx: &mut Ctx<'_>,
    args: &[Bytes],
    sha: &str,
    script: &Arc<Script>,
    read_only: bool,
) -> CmdResult {
    let numkeys = arg_i64(&args[2])?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(CmdError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(CmdError::err("Number of keys can't be negative"));
    }
    let srv = ctx.srv;
    let flags = script.flags;
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
            if !follower && !super::enough_good_replicas(srv) {
                return Err(CmdError::Msg(
                    "NOREPLICAS Not enough good replicas to write.".into(),
                ));
            }
        }
        if oom_at_start && !flags.allow_oom && !flags.no_writes {
            return Err(CmdError::Msg(
                "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into(),
            ));
        }
    }
    let split = 3 + numkeys as usize;
    let run = &srv.scripts.run;
    ctx.w()?.log().begin();
    let in_exec = std::mem::replace(&mut ctx.client.tx.in_exec, true);
    run.begin();
    let result = engine::run(
        ctx,
        engine::Invocation {
            sha,
            script,
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
    ctx.out.ok();
    Ok(())
}

fn script_load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (sha, _) = cache_body(ctx, &args[2])?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let run = &ctx.srv.scripts.run;
    if !run.is_running() {
        return Err(CmdError::Msg(
            "NOTBUSY No scripts in execution right now.".into(),
        ));
    }
    if run.wrote.load(Ordering::Relaxed) {
        return Err(CmdError::Msg("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into()));
    }
    run.kill.store(true, Ordering::Relaxed);
    ctx.out.ok();
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
