//! Connection, CLIENT, INFO, CONFIG, DEBUG, SLOWLOG, MONITOR, SHUTDOWN.

mod common;

use common::{
    RawConn, ReadErr, Reply, TestServer, encode_cmd, info_field, is_stock_redis, now_secs,
    poll_until, setup,
};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

/// Stock Redis 7 refuses DEBUG unless `enable-debug-command` is set.
fn debug_server() -> TestServer {
    if is_stock_redis() {
        TestServer::start(&["--enable-debug-command", "yes"])
    } else {
        TestServer::start(&[])
    }
}

fn client_list_line_for(list: &str, id: i64) -> String {
    list.lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("client {id} not in list:\n{list}"))
        .to_string()
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
}

#[test]
fn ping_and_echo() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
    assert_eq!(r.cmd(&["PING", "x"]), Reply::bulk("x"));
    assert_eq!(r.cmd(&["ECHO", "hello"]), Reply::bulk("hello"));
    assert_eq!(r.cmd(&["ECHO", ""]), Reply::bulk(""));
    assert_eq!(
        r.cmd(&["ECHO"]),
        Reply::err("ERR wrong number of arguments for 'echo' command")
    );
}

#[test]
fn quit_closes_connection() {
    let (s, mut r) = setup();
    assert_eq!(r.cmd(&["QUIT"]), Reply::ok());
    assert!(r.wait_closed(T));
    let mut r2 = s.raw();
    assert_eq!(r2.cmd(&["PING"]), Reply::simple("PONG"));
}

#[test]
fn reset_clears_connection_state() {
    let (_s, mut r) = setup();
    r.cmd(&["SELECT", "3"]);
    r.cmd(&["SET", "db3", "x"]);
    r.cmd(&["CLIENT", "SETNAME", "myname"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["RESET"]), Reply::simple("RESET"));
    assert_eq!(r.cmd(&["EXEC"]), Reply::err("ERR EXEC without MULTI"));
    assert_eq!(r.cmd(&["GET", "db3"]), Reply::Nil);
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), Reply::Nil);
    assert_eq!(r.cmd(&["EXISTS", "a"]), Reply::int(0));
}

#[test]
fn reset_leaves_subscribed_mode_and_resp3() {
    let (_s, mut r) = setup();
    r.cmd(&["HELLO", "3"]);
    r.send_cmd(&["SUBSCRIBE", "c"]);
    r.read_reply();
    assert_eq!(r.cmd(&["RESET"]), Reply::simple("RESET"));
    // RESP2 again: nil is $-1 and GET is allowed.
    r.send_cmd(&["GET", "missing"]);
    assert_eq!(r.read_bytes(5, T).unwrap(), b"$-1\r\n");
}

#[test]
fn auth_with_requirepass() {
    let s = TestServer::start(&["--requirepass", "secret"]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["GET", "a"]),
        Reply::err("NOAUTH Authentication required.")
    );
    assert_eq!(
        r.cmd(&["AUTH", "wrong"]),
        Reply::err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(
        r.cmd(&["AUTH", "default", "wrong"]),
        Reply::err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(r.cmd(&["AUTH", "secret"]), Reply::ok());
    assert_eq!(r.cmd(&["SET", "a", "1"]), Reply::ok());
    let mut r2 = s.raw();
    assert_eq!(r2.cmd(&["AUTH", "default", "secret"]), Reply::ok());
    assert_eq!(r2.cmd(&["GET", "a"]), Reply::bulk("1"));
}

#[test]
fn auth_hello_with_requirepass() {
    let s = TestServer::start(&["--requirepass", "secret"]);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["HELLO", "3"]),
        Reply::err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
        )
    );
    let reply = r.cmd(&["HELLO", "3", "AUTH", "default", "secret"]);
    assert_eq!(reply.get("proto"), Some(Reply::Int(3)));
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
}

#[test]
fn auth_without_password_configured() {
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["AUTH", "x"]),
        Reply::err(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?"
        )
    );
}

#[test]
fn auth_via_redis_client_url() {
    let s = TestServer::start(&["--requirepass", "s3cret"]);
    let url = format!("redis://:s3cret@127.0.0.1:{}/", s.port);
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_connection_with_timeout(T).unwrap();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn client_id_setname_getname() {
    let (s, mut r) = setup();
    let id = r.cmd(&["CLIENT", "ID"]).as_int();
    assert!(id > 0);
    let mut r2 = s.raw();
    let id2 = r2.cmd(&["CLIENT", "ID"]).as_int();
    assert!(id2 > id, "ids must increase: {id} {id2}");
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), Reply::Nil);
    assert_eq!(r.cmd(&["CLIENT", "SETNAME", "worker-1"]), Reply::ok());
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), Reply::bulk("worker-1"));
    assert_eq!(
        r.cmd(&["CLIENT", "SETNAME", "has space"]),
        Reply::err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    // Empty name clears it.
    assert_eq!(r.cmd(&["CLIENT", "SETNAME", ""]), Reply::ok());
    assert_eq!(r.cmd(&["CLIENT", "GETNAME"]), Reply::Nil);
}

#[test]
fn client_list_fields() {
    let (s, mut r) = setup();
    let mut other = s.raw();
    let id = r.cmd(&["CLIENT", "ID"]).as_int();
    let oid = other.cmd(&["CLIENT", "ID"]).as_int();
    other.cmd(&["CLIENT", "SETNAME", "other"]);
    other.cmd(&["SELECT", "2"]);
    let list = r.cmd(&["CLIENT", "LIST"]).as_string();
    let line = client_list_line_for(&list, id);
    for f in [
        "id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub", "multi",
        "qbuf", "omem", "cmd", "user", "resp",
    ] {
        assert!(field(&line, f).is_some(), "field {f} missing in {line}");
    }
    assert_eq!(field(&line, "cmd"), Some("client|list"));
    assert_eq!(
        field(&line, "laddr"),
        Some(format!("127.0.0.1:{}", s.port).as_str())
    );
    assert!(field(&line, "addr").unwrap().starts_with("127.0.0.1:"));
    let oline = client_list_line_for(&list, oid);
    assert_eq!(field(&oline, "name"), Some("other"));
    assert_eq!(field(&oline, "db"), Some("2"));
    assert_eq!(field(&oline, "cmd"), Some("select"));
    // Filter by ID.
    let only = r
        .cmd(&["CLIENT", "LIST", "ID", &oid.to_string()])
        .as_string();
    assert_eq!(only.lines().count(), 1);
    assert!(only.starts_with(&format!("id={oid} ")));
}

#[test]
fn client_info_describes_self() {
    let (_s, mut r) = setup();
    let id = r.cmd(&["CLIENT", "ID"]).as_int();
    r.cmd(&["CLIENT", "SETNAME", "me"]);
    let info = r.cmd(&["CLIENT", "INFO"]).as_string();
    assert!(info.starts_with(&format!("id={id} ")), "{info}");
    assert_eq!(field(info.trim_end(), "name"), Some("me"));
    assert_eq!(field(info.trim_end(), "cmd"), Some("client|info"));
    assert_eq!(field(info.trim_end(), "resp"), Some("2"));
}

#[test]
fn client_kill_by_id() {
    let (s, mut r) = setup();
    let mut victim = s.raw();
    let vid = victim.cmd(&["CLIENT", "ID"]).as_int();
    assert_eq!(
        r.cmd(&["CLIENT", "KILL", "ID", &vid.to_string()]),
        Reply::int(1)
    );
    assert!(victim.wait_closed(T), "killed client not disconnected");
    assert_eq!(r.cmd(&["CLIENT", "KILL", "ID", "999999"]), Reply::int(0));
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
}

#[test]
fn client_kill_by_addr() {
    let (s, mut r) = setup();
    let mut victim = s.raw();
    let vid = victim.cmd(&["CLIENT", "ID"]).as_int();
    let list = r.cmd(&["CLIENT", "LIST"]).as_string();
    let line = client_list_line_for(&list, vid);
    let addr = field(&line, "addr").unwrap().to_string();
    assert_eq!(r.cmd(&["CLIENT", "KILL", "ADDR", &addr]), Reply::int(1));
    assert!(victim.wait_closed(T));
    // Old-style form: CLIENT KILL addr:port.
    let mut v2 = s.raw();
    let vid2 = v2.cmd(&["CLIENT", "ID"]).as_int();
    let list = r.cmd(&["CLIENT", "LIST"]).as_string();
    let addr2 = field(&client_list_line_for(&list, vid2), "addr")
        .unwrap()
        .to_string();
    assert_eq!(r.cmd(&["CLIENT", "KILL", &addr2]), Reply::ok());
    assert!(v2.wait_closed(T));
    assert_eq!(
        r.cmd(&["CLIENT", "KILL", "1.2.3.4:5"]),
        Reply::err("ERR No such client")
    );
    assert_eq!(
        r.cmd(&["CLIENT", "KILL", "ADDR", "1.2.3.4:5"]),
        Reply::int(0)
    );
}

#[test]
fn client_kill_self_skipme() {
    let (_s, mut r) = setup();
    let id = r.cmd(&["CLIENT", "ID"]).as_int();
    assert_eq!(
        r.cmd(&["CLIENT", "KILL", "ID", &id.to_string(), "SKIPME", "yes"]),
        Reply::int(0)
    );
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
}

#[test]
fn client_pause_write_blocks_writes_not_reads() {
    let (s, mut admin) = setup();
    admin.cmd(&["SET", "k", "before"]);
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "20000", "WRITE"]),
        Reply::ok()
    );
    let mut writer = s.raw();
    let mut reader = s.raw();
    writer.send_cmd(&["SET", "k", "after"]);
    assert_eq!(
        writer.try_read_reply(Duration::from_millis(300)),
        Err(ReadErr::Timeout),
        "write must block while paused"
    );
    assert_eq!(reader.cmd(&["GET", "k"]), Reply::bulk("before"));
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), Reply::ok());
    assert_eq!(writer.try_read_reply(T), Ok(Reply::ok()));
    assert_eq!(reader.cmd(&["GET", "k"]), Reply::bulk("after"));
}

#[test]
fn client_pause_errors() {
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["CLIENT", "PAUSE", "100", "FOO"]),
        Reply::err("ERR CLIENT PAUSE mode must be WRITE or ALL")
    );
    assert_eq!(
        r.cmd(&["CLIENT", "PAUSE", "abc"]),
        Reply::err("ERR timeout is not an integer or out of range")
    );
}

#[test]
fn client_no_evict() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["CLIENT", "NO-EVICT", "on"]), Reply::ok());
    assert_eq!(r.cmd(&["CLIENT", "NO-EVICT", "off"]), Reply::ok());
    assert_eq!(
        r.cmd(&["CLIENT", "NO-EVICT", "maybe"]),
        Reply::err("ERR syntax error")
    );
}

#[test]
fn client_setinfo() {
    // ferrocache-specific: CLIENT SETINFO only exists from Redis 7.2; stock
    // redis-server 7.0 replies "unknown subcommand".
    if is_stock_redis() {
        return;
    }
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]),
        Reply::ok()
    );
    assert_eq!(
        r.cmd(&["CLIENT", "SETINFO", "LIB-VER", "1.2.3"]),
        Reply::ok()
    );
    let info = r.cmd(&["CLIENT", "INFO"]).as_string();
    assert_eq!(field(info.trim_end(), "lib-name"), Some("mylib"));
    assert_eq!(field(info.trim_end(), "lib-ver"), Some("1.2.3"));
    assert!(r.cmd(&["CLIENT", "SETINFO", "FOO", "x"]).is_error());
}

#[test]
fn client_unknown_subcommand() {
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["CLIENT", "FOO"]),
        Reply::err("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")
    );
}

#[test]
fn info_sections() {
    let (s, mut r) = setup();
    r.cmd(&["MSET", "a", "1", "b", "2"]);
    r.cmd(&["EXPIRE", "a", "1000"]);
    r.cmd(&["GET", "a"]);
    let server = r.cmd(&["INFO", "server"]).as_string();
    assert!(server.starts_with("# Server"), "{server}");
    assert!(info_field(&server, "redis_version").is_some());
    assert_eq!(info_field(&server, "tcp_port"), Some(s.port.to_string()));
    assert_eq!(info_field(&server, "run_id").unwrap().len(), 40);
    assert_eq!(
        info_field(&server, "process_id"),
        Some(s.pid().unwrap().to_string())
    );
    let clients = r.cmd(&["INFO", "clients"]).as_string();
    let n: i64 = info_field(&clients, "connected_clients")
        .unwrap()
        .parse()
        .unwrap();
    assert!(n >= 1);
    let memory = r.cmd(&["INFO", "memory"]).as_string();
    let used: i64 = info_field(&memory, "used_memory").unwrap().parse().unwrap();
    assert!(used > 0);
    let stats = r.cmd(&["INFO", "stats"]).as_string();
    let total: i64 = info_field(&stats, "total_commands_processed")
        .unwrap()
        .parse()
        .unwrap();
    assert!(total >= 3);
    assert!(info_field(&stats, "expired_keys").is_some());
    let hits: i64 = info_field(&stats, "keyspace_hits")
        .unwrap()
        .parse()
        .unwrap();
    assert!(hits >= 1);
    let repl = r.cmd(&["INFO", "replication"]).as_string();
    assert_eq!(info_field(&repl, "role").as_deref(), Some("master"));
    let ks = r.cmd(&["INFO", "keyspace"]).as_string();
    let db0 = info_field(&ks, "db0").unwrap();
    assert!(db0.starts_with("keys=2,expires=1,avg_ttl="), "{db0}");
}

#[test]
fn info_default_all_everything() {
    let (_s, mut r) = setup();
    let default = r.cmd(&["INFO"]).as_string();
    for sec in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Stats",
        "# Replication",
        "# Keyspace",
    ] {
        assert!(default.contains(sec), "INFO missing {sec}");
    }
    let every = r.cmd(&["INFO", "everything"]).as_string();
    for sec in ["# Server", "# Clients", "# Stats", "# Keyspace"] {
        assert!(every.contains(sec), "INFO everything missing {sec}");
    }
    assert!(every.len() >= default.len());
    // Multiple sections (7.0+) and unknown sections.
    let two = r.cmd(&["INFO", "server", "clients"]).as_string();
    assert!(two.contains("# Server") && two.contains("# Clients"));
    assert!(!two.contains("# Memory"));
    assert_eq!(r.cmd(&["INFO", "nosuchsection"]), Reply::bulk(""));
}

#[test]
fn info_keyspace_hits_and_misses() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["GET", "a"]);
    r.cmd(&["GET", "a"]);
    r.cmd(&["GET", "nope"]);
    let stats = r.cmd(&["INFO", "stats"]).as_string();
    assert_eq!(info_field(&stats, "keyspace_hits").as_deref(), Some("2"));
    assert_eq!(info_field(&stats, "keyspace_misses").as_deref(), Some("1"));
}

#[test]
fn config_get_specific_params() {
    let (s, mut r) = setup();
    let get = |r: &mut RawConn, name: &str| -> String {
        let reply = r.cmd(&["CONFIG", "GET", name]);
        reply
            .get(name)
            .unwrap_or_else(|| panic!("CONFIG GET {name} missing: {reply:?}"))
            .as_string()
    };
    assert_eq!(get(&mut r, "port"), s.port.to_string());
    assert!(get(&mut r, "maxclients").parse::<i64>().unwrap() > 0);
    assert_eq!(get(&mut r, "timeout"), "0");
    assert_eq!(get(&mut r, "hz"), "10");
    assert_eq!(get(&mut r, "proto-max-bulk-len"), "536870912");
    assert_eq!(get(&mut r, "client-query-buffer-limit"), "1073741824");
    assert_eq!(get(&mut r, "requirepass"), "");
    assert_eq!(r.cmd(&["CONFIG", "GET", "nosuchparam"]), Reply::arr(vec![]));
}

#[test]
fn config_get_glob_and_multiple() {
    let (_s, mut r) = setup();
    let reply = r.cmd(&["CONFIG", "GET", "max*"]);
    assert!(reply.get("maxclients").is_some(), "{reply:?}");
    for (k, _) in reply.as_pairs() {
        assert!(k.as_string().starts_with("max"), "{k:?}");
    }
    let reply = r.cmd(&["CONFIG", "GET", "port", "hz"]);
    assert!(reply.get("port").is_some() && reply.get("hz").is_some());
}

#[test]
fn config_set_and_read_back() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["CONFIG", "SET", "maxclients", "100"]), Reply::ok());
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "maxclients"]).get("maxclients"),
        Some(Reply::bulk("100"))
    );
    assert_eq!(r.cmd(&["CONFIG", "SET", "timeout", "30"]), Reply::ok());
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "timeout"]).get("timeout"),
        Some(Reply::bulk("30"))
    );
    // Multiple params at once (7.0+).
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "timeout", "0", "hz", "20"]),
        Reply::ok()
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "hz"]).get("hz"),
        Some(Reply::bulk("20"))
    );
}

#[test]
fn config_set_errors() {
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "nosuch", "1"]),
        Reply::err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxclients", "abc"]),
        Reply::err(
            "ERR CONFIG SET failed (possibly related to argument 'maxclients') - \
             argument couldn't be parsed into an integer"
        )
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "timeout", "abc"]),
        Reply::err(
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - \
             argument couldn't be parsed into an integer"
        )
    );
}

#[test]
fn config_resetstat() {
    let (_s, mut r) = setup();
    for _ in 0..20 {
        r.cmd(&["PING"]);
    }
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["GET", "a"]);
    assert_eq!(r.cmd(&["CONFIG", "RESETSTAT"]), Reply::ok());
    let stats = r.cmd(&["INFO", "stats"]).as_string();
    let total: i64 = info_field(&stats, "total_commands_processed")
        .unwrap()
        .parse()
        .unwrap();
    assert!(total <= 2, "total_commands_processed={total}");
    assert_eq!(info_field(&stats, "keyspace_hits").as_deref(), Some("0"));
}

#[test]
fn time_command() {
    let (_s, mut r) = setup();
    let reply = r.cmd(&["TIME"]);
    let parts = reply.as_array();
    assert_eq!(parts.len(), 2);
    let secs = parts[0].as_int();
    let micros = parts[1].as_int();
    assert!((secs - now_secs()).abs() <= 2);
    assert!((0..1_000_000).contains(&micros));
}

#[test]
fn lastsave_and_dbsize() {
    let (_s, mut r) = setup();
    let ls = r.cmd(&["LASTSAVE"]).as_int();
    assert!((ls - now_secs()).abs() <= 60, "lastsave {ls}");
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
    r.cmd(&["MSET", "a", "1", "b", "2"]);
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(2));
}

#[test]
fn debug_sleep_zero() {
    let s = debug_server();
    let mut r = s.raw();
    assert_eq!(r.cmd(&["DEBUG", "SLEEP", "0"]), Reply::ok());
}

fn is_hex40(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn debug_digest() {
    let a = debug_server();
    let b = debug_server();
    let mut ra = a.raw();
    let mut rb = b.raw();
    let empty = ra.cmd(&["DEBUG", "DIGEST"]).as_string();
    assert_eq!(empty, "0".repeat(40));
    for r in [&mut ra, &mut rb] {
        r.cmd(&["MSET", "x", "1", "y", "hello", "z", "3"]);
        r.cmd(&["SELECT", "1"]);
        r.cmd(&["SET", "other", "db"]);
        r.cmd(&["SELECT", "0"]);
    }
    let da = ra.cmd(&["DEBUG", "DIGEST"]).as_string();
    let db = rb.cmd(&["DEBUG", "DIGEST"]).as_string();
    assert!(is_hex40(&da), "{da}");
    assert_ne!(da, empty);
    assert_eq!(da, db, "same data must give the same digest");
    ra.cmd(&["SET", "y", "changed"]);
    let da2 = ra.cmd(&["DEBUG", "DIGEST"]).as_string();
    assert!(is_hex40(&da2));
    assert_ne!(da, da2);
    ra.cmd(&["FLUSHALL"]);
    assert_eq!(ra.cmd(&["DEBUG", "DIGEST"]).as_string(), empty);
}

/// Digests recorded from stock redis-server 7.0.15 for the same data: Ferrocache must
/// produce the same hex so a stock replica and our leader can be compared directly.
#[test]
fn debug_digest_matches_stock_redis() {
    let s = debug_server();
    let mut r = s.raw();
    r.cmd(&["SET", "foo", "bar"]);
    assert_eq!(
        r.cmd(&["DEBUG", "DIGEST"]).as_string(),
        "d2ab4820c1be0580ea28efbfe8bfa1dc05bb802a"
    );
    assert_eq!(
        r.cmd(&["DEBUG", "DIGEST-VALUE", "foo"]).strings(),
        vec!["68467c70ae30376e7ce005bcc8827f5ba7fd67dc".to_string()]
    );
    r.cmd(&["FLUSHALL"]);
    r.cmd(&["MSET", "x", "1", "y", "hello", "z", "3"]);
    r.cmd(&["PEXPIRE", "y", "1000000"]);
    r.cmd(&["SELECT", "1"]);
    r.cmd(&["SET", "other", "db"]);
    r.cmd(&["SET", "big", &"a".repeat(300)]);
    assert_eq!(
        r.cmd(&["DEBUG", "DIGEST"]).as_string(),
        "29fb42ce882c47237b30c4f9e4ed6f11fd406d6e"
    );
}

#[test]
fn debug_digest_value() {
    let s = debug_server();
    let mut r = s.raw();
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["SET", "b", "1"]);
    r.cmd(&["SET", "c", "2"]);
    let reply = r.cmd(&["DEBUG", "DIGEST-VALUE", "a", "b", "c", "nokey"]);
    let d = reply.strings();
    assert_eq!(d.len(), 4);
    assert!(d.iter().all(|x| is_hex40(x)));
    assert_eq!(d[0], d[1], "same value, same digest");
    assert_ne!(d[0], d[2]);
    assert_eq!(d[3], "0".repeat(40));
}

#[test]
fn slowlog_get_len_reset() {
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        Reply::ok()
    );
    assert_eq!(r.cmd(&["SLOWLOG", "RESET"]), Reply::ok());
    r.cmd(&["CLIENT", "SETNAME", "slowpoke"]);
    r.cmd(&["SET", "slowkey", "slowvalue"]);
    let len = r.cmd(&["SLOWLOG", "LEN"]).as_int();
    assert!(len >= 2, "slowlog len {len}");
    let entries = r.cmd(&["SLOWLOG", "GET", "100"]);
    let entries = entries.as_array();
    assert!(!entries.is_empty());
    let set_entry = entries
        .iter()
        .find(|e| {
            let f = e.as_array();
            f[3].strings().first().map(|s| s.as_str()) == Some("SET")
        })
        .expect("SET in slowlog");
    let f = set_entry.as_array();
    assert_eq!(f.len(), 6);
    assert!(f[0].as_int() >= 0);
    assert!((f[1].as_int() - now_secs()).abs() <= 5);
    assert!(f[2].as_int() >= 0);
    assert_eq!(f[3].strings(), vec!["SET", "slowkey", "slowvalue"]);
    assert!(f[4].as_string().starts_with("127.0.0.1:"));
    assert_eq!(f[5].as_string(), "slowpoke");
    // Newest first.
    let ids: Vec<i64> = entries.iter().map(|e| e.as_array()[0].as_int()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    assert_eq!(r.cmd(&["SLOWLOG", "RESET"]), Reply::ok());
    // RESET itself may or may not be logged; at most one entry remains.
    assert!(r.cmd(&["SLOWLOG", "LEN"]).as_int() <= 1);
    assert_eq!(
        r.cmd(&["SLOWLOG", "FOO"]),
        Reply::err("ERR unknown subcommand 'FOO'. Try SLOWLOG HELP.")
    );
}

#[test]
fn slowlog_threshold_default_logs_nothing_fast() {
    let (_s, mut r) = setup();
    r.cmd(&["SLOWLOG", "RESET"]);
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["SLOWLOG", "LEN"]), Reply::int(0));
}

#[test]
fn monitor_sees_other_clients_commands() {
    let (s, mut mon) = setup();
    assert_eq!(mon.cmd(&["MONITOR"]), Reply::ok());
    let mut c = s.raw();
    c.cmd(&["SET", "monkey", "monvalue"]);
    let deadline = std::time::Instant::now() + T;
    loop {
        let line = mon
            .try_read_reply(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("monitor line")
            .as_string();
        if line.contains("\"SET\" \"monkey\" \"monvalue\"") {
            // Format: <secs>.<micros> [<db> <addr>] "arg" ...
            let (ts, rest) = line.split_once(' ').unwrap();
            assert!(ts.contains('.') && ts.split('.').all(|p| p.parse::<u64>().is_ok()));
            assert!(rest.starts_with("[0 127.0.0.1:"), "{line}");
            break;
        }
    }
}

#[test]
fn shutdown_nosave_exits() {
    let mut s = TestServer::start(&[]);
    let mut r = s.raw();
    r.cmd(&["SET", "a", "1"]);
    r.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    // The connection is closed without a reply on success.
    assert!(r.wait_closed(T));
    assert!(
        s.wait_exit(Duration::from_secs(10)).is_some(),
        "process did not exit"
    );
    assert!(std::net::TcpStream::connect(s.addr()).is_err());
}

#[test]
fn info_commandstats_and_errorstats() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SET", "a", "x"]), Reply::ok());
    r.cmd(&["GET", "a"]);
    r.cmd(&["GET", "a"]);
    assert!(r.cmd(&["INCR"]).is_error()); // rejected: arity
    assert!(r.cmd(&["INCR", "a"]).is_error()); // failed: not an integer
    let stats = r.cmd(&["INFO", "commandstats"]).as_string();
    let get = info_field(&stats, "cmdstat_get").expect("cmdstat_get");
    assert!(get.starts_with("calls=2,usec="), "{get}");
    let incr = info_field(&stats, "cmdstat_incr").expect("cmdstat_incr");
    assert!(incr.starts_with("calls=1,"), "{incr}");
    assert!(incr.ends_with("rejected_calls=1,failed_calls=1"), "{incr}");
    let errs = r.cmd(&["INFO", "errorstats"]).as_string();
    assert_eq!(
        info_field(&errs, "errorstat_ERR").as_deref(),
        Some("count=2")
    );
    assert_eq!(r.cmd(&["CONFIG", "RESETSTAT"]), Reply::ok());
    let stats = r.cmd(&["INFO", "commandstats"]).as_string();
    assert!(info_field(&stats, "cmdstat_get").is_none(), "{stats}");
    // The default INFO includes errorstats but not commandstats, as in Redis.
    let all = r.cmd(&["INFO"]).as_string();
    assert!(all.contains("# Errorstats"));
    assert!(!all.contains("# Commandstats"));
    assert!(
        r.cmd(&["INFO", "everything"])
            .as_string()
            .contains("# Commandstats")
    );
}

/// DEBUG is refused unless `enable-debug-command` allows it (stock default `no`), at queue
/// time inside MULTI too; `local` allows clients on 127.0.0.1; the option is immutable.
#[test]
fn debug_needs_enable_debug_command() {
    const REFUSED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";
    let s = TestServer::start(&["--enable-debug-command", "no"]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), Reply::err(REFUSED));
    assert_eq!(r.cmd(&["MULTI"]), Reply::ok());
    assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), Reply::err(REFUSED));
    assert_eq!(
        r.cmd(&["EXEC"]),
        Reply::err("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "enable-debug-command"]).strings(),
        ["enable-debug-command", "no"]
    );
    assert!(
        r.cmd(&["CONFIG", "SET", "enable-debug-command", "yes"])
            .err_text()
            .contains("can't set immutable config")
    );
    let local = TestServer::start(&["--enable-debug-command", "local"]);
    let mut l = local.raw();
    assert!(!l.cmd(&["DEBUG", "DIGEST"]).is_error());
}

/// Once CLIENT PAUSE WRITE has answered, no write runs until the pause ends: not a write
/// that was already on its way (checked the pause just before it was set), and not an
/// EXEC of a transaction holding writes. Writers keep incrementing a counter, plainly and
/// through MULTI/EXEC, while the counter is read twice during each of several pauses.
#[test]
fn no_write_runs_once_client_pause_write_returned() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = TestServer::start(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..6)
        .map(|i| {
            let mut w = s.raw();
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if i % 2 == 0 {
                        assert!(!w.cmd(&["INCR", "n"]).is_error());
                    } else {
                        // The EXEC goes separately, so pauses also start between the
                        // queued write and its EXEC.
                        let mut batch = encode_cmd(&["MULTI"]);
                        batch.extend(encode_cmd(&["INCR", "n"]));
                        w.send(&batch);
                        assert_eq!(w.read_reply(), Reply::ok());
                        assert_eq!(w.read_reply(), Reply::simple("QUEUED"));
                        assert!(!w.cmd(&["EXEC"]).is_error());
                    }
                }
            })
        })
        .collect();
    let mut admin = s.raw();
    let count = |admin: &mut RawConn| -> i64 {
        match admin.cmd(&["GET", "n"]) {
            Reply::Nil => 0,
            r => r.as_string().parse().unwrap(),
        }
    };
    for _ in 0..20 {
        assert_eq!(
            admin.cmd(&["CLIENT", "PAUSE", "10000", "WRITE"]),
            Reply::ok()
        );
        let first = count(&mut admin);
        // Checking that nothing happens takes some waiting.
        std::thread::sleep(Duration::from_millis(30));
        let second = count(&mut admin);
        assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), Reply::ok());
        assert_eq!(first, second, "a write ran during CLIENT PAUSE WRITE");
        assert!(
            poll_until(T, Duration::from_millis(1), || count(&mut admin) > second),
            "writes did not resume after CLIENT UNPAUSE"
        );
    }
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
}

/// While CLIENT PAUSE is on the dataset stays static, as Redis keeps it: a key whose TTL
/// passes is hidden from reads but neither actively nor lazily deleted until the pause
/// ends. Held clients count in INFO blocked_clients.
#[test]
fn client_pause_holds_expiry_and_counts_held_clients() {
    let s = TestServer::start(&["--hz", "100"]);
    let mut admin = s.raw();
    let stat =
        |r: &mut RawConn, f: &str| info_field(&r.cmd(&["INFO"]).as_string(), f).unwrap_or_default();
    assert_eq!(admin.cmd(&["SET", "k", "v", "PX", "50"]), Reply::ok());
    assert_eq!(
        admin.cmd(&["CLIENT", "PAUSE", "20000", "WRITE"]),
        Reply::ok()
    );
    let mut writer = s.raw();
    writer.send_cmd(&["SET", "other", "x"]);
    assert!(poll_until(T, Duration::from_millis(5), || stat(
        &mut admin,
        "blocked_clients"
    ) == "1"));
    // Past the TTL, with the cron running 100 times a second.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(admin.cmd(&["GET", "k"]), Reply::Nil);
    assert_eq!(admin.cmd(&["DBSIZE"]), Reply::int(1));
    assert_eq!(stat(&mut admin, "expired_keys"), "0");
    assert_eq!(admin.cmd(&["CLIENT", "UNPAUSE"]), Reply::ok());
    assert_eq!(writer.read_reply(), Reply::ok());
    assert!(poll_until(T, Duration::from_millis(5), || admin
        .cmd(&["DBSIZE"])
        == Reply::int(1)
        && stat(&mut admin, "expired_keys") == "1"));
    assert_eq!(stat(&mut admin, "blocked_clients"), "0");
}

#[test]
fn memory_reports_what_keys_cost() {
    common::ensure_stock_redis();
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["MEMORY", "USAGE", "nokey"]), Reply::Nil);
    r.cmd(&["SET", "small", "v"]);
    r.cmd(&["SET", "big", &"x".repeat(100_000)]);
    let small = r.cmd(&["MEMORY", "USAGE", "small"]).as_int();
    let big = r.cmd(&["MEMORY", "USAGE", "big", "SAMPLES", "0"]).as_int();
    assert!(small > 0 && small < 200, "{small}");
    assert!((100_000..110_000).contains(&big), "{big}");
    let stock = TestServer::start_stock(&[]);
    let mut s = stock.raw();
    s.cmd(&["SET", "small", "v"]);
    for c in [
        vec!["MEMORY", "USAGE", "small", "SAMPLES"],
        vec!["MEMORY", "USAGE", "small", "SAMPLES", "x"],
        vec!["MEMORY", "USAGE", "small", "SAMPLES", "-1"],
        vec!["MEMORY", "USAGE", "small", "NOPE", "1"],
        vec!["MEMORY", "USAGE"],
        vec!["MEMORY", "NOPE"],
        vec!["MEMORY", "PURGE"],
    ] {
        assert_eq!(r.cmd(&c), s.cmd(&c), "{c:?}");
    }
    let stats = r.cmd(&["MEMORY", "STATS"]);
    let keys = stats.get("keys.count").expect("keys.count").as_int();
    assert_eq!(keys, 2);
    assert!(
        stats
            .get("allocator.allocated")
            .expect("allocated")
            .as_int()
            > 0
    );
    assert!(
        r.cmd(&["MEMORY", "MALLOC-STATS"])
            .as_string()
            .contains("jemalloc")
    );
    assert!(!r.cmd(&["MEMORY", "DOCTOR"]).as_string().is_empty());
    assert!(r.cmd(&["MEMORY", "HELP"]).strings()[0].starts_with("MEMORY <subcommand>"));
}

#[test]
fn client_reply_off_skip_on() {
    let (s, mut r) = setup();
    // OFF: nothing comes back, not even errors, until ON answers +OK.
    r.send_cmd(&["CLIENT", "REPLY", "OFF"]);
    r.send_cmd(&["SET", "a", "1"]);
    r.send_cmd(&["GET", "a"]);
    r.send_cmd(&["NOSUCHCOMMAND"]);
    r.send_cmd(&["CLIENT", "REPLY", "SKIP"]);
    assert_eq!(r.cmd(&["CLIENT", "REPLY", "ON"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "a"]), Reply::bulk("1"));
    // SKIP: only the next command's reply is dropped (SKIP itself answers nothing).
    r.send_cmd(&["CLIENT", "REPLY", "SKIP"]);
    r.send_cmd(&["INCR", "n"]);
    assert_eq!(r.cmd(&["INCR", "n"]), Reply::int(2));
    assert_eq!(
        r.cmd(&["CLIENT", "REPLY", "MAYBE"]).err_text(),
        "ERR syntax error"
    );
    assert_eq!(
        r.cmd(&["CLIENT", "REPLY"]).err_text(),
        "ERR wrong number of arguments for 'client|reply' command"
    );
    // Pub/sub messages are pushes: they arrive even with replies off.
    let mut sub = s.raw();
    sub.cmd(&["HELLO", "3"]);
    sub.send_cmd(&["CLIENT", "REPLY", "OFF"]);
    sub.send_cmd(&["SUBSCRIBE", "ch"]);
    assert_eq!(
        sub.read_reply(),
        Reply::Push(vec![
            Reply::bulk("subscribe"),
            Reply::bulk("ch"),
            Reply::int(1)
        ])
    );
    assert_eq!(r.cmd(&["PUBLISH", "ch", "m"]), Reply::int(1));
    assert_eq!(
        sub.read_reply(),
        Reply::Push(vec![
            Reply::bulk("message"),
            Reply::bulk("ch"),
            Reply::bulk("m")
        ])
    );
    sub.send_cmd(&["GET", "a"]);
    assert_eq!(
        sub.try_read_reply(Duration::from_millis(200)),
        Err(ReadErr::Timeout)
    );
    assert_eq!(sub.cmd(&["CLIENT", "REPLY", "ON"]), Reply::ok());
}

#[test]
fn client_unblock_ends_a_blocking_pop() {
    let (s, mut r) = setup();
    let mut blocked = s.raw();
    let id = blocked.cmd(&["CLIENT", "ID"]).as_int().to_string();
    let blocked_clients = |r: &mut RawConn| {
        info_field(&r.cmd(&["INFO", "clients"]).as_string(), "blocked_clients").unwrap()
    };
    // TIMEOUT (the default): the client gets its timeout reply.
    blocked.send_cmd(&["BLPOP", "list", "0"]);
    assert!(poll_until(
        T,
        Duration::from_millis(10),
        || blocked_clients(&mut r) == "1"
    ));
    assert_eq!(r.cmd(&["CLIENT", "UNBLOCK", &id]), Reply::int(1));
    assert_eq!(blocked.read_reply(), Reply::Nil);
    assert_eq!(blocked_clients(&mut r), "0");
    // ERROR: the client gets -UNBLOCKED.
    blocked.send_cmd(&["BLMOVE", "list", "dst", "LEFT", "RIGHT", "0"]);
    assert!(poll_until(
        T,
        Duration::from_millis(10),
        || blocked_clients(&mut r) == "1"
    ));
    assert_eq!(r.cmd(&["CLIENT", "UNBLOCK", &id, "error"]), Reply::int(1));
    assert_eq!(
        blocked.read_reply().err_text(),
        "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    );
    blocked.send_cmd(&["BZPOPMIN", "z", "0"]);
    assert!(poll_until(
        T,
        Duration::from_millis(10),
        || blocked_clients(&mut r) == "1"
    ));
    assert_eq!(r.cmd(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]), Reply::int(1));
    assert_eq!(blocked.read_reply(), Reply::Nil);
    // The connection goes on normally; a second unblock finds nothing blocked.
    assert_eq!(blocked.cmd(&["PING"]), Reply::simple("PONG"));
    assert_eq!(r.cmd(&["CLIENT", "UNBLOCK", &id]), Reply::int(0));
    assert_eq!(r.cmd(&["CLIENT", "UNBLOCK", "999999"]), Reply::int(0));
    // The list served later goes to nobody that was unblocked.
    assert_eq!(r.cmd(&["RPUSH", "list", "x"]), Reply::int(1));
    assert_eq!(
        r.cmd(&["CLIENT", "UNBLOCK", &id, "nope"]).err_text(),
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
    assert_eq!(
        r.cmd(&["CLIENT", "UNBLOCK", "x"]).err_text(),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        r.cmd(&["CLIENT", "UNBLOCK", "1", "timeout", "more"])
            .err_text(),
        "ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP."
    );
    let errs = r.cmd(&["INFO", "errorstats"]).as_string();
    assert!(errs.contains("errorstat_UNBLOCKED:count=1"), "{errs}");
}

#[test]
fn readonly_readwrite_lolwut_as_stock() {
    let (_s, mut r) = setup();
    for c in ["READONLY", "READWRITE"] {
        assert_eq!(
            r.cmd(&[c]).err_text(),
            "ERR This instance has cluster support disabled"
        );
    }
    // 7.0's own LOLWUT is the version line; VERSION 5 and 6 draw their art.
    assert_eq!(r.cmd(&["LOLWUT"]), Reply::bulk("Redis ver. 7.0.15\n"));
    assert_eq!(
        r.cmd(&["LOLWUT", "VERSION", "7"]),
        Reply::bulk("Redis ver. 7.0.15\n")
    );
    assert_eq!(
        r.cmd(&["LOLWUT", "foo", "bar"]),
        Reply::bulk("Redis ver. 7.0.15\n")
    );
    // One column, one square: a single braille cell, its blank line, the caption.
    assert_eq!(
        r.cmd(&["LOLWUT", "VERSION", "5", "1", "1", "1"]),
        Reply::bulk(
            "\u{280b}\n\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15\n"
        )
    );
    let art = r.cmd(&["LOLWUT", "VERSION", "5"]).as_string();
    let lines: Vec<&str> = art.lines().collect();
    // 66 columns; 8 x 12 squares of 16 pixels and 2 of padding: 196 pixel rows in 49
    // rows of cells, each ended by a newline, then a blank line and the caption.
    assert_eq!(lines.len(), 49 + 2, "{art}");
    assert!(lines[..49].iter().all(|l| l.chars().count() == 66), "{art}");
    assert_eq!(lines[49], "");
    assert_eq!(
        lines[50],
        "Georg Nees - schotter, plotter on paper, 1968. Redis ver. 7.0.15"
    );
    let sky = r.cmd(&["LOLWUT", "VERSION", "6", "10", "3"]).as_string();
    let rows: Vec<&str> = sky.lines().collect();
    assert_eq!(rows.len(), 3 + 2);
    assert_eq!(rows[0].matches("\x1b[0m").count(), 10);
    assert!(rows[4].ends_with("Redis ver. 7.0.15"));
    assert_eq!(
        r.cmd(&["LOLWUT", "VERSION", "x"]).err_text(),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        r.cmd(&["LOLWUT", "VERSION", "5", "z"]).err_text(),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn command_getkeysandflags_as_stock() {
    common::ensure_stock_redis();
    let (_s, mut r) = setup();
    let stock = TestServer::start_stock(&[]);
    let mut s = stock.raw();
    for c in [
        vec!["SET", "a", "b"],
        vec!["SET", "a", "b", "GET"],
        vec!["LMOVE", "a", "b", "LEFT", "RIGHT"],
        vec!["ZUNIONSTORE", "d", "2", "a", "b"],
        vec!["MSET", "a", "1", "b", "2"],
        vec!["EVAL", "return 1", "0"],
        vec!["SORT", "k", "STORE", "d"],
        vec!["SPUBLISH", "ch", "m"],
        vec!["PING"],
        vec!["NOPE"],
        vec!["GET"],
        vec!["ZUNION", "x", "a"],
        vec!["OBJECT", "ENCODING", "k"],
        vec!["CONFIG", "NOPE", "k"],
        vec!["XREAD", "STREAMS", "s", "0"],
    ] {
        let mut req = vec!["COMMAND", "GETKEYSANDFLAGS"];
        req.extend(&c);
        assert_eq!(r.cmd(&req), s.cmd(&req), "{c:?}");
    }
    assert_eq!(
        r.cmd(&[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "LMOVE",
            "a",
            "b",
            "LEFT",
            "RIGHT"
        ]),
        Reply::arr(vec![
            Reply::arr(vec![
                Reply::bulk("a"),
                Reply::arr(vec![
                    Reply::simple("RW"),
                    Reply::simple("access"),
                    Reply::simple("delete")
                ])
            ]),
            Reply::arr(vec![
                Reply::bulk("b"),
                Reply::arr(vec![Reply::simple("RW"), Reply::simple("insert")])
            ]),
        ])
    );
}

#[test]
fn latency_histogram_doctor_graph() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["CONFIG", "RESETSTAT"]), Reply::ok());
    for _ in 0..5 {
        r.cmd(&["SET", "k", "v"]);
    }
    r.cmd(&["CONFIG", "GET", "maxmemory"]);
    // A subcommand by its full name; unknown names are left out.
    let h = r.cmd(&["LATENCY", "HISTOGRAM", "set", "config|get", "nosuch"]);
    let pairs = h.as_pairs();
    let names: Vec<String> = pairs.iter().map(|(k, _)| k.as_string()).collect();
    assert_eq!(names, ["set", "config|get"]);
    let set = &pairs[0].1;
    assert_eq!(set.get("calls"), Some(Reply::int(5)));
    let buckets = set.get("histogram_usec").unwrap().as_pairs();
    // Buckets are stock's: 1, 2, 4, 8, 16, 33, 66, ... microseconds, cumulative.
    let stock_buckets = [
        1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454,
    ];
    let mut last = 0;
    for (usec, count) in &buckets {
        assert!(
            stock_buckets.contains(&usec.as_int()) || usec.as_int() > 8454,
            "{buckets:?}"
        );
        assert!(count.as_int() > last);
        last = count.as_int();
    }
    assert_eq!(last, 5);
    // Without arguments: every command with data; a reset forgets them.
    // A container stands for its subcommands (CONFIG RESETSTAT itself was counted).
    let config = r.cmd(&["LATENCY", "HISTOGRAM", "config"]).as_pairs();
    let mut names: Vec<String> = config.iter().map(|(k, _)| k.as_string()).collect();
    names.sort();
    assert_eq!(names, ["config|get", "config|resetstat"]);
    let all = r.cmd(&["LATENCY", "HISTOGRAM"]);
    assert!(all.as_pairs().len() >= 4, "{all:?}");
    let info = r.cmd(&["INFO", "latencystats"]).as_string();
    assert!(info.starts_with("# Latencystats\r\n"), "{info}");
    let line = info_field(&info, "latency_percentiles_usec_set").unwrap();
    assert!(
        line.starts_with("p50=") && line.contains(",p99=") && line.contains(",p99.9="),
        "{line}"
    );
    assert!(!r.cmd(&["INFO"]).as_string().contains("# Latencystats"));
    assert!(
        r.cmd(&["INFO", "everything"])
            .as_string()
            .contains("# Latencystats\r\n")
    );
    assert_eq!(
        r.cmd(&[
            "CONFIG",
            "SET",
            "latency-tracking-info-percentiles",
            "50 99.99"
        ]),
        Reply::ok()
    );
    let line = info_field(
        &r.cmd(&["INFO", "latencystats"]).as_string(),
        "latency_percentiles_usec_set",
    )
    .unwrap();
    assert!(
        line.starts_with("p50=") && line.contains(",p99.99="),
        "{line}"
    );
    assert!(!line.contains(",p99="), "{line}");
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "latency-tracking", "no"]),
        Reply::ok()
    );
    r.cmd(&["GET", "k"]);
    assert_eq!(r.cmd(&["LATENCY", "HISTOGRAM", "get"]).as_pairs().len(), 0);
    assert_eq!(
        r.cmd(&["INFO", "latencystats"]).as_string(),
        "# Latencystats\r\n"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "latency-tracking", "yes"]),
        Reply::ok()
    );
    assert_eq!(r.cmd(&["CONFIG", "RESETSTAT"]), Reply::ok());
    assert_eq!(r.cmd(&["LATENCY", "HISTOGRAM", "set"]).as_pairs().len(), 0);

    assert_eq!(
        r.cmd(&["LATENCY", "DOCTOR"]).as_string(),
        "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
    );
    assert_eq!(
        r.cmd(&["LATENCY", "GRAPH", "command"]).err_text(),
        "ERR No samples available for event 'command'"
    );
    assert_eq!(
        r.cmd(&["LATENCY", "GRAPH"]).err_text(),
        "ERR wrong number of arguments for 'latency|graph' command"
    );
}

/// CLIENT UNBLOCK ends a WAIT as stock does: with the count of acknowledging replicas
/// (TIMEOUT) or `-UNBLOCKED` (ERROR).
#[test]
fn client_unblock_ends_a_wait() {
    let (s, mut r) = setup();
    let mut waiting = s.raw();
    let id = waiting.cmd(&["CLIENT", "ID"]).as_int().to_string();
    waiting.cmd(&["SET", "k", "v"]);
    let in_wait = |r: &mut RawConn| r.cmd(&["CLIENT", "LIST"]).as_string().contains("cmd=wait");
    for (reason, want) in [
        ("TIMEOUT", Reply::int(0)),
        (
            "ERROR",
            Reply::err("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
        ),
    ] {
        waiting.send_cmd(&["WAIT", "1", "0"]);
        assert!(poll_until(T, Duration::from_millis(10), || in_wait(&mut r)));
        assert_eq!(r.cmd(&["CLIENT", "UNBLOCK", &id, reason]), Reply::int(1));
        assert_eq!(waiting.read_reply(), want, "{reason}");
        assert_eq!(r.cmd(&["CLIENT", "UNBLOCK", &id, reason]), Reply::int(0));
        assert_eq!(waiting.cmd(&["PING"]), Reply::simple("PONG"));
    }
    // CLIENT KILL ends a WAIT without a timeout too.
    waiting.send_cmd(&["WAIT", "1", "0"]);
    assert!(poll_until(T, Duration::from_millis(10), || in_wait(&mut r)));
    assert_eq!(r.cmd(&["CLIENT", "KILL", "ID", &id]), Reply::int(1));
    assert!(waiting.wait_closed(T));
}

/// COMMAND LIST FILTERBY lists what stock lists (our table has no CLUSTER, MODULE or
/// SCRIPT DEBUG, so those are left out of stock's answer), and MONITOR shows a script
/// before its commands (from `lua`), EXEC after the commands it ran, and MIGRATE's
/// credentials redacted, as stock; CLIENT KILL USER names an unknown user.
#[test]
fn command_list_filters_and_monitor_order_match_stock() {
    common::ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let absent =
        |n: &String| n.starts_with("cluster") || n.starts_with("module") || n == "script|debug";
    let sorted = |r: Reply| {
        let mut v = r.strings();
        v.sort();
        v
    };
    let (mut o, mut s) = (ours.raw(), stock.raw());
    for filter in [
        &["aclcat", "scripting"][..],
        &["aclcat", "slow"],
        &["aclcat", "nonexistent"],
        &["pattern", "config*"],
        &["pattern", "x*"],
        &["module", "any"],
    ] {
        let mut args = vec!["COMMAND", "LIST", "FILTERBY"];
        args.extend_from_slice(filter);
        let want: Vec<String> = sorted(s.cmd(&args))
            .into_iter()
            .filter(|n| !absent(n) && n != "client|setinfo")
            .collect();
        let got: Vec<String> = sorted(o.cmd(&args))
            .into_iter()
            .filter(|n| n != "client|setinfo")
            .collect();
        assert_eq!(got, want, "{filter:?}");
    }
    for bad in [
        &["x"][..],
        &["FILTERBY", "bad", "x"],
        &["FILTERBY", "aclcat"],
    ] {
        let mut args = vec!["COMMAND", "LIST"];
        args.extend_from_slice(bad);
        assert_eq!(o.cmd(&args), s.cmd(&args), "{bad:?}");
    }
    assert_eq!(
        o.cmd(&["CLIENT", "KILL", "USER", "nobody"]),
        s.cmd(&["CLIENT", "KILL", "USER", "nobody"])
    );
    // MONITOR: the lines without their timestamp and client address.
    let monitored = |server: &TestServer| {
        let mut m = server.raw();
        assert_eq!(m.cmd(&["MONITOR"]), Reply::ok());
        let mut c = server.raw();
        c.cmd(&["MULTI"]);
        c.cmd(&["SET", "foo", "bar"]);
        c.cmd(&["EXEC"]);
        c.cmd(&[
            "EVAL",
            "return redis.call('set', KEYS[1], ARGV[1])",
            "1",
            "k",
            "v",
        ]);
        c.cmd(&[
            "MIGRATE",
            "127.0.0.1",
            "1",
            "nokey",
            "0",
            "10",
            "AUTH2",
            "u",
            "p",
        ]);
        (0..6)
            .map(|_| {
                let line = m.read_reply().as_string();
                let (_, rest) = line.split_once("] ").expect("monitor line");
                let origin = if line.contains(" lua]") { "lua " } else { "" };
                format!("{origin}{rest}")
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(monitored(&ours), monitored(&stock));
}

/// The latency monitor: off at threshold 0; over it, a slow command is an event with
/// LATEST (time, latency, worst), HISTORY, GRAPH and DOCTOR reading it, RESET forgetting
/// it; unknown events are empty (GRAPH: stock's error).
#[test]
fn latency_monitor_records_slow_commands() {
    let (_s, mut r) = setup();
    r.cmd(&["DEBUG", "SLEEP", "0.15"]);
    assert_eq!(r.cmd(&["LATENCY", "LATEST"]), Reply::Array(vec![]));
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "latency-monitor-threshold", "100"]),
        Reply::ok()
    );
    r.cmd(&["DEBUG", "SLEEP", "0.15"]);
    let latest = r.cmd(&["LATENCY", "LATEST"]);
    let Reply::Array(events) = latest else {
        panic!("LATENCY LATEST: {latest:?}");
    };
    assert_eq!(events.len(), 1);
    let Reply::Array(event) = &events[0] else {
        panic!("{events:?}");
    };
    assert_eq!(event[0], Reply::bulk("command"));
    assert!(
        event[2].as_int() >= 150 && event[3].as_int() >= 150,
        "{event:?}"
    );
    let Reply::Array(history) = r.cmd(&["LATENCY", "HISTORY", "command"]) else {
        panic!("LATENCY HISTORY");
    };
    assert_eq!(history.len(), 1);
    assert!(
        r.cmd(&["LATENCY", "GRAPH", "command"])
            .as_string()
            .starts_with("command - high ")
    );
    assert!(
        r.cmd(&["LATENCY", "DOCTOR"])
            .as_string()
            .contains("1. command: 1 latency spikes")
    );
    assert_eq!(r.cmd(&["LATENCY", "HISTORY", "nope"]), Reply::Array(vec![]));
    assert_eq!(
        r.cmd(&["LATENCY", "GRAPH", "nope"]),
        Reply::err("ERR No samples available for event 'nope'")
    );
    assert_eq!(r.cmd(&["LATENCY", "RESET", "nope"]), Reply::int(0));
    assert_eq!(r.cmd(&["LATENCY", "RESET"]), Reply::int(1));
    assert_eq!(r.cmd(&["LATENCY", "LATEST"]), Reply::Array(vec![]));
}

/// What CLIENT LIST says of buffers follows their use, as Redis: a command is still in
/// the query buffer while it runs (`qbuf=26` for CLIENT LIST itself), an idle client's
/// reply buffer shrinks to 1 KiB (`rbs`) once its peak is forgotten and grows back when
/// replies fill it.
#[test]
fn client_list_buffers_follow_use() {
    let s = debug_server();
    let mut r = s.raw();
    let field = |line: &str, name: &str| -> usize {
        line.split(' ')
            .find_map(|f| f.strip_prefix(&format!("{name}=")).map(str::to_string))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {line}"))
    };
    let me = r.cmd(&["CLIENT", "INFO"]).as_string();
    assert_eq!(field(&me, "qbuf"), 26, "{me}");
    assert_eq!(
        r.cmd(&["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100"]),
        Reply::ok()
    );
    let mut idle = s.raw();
    idle.cmd(&["CLIENT", "SETNAME", "idle"]);
    let rbs = |r: &mut RawConn| {
        let list = r.cmd(&["CLIENT", "LIST"]).as_string();
        let line = list
            .lines()
            .find(|l| l.contains("name=idle"))
            .unwrap()
            .to_string();
        field(&line, "rbs")
    };
    assert!(
        poll_until(Duration::from_secs(5), Duration::from_millis(50), || rbs(
            &mut r
        )
            == 1024),
        "idle reply buffer did not shrink: rbs={}",
        rbs(&mut r)
    );
    r.cmd(&["SET", "big", &"x".repeat(32 * 1024)]);
    assert_eq!(
        r.cmd(&["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "never"]),
        Reply::ok()
    );
    assert!(
        poll_until(Duration::from_secs(5), Duration::from_millis(20), || {
            idle.cmd(&["GET", "big"]);
            rbs(&mut r) == 16 * 1024
        }),
        "busy reply buffer did not grow: rbs={}",
        rbs(&mut r)
    );
    r.cmd(&["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "reset"]);
    assert_eq!(
        r.cmd(&["DEBUG", "REPLYBUFFER", "SIZE", "1"]).err_text(),
        "ERR unknown subcommand or wrong number of arguments for 'REPLYBUFFER'. Try DEBUG HELP."
    );
}

/// The slow log holds what ran: a transaction's commands (not EXEC), a blocked command
/// when it is served, and it outlives CONFIG RESETSTAT.
#[test]
fn slowlog_logs_what_ran() {
    let (s, mut r) = setup();
    r.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    r.cmd(&["SLOWLOG", "RESET"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "k", "v"]);
    r.cmd(&["EXEC"]);
    let last_args = |r: &mut RawConn| {
        let entries = r.cmd(&["SLOWLOG", "GET", "1"]);
        entries.as_array()[0].as_array()[3].strings()
    };
    assert_eq!(last_args(&mut r), ["SET", "k", "v"]);
    let mut blocked = s.raw();
    blocked.send_cmd(&["BLPOP", "l", "0"]);
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || {
            info_field(&r.cmd(&["INFO", "clients"]).as_string(), "blocked_clients").as_deref()
                == Some("1")
        }
    ));
    r.cmd(&["MULTI"]);
    r.cmd(&["LPUSH", "l", "x"]);
    r.cmd(&["SLOWLOG", "RESET"]);
    r.cmd(&["EXEC"]);
    assert_eq!(blocked.read_reply(), Reply::bulks(&["l", "x"]));
    assert_eq!(last_args(&mut r), ["BLPOP", "l", "0"]);
    r.cmd(&["CONFIG", "RESETSTAT"]);
    assert!(
        r.cmd(&["SLOWLOG", "LEN"]).as_int() > 0,
        "RESETSTAT cleared the slow log"
    );
}
