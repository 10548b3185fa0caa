//! ACL: users, their rules, the denial log and the ACL file, with Redis 7.0's reply
//! shapes and error texts.

use super::table::{Command, SubCommand, container, flags::*, sub};
use super::{CmdError, CmdResult, Ctx, arg_i64};
use crate::acl::catalog::{self, category_bit};
use bytes::Bytes;

/// ACL's table entry.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        container("acl", 0, "server", "6.0.0", "A container for Access List Control commands", ACL_SUBCOMMANDS),
    ]
}

const ADMIN_SUB: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

/// Subcommands of ACL.
#[rustfmt::skip]
static ACL_SUBCOMMANDS: &[SubCommand] = &[
    sub("cat", -2, "List the ACL categories or the commands inside a category").with_flags(NOSCRIPT | LOADING | STALE).run(acl_cat),
    sub("deluser", -3, "Remove the specified ACL users").with_flags(ADMIN_SUB).run(acl_deluser),
    sub("dryrun", -4, "Check whether a user could run a command").with_flags(ADMIN_SUB).run(acl_dryrun),
    sub("genpass", -2, "Generate a pseudorandom secure password").with_flags(NOSCRIPT | LOADING | STALE).run(acl_genpass),
    sub("getuser", 3, "Get the rules for a specific ACL user").with_flags(ADMIN_SUB).run(acl_getuser),
    sub("list", 2, "List the current ACL rules in ACL config file format").with_flags(ADMIN_SUB).run(acl_list),
    sub("load", 2, "Reload the ACLs from the configured ACL file").with_flags(ADMIN_SUB).run(acl_load),
    sub("log", -2, "List latest events denied because of ACLs in place").with_flags(ADMIN_SUB).run(acl_log),
    sub("save", 2, "Save the current ACL rules in the configured ACL file").with_flags(ADMIN_SUB).run(acl_save),
    sub("setuser", -3, "Modify or create the rules for a specific ACL user").with_flags(ADMIN_SUB).run(acl_setuser),
    sub("users", 2, "List the username of all the configured ACL rules").with_flags(ADMIN_SUB).run(acl_users),
    sub("whoami", 2, "Return the name of the user associated to the current connection").with_flags(NOSCRIPT | LOADING | STALE).run(acl_whoami),
    sub("help", 2, "Show helpful text about the different subcommands").with_flags(LOADING | STALE).run(acl_help),
];

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Print this help.",
];

/// The configured ACL file, or the error LOAD and SAVE give without one.
fn acl_file(ctx: &Ctx<'_>) -> Result<String, CmdError> {
    let file = ctx.srv.config.get("aclfile").unwrap_or_default();
    if file.is_empty() {
        return Err(CmdError::err(
            "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.",
        ));
    }
    Ok(file)
}

fn acl_list(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let lines = ctx.srv.acl.list();
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.bulk_str(&l);
    }
    Ok(())
}

fn acl_users(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let names = ctx.srv.acl.names();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk_str(&n);
    }
    Ok(())
}

fn acl_whoami(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let name = ctx.client.user.name.clone();
    ctx.out.bulk_str(&name);
    Ok(())
}

fn acl_load(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let file = acl_file(ctx)?;
    crate::acl::load_file(&ctx.srv.acl, &file).map_err(CmdError::err)?;
    // Every user was replaced: connections of users other than the default one are
    // closed, as Redis frees (and disconnects) the old user objects.
    kill_clients_of(ctx, |name| name != "default");
    tracing::info!(file = %file, "ACL LOAD");
    ctx.out.ok();
    Ok(())
}

fn acl_save(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let file = acl_file(ctx)?;
    if let Err(e) = crate::acl::save_file(&ctx.srv.acl, &file) {
        tracing::warn!(file = %file, error = %e, "ACL SAVE failed");
        return Err(CmdError::err(
            "There was an error trying to save the ACLs. Please check the server logs for more information",
        ));
    }
    ctx.out.ok();
    Ok(())
}

fn acl_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.help(HELP);
    Ok(())
}

fn acl_setuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let name = &args[2];
    if name.iter().any(|c| c.is_ascii_whitespace() || *c == 0) {
        return Err(CmdError::err(
            "Usernames can't contain spaces or null characters",
        ));
    }
    let name = String::from_utf8_lossy(name).into_owned();
    let rules: Vec<Vec<u8>> = args[3..].iter().map(|a| a.to_vec()).collect();
    let all_channels = ctx.srv.config.get("acl-pubsub-default").as_deref() == Some("allchannels");
    ctx.srv
        .acl
        .set_user(&name, &rules, all_channels)
        .map_err(CmdError::err)?;
    tracing::info!(user = %name, "ACL SETUSER");
    // Subscribers whose channels the new rules no longer allow are disconnected, as in
    // Redis (the calling client after its reply).
    if let Some(user) = ctx.srv.acl.get(&name) {
        for (h, ch, pattern) in ctx.srv.pubsub.subscriptions_of_user(&name) {
            if !ctx.srv.acl.allows_channel(&user, &ch, pattern) {
                disconnect(ctx, &h);
            }
        }
    }
    ctx.out.ok();
    Ok(())
}

fn acl_deluser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let names: Vec<String> = args[2..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    if names.iter().any(|n| n == "default") {
        return Err(CmdError::err("The 'default' user cannot be removed"));
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let deleted = ctx.srv.acl.delete(&refs);
    kill_clients_of(ctx, |n| names.iter().any(|d| d == n));
    ctx.out.int(deleted as i64);
    Ok(())
}

/// Closes the connections authenticated as users matching `pred` (the calling one after
/// its reply).
fn kill_clients_of(ctx: &mut Ctx<'_>, pred: impl Fn(&str) -> bool) {
    let clients: Vec<_> = ctx.srv.clients.lock().values().cloned().collect();
    for h in clients {
        if pred(&h.user.lock()) {
            disconnect(ctx, &h);
        }
    }
}

/// Closes a connection: the calling one after its reply, any other at once.
fn disconnect(ctx: &mut Ctx<'_>, h: &crate::server::client::ClientHandle) {
    if h.id == ctx.client.handle.id {
        ctx.client.close = true;
    } else {
        h.kill();
    }
}

fn acl_getuser(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(u) = ctx.srv.acl.get(&String::from_utf8_lossy(&args[2])) else {
        ctx.out.null();
        return Ok(());
    };
    let u = u.snapshot();
    let cat = &ctx.srv.acl.catalog;
    let o = &mut *ctx.out;
    o.map(6);
    o.bulk_str("flags");
    let flags = u.flag_names();
    o.set(flags.len());
    for f in flags {
        o.bulk_str(f);
    }
    o.bulk_str("passwords");
    o.array(u.passwords.len());
    for p in &u.passwords {
        o.bulk_str(p);
    }
    let root = &u.selectors[0];
    o.bulk_str("commands");
    o.bulk_str(&root.describe_commands(cat));
    o.bulk_str("keys");
    o.bulk_str(&root.describe_keys());
    o.bulk_str("channels");
    o.bulk_str(&root.describe_channels());
    o.bulk_str("selectors");
    o.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        o.map(3);
        o.bulk_str("commands");
        o.bulk_str(&s.describe_commands(cat));
        o.bulk_str("keys");
        o.bulk_str(&s.describe_keys());
        o.bulk_str("channels");
        o.bulk_str(&s.describe_channels());
    }
    Ok(())
}

fn acl_cat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand(args, "ACL"));
    }
    let Some(name) = args.get(2) else {
        ctx.out.array(catalog::CATEGORIES.len());
        for c in catalog::CATEGORIES {
            ctx.out.bulk_str(c);
        }
        return Ok(());
    };
    let name = String::from_utf8_lossy(name);
    let Some(bit) = category_bit(&name) else {
        let shown: String = name.chars().take(128).collect();
        return Err(CmdError::err(format!("Unknown category '{shown}'")));
    };
    let names: Vec<&str> = ctx
        .srv
        .acl
        .catalog
        .entries
        .iter()
        .filter(|e| e.categories & bit != 0)
        .map(|e| e.full_name.as_str())
        .collect();
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk_str(n);
    }
    Ok(())
}

fn acl_genpass(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand(args, "ACL"));
    }
    let bits = match args.get(2) {
        Some(a) => arg_i64(a)?,
        None => 256,
    };
    if !(1..=4096).contains(&bits) {
        return Err(CmdError::err(
            "ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
        ));
    }
    use rand::RngExt;
    let mut rng = rand::rng();
    let chars = (bits as usize).div_ceil(4);
    let pass: String = (0..chars)
        .map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap_or('0'))
        .collect();
    ctx.out.bulk_str(&pass);
    Ok(())
}

fn acl_log(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand(args, "ACL"));
    }
    let mut count = 10i64;
    if let Some(a) = args.get(2) {
        if a.eq_ignore_ascii_case(b"reset") {
            ctx.srv.acl.log_reset();
            ctx.out.ok();
            return Ok(());
        }
        count = arg_i64(a)?.max(0);
    }
    let entries = ctx.srv.acl.log_entries(count as usize);
    let now = crate::base::now_ms();
    let o = &mut *ctx.out;
    o.array(entries.len());
    for e in entries {
        o.map(7);
        o.bulk_str("count");
        o.int(e.count as i64);
        o.bulk_str("reason");
        o.bulk_str(e.reason);
        o.bulk_str("context");
        o.bulk_str(e.context);
        o.bulk_str("object");
        o.bulk_str(&e.object);
        o.bulk_str("username");
        o.bulk_str(&e.username);
        o.bulk_str("age-seconds");
        o.double(now.saturating_sub(e.ctime_ms) as f64 / 1000.0);
        o.bulk_str("client-info");
        o.bulk_str(&e.client_info);
    }
    Ok(())
}

fn acl_dryrun(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let srv = ctx.srv;
    let Some(user) = srv.acl.get(&String::from_utf8_lossy(&args[2])) else {
        return Err(CmdError::err(format!(
            "User '{}' not found",
            String::from_utf8_lossy(&args[2])
        )));
    };
    let rest = &args[3..];
    let Some(cmd) = srv.commands.get(&rest[0]) else {
        return Err(CmdError::err(format!(
            "Command '{}' not found",
            String::from_utf8_lossy(&rest[0])
        )));
    };
    let full = super::full_name(cmd, rest);
    if !cmd.arity_ok(rest.len()) {
        return Err(CmdError::err(format!(
            "wrong number of arguments for '{full}' command"
        )));
    }
    match srv.acl.check(&user, cmd, rest) {
        Ok(()) => ctx.out.ok(),
        Err(crate::acl::Denied::Command) => ctx.out.bulk_str(&format!(
            "This user has no permissions to run the '{full}' command"
        )),
        Err(crate::acl::Denied::Key(p)) => ctx.out.bulk_str(&format!(
            "This user has no permissions to access the '{}' key",
            String::from_utf8_lossy(&rest[p])
        )),
        Err(crate::acl::Denied::Channel(p)) => ctx.out.bulk_str(&format!(
            "This user has no permissions to access the '{}' channel",
            String::from_utf8_lossy(&rest[p])
        )),
    }
    Ok(())
}
