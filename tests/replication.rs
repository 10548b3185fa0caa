//! A stock Redis replica follows a Ferrocache leader: full sync from a fork-free snapshot,
//! the live stream, offsets that agree byte for byte, and partial resync from the backlog.
//! ferrocache-specific: these tests run our server as the leader and stock redis-server
//! (from PATH; CI installs it) as the follower.

mod common;

use common::*;
use std::time::Duration;

fn repl_field(r: &mut RawConn, name: &str) -> String {
    let info = r.cmd(&["INFO", "replication"]).as_string();
    info_field(&info, name).unwrap_or_default()
}

fn stats_field(r: &mut RawConn, name: &str) -> String {
    let info = r.cmd(&["INFO", "stats"]).as_string();
    info_field(&info, name).unwrap_or_default()
}

/// Every key of every database with its value and whether it has a TTL.
fn dataset(r: &mut RawConn) -> Vec<(usize, String, Reply, bool)> {
    let mut out = Vec::new();
    for db in 0..16 {
        r.cmd(&["SELECT", &db.to_string()]);
        let mut keys = r.cmd(&["KEYS", "*"]).strings();
        keys.sort();
        for k in keys {
            let v = r.cmd(&["GET", &k]);
            let ttl = r.cmd(&["TTL", &k]).as_int() > 0;
            out.push((db, k, v, ttl));
        }
    }
    r.cmd(&["SELECT", "0"]);
    out
}

fn wait_caught_up(leader: &mut RawConn, replica: &mut RawConn) {
    let ok = poll_until(Duration::from_secs(20), Duration::from_millis(20), || {
        repl_field(replica, "master_link_status") == "up"
            && repl_field(replica, "master_repl_offset") == repl_field(leader, "master_repl_offset")
    });
    assert!(
        ok,
        "replica did not catch up: leader offset {}, replica offset {} link {}",
        repl_field(leader, "master_repl_offset"),
        repl_field(replica, "master_repl_offset"),
        repl_field(replica, "master_link_status")
    );
}

#[test]
fn stock_replica_full_sync_stream_and_partial_resync() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&[]);
    let mut l = leader.raw();
    l.cmd(&["MSET", "a", "1", "b", "2", "big", &"x".repeat(5000)]);
    l.cmd(&["SET", "ttl", "t", "EX", "1000"]);
    l.cmd(&["SELECT", "3"]);
    l.cmd(&["SET", "in3", "three"]);
    l.cmd(&["SELECT", "0"]);

    let port = leader.port.to_string();
    let replica = TestServer::start_stock(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.raw();
    wait_caught_up(&mut l, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut l));

    // The live stream: effects of every kind, in several databases.
    l.cmd(&["INCR", "a"]);
    l.cmd(&["INCRBYFLOAT", "f", "1.5"]);
    l.cmd(&["APPEND", "b", "-more"]);
    l.cmd(&["SETRANGE", "b", "0", "X"]);
    l.cmd(&["EXPIRE", "a", "500"]);
    l.cmd(&["PERSIST", "ttl"]);
    l.cmd(&["GETDEL", "big"]);
    l.cmd(&["SET", "gone", "soon", "PX", "1"]);
    l.cmd(&["MULTI"]);
    l.cmd(&["SET", "tx1", "1"]);
    l.cmd(&["SET", "tx2", "2"]);
    l.cmd(&["EXEC"]);
    l.cmd(&["SELECT", "5"]);
    l.cmd(&["SET", "in5", "five"]);
    l.cmd(&["RENAME", "in5", "renamed5"]);
    l.cmd(&["SELECT", "0"]);
    l.cmd(&["SWAPDB", "3", "4"]);
    // Let "gone" expire on the leader and reach the replica as a DEL.
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(20),
        || { l.cmd(&["EXISTS", "gone"]) == Reply::int(0) }
    ));
    wait_caught_up(&mut l, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut l));

    // The leader sees the follower online with its acknowledged offset.
    assert_eq!(repl_field(&mut l, "connected_slaves"), "1");
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(50),
        || {
            let offset = repl_field(&mut l, "master_repl_offset");
            repl_field(&mut l, "slave0").contains(&format!("state=online,offset={offset}"))
        }
    ));
    let role = l.cmd(&["ROLE"]);
    assert_eq!(role.as_array()[0], Reply::bulk("master"));
    assert_eq!(role.as_array()[2].as_array().len(), 1);

    // Drop the link from the replica side: it comes back with a partial resync.
    assert_eq!(stats_field(&mut l, "sync_full"), "1");
    r.cmd(&["CLIENT", "KILL", "TYPE", "master"]);
    l.cmd(&["SET", "after", "reconnect"]);
    wait_caught_up(&mut l, &mut r);
    assert_eq!(r.cmd(&["GET", "after"]), Reply::bulk("reconnect"));
    assert_eq!(stats_field(&mut l, "sync_partial_ok"), "1");
    assert_eq!(stats_field(&mut l, "sync_full"), "1");
}

#[test]
fn full_sync_under_concurrent_writes_is_exact() {
    // Invariant 1 with a stock replica: a snapshot at offset X plus the stream after X
    // equals the leader. The save is slowed so the writes land while it is sent.
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&["--rdb-key-save-delay", "50"]);
    let mut l = leader.raw();
    let mut pipe = Vec::new();
    for i in 0..20_000 {
        pipe.extend(encode_cmd(&["SET", &format!("k{i}"), &format!("v{i}")]));
    }
    l.send(&pipe);
    for _ in 0..20_000 {
        assert_eq!(l.read_reply(), Reply::ok());
    }
    let port = leader.port.to_string();
    let replica = TestServer::start_stock(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.raw();
    // Write while the snapshot streams: overwrite, delete, create, increment.
    assert!(
        poll_until(Duration::from_secs(10), Duration::from_millis(5), || {
            repl_field(&mut l, "slave0").contains("state=send_bulk")
        }),
        "the follower never started its transfer"
    );
    let mut w = leader.raw();
    let mut overlapped = false;
    for i in 0..2000 {
        // APPEND replicates as APPEND (not idempotent): a snapshot that already held the
        // appended value would end up with it twice on the replica.
        w.cmd(&["APPEND", &format!("k{}", (i * 7) % 20_000), "+"]);
        w.cmd(&["DEL", &format!("k{}", (i * 13) % 20_000)]);
        w.cmd(&["INCR", "counter"]);
        if i == 100 {
            overlapped = repl_field(&mut l, "slave0").contains("state=send_bulk");
        }
    }
    wait_caught_up(&mut l, &mut r);
    assert!(
        overlapped,
        "the writes were meant to overlap the snapshot transfer"
    );
    assert_eq!(r.cmd(&["GET", "counter"]), Reply::bulk("2000"));
    assert_eq!(dataset(&mut r), dataset(&mut l));
}

#[test]
fn wait_counts_followers_that_acknowledged_the_write() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&[]);
    let mut l = leader.raw();
    assert_eq!(l.cmd(&["WAIT", "0", "0"]), Reply::int(0));
    assert_eq!(
        l.cmd(&["WAIT", "1", "-1"]),
        Reply::err("ERR timeout is negative")
    );
    let port = leader.port.to_string();
    let replica = TestServer::start_stock(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.raw();
    wait_caught_up(&mut l, &mut r);
    l.cmd(&["SET", "acked", "1"]);
    let t = std::time::Instant::now();
    assert_eq!(l.cmd(&["WAIT", "1", "5000"]), Reply::int(1));
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "GETACK should answer before the 1 s ACK period"
    );
    assert_eq!(r.cmd(&["GET", "acked"]), Reply::bulk("1"));
    // Asking for more followers than exist waits for the timeout, then reports the count.
    let t = std::time::Instant::now();
    assert_eq!(l.cmd(&["WAIT", "2", "300"]), Reply::int(1));
    assert!(t.elapsed() >= Duration::from_millis(290));
    // Commands pipelined behind a WAIT are answered after it, in order.
    l.send(
        &[
            encode_cmd(&["SET", "p", "1"]),
            encode_cmd(&["WAIT", "1", "5000"]),
            encode_cmd(&["GET", "p"]),
        ]
        .concat(),
    );
    assert_eq!(l.read_reply(), Reply::ok());
    assert_eq!(l.read_reply(), Reply::int(1));
    assert_eq!(l.read_reply(), Reply::bulk("1"));
}

#[test]
fn ferrocache_follows_a_stock_primary_then_is_promoted() {
    if is_stock_redis() {
        return;
    }
    let primary = TestServer::start_stock(&["--repl-diskless-sync-delay", "0"]);
    let mut p = primary.raw();
    p.cmd(&["MSET", "a", "1", "b", "2"]);
    p.cmd(&["SET", "ttl", "x", "EX", "1000"]);
    p.cmd(&["SELECT", "2"]);
    p.cmd(&["SET", "in2", "two"]);
    p.cmd(&["SELECT", "0"]);
    let port = primary.port.to_string();
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &port]);
    let mut f = follower.raw();
    wait_caught_up(&mut p, &mut f);
    assert_eq!(dataset(&mut f), dataset(&mut p));
    p.cmd(&["INCR", "a"]);
    p.cmd(&["APPEND", "b", "-x"]);
    p.cmd(&["DEL", "in2"]);
    p.cmd(&["MULTI"]);
    p.cmd(&["SET", "t1", "1"]);
    p.cmd(&["INCRBY", "t2", "5"]);
    p.cmd(&["EXEC"]);
    wait_caught_up(&mut p, &mut f);
    assert_eq!(dataset(&mut f), dataset(&mut p));
    // Read-only for clients; ROLE and INFO say follower.
    assert_eq!(
        f.cmd(&["SET", "nope", "1"]),
        Reply::err("READONLY You can't write against a read only replica.")
    );
    let role = f.cmd(&["ROLE"]);
    assert_eq!(role.as_array()[0], Reply::bulk("slave"));
    assert_eq!(role.as_array()[3], Reply::bulk("connected"));
    assert_eq!(repl_field(&mut f, "role"), "slave");
    // Promotion keeps the data and the old history as replid2.
    let old_id = repl_field(&mut f, "master_replid");
    assert_eq!(f.cmd(&["REPLICAOF", "NO", "ONE"]), Reply::ok());
    assert_eq!(repl_field(&mut f, "role"), "master");
    assert_eq!(repl_field(&mut f, "master_replid2"), old_id);
    assert_ne!(repl_field(&mut f, "master_replid"), old_id);
    assert_eq!(f.cmd(&["SET", "now", "writable"]), Reply::ok());
    assert_eq!(f.cmd(&["GET", "t2"]), Reply::bulk("5"));
}

#[test]
fn ferrocache_follower_of_ferrocache_resyncs_partially() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&[]);
    let mut l = leader.raw();
    for i in 0..500 {
        l.cmd(&["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    let port = leader.port.to_string();
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &port]);
    let mut f = follower.raw();
    wait_caught_up(&mut l, &mut f);
    assert_eq!(f.cmd(&["DEBUG", "DIGEST"]), l.cmd(&["DEBUG", "DIGEST"]));
    l.cmd(&["APPEND", "k1", "+"]);
    l.cmd(&["SET", "px", "v", "PX", "100000"]);
    wait_caught_up(&mut l, &mut f);
    assert_eq!(f.cmd(&["DEBUG", "DIGEST"]), l.cmd(&["DEBUG", "DIGEST"]));
    // Cut the link from the leader side; the follower comes back with a partial resync.
    assert_eq!(l.cmd(&["CLIENT", "KILL", "TYPE", "replica"]), Reply::int(1));
    l.cmd(&["SET", "after", "cut"]);
    wait_caught_up(&mut l, &mut f);
    assert_eq!(f.cmd(&["GET", "after"]), Reply::bulk("cut"));
    assert_eq!(stats_field(&mut l, "sync_partial_ok"), "1");
    assert_eq!(stats_field(&mut l, "sync_full"), "1");
    assert_eq!(f.cmd(&["DEBUG", "DIGEST"]), l.cmd(&["DEBUG", "DIGEST"]));
}

#[test]
fn min_replicas_and_stale_data_rules() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&[
        "--min-replicas-to-write",
        "1",
        "--min-replicas-max-lag",
        "10",
    ]);
    let mut l = leader.raw();
    assert_eq!(
        l.cmd(&["SET", "k", "v"]),
        Reply::err("NOREPLICAS Not enough good replicas to write.")
    );
    assert_eq!(l.cmd(&["GET", "k"]), Reply::Nil);
    let port = leader.port.to_string();
    let replica = TestServer::start_stock(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.raw();
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { l.cmd(&["SET", "k", "v"]) == Reply::ok() }
    ));
    wait_caught_up(&mut l, &mut r);
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v"));

    // A follower whose leader is unreachable, with replica-serve-stale-data no.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port().to_string();
    drop(dead);
    let lonely = TestServer::start(&[
        "--replicaof",
        "127.0.0.1",
        &dead_port,
        "--replica-serve-stale-data",
        "no",
    ]);
    let mut s = lonely.raw();
    assert_eq!(
        s.cmd(&["GET", "k"]),
        Reply::err(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
        )
    );
    // PING is not a STALE command in Redis 7.0: a stale replica refuses it too.
    assert_eq!(
        s.cmd(&["PING"]),
        Reply::err(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
        )
    );
    assert_eq!(repl_field(&mut s, "master_link_status"), "down");
    assert_eq!(
        s.cmd(&["CONFIG", "SET", "replica-serve-stale-data", "yes"]),
        Reply::ok()
    );
    assert_eq!(s.cmd(&["GET", "k"]), Reply::Nil);
}

#[test]
fn chained_followers_forward_the_leaders_stream_unchanged() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&[]);
    let mut l = leader.raw();
    l.cmd(&["MSET", "a", "1", "b", "2"]);
    let lp = leader.port.to_string();
    let middle = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let mut m = middle.raw();
    wait_caught_up(&mut l, &mut m);
    let mp = middle.port.to_string();
    let tail = TestServer::start(&["--replicaof", "127.0.0.1", &mp]);
    let mut t = tail.raw();
    wait_caught_up(&mut l, &mut t);
    for i in 0..200 {
        l.cmd(&["INCR", "n"]);
        l.cmd(&["APPEND", "log", &format!("{i},")]);
    }
    wait_caught_up(&mut l, &mut m);
    wait_caught_up(&mut l, &mut t);
    // Same history everywhere: id and offset are the leader's.
    assert_eq!(
        repl_field(&mut t, "master_replid"),
        repl_field(&mut l, "master_replid")
    );
    let digest = l.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(m.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(t.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(t.cmd(&["GET", "n"]), Reply::bulk("200"));
    // WAIT on the middle follower is refused as stock refuses it: asking its own
    // follower for acknowledgements would put bytes into the relayed stream.
    assert!(
        m.cmd(&["WAIT", "1", "100"])
            .err_text()
            .starts_with("ERR WAIT cannot be used with replica instances.")
    );
    l.cmd(&["SET", "after", "wait"]);
    wait_caught_up(&mut l, &mut t);
    assert_eq!(
        repl_field(&mut t, "master_repl_offset"),
        repl_field(&mut l, "master_repl_offset")
    );
    assert_eq!(t.cmd(&["DEBUG", "DIGEST"]), l.cmd(&["DEBUG", "DIGEST"]));
}

#[test]
fn leader_and_two_followers_agree_after_concurrent_writers() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&[]);
    let lp = leader.port.to_string();
    let early = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let mut l = leader.raw();
    let mut e = early.raw();
    wait_caught_up(&mut l, &mut e);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Writers touch every type, including commands whose effect is random (SPOP) or
    // depends on order (pops, moves, unions, float increments).
    let mut writers: Vec<_> = (0..4)
        .map(|w| {
            let stop = stop.clone();
            let mut c = leader.raw();
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let k = format!("w{w}:{}", i % 300);
                    let n = (i % 50).to_string();
                    let v = i.to_string();
                    match i % 24 {
                        0 => c.cmd(&["SET", &k, &v]),
                        1 => c.cmd(&["INCR", &format!("ctr{w}")]),
                        2 => c.cmd(&["APPEND", &k, "+"]),
                        3 => c.cmd(&["MSET", &k, "m", &format!("w{w}:x"), &v]),
                        4 => c.cmd(&["EXPIRE", &k, "1000"]),
                        5 => c.cmd(&["DEL", &k]),
                        6 => c.cmd(&["HSET", "h", &n, &v]),
                        7 => c.cmd(&["HINCRBYFLOAT", "h", "f", "0.1"]),
                        8 => c.cmd(&["SADD", "s", &n, &v]),
                        9 => c.cmd(&["SPOP", "s", "2"]),
                        10 => c.cmd(&["SMOVE", "s", "s2", &n]),
                        11 => c.cmd(&["RPUSH", "q", &v, &n]),
                        12 => c.cmd(&["LMOVE", "q", "q2", "LEFT", "RIGHT"]),
                        13 => c.cmd(&["LTRIM", "q2", "0", "40"]),
                        14 => c.cmd(&["ZADD", "z", &n, &v]),
                        15 => c.cmd(&["ZINCRBY", "z", "0.5", &n]),
                        16 => c.cmd(&["ZPOPMIN", "z"]),
                        17 => c.cmd(&["ZADD", "zq", &n, &v]),
                        18 => c.cmd(&["ZUNIONSTORE", "zu", "2", "z", "s", "WEIGHTS", "2", "1"]),
                        19 => c.cmd(&["ZREMRANGEBYRANK", "z", "0", "1"]),
                        20 => c.cmd(&["LMPOP", "2", "q", "q2", "RIGHT", "COUNT", "2"]),
                        21 => c.cmd(&["SINTERSTORE", "si", "s", "s2"]),
                        22 => c.cmd(&["HDEL", "h", &n]),
                        _ => {
                            c.cmd(&["MULTI"]);
                            c.cmd(&["INCR", "shared"]);
                            c.cmd(&["SET", &k, "tx"]);
                            c.cmd(&["ZADD", "zq", "1", &k]);
                            c.cmd(&["LPUSH", "q", &k]);
                            c.cmd(&["EXEC"])
                        }
                    };
                    i += 1;
                }
            })
        })
        .collect();
    // Blocked clients are served inside other clients' writes.
    for b in 0..2 {
        let stop = stop.clone();
        let mut c = leader.raw();
        writers.push(std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if b == 0 {
                    c.cmd(&["BLPOP", "q", "q2", "0.05"]);
                    c.cmd(&["BLMOVE", "q2", "q3", "RIGHT", "LEFT", "0.05"]);
                } else {
                    c.cmd(&["BZPOPMIN", "zq", "0.05"]);
                    c.cmd(&["BZMPOP", "0.05", "1", "zq", "MAX", "COUNT", "2"]);
                }
            }
        }));
    }
    // A second follower joins in the middle of the load.
    let mut probe = leader.raw();
    let mut counter = move || match probe.cmd(&["GET", "ctr0"]) {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).parse::<i64>().unwrap_or(0),
        _ => 0,
    };
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(5),
        || counter() >= 200
    ));
    let late = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let mut t = late.raw();
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { repl_field(&mut t, "master_link_status") == "up" }
    ));
    let joined_at = counter();
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(5),
        || { counter() >= joined_at + 200 }
    ));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    wait_caught_up(&mut l, &mut e);
    wait_caught_up(&mut l, &mut t);
    let digest = l.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(e.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(t.cmd(&["DEBUG", "DIGEST"]), digest);
    assert!(l.cmd(&["DBSIZE"]).as_int() > 100);
    let stats = l.cmd(&["INFO", "commandstats"]).as_string();
    for c in [
        "hset",
        "spop",
        "lmove",
        "zunionstore",
        "blpop",
        "bzpopmin",
        "bzmpop",
    ] {
        let line = info_field(&stats, &format!("cmdstat_{c}")).unwrap_or_default();
        assert!(line.starts_with("calls="), "{c} ran: {line:?}");
    }
}

#[test]
fn network_cuts_resync_partially_inside_the_backlog_and_fully_beyond_it() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&["--repl-backlog-size", "16kb"]);
    let mut l = leader.raw();
    l.cmd(&["SET", "k", "v"]);
    let proxy = FaultProxy::start(leader.port);
    let pp = proxy.port.to_string();
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &pp]);
    let mut f = follower.raw();
    wait_caught_up(&mut l, &mut f);
    assert_eq!(stats_field(&mut l, "sync_full"), "1");

    // A short cut with little written meanwhile: +CONTINUE from the backlog.
    proxy.set_blocked(true);
    proxy.cut();
    for i in 0..20 {
        l.cmd(&["SET", &format!("during{i}"), "x"]);
    }
    proxy.set_blocked(false);
    wait_caught_up(&mut l, &mut f);
    assert_eq!(stats_field(&mut l, "sync_partial_ok"), "1");
    assert_eq!(stats_field(&mut l, "sync_full"), "1");
    assert_eq!(f.cmd(&["DEBUG", "DIGEST"]), l.cmd(&["DEBUG", "DIGEST"]));

    // A cut during which more than the backlog is written: a full resync.
    proxy.set_blocked(true);
    proxy.cut();
    let big = "y".repeat(1024);
    for i in 0..40 {
        l.cmd(&["SET", &format!("big{i}"), &big]);
    }
    proxy.set_blocked(false);
    wait_caught_up(&mut l, &mut f);
    assert_eq!(stats_field(&mut l, "sync_full"), "2");
    assert_eq!(f.cmd(&["DEBUG", "DIGEST"]), l.cmd(&["DEBUG", "DIGEST"]));
}

#[test]
fn promotion_then_repointing_the_other_follower_resyncs_partially() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&[]);
    let mut l = leader.raw();
    for i in 0..300 {
        l.cmd(&["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    let lp = leader.port.to_string();
    let a = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let b = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let (mut ra, mut rb) = (a.raw(), b.raw());
    wait_caught_up(&mut l, &mut ra);
    wait_caught_up(&mut l, &mut rb);
    // The leader goes away; A is promoted and B is repointed to it.
    drop(l);
    drop(leader);
    assert_eq!(ra.cmd(&["REPLICAOF", "NO", "ONE"]), Reply::ok());
    let ap = a.port.to_string();
    assert_eq!(rb.cmd(&["REPLICAOF", "127.0.0.1", &ap]), Reply::ok());
    ra.cmd(&["SET", "after", "promotion"]);
    wait_caught_up(&mut ra, &mut rb);
    assert_eq!(rb.cmd(&["GET", "after"]), Reply::bulk("promotion"));
    assert_eq!(
        stats_field(&mut ra, "sync_partial_ok"),
        "1",
        "B continued from A's history"
    );
    assert_eq!(stats_field(&mut ra, "sync_full"), "0");
    assert_eq!(rb.cmd(&["DEBUG", "DIGEST"]), ra.cmd(&["DEBUG", "DIGEST"]));
}

#[test]
fn follower_killed_and_restarted_from_its_snapshot_resyncs_partially() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&[]);
    let mut l = leader.raw();
    for i in 0..200 {
        l.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    let lp = leader.port.to_string();
    let mut follower = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let mut f = follower.raw();
    wait_caught_up(&mut l, &mut f);
    assert_eq!(f.cmd(&["SAVE"]), Reply::ok());
    l.cmd(&["SET", "after-save", "1"]);
    wait_caught_up(&mut l, &mut f);
    // kill -9: the follower restarts from its (older) snapshot and the history in it.
    let pid = follower.pid().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(follower.wait_exit(Duration::from_secs(10)).is_some());
    l.cmd(&["SET", "while-down", "1"]);
    let dir = follower.dir().display().to_string();
    let restarted = TestServer::start(&["--replicaof", "127.0.0.1", &lp, "--dir", &dir]);
    let mut r = restarted.raw();
    wait_caught_up(&mut l, &mut r);
    assert_eq!(stats_field(&mut l, "sync_full"), "1");
    assert_eq!(stats_field(&mut l, "sync_partial_ok"), "1");
    assert_eq!(r.cmd(&["GET", "after-save"]), Reply::bulk("1"));
    assert_eq!(r.cmd(&["GET", "while-down"]), Reply::bulk("1"));
    assert_eq!(r.cmd(&["DEBUG", "DIGEST"]), l.cmd(&["DEBUG", "DIGEST"]));
}

#[test]
fn a_follower_that_does_not_read_is_dropped_at_the_replica_output_limit() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&["--client-output-buffer-limit", "replica 1mb 0 0"]);
    let mut l = leader.raw();
    // Incompressible values (the snapshot compresses repetitive ones to nothing).
    let mut seed: u64 = 42;
    for i in 0..200 {
        let value: String = (0..100_000)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (b'a' + ((seed >> 33) % 26) as u8) as char
            })
            .collect();
        l.cmd(&["SET", &format!("big{i}"), &value]);
    }
    // A "follower" that asks for a full sync and then never reads.
    let mut lazy = leader.raw();
    assert_eq!(lazy.cmd(&["REPLCONF", "capa", "eof"]), Reply::ok());
    lazy.send_cmd(&["PSYNC", "?", "-1"]);
    assert!(
        poll_until(Duration::from_secs(20), Duration::from_millis(20), || {
            leader.log_tail(50).contains("output buffer limit")
        }),
        "the follower was not dropped"
    );
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(20),
        || { repl_field(&mut l, "connected_slaves") == "0" }
    ));
    assert_eq!(l.cmd(&["SET", "still", "fine"]), Reply::ok());
    assert!(stats_field(&mut l, "sync_full") == "1");
}

/// A follower that disconnects (kill -9) stops receiving the stream at once: the leader
/// keeps no buffer for it, so its memory stays flat while writes go on.
#[test]
fn a_disconnected_follower_gets_no_more_stream() {
    let leader = TestServer::start(&[]);
    let mut l = leader.raw();
    let lp = leader.port.to_string();
    let mut follower = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    assert_eq!(l.cmd(&["SET", "k", "v"]), Reply::ok());
    assert!(poll_until(
        Duration::from_secs(20),
        Duration::from_millis(20),
        || repl_field(&mut l, "connected_slaves") == "1"
            && follower.raw().cmd(&["GET", "k"]) == Reply::bulk("v")
    ));
    let pid = follower.pid().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(follower.wait_exit(Duration::from_secs(10)).is_some());
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || repl_field(&mut l, "connected_slaves") == "0"
    ));
    let used = |l: &mut RawConn| -> i64 {
        info_field(&l.cmd(&["INFO", "memory"]).as_string(), "used_memory")
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = used(&mut l);
    // 30 MB of stream, the dataset unchanged in size (one key overwritten).
    let value = "x".repeat(10_000);
    for _ in 0..3000 {
        l.send_cmd(&["SET", "k", &value]);
    }
    for _ in 0..3000 {
        assert_eq!(l.read_reply(), Reply::ok());
    }
    let grown = used(&mut l) - before;
    assert!(
        grown < 8 << 20,
        "leader memory grew by {grown} bytes after its only follower went away"
    );
}

/// Followers that ask for a diskless full sync within `repl-diskless-sync-delay` share
/// one snapshot, and writes made meanwhile reach both.
#[test]
fn followers_syncing_together_share_one_snapshot() {
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&["--repl-diskless-sync-delay", "1"]);
    let mut l = leader.raw();
    for i in 0..500 {
        l.cmd(&["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    let lp = leader.port.to_string();
    let a = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let b = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    l.cmd(&["SET", "during", "wait"]);
    let (mut ra, mut rb) = (a.raw(), b.raw());
    wait_caught_up(&mut l, &mut ra);
    wait_caught_up(&mut l, &mut rb);
    l.cmd(&["INCR", "after"]);
    wait_caught_up(&mut l, &mut ra);
    wait_caught_up(&mut l, &mut rb);
    assert_eq!(stats_field(&mut l, "sync_full"), "2");
    let log = leader.log_tail(400);
    let snapshots: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Starting snapshot for"))
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    assert!(snapshots[0].contains("2 replica(s)"), "{}", snapshots[0]);
    let digest = l.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(ra.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(rb.cmd(&["DEBUG", "DIGEST"]), digest);
    assert_eq!(rb.cmd(&["GET", "during"]), Reply::bulk("wait"));
}

/// FAILOVER (coordinated switchover, Redis 6.2+): writes pause, the target catches up and
/// promotes itself on `PSYNC ... FAILOVER`, the old leader follows it with a partial
/// resync; every acknowledged write survives (a writer runs throughout).
#[test]
fn coordinated_failover_loses_no_acknowledged_write() {
    let leader = TestServer::start(&[]);
    let lp = leader.port.to_string();
    let a = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let b = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let mut l = leader.raw();
    let (mut ra, mut rb) = (a.raw(), b.raw());
    wait_caught_up(&mut l, &mut ra);
    wait_caught_up(&mut l, &mut rb);
    // Errors first, as Redis words them.
    assert_eq!(
        ra.cmd(&["FAILOVER"]),
        Reply::err("ERR FAILOVER is not valid when server is a replica.")
    );
    assert_eq!(
        l.cmd(&["FAILOVER", "TO", "127.0.0.1", "1"]),
        Reply::err("ERR FAILOVER target HOST and PORT is not a replica.")
    );
    assert_eq!(
        l.cmd(&["FAILOVER", "FORCE"]),
        Reply::err(
            "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
        )
    );
    assert_eq!(
        l.cmd(&["FAILOVER", "TIMEOUT", "0"]),
        Reply::err("ERR FAILOVER timeout must be greater than 0")
    );
    assert_eq!(
        l.cmd(&["FAILOVER", "ABORT"]),
        Reply::err("ERR No failover in progress.")
    );
    assert_eq!(
        l.cmd(&["FAILOVER", "BOGUS"]),
        Reply::err("ERR syntax error")
    );
    // A writer counts its acknowledged INCRs until the old leader stops taking writes.
    let port = leader.port;
    let writer = std::thread::spawn(move || {
        let mut w = RawConn::connect(&format!("127.0.0.1:{port}"));
        let mut acked = 0i64;
        loop {
            match w.cmd(&["INCR", "counter"]) {
                Reply::Int(_) => acked += 1,
                _ => return acked,
            }
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let ap = a.port.to_string();
    assert_eq!(
        l.cmd(&["FAILOVER", "TO", "127.0.0.1", &ap, "TIMEOUT", "5000"]),
        Reply::ok()
    );
    let acked = writer.join().unwrap();
    assert!(acked > 0);
    let mut ra = a.raw();
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { repl_field(&mut ra, "role") == "master" }
    ));
    assert_eq!(ra.cmd(&["GET", "counter"]), Reply::bulk(acked.to_string()));
    let mut l = leader.raw();
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            repl_field(&mut l, "role") == "slave"
                && repl_field(&mut l, "master_port") == ap
                && repl_field(&mut l, "master_link_status") == "up"
        }
    ));
    assert_eq!(repl_field(&mut l, "master_failover_state"), "no-failover");
    assert_eq!(stats_field(&mut ra, "sync_partial_ok"), "1");
    assert_eq!(stats_field(&mut ra, "sync_full"), "0");
    ra.cmd(&["SET", "after", "switch"]);
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { l.cmd(&["GET", "after"]) == Reply::bulk("switch") }
    ));
}

/// A slow follower link (200 ms per hop) and then a link cut in one direction only: WAIT
/// waits for the late acknowledgement, and a follower whose inbound stream is half-closed
/// reconnects and continues partially.
#[test]
fn slow_then_half_cut_follower_link() {
    let leader = TestServer::start(&[]);
    let proxy = FaultProxy::start(leader.port);
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &proxy.port.to_string()]);
    let (mut l, mut f) = (leader.raw(), follower.raw());
    wait_caught_up(&mut l, &mut f);
    proxy.set_delay(Duration::from_millis(200));
    l.cmd(&["SET", "slow", "1"]);
    let started = std::time::Instant::now();
    assert_eq!(l.cmd(&["WAIT", "1", "5000"]), Reply::int(1));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the acknowledgement crossed the delayed link: {:?}",
        started.elapsed()
    );
    assert_eq!(f.cmd(&["GET", "slow"]), Reply::bulk("1"));
    proxy.set_delay(Duration::ZERO);
    proxy.cut_one_way(Dir::ToClient);
    l.cmd(&["SET", "after", "half-cut"]);
    wait_caught_up(&mut l, &mut f);
    assert_eq!(f.cmd(&["GET", "after"]), Reply::bulk("half-cut"));
    assert_eq!(stats_field(&mut l, "sync_full"), "1");
    assert_eq!(stats_field(&mut l, "sync_partial_ok"), "1");
}

/// A leader whose snapshot arrives truncated: the follower keeps none of it (no half
/// dataset), logs why, and does not report the link up.
#[test]
fn a_truncated_snapshot_from_the_leader_is_refused_whole() {
    if is_stock_redis() {
        return;
    }
    // A real snapshot with keys, cut short.
    let src = TestServer::start(&[]);
    let mut w = src.raw();
    for i in 0..2000 {
        w.cmd(&["SET", &format!("k{i}"), &"x".repeat(100)]);
    }
    assert_eq!(w.cmd(&["SAVE"]), Reply::ok());
    let rdb = std::fs::read(src.dir().join("dump.rdb")).expect("dump.rdb");
    let cut = rdb[..rdb.len() * 3 / 4].to_vec();

    // A fake leader: answers the handshake, then sends the cut snapshot.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).unwrap_or(0);
            if n == 0 {
                return;
            }
            let text = String::from_utf8_lossy(&buf[..n]).to_ascii_uppercase();
            // (REPLCONF CAPA mentions PSYNC2: match the command itself.)
            if text.contains("$5\r\nPSYNC\r\n") {
                let id = "a".repeat(40);
                let _ = s.write_all(format!("+FULLRESYNC {id} 0\r\n${}\r\n", cut.len()).as_bytes());
                let _ = s.write_all(&cut);
                // Hold the link open a moment, then go away.
                std::thread::sleep(Duration::from_secs(2));
                return;
            } else if text.contains("PING") {
                let _ = s.write_all(b"+PONG\r\n");
            } else {
                let _ = s.write_all(b"+OK\r\n");
            }
        }
    });
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &port.to_string()]);
    let mut f = follower.raw();
    assert!(
        poll_until(Duration::from_secs(10), Duration::from_millis(50), || {
            follower.log_tail(50).contains("corrupt or truncated")
        }),
        "no clear message: {}",
        follower.log_tail(20)
    );
    assert_eq!(
        f.cmd(&["DBSIZE"]),
        Reply::int(0),
        "part of the snapshot was kept"
    );
    assert_ne!(repl_field(&mut f, "master_link_status"), "up");
    fake.join().unwrap();
}

#[test]
fn spublish_reaches_shard_subscribers_of_a_stock_replica() {
    // Without cluster mode stock propagates SPUBLISH to its replicas as it does PUBLISH;
    // a stock replica of ours delivers it to its own shard subscribers.
    let leader = TestServer::start(&[]);
    let mut l = leader.raw();
    let port = leader.port.to_string();
    let replica = TestServer::start_stock(&["--replicaof", "127.0.0.1", &port]);
    let mut r = replica.raw();
    wait_caught_up(&mut l, &mut r);
    let mut sub = replica.raw();
    sub.send_cmd(&["SSUBSCRIBE", "orders"]);
    assert_eq!(
        sub.read_reply(),
        Reply::arr(vec![
            Reply::bulk("ssubscribe"),
            Reply::bulk("orders"),
            Reply::int(1)
        ])
    );
    let before: i64 = repl_field(&mut l, "master_repl_offset").parse().unwrap();
    assert_eq!(l.cmd(&["SPUBLISH", "orders", "o-1"]), Reply::int(0));
    assert_eq!(
        sub.read_reply(),
        Reply::bulks(&["smessage", "orders", "o-1"])
    );
    let after: i64 = repl_field(&mut l, "master_repl_offset").parse().unwrap();
    assert!(after > before);
    wait_caught_up(&mut l, &mut r);
}

/// Commands still arriving from a leader this node no longer follows (it was promoted
/// or repointed while the old leader kept sending) are neither applied nor counted: the
/// old link closes on the first one. Otherwise the node diverges from its new history.
#[test]
fn a_replaced_leader_link_applies_nothing_more() {
    if is_stock_redis() {
        return;
    }
    let empty = TestServer::start(&[]);
    assert_eq!(empty.raw().cmd(&["SAVE"]), Reply::ok());
    let rdb = std::fs::read(empty.dir().join("dump.rdb")).expect("dump.rdb");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let fake = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        let mut buf = [0u8; 4096];
        loop {
            let n = s.read(&mut buf).unwrap_or(0);
            assert!(n > 0, "the follower left during the handshake");
            let text = String::from_utf8_lossy(&buf[..n]).to_ascii_uppercase();
            if text.contains("$5\r\nPSYNC\r\n") {
                let id = "b".repeat(40);
                let _ = s.write_all(format!("+FULLRESYNC {id} 0\r\n${}\r\n", rdb.len()).as_bytes());
                let _ = s.write_all(&rdb);
                let _ = s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n");
                break;
            } else if text.contains("PING") {
                let _ = s.write_all(b"+PONG\r\n");
            } else {
                let _ = s.write_all(b"+OK\r\n");
            }
        }
        go_rx.recv().unwrap();
        let _ = s.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n");
        // The follower drops the old link once it has read (and refused) that command.
        while s.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
    });
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &port.to_string()]);
    let mut f = follower.raw();
    assert!(
        poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
            f.cmd(&["GET", "a"]) == Reply::bulk("1")
        }),
        "the stream before the switch was not applied"
    );
    assert_eq!(f.cmd(&["REPLICAOF", "NO", "ONE"]), Reply::ok());
    let offset = repl_field(&mut f, "master_repl_offset");
    go_tx.send(()).unwrap();
    fake.join().unwrap();
    assert_eq!(
        f.cmd(&["EXISTS", "b"]),
        Reply::int(0),
        "applied a command from the old leader"
    );
    assert_eq!(
        repl_field(&mut f, "master_repl_offset"),
        offset,
        "counted the old leader's bytes"
    );
}

/// Reads a legacy SYNC's snapshot off `s` (`$<len>\r\n` + bytes, after any keepalive
/// newlines) and returns the connection positioned at the first streamed command.
fn after_sync_snapshot(mut s: std::net::TcpStream) -> RawConn {
    use std::io::{Read, Write};
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"*1\r\n$4\r\nSYNC\r\n").unwrap();
    let mut header = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        s.read_exact(&mut byte).unwrap();
        if byte[0] == b'\n' && header.ends_with(b"\r") {
            break;
        }
        if !(header.is_empty() && byte[0] == b'\n') {
            header.push(byte[0]);
        }
    }
    let text = String::from_utf8_lossy(&header);
    let len: usize = text.trim().trim_start_matches('$').parse().unwrap();
    let mut rdb = vec![0u8; len];
    s.read_exact(&mut rdb).unwrap();
    RawConn::from_stream(s)
}

/// Commands that act on every database (FLUSHALL, SWAPDB) go down the stream in the
/// database of the client that sent them, as Redis propagates every command: a SELECT
/// precedes them only when the stream was elsewhere.
#[test]
fn whole_keyspace_commands_are_streamed_in_the_callers_database() {
    let (s, mut r) = setup();
    let stream = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let mut repl = after_sync_snapshot(stream);
    r.cmd(&["SELECT", "1"]);
    r.cmd(&["SET", "k", "v"]);
    r.cmd(&["FLUSHALL"]);
    r.cmd(&["SELECT", "4"]);
    r.cmd(&["SWAPDB", "1", "9"]);
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let cmd = repl.read_reply().strings().join(" ").to_lowercase();
        if cmd != "ping" {
            seen.push(cmd);
        }
    }
    assert_eq!(
        seen,
        ["select 1", "set k v", "flushall", "select 4", "swapdb 1 9"]
    );
}
