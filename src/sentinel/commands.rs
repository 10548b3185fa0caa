//! The sentinel's client-facing commands, with stock Sentinel 7.0 reply shapes: SENTINEL
//! (and its subcommands), PING, INFO, ROLE, HELLO, AUTH, CLIENT, PUBLISH (hello messages
//! from other sentinels), SHUTDOWN; pub/sub commands are handled by the connection.

use super::Sentinel;
use super::config::MasterConfig;
use super::failover;
use super::state::{FailoverState, Master, Node, Peer, Reconf, Role, now_ms};
use crate::protocol::ReplyBuf;
use bytes::Bytes;
use std::sync::Arc;

/// A command's context: the sentinel, the connection's reply buffer and identity.
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

type Handler = fn(&mut Ctx<'_>, &[Bytes]);

/// The command table: name, arity (negative: at least), handler.
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

fn s(a: &[u8]) -> String {
    String::from_utf8_lossy(a).into_owned()
}

/// Stock "unknown command" error text.
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

/// Runs one command (pub/sub ones excepted).
pub fn dispatch(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let name = s(&args[0]).to_ascii_lowercase();
    let Some((_, arity, handler)) = COMMANDS.iter().find(|(n, _, _)| *n == name) else {
        ctx.out.error(&unknown_command(args));
        return;
    };
    let n = args.len() as i32;
    if (*arity > 0 && n != *arity) || (*arity < 0 && n < -arity) {
        ctx.out.error(&format!(
            "ERR wrong number of arguments for '{}' command",
            name
        ));
        return;
    }
    if !*ctx.authenticated && !matches!(name.as_str(), "auth" | "hello") {
        ctx.out.error("NOAUTH Authentication required.");
        return;
    }
    handler(ctx, args);
}

fn ping(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&args[1]),
        _ => ctx
            .out
            .error("ERR wrong number of arguments for 'ping' command"),
    }
}

fn role(ctx: &mut Ctx<'_>, _args: &[Bytes]) {
    let st = ctx.sh.state.lock();
    ctx.out.array(2);
    ctx.out.bulk(b"sentinel");
    ctx.out.array(st.masters.len());
    for name in st.masters.keys() {
        ctx.out.bulk(name.as_bytes());
    }
}

fn command(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    if args.len() >= 2 && args[1].eq_ignore_ascii_case(b"count") {
        ctx.out.int(COMMANDS.len() as i64 + 4);
    } else {
        // Clients probe COMMAND DOCS/INFO at connect; an empty answer is valid.
        ctx.out.array(0);
    }
}

fn auth(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let pass = ctx.sh.config.lock().requirepass.clone();
    let given = args.last().map(|a| s(a)).unwrap_or_default();
    match pass {
        None => ctx.out.error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ),
        Some(p) if args.len() <= 3 && crate::base::constant_time_eq(p.as_bytes(), given.as_bytes()) => {
            *ctx.authenticated = true;
            ctx.out.ok();
        }
        Some(_) => ctx
            .out
            .error("WRONGPASS invalid username-password pair or user is disabled."),
    }
}

fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let mut i = 1;
    let mut proto = if ctx.out.resp3 { 3 } else { 2 };
    if let Some(v) = args.get(1) {
        match crate::protocol::parse_i64(v) {
            Some(p @ (2 | 3)) => proto = p,
            Some(_) => {
                ctx.out.error("NOPROTO unsupported protocol version");
                return;
            }
            None => {
                ctx.out
                    .error("ERR Protocol version is not an integer or out of range");
                return;
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
                _ => {
                    ctx.out
                        .error("WRONGPASS invalid username-password pair or user is disabled.");
                    return;
                }
            }
            i += 3;
        } else if args[i].eq_ignore_ascii_case(b"setname") && i + 1 < args.len() {
            *ctx.name = s(&args[i + 1]);
            i += 2;
        } else {
            ctx.out.error(&format!(
                "ERR Syntax error in HELLO option '{}'",
                s(&args[i])
            ));
            return;
        }
    }
    if !*ctx.authenticated {
        ctx.out.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
        return;
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
}

fn client(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let sub = s(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("setname", 3) => {
            if args[2].iter().any(|&b| b <= b' ' || b > b'~') {
                ctx.out.error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                );
                return;
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
        _ => ctx.out.error(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            s(&args[1])
        )),
    }
}

fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    if &args[1][..] != super::monitor::HELLO_CHANNEL.as_bytes() {
        ctx.out
            .error("ERR Only HELLO messages are accepted by Sentinel instances.");
        return;
    }
    super::monitor::process_hello(ctx.sh, &s(&args[2]));
    ctx.out.int(1);
}

fn shutdown(ctx: &mut Ctx<'_>, _args: &[Bytes]) {
    ctx.sh.flush_config();
    tracing::warn!("User requested shutdown...");
    let _ = ctx.sh.shutdown.send(true);
    ctx.close = true;
}

fn info(ctx: &mut Ctx<'_>, args: &[Bytes]) {
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
        text.push_str(&format!(
            "# Sentinel\r\nsentinel_masters:{}\r\nsentinel_tilt:0\r\nsentinel_tilt_since_seconds:-1\r\nsentinel_running_scripts:0\r\nsentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:{}\r\n",
            st.masters.len(),
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
                m.node.ip,
                m.node.port,
                m.replicas.len(),
                m.sentinels.len() + 1
            ));
        }
    }
    ctx.out.verbatim(text.as_bytes());
}

fn err_no_master(ctx: &mut Ctx<'_>) {
    ctx.out.error("ERR No such master with that name");
}

fn arity(ctx: &mut Ctx<'_>, sub: &str) {
    ctx.out.error(&format!(
        "ERR wrong number of arguments for 'sentinel|{}' command",
        sub
    ));
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
        ("ip", n.ip.clone()),
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
        &n.addr(),
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

fn sentinel(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let sub = s(&args[1]).to_ascii_lowercase();
    let n = args.len();
    let arg = |i: usize| s(&args[i]);
    match sub.as_str() {
        "help" => {
            ctx.out.array(SENTINEL_HELP.len());
            for l in SENTINEL_HELP {
                ctx.out.simple(l);
            }
        }
        "masters" if n == 2 => {
            let st = ctx.sh.state.lock();
            ctx.out.array(st.masters.len());
            for m in st.masters.values() {
                reply_fields(ctx.out, &master_fields(m));
            }
        }
        "master" if n == 3 => {
            let st = ctx.sh.state.lock();
            match st.masters.get(&arg(2)) {
                Some(m) => reply_fields(ctx.out, &master_fields(m)),
                None => {
                    drop(st);
                    err_no_master(ctx)
                }
            }
        }
        "replicas" | "slaves" if n == 3 => {
            let st = ctx.sh.state.lock();
            match st.masters.get(&arg(2)) {
                Some(m) => {
                    ctx.out.array(m.replicas.len());
                    for r in m.replicas.values() {
                        reply_fields(ctx.out, &replica_fields(m, r));
                    }
                }
                None => {
                    drop(st);
                    err_no_master(ctx)
                }
            }
        }
        "sentinels" if n == 3 => {
            let st = ctx.sh.state.lock();
            match st.masters.get(&arg(2)) {
                Some(m) => {
                    ctx.out.array(m.sentinels.len());
                    for p in m.sentinels.values() {
                        reply_fields(ctx.out, &peer_fields(m, p));
                    }
                }
                None => {
                    drop(st);
                    err_no_master(ctx)
                }
            }
        }
        "get-master-addr-by-name" if n == 3 => {
            let st = ctx.sh.state.lock();
            match st.masters.get(&arg(2)) {
                Some(m) => {
                    let (ip, port) = m.current_address();
                    ctx.out.array(2);
                    ctx.out.bulk(ip.as_bytes());
                    ctx.out.bulk(port.to_string().as_bytes());
                }
                None => ctx.out.null_array(),
            }
        }
        "myid" if n == 2 => {
            let id = ctx.sh.state.lock().myid.clone();
            ctx.out.bulk(id.as_bytes());
        }
        "is-master-down-by-addr" if n == 6 => {
            let (Some(port), Some(epoch)) = (
                crate::protocol::parse_i64(&args[3]),
                crate::protocol::parse_i64(&args[4]),
            ) else {
                ctx.out.error("ERR value is not an integer or out of range");
                return;
            };
            let (ip, runid) = (arg(2), arg(5));
            let mut events = Vec::new();
            let (down, leader, leader_epoch) = {
                let mut st = ctx.sh.state.lock();
                let name = st
                    .masters
                    .values()
                    .find(|m| m.node.ip == ip && i64::from(m.node.port) == port)
                    .map(|m| m.name().to_string());
                match name {
                    None => (false, None, 0),
                    Some(name) => {
                        let down = st.masters[&name].node.s_down_since_ms > 0;
                        if runid != "*" {
                            let (l, e) = failover::vote(
                                &mut st,
                                &name,
                                epoch.max(0) as u64,
                                &runid,
                                &mut events,
                            );
                            (down, l, e)
                        } else {
                            (down, None, 0)
                        }
                    }
                }
            };
            for (k, v) in events {
                ctx.sh.events.emit(&k, &v);
            }
            ctx.out.array(3);
            ctx.out.int(i64::from(down));
            ctx.out.bulk(leader.as_deref().unwrap_or("*").as_bytes());
            ctx.out.int(leader_epoch as i64);
        }
        "reset" if n == 3 => {
            let pattern = arg(2);
            let mut events = Vec::new();
            let count = {
                let mut st = ctx.sh.state.lock();
                let mut count = 0;
                for m in st.masters.values_mut() {
                    if crate::store::glob::glob_match(
                        pattern.as_bytes(),
                        m.name().as_bytes(),
                        false,
                    ) {
                        let cfg = m.cfg.clone();
                        let generation = m.generation + 1;
                        *m = Master::new(MasterConfig {
                            known_replicas: Vec::new(),
                            known_sentinels: Vec::new(),
                            ..cfg
                        });
                        m.generation = generation;
                        events.push(("+reset-master".to_string(), format!("master {}", m.at())));
                        count += 1;
                    }
                }
                st.dirty = true;
                count
            };
            for (k, v) in events {
                ctx.sh.events.emit(&k, &v);
            }
            ctx.out.int(count);
        }
        "failover" if n == 3 => {
            let mut st = ctx.sh.state.lock();
            let Some(m) = st.masters.get_mut(&arg(2)) else {
                drop(st);
                return err_no_master(ctx);
            };
            if m.failover != FailoverState::None {
                drop(st);
                ctx.out.error("-INPROG Failover already in progress");
                return;
            }
            let any = m.replicas.values().any(|r| {
                r.s_down_since_ms == 0 && r.connected && r.priority != 0 && r.info_refresh_ms > 0
            });
            if !any {
                drop(st);
                ctx.out.error("-NOGOODSLAVE No suitable replica to promote");
                return;
            }
            tracing::warn!(master = %m.name(), "Executing user requested FAILOVER of '{}'", m.name());
            m.force_failover = true;
            m.failover_start_ms = 0;
            drop(st);
            failover::step(ctx.sh);
            ctx.out.ok();
        }
        "monitor" if n == 6 => {
            let Some(quorum) = crate::protocol::parse_i64(&args[5]) else {
                ctx.out.error("ERR Invalid quorum");
                return;
            };
            let Some(port) = crate::protocol::parse_i64(&args[4]) else {
                ctx.out.error("ERR Invalid port");
                return;
            };
            if quorum <= 0 {
                ctx.out.error("ERR Quorum must be 1 or greater.");
                return;
            }
            if arg(3).parse::<std::net::IpAddr>().is_err() {
                ctx.out
                    .error("ERR Invalid IP address or hostname specified");
                return;
            }
            if !(1..=65535).contains(&port) {
                ctx.out.error("ERR Invalid port number");
                return;
            }
            let name = arg(2);
            let mut st = ctx.sh.state.lock();
            if st.masters.contains_key(&name) {
                drop(st);
                ctx.out.error("ERR Duplicate master name.");
                return;
            }
            let m = Master::new(MasterConfig::new(
                &name,
                &arg(3),
                port as u16,
                quorum as usize,
            ));
            let at = m.at();
            st.masters.insert(name, m);
            st.dirty = true;
            drop(st);
            ctx.sh.flush_config();
            ctx.sh
                .events
                .emit("+monitor", &format!("master {at} quorum {quorum}"));
            ctx.out.ok();
        }
        "remove" if n == 3 => {
            let mut st = ctx.sh.state.lock();
            match st.masters.remove(&arg(2)) {
                Some(m) => {
                    st.dirty = true;
                    drop(st);
                    ctx.sh
                        .events
                        .emit("-monitor", &format!("master {}", m.at()));
                    ctx.sh.flush_config();
                    ctx.out.ok();
                }
                None => {
                    drop(st);
                    err_no_master(ctx)
                }
            }
        }
        "flushconfig" if n == 2 => {
            ctx.sh.state.lock().dirty = true;
            ctx.sh.flush_config();
            ctx.out.ok();
        }
        "ckquorum" if n == 3 => {
            let st = ctx.sh.state.lock();
            let Some(m) = st.masters.get(&arg(2)) else {
                drop(st);
                return err_no_master(ctx);
            };
            let (usable, q, maj) = quorum_check(m);
            drop(st);
            if q && maj {
                ctx.out.simple(&format!(
                    "OK {usable} usable Sentinels. Quorum and failover authorization can be reached"
                ));
            } else {
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
                ctx.out.error(&e);
            }
        }
        "set" if n >= 3 => sentinel_set(ctx, args),
        "config" if n >= 3 => {
            let op = arg(2).to_ascii_lowercase();
            if op == "get" && n == 4 {
                let pattern = arg(3);
                let c = ctx.sh.config.lock();
                let params: Vec<(&str, String)> = vec![
                    ("resolve-hostnames", "no".into()),
                    ("announce-hostnames", "no".into()),
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
                    .filter(|(k, _)| {
                        crate::store::glob::glob_match(pattern.as_bytes(), k.as_bytes(), true)
                    })
                    .collect();
                ctx.out.map(hits.len());
                for (k, v) in hits {
                    ctx.out.bulk(k.as_bytes());
                    ctx.out.bulk(v.as_bytes());
                }
            } else if op == "set" && n == 5 {
                let (k, v) = (arg(3).to_ascii_lowercase(), arg(4));
                let mut c = ctx.sh.config.lock();
                match k.as_str() {
                    "announce-ip" => c.announce_ip = (!v.is_empty()).then_some(v),
                    "announce-port" => match v.parse::<u16>() {
                        Ok(p) => c.announce_port = (p != 0).then_some(p),
                        Err(_) => {
                            drop(c);
                            ctx.out.error(&format!(
                                "ERR Invalid value '{v}' to SENTINEL CONFIG SET 'announce-port'"
                            ));
                            return;
                        }
                    },
                    "loglevel" => c.loglevel = v,
                    "resolve-hostnames" | "announce-hostnames" => {}
                    _ => {
                        drop(c);
                        ctx.out.error(&format!(
                            "ERR Invalid argument '{k}' to SENTINEL CONFIG SET"
                        ));
                        return;
                    }
                }
                drop(c);
                ctx.sh.state.lock().dirty = true;
                ctx.sh.flush_config();
                ctx.out.ok();
            } else {
                ctx.out.error(
                    "ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.",
                );
            }
        }
        "pending-scripts" if n == 2 => ctx.out.array(0),
        "info-cache" => ctx.out.array(0),
        "simulate-failure" => {
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
                        return;
                    }
                    _ => {
                        drop(st);
                        ctx.out.error("ERR Unknown failure simulation specified");
                        return;
                    }
                }
            }
            drop(st);
            ctx.out.ok();
        }
        "masters"
        | "master"
        | "replicas"
        | "slaves"
        | "sentinels"
        | "get-master-addr-by-name"
        | "myid"
        | "is-master-down-by-addr"
        | "reset"
        | "failover"
        | "monitor"
        | "remove"
        | "flushconfig"
        | "ckquorum"
        | "set"
        | "config"
        | "pending-scripts" => arity(ctx, &sub),
        _ => ctx.out.error(&format!(
            "ERR unknown subcommand '{}'. Try SENTINEL HELP.",
            s(&args[1])
        )),
    }
}

/// SENTINEL SET <name> <option> <value> [...]
fn sentinel_set(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let name = s(&args[2]);
    if args.len() < 5 || args.len().is_multiple_of(2) {
        ctx.out
            .error("ERR wrong number of arguments for 'sentinel|set' command");
        return;
    }
    let mut st = ctx.sh.state.lock();
    let Some(m) = st.masters.get_mut(&name) else {
        drop(st);
        return err_no_master(ctx);
    };
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
            "notification-script"
            | "client-reconfig-script"
            | "rename-command"
            | "master-reboot-down-after-period" => Some(()),
            _ => {
                drop(st);
                ctx.out.error(&format!(
                    "ERR Unknown option or number of arguments for SENTINEL SET '{opt}'"
                ));
                return;
            }
        };
        if ok.is_none() {
            drop(st);
            ctx.out.error(&format!(
                "ERR Invalid argument '{val}' for SENTINEL SET '{opt}'"
            ));
            return;
        }
        changes.push(format!("{opt} {val}"));
    }
    let at = m.at();
    st.dirty = true;
    drop(st);
    for c in changes {
        ctx.sh.events.emit("+set", &format!("master {at} {c}"));
    }
    ctx.sh.flush_config();
    ctx.out.ok();
}
