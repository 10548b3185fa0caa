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
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            persistence_field(&mut r, "aof_rewrite_in_progress") == "0"
                && persistence_field(&mut r, "aof_rewrite_scheduled") == "0"
        }
    ));
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
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { persistence_field(&mut r2, "aof_rewrite_in_progress") == "0" }
    ));
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
