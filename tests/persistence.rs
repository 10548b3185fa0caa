//! Background snapshots: BGSAVE is a point-in-time copy while writes go on (design
//! invariant 4), save points trigger it, and the file reloads to exactly that state.
//! ferrocache-specific where noted: the snapshot mechanism is ours (no fork).

mod common;

use common::*;
use std::time::Duration;

fn persistence_field(r: &mut RawConn, name: &str) -> String {
    let info = r.cmd(&["INFO", "persistence"]).as_string();
    info_field(&info, name).unwrap_or_default()
}

fn load(r: &mut RawConn, db: usize, prefix: &str, n: usize) {
    let mut pipe = encode_cmd(&["SELECT", &db.to_string()]);
    for i in 0..n {
        pipe.extend(encode_cmd(&[
            "SET",
            &format!("{prefix}:{i}"),
            &format!("value-{i}"),
        ]));
    }
    r.send(&pipe);
    for _ in 0..=n {
        assert_eq!(r.read_reply(), Reply::ok());
    }
}

#[test]
fn bgsave_is_a_point_in_time_copy_while_writes_continue() {
    // ferrocache-specific knob of Redis's name: slow the save so the writes below are
    // certain to land while it runs.
    let mut s = TestServer::start(&["--rdb-key-save-delay", "60"]);
    let mut a = s.raw();
    load(&mut a, 0, "key", 30_000);
    load(&mut a, 1, "one", 1000);
    load(&mut a, 2, "two", 1000);
    // A database no write below touches, saved after the ones they do: the save still
    // runs (about 0.5 s more) when the last write has been answered. Without it the
    // writes ended within a few ms of the save and the overlap check below was a race.
    load(&mut a, 9, "tail", 8000);
    assert_eq!(a.cmd(&["SELECT", "0"]), Reply::ok());
    assert_eq!(a.cmd(&["EXPIRE", "key:7", "5000"]), Reply::int(1));
    let digest_at_bgsave = a.cmd(&["DEBUG", "DIGEST"]);

    assert_eq!(
        a.cmd(&["BGSAVE"]),
        Reply::simple("Background saving started")
    );
    // Change the data under the running snapshot: overwrite, delete, create, modify in
    // place, expire, flush a database and swap two others.
    let mut b = s.raw();
    let mut pipe = Vec::new();
    let mut replies = 0;
    for i in (0..30_000).step_by(20) {
        pipe.extend(encode_cmd(&["SET", &format!("key:{i}"), "changed"]));
        pipe.extend(encode_cmd(&["DEL", &format!("key:{}", i + 1)]));
        pipe.extend(encode_cmd(&["APPEND", &format!("key:{}", i + 2), "+more"]));
        pipe.extend(encode_cmd(&["SET", &format!("new:{i}"), "n"]));
        replies += 4;
    }
    pipe.extend(encode_cmd(&["PERSIST", "key:7"]));
    pipe.extend(encode_cmd(&["SELECT", "1"]));
    pipe.extend(encode_cmd(&["FLUSHDB"]));
    pipe.extend(encode_cmd(&["SWAPDB", "2", "3"]));
    replies += 4;
    b.send(&pipe);
    // With the save slowed to 60 us per key, every write that meets a shard the save has
    // not reached yet waits for it: the pipeline takes seconds, and the first replies
    // leave only when the first batch is done (measured about 4.5 s on 2 busy cores).
    for _ in 0..replies {
        let r = b.try_read_reply(Duration::from_secs(60)).expect("reply");
        assert!(!r.is_error());
    }
    let overlapped = persistence_field(&mut a, "rdb_bgsave_in_progress") == "1";
    assert!(
        poll_until(Duration::from_secs(60), Duration::from_millis(20), || {
            persistence_field(&mut a, "rdb_bgsave_in_progress") == "0"
        }),
        "background save did not finish"
    );
    assert_eq!(persistence_field(&mut a, "rdb_last_bgsave_status"), "ok");
    assert_ne!(
        a.cmd(&["DEBUG", "DIGEST"]),
        digest_at_bgsave,
        "the data did change"
    );
    let dir = s.dir().display().to_string();
    a.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(s.wait_exit(Duration::from_secs(10)).is_some());

    // The file holds exactly the state at BGSAVE time.
    let s2 = TestServer::start(&["--dir", &dir]);
    let mut c = s2.raw();
    assert_eq!(c.cmd(&["DEBUG", "DIGEST"]), digest_at_bgsave);
    assert_eq!(c.cmd(&["GET", "key:0"]), Reply::bulk("value-0"));
    assert!(c.cmd(&["TTL", "key:7"]).as_int() > 4000);
    assert_eq!(c.cmd(&["SELECT", "2"]), Reply::ok());
    assert_eq!(c.cmd(&["DBSIZE"]), Reply::int(1000));
    assert!(
        overlapped,
        "the writes were meant to run while the snapshot was in progress"
    );
}

#[test]
fn save_points_trigger_a_background_save() {
    let mut s = TestServer::start(&["--save", "1 1"]);
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "k", "v"]), Reply::ok());
    assert!(
        poll_until(Duration::from_secs(10), Duration::from_millis(50), || {
            persistence_field(&mut r, "rdb_saves") != "0"
        }),
        "no save after the save point was reached"
    );
    assert_eq!(
        persistence_field(&mut r, "rdb_changes_since_last_save"),
        "0"
    );
    assert!(s.dir().join("dump.rdb").exists());
    r.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(s.wait_exit(Duration::from_secs(10)).is_some());
}

#[test]
fn bgsave_errors_and_schedule() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["BGSAVE", "NOW"]), Reply::err("ERR syntax error"));
    let first = r.cmd(&["BGSAVE"]);
    assert_eq!(first, Reply::simple("Background saving started"));
    // A second one either finds the first still running or starts anew.
    let second = r.cmd(&["BGSAVE", "SCHEDULE"]);
    assert!(
        second == Reply::simple("Background saving scheduled")
            || second == Reply::simple("Background saving started"),
        "{second:?}"
    );
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            persistence_field(&mut r, "rdb_bgsave_in_progress") == "0"
                && persistence_field(&mut r, "rdb_saves") != "0"
        }
    ));
}

/// The AOF: turned on at runtime it writes a base of the dataset and then every write;
/// DEBUG LOADAOF, a restart after kill -9 (`appendfsync always`) and stock redis-server
/// started on the directory all give back the same dataset; BGREWRITEAOF moves to a
/// new base and incremental file, and ours loads what stock appended.
#[test]
fn append_only_file_round_trips() {
    if is_stock_redis() {
        return;
    }
    let s = TestServer::start(&["--enable-debug-command", "yes", "--appendfsync", "always"]);
    let mut r = s.raw();
    r.cmd(&["SET", "before", "1"]);
    assert_eq!(r.cmd(&["CONFIG", "SET", "appendonly", "yes"]), Reply::ok());
    wait_aof_rewrite(&mut r);
    assert_eq!(persistence_field(&mut r, "aof_enabled"), "1");
    r.cmd(&["SELECT", "3"]);
    r.cmd(&["RPUSH", "list", "a", "b", "c"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["INCR", "n"]);
    r.cmd(&["HSET", "h", "f", "v"]);
    r.cmd(&["EXEC"]);
    r.cmd(&["SET", "ttl", "v", "EX", "1000"]);
    r.cmd(&["XADD", "s", "1-1", "f", "v"]);
    r.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
    r.cmd(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    // An approximate trim with LIMIT is written with its exact outcome and replayed so.
    r.cmd(&["CONFIG", "SET", "stream-node-max-entries", "10"]);
    for _ in 0..100 {
        r.cmd(&["XADD", "trimmed", "*", "f", "v"]);
    }
    r.cmd(&[
        "XADD", "trimmed", "MAXLEN", "~", "55", "LIMIT", "30", "*", "f", "v",
    ]);
    assert_eq!(r.cmd(&["XLEN", "trimmed"]), Reply::int(71));
    r.cmd(&["CONFIG", "SET", "stream-node-max-entries", "1"]);
    r.cmd(&["SELECT", "0"]);
    let digest = r.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(r.cmd(&["DEBUG", "LOADAOF"]), Reply::ok());
    assert_eq!(
        r.cmd(&["DEBUG", "DIGEST"]),
        digest,
        "DEBUG LOADAOF changed the data"
    );
    // kill -9, then a restart that loads the AOF (not an RDB file).
    let dir = s.dir().display().to_string();
    let mut s = s;
    let pid = s.pid().expect("pid").to_string();
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(s.wait_exit(Duration::from_secs(10)).is_some());
    let s2 = TestServer::start(&[
        "--dir",
        &dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--enable-debug-command",
        "yes",
    ]);
    let mut r2 = s2.raw();
    assert_eq!(r2.cmd(&["DEBUG", "DIGEST"]), digest, "restart from the AOF");
    assert_eq!(
        r2.cmd(&["BGREWRITEAOF"]).as_string(),
        "Background append only file rewriting started"
    );
    wait_aof_rewrite(&mut r2);
    r2.cmd(&["SET", "after-rewrite", "x"]);
    let digest2 = r2.cmd(&["DEBUG", "DIGEST"]);
    let manifest = std::fs::read_to_string(
        std::path::Path::new(&dir).join("appendonlydir/appendonly.aof.manifest"),
    )
    .unwrap();
    assert!(
        manifest.contains("appendonly.aof.2.base.rdb seq 2 type b"),
        "{manifest}"
    );
    assert!(
        manifest.contains("appendonly.aof.2.incr.aof seq 2 type i"),
        "{manifest}"
    );
    r2.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    let mut s2 = s2;
    drop(r);
    assert!(s2.wait_exit(Duration::from_secs(10)).is_some());
    // Stock Redis loads our files, appends, and we load what it wrote.
    let stock = TestServer::start_stock(&[
        "--dir",
        &dir,
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ]);
    let mut st = stock.raw();
    assert_eq!(
        st.cmd(&["DEBUG", "DIGEST"]),
        digest2,
        "stock loading our AOF"
    );
    st.cmd(&["SET", "from-stock", "1"]);
    let digest3 = st.cmd(&["DEBUG", "DIGEST"]);
    st.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    let mut stock = stock;
    assert!(stock.wait_exit(Duration::from_secs(10)).is_some());
    let s3 = TestServer::start(&[
        "--dir",
        &dir,
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ]);
    assert_eq!(
        s3.raw().cmd(&["DEBUG", "DIGEST"]),
        digest3,
        "ours loading stock's AOF"
    );
}

/// Waits for a background AOF rewrite (or the one `appendonly yes` starts) to end.
fn wait_aof_rewrite(r: &mut RawConn) {
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            persistence_field(r, "aof_rewrite_in_progress") == "0"
                && persistence_field(r, "aof_rewrite_scheduled") == "0"
        }
    ));
}

/// What a stream's metadata and pending entries say, leaving out the times a reload
/// cannot keep (idle times; stock's rewrite drops them too).
fn stream_state(r: &mut RawConn, key: &str) -> (Reply, Reply) {
    let info = r.cmd(&["XINFO", "STREAM", key]);
    let pending = r.cmd(&["XPENDING", key, "g", "-", "+", "100"]);
    let pending: Vec<Reply> = pending
        .as_array()
        .iter()
        .map(|p| {
            let p = p.as_array();
            Reply::Array(vec![p[0].clone(), p[1].clone(), p[3].clone()])
        })
        .collect();
    // How entries sit in radix-tree nodes depends on how they were added, not on the data.
    let info: Vec<Reply> = info
        .as_array()
        .chunks(2)
        .filter(|kv| !kv[0].as_string().starts_with("radix-tree"))
        .flatten()
        .cloned()
        .collect();
    (Reply::Array(info), Reply::Array(pending))
}

/// `aof-use-rdb-preamble no`: the AOF base is written as commands (every type, TTLs,
/// several databases, stream groups with pending entries and idle consumers, function
/// libraries), and that base gives the same dataset to DEBUG LOADAOF, to a restart, and
/// to stock redis-server; ours loads a command base stock wrote.
#[test]
fn append_only_file_base_as_commands() {
    if is_stock_redis() {
        return;
    }
    let s = TestServer::start(&[
        "--enable-debug-command",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
    ]);
    let mut r = s.raw();
    r.cmd(&["SET", "str", "hello"]);
    r.cmd(&["SET", "int", "12345"]);
    let items: Vec<String> = (0..70).map(|i| format!("item{i}")).collect();
    let mut rpush = vec!["RPUSH", "list"];
    rpush.extend(items.iter().map(String::as_str));
    r.cmd(&rpush);
    r.cmd(&["SADD", "set", "a", "b", "3"]);
    r.cmd(&["ZADD", "z", "1.5", "a", "inf", "b", "-3", "c", "0.1", "d"]);
    r.cmd(&["HSET", "h", "f1", "v1", "f2", "v2"]);
    r.cmd(&["SET", "ttl", "v", "EX", "1000"]);
    for i in 1..=5 {
        r.cmd(&["XADD", "s", &format!("{i}-1"), "f", &i.to_string()]);
    }
    r.cmd(&["XDEL", "s", "5-1"]);
    r.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
    r.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "2",
        "STREAMS",
        "s",
        ">",
    ]);
    r.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    r.cmd(&["XGROUP", "CREATECONSUMER", "s", "g", "idle"]);
    r.cmd(&["XADD", "empty", "MAXLEN", "0", "*", "f", "v"]);
    r.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
    ]);
    r.cmd(&["SELECT", "3"]);
    r.cmd(&["SET", "in3", "x"]);
    r.cmd(&["SELECT", "0"]);
    let digest = r.cmd(&["DEBUG", "DIGEST"]);
    let stream = stream_state(&mut r, "s");
    assert_eq!(r.cmd(&["CONFIG", "SET", "appendonly", "yes"]), Reply::ok());
    wait_aof_rewrite(&mut r);
    let dir = s.dir().join("appendonlydir");
    let manifest = std::fs::read_to_string(dir.join("appendonly.aof.manifest")).unwrap();
    assert!(
        manifest.contains("appendonly.aof.1.base.aof seq 1 type b"),
        "{manifest}"
    );
    let base = std::fs::read_to_string(dir.join("appendonly.aof.1.base.aof")).unwrap();
    assert!(
        base.starts_with("*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n"),
        "{base}"
    );
    for part in [
        "XCLAIM",
        "CREATECONSUMER",
        "XSETID",
        "PEXPIREAT",
        "$6\r\nSELECT\r\n$1\r\n3",
    ] {
        assert!(base.contains(part), "no {part} in the base:\n{base}");
    }
    assert_eq!(r.cmd(&["DEBUG", "LOADAOF"]), Reply::ok());
    assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), digest, "DEBUG LOADAOF");
    assert_eq!(stream_state(&mut r, "s"), stream);
    assert_eq!(r.cmd(&["FCALL", "f", "0"]), Reply::int(1));
    assert!(r.cmd(&["TTL", "ttl"]).as_int() > 900);
    r.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    let dir_s = s.dir().display().to_string();
    let mut s = s;
    assert!(s.wait_exit(Duration::from_secs(10)).is_some());
    let restart = |stock: bool| {
        let args = [
            "--dir",
            &dir_s,
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            "no",
            "--enable-debug-command",
            "yes",
        ];
        if stock {
            TestServer::start_stock(&args)
        } else {
            TestServer::start(&args)
        }
    };
    // Stock loads our command base, and writes one of its own that ours loads.
    let stock = restart(true);
    let mut st = stock.raw();
    assert_eq!(
        st.cmd(&["DEBUG", "DIGEST"]),
        digest,
        "stock loading our base"
    );
    assert_eq!(stream_state(&mut st, "s"), stream, "stock's stream");
    st.cmd(&["SET", "from-stock", "1"]);
    st.cmd(&["BGREWRITEAOF"]);
    wait_aof_rewrite(&mut st);
    let digest2 = st.cmd(&["DEBUG", "DIGEST"]);
    st.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    let mut stock = stock;
    assert!(stock.wait_exit(Duration::from_secs(10)).is_some());
    let manifest = std::fs::read_to_string(dir.join("appendonly.aof.manifest")).unwrap();
    assert!(manifest.contains(".base.aof seq 2 type b"), "{manifest}");
    let ours = restart(false);
    let mut o = ours.raw();
    assert_eq!(
        o.cmd(&["DEBUG", "DIGEST"]),
        digest2,
        "ours loading stock's base"
    );
    assert_eq!(
        stream_state(&mut o, "s"),
        stream,
        "our stream from stock's base"
    );
    assert_eq!(o.cmd(&["FCALL", "f", "0"]), Reply::int(1));
}
