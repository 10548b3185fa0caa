//! Streams: entries, trimming, consumer groups, blocking reads, replication and
//! persistence. Stock Redis is the oracle: replies must be the same (IDs are given
//! explicitly wherever a reply would otherwise depend on the clock), and stock replicas,
//! stock primaries and stock RDB/DUMP payloads must agree with ours.

mod common;

use common::{
    RawConn, Reply, TestServer, assert_followers_converge, assert_rdb_round_trip,
    ensure_stock_redis, poll_until,
};
use std::time::Duration;

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// The extended XPENDING form reports each entry's idle milliseconds, which depend on
/// when each server ran the command: they are zeroed before comparing (the IDLE filter's
/// cases check the semantics).
fn without_idle_times(case: &[String], reply: Reply) -> Reply {
    if !case[0].eq_ignore_ascii_case("xpending") || case.len() < 6 {
        return reply;
    }
    match reply {
        Reply::Array(entries) => Reply::Array(
            entries
                .into_iter()
                .map(|e| match e {
                    Reply::Array(mut fields) if fields.len() == 4 => {
                        fields[2] = Reply::int(0);
                        Reply::Array(fields)
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

/// Runs every line on both servers and lists those whose replies differ.
fn differences(o: &mut RawConn, s: &mut RawConn, lines: &[&str]) -> Vec<String> {
    let mut diffs = Vec::new();
    for line in lines {
        let case = words(line);
        let (a, b) = (
            without_idle_times(&case, o.cmd(&case)),
            without_idle_times(&case, s.cmd(&case)),
        );
        if a != b {
            diffs.push(format!("{line}\n  stock: {b:?}\n   ours: {a:?}"));
        }
    }
    diffs
}

fn assert_same(lines: &[&str], extra: &[&str]) {
    ensure_stock_redis();
    let ours = TestServer::start(extra);
    let stock = TestServer::start_stock(extra);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    let diffs = differences(&mut o, &mut s, lines);
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

const ENTRY_CASES: &[&str] = &[
    "XADD s 1-1 a 1 b 2",
    "XADD s 1-1 a 1",
    "XADD s 0-0 a 1",
    "XADD s 1-* a 1",
    "XADD s 2 name x",
    "XADD s 3-5 a 1 b 2",
    "XADD s 3-* c 3",
    "XADD s 18446744073709551615-18446744073709551614 z z",
    "XADD s2 abc a 1",
    "XADD s2 1-x a 1",
    "XADD s2 1 a",
    "XADD s2 NOMKSTREAM 1 a 1",
    "EXISTS s2",
    "XADD s2 MAXLEN -1 1 a 1",
    "XADD s2 MAXLEN 1 MINID 1 1 a 1",
    "XADD s2 LIMIT 10 1 a 1",
    "XADD s2 MAXLEN 1 LIMIT 10 1 a 1",
    "XLEN s",
    "XLEN nokey",
    "XRANGE s - +",
    "XRANGE s - + COUNT 2",
    "XRANGE s - + COUNT 0",
    "XRANGE s - + COUNT -3",
    "XRANGE s (1-1 +",
    "XRANGE s 2 3",
    "XRANGE s 3-5 (3-6",
    "XRANGE s (18446744073709551615-18446744073709551615 +",
    "XRANGE s - (0-0",
    "XRANGE s + -",
    "XRANGE s - + LIMIT 1",
    "XRANGE s x +",
    "XRANGE nokey - +",
    "XREVRANGE s + -",
    "XREVRANGE s + - COUNT 1",
    "XREVRANGE s (3-6 -",
    "XDEL s 3-5 9-9",
    "XDEL s bad",
    "XDEL nokey bad",
    "XLEN s",
    "XINFO STREAM s",
    "XSETID s 1-0",
    "XSETID s 18446744073709551615-18446744073709551615",
    "XSETID nokey 5-0",
    "XSETID s 5-0 ENTRIESADDED -1 MAXDELETEDID 1-0",
    "XSETID s 18446744073709551615-18446744073709551615 ENTRIESADDED 1",
    "XSETID s 18446744073709551615-18446744073709551615 ENTRIESADDED 100 MAXDELETEDID 6-0",
    "XINFO STREAM s",
    "XINFO STREAM s FULL COUNT 2 EXTRA",
    "XINFO STREAM nokey",
    "XINFO HELP",
    "XINFO NOPE s",
    "SET str v",
    "XADD str 1 a 1",
    "XRANGE str - +",
    "XLEN str",
    "XREAD STREAMS str 0",
    "XREAD COUNT 1 STREAMS s 0",
    "XREAD STREAMS s nokey 0 0",
    "XREAD STREAMS s $",
    "XREAD STREAMS s",
    "XREAD STREAMS s >",
    "XREAD GROUP g c STREAMS s 0",
    "XREAD NOACK STREAMS s 0",
    "XREAD BLOCK -1 STREAMS s 0",
    "XREAD BLOCK x STREAMS s 0",
];

#[test]
fn entry_commands_match_stock() {
    assert_same(ENTRY_CASES, &[]);
}

const TRIM_CASES: &[&str] = &[
    "CONFIG SET stream-node-max-entries 10",
    "XTRIM nokey MAXLEN 1",
    "XTRIM t MAXLEN",
    "XTRIM t LIMIT 1",
    "XTRIM t MINID ~ 5 LIMIT -1",
    "XTRIM t MAXLEN = 5 LIMIT 2",
    "XLEN t",
];

#[test]
fn trimming_matches_stock_node_for_node() {
    let mut lines: Vec<String> = TRIM_CASES.iter().map(|s| s.to_string()).collect();
    for i in 1..=120 {
        lines.push(format!("XADD t {i}-0 f v{i}"));
    }
    for l in [
        "XTRIM t MAXLEN ~ 55",
        "XLEN t",
        "XINFO STREAM t",
        "XTRIM t MAXLEN ~ 55 LIMIT 5",
        "XTRIM t MAXLEN ~ 10 LIMIT 30",
        "XLEN t",
        "XTRIM t MINID ~ 95",
        "XTRIM t MINID 97",
        "XRANGE t - + COUNT 3",
        "XADD t MAXLEN ~ 5 200-0 f v",
        "XADD t MINID = 110 201-0 g w",
        "XINFO STREAM t",
        "XDEL t 110-0 111-0 112-0",
        "XINFO STREAM t",
        "XTRIM t MAXLEN 0",
        "XINFO STREAM t",
    ] {
        lines.push(l.to_string());
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    assert_same(&refs, &[]);
}

/// Random appends (with repeated and changing field sets, so nodes fill by bytes and
/// by count), deletions and trims: stock and ours must agree on every reply, node
/// counts in XINFO included.
#[test]
fn random_stream_operations_match_stock() {
    ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    let mut seed = 0x5EED_u64;
    let mut rnd = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let mut diffs = Vec::new();
    for c in [
        vec!["CONFIG", "SET", "stream-node-max-entries", "7"],
        vec!["CONFIG", "SET", "stream-node-max-bytes", "300"],
    ] {
        assert_eq!(o.cmd(&c), s.cmd(&c));
    }
    let mut ms = 1u64;
    for step in 0..1500 {
        let cmd: Vec<String> = match rnd(10) {
            0..=5 => {
                ms += rnd(3);
                let id = if rnd(4) == 0 {
                    format!("{ms}-*")
                } else {
                    format!("{ms}-{}", rnd(3) + 100 * step)
                };
                let mut c = vec!["XADD".to_string(), "r".into()];
                match rnd(6) {
                    0 => c.extend(["MAXLEN".into(), "~".into(), rnd(60).to_string()]),
                    1 => c.extend([
                        "MINID".into(),
                        "~".into(),
                        format!("{}", ms.saturating_sub(rnd(40))),
                    ]),
                    2 => c.extend([
                        "MAXLEN".into(),
                        "~".into(),
                        rnd(60).to_string(),
                        "LIMIT".into(),
                        rnd(20).to_string(),
                    ]),
                    _ => {}
                }
                c.push(id);
                let fields = if rnd(3) == 0 {
                    vec!["a", "b"]
                } else {
                    vec!["a"]
                };
                for f in fields {
                    c.push(f.into());
                    c.push("x".repeat(rnd(50) as usize));
                }
                c
            }
            6 | 7 => vec![
                "XDEL".into(),
                "r".into(),
                format!("{}-{}", rnd(ms + 1), rnd(3) + 100 * rnd(step + 1)),
            ],
            8 => vec![
                "XTRIM".into(),
                "r".into(),
                "MAXLEN".into(),
                if rnd(2) == 0 { "~" } else { "=" }.into(),
                rnd(80).to_string(),
            ],
            _ => vec!["XINFO".into(), "STREAM".into(), "r".into()],
        };
        let (a, b) = (o.cmd(&cmd), s.cmd(&cmd));
        if a != b {
            diffs.push(format!(
                "step {step} {cmd:?}\n  stock: {b:?}\n   ours: {a:?}"
            ));
            if diffs.len() > 5 {
                break;
            }
        }
    }
    assert_eq!(
        o.cmd(&["XRANGE", "r", "-", "+"]),
        s.cmd(&["XRANGE", "r", "-", "+"])
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

const GROUP_CASES: &[&str] = &[
    "XGROUP CREATE q g $",
    "XGROUP CREATE q g $ MKSTREAM",
    "XGROUP CREATE q g $ MKSTREAM",
    "XGROUP CREATE q g2 0 ENTRIESREAD -2",
    "XGROUP CREATE q g2 0 ENTRIESREAD 0 EXTRA",
    "XGROUP CREATE q g3 0",
    "XADD q 1-0 job a",
    "XADD q 2-0 job b",
    "XADD q 3-0 job c",
    "XADD q 4-0 job d",
    "XINFO GROUPS q",
    "XREADGROUP GROUP g alice COUNT 2 STREAMS q >",
    "XREADGROUP GROUP g bob STREAMS q >",
    "XREADGROUP GROUP g bob STREAMS q >",
    "XREADGROUP GROUP g alice STREAMS q 0",
    "XREADGROUP GROUP g alice STREAMS q 1-0",
    "XREADGROUP GROUP nog alice STREAMS q >",
    "XREADGROUP GROUP g alice STREAMS nokey >",
    "XREADGROUP GROUP g alice STREAMS q $",
    "XREADGROUP STREAMS q >",
    "XREADGROUP GROUP g3 carol NOACK STREAMS q >",
    "XPENDING q g",
    "XPENDING q g3",
    "XPENDING q nog",
    "XPENDING q g - + 10 nobody",
    "XPENDING q g - + x",
    "XPENDING q g IDLE 0 - +",
    "XPENDING q g (1-0 + 1 bob EXTRA EXTRA",
    "XACK q g 1-0 9-0",
    "XACK q g bad",
    "XACK q nog bad",
    "XACK nokey g 1-0",
    "XPENDING q g",
    "XCLAIM q g bob 0 2-0 JUSTID",
    "XCLAIM q g bob 0 2-0 TIME 1000 RETRYCOUNT 7 JUSTID",
    "XCLAIM q g bob x 2-0",
    "XCLAIM q g bob 0 2-0 BOGUS",
    "XCLAIM q nog bob 0 2-0",
    "XCLAIM q g dave 0 3-0 FORCE JUSTID",
    "XCLAIM q g dave 0 4-0 FORCE LASTID 9-0",
    "XINFO GROUPS q",
    "XDEL q 3-0",
    "XAUTOCLAIM q g erin 0 0 COUNT 10 JUSTID",
    "XAUTOCLAIM q g erin 0 0 COUNT 0",
    "XAUTOCLAIM q g erin x 0",
    "XAUTOCLAIM q nog erin 0 0",
    "XAUTOCLAIM q g erin 0 0 BOGUS",
    "XPENDING q g",
    "XINFO GROUPS q",
    "XGROUP CREATECONSUMER q g frank",
    "XGROUP CREATECONSUMER q g frank",
    "XGROUP CREATECONSUMER q nog frank",
    "XGROUP DELCONSUMER q g erin",
    "XGROUP DELCONSUMER q g nobody",
    "XGROUP SETID q g 0 ENTRIESREAD 0",
    "XGROUP SETID q g $",
    "XGROUP SETID q nog $",
    "XGROUP SETID nokey g $",
    "XGROUP DESTROY q g2",
    "XGROUP DESTROY q g2",
    "XGROUP NOPE q g",
    "XGROUP HELP",
    "XINFO GROUPS q",
    "XINFO CONSUMERS q nog",
    "XINFO STREAM q",
    "SET str v",
    "XGROUP CREATE str g $",
    "XREADGROUP GROUP g c STREAMS str >",
];

#[test]
fn consumer_groups_match_stock() {
    assert_same(GROUP_CASES, &[]);
}

/// Blocking reads wake on XADD, on a group destroyed, on a key deleted, and time out
/// with a nil reply; inside MULTI they never block.
#[test]
fn blocking_reads_wake_and_time_out() {
    let srv = TestServer::start(&[]);
    let mut r = srv.raw();
    let mut b = srv.raw();
    r.cmd(&["XADD", "s", "1-0", "a", "1"]);
    b.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || {
            common::info_field(&r.cmd(&["INFO", "clients"]).as_string(), "blocked_clients")
                .as_deref()
                == Some("1")
        }
    ));
    r.cmd(&["XADD", "s", "2-0", "b", "2"]);
    assert_eq!(
        b.read_reply(),
        Reply::arr(vec![Reply::arr(vec![
            Reply::bulk("s"),
            Reply::arr(vec![Reply::arr(vec![
                Reply::bulk("2-0"),
                Reply::bulks(&["b", "2"])
            ])])
        ])])
    );
    // A timeout answers nil.
    assert_eq!(
        b.cmd(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]),
        Reply::Nil
    );
    // A group reader is served new entries and they become pending.
    r.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
    b.send_cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || {
            common::info_field(&r.cmd(&["INFO", "clients"]).as_string(), "blocked_clients")
                .as_deref()
                == Some("1")
        }
    ));
    r.cmd(&["XADD", "s", "3-0", "c", "3"]);
    assert_eq!(
        b.read_reply().as_array()[0].as_array()[1].as_array().len(),
        1
    );
    assert_eq!(r.cmd(&["XPENDING", "s", "g"]).as_array()[0], Reply::int(1));
    // Destroying the group fails the blocked reader with NOGROUP.
    b.send_cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || {
            common::info_field(&r.cmd(&["INFO", "clients"]).as_string(), "blocked_clients")
                .as_deref()
                == Some("1")
        }
    ));
    r.cmd(&["XGROUP", "DESTROY", "s", "g"]);
    assert!(b.read_reply().err_text().starts_with("NOGROUP"));
    // Deleting the key fails a blocked group reader with UNBLOCKED.
    r.cmd(&["XGROUP", "CREATE", "s", "g", "$"]);
    b.send_cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || {
            common::info_field(&r.cmd(&["INFO", "clients"]).as_string(), "blocked_clients")
                .as_deref()
                == Some("1")
        }
    ));
    r.cmd(&["DEL", "s"]);
    assert!(b.read_reply().err_text().starts_with("UNBLOCKED"));
    // Inside MULTI a blocking read answers at once.
    b.cmd(&["MULTI"]);
    b.cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    assert_eq!(b.cmd(&["EXEC"]), Reply::arr(vec![Reply::Nil]));
}

/// A client blocked on a follower is woken by an entry the leader replicates.
#[test]
fn a_blocked_read_on_a_follower_wakes_on_replicated_entries() {
    let leader = TestServer::start(&[]);
    let lp = leader.port.to_string();
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let mut l = leader.raw();
    l.cmd(&["XADD", "s", "1-0", "a", "1"]);
    let mut f = follower.raw();
    assert!(poll_until(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || { f.cmd(&["XLEN", "s"]) == Reply::int(1) }
    ));
    let mut b = follower.raw();
    b.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || {
            common::info_field(&f.cmd(&["INFO", "clients"]).as_string(), "blocked_clients")
                .as_deref()
                == Some("1")
        }
    ));
    l.cmd(&["XADD", "s", "2-0", "b", "2"]);
    let got = b
        .try_read_reply(Duration::from_secs(10))
        .expect("woken by the replicated XADD");
    assert_eq!(
        got.as_array()[0].as_array()[1].as_array()[0].as_array()[0],
        Reply::bulk("2-0")
    );
}

fn group_fill(r: &mut RawConn) {
    r.cmd(&["CONFIG", "SET", "stream-node-max-entries", "4"]);
    for i in 1..=30 {
        r.cmd(&["XADD", "s", "*", "f", &i.to_string(), "g", "x"]);
    }
    r.cmd(&["XADD", "s", "MAXLEN", "~", "20", "*", "other", "y"]);
    r.cmd(&["XDEL", "s", "0-1"]);
    let first =
        r.cmd(&["XRANGE", "s", "-", "+", "COUNT", "1"]).as_array()[0].as_array()[0].as_string();
    r.cmd(&["XDEL", "s", &first]);
    r.cmd(&["XGROUP", "CREATE", "s", "g", "0"]);
    r.cmd(&["XGROUP", "CREATE", "s", "noack", "0"]);
    r.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "5",
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
        "3",
        "STREAMS",
        "s",
        ">",
    ]);
    r.cmd(&[
        "XREADGROUP",
        "GROUP",
        "noack",
        "carol",
        "NOACK",
        "COUNT",
        "4",
        "STREAMS",
        "s",
        ">",
    ]);
    let pending = r.cmd(&["XPENDING", "s", "g", "-", "+", "1"]);
    let id = pending.as_array()[0].as_array()[0].as_string();
    r.cmd(&["XACK", "s", "g", &id]);
    r.cmd(&[
        "XCLAIM",
        "s",
        "g",
        "dave",
        "0",
        &pending.as_array()[0].as_array()[0].as_string(),
    ]);
    r.cmd(&["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "2"]);
    r.cmd(&["XTRIM", "s", "MINID", "~", "0"]);
    r.cmd(&["XADD", "t", "NOMKSTREAM", "*", "a", "1"]);
    r.cmd(&["XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"]);
    r.cmd(&[
        "XSETID",
        "empty",
        "5-5",
        "ENTRIESADDED",
        "3",
        "MAXDELETEDID",
        "4-0",
    ]);
}

fn group_state(r: &mut RawConn) -> Vec<Reply> {
    vec![
        r.cmd(&["XINFO", "GROUPS", "s"]),
        r.cmd(&["XPENDING", "s", "g"]),
        r.cmd(&["XPENDING", "s", "noack"]),
        r.cmd(&["XINFO", "GROUPS", "empty"]),
        r.cmd(&["XINFO", "STREAM", "s"]),
    ]
}

/// What must match the leader itself: entries, pending lists and delivered IDs. (A
/// group's read counter is not replicated by XCLAIM, so stock replicas of a stock
/// primary may report another `entries-read`; they are compared with each other.)
fn leader_state(r: &mut RawConn) -> Vec<Reply> {
    vec![
        r.cmd(&["XRANGE", "s", "-", "+"]),
        r.cmd(&["XPENDING", "s", "g"]),
        r.cmd(&["XPENDING", "s", "noack"]),
        // Only the IDs (delivery times differ); an error (a replica still syncing has no
        // group yet) is kept as it is, so polling goes on instead of panicking.
        match r.cmd(&["XPENDING", "s", "g", "-", "+", "100"]) {
            Reply::Array(items) => {
                Reply::arr(items.iter().map(|p| p.as_array()[0].clone()).collect())
            }
            other => other,
        },
    ]
}

/// Starts our follower and a stock replica of the leader at `port` and checks they end
/// with the leader's entries and pending lists, and with the same group state as each
/// other.
fn assert_replicas_agree(leader: &mut RawConn, port: u16) {
    let lp = port.to_string();
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let stock = TestServer::start_stock(&["--replicaof", "127.0.0.1", &lp]);
    // Both replicas finish their full sync first, so both get what follows by the stream:
    // a stream that arrives in a snapshot keeps the leader's node layout and read counters,
    // one rebuilt from the stream gets the replica's own, and the two are compared below.
    for replica in [&follower, &stock] {
        let mut r = replica.raw();
        assert!(
            poll_until(Duration::from_secs(20), Duration::from_millis(20), || {
                let info = r.cmd(&["INFO", "replication"]).as_string();
                common::info_field(&info, "master_link_status").as_deref() == Some("up")
            }),
            "replica on port {} never linked",
            replica.port
        );
    }
    group_fill(leader);
    let want = leader_state(leader);
    let (mut f, mut s) = (follower.raw(), stock.raw());
    assert!(
        poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
            leader_state(&mut f) == want && leader_state(&mut s) == want
        }),
        "replicas differ from the leader: ours {:?} stock {:?} leader {:?}",
        leader_state(&mut f),
        leader_state(&mut s),
        want
    );
    assert_eq!(group_state(&mut f), group_state(&mut s));
}

/// Our follower and a stock replica end with the leader's entries (digest), pending
/// lists and delivered IDs, and agree with each other on every group counter.
#[test]
fn followers_and_stock_replicas_keep_streams_and_groups() {
    ensure_stock_redis();
    assert_followers_converge(group_fill);
    let leader = TestServer::start(&[]);
    assert_replicas_agree(&mut leader.raw(), leader.port);
}

/// Our follower of a stock primary holds what a stock replica of it holds.
#[test]
fn a_follower_of_a_stock_primary_keeps_streams_and_groups() {
    ensure_stock_redis();
    let primary = TestServer::start_stock(&["--repl-diskless-sync-delay", "0"]);
    let mut p = primary.raw();
    // Some of it reaches the replicas by the full sync, the rest by the stream.
    for i in 1..=10 {
        p.cmd(&["XADD", "early", "*", "n", &i.to_string()]);
    }
    p.cmd(&["XGROUP", "CREATE", "early", "g", "0"]);
    p.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "a",
        "COUNT",
        "3",
        "STREAMS",
        "early",
        ">",
    ]);
    assert_replicas_agree(&mut p, primary.port);
}

/// Streams survive SAVE into stock Redis (redis-check-rdb accepts the file) and back.
#[test]
fn streams_round_trip_through_rdb_with_stock() {
    ensure_stock_redis();
    let check = |r: &mut RawConn| {
        assert_eq!(r.cmd(&["XINFO", "GROUPS", "empty"]).as_array().len(), 1);
        assert!(r.cmd(&["XPENDING", "s", "g"]).as_array()[0].as_int() > 0);
    };
    assert_rdb_round_trip(group_fill, check, check);
}

/// DUMP on one side, RESTORE on the other, both ways: same entries and groups.
#[test]
fn dump_and_restore_streams_across_stock() {
    ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    group_fill(&mut o);
    group_fill(&mut s);
    for ours_first in [true, false] {
        let (from, to) = if ours_first {
            (&mut o, &mut s)
        } else {
            (&mut s, &mut o)
        };
        let payload = from.cmd(&["DUMP", "s"]).as_bytes();
        assert_eq!(
            to.cmd(&[&b"RESTORE"[..], b"copy", b"0", &payload]),
            Reply::ok()
        );
        assert_eq!(
            to.cmd(&["XRANGE", "copy", "-", "+"]),
            from.cmd(&["XRANGE", "s", "-", "+"])
        );
        assert_eq!(
            to.cmd(&["XINFO", "GROUPS", "copy"]),
            from.cmd(&["XINFO", "GROUPS", "s"])
        );
        assert_eq!(
            to.cmd(&["XPENDING", "copy", "g"]),
            from.cmd(&["XPENDING", "s", "g"])
        );
        to.cmd(&["DEL", "copy"]);
    }
    let mut bad = o.cmd(&["DUMP", "s"]).as_bytes();
    let n = bad.len();
    bad[n / 2] ^= 0xFF;
    assert_eq!(
        o.cmd(&[&b"RESTORE"[..], b"bad", b"0", &bad]),
        s.cmd(&[&b"RESTORE"[..], b"bad", b"0", &bad])
    );
}

/// XREAD replies are maps under RESP3, as stock sends them.
#[test]
fn resp3_read_replies_are_maps() {
    ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    for c in [&mut o, &mut s] {
        c.cmd(&["HELLO", "3"]);
    }
    let diffs = differences(
        &mut o,
        &mut s,
        &[
            "XADD s 1-0 a 1",
            "XGROUP CREATE s g 0",
            "XREAD STREAMS s 0",
            "XREADGROUP GROUP g c STREAMS s >",
            "XINFO STREAM s",
            "XINFO GROUPS s",
            "XPENDING s g",
        ],
    );
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
