//! Lists (blocking commands to come): commands with their errors, a randomized model
//! test, replication to our follower and a stock replica, RDB both ways.

mod common;

use common::*;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

#[test]
fn list_commands_and_errors() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["RPUSH", "l", "a", "b", "c"]), Reply::int(3));
    assert_eq!(r.cmd(&["LPUSH", "l", "z", "y"]), Reply::int(5));
    assert_eq!(r.cmd(&["LPUSHX", "nokey", "a"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["LRANGE", "l", "0", "-1"]),
        Reply::bulks(&["y", "z", "a", "b", "c"])
    );
    assert_eq!(
        r.cmd(&["LRANGE", "l", "-100", "1"]),
        Reply::bulks(&["y", "z"])
    );
    assert_eq!(r.cmd(&["LRANGE", "l", "5", "1"]), Reply::Array(vec![]));
    assert_eq!(r.cmd(&["LINDEX", "l", "-1"]), Reply::bulk("c"));
    assert_eq!(r.cmd(&["LINDEX", "l", "99"]), Reply::Nil);
    assert_eq!(
        r.cmd(&["LSET", "l", "99", "x"]),
        Reply::err("ERR index out of range")
    );
    assert_eq!(
        r.cmd(&["LSET", "nokey", "0", "x"]),
        Reply::err("ERR no such key")
    );
    assert_eq!(r.cmd(&["LINSERT", "l", "BEFORE", "b", "B"]), Reply::int(6));
    assert_eq!(
        r.cmd(&["LINSERT", "l", "AFTER", "nope", "x"]),
        Reply::int(-1)
    );
    assert_eq!(
        r.cmd(&["LINSERT", "l", "MIDDLE", "b", "x"]),
        Reply::err("ERR syntax error")
    );
    r.cmd(&["RPUSH", "r", "a", "b", "a", "c", "a"]);
    assert_eq!(r.cmd(&["LREM", "r", "-1", "a"]), Reply::int(1));
    assert_eq!(
        r.cmd(&["LRANGE", "r", "0", "-1"]),
        Reply::bulks(&["a", "b", "a", "c"])
    );
    r.cmd(&["RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c"]);
    assert_eq!(r.cmd(&["LPOS", "p", "c", "RANK", "-1"]), Reply::int(7));
    assert_eq!(
        r.cmd(&["LPOS", "p", "c", "COUNT", "0"]),
        Reply::Array(vec![Reply::int(2), Reply::int(6), Reply::int(7)])
    );
    assert_eq!(r.cmd(&["LPOS", "p", "c", "MAXLEN", "2"]), Reply::Nil);
    assert!(
        r.cmd(&["LPOS", "p", "c", "RANK", "0"])
            .err_text()
            .starts_with("ERR RANK can't be zero")
    );
    assert_eq!(r.cmd(&["LTRIM", "p", "1", "-2"]), Reply::ok());
    assert_eq!(r.cmd(&["LLEN", "p"]), Reply::int(6));
    assert_eq!(r.cmd(&["LTRIM", "p", "5", "1"]), Reply::ok());
    assert_eq!(r.cmd(&["EXISTS", "p"]), Reply::int(0));
    assert_eq!(r.cmd(&["RPOP", "l", "2"]), Reply::bulks(&["c", "b"]));
    assert_eq!(r.cmd(&["LPOP", "l", "0"]), Reply::Array(vec![]));
    assert_eq!(
        r.cmd(&["LPOP", "l", "-1"]),
        Reply::err("ERR value is out of range, must be positive")
    );
    assert_eq!(r.cmd(&["LPOP", "nokey", "2"]), Reply::Nil);
    r.cmd(&["RPUSH", "m1", "1", "2", "3"]);
    assert_eq!(
        r.cmd(&["LMOVE", "m1", "m2", "LEFT", "RIGHT"]),
        Reply::bulk("1")
    );
    assert_eq!(r.cmd(&["RPOPLPUSH", "m1", "m2"]), Reply::bulk("3"));
    assert_eq!(
        r.cmd(&["LRANGE", "m2", "0", "-1"]),
        Reply::bulks(&["3", "1"])
    );
    assert_eq!(
        r.cmd(&["LMPOP", "2", "nokey", "m2", "RIGHT", "COUNT", "5"]),
        Reply::Array(vec![Reply::bulk("m2"), Reply::bulks(&["1", "3"])])
    );
    assert_eq!(
        r.cmd(&["LMPOP", "2", "m2", "LEFT"]),
        Reply::err("ERR syntax error")
    );
    assert_eq!(
        r.cmd(&["LMPOP", "0", "m2", "LEFT"]),
        Reply::err("ERR numkeys should be greater than 0")
    );
    r.cmd(&["SET", "s", "v"]);
    assert_eq!(
        r.cmd(&["LPUSH", "s", "a"]),
        Reply::err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    assert_eq!(r.cmd(&["TYPE", "l"]), Reply::simple("list"));
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "l"]),
        Reply::bulk("quicklist")
    );
}

#[test]
fn randomized_against_a_model() {
    use rand::{RngExt, SeedableRng};
    let (_s, mut r) = setup();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut model: BTreeMap<String, VecDeque<String>> = BTreeMap::new();
    for step in 0..3000 {
        let key = format!("l{}", rng.random_range(0..3));
        let el = format!("e{}", rng.random_range(0..6));
        let l = model.entry(key.clone()).or_default();
        match rng.random_range(0..7) {
            0 => {
                l.push_front(el.clone());
                assert_eq!(r.cmd(&["LPUSH", &key, &el]), Reply::int(l.len() as i64));
            }
            1 => {
                l.push_back(el.clone());
                assert_eq!(r.cmd(&["RPUSH", &key, &el]), Reply::int(l.len() as i64));
            }
            2 => {
                let want = l.pop_front().map_or(Reply::Nil, Reply::bulk);
                assert_eq!(r.cmd(&["LPOP", &key]), want, "step {step}");
            }
            3 => {
                let want = l.pop_back().map_or(Reply::Nil, Reply::bulk);
                assert_eq!(r.cmd(&["RPOP", &key]), want, "step {step}");
            }
            4 => {
                let n = rng.random_range(-2i64..3);
                let limit = if n == 0 {
                    usize::MAX
                } else {
                    n.unsigned_abs() as usize
                };
                let mut removed = 0;
                if n >= 0 {
                    let mut i = 0;
                    while i < l.len() && removed < limit {
                        if l[i] == el {
                            l.remove(i);
                            removed += 1;
                        } else {
                            i += 1;
                        }
                    }
                } else {
                    let mut i = l.len();
                    while i > 0 && removed < limit {
                        i -= 1;
                        if l[i] == el {
                            l.remove(i);
                            removed += 1;
                        }
                    }
                }
                assert_eq!(
                    r.cmd(&["LREM", &key, &n.to_string(), &el]),
                    Reply::int(removed as i64)
                );
            }
            5 => {
                let (s, e) = (rng.random_range(-4i64..4), rng.random_range(-4i64..4));
                let len = l.len() as i64;
                let (a, b) = (
                    if s < 0 { (len + s).max(0) } else { s },
                    if e < 0 { len + e } else { e.min(len - 1) },
                );
                let kept: VecDeque<String> = if a > b || a >= len {
                    VecDeque::new()
                } else {
                    l.range(a as usize..=b as usize).cloned().collect()
                };
                *l = kept;
                assert_eq!(
                    r.cmd(&["LTRIM", &key, &s.to_string(), &e.to_string()]),
                    Reply::ok()
                );
            }
            _ => {
                let dst = format!("l{}", rng.random_range(0..3));
                let moved = l.pop_back();
                let want = moved.clone().map_or(Reply::Nil, Reply::bulk);
                if let Some(m) = moved {
                    model.entry(dst.clone()).or_default().push_front(m);
                }
                assert_eq!(r.cmd(&["RPOPLPUSH", &key, &dst]), want, "step {step}");
            }
        }
        model.retain(|_, l| !l.is_empty());
        for k in ["l0", "l1", "l2"] {
            let want: Vec<String> = model
                .get(k)
                .map(|l| l.iter().cloned().collect())
                .unwrap_or_default();
            assert_eq!(
                r.cmd(&["LRANGE", k, "0", "-1"]).strings(),
                want,
                "step {step} key {k}"
            );
        }
    }
}

fn fill_lists(r: &mut RawConn) {
    for i in 0..30 {
        r.cmd(&["RPUSH", &format!("q:{i}"), "a", "b", &i.to_string()]);
    }
    for i in 0..1000 {
        r.cmd(&["LPUSH", "big", &format!("item-{i}")]);
    }
    r.cmd(&["LPOP", "q:1", "2"]);
    r.cmd(&["LMOVE", "q:2", "q:3", "LEFT", "RIGHT"]);
    r.cmd(&["LMPOP", "2", "nokey", "q:4", "RIGHT", "COUNT", "2"]);
    r.cmd(&["LTRIM", "big", "10", "-10"]);
    r.cmd(&["LREM", "q:5", "0", "a"]);
}

#[test]
fn lists_replicate_to_our_follower_and_a_stock_replica() {
    assert_followers_converge(fill_lists);
}

#[test]
fn rdb_with_lists_loads_in_stock_redis_and_back() {
    assert_rdb_round_trip(
        fill_lists,
        |_| {},
        |b| assert_eq!(b.cmd(&["LINDEX", "big", "0"]), Reply::bulk("item-989")),
    );
}

fn blocked_count(r: &mut RawConn) -> String {
    info_field(&r.cmd(&["INFO", "clients"]).as_string(), "blocked_clients").unwrap_or_default()
}

/// Blocking pops: timeouts, first blocked first served, served by another client's push,
/// BLMOVE, no blocking inside MULTI, a client that leaves while blocked loses nothing,
/// and followers replay the pops that were served.
#[test]
fn blocking_pops() {
    let leader = TestServer::start(&[]);
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &leader.port.to_string()]);
    let mut w = leader.raw();
    // Timeout.
    let started = std::time::Instant::now();
    assert_eq!(w.cmd(&["BLPOP", "empty", "0.2"]), Reply::Nil);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(
        w.cmd(&["BLPOP", "k", "-1"]),
        Reply::err("ERR timeout is negative")
    );
    // Two clients blocked on the same key: served in arrival order.
    let mut a = leader.raw();
    let mut b = leader.raw();
    a.send_cmd(&["BLPOP", "q1", "q2", "5"]);
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || blocked_count(&mut w) == "1"
    ));
    b.send_cmd(&["BRPOP", "q2", "5"]);
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || blocked_count(&mut w) == "2"
    ));
    assert_eq!(w.cmd(&["RPUSH", "q2", "x", "y", "z"]), Reply::int(3));
    assert_eq!(a.read_reply(), Reply::bulks(&["q2", "x"]));
    assert_eq!(b.read_reply(), Reply::bulks(&["q2", "z"]));
    assert_eq!(w.cmd(&["LRANGE", "q2", "0", "-1"]), Reply::bulks(&["y"]));
    assert_eq!(blocked_count(&mut w), "0");
    // BLMOVE served by a push.
    a.send_cmd(&["BLMOVE", "src", "dst", "LEFT", "RIGHT", "5"]);
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || blocked_count(&mut w) == "1"
    ));
    w.cmd(&["LPUSH", "src", "e"]);
    assert_eq!(a.read_reply(), Reply::bulk("e"));
    assert_eq!(w.cmd(&["LRANGE", "dst", "0", "-1"]), Reply::bulks(&["e"]));
    // Inside MULTI nothing blocks.
    w.cmd(&["MULTI"]);
    w.cmd(&["BLPOP", "empty", "10"]);
    assert_eq!(w.cmd(&["EXEC"]), Reply::Array(vec![Reply::Nil]));
    // A client that leaves while blocked takes nothing with it.
    {
        let mut gone = leader.raw();
        gone.send_cmd(&["BLPOP", "later", "10"]);
        assert!(poll_until(
            Duration::from_secs(5),
            Duration::from_millis(10),
            || blocked_count(&mut w) == "1"
        ));
    }
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || blocked_count(&mut w) == "0"
    ));
    w.cmd(&["RPUSH", "later", "kept"]);
    assert_eq!(
        w.cmd(&["LRANGE", "later", "0", "-1"]),
        Reply::bulks(&["kept"])
    );
    // The follower replayed exactly the pops that were served.
    let mut f = follower.raw();
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { f.cmd(&["DEBUG", "DIGEST"]) == w.cmd(&["DEBUG", "DIGEST"]) }
    ));
    assert_eq!(f.cmd(&["LRANGE", "q2", "0", "-1"]), Reply::bulks(&["y"]));
}

/// Blocking pops under concurrent pushes: a push that lands between a consumer's
/// empty check and its registration as blocked would leave the element in the list while
/// the consumer sleeps. Consumers block on two keys (BLPOP and BLMOVE) while producers
/// push; every element must be served exactly once and nothing may be left behind.
#[test]
fn concurrent_pushes_never_strand_a_blocked_consumer() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const PRODUCERS: usize = 4;
    const PER_PRODUCER: usize = 500;
    let s = TestServer::start(&[]);
    let total = PRODUCERS * PER_PRODUCER;
    let served = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..6)
        .map(|i| {
            let mut c = s.raw();
            let served = served.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while served.load(Ordering::SeqCst) < total {
                    // A short timeout only lets a consumer notice that everything was served.
                    let reply = if i % 2 == 0 {
                        c.cmd(&["BLPOP", "q1", "q2", "0.2"])
                    } else {
                        c.cmd(&["BLMOVE", "q2", "done", "LEFT", "RIGHT", "0.2"])
                    };
                    match reply {
                        Reply::Nil => {}
                        Reply::Array(kv) => {
                            got.push(kv[1].as_string());
                            served.fetch_add(1, Ordering::SeqCst);
                        }
                        Reply::Bulk(v) => {
                            got.push(String::from_utf8(v).unwrap());
                            served.fetch_add(1, Ordering::SeqCst);
                        }
                        other => panic!("unexpected {other:?}"),
                    }
                }
                got
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let mut w = s.raw();
            std::thread::spawn(move || {
                for n in 0..PER_PRODUCER {
                    let key = if n % 2 == 0 { "q1" } else { "q2" };
                    assert!(!w.cmd(&["RPUSH", key, &format!("{p}-{n}")]).is_error());
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut r = s.raw();
    // Elements stranded in a list while consumers sleep would keep `served` short.
    assert!(
        poll_until(
            Duration::from_secs(10),
            Duration::from_millis(10),
            || served.load(Ordering::SeqCst) == total
        ),
        "served {} of {total}; left: q1={:?} q2={:?}",
        served.load(Ordering::SeqCst),
        r.cmd(&["LLEN", "q1"]),
        r.cmd(&["LLEN", "q2"])
    );
    let mut all: Vec<String> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "every element served exactly once");
    assert_eq!(r.cmd(&["EXISTS", "q1", "q2"]), Reply::int(0));
    // What BLMOVE served is in `done`, once each.
    let mut done = r.cmd(&["LRANGE", "done", "0", "-1"]).strings();
    let moved = done.len();
    done.sort();
    done.dedup();
    assert_eq!(done.len(), moved);
}

#[test]
fn mpop_argument_errors_are_stock_texts() {
    // LMPOP, BLMPOP, ZMPOP and BZMPOP parse `numkeys key... side [COUNT n]` alike.
    let (_s, mut r) = setup();
    let numkeys = "ERR numkeys should be greater than 0";
    let count = "ERR count should be greater than 0";
    for (req, err) in [
        (&["LMPOP", "x", "a", "LEFT"][..], numkeys),
        (&["LMPOP", "0", "a", "LEFT"], numkeys),
        (&["BLMPOP", "0", "x", "a", "LEFT"], numkeys),
        (&["ZMPOP", "x", "a", "MIN"], numkeys),
        (&["BZMPOP", "0", "-1", "a", "MIN"], numkeys),
        (&["LMPOP", "1", "a", "LEFT", "COUNT", "x"], count),
        (&["BLMPOP", "0", "1", "a", "LEFT", "COUNT", "0"], count),
        (&["ZMPOP", "1", "a", "MIN", "COUNT", "-2"], count),
        (
            &["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "2"],
            "ERR syntax error",
        ),
        (&["LMPOP", "1", "a", "LEFT", "COUNT"], "ERR syntax error"),
        (&["LMPOP", "1", "a", "MIN"], "ERR syntax error"),
        (&["ZMPOP", "1", "a", "LEFT"], "ERR syntax error"),
        (&["LMPOP", "3", "a", "LEFT"], "ERR syntax error"),
    ] {
        assert_eq!(r.cmd(req), Reply::err(err), "{req:?}");
    }
}

/// BLMOVE/BRPOPLPUSH from an empty source block whatever the destination holds (CLIENT
/// LIST shows the `b` flag); served later into a non-list destination, the client gets
/// WRONGTYPE and the element stays, as stock does (FC_SERVER_BIN=redis-server runs it
/// there too).
#[test]
fn blocked_move_checks_the_destination_when_served() {
    let (s, mut r) = setup();
    r.cmd(&["SET", "target", "nolist"]);
    let mut blocked = s.raw();
    let id = blocked.cmd(&["CLIENT", "ID"]).as_int().to_string();
    blocked.send_cmd(&["BRPOPLPUSH", "src", "target", "0"]);
    let flags = |r: &mut common::RawConn| {
        let line = r.cmd(&["CLIENT", "LIST", "ID", &id]).as_string();
        line.split(' ')
            .find_map(|f| f.strip_prefix("flags=").map(str::to_string))
            .unwrap_or_default()
    };
    assert!(common::poll_until(
        std::time::Duration::from_secs(5),
        std::time::Duration::from_millis(10),
        || flags(&mut r) == "b"
    ));
    r.cmd(&["RPUSH", "src", "foo"]);
    assert_eq!(
        blocked.read_reply().err_text(),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(r.cmd(&["LRANGE", "src", "0", "-1"]), Reply::bulks(&["foo"]));
    assert_eq!(flags(&mut r), "N");
    // With elements to move, the destination is checked at once.
    assert_eq!(
        blocked
            .cmd(&["BRPOPLPUSH", "src", "target", "0"])
            .err_text(),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

/// Keys written by one command are served in the order they were written, as Redis's
/// ready-keys list: four clients blocked on two keys, a transaction fills the first key
/// then the second; the first key's clients drain it before the second key is served.
#[test]
fn blocked_clients_are_served_in_the_order_their_keys_were_written() {
    let (s, mut r) = setup();
    let pops: [(&str, &str); 4] = [
        ("LEFT", "1"),
        ("RIGHT", "10"),
        ("LEFT", "10"),
        ("RIGHT", "1"),
    ];
    let mut clients = Vec::new();
    for (i, (side, count)) in pops.iter().enumerate() {
        let mut c = s.raw();
        c.send_cmd(&["BLMPOP", "0", "2", "first", "second", side, "COUNT", count]);
        let want = (i + 1).to_string();
        assert!(common::poll_until(
            std::time::Duration::from_secs(5),
            std::time::Duration::from_millis(10),
            || blocked_count(&mut r) == want
        ));
        clients.push(c);
    }
    r.cmd(&["MULTI"]);
    r.cmd(&["LPUSH", "first", "a", "b", "c", "d", "e"]);
    r.cmd(&["LPUSH", "second", "1", "2", "3", "4", "5"]);
    r.cmd(&["EXEC"]);
    let served =
        |key: &str, items: &[&str]| Reply::Array(vec![Reply::bulk(key), Reply::bulks(items)]);
    assert_eq!(clients[0].read_reply(), served("first", &["e"]));
    assert_eq!(
        clients[1].read_reply(),
        served("first", &["a", "b", "c", "d"])
    );
    assert_eq!(
        clients[2].read_reply(),
        served("second", &["5", "4", "3", "2", "1"])
    );
    assert_eq!(blocked_count(&mut r), "1");
    r.cmd(&["LPUSH", "second", "1", "2", "3"]);
    assert_eq!(clients[3].read_reply(), served("second", &["1"]));
}
