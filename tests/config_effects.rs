//! Settings that change behaviour do so as in Redis 7.0: protected configs,
//! stop-writes-on-bgsave-error, rdbcompression / rdbchecksum, lazy freeing,
//! shutdown-on-sigterm. Each test runs against stock too (`FC_SERVER_BIN`).

mod common;

use common::*;
use std::time::Duration;

fn protected_error(param: &str) -> String {
    format!(
        "ERR CONFIG SET failed (possibly related to argument '{param}') - can't set protected config"
    )
}

#[test]
fn config_set_dir_and_dbfilename_cannot_plant_a_file() {
    // The classic attack: point the RDB file at a directory of the attacker's choosing
    // and SAVE a payload there.
    let (s, mut r) = setup();
    let target = make_temp_dir();
    let e = r.cmd(&["CONFIG", "SET", "dir", target.to_str().unwrap()]);
    assert_eq!(e, Reply::err(&protected_error("dir")));
    let e = r.cmd(&["CONFIG", "SET", "dbfilename", "authorized_keys"]);
    assert_eq!(e, Reply::err(&protected_error("dbfilename")));
    // Nothing of a multi-pair CONFIG SET applies when one pair is refused.
    let e = r.cmd(&["CONFIG", "SET", "maxmemory", "1mb", "dbfilename", "x.rdb"]);
    assert_eq!(e, Reply::err(&protected_error("dbfilename")));
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "maxmemory"]).as_array()[1],
        Reply::bulk("0")
    );
    assert_eq!(
        r.cmd(&["SET", "payload", "ssh-rsa AAAA attacker"]),
        Reply::ok()
    );
    assert_eq!(r.cmd(&["SAVE"]), Reply::ok());
    assert!(std::fs::read_dir(&target).unwrap().next().is_none());
    assert!(s.dir().join("dump.rdb").exists());
    // The switch itself is startup-only.
    let e = r.cmd(&["CONFIG", "SET", "enable-protected-configs", "yes"]);
    assert_eq!(
        e,
        Reply::err(
            "ERR CONFIG SET failed (possibly related to argument 'enable-protected-configs') - can't set immutable config"
        )
    );
}

#[test]
fn enable_protected_configs_yes_and_local() {
    let s = TestServer::start(&["--enable-protected-configs", "yes"]);
    let mut r = s.raw();
    let other = make_temp_dir();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "dir", other.to_str().unwrap()]),
        Reply::ok()
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "dbfilename", "y.rdb"]),
        Reply::ok()
    );
    drop(r);
    drop(s);

    // (protected-mode off: it would refuse the non-local connection outright.)
    let s = TestServer::start(&[
        "--enable-protected-configs",
        "local",
        "--protected-mode",
        "no",
    ]);
    let mut local = s.raw();
    assert_eq!(
        local.cmd(&["CONFIG", "SET", "dbfilename", "z.rdb"]),
        Reply::ok()
    );
    // From another loopback address the client is not "local" (only 127.0.0.1 and ::1
    // are, as in Redis).
    let mut remote = connect_from("127.0.0.2", &s);
    assert_eq!(
        remote.cmd(&["CONFIG", "SET", "dbfilename", "w.rdb"]),
        Reply::err(&protected_error("dbfilename"))
    );
}

/// A connection to `s` from the loopback address `source`.
fn connect_from(source: &str, s: &TestServer) -> RawConn {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(
        &format!("{source}:0")
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    sock.connect(&s.addr().parse::<std::net::SocketAddr>().unwrap().into())
        .unwrap();
    RawConn::from_stream(sock.into())
}

#[test]
fn protected_mode_counts_only_127_0_0_1_as_local() {
    let s = TestServer::start(&["--protected-mode", "yes"]);
    let mut other = connect_from("127.0.0.2", &s);
    let e = other.read_reply();
    assert!(
        e.err_text()
            .starts_with("DENIED Redis is running in protected mode"),
        "{e:?}"
    );
    assert_eq!(
        connect_from("127.0.0.1", &s).cmd(&["PING"]),
        Reply::simple("PONG")
    );
}

#[test]
fn config_set_refuses_what_stock_refuses() {
    // Every parameter stock 7.0 reports, set to its current value: wherever stock says
    // immutable or protected we must say the same. We are stricter only where a change
    // needs a restart here (TLS listeners and files are set up at startup).
    let restart_only = [
        "tls-port",
        "tls-auth-clients",
        "tls-ca-cert-dir",
        "tls-ca-cert-file",
        "tls-cert-file",
        "tls-client-cert-file",
        "tls-client-key-file",
        "tls-cluster",
        "tls-key-file",
        "tls-protocols",
        "tls-replication",
    ];
    if is_stock_redis() {
        return;
    }
    let stock = TestServer::start_stock(&[]);
    let ours = TestServer::start(&[]);
    let (mut rs, mut ro) = (stock.raw(), ours.raw());
    let all = rs.cmd(&["CONFIG", "GET", "*"]).as_pairs();
    assert!(all.len() > 150, "{}", all.len());
    let class = |r: Reply| -> String {
        match r {
            Reply::Simple(s) if s == "OK" => "ok".into(),
            r if r.err_text().contains("immutable") => "immutable".into(),
            r if r.err_text().contains("protected") => "protected".into(),
            r => format!("{r:?}"),
        }
    };
    let mut differ = Vec::new();
    for (k, v) in all {
        let (k, v) = (k.as_string(), v.as_string());
        if k == "port" {
            // Stock's own port is taken here; config_set_port_and_bind_move_the_listener.
            continue;
        }
        let theirs = class(rs.cmd(&["CONFIG", "SET", &k, &v]));
        let mine = class(ro.cmd(&["CONFIG", "SET", &k, &v]));
        let allowed = restart_only.contains(&k.as_str()) && theirs == "ok" && mine == "immutable";
        if theirs != mine && !allowed {
            differ.push(format!("{k} {v:?}: stock {theirs}, ours {mine}"));
        }
    }
    assert!(differ.is_empty(), "{differ:#?}");
}

/// Makes the next save fail: the RDB file's name is taken by a directory.
fn block_rdb_file(s: &TestServer) {
    std::fs::create_dir_all(s.dir().join("dump.rdb").join("x")).unwrap();
}

fn bgsave_and_wait(r: &mut RawConn) -> bool {
    let reply = r.cmd(&["BGSAVE"]);
    assert!(!reply.is_error(), "{reply:?}");
    // In progress from the reply on (stock forks before replying; we install the
    // snapshot before replying).
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            let info = r.cmd(&["INFO", "persistence"]).as_string();
            info_field(&info, "rdb_bgsave_in_progress").as_deref() == Some("0")
        }
    ));
    let info = r.cmd(&["INFO", "persistence"]).as_string();
    info_field(&info, "rdb_last_bgsave_status").as_deref() == Some("ok")
}

#[test]
fn failed_background_save_stops_writes_with_misconf() {
    let s = TestServer::start(&["--save", "3600 1"]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "k", "v"]), Reply::ok());
    block_rdb_file(&s);
    assert!(!bgsave_and_wait(&mut r), "the save must fail");
    let e = r.cmd(&["SET", "k", "v2"]);
    assert!(
        e.err_text()
            .starts_with("MISCONF Redis is configured to save RDB snapshots"),
        "{e:?}"
    );
    let e = r.cmd(&["PING"]);
    assert!(e.err_text().starts_with("MISCONF"), "{e:?}");
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v"), "reads still served");
    // Inside MULTI the write is refused at queue time and EXEC aborts.
    assert_eq!(r.cmd(&["MULTI"]), Reply::ok());
    assert!(r.cmd(&["INCR", "n"]).err_text().starts_with("MISCONF"));
    assert!(r.cmd(&["EXEC"]).err_text().starts_with("EXECABORT"));
    // Switched off, writes go through despite the failed save.
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]),
        Reply::ok()
    );
    assert_eq!(r.cmd(&["SET", "k", "v3"]), Reply::ok());
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"]),
        Reply::ok()
    );
    assert!(r.cmd(&["SET", "k", "v4"]).err_text().starts_with("MISCONF"));
    // A successful save lifts it.
    std::fs::remove_dir_all(s.dir().join("dump.rdb")).unwrap();
    assert!(bgsave_and_wait(&mut r));
    assert_eq!(r.cmd(&["SET", "k", "v5"]), Reply::ok());
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
}

#[test]
fn without_save_points_a_failed_save_does_not_stop_writes() {
    let (s, mut r) = setup();
    block_rdb_file(&s);
    assert!(!bgsave_and_wait(&mut r));
    assert_eq!(r.cmd(&["SET", "k", "v"]), Reply::ok());
}

/// SAVEs a long, compressible value and returns the RDB file's bytes.
fn saved_file(extra: &[&str]) -> Vec<u8> {
    let s = TestServer::start(extra);
    let mut r = s.raw();
    let long = "a".repeat(2000);
    assert_eq!(r.cmd(&["SET", "long", &long]), Reply::ok());
    assert_eq!(r.cmd(&["SAVE"]), Reply::ok());
    let bytes = std::fs::read(s.dir().join("dump.rdb")).unwrap();
    // The file loads back (a zero checksum means "not computed").
    let dir = make_temp_dir();
    std::fs::write(dir.join("dump.rdb"), &bytes).unwrap();
    let again = TestServer::start(&["--dir", dir.to_str().unwrap()]);
    assert_eq!(again.raw().cmd(&["STRLEN", "long"]), Reply::int(2000));
    bytes
}

#[test]
fn rdbcompression_and_rdbchecksum_change_what_save_writes() {
    let run = "a".repeat(2000);
    let contains_run = |b: &[u8]| b.windows(run.len()).any(|w| w == run.as_bytes());
    let trailer = |b: &[u8]| u64::from_le_bytes(b[b.len() - 8..].try_into().unwrap());

    let default = saved_file(&[]);
    assert!(!contains_run(&default), "compressed by default");
    assert_ne!(trailer(&default), 0, "checksummed by default");

    let plain = saved_file(&["--rdbcompression", "no", "--rdbchecksum", "no"]);
    assert!(
        contains_run(&plain),
        "rdbcompression no stores the string as is"
    );
    assert_eq!(trailer(&plain), 0, "rdbchecksum no writes a zero checksum");
    assert!(plain.len() > default.len());
}

fn lazyfreed(r: &mut RawConn) -> u64 {
    let info = r.cmd(&["INFO", "memory"]).as_string();
    info_field(&info, "lazyfreed_objects")
        .unwrap()
        .parse()
        .unwrap()
}

/// A hash of `fields` fields (more than 64 elements is what Redis frees lazily).
fn big_hash(r: &mut RawConn, key: &str, fields: usize) {
    let mut args = vec!["HSET".to_string(), key.to_string()];
    for i in 0..fields {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    assert_eq!(r.cmd(&args), Reply::int(fields as i64));
}

fn wait_lazyfreed(r: &mut RawConn, n: u64) {
    assert!(
        poll_until(
            Duration::from_secs(5),
            Duration::from_millis(10),
            || lazyfreed(r) == n
        ),
        "lazyfreed_objects {} != {n}",
        lazyfreed(r)
    );
}

#[test]
fn lazyfree_settings_free_large_values_in_the_background() {
    let (_s, mut r) = setup();
    big_hash(&mut r, "h1", 1000);
    assert_eq!(r.cmd(&["DEL", "h1"]), Reply::int(1));
    assert_eq!(lazyfreed(&mut r), 0, "DEL frees inline by default");
    big_hash(&mut r, "h2", 1000);
    assert_eq!(r.cmd(&["UNLINK", "h2"]), Reply::int(1));
    wait_lazyfreed(&mut r, 1);
    // Small values are not worth a hand-over.
    big_hash(&mut r, "small", 10);
    assert_eq!(r.cmd(&["UNLINK", "small"]), Reply::int(1));
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "lazyfree-lazy-user-del", "yes"]),
        Reply::ok()
    );
    big_hash(&mut r, "h3", 1000);
    assert_eq!(r.cmd(&["DEL", "h3"]), Reply::int(1));
    wait_lazyfreed(&mut r, 2);
    // Overwriting a large value is a server-side delete.
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "lazyfree-lazy-server-del", "yes"]),
        Reply::ok()
    );
    big_hash(&mut r, "h4", 1000);
    assert_eq!(r.cmd(&["SET", "h4", "now a string"]), Reply::ok());
    wait_lazyfreed(&mut r, 3);
    // FLUSHALL ASYNC frees every key in the background; SYNC none.
    for i in 0..10 {
        assert_eq!(r.cmd(&["SET", &format!("k{i}"), "v"]), Reply::ok());
    }
    assert_eq!(r.cmd(&["FLUSHALL", "SYNC"]), Reply::ok());
    assert_eq!(lazyfreed(&mut r), 3);
    for i in 0..10 {
        assert_eq!(r.cmd(&["SET", &format!("k{i}"), "v"]), Reply::ok());
    }
    assert_eq!(r.cmd(&["FLUSHALL", "ASYNC"]), Reply::ok());
    wait_lazyfreed(&mut r, 13);
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
    // And lazyfree-lazy-user-flush makes a plain FLUSHDB asynchronous.
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "lazyfree-lazy-user-flush", "yes"]),
        Reply::ok()
    );
    assert_eq!(r.cmd(&["SET", "k", "v"]), Reply::ok());
    assert_eq!(r.cmd(&["FLUSHDB"]), Reply::ok());
    wait_lazyfreed(&mut r, 14);
}

#[test]
fn shutdown_on_sigterm_decides_whether_to_save() {
    for (args, saved) in [
        (vec!["--shutdown-on-sigterm", "save"], true),
        (
            vec!["--save", "3600 1", "--shutdown-on-sigterm", "nosave"],
            false,
        ),
        (vec!["--save", "3600 1"], true),
    ] {
        let mut s = TestServer::start(&args);
        assert_eq!(s.raw().cmd(&["SET", "k", "v"]), Reply::ok());
        // SAFETY: signalling the server this test started.
        unsafe {
            libc::kill(s.pid().unwrap() as i32, libc::SIGTERM);
        }
        assert!(s.wait_exit(Duration::from_secs(10)).is_some(), "{args:?}");
        assert_eq!(s.dir().join("dump.rdb").exists(), saved, "{args:?}");
    }
}

#[test]
fn config_set_port_and_bind_move_the_listener() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let new_port = free_port();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "port", &new_port.to_string()]),
        Reply::ok()
    );
    // The connection that asked stays open; new ones go to the new port only.
    assert_eq!(r.cmd(&["PING"]), Reply::simple("PONG"));
    let mut moved = RawConn::connect(&format!("127.0.0.1:{new_port}"));
    assert_eq!(
        moved.cmd(&["CONFIG", "GET", "port"]).as_array()[1],
        Reply::bulk(new_port.to_string())
    );
    assert!(
        std::net::TcpStream::connect(s.addr()).is_err(),
        "old port closed"
    );
    // A port someone else holds is refused and the server keeps listening where it was.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let e = moved.cmd(&["CONFIG", "SET", "port", &taken_port]);
    assert_eq!(
        e,
        Reply::err(
            "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs."
        )
    );
    let mut again = RawConn::connect(&format!("127.0.0.1:{new_port}"));
    assert_eq!(
        again.cmd(&["CONFIG", "GET", "port"]).as_array()[1],
        Reply::bulk(new_port.to_string())
    );
    // bind: an address we cannot have is refused the same way; a good one is taken.
    let e = again.cmd(&["CONFIG", "SET", "bind", "192.0.2.1"]);
    assert_eq!(
        e,
        Reply::err(
            "ERR CONFIG SET failed (possibly related to argument 'bind') - Failed to bind to specified addresses."
        )
    );
    assert_eq!(
        again.cmd(&["CONFIG", "SET", "bind", "127.0.0.1 -::1"]),
        Reply::ok()
    );
    assert_eq!(
        RawConn::connect(&format!("127.0.0.1:{new_port}")).cmd(&["PING"]),
        Reply::simple("PONG")
    );
}

/// Redis's hidden test knobs answer their own name but no pattern; a percentage over 100
/// gets stock's text.
#[test]
fn hidden_parameters_and_percent_limits() {
    let (_s, mut r) = setup();
    let all = r.cmd(&["CONFIG", "GET", "*"]).strings();
    assert!(
        !all.iter().any(|k| k == "key-load-delay"),
        "hidden from patterns"
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "key-load-delay"]).strings(),
        ["key-load-delay", "0"]
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "maxmemory-clients", "200%"])
            .err_text(),
        "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100"
    );
}
