//! The sentinel's client-facing commands, with stock Sentinel 7.0 reply shapes: SENTINEL
//! (and its subcommands), PING, INFO, ROLE, HELLO, AUTH, CLIENT, PUBLISH (hello messages
//! from other sentinels), SHUTDOWN; pub/sub commands are handled by the connection.
//!
//! Commands and SENTINEL subcommands are both looked up in a table (name, arity, handler)
//! and return a [`CmdResult`] like the server's handlers, so arity checks and error
//! replies are written in one place ([`dispatch`]) rather than by every handler.

use super::Sentinel;
use super::config::MasterConfig;
use super::events::Event;
use super::failover;
use super::state::{FailoverState, Master, Node, Peer, Reconf, Role};
use crate::base::now_ms;
use crate::commands::{CmdError, CmdResult};
use crate::protocol::ReplyBuf;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What a handler may touch, bundled so that handlers share one signature and the
/// connection keeps ownership of its identity between commands.
pub struct Ctx<'a> {
    /// The sentinel.
    pub sh: &'a Arc<Sentinel>,
    /// Replies.
    pub out: &'a mut ReplyBuf,
    /// CLIENT ID.
    pub client_id: u64,
    /// CLIENT SETNAME.
    pub name: &'a mut String,
    /// Authenticated (requirepass).
    pub authenticated: &'a mut bool,
    /// The connection must close after replying.
    pub close: bool,
}

/// A command or subcommand: writes its reply on success; an error is returned for
/// [`dispatch`] to write, so no handler can write a reply and an error both.
type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> CmdResult;

/// The command table: name, arity (Redis convention: negative means at least, counting
/// the name), handler. A table rather than a match so that arity is checked once, with
/// stock's error text, and COMMAND COUNT follows it.
pub const COMMANDS: &[(&str, i32, Handler)] = &[
    ("ping", -1, ping),
    ("sentinel", -2, sentinel),
    ("info", -1, info),
    ("role", 1, role),
    ("hello", -1, hello),
    ("auth", -2, auth),
    ("client", -2, client),
    ("publish", 3, publish),
    ("shutdown", -1, shutdown),
    ("command", -1, command),
];

/// SENTINEL's subcommand table, as [`COMMANDS`]: the arity counts `SENTINEL` and the
/// subcommand, with stock's values.
const SUBCOMMANDS: &[(&str, i32, Handler)] = &[
    ("help", 2, sentinel_help),
    ("masters", 2, sentinel_masters),
    ("master", 3, sentinel_master),
    ("replicas", 3, sentinel_replicas),
    ("slaves", 3, sentinel_replicas),
    ("sentinels", 3, sentinel_sentinels),
    ("get-master-addr-by-name", 3, sentinel_master_addr),
    ("myid", 2, sentinel_myid),
    ("is-master-down-by-addr", 6, sentinel_is_master_down_by_addr),
    ("reset", 3, sentinel_reset),
    ("failover", 3, sentinel_failover),
    ("monitor", 6, sentinel_monitor),
    ("remove", 3, sentinel_remove),
    ("flushconfig", 2, sentinel_flushconfig),
    ("ckquorum", 3, sentinel_ckquorum),
    ("set", -5, sentinel_set),
    ("config", -3, sentinel_config),
    ("pending-scripts", 2, sentinel_pending_scripts),
    ("info-cache", -3, sentinel_info_cache),
    ("simulate-failure", -3, sentinel_simulate_failure),
    ("debug", -2, sentinel_debug),
];

fn s(a: &[u8]) -> String {
    String::from_utf8_lossy(a).into_owned()
}

/// The table entry for `name` (already lowercased: lookups are case-insensitive).
fn lookup(table: &'static [(&str, i32, Handler)], name: &str) -> Option<(i32, Handler)> {
    table
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, arity, handler)| (arity, handler))
}

/// Redis arity: positive is an exact count, negative a minimum.
fn arity_ok(arity: i32, argc: usize) -> bool {
    let n = argc as i32;
    !((arity > 0 && n != arity) || (arity < 0 && n < -arity))
}

/// Stock's "unknown command" error text (at most 16 arguments, each cut at 128 bytes),
/// which clients and tests match on.
pub fn unknown_command(args: &[Bytes]) -> String {
    let mut tail = String::new();
    for a in args.iter().skip(1).take(16) {
        tail.push_str(&format!("'{}' ", s(&a[..a.len().min(128)])));
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        s(&args[0][..args[0].len().min(128)]),
        tail
    )
}

/// Runs one command (pub/sub ones excepted) and writes its error, if any: the one place
/// where a sentinel error reply is written.
pub fn dispatch(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    if let Err(e) = call(ctx, args) {
        ctx.out.error(&e.to_string());
    }
}

/// Lookup, arity, then authentication (in stock's order: a wrong arity is reported even
/// before AUTH), then the handler.
fn call(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let name = s(&args[0]).to_ascii_lowercase();
    let Some((arity, handler)) = lookup(COMMANDS, &name) else {
        return Err(CmdError::Msg(unknown_command(args)));
    };
    if !arity_ok(arity, args.len()) {
        return Err(CmdError::Arity(name));
    }
    if !*ctx.authenticated && !matches!(name.as_str(), "auth" | "hello") {
        return Err(CmdError::NoAuth);
    }
    handler(ctx, args)
}

fn ping(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&args[1]),
        _ => return Err(CmdError::Arity("ping".into())),
    }
    Ok(())
}

fn role(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let st = ctx.sh.state.lock();
    ctx.out.array(2);
    ctx.out.bulk(b"sentinel");
    ctx.out.array(st.masters.len());
    for name in st.masters.keys() {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

fn command(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() >= 2 && args[1].eq_ignore_ascii_case(b"count") {
        ctx.out.int(COMMANDS.len() as i64 + 4);
    } else {
        // Clients probe COMMAND DOCS/INFO at connect; an empty answer is valid.
        ctx.out.array(0);
    }
    Ok(())
}

fn wrong_pass() -> CmdError {
    CmdError::Msg("WRONGPASS invalid username-password pair or user is disabled.".into())
}

fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pass = ctx.sh.config.lock().requirepass.clone();
    let given = args.last().map(|a| s(a)).unwrap_or_default();
    match pass {
        None => Err(CmdError::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        )),
        Some(p)
            if args.len() <= 3 && crate::base::constant_time_eq(p.as_bytes(), given.as_bytes()) =>
        {
            *ctx.authenticated = true;
            ctx.out.ok();
            Ok(())
        }
        Some(_) => Err(wrong_pass()),
    }
}

fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut i = 1;
    let mut proto = if ctx.out.resp3 { 3 } else { 2 };
    if let Some(v) = args.get(1) {
        match crate::protocol::parse_i64(v) {
            Some(p @ (2 | 3)) => proto = p,
            Some(_) => return Err(CmdError::Msg("NOPROTO unsupported protocol version".into())),
            None => {
                return Err(CmdError::err(
                    "Protocol version is not an integer or out of range",
                ));
            }
        }
        i = 2;
    }
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"auth") && i + 2 < args.len() {
            let pass = ctx.sh.config.lock().requirepass.clone();
            match pass {
                Some(p) if crate::base::constant_time_eq(p.as_bytes(), &args[i + 2]) => {
                    *ctx.authenticated = true
                }
                _ => return Err(wrong_pass()),
            }
            i += 3;
        } else if args[i].eq_ignore_ascii_case(b"setname") && i + 1 < args.len() {
            *ctx.name = s(&args[i + 1]);
            i += 2;
        } else {
            return Err(CmdError::err(format!(
                "Syntax error in HELLO option '{}'",
                s(&args[i])
            )));
        }
    }
    if !*ctx.authenticated {
        return Err(CmdError::Msg("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into()));
    }
    ctx.out.resp3 = proto == 3;
    ctx.out.map(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(crate::base::REDIS_COMPAT_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.int(proto);
    ctx.out.bulk(b"id");
    ctx.out.int(ctx.client_id as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(b"sentinel");
    ctx.out.bulk(b"role");
    ctx.out.bulk(b"master");
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
    Ok(())
}

fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = s(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("setname", 3) => {
            if args[2].iter().any(|&b| b <= b' ' || b > b'~') {
                return Err(CmdError::err(
                    "Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            *ctx.name = s(&args[2]);
            ctx.out.ok();
        }
        ("getname", 2) => {
            if ctx.name.is_empty() {
                ctx.out.null();
            } else {
                ctx.out.bulk(ctx.name.as_bytes());
            }
        }
        ("id", 2) => ctx.out.int(ctx.client_id as i64),
        ("setinfo", 4) => ctx.out.ok(),
        _ => return Err(CmdError::subcommand(args, "CLIENT")),
    }
    Ok(())
}

fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if &args[1][..] != super::monitor::HELLO_CHANNEL.as_bytes() {
        return Err(CmdError::err(
            "Only HELLO messages are accepted by Sentinel instances.",
        ));
    }
    super::monitor::process_hello(ctx.sh, &s(&args[2]));
    ctx.out.int(1);
    Ok(())
}

fn shutdown(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.sh.flush_config();
    tracing::warn!("User requested shutdown...");
    let _ = ctx.sh.shutdown.send(true);
    ctx.close = true;
    Ok(())
}

fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let want: Vec<String> = args[1..]
        .iter()
        .map(|a| s(a).to_ascii_lowercase())
        .collect();
    let all = want.is_empty()
        || want
            .iter()
            .any(|w| w == "all" || w == "everything" || w == "default");
    let wants = |sec: &str| all || want.iter().any(|w| w == sec);
    let mut text = String::new();
    let port = ctx.sh.config.lock().port;
    let st = ctx.sh.state.lock();
    let uptime = now_ms().saturating_sub(ctx.sh.started_ms) / 1000;
    if wants("server") {
        text.push_str(&format!(
            "# Server\r\nredis_version:{}\r\nferrocache_version:{}\r\nredis_mode:sentinel\r\nos:{}\r\narch_bits:64\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nexecutable:{}\r\nconfig_file:{}\r\n",
            crate::base::REDIS_COMPAT_VERSION,
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::process::id(),
            st.myid,
            port,
            uptime,
            uptime / 86400,
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            ctx.sh.config.lock().file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
        ));
    }
    if wants("sentinel") {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let tilt = st.tilt.info(crate::base::now_ms());
        let scripts = ctx.sh.scripts.counts();
        text.push_str(&format!(
            "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:{}\r\nsentinel_tilt_since_seconds:{}\r\nsentinel_running_scripts:{}\r\nsentinel_scripts_queue_length:{}\r\nsentinel_simulate_failure_flags:{}\r\n",
            st.masters.len(),
            tilt.0,
            tilt.1,
            scripts.0,
            scripts.1,
            u8::from(st.simulate_crash_after_election) | (u8::from(st.simulate_crash_after_promotion) << 1)
        ));
        for (i, m) in st.masters.values().enumerate() {
            let status = if m.o_down_since_ms > 0 {
                "odown"
            } else if m.node.s_down_since_ms > 0 {
                "sdown"
            } else {
                "ok"
            };
            text.push_str(&format!(
                "master{}:name={},status={},address={}:{},slaves={},sentinels={}\r\n",
                i,
                m.name(),
                status,
                m.node.shown(),
                m.node.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
    }
    ctx.out.verbatim(text.as_bytes());
    Ok(())
}

/// The error of every subcommand that names a group that is not monitored.
fn no_master() -> CmdError {
    CmdError::err("No such master with that name")
}

/// Writes field/value pairs as a map (RESP3) or flat array (RESP2), values as bulks.
fn reply_fields(out: &mut ReplyBuf, fields: &[(&str, String)]) {
    out.map(fields.len());
    for (k, v) in fields {
        out.bulk(k.as_bytes());
        out.bulk(v.as_bytes());
    }
}

fn node_flags(n: &Node, kind: &str, extra: &[&str]) -> String {
    let mut f = Vec::new();
    if n.s_down_since_ms > 0 {
        f.push("s_down");
    }
    f.push(kind);
    if !n.connected {
        f.push("disconnected");
    }
    f.extend_from_slice(extra);
    f.join(",")
}

fn common_fields(
    n: &Node,
    name: &str,
    flags: String,
    down_after: u64,
) -> Vec<(&'static str, String)> {
    let now = now_ms();
    let mut v = vec![
        ("name", name.to_string()),
        ("ip", n.shown().to_string()),
        ("port", n.port.to_string()),
        ("runid", n.run_id.clone().unwrap_or_default()),
        ("flags", flags),
        ("link-pending-commands", "0".into()),
        ("link-refcount", "1".into()),
    ];
    v.push((
        "last-ping-sent",
        if n.act_ping_ms > 0 {
            now.saturating_sub(n.act_ping_ms).to_string()
        } else {
            "0".into()
        },
    ));
    v.push((
        "last-ok-ping-reply",
        now.saturating_sub(n.last_ok_ping_ms).to_string(),
    ));
    v.push((
        "last-ping-reply",
        now.saturating_sub(n.last_pong_ms).to_string(),
    ));
    if n.s_down_since_ms > 0 {
        v.push((
            "s-down-time",
            now.saturating_sub(n.s_down_since_ms).to_string(),
        ));
    }
    let _ = down_after;
    v
}

fn role_fields(n: &Node, v: &mut Vec<(&'static str, String)>) {
    let now = now_ms();
    v.push((
        "info-refresh",
        if n.info_refresh_ms > 0 {
            now.saturating_sub(n.info_refresh_ms).to_string()
        } else {
            "0".into()
        },
    ));
    v.push((
        "role-reported",
        match n.role {
            Role::Slave => "slave",
            _ => "master",
        }
        .into(),
    ));
    v.push((
        "role-reported-time",
        now.saturating_sub(n.role_reported_ms).to_string(),
    ));
}

fn master_fields(m: &Master) -> Vec<(&'static str, String)> {
    let now = now_ms();
    let mut extra = Vec::new();
    if m.o_down_since_ms > 0 {
        extra.push("o_down");
    }
    let mut flags = Vec::new();
    if m.node.s_down_since_ms > 0 {
        flags.push("s_down");
    }
    flags.extend(extra);
    flags.push("master");
    if !m.node.connected {
        flags.push("disconnected");
    }
    if m.failover != FailoverState::None {
        flags.push("failover_in_progress");
    }
    if m.force_failover {
        flags.push("force_failover");
    }
    let mut v = common_fields(&m.node, m.name(), flags.join(","), m.cfg.down_after_ms);
    if m.o_down_since_ms > 0 {
        v.push((
            "o-down-time",
            now.saturating_sub(m.o_down_since_ms).to_string(),
        ));
    }
    if m.failover != FailoverState::None {
        let at = v
            .iter()
            .position(|(k, _)| *k == "last-ping-sent")
            .unwrap_or(v.len());
        v.insert(at, ("failover-state", m.failover.name().into()));
    }
    v.push(("down-after-milliseconds", m.cfg.down_after_ms.to_string()));
    role_fields(&m.node, &mut v);
    v.push(("config-epoch", m.cfg.config_epoch.to_string()));
    v.push(("num-slaves", m.replicas.len().to_string()));
    v.push(("num-other-sentinels", m.sentinels.len().to_string()));
    v.push(("quorum", m.cfg.quorum.to_string()));
    v.push(("failover-timeout", m.cfg.failover_timeout_ms.to_string()));
    v.push(("parallel-syncs", m.cfg.parallel_syncs.to_string()));
    if let Some(p) = &m.cfg.notification_script {
        v.push(("notification-script", p.clone()));
    }
    if let Some(p) = &m.cfg.client_reconfig_script {
        v.push(("client-reconfig-script", p.clone()));
    }
    v
}

fn replica_fields(m: &Master, n: &Node) -> Vec<(&'static str, String)> {
    let mut extra = Vec::new();
    if m.promoted.as_deref() == Some(n.addr().as_str()) && m.failover != FailoverState::None {
        extra.push("promoted");
    }
    match n.reconf {
        Reconf::Sent => extra.push("reconf_sent"),
        Reconf::InProg => extra.push("reconf_inprog"),
        Reconf::Done if m.failover != FailoverState::None => extra.push("reconf_done"),
        _ => {}
    }
    let mut v = common_fields(
        n,
        &n.name(),
        node_flags(n, "slave", &extra),
        m.cfg.down_after_ms,
    );
    v.push(("down-after-milliseconds", m.cfg.down_after_ms.to_string()));
    role_fields(n, &mut v);
    v.push(("master-link-down-time", n.master_link_down_ms.to_string()));
    v.push((
        "master-link-status",
        if n.master_link_up { "ok" } else { "err" }.into(),
    ));
    v.push((
        "master-host",
        n.master_host.clone().unwrap_or_else(|| "?".into()),
    ));
    v.push(("master-port", n.master_port.to_string()));
    v.push(("slave-priority", n.priority.to_string()));
    v.push(("slave-repl-offset", n.repl_offset.to_string()));
    v.push(("replica-announced", u8::from(n.announced).to_string()));
    v
}

fn peer_fields(m: &Master, p: &Peer) -> Vec<(&'static str, String)> {
    let mut v = common_fields(
        &p.node,
        &p.run_id,
        node_flags(&p.node, "sentinel", &[]),
        m.cfg.down_after_ms,
    );
    v[3].1 = p.run_id.clone();
    v.push(("down-after-milliseconds", m.cfg.down_after_ms.to_string()));
    v.push((
        "last-hello-message",
        now_ms().saturating_sub(p.last_hello_ms).to_string(),
    ));
    v.push((
        "voted-leader",
        p.leader.clone().unwrap_or_else(|| "?".into()),
    ));
    v.push(("voted-leader-epoch", p.leader_epoch.to_string()));
    v
}

/// Sentinels reachable for a failover of `m`: (usable, quorum ok, majority ok).
fn quorum_check(m: &Master) -> (usize, bool, bool) {
    let voters = m.sentinels.len() + 1;
    let usable = 1 + m
        .sentinels
        .values()
        .filter(|p| p.node.s_down_since_ms == 0 && p.node.connected)
        .count();
    (usable, usable >= m.cfg.quorum, usable > voters / 2)
}

const SENTINEL_HELP: &[&str] = &[
    "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CKQUORUM <master-name>",
    "    Check if the current Sentinel configuration is able to reach the quorum",
    "    needed to failover a master and the majority needed to authorize the",
    "    failover.",
    "CONFIG SET <param> <value>",
    "    Set a global Sentinel configuration parameter.",
    "CONFIG GET <param>",
    "    Get global Sentinel configuration parameter.",
    "DEBUG [<param> <value> ...]",
    "    Show a list of configurable time parameters and their values (milliseconds).",
    "    Or update current configurable parameters values (one or more).",
    "FAILOVER <master-name>",
    "    Manually failover a master node without asking for agreement from other",
    "    Sentinels",
    "FLUSHCONFIG",
    "    Force Sentinel to rewrite its configuration on disk, including the current",
    "    Sentinel state.",
    "GET-MASTER-ADDR-BY-NAME <master-name>",
    "    Return the ip and port number of the master with that name.",
    "INFO-CACHE <master>",
    "    Return last cached INFO output from masters and all its replicas.",
    "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
    "    Check if the master specified by ip:port is down from current Sentinel's",
    "    point of view.",
    "MASTER <master-name>",
    "    Show the state and info of the specified master.",
    "MASTERS",
    "    Show a list of monitored masters and their state.",
    "MONITOR <name> <ip> <port> <quorum>",
    "    Start monitoring a new master with the specified name, ip, port and quorum.",
    "MYID",
    "    Return the ID of the Sentinel instance.",
    "PENDING-SCRIPTS",
    "    Get pending scripts information.",
    "REMOVE <master-name>",
    "    Remove master from Sentinel's monitor list.",
    "REPLICAS <master-name>",
    "    Show a list of replicas for this master and their state.",
    "RESET <pattern>",
    "    Reset masters for specific master name matching this pattern.",
    "SENTINELS <master-name>",
    "    Show a list of Sentinel instances for this master and their state.",
    "SET <master-name> <option> <value> [<option> <value> ...]",
    "    Set configuration parameters for certain masters.",
    "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
    "    Simulate a Sentinel crash.",
    "HELP",
    "    Print this help.",
];

/// SENTINEL: looks the subcommand up in [`SUBCOMMANDS`] and checks its arity, so each
/// handler below sees only well-formed calls.
fn sentinel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let sub = s(&args[1]).to_ascii_lowercase();
    let Some((arity, handler)) = lookup(SUBCOMMANDS, &sub) else {
        return Err(CmdError::err(format!(
            "unknown subcommand '{}'. Try SENTINEL HELP.",
            s(&args[1])
        )));
    };
    if !arity_ok(arity, args.len()) {
        return Err(CmdError::Arity(format!("sentinel|{sub}")));
    }
    handler(ctx, args)
}

/// SENTINEL HELP
fn sentinel_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.array(SENTINEL_HELP.len());
    for l in SENTINEL_HELP {
        ctx.out.simple(l);
    }
    Ok(())
}

/// SENTINEL MASTERS
fn sentinel_masters(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let st = ctx.sh.state.lock();
    ctx.out.array(st.masters.len());
    for m in st.masters.values() {
        reply_fields(ctx.out, &master_fields(m));
    }
    Ok(())
}

/// SENTINEL MASTER <name>
fn sentinel_master(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let st = ctx.sh.state.lock();
    let m = st.masters.get(&s(&args[2])).ok_or_else(no_master)?;
    reply_fields(ctx.out, &master_fields(m));
    Ok(())
}

/// SENTINEL REPLICAS|SLAVES <name>
fn sentinel_replicas(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let st = ctx.sh.state.lock();
    let m = st.masters.get(&s(&args[2])).ok_or_else(no_master)?;
    ctx.out.array(m.replicas.len());
    for r in m.replicas.values() {
        reply_fields(ctx.out, &replica_fields(m, r));
    }
    Ok(())
}

/// SENTINEL SENTINELS <name>
fn sentinel_sentinels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let st = ctx.sh.state.lock();
    let m = st.masters.get(&s(&args[2])).ok_or_else(no_master)?;
    ctx.out.array(m.sentinels.len());
    for p in m.sentinels.values() {
        reply_fields(ctx.out, &peer_fields(m, p));
    }
    Ok(())
}

/// SENTINEL GET-MASTER-ADDR-BY-NAME <name>: a null array, not an error, for an unknown
/// group (as stock).
fn sentinel_master_addr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let st = ctx.sh.state.lock();
    match st.masters.get(&s(&args[2])) {
        Some(m) => {
            let (ip, port) = m.current_address();
            ctx.out.array(2);
            ctx.out.bulk(ip.as_bytes());
            ctx.out.bulk(port.to_string().as_bytes());
        }
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// SENTINEL MYID
fn sentinel_myid(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let id = ctx.sh.state.lock().myid.clone();
    ctx.out.bulk(id.as_bytes());
    Ok(())
}

/// SENTINEL IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>: our opinion of
/// the leader, and our vote when a run id (not `*`) asks for one.
fn sentinel_is_master_down_by_addr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (Some(port), Some(epoch)) = (
        crate::protocol::parse_i64(&args[3]),
        crate::protocol::parse_i64(&args[4]),
    ) else {
        return Err(CmdError::NotInteger);
    };
    let (ip, runid) = (s(&args[2]), s(&args[5]));
    let mut events = Vec::new();
    let (down, leader, leader_epoch) = {
        let mut st = ctx.sh.state.lock();
        let name = st
            .masters
            .values()
            .find(|m| u16::try_from(port).is_ok_and(|p| m.node.is_at(&ip, p)))
            .map(|m| m.name().to_string());
        match name {
            None => (false, None, 0),
            Some(name) => {
                // In TILT our own verdicts are suspect: "not down", as stock answers.
                let down = !st.tilt.active() && st.masters[&name].node.s_down_since_ms > 0;
                if runid != "*" {
                    let (l, e) =
                        failover::vote(&mut st, &name, epoch.max(0) as u64, &runid, &mut events);
                    (down, l, e)
                } else {
                    (down, None, 0)
                }
            }
        }
    };
    ctx.sh.emit_all(events);
    ctx.out.array(3);
    ctx.out.int(i64::from(down));
    ctx.out.bulk(leader.as_deref().unwrap_or("*").as_bytes());
    ctx.out.int(leader_epoch as i64);
    Ok(())
}

/// SENTINEL RESET <pattern>: forgets what was learned about matching groups (followers,
/// peers, failover state), keeping their configuration.
fn sentinel_reset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let pattern = s(&args[2]);
    let mut events = Vec::new();
    let count = {
        let mut st = ctx.sh.state.lock();
        let mut count = 0;
        for m in st.masters.values_mut() {
            if crate::base::glob::glob_match(pattern.as_bytes(), m.name().as_bytes(), false) {
                let cfg = m.cfg.clone();
                let generation = m.generation + 1;
                *m = Master::new(MasterConfig {
                    known_replicas: Vec::new(),
                    known_sentinels: Vec::new(),
                    ..cfg
                });
                m.generation = generation;
                events.push(Event::new("+reset-master", format!("master {}", m.at())));
                count += 1;
            }
        }
        st.dirty = true;
        count
    };
    ctx.sh.emit_all(events);
    ctx.out.int(count);
    Ok(())
}

/// SENTINEL FAILOVER <name>: forces a failover without asking other sentinels, started
/// here at once rather than at the next timer tick.
fn sentinel_failover(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    {
        let mut st = ctx.sh.state.lock();
        let m = st.masters.get_mut(&s(&args[2])).ok_or_else(no_master)?;
        if m.failover != FailoverState::None {
            return Err(CmdError::Msg("INPROG Failover already in progress".into()));
        }
        let any = m.replicas.values().any(|r| {
            r.s_down_since_ms == 0 && r.connected && r.priority != 0 && r.info_refresh_ms > 0
        });
        if !any {
            return Err(CmdError::Msg(
                "NOGOODSLAVE No suitable replica to promote".into(),
            ));
        }
        tracing::warn!(master = %m.name(), "Executing user requested FAILOVER of '{}'", m.name());
        m.force_failover = true;
        m.failover_start_ms = 0;
    }
    failover::step(ctx.sh);
    ctx.out.ok();
    Ok(())
}

/// SENTINEL MONITOR <name> <ip> <port> <quorum>; the checks run in stock's order, so
/// the first bad argument is the one reported.
fn sentinel_monitor(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let Some(quorum) = crate::protocol::parse_i64(&args[5]) else {
        return Err(CmdError::err("Invalid quorum"));
    };
    let Some(port) = crate::protocol::parse_i64(&args[4]) else {
        return Err(CmdError::err("Invalid port"));
    };
    if quorum <= 0 {
        return Err(CmdError::err("Quorum must be 1 or greater."));
    }
    let ip = s(&args[3]);
    if super::state::resolve(&ip).is_none() {
        return Err(CmdError::err("Invalid IP address or hostname specified"));
    }
    if !(1..=65535).contains(&port) {
        return Err(CmdError::err("Invalid port number"));
    }
    let name = s(&args[2]);
    let at = {
        let mut st = ctx.sh.state.lock();
        if st.masters.contains_key(&name) {
            return Err(CmdError::err("Duplicate master name."));
        }
        let m = Master::new(MasterConfig::new(&name, &ip, port as u16, quorum as usize));
        let at = m.at();
        st.masters.insert(name, m);
        st.dirty = true;
        at
    };
    ctx.sh.flush_config();
    ctx.sh.emit(Event::new(
        "+monitor",
        format!("master {at} quorum {quorum}"),
    ));
    ctx.out.ok();
    Ok(())
}

/// SENTINEL REMOVE <name>
fn sentinel_remove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let m = {
        let mut st = ctx.sh.state.lock();
        let m = st.masters.remove(&s(&args[2])).ok_or_else(no_master)?;
        st.dirty = true;
        m
    };
    // The group is gone from the state, so its configuration is handed over: stock
    // runs its notification script for the removal too.
    let removed = Event::of_master(&m.cfg.name, "-monitor", format!("master {}", m.at()));
    ctx.sh.emit_for(removed, &m.cfg);
    ctx.sh.flush_config();
    ctx.out.ok();
    Ok(())
}

/// SENTINEL FLUSHCONFIG: rewrites the file now, even with nothing changed.
fn sentinel_flushconfig(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.sh.state.lock().dirty = true;
    ctx.sh.flush_config();
    ctx.out.ok();
    Ok(())
}

/// SENTINEL CKQUORUM <name>: whether a failover could be both triggered and authorized
/// with the sentinels reachable now.
fn sentinel_ckquorum(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let (usable, q, maj) = {
        let st = ctx.sh.state.lock();
        let m = st.masters.get(&s(&args[2])).ok_or_else(no_master)?;
        quorum_check(m)
    };
    if q && maj {
        ctx.out.simple(&format!(
            "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
        ));
        return Ok(());
    }
    let mut e = format!("NOQUORUM {usable} usable Sentinels. ");
    if !q {
        e.push_str("Not enough available Sentinels to reach the specified quorum for this master");
    }
    if !maj {
        if !q {
            e.push_str(". ");
        }
        e.push_str("Not enough available Sentinels to reach the majority and authorize a failover");
    }
    Err(CmdError::Msg(e))
}

/// SENTINEL CONFIG GET <pattern> | SET <param> <value>: any other shape gets one error.
fn sentinel_config(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let op = s(&args[2]).to_ascii_lowercase();
    match (op.as_str(), args.len()) {
        ("get", 4) => sentinel_config_get(ctx, &s(&args[3])),
        ("set", 5) => sentinel_config_set(ctx, &s(&args[3]).to_ascii_lowercase(), s(&args[4])),
        _ => Err(CmdError::err(
            "Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.",
        )),
    }
}

fn yes_no(on: bool) -> String {
    if on { "yes" } else { "no" }.into()
}

/// SENTINEL CONFIG GET: the global parameters stock Sentinel lists, matched by glob.
fn sentinel_config_get(ctx: &mut Ctx<'_>, pattern: &str) -> CmdResult {
    let c = ctx.sh.config.lock();
    let params: Vec<(&str, String)> = vec![
        ("resolve-hostnames", yes_no(c.resolve_hostnames)),
        ("announce-hostnames", yes_no(c.announce_hostnames)),
        ("announce-ip", c.announce_ip.clone().unwrap_or_default()),
        ("announce-port", c.announce_port.unwrap_or(0).to_string()),
        (
            "sentinel-user",
            c.sentinel_auth.0.clone().unwrap_or_default(),
        ),
        (
            "sentinel-pass",
            c.sentinel_auth.1.clone().unwrap_or_default(),
        ),
        ("loglevel", c.loglevel.clone()),
    ];
    let hits: Vec<&(&str, String)> = params
        .iter()
        .filter(|(k, _)| crate::base::glob::glob_match(pattern.as_bytes(), k.as_bytes(), true))
        .collect();
    ctx.out.map(hits.len());
    for (k, v) in hits {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

/// SENTINEL CONFIG SET: applied, then the file is rewritten so a restart keeps it.
/// `key` is lowercased.
fn sentinel_config_set(ctx: &mut Ctx<'_>, key: &str, value: String) -> CmdResult {
    {
        let mut c = ctx.sh.config.lock();
        match key {
            "announce-ip" => c.announce_ip = (!value.is_empty()).then_some(value),
            "announce-port" => match value.parse::<u16>() {
                Ok(p) => c.announce_port = (p != 0).then_some(p),
                Err(_) => {
                    return Err(CmdError::err(format!(
                        "Invalid value '{value}' to SENTINEL CONFIG SET 'announce-port'"
                    )));
                }
            },
            "loglevel" => c.loglevel = value,
            "resolve-hostnames" | "announce-hostnames" => {
                let Some(on) = super::config::yes_no(&value) else {
                    return Err(CmdError::err(format!(
                        "Invalid value '{value}' to SENTINEL CONFIG SET '{key}'"
                    )));
                };
                if key == "resolve-hostnames" {
                    c.resolve_hostnames = on;
                } else {
                    c.announce_hostnames = on;
                }
                c.apply_hostnames();
            }
            _ => {
                return Err(CmdError::err(format!(
                    "Invalid argument '{key}' to SENTINEL CONFIG SET"
                )));
            }
        }
    }
    ctx.sh.state.lock().dirty = true;
    ctx.sh.flush_config();
    ctx.out.ok();
    Ok(())
}

/// SENTINEL PENDING-SCRIPTS: the script queue, oldest first, in stock's map shape.
fn sentinel_pending_scripts(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let jobs = ctx.sh.scripts.pending();
    ctx.out.array(jobs.len());
    for j in jobs {
        ctx.out.map(5);
        ctx.out.bulk_str("argv");
        ctx.out.array(j.argv.len());
        for a in &j.argv {
            ctx.out.bulk_str(a);
        }
        ctx.out.bulk_str("flags");
        ctx.out
            .bulk_str(if j.running { "running" } else { "scheduled" });
        ctx.out.bulk_str("pid");
        ctx.out.bulk_int(i64::from(j.pid));
        ctx.out
            .bulk_str(if j.running { "run-time" } else { "run-delay" });
        ctx.out.bulk_int(j.ms as i64);
        ctx.out.bulk_str("retry-num");
        ctx.out.bulk_int(i64::from(j.retry_num));
    }
    Ok(())
}

/// SENTINEL INFO-CACHE <master> [<master> ...]: the last INFO of each named group's
/// leader and followers, each with its age in ms; unknown names are skipped and repeated
/// ones answered once, as stock. As stock, a follower's age is 0 while its leader has
/// sent no INFO.
fn sentinel_info_cache(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let st = ctx.sh.state.lock();
    let names: Vec<String> = args[2..].iter().map(|a| s(a)).collect();
    let mut seen = std::collections::HashSet::new();
    let masters: Vec<&super::state::Master> = names
        .iter()
        .filter(|n| seen.insert(n.as_str()))
        .filter_map(|n| st.masters.get(n))
        .collect();
    let now = now_ms();
    let age = |leader_seen: bool, refreshed: u64| {
        if leader_seen {
            now.saturating_sub(refreshed) as i64
        } else {
            0
        }
    };
    ctx.out.array(masters.len() * 2);
    for m in masters {
        ctx.out.bulk(m.cfg.name.as_bytes());
        ctx.out.array(m.replicas.len() + 1);
        let leader_seen = m.node.info_refresh_ms != 0;
        for n in std::iter::once(&m.node).chain(m.replicas.values()) {
            ctx.out.array(2);
            ctx.out.int(age(leader_seen, n.info_refresh_ms));
            match &n.info {
                Some(text) => ctx.out.bulk(text.as_bytes()),
                None => ctx.out.null(),
            }
        }
    }
    Ok(())
}

/// SENTINEL DEBUG [<param> <value> ...]: stock's timing parameters, listed (no
/// argument, in stock's order) or set (each value a positive number of ms; pairs are
/// applied in order, so a bad one leaves the earlier ones set, as stock), which is how
/// test suites shorten a sentinel's periods.
fn sentinel_debug(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    use super::state::TIMINGS;
    let scripts = &ctx.sh.scripts;
    if args.len() == 2 {
        let (trigger, period) = {
            let st = ctx.sh.state.lock();
            (st.tilt.trigger_ms, st.tilt.period_ms)
        };
        let mut params: Vec<(String, u64)> = TIMINGS
            .iter()
            .map(|t| (t.name.to_ascii_uppercase(), t.get()))
            .collect();
        params.insert(6, ("TILT-TRIGGER".into(), trigger));
        params.insert(7, ("TILT-PERIOD".into(), period));
        params.push((
            "SCRIPT-MAX-RUNTIME".into(),
            scripts.max_runtime_ms.load(Ordering::Relaxed),
        ));
        params.push((
            "SCRIPT-RETRY-DELAY".into(),
            scripts.retry_delay_ms.load(Ordering::Relaxed),
        ));
        ctx.out.map(params.len());
        for (name, ms) in params {
            ctx.out.bulk_str(&name);
            ctx.out.bulk_int(ms as i64);
        }
        return Ok(());
    }
    let mut j = 2;
    while j < args.len() {
        let option = s(&args[j]);
        if j + 1 >= args.len() {
            return Err(unknown_debug_option(&option));
        }
        let value = s(&args[j + 1]);
        let Some(ms) = value.parse::<i64>().ok().filter(|v| *v > 0) else {
            return Err(CmdError::err(format!(
                "Invalid argument '{value}' for SENTINEL DEBUG '{option}'"
            )));
        };
        let ms = ms as u64;
        match option.to_ascii_lowercase().as_str() {
            "tilt-trigger" => ctx.sh.state.lock().tilt.trigger_ms = ms,
            "tilt-period" => ctx.sh.state.lock().tilt.period_ms = ms,
            "script-max-runtime" => scripts.max_runtime_ms.store(ms, Ordering::Relaxed),
            "script-retry-delay" => scripts.retry_delay_ms.store(ms, Ordering::Relaxed),
            name => TIMINGS
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| unknown_debug_option(&option))?
                .set(ms),
        }
        j += 2;
    }
    ctx.out.ok();
    Ok(())
}

fn unknown_debug_option(option: &str) -> CmdError {
    CmdError::err(format!(
        "Unknown option or number of arguments for SENTINEL DEBUG '{option}'"
    ))
}

/// SENTINEL SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]: the
/// flags are cleared first, so each call states the whole set.
fn sentinel_simulate_failure(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let mut st = ctx.sh.state.lock();
    st.simulate_crash_after_election = false;
    st.simulate_crash_after_promotion = false;
    for a in &args[2..] {
        match s(a).to_ascii_lowercase().as_str() {
            "crash-after-election" => st.simulate_crash_after_election = true,
            "crash-after-promotion" => st.simulate_crash_after_promotion = true,
            "help" => {
                drop(st);
                ctx.out.array(2);
                ctx.out.bulk(b"crash-after-election");
                ctx.out.bulk(b"crash-after-promotion");
                return Ok(());
            }
            _ => return Err(CmdError::err("Unknown failure simulation specified")),
        }
    }
    drop(st);
    ctx.out.ok();
    Ok(())
}

/// SENTINEL SET <name> <option> <value> [...]: options are applied in order, so an
/// invalid one leaves the earlier ones applied (as stock).
fn sentinel_set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let name = s(&args[2]);
    if args.len().is_multiple_of(2) {
        return Err(CmdError::Arity("sentinel|set".into()));
    }
    let deny_scripts = ctx.sh.config.lock().deny_scripts_reconfig;
    let mut st = ctx.sh.state.lock();
    let m = st.masters.get_mut(&name).ok_or_else(no_master)?;
    let mut changes = Vec::new();
    for pair in args[3..].chunks(2) {
        let (opt, val) = (s(&pair[0]).to_ascii_lowercase(), s(&pair[1]));
        let ok = match opt.as_str() {
            "down-after-milliseconds" => val
                .parse::<u64>()
                .ok()
                .filter(|v| *v > 0)
                .map(|v| m.cfg.down_after_ms = v),
            "failover-timeout" => val
                .parse::<u64>()
                .ok()
                .filter(|v| *v > 0)
                .map(|v| m.cfg.failover_timeout_ms = v),
            "parallel-syncs" => val
                .parse::<usize>()
                .ok()
                .filter(|v| *v > 0)
                .map(|v| m.cfg.parallel_syncs = v),
            "quorum" => val
                .parse::<usize>()
                .ok()
                .filter(|v| *v > 0)
                .map(|v| m.cfg.quorum = v),
            "auth-pass" => {
                m.cfg.auth_pass = (!val.is_empty()).then(|| val.clone());
                Some(())
            }
            "auth-user" => {
                m.cfg.auth_user = (!val.is_empty()).then(|| val.clone());
                Some(())
            }
            "notification-script" | "client-reconfig-script" => {
                if deny_scripts {
                    return Err(CmdError::err(
                        "Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration",
                    ));
                }
                if !val.is_empty() && !super::config::executable(&val) {
                    return Err(CmdError::err(if opt == "notification-script" {
                        "Notification script seems non existing or non executable"
                    } else {
                        "Client reconfiguration script seems non existing or non executable"
                    }));
                }
                let path = (!val.is_empty()).then(|| val.clone());
                if opt == "notification-script" {
                    m.cfg.notification_script = path;
                } else {
                    m.cfg.client_reconfig_script = path;
                }
                Some(())
            }
            "rename-command" | "master-reboot-down-after-period" => Some(()),
            _ => {
                return Err(CmdError::err(format!(
                    "Unknown option or number of arguments for SENTINEL SET '{opt}'"
                )));
            }
        };
        if ok.is_none() {
            return Err(CmdError::err(format!(
                "Invalid argument '{val}' for SENTINEL SET '{opt}'"
            )));
        }
        changes.push(format!("{opt} {val}"));
    }
    let at = m.at();
    st.dirty = true;
    drop(st);
    for c in changes {
        ctx.sh.emit(Event::new("+set", format!("master {at} {c}")));
    }
    ctx.sh.flush_config();
    ctx.out.ok();
    Ok(())
}
