//! Keyspace notifications (`notify-keyspace-events`) as Redis 7.0 sends them: the same
//! command mix runs on our server and on a stock redis-server and the event sequences
//! must be identical; expiry, eviction and followers applying the stream emit theirs too.

mod common;

use common::*;
use std::time::Duration;

/// Events as a subscriber received them: (channel, message).
type Events = Vec<(String, String)>;

/// Every event (channel, message) of `__keyspace@*` / `__keyevent@*` that `script`
/// causes on `s` with `classes` enabled, in the order the subscriber received them.
fn events_of(
    s: &TestServer,
    classes: &str,
    script: impl FnOnce(&mut RawConn, &TestServer),
) -> Events {
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "notify-keyspace-events", classes]),
        Reply::ok()
    );
    let mut sub = s.raw();
    let marker = "fc-test:end-of-script";
    sub.cmd(&["PSUBSCRIBE", "__key*@*__:*"]);
    sub.cmd(&["SUBSCRIBE", marker]);
    script(&mut r, s);
    // Events are delivered in order, so the marker comes after everything the script did.
    r.cmd(&["PUBLISH", marker, "done"]);
    read_events_until(&mut sub, marker)
}

/// Reads pmessages (channel, message) until a message arrives on `marker`.
fn read_events_until(sub: &mut RawConn, marker: &str) -> Events {
    let mut events = Vec::new();
    loop {
        let m = sub.read_reply();
        let parts = m.strings();
        match parts[0].as_str() {
            "pmessage" => events.push((parts[2].clone(), parts[3].clone())),
            "message" if parts[1] == marker => return events,
            _ => panic!("unexpected message {m:?}"),
        }
    }
}

/// The events from one stock redis-server and one of ours for the same script.
fn stock_and_ours(classes: &str, script: impl Fn(&mut RawConn, &TestServer)) -> (Events, Events) {
    let stock = TestServer::start_stock(&[]);
    let expected = events_of(&stock, classes, &script);
    drop(stock);
    let ours = TestServer::start(&[]);
    let got = events_of(&ours, classes, &script);
    (expected, got)
}

fn run(r: &mut RawConn, cmds: &[&[&str]]) {
    for c in cmds {
        let reply = r.cmd(c);
        assert!(!reply.is_error(), "{c:?} -> {reply:?}");
    }
}

/// Blocks until the key's TTL has passed and a read has found it gone (lazy expiry, or
/// active expiry if it came first: one `expired` event either way).
fn wait_expired(r: &mut RawConn, key: &str) {
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(5),
        || r.cmd(&["PTTL", key]) == Reply::int(-2)
    ));
}

/// Waits until one client is blocked (BLPOP and friends).
fn wait_blocked(r: &mut RawConn) {
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(2),
        || info_field(&r.cmd(&["INFO", "clients"]).as_string(), "blocked_clients")
            == Some("1".into())
    ));
}

/// Every write command family, as the differential test drives it.
fn command_mix(r: &mut RawConn, s: &TestServer) {
    run(
        r,
        &[
            // strings
            &["SET", "s", "1"],
            &["SET", "s", "2", "EX", "100"],
            &["SET", "s2", "v", "KEEPTTL"],
            &["SETNX", "s", "x"],
            &["SETNX", "s3", "x"],
            &["SETEX", "s4", "100", "x"],
            &["PSETEX", "s5", "100000", "x"],
            &["GETSET", "s", "3"],
            &["GETDEL", "s3"],
            &["GETDEL", "missing"],
            &["MSET", "m1", "a", "m2", "b"],
            &["MSETNX", "m1", "a", "m3", "c"],
            &["MSETNX", "m4", "a", "m5", "c"],
            &["INCR", "n"],
            &["DECR", "n"],
            &["INCRBY", "n", "5"],
            &["DECRBY", "n", "2"],
            &["INCRBYFLOAT", "n", "1.5"],
            &["APPEND", "s2", "more"],
            &["SETRANGE", "s2", "1", "XY"],
            &["SETRANGE", "s2", "1", ""],
            &["GETEX", "s2", "EX", "100"],
            &["GETEX", "s2", "PERSIST"],
            &["GETEX", "s2", "PERSIST"],
            // generic
            &["EXPIRE", "m1", "100"],
            &["PEXPIRE", "m1", "200000", "GT"],
            &["EXPIRE", "m1", "100", "NX"],
            &["PERSIST", "m1"],
            &["PERSIST", "m1"],
            &["EXPIREAT", "m2", "1"],
            &["RENAME", "m4", "m6"],
            &["RENAME", "m6", "m5"],
            &["RENAMENX", "m5", "m1"],
            &["RENAMENX", "m5", "m7"],
            &["COPY", "m7", "m8"],
            &["COPY", "m7", "m8", "REPLACE"],
            &["COPY", "m7", "m8", "DB", "2"],
            &["MOVE", "m8", "3"],
            &["DEL", "m7", "m5", "nothing"],
            &["UNLINK", "m4", "nothing"],
            // lists
            &["LPUSH", "l", "a", "b", "c"],
            &["RPUSH", "l", "d"],
            &["LPUSHX", "l", "e"],
            &["RPUSHX", "nolist", "e"],
            &["LINSERT", "l", "BEFORE", "a", "z"],
            &["LINSERT", "l", "BEFORE", "nope", "z"],
            &["LSET", "l", "0", "q"],
            &["LREM", "l", "0", "z"],
            &["LREM", "l", "0", "absent"],
            &["LTRIM", "l", "0", "3"],
            &["LPOP", "l"],
            &["RPOP", "l", "1"],
            &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
            &["RPOPLPUSH", "l", "l2"],
            &["LMOVE", "l2", "l2", "LEFT", "RIGHT"],
            &["LMPOP", "2", "empty", "l2", "LEFT", "COUNT", "5"],
            &["RPUSH", "l3", "a", "b"],
            &["LTRIM", "l3", "5", "10"],
            // sets
            &["SADD", "st", "a", "b", "c"],
            &["SADD", "st", "a"],
            &["SREM", "st", "a", "zz"],
            &["SREM", "st", "zz"],
            &["SMOVE", "st", "st2", "b"],
            &["SMOVE", "st", "st2", "c"],
            &["SADD", "st3", "x"],
            &["SPOP", "st3"],
            &["SADD", "st3", "x", "y"],
            &["SPOP", "st3", "5"],
            &["SADD", "sa", "1", "2"],
            &["SADD", "sb", "2", "3"],
            &["SINTERSTORE", "sd", "sa", "sb"],
            &["SUNIONSTORE", "sd", "sa", "sb"],
            &["SDIFFSTORE", "sd", "sa", "sb"],
            &["SINTERSTORE", "sd", "sa", "nothing"],
            &["SINTERSTORE", "sd", "sa", "nothing"],
            // hashes
            &["HSET", "h", "f", "1", "g", "2"],
            &["HMSET", "h", "f", "3"],
            &["HSETNX", "h", "f", "4"],
            &["HSETNX", "h", "k", "4"],
            &["HINCRBY", "h", "f", "2"],
            &["HINCRBYFLOAT", "h", "f", "0.5"],
            &["HDEL", "h", "f", "nope"],
            &["HDEL", "h", "nope"],
            &["HDEL", "h", "g", "k"],
            // sorted sets
            &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
            &["ZADD", "z", "1", "a"],
            &["ZADD", "z", "XX", "CH", "5", "a"],
            &["ZINCRBY", "z", "1", "b"],
            &["ZADD", "z", "INCR", "1", "b"],
            &["ZREM", "z", "c", "nope"],
            &["ZADD", "z", "0", "aa", "0", "ab", "0", "ac", "9", "e"],
            &["ZREMRANGEBYSCORE", "z", "8", "10"],
            &["ZREMRANGEBYRANK", "z", "0", "0"],
            &["ZREMRANGEBYLEX", "z", "[ab", "[ac"],
            &["ZREMRANGEBYLEX", "z", "[x", "[y"],
            &["ZPOPMIN", "z"],
            &["ZPOPMAX", "z", "1"],
            &["ZADD", "z2", "1", "a", "2", "b"],
            &["ZUNIONSTORE", "zu", "2", "z", "z2"],
            &["ZINTERSTORE", "zu", "2", "z", "z2"],
            &["ZDIFFSTORE", "zu", "2", "z", "z2"],
            &["ZRANGESTORE", "zr", "z2", "0", "-1"],
            &["ZRANGESTORE", "zr", "z2", "5", "9"],
            &["ZMPOP", "2", "nothing", "z", "MIN", "COUNT", "10"],
            // another database
            &["SELECT", "5"],
            &["SET", "in5", "v"],
            &["DEL", "in5"],
            &["SELECT", "0"],
            // a TTL in the past, from EXPIRE and from SET ... PXAT
            &["SET", "gone", "v"],
            &["PEXPIRE", "gone", "-1"],
            &["SET", "later", "v"],
            &["PEXPIRE", "later", "1"],
        ],
    );
    // Lazy or active expiry of `later`.
    wait_expired(r, "later");
    // A blocked pop served by a push: the push, then the pop and the deletion.
    let mut blocked = s.raw();
    blocked.send_cmd(&["BLPOP", "bq", "10"]);
    wait_blocked(r);
    run(r, &[&["RPUSH", "bq", "x"]]);
    assert_eq!(blocked.read_reply(), Reply::bulks(&["bq", "x"]));
    blocked.send_cmd(&["BLMOVE", "bsrc", "bdst", "LEFT", "LEFT", "10"]);
    wait_blocked(r);
    run(r, &[&["LPUSH", "bsrc", "y"]]);
    assert_eq!(blocked.read_reply(), Reply::bulk("y"));
    blocked.send_cmd(&["BZPOPMIN", "bz", "10"]);
    wait_blocked(r);
    run(r, &[&["ZADD", "bz", "1", "m"]]);
    assert_eq!(blocked.read_reply().strings()[..2], ["bz", "m"]);
    // A transaction: its commands' events in order.
    run(
        r,
        &[
            &["MULTI"],
            &["SADD", "tx", "a"],
            &["SREM", "tx", "a"],
            &["SET", "tx2", "v"],
        ],
    );
    assert!(!r.cmd(&["EXEC"]).is_error());
}

#[test]
fn every_command_emits_the_events_stock_emits() {
    let (expected, got) = stock_and_ours("KEA", command_mix);
    assert!(expected.len() > 150, "the mix produced {}", expected.len());
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(e, g, "event {i} differs (stock, ours); stock: {expected:?}");
    }
    assert_eq!(
        expected.len(),
        got.len(),
        "stock: {expected:?}\nours: {got:?}"
    );
}

#[test]
fn single_classes_and_channels_filter_as_stock() {
    // Keyspace channel only, one class; keyevent only, another; new-key and key-miss
    // events (outside `A`).
    for classes in ["K$", "Eg", "Kl", "Ex", "Enm", "Kzh", "KEs"] {
        let (expected, got) = stock_and_ours(classes, |r, _| {
            run(
                r,
                &[
                    &["SET", "a", "1"],
                    &["GET", "a"],
                    &["GET", "missing"],
                    &["HGET", "nohash", "f"],
                    &["SET", "b", "2", "GET"],
                    &["LPUSH", "l", "x"],
                    &["SADD", "s", "x"],
                    &["HSET", "h", "f", "v"],
                    &["ZADD", "z", "1", "m"],
                    &["EXPIRE", "a", "100"],
                    &["RENAME", "a", "c"],
                    &["DEL", "c", "l", "s", "h", "z"],
                    &["SET", "t", "v", "PX", "1"],
                ],
            );
            wait_expired(r, "t");
        });
        assert_eq!(expected, got, "classes {classes}");
    }
}

#[test]
fn config_reports_and_rejects_classes_as_stock() {
    let stock = TestServer::start_stock(&[]);
    let ours = TestServer::start(&[]);
    for s in [&stock, &ours] {
        let mut r = s.raw();
        for (set, get) in [
            ("KEA", "AKE"),
            ("Ex$", "$xE"),
            ("gAmn", "Am"),
            ("nK", "nK"),
            ("lshzxetdg$", "A"),
            ("", ""),
        ] {
            assert_eq!(
                r.cmd(&["CONFIG", "SET", "notify-keyspace-events", set]),
                Reply::ok()
            );
            assert_eq!(
                r.cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
                Reply::bulks(&["notify-keyspace-events", get]),
                "{set}"
            );
        }
        assert_eq!(
            r.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEw"]),
            Reply::err(
                "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - \
                 Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
            )
        );
    }
    // The directive is read from the command line (and so from a file) as well.
    let s = TestServer::start(&["--notify-keyspace-events", "Elg"]);
    assert_eq!(
        s.raw().cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
        Reply::bulks(&["notify-keyspace-events", "glE"])
    );
}

#[test]
fn active_expiry_announces_expired_keys_nobody_reads() {
    let s = TestServer::start(&["--notify-keyspace-events", "Ex", "--hz", "100"]);
    let mut sub = s.raw();
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:expired"]);
    let mut r = s.raw();
    r.cmd(&["SET", "session:1", "v", "PX", "20"]);
    // Nothing touches the key: only the expiry cycle can find it.
    let m = sub.read_reply();
    assert_eq!(
        m,
        Reply::bulks(&["message", "__keyevent@0__:expired", "session:1"])
    );
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
}

#[test]
fn eviction_announces_evicted_keys() {
    let s = TestServer::start(&[
        "--notify-keyspace-events",
        "Ee",
        "--maxmemory-policy",
        "allkeys-random",
    ]);
    let mut r = s.raw();
    let mut sub = s.raw();
    sub.cmd(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    let value = "x".repeat(1000);
    for i in 0..200 {
        r.cmd(&["SET", &format!("k{i}"), &value]);
    }
    // Room for roughly half of them: the next write evicts.
    let used = info_field(&r.cmd(&["INFO", "memory"]).as_string(), "used_memory")
        .unwrap()
        .parse::<u64>()
        .unwrap();
    r.cmd(&["CONFIG", "SET", "maxmemory", &(used - 100_000).to_string()]);
    r.cmd(&["SET", "trigger", "v"]);
    let m = sub.read_reply();
    let parts = m.strings();
    assert_eq!(parts[..2], ["message", "__keyevent@0__:evicted"]);
    assert_eq!(r.cmd(&["EXISTS", &parts[2]]), Reply::int(0));
}

#[test]
fn followers_announce_what_they_apply_as_a_stock_replica_does() {
    // ferrocache-specific: needs our leader with one follower of each kind.
    if is_stock_redis() {
        return;
    }
    let leader = TestServer::start(&[]);
    let port = leader.addr().rsplit(':').next().unwrap().to_string();
    let ours = TestServer::start(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--notify-keyspace-events",
        "KEA",
    ]);
    let stock = TestServer::start_stock(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--notify-keyspace-events",
        "KEA",
    ]);
    let mut r = leader.raw();
    for f in [&ours, &stock] {
        let mut c = f.raw();
        assert!(poll_until(
            Duration::from_secs(10),
            Duration::from_millis(10),
            || info_field(
                &c.cmd(&["INFO", "replication"]).as_string(),
                "master_link_status"
            ) == Some("up".into())
        ));
    }
    let marker = "fc-test:end-of-stream";
    let mut subs: Vec<RawConn> = [&ours, &stock]
        .iter()
        .map(|f| {
            let mut sub = f.raw();
            sub.cmd(&["PSUBSCRIBE", "__key*@*__:*"]);
            sub.cmd(&["SUBSCRIBE", marker]);
            sub
        })
        .collect();
    run(
        &mut r,
        &[
            &["SET", "a", "1", "EX", "100"],
            &["INCR", "n"],
            &["RPUSH", "l", "x", "y"],
            &["LPOP", "l", "2"],
            &["HSET", "h", "f", "v"],
            &["SADD", "s", "m"],
            &["ZADD", "z", "1", "m"],
            &["ZPOPMIN", "z"],
            &["RENAME", "a", "b"],
            &["SET", "t", "v", "PX", "1"],
        ],
    );
    // The leader expires `t` and streams a DEL: followers announce the deletion.
    wait_expired(&mut r, "t");
    run(&mut r, &[&["DEL", "b"]]);
    // PUBLISH travels down the stream after everything above.
    run(&mut r, &[&["PUBLISH", marker, "done"]]);
    let got = read_events_until(&mut subs[0], marker);
    let expected = read_events_until(&mut subs[1], marker);
    assert!(expected.len() > 15, "{expected:?}");
    assert_eq!(expected, got);
}
