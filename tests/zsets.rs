//! Sorted sets: every command with its errors (texts as stock Redis 7.0 sends them), score
//! formatting, RESP3 reply shapes, encodings, blocking pops, a randomized model test,
//! replication (to our follower and a stock replica, compared by DEBUG DIGEST) and RDB
//! both ways.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const LEX_NOT_VALID: &str = "ERR min or max not valid string range item";
const SYNTAX: &str = "ERR syntax error";
const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";

/// A flat member/score array as (member, score) pairs.
fn pairs(r: &Reply) -> Vec<(String, String)> {
    r.strings()
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect()
}

fn blocked_count(r: &mut RawConn) -> String {
    info_field(&r.cmd(&["INFO", "clients"]).as_string(), "blocked_clients").unwrap_or_default()
}

fn wait_blocked(r: &mut RawConn, n: usize) {
    assert!(
        poll_until(Duration::from_secs(5), Duration::from_millis(10), || {
            blocked_count(r) == n.to_string()
        }),
        "expected {n} blocked clients, have {}",
        blocked_count(r)
    );
}

#[test]
fn zadd_flags_and_errors() {
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]),
        Reply::int(3)
    );
    // Option combinations.
    assert_eq!(
        r.cmd(&["ZADD", "z", "NX", "XX", "1", "a"]),
        Reply::err("ERR XX and NX options at the same time are not compatible")
    );
    assert_eq!(
        r.cmd(&["ZADD", "z", "NX", "XX", "INCR", "1", "a"]),
        Reply::err("ERR XX and NX options at the same time are not compatible")
    );
    for flags in [["GT", "LT"], ["GT", "NX"], ["LT", "NX"]] {
        assert_eq!(
            r.cmd(&["ZADD", "z", flags[0], flags[1], "1", "a"]),
            Reply::err("ERR GT, LT, and/or NX options at the same time are not compatible"),
            "{flags:?}"
        );
    }
    assert_eq!(
        r.cmd(&["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        Reply::err("ERR INCR option supports a single increment-element pair")
    );
    assert_eq!(
        r.cmd(&["ZADD", "z", "GT", "INCR", "1", "a", "2", "b"]),
        Reply::err("ERR INCR option supports a single increment-element pair")
    );
    // Arity and pairs.
    assert_eq!(
        r.cmd(&["ZADD", "z"]),
        Reply::err("ERR wrong number of arguments for 'zadd' command")
    );
    assert_eq!(
        r.cmd(&["ZADD", "z", "1"]),
        Reply::err("ERR wrong number of arguments for 'zadd' command")
    );
    assert_eq!(r.cmd(&["ZADD", "z", "1", "a", "2"]), Reply::err(SYNTAX));
    assert_eq!(r.cmd(&["ZADD", "z", "NX", "1"]), Reply::err(SYNTAX));
    assert_eq!(r.cmd(&["ZADD", "z", "INCR", "1"]), Reply::err(SYNTAX));
    assert_eq!(r.cmd(&["ZADD", "z", "FOO", "1", "a"]), Reply::err(SYNTAX));
    // Scores.
    for bad in ["x", "nan", "NaN", "1e400", "1 ", " 1", "", "1.5.5"] {
        assert_eq!(
            r.cmd(&["ZADD", "z", bad, "a"]),
            Reply::err(NOT_FLOAT),
            "score {bad:?}"
        );
    }
    assert_eq!(
        r.cmd(&["ZADD", "z", "INCR", "nan", "a"]),
        Reply::err(NOT_FLOAT)
    );
    assert_eq!(r.cmd(&["ZADD", "z", "a", "1"]), Reply::err(NOT_FLOAT));
    // A bad score later in the command: nothing at all is added.
    assert_eq!(
        r.cmd(&["ZADD", "z", "5", "new", "x", "b"]),
        Reply::err(NOT_FLOAT)
    );
    assert_eq!(r.cmd(&["ZSCORE", "z", "new"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZCARD", "z"]), Reply::int(3));
    // Infinities in their spellings.
    assert_eq!(
        r.cmd(&[
            "ZADD",
            "inf",
            "+inf",
            "p",
            "-inf",
            "n",
            "inf",
            "p2",
            "-Infinity",
            "n2"
        ]),
        Reply::int(4)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "inf", "0", "-1", "WITHSCORES"]),
        Reply::bulks(&["n", "-inf", "n2", "-inf", "p", "inf", "p2", "inf"])
    );
    assert_eq!(r.cmd(&["ZADD", "z", "1.0e1", "e"]), Reply::int(1));
    assert_eq!(r.cmd(&["ZSCORE", "z", "e"]), Reply::bulk("10"));
    assert_eq!(r.cmd(&["ZREM", "z", "e"]), Reply::int(1));

    // NX / XX.
    assert_eq!(
        r.cmd(&["ZADD", "z", "NX", "10", "a", "4", "d"]),
        Reply::int(1)
    );
    assert_eq!(r.cmd(&["ZSCORE", "z", "a"]), Reply::bulk("1"));
    assert_eq!(
        r.cmd(&["ZADD", "z", "XX", "10", "a", "5", "e"]),
        Reply::int(0)
    );
    assert_eq!(r.cmd(&["ZSCORE", "z", "a"]), Reply::bulk("10"));
    assert_eq!(r.cmd(&["ZSCORE", "z", "e"]), Reply::Nil);
    // XX on a missing key creates nothing.
    assert_eq!(r.cmd(&["ZADD", "nokey", "XX", "1", "a"]), Reply::int(0));
    assert_eq!(r.cmd(&["EXISTS", "nokey"]), Reply::int(0));
    // CH counts changed scores too; the same score is no change.
    assert_eq!(
        r.cmd(&["ZADD", "z", "CH", "10", "a", "20", "b", "6", "f"]),
        Reply::int(2)
    );
    // GT / LT only limit updates; new members are still added.
    // z: c=3 d=4 f=6 a=10 b=20
    assert_eq!(
        r.cmd(&["ZADD", "z", "GT", "CH", "1", "a", "30", "b", "7", "g"]),
        Reply::int(2)
    );
    assert_eq!(r.cmd(&["ZSCORE", "z", "a"]), Reply::bulk("10"));
    assert_eq!(r.cmd(&["ZSCORE", "z", "b"]), Reply::bulk("30"));
    assert_eq!(
        r.cmd(&["ZADD", "z", "LT", "CH", "1", "a", "40", "b", "8", "h"]),
        Reply::int(2)
    );
    assert_eq!(r.cmd(&["ZSCORE", "z", "a"]), Reply::bulk("1"));
    assert_eq!(r.cmd(&["ZSCORE", "z", "b"]), Reply::bulk("30"));
    assert_eq!(
        r.cmd(&[
            "ZADD", "z", "GT", "XX", "CH", "50", "b", "0", "c", "9", "nope"
        ]),
        Reply::int(1)
    );
    assert_eq!(r.cmd(&["ZSCORE", "z", "nope"]), Reply::Nil);
    // The same member twice in one call: applied in order.
    assert_eq!(r.cmd(&["ZADD", "dup", "1", "m", "2", "m"]), Reply::int(1));
    assert_eq!(r.cmd(&["ZSCORE", "dup", "m"]), Reply::bulk("2"));
    assert_eq!(
        r.cmd(&["ZADD", "dup", "CH", "3", "m", "3", "m", "1", "n"]),
        Reply::int(2)
    );
    // INCR: the new score, or nil when a condition blocks it.
    assert_eq!(
        r.cmd(&["ZADD", "z", "INCR", "2.5", "a"]),
        Reply::bulk("3.5")
    );
    assert_eq!(
        r.cmd(&["ZADD", "z", "INCR", "CH", "1", "a"]),
        Reply::bulk("4.5")
    );
    assert_eq!(r.cmd(&["ZADD", "z", "NX", "INCR", "5", "a"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZADD", "z", "XX", "INCR", "5", "nope"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZADD", "z", "GT", "INCR", "-5", "a"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZADD", "z", "LT", "INCR", "5", "a"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZADD", "z", "GT", "INCR", "0", "a"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZSCORE", "z", "a"]), Reply::bulk("4.5"));
    assert_eq!(
        r.cmd(&["ZADD", "z", "GT", "INCR", "5", "a"]),
        Reply::bulk("9.5")
    );
    assert_eq!(
        r.cmd(&["ZADD", "z", "NX", "INCR", "5", "fresh"]),
        Reply::bulk("5")
    );
    assert_eq!(
        r.cmd(&["ZADD", "z", "INCR", "0", "fresh"]),
        Reply::bulk("5")
    );
    assert_eq!(
        r.cmd(&["ZADD", "nokey", "XX", "INCR", "1", "a"]),
        Reply::Nil
    );
    assert_eq!(r.cmd(&["EXISTS", "nokey"]), Reply::int(0));
    // +inf + -inf.
    assert_eq!(
        r.cmd(&["ZADD", "inf", "INCR", "-inf", "p"]),
        Reply::err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(r.cmd(&["ZSCORE", "inf", "p"]), Reply::bulk("inf"));
}

#[test]
fn scores_are_formatted_like_redis() {
    let (_s, mut r) = setup();
    r.cmd(&[
        "ZADD",
        "f",
        "1.5",
        "a",
        "10",
        "b",
        "+inf",
        "c",
        "-inf",
        "d",
        "-2.25",
        "e",
        "1e20",
        "g",
        "123456789",
        "h",
        "150e-1",
        "i",
    ]);
    let got: BTreeMap<String, String> = pairs(&r.cmd(&["ZRANGE", "f", "0", "-1", "WITHSCORES"]))
        .into_iter()
        .collect();
    let want: BTreeMap<String, String> = [
        ("a", "1.5"),
        ("b", "10"),
        ("c", "inf"),
        ("d", "-inf"),
        ("e", "-2.25"),
        ("g", "1e+20"),
        ("h", "123456789"),
        ("i", "15"),
    ]
    .into_iter()
    .map(|(m, s)| (m.to_string(), s.to_string()))
    .collect();
    assert_eq!(got, want);
    // Inexact sums keep all their digits.
    assert_eq!(
        r.cmd(&["ZINCRBY", "sum", "0.1", "x"])
            .as_string()
            .parse::<f64>()
            .unwrap(),
        0.1
    );
    assert_eq!(
        r.cmd(&["ZINCRBY", "sum", "0.2", "x"]),
        Reply::bulk("0.30000000000000004")
    );
    assert_eq!(
        r.cmd(&["ZSCORE", "sum", "x"]),
        Reply::bulk("0.30000000000000004")
    );
    // Redis 7.0 formats doubles with "%.17g": 0.1 is sent as 0.10000000000000001
    // (7.2+ would send the shortest round-trip form, "0.1").
    r.cmd(&["ZADD", "tenth", "0.1", "x"]);
    assert_eq!(
        r.cmd(&["ZSCORE", "tenth", "x"]),
        Reply::bulk("0.10000000000000001")
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "tenth", "0", "-1", "WITHSCORES"]),
        Reply::bulks(&["x", "0.10000000000000001"])
    );
    assert_eq!(
        r.cmd(&["ZINCRBY", "sum", "1e308", "big"]),
        Reply::bulk("1e+308")
    );
    assert_eq!(
        r.cmd(&["ZINCRBY", "sum", "1e308", "big"]),
        Reply::bulk("inf")
    );
    // Same text from the skiplist encoding.
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "0"]),
        Reply::ok()
    );
    r.cmd(&["ZADD", "sk", "0.1", "x", "1.5", "y", "-inf", "z"]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "sk"]),
        Reply::bulk("skiplist")
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "sk", "0", "-1", "WITHSCORES"]),
        Reply::bulks(&["z", "-inf", "x", "0.10000000000000001", "y", "1.5"])
    );
}

#[test]
fn single_member_commands_counts_and_ranks() {
    let (_s, mut r) = setup();
    r.cmd(&[
        "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
    ]);
    // ZREM
    assert_eq!(r.cmd(&["ZREM", "z", "a", "nope", "a"]), Reply::int(1));
    assert_eq!(r.cmd(&["ZREM", "nokey", "a"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["ZREM", "z"]),
        Reply::err("ERR wrong number of arguments for 'zrem' command")
    );
    // ZSCORE / ZMSCORE
    assert_eq!(r.cmd(&["ZSCORE", "z", "b"]), Reply::bulk("2"));
    assert_eq!(r.cmd(&["ZSCORE", "z", "nope"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZSCORE", "nokey", "a"]), Reply::Nil);
    assert_eq!(
        r.cmd(&["ZMSCORE", "z", "b", "nope", "c"]),
        Reply::Array(vec![Reply::bulk("2"), Reply::Nil, Reply::bulk("3")])
    );
    assert_eq!(
        r.cmd(&["ZMSCORE", "nokey", "a", "b"]),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
    assert_eq!(
        r.cmd(&["ZMSCORE", "z"]),
        Reply::err("ERR wrong number of arguments for 'zmscore' command")
    );
    // ZCARD
    assert_eq!(r.cmd(&["ZCARD", "z"]), Reply::int(4));
    assert_eq!(r.cmd(&["ZCARD", "nokey"]), Reply::int(0));
    // ZINCRBY
    assert_eq!(r.cmd(&["ZINCRBY", "z", "1.5", "b"]), Reply::bulk("3.5"));
    assert_eq!(r.cmd(&["ZINCRBY", "z", "-1.5", "b"]), Reply::bulk("2"));
    assert_eq!(r.cmd(&["ZINCRBY", "z", "7", "new"]), Reply::bulk("7"));
    assert_eq!(r.cmd(&["ZINCRBY", "fresh", "1", "m"]), Reply::bulk("1"));
    assert_eq!(r.cmd(&["ZINCRBY", "z", "x", "b"]), Reply::err(NOT_FLOAT));
    assert_eq!(r.cmd(&["ZINCRBY", "z", "nan", "b"]), Reply::err(NOT_FLOAT));
    assert_eq!(
        r.cmd(&["ZINCRBY", "z", "1"]),
        Reply::err("ERR wrong number of arguments for 'zincrby' command")
    );
    assert_eq!(r.cmd(&["ZINCRBY", "inf", "+inf", "m"]), Reply::bulk("inf"));
    assert_eq!(
        r.cmd(&["ZINCRBY", "inf", "-inf", "m"]),
        Reply::err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(r.cmd(&["ZSCORE", "inf", "m"]), Reply::bulk("inf"));
    assert_eq!(r.cmd(&["ZREM", "z", "new"]), Reply::int(1));
    // z: b=2 c=3 d=4 e=5
    // ZCOUNT
    assert_eq!(r.cmd(&["ZCOUNT", "z", "2", "4"]), Reply::int(3));
    assert_eq!(r.cmd(&["ZCOUNT", "z", "(2", "4"]), Reply::int(2));
    assert_eq!(r.cmd(&["ZCOUNT", "z", "(2", "(4"]), Reply::int(1));
    assert_eq!(r.cmd(&["ZCOUNT", "z", "-inf", "+inf"]), Reply::int(4));
    assert_eq!(r.cmd(&["ZCOUNT", "z", "-inf", "(inf"]), Reply::int(4));
    assert_eq!(r.cmd(&["ZCOUNT", "z", "4", "2"]), Reply::int(0));
    assert_eq!(r.cmd(&["ZCOUNT", "z", "3", "3"]), Reply::int(1));
    assert_eq!(r.cmd(&["ZCOUNT", "z", "(3", "3"]), Reply::int(0));
    assert_eq!(r.cmd(&["ZCOUNT", "nokey", "-inf", "+inf"]), Reply::int(0));
    for (min, max) in [
        ("x", "1"),
        ("1", "((2"),
        ("1", "nan"),
        ("[1", "2"),
        ("1", "2x"),
    ] {
        assert_eq!(
            r.cmd(&["ZCOUNT", "z", min, max]),
            Reply::err(RANGE_NOT_FLOAT),
            "{min} {max}"
        );
    }
    // ZLEXCOUNT
    r.cmd(&[
        "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
    ]);
    assert_eq!(r.cmd(&["ZLEXCOUNT", "l", "-", "+"]), Reply::int(5));
    assert_eq!(r.cmd(&["ZLEXCOUNT", "l", "[b", "(d"]), Reply::int(2));
    assert_eq!(r.cmd(&["ZLEXCOUNT", "l", "(a", "[c"]), Reply::int(2));
    assert_eq!(r.cmd(&["ZLEXCOUNT", "l", "-", "[c"]), Reply::int(3));
    assert_eq!(r.cmd(&["ZLEXCOUNT", "l", "[bb", "+"]), Reply::int(3));
    assert_eq!(r.cmd(&["ZLEXCOUNT", "l", "+", "-"]), Reply::int(0));
    assert_eq!(r.cmd(&["ZLEXCOUNT", "nokey", "-", "+"]), Reply::int(0));
    for (min, max) in [("a", "c"), ("", "+"), ("-x", "+"), ("[a", "c"), ("-", "+x")] {
        assert_eq!(
            r.cmd(&["ZLEXCOUNT", "l", min, max]),
            Reply::err(LEX_NOT_VALID),
            "{min:?} {max:?}"
        );
    }
    // ZRANK / ZREVRANK
    assert_eq!(r.cmd(&["ZRANK", "z", "b"]), Reply::int(0));
    assert_eq!(r.cmd(&["ZRANK", "z", "d"]), Reply::int(2));
    assert_eq!(r.cmd(&["ZREVRANK", "z", "d"]), Reply::int(1));
    assert_eq!(r.cmd(&["ZREVRANK", "z", "e"]), Reply::int(0));
    assert_eq!(r.cmd(&["ZRANK", "z", "nope"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZREVRANK", "z", "nope"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZRANK", "nokey", "a"]), Reply::Nil);
    // Equal scores rank by member, bytewise.
    r.cmd(&[
        "ZADD", "eq", "1", "b", "1", "B", "1", "a", "1", "aa", "0", "z",
    ]);
    assert_eq!(
        r.cmd(&["ZRANGE", "eq", "0", "-1"]),
        Reply::bulks(&["z", "B", "a", "aa", "b"])
    );
    assert_eq!(r.cmd(&["ZRANK", "eq", "aa"]), Reply::int(3));
}

#[test]
fn zrange_family_and_errors() {
    let (_s, mut r) = setup();
    r.cmd(&["ZADD", "z", "2", "b", "3", "c", "4", "d", "5", "e"]);
    r.cmd(&[
        "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
    ]);
    // By rank.
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        Reply::bulks(&["b", "2", "c", "3", "d", "4", "e", "5"])
    );
    assert_eq!(r.cmd(&["ZRANGE", "z", "1", "2"]), Reply::bulks(&["c", "d"]));
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "-2", "-1"]),
        Reply::bulks(&["d", "e"])
    );
    assert_eq!(r.cmd(&["ZRANGE", "z", "5", "10"]), Reply::Array(vec![]));
    assert_eq!(r.cmd(&["ZRANGE", "z", "2", "1"]), Reply::Array(vec![]));
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "-100", "100"]),
        Reply::bulks(&["b", "c", "d", "e"])
    );
    assert_eq!(r.cmd(&["ZRANGE", "nokey", "0", "-1"]), Reply::Array(vec![]));
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "REV", "WITHSCORES"]),
        Reply::bulks(&["e", "5", "d", "4", "c", "3", "b", "2"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "1", "WITHSCORES", "WITHSCORES"]),
        Reply::bulks(&["b", "2", "c", "3"])
    );
    assert_eq!(
        r.cmd(&["ZREVRANGE", "z", "0", "1", "WITHSCORES"]),
        Reply::bulks(&["e", "5", "d", "4"])
    );
    assert_eq!(r.cmd(&["ZREVRANGE", "z", "-1", "-1"]), Reply::bulks(&["b"]));
    // By score.
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "2", "4", "BYSCORE"]),
        Reply::bulks(&["b", "c", "d"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "(2", "+inf", "BYSCORE", "WITHSCORES"]),
        Reply::bulks(&["c", "3", "d", "4", "e", "5"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV"]),
        Reply::bulks(&["e", "d", "c", "b"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "4", "(2", "BYSCORE", "REV"]),
        Reply::bulks(&["d", "c"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "2", "4", "BYSCORE", "LIMIT", "1", "1"]),
        Reply::bulks(&["c"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"]),
        Reply::bulks(&["c", "d", "e"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"]),
        Reply::Array(vec![])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "0"]),
        Reply::Array(vec![])
    );
    assert_eq!(
        r.cmd(&[
            "ZRANGE",
            "z",
            "+inf",
            "-inf",
            "BYSCORE",
            "REV",
            "LIMIT",
            "1",
            "2",
            "WITHSCORES"
        ]),
        Reply::bulks(&["d", "4", "c", "3"])
    );
    assert_eq!(
        r.cmd(&[
            "ZRANGEBYSCORE",
            "z",
            "2",
            "4",
            "WITHSCORES",
            "LIMIT",
            "1",
            "5"
        ]),
        Reply::bulks(&["c", "3", "d", "4"])
    );
    assert_eq!(
        r.cmd(&["ZRANGEBYSCORE", "z", "(3", "(5"]),
        Reply::bulks(&["d"])
    );
    assert_eq!(
        r.cmd(&["ZREVRANGEBYSCORE", "z", "4", "2", "WITHSCORES"]),
        Reply::bulks(&["d", "4", "c", "3", "b", "2"])
    );
    assert_eq!(
        r.cmd(&[
            "ZREVRANGEBYSCORE",
            "z",
            "4",
            "2",
            "WITHSCORES",
            "LIMIT",
            "1",
            "1"
        ]),
        Reply::bulks(&["c", "3"])
    );
    assert_eq!(
        r.cmd(&["ZREVRANGEBYSCORE", "z", "2", "4"]),
        Reply::Array(vec![])
    );
    assert_eq!(
        r.cmd(&["ZRANGEBYSCORE", "nokey", "-inf", "+inf"]),
        Reply::Array(vec![])
    );
    // By lex.
    assert_eq!(
        r.cmd(&["ZRANGE", "l", "-", "+", "BYLEX"]),
        Reply::bulks(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "l", "[b", "(d", "BYLEX"]),
        Reply::bulks(&["b", "c"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "l", "+", "-", "BYLEX", "REV"]),
        Reply::bulks(&["e", "d", "c", "b", "a"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "l", "[d", "(b", "BYLEX", "REV"]),
        Reply::bulks(&["d", "c"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "l", "-", "+", "BYLEX", "LIMIT", "1", "2"]),
        Reply::bulks(&["b", "c"])
    );
    // With REV the bounds are max then min: "- +" is an empty range.
    assert_eq!(
        r.cmd(&["ZRANGE", "l", "-", "+", "BYLEX", "REV", "LIMIT", "1", "2"]),
        Reply::Array(vec![])
    );
    assert_eq!(
        r.cmd(&["ZRANGEBYLEX", "l", "-", "[c"]),
        Reply::bulks(&["a", "b", "c"])
    );
    assert_eq!(
        r.cmd(&["ZRANGEBYLEX", "l", "-", "[c", "LIMIT", "1", "1"]),
        Reply::bulks(&["b"])
    );
    assert_eq!(
        r.cmd(&["ZREVRANGEBYLEX", "l", "[c", "-", "LIMIT", "0", "2"]),
        Reply::bulks(&["c", "b"])
    );
    assert_eq!(
        r.cmd(&["ZRANGEBYLEX", "nokey", "-", "+"]),
        Reply::Array(vec![])
    );
    // Errors.
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"]),
        Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "nokey", "0", "-1", "LIMIT", "0", "1"]),
        Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES"]),
        Reply::err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(
        r.cmd(&["ZRANGEBYLEX", "l", "-", "+", "WITHSCORES"]),
        Reply::err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "LIMIT", "0"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "BYSCORE", "BYLEX"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "REV", "REV"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "FOO"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(r.cmd(&["ZRANGE", "z", "a", "b"]), Reply::err(NOT_INT));
    assert_eq!(r.cmd(&["ZRANGE", "nokey", "a", "b"]), Reply::err(NOT_INT));
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "x", "1", "BYSCORE"]),
        Reply::err(RANGE_NOT_FLOAT)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "a", "b", "BYLEX"]),
        Reply::err(LEX_NOT_VALID)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "BYSCORE", "LIMIT", "0", "x"]),
        Reply::err(NOT_INT)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0"]),
        Reply::err("ERR wrong number of arguments for 'zrange' command")
    );
    assert_eq!(
        r.cmd(&["ZREVRANGE", "z", "0", "1", "BYSCORE"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZRANGEBYSCORE", "z", "2", "4", "LIMIT", "1"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZRANGEBYSCORE", "z", "2", "4", "REV"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZRANGEBYSCORE", "z", "2"]),
        Reply::err("ERR wrong number of arguments for 'zrangebyscore' command")
    );
    assert_eq!(
        r.cmd(&["ZREVRANGEBYLEX", "l", "a", "b"]),
        Reply::err(LEX_NOT_VALID)
    );
    assert_eq!(
        r.cmd(&["ZRANGEBYSCORE", "z", "(x", "1"]),
        Reply::err(RANGE_NOT_FLOAT)
    );
    // ZRANGESTORE: stores what ZRANGE would return; an empty result deletes the destination.
    assert_eq!(
        r.cmd(&["ZRANGESTORE", "dst", "z", "0", "-1"]),
        Reply::int(4)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        Reply::bulks(&["b", "2", "c", "3", "d", "4", "e", "5"])
    );
    assert_eq!(
        r.cmd(&["ZRANGESTORE", "dst", "z", "5", "(3", "BYSCORE", "REV"]),
        Reply::int(2)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        Reply::bulks(&["d", "4", "e", "5"])
    );
    assert_eq!(
        r.cmd(&[
            "ZRANGESTORE",
            "dst",
            "l",
            "[b",
            "+",
            "BYLEX",
            "LIMIT",
            "0",
            "2"
        ]),
        Reply::int(2)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        Reply::bulks(&["b", "0", "c", "0"])
    );
    assert_eq!(r.cmd(&["ZRANGESTORE", "dst", "z", "1", "0"]), Reply::int(0));
    assert_eq!(r.cmd(&["EXISTS", "dst"]), Reply::int(0));
    r.cmd(&["ZADD", "dst", "1", "x"]);
    assert_eq!(
        r.cmd(&["ZRANGESTORE", "dst", "nokey", "0", "-1"]),
        Reply::int(0)
    );
    assert_eq!(r.cmd(&["EXISTS", "dst"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZRANGESTORE", "dst", "z", "0", "-1", "LIMIT", "0", "1"]),
        Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    // The destination is overwritten whatever it held.
    r.cmd(&["SET", "str", "v"]);
    assert_eq!(r.cmd(&["ZRANGESTORE", "str", "z", "0", "0"]), Reply::int(1));
    assert_eq!(r.cmd(&["TYPE", "str"]), Reply::simple("zset"));
}

#[test]
fn remove_ranges_and_pops() {
    let (_s, mut r) = setup();
    r.cmd(&[
        "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f",
    ]);
    // ZREMRANGEBYRANK
    assert_eq!(r.cmd(&["ZREMRANGEBYRANK", "z", "0", "0"]), Reply::int(1));
    assert_eq!(r.cmd(&["ZREMRANGEBYRANK", "z", "-1", "-1"]), Reply::int(1));
    assert_eq!(r.cmd(&["ZREMRANGEBYRANK", "z", "5", "10"]), Reply::int(0));
    assert_eq!(r.cmd(&["ZREMRANGEBYRANK", "z", "2", "1"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["ZREMRANGEBYRANK", "nokey", "0", "-1"]),
        Reply::int(0)
    );
    assert_eq!(
        r.cmd(&["ZREMRANGEBYRANK", "z", "x", "1"]),
        Reply::err(NOT_INT)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1"]),
        Reply::bulks(&["b", "c", "d", "e"])
    );
    // ZREMRANGEBYSCORE
    assert_eq!(r.cmd(&["ZREMRANGEBYSCORE", "z", "(2", "3"]), Reply::int(1));
    assert_eq!(r.cmd(&["ZREMRANGEBYSCORE", "z", "10", "1"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["ZREMRANGEBYSCORE", "z", "x", "3"]),
        Reply::err(RANGE_NOT_FLOAT)
    );
    assert_eq!(
        r.cmd(&["ZREMRANGEBYSCORE", "nokey", "-inf", "+inf"]),
        Reply::int(0)
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1"]),
        Reply::bulks(&["b", "d", "e"])
    );
    // ZREMRANGEBYLEX
    r.cmd(&["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d"]);
    assert_eq!(r.cmd(&["ZREMRANGEBYLEX", "l", "(a", "[c"]), Reply::int(2));
    assert_eq!(
        r.cmd(&["ZREMRANGEBYLEX", "l", "a", "c"]),
        Reply::err(LEX_NOT_VALID)
    );
    assert_eq!(r.cmd(&["ZREMRANGEBYLEX", "nokey", "-", "+"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["ZRANGE", "l", "0", "-1"]),
        Reply::bulks(&["a", "d"])
    );
    assert_eq!(r.cmd(&["ZREMRANGEBYLEX", "l", "-", "+"]), Reply::int(2));
    assert_eq!(r.cmd(&["EXISTS", "l"]), Reply::int(0));
    assert_eq!(r.cmd(&["ZREMRANGEBYRANK", "z", "0", "-1"]), Reply::int(3));
    assert_eq!(r.cmd(&["EXISTS", "z"]), Reply::int(0));
    // ZPOPMIN / ZPOPMAX
    r.cmd(&[
        "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f",
    ]);
    assert_eq!(r.cmd(&["ZPOPMIN", "z"]), Reply::bulks(&["a", "1"]));
    assert_eq!(r.cmd(&["ZPOPMAX", "z"]), Reply::bulks(&["f", "6"]));
    assert_eq!(
        r.cmd(&["ZPOPMIN", "z", "2"]),
        Reply::bulks(&["b", "2", "c", "3"])
    );
    assert_eq!(r.cmd(&["ZPOPMAX", "z", "0"]), Reply::Array(vec![]));
    assert_eq!(r.cmd(&["ZPOPMAX", "z", "-1"]), Reply::err(MUST_BE_POSITIVE));
    assert_eq!(r.cmd(&["ZPOPMIN", "z", "-1"]), Reply::err(MUST_BE_POSITIVE));
    assert_eq!(r.cmd(&["ZPOPMIN", "z", "x"]), Reply::err(MUST_BE_POSITIVE));
    assert_eq!(r.cmd(&["ZPOPMIN", "z", "1", "2"]), Reply::err(SYNTAX));
    assert_eq!(r.cmd(&["ZPOPMIN", "nokey"]), Reply::Array(vec![]));
    assert_eq!(r.cmd(&["ZPOPMAX", "nokey", "2"]), Reply::Array(vec![]));
    assert_eq!(
        r.cmd(&["ZPOPMAX", "z", "10"]),
        Reply::bulks(&["e", "5", "d", "4"])
    );
    assert_eq!(r.cmd(&["EXISTS", "z"]), Reply::int(0));
}

/// ZINTERCARD and ZMPOP/BZMPOP (new in Redis 7.0).
#[test]
fn zintercard_and_zmpop() {
    let (_s, mut r) = setup();
    r.cmd(&["ZADD", "p", "+inf", "a", "1", "b", "7", "c"]);
    r.cmd(&["ZADD", "n", "-inf", "a", "2", "b"]);
    r.cmd(&["SET", "str", "v"]);
    assert_eq!(r.cmd(&["ZINTERCARD", "2", "p", "n"]), Reply::int(2));
    assert_eq!(
        r.cmd(&["ZINTERCARD", "2", "p", "n", "LIMIT", "1"]),
        Reply::int(1)
    );
    assert_eq!(
        r.cmd(&["ZINTERCARD", "2", "p", "n", "LIMIT", "0"]),
        Reply::int(2)
    );
    assert_eq!(r.cmd(&["ZINTERCARD", "1", "nokey"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["ZINTERCARD", "2", "p", "n", "LIMIT", "-1"]),
        Reply::err("ERR LIMIT can't be negative")
    );
    assert_eq!(
        r.cmd(&["ZINTERCARD", "0", "p"]),
        Reply::err("ERR at least 1 input key is needed for 'zintercard' command")
    );
    assert_eq!(r.cmd(&["ZINTERCARD", "3", "p", "n"]), Reply::err(SYNTAX));
    assert_eq!(
        r.cmd(&["ZINTERCARD", "2", "p", "n", "FOO"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZINTERCARD", "2", "p", "str"]),
        Reply::err(WRONGTYPE)
    );
    // ZMPOP: the first non-empty key, then [key, [[member, score], ...]].
    assert_eq!(
        r.cmd(&["ZMPOP", "2", "nokey", "p", "MIN"]),
        Reply::arr(vec![
            Reply::bulk("p"),
            Reply::arr(vec![Reply::bulks(&["b", "1"])])
        ])
    );
    assert_eq!(
        r.cmd(&["ZMPOP", "2", "nokey", "p", "MAX", "COUNT", "5"]),
        Reply::arr(vec![
            Reply::bulk("p"),
            Reply::arr(vec![Reply::bulks(&["a", "inf"]), Reply::bulks(&["c", "7"])])
        ])
    );
    assert_eq!(r.cmd(&["EXISTS", "p"]), Reply::int(0));
    assert_eq!(r.cmd(&["ZMPOP", "1", "nokey", "MIN"]), Reply::Nil);
    assert_eq!(
        r.cmd(&["ZMPOP", "0", "n", "MIN"]),
        Reply::err("ERR numkeys should be greater than 0")
    );
    assert_eq!(r.cmd(&["ZMPOP", "1", "n", "MIDDLE"]), Reply::err(SYNTAX));
    assert_eq!(r.cmd(&["ZMPOP", "2", "n", "MIN"]), Reply::err(SYNTAX));
    assert_eq!(
        r.cmd(&["ZMPOP", "1", "n", "MIN", "COUNT", "0"]),
        Reply::err("ERR count should be greater than 0")
    );
    assert_eq!(
        r.cmd(&["ZMPOP", "1", "n", "MIN", "COUNT", "-1"]),
        Reply::err("ERR count should be greater than 0")
    );
    assert_eq!(r.cmd(&["ZMPOP", "1", "str", "MIN"]), Reply::err(WRONGTYPE));
    // BZMPOP: the timeout comes first.
    assert_eq!(r.cmd(&["BZMPOP", "0.05", "1", "nokey", "MIN"]), Reply::Nil);
    assert_eq!(
        r.cmd(&["BZMPOP", "1", "1", "n", "MAX"]),
        Reply::arr(vec![
            Reply::bulk("n"),
            Reply::arr(vec![Reply::bulks(&["b", "2"])])
        ])
    );
    assert_eq!(
        r.cmd(&["BZMPOP", "-1", "1", "n", "MAX"]),
        Reply::err("ERR timeout is negative")
    );
    assert_eq!(
        r.cmd(&["BZMPOP", "0", "0", "n", "MAX"]),
        Reply::err("ERR numkeys should be greater than 0")
    );
    assert_eq!(r.cmd(&["EXISTS", "n"]), Reply::int(1));
}

#[test]
fn zrandmember_and_zscan() {
    let (_s, mut r) = setup();
    r.cmd(&["ZADD", "z", "1", "a", "2", "b", "3.5", "c"]);
    let scores: BTreeMap<String, String> = [("a", "1"), ("b", "2"), ("c", "3.5")]
        .into_iter()
        .map(|(m, s)| (m.to_string(), s.to_string()))
        .collect();
    // No count: one member (bulk), nil for a missing key.
    for _ in 0..20 {
        let m = r.cmd(&["ZRANDMEMBER", "z"]).as_string();
        assert!(scores.contains_key(&m), "{m}");
    }
    assert_eq!(r.cmd(&["ZRANDMEMBER", "nokey"]), Reply::Nil);
    // Positive count: distinct members, at most the cardinality.
    for n in [1usize, 2, 3, 5, 100] {
        let got = r.cmd(&["ZRANDMEMBER", "z", &n.to_string()]).strings();
        assert_eq!(got.len(), n.min(3), "count {n}");
        let distinct: BTreeSet<&String> = got.iter().collect();
        assert_eq!(distinct.len(), got.len(), "count {n}: {got:?}");
        assert!(got.iter().all(|m| scores.contains_key(m)));
        let with = pairs(&r.cmd(&["ZRANDMEMBER", "z", &n.to_string(), "WITHSCORES"]));
        assert_eq!(with.len(), n.min(3));
        for (m, s) in &with {
            assert_eq!(scores.get(m), Some(s), "{m}");
        }
    }
    // Negative count: exactly |count| members, repeats allowed.
    for n in [1usize, 3, 10] {
        let got = r.cmd(&["ZRANDMEMBER", "z", &format!("-{n}")]).strings();
        assert_eq!(got.len(), n);
        assert!(got.iter().all(|m| scores.contains_key(m)));
        let with = pairs(&r.cmd(&["ZRANDMEMBER", "z", &format!("-{n}"), "WITHSCORES"]));
        assert_eq!(with.len(), n);
        for (m, s) in &with {
            assert_eq!(scores.get(m), Some(s), "{m}");
        }
    }
    assert_eq!(r.cmd(&["ZRANDMEMBER", "z", "0"]), Reply::Array(vec![]));
    assert_eq!(
        r.cmd(&["ZRANDMEMBER", "z", "0", "WITHSCORES"]),
        Reply::Array(vec![])
    );
    assert_eq!(r.cmd(&["ZRANDMEMBER", "nokey", "3"]), Reply::Array(vec![]));
    assert_eq!(r.cmd(&["ZRANDMEMBER", "nokey", "-3"]), Reply::Array(vec![]));
    assert_eq!(
        r.cmd(&["ZRANDMEMBER", "nokey", "2", "WITHSCORES"]),
        Reply::Array(vec![])
    );
    assert_eq!(r.cmd(&["ZRANDMEMBER", "z", "x"]), Reply::err(NOT_INT));
    assert_eq!(r.cmd(&["ZRANDMEMBER", "z", "1", "FOO"]), Reply::err(SYNTAX));
    assert_eq!(
        r.cmd(&["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZRANDMEMBER", "z", "-9223372036854775808", "WITHSCORES"]),
        Reply::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
        )
    );
    // The skiplist encoding too (a positive count above and below the cardinality).
    for i in 0..200 {
        r.cmd(&["ZADD", "big", &i.to_string(), &format!("m{i}")]);
    }
    for n in ["10", "150", "300"] {
        let got = r.cmd(&["ZRANDMEMBER", "big", n]).strings();
        let distinct: BTreeSet<&String> = got.iter().collect();
        assert_eq!(got.len(), n.parse::<usize>().unwrap().min(200));
        assert_eq!(distinct.len(), got.len());
    }
    assert_eq!(r.cmd(&["ZRANDMEMBER", "big", "-300"]).as_array().len(), 300);

    // ZSCAN: the union of everything returned over a full iteration.
    let full_scan = |r: &mut RawConn, key: &str, extra: &[&str]| -> BTreeMap<String, String> {
        let mut cursor = "0".to_string();
        let mut seen = BTreeMap::new();
        for _ in 0..10_000 {
            let mut args = vec!["ZSCAN", key, cursor.as_str()];
            args.extend_from_slice(extra);
            let reply = r.cmd(&args);
            let parts = reply.as_array();
            assert_eq!(parts.len(), 2, "{reply:?}");
            for (m, s) in pairs(&parts[1]) {
                seen.insert(m, s);
            }
            cursor = parts[0].as_string();
            if cursor == "0" {
                return seen;
            }
        }
        panic!("ZSCAN did not finish");
    };
    assert_eq!(full_scan(&mut r, "z", &[]), scores);
    let want: BTreeMap<String, String> =
        (0..200).map(|i| (format!("m{i}"), i.to_string())).collect();
    assert_eq!(full_scan(&mut r, "big", &["COUNT", "10"]), want);
    let want1: BTreeMap<String, String> = want
        .iter()
        .filter(|(m, _)| m.starts_with("m1"))
        .map(|(m, s)| (m.clone(), s.clone()))
        .collect();
    assert_eq!(
        full_scan(&mut r, "big", &["MATCH", "m1*", "COUNT", "7"]),
        want1
    );
    assert_eq!(
        full_scan(&mut r, "z", &["MATCH", "b*"]),
        [("b".to_string(), "2".to_string())].into_iter().collect()
    );
    assert!(full_scan(&mut r, "nokey", &[]).is_empty());
    assert_eq!(
        r.cmd(&["ZSCAN", "z", "x"]),
        Reply::err("ERR invalid cursor")
    );
    assert_eq!(
        r.cmd(&["ZSCAN", "z", "0", "COUNT", "0"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZSCAN", "z", "0", "COUNT", "x"]),
        Reply::err(NOT_INT)
    );
    assert_eq!(r.cmd(&["ZSCAN", "z", "0", "MATCH"]), Reply::err(SYNTAX));
    assert_eq!(
        r.cmd(&["ZSCAN", "z", "0", "FOO", "bar"]),
        Reply::err(SYNTAX)
    );
}

#[test]
fn union_inter_diff() {
    let (_s, mut r) = setup();
    r.cmd(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    r.cmd(&["ZADD", "z2", "10", "b", "20", "c", "30", "d"]);
    r.cmd(&["SADD", "s", "a", "d", "x"]);
    let range = |r: &mut RawConn, k: &str| r.cmd(&["ZRANGE", k, "0", "-1", "WITHSCORES"]);
    // ZUNIONSTORE
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "2", "z", "z2"]),
        Reply::int(4)
    );
    assert_eq!(
        range(&mut r, "out"),
        Reply::bulks(&["a", "1", "b", "12", "c", "23", "d", "30"])
    );
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "2", "z", "z2", "WEIGHTS", "2", "3"]),
        Reply::int(4)
    );
    assert_eq!(
        range(&mut r, "out"),
        Reply::bulks(&["a", "2", "b", "34", "c", "66", "d", "90"])
    );
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "2", "z", "z2", "AGGREGATE", "MIN"]),
        Reply::int(4)
    );
    assert_eq!(
        range(&mut r, "out"),
        Reply::bulks(&["a", "1", "b", "2", "c", "3", "d", "30"])
    );
    assert_eq!(
        r.cmd(&[
            "ZUNIONSTORE",
            "out",
            "2",
            "z",
            "z2",
            "AGGREGATE",
            "MAX",
            "WEIGHTS",
            "1",
            "-1"
        ]),
        Reply::int(4)
    );
    assert_eq!(
        range(&mut r, "out"),
        Reply::bulks(&["d", "-30", "a", "1", "b", "2", "c", "3"])
    );
    // Plain sets count as score 1 (times the weight).
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "2", "z", "s", "WEIGHTS", "1", "0.5"]),
        Reply::int(5)
    );
    assert_eq!(
        range(&mut r, "out"),
        Reply::bulks(&["d", "0.5", "x", "0.5", "a", "1.5", "b", "2", "c", "3"])
    );
    assert_eq!(r.cmd(&["ZUNIONSTORE", "out", "1", "s"]), Reply::int(3));
    assert_eq!(
        range(&mut r, "out"),
        Reply::bulks(&["a", "1", "d", "1", "x", "1"])
    );
    // ZINTERSTORE
    assert_eq!(
        r.cmd(&["ZINTERSTORE", "out", "2", "z", "z2"]),
        Reply::int(2)
    );
    assert_eq!(range(&mut r, "out"), Reply::bulks(&["b", "12", "c", "23"]));
    assert_eq!(r.cmd(&["ZINTERSTORE", "out", "2", "z", "s"]), Reply::int(1));
    assert_eq!(range(&mut r, "out"), Reply::bulks(&["a", "2"]));
    assert_eq!(
        r.cmd(&[
            "ZINTERSTORE",
            "out",
            "2",
            "z",
            "z2",
            "WEIGHTS",
            "0",
            "1",
            "AGGREGATE",
            "MIN"
        ]),
        Reply::int(2)
    );
    assert_eq!(range(&mut r, "out"), Reply::bulks(&["b", "0", "c", "0"]));
    // An empty result deletes the destination.
    assert_eq!(
        r.cmd(&["ZINTERSTORE", "out", "2", "z", "nokey"]),
        Reply::int(0)
    );
    assert_eq!(r.cmd(&["EXISTS", "out"]), Reply::int(0));
    // ZDIFFSTORE: members of the first not in the others, scores of the first.
    assert_eq!(r.cmd(&["ZDIFFSTORE", "out", "2", "z", "z2"]), Reply::int(1));
    assert_eq!(range(&mut r, "out"), Reply::bulks(&["a", "1"]));
    assert_eq!(r.cmd(&["ZDIFFSTORE", "out", "2", "s", "z"]), Reply::int(2));
    assert_eq!(range(&mut r, "out"), Reply::bulks(&["d", "1", "x", "1"]));
    assert_eq!(r.cmd(&["ZDIFFSTORE", "out", "2", "z", "z"]), Reply::int(0));
    assert_eq!(r.cmd(&["EXISTS", "out"]), Reply::int(0));
    // The destination may be a source.
    r.cmd(&["ZADD", "acc", "1", "a"]);
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "acc", "2", "acc", "z2"]),
        Reply::int(4)
    );
    assert_eq!(
        range(&mut r, "acc"),
        Reply::bulks(&["a", "1", "b", "10", "c", "20", "d", "30"])
    );
    // ... and is overwritten whatever it held.
    r.cmd(&["SET", "str", "v"]);
    assert_eq!(r.cmd(&["ZUNIONSTORE", "str", "1", "z"]), Reply::int(3));
    assert_eq!(r.cmd(&["TYPE", "str"]), Reply::simple("zset"));
    // Infinities: inf + -inf sums to 0, inf * 0 is 0.
    r.cmd(&["ZADD", "p", "+inf", "a", "1", "b"]);
    r.cmd(&["ZADD", "n", "-inf", "a", "2", "b"]);
    assert_eq!(r.cmd(&["ZUNIONSTORE", "out", "2", "p", "n"]), Reply::int(2));
    assert_eq!(range(&mut r, "out"), Reply::bulks(&["a", "0", "b", "3"]));
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "1", "p", "WEIGHTS", "0"]),
        Reply::int(2)
    );
    assert_eq!(range(&mut r, "out"), Reply::bulks(&["a", "0", "b", "0"]));
    assert_eq!(
        r.cmd(&["ZINTERSTORE", "out", "2", "p", "n", "AGGREGATE", "MAX"]),
        Reply::int(2)
    );
    assert_eq!(range(&mut r, "out"), Reply::bulks(&["b", "2", "a", "inf"]));
    // The reading forms.
    assert_eq!(
        r.cmd(&["ZUNION", "2", "z", "z2", "WITHSCORES"]),
        Reply::bulks(&["a", "1", "b", "12", "c", "23", "d", "30"])
    );
    assert_eq!(
        r.cmd(&[
            "ZUNION",
            "2",
            "z",
            "z2",
            "WEIGHTS",
            "1",
            "2",
            "AGGREGATE",
            "MAX",
            "WITHSCORES"
        ]),
        Reply::bulks(&["a", "1", "b", "20", "c", "40", "d", "60"])
    );
    assert_eq!(
        r.cmd(&["ZUNION", "2", "z", "z2"]),
        Reply::bulks(&["a", "b", "c", "d"])
    );
    assert_eq!(
        r.cmd(&["ZINTER", "2", "z", "z2", "AGGREGATE", "SUM", "WITHSCORES"]),
        Reply::bulks(&["b", "12", "c", "23"])
    );
    assert_eq!(r.cmd(&["ZINTER", "2", "z", "s"]), Reply::bulks(&["a"]));
    assert_eq!(
        r.cmd(&["ZDIFF", "2", "z", "z2", "WITHSCORES"]),
        Reply::bulks(&["a", "1"])
    );
    assert_eq!(r.cmd(&["ZDIFF", "1", "nokey"]), Reply::Array(vec![]));
    assert_eq!(r.cmd(&["ZINTER", "2", "z", "nokey"]), Reply::Array(vec![]));
    assert_eq!(
        r.cmd(&["ZUNION", "2", "nokey", "nokey2"]),
        Reply::Array(vec![])
    );
    // Errors.
    for cmd in ["zunionstore", "zinterstore", "zdiffstore"] {
        assert_eq!(
            r.cmd(&[cmd, "out", "0", "z"]),
            Reply::err(&format!(
                "ERR at least 1 input key is needed for '{cmd}' command"
            )),
        );
        assert_eq!(
            r.cmd(&[cmd, "out", "-1", "z"]),
            Reply::err(&format!(
                "ERR at least 1 input key is needed for '{cmd}' command"
            )),
        );
        assert_eq!(r.cmd(&[cmd, "out", "3", "z", "z2"]), Reply::err(SYNTAX));
        assert_eq!(r.cmd(&[cmd, "out", "x", "z"]), Reply::err(NOT_INT));
        assert_eq!(
            r.cmd(&[cmd, "out", "0"]),
            Reply::err(&format!(
                "ERR wrong number of arguments for '{cmd}' command"
            ))
        );
    }
    for cmd in ["zunion", "zinter", "zdiff"] {
        assert_eq!(
            r.cmd(&[cmd, "0", "z"]),
            Reply::err(&format!(
                "ERR at least 1 input key is needed for '{cmd}' command"
            )),
        );
        assert_eq!(r.cmd(&[cmd, "3", "z", "z2"]), Reply::err(SYNTAX));
        assert_eq!(r.cmd(&[cmd, "x", "z"]), Reply::err(NOT_INT));
    }
    // Upper-case command names still report the lower-case name.
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "0", "z"]),
        Reply::err("ERR at least 1 input key is needed for 'zunionstore' command")
    );
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "2", "z", "z2", "WEIGHTS", "1"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "2", "z", "z2", "WEIGHTS", "1", "x"]),
        Reply::err("ERR weight value is not a float")
    );
    assert_eq!(
        r.cmd(&["ZINTER", "2", "z", "z2", "WEIGHTS", "1", "nan"]),
        Reply::err("ERR weight value is not a float")
    );
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "2", "z", "z2", "AGGREGATE", "AVG"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "2", "z", "z2", "AGGREGATE"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "2", "z", "z2", "WITHSCORES"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZDIFFSTORE", "out", "2", "z", "z2", "WEIGHTS", "1", "2"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZDIFF", "2", "z", "z2", "WEIGHTS", "1", "2"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZDIFF", "2", "z", "z2", "AGGREGATE", "MIN"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["ZINTER", "2", "z", "z2", "FOO"]),
        Reply::err(SYNTAX)
    );
    // A string among the inputs, even after a missing key.
    assert_eq!(r.cmd(&["SET", "str", "v"]), Reply::ok());
    assert_eq!(
        r.cmd(&["ZUNIONSTORE", "out", "2", "z", "str"]),
        Reply::err(WRONGTYPE)
    );
    assert_eq!(
        r.cmd(&["ZINTER", "2", "nokey", "str"]),
        Reply::err(WRONGTYPE)
    );
    assert_eq!(
        r.cmd(&["ZDIFF", "2", "nokey", "str"]),
        Reply::err(WRONGTYPE)
    );
}

#[test]
fn wrongtype_type_and_empty_keys() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "str", "v"]);
    let cmds: &[&[&str]] = &[
        &["ZADD", "str", "1", "a"],
        &["ZADD", "str", "INCR", "1", "a"],
        &["ZINCRBY", "str", "1", "a"],
        &["ZREM", "str", "a"],
        &["ZSCORE", "str", "a"],
        &["ZMSCORE", "str", "a"],
        &["ZCARD", "str"],
        &["ZCOUNT", "str", "0", "1"],
        &["ZLEXCOUNT", "str", "-", "+"],
        &["ZRANK", "str", "a"],
        &["ZREVRANK", "str", "a"],
        &["ZRANGE", "str", "0", "-1"],
        &["ZRANGE", "str", "0", "1", "BYSCORE"],
        &["ZRANGESTORE", "dst", "str", "0", "-1"],
        &["ZREVRANGE", "str", "0", "-1"],
        &["ZRANGEBYSCORE", "str", "0", "1"],
        &["ZREVRANGEBYSCORE", "str", "1", "0"],
        &["ZRANGEBYLEX", "str", "-", "+"],
        &["ZREVRANGEBYLEX", "str", "+", "-"],
        &["ZREMRANGEBYRANK", "str", "0", "-1"],
        &["ZREMRANGEBYSCORE", "str", "0", "1"],
        &["ZREMRANGEBYLEX", "str", "-", "+"],
        &["ZPOPMIN", "str"],
        &["ZPOPMAX", "str", "2"],
        &["BZPOPMIN", "str", "1"],
        &["BZPOPMAX", "nokey", "str", "1"],
        &["ZRANDMEMBER", "str"],
        &["ZRANDMEMBER", "str", "2", "WITHSCORES"],
        &["ZUNIONSTORE", "dst", "1", "str"],
        &["ZINTERSTORE", "dst", "1", "str"],
        &["ZDIFFSTORE", "dst", "1", "str"],
        &["ZUNION", "1", "str"],
        &["ZINTER", "1", "str"],
        &["ZDIFF", "1", "str"],
        &["ZINTERCARD", "1", "str"],
        &["ZMPOP", "1", "str", "MIN"],
        &["BZMPOP", "1", "1", "str", "MIN"],
        &["ZSCAN", "str", "0"],
    ];
    for c in cmds {
        assert_eq!(r.cmd(c), Reply::err(WRONGTYPE), "{c:?}");
    }
    assert_eq!(r.cmd(&["EXISTS", "dst"]), Reply::int(0));
    assert_eq!(r.cmd(&["GET", "str"]), Reply::bulk("v"));
    // And the other way round.
    r.cmd(&["ZADD", "z", "1", "a"]);
    assert_eq!(r.cmd(&["GET", "z"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["SADD", "z", "a"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["HSET", "z", "f", "v"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["LPUSH", "z", "a"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["SUNION", "z"]), Reply::err(WRONGTYPE));
    r.cmd(&["LPUSH", "list", "a"]);
    assert_eq!(r.cmd(&["ZUNION", "2", "z", "list"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["TYPE", "z"]), Reply::simple("zset"));
    assert_eq!(
        r.cmd(&["SCAN", "0", "TYPE", "zset"]).as_array()[1].strings(),
        ["z"]
    );
    // Removing the last member deletes the key, whatever removes it.
    let empties: &[&[&str]] = &[
        &["ZREM", "e", "a"],
        &["ZPOPMIN", "e"],
        &["ZPOPMAX", "e", "5"],
        &["ZREMRANGEBYRANK", "e", "0", "-1"],
        &["ZREMRANGEBYSCORE", "e", "-inf", "+inf"],
        &["ZREMRANGEBYLEX", "e", "-", "+"],
        &["ZMPOP", "1", "e", "MAX"],
        &["BZPOPMIN", "e", "1"],
        &["BZMPOP", "1", "1", "e", "MIN", "COUNT", "3"],
    ];
    for c in empties {
        assert_eq!(r.cmd(&["ZADD", "e", "1", "a"]), Reply::int(1));
        assert!(!r.cmd(c).is_error(), "{c:?}");
        assert_eq!(r.cmd(&["EXISTS", "e"]), Reply::int(0), "{c:?}");
    }
    // Nothing is created by reads, failed conditional writes or empty results.
    r.cmd(&["ZSCORE", "e", "a"]);
    r.cmd(&["ZRANGE", "e", "0", "-1"]);
    r.cmd(&["ZADD", "e", "XX", "1", "a"]);
    r.cmd(&["ZADD", "e", "XX", "INCR", "1", "a"]);
    r.cmd(&["ZINCRBY", "e", "nan", "a"]);
    r.cmd(&["ZUNIONSTORE", "e", "1", "nokey"]);
    assert_eq!(r.cmd(&["EXISTS", "e"]), Reply::int(0));
}

#[test]
fn encodings_follow_the_listpack_limits() {
    let (_s, mut r) = setup();
    for i in 0..128 {
        r.cmd(&["ZADD", "small", &i.to_string(), &format!("m{i}")]);
    }
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "small"]),
        Reply::bulk("listpack")
    );
    r.cmd(&["ZADD", "small", "128", "m128"]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "small"]),
        Reply::bulk("skiplist")
    );
    assert_eq!(r.cmd(&["ZCARD", "small"]), Reply::int(129));
    // Shrinking does not convert back...
    assert_eq!(
        r.cmd(&["ZREMRANGEBYRANK", "small", "0", "-3"]),
        Reply::int(127)
    );
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "small"]),
        Reply::bulk("skiplist")
    );
    // ...but a small stored result is created as a listpack.
    assert_eq!(r.cmd(&["ZUNIONSTORE", "u", "1", "small"]), Reply::int(2));
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "u"]), Reply::bulk("listpack"));
    assert_eq!(
        r.cmd(&["ZRANGESTORE", "rs", "small", "0", "-1"]),
        Reply::int(2)
    );
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "rs"]),
        Reply::bulk("listpack")
    );
    // 129 members in one ZADD.
    let mut args: Vec<String> = vec!["ZADD".into(), "one".into()];
    for i in 0..129 {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    assert_eq!(r.cmd(&args), Reply::int(129));
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "one"]),
        Reply::bulk("skiplist")
    );
    // Member length: 64 bytes fit, 65 do not.
    r.cmd(&["ZADD", "long", "1", &"x".repeat(64)]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "long"]),
        Reply::bulk("listpack")
    );
    r.cmd(&["ZADD", "long", "2", &"y".repeat(65)]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "long"]),
        Reply::bulk("skiplist")
    );
    r.cmd(&["ZINCRBY", "long2", "1", &"y".repeat(65)]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "long2"]),
        Reply::bulk("skiplist")
    );
    // Both encodings answer the same.
    assert_eq!(
        r.cmd(&["ZRANGE", "long", "0", "-1", "WITHSCORES"])
            .strings(),
        ["x".repeat(64), "1".into(), "y".repeat(65), "2".into()]
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "small", "0", "-1", "WITHSCORES"]),
        Reply::bulks(&["m127", "127", "m128", "128"])
    );
    assert_eq!(
        r.cmd(&["ZRANGE", "u", "0", "-1", "WITHSCORES"]),
        Reply::bulks(&["m127", "127", "m128", "128"])
    );
    // The thresholds are configurable, as in Redis.
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "zset-max-listpack-entries", "2"]),
        Reply::ok()
    );
    r.cmd(&["ZADD", "tiny", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "tiny"]),
        Reply::bulk("skiplist")
    );
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "zset-max-listpack-value", "4"]),
        Reply::ok()
    );
    r.cmd(&["ZADD", "tiny2", "1", "abcde"]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "tiny2"]),
        Reply::bulk("skiplist")
    );
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "zset-max-ziplist-entries"]),
        Reply::bulks(&["zset-max-ziplist-entries", "2"])
    );
}

/// RESP3: scores are doubles, WITHSCORES replies are [member, score] pairs.
#[test]
fn resp3_replies() {
    let (_s, mut r) = setup();
    assert!(matches!(r.cmd(&["HELLO", "3"]), Reply::Map(_)));
    let d = |s: &str| Reply::Double(s.into());
    let pair = |m: &str, s: &str| Reply::arr(vec![Reply::bulk(m), Reply::Double(s.into())]);
    assert_eq!(
        r.cmd(&["ZADD", "z", "1", "a", "2.5", "b", "+inf", "c"]),
        Reply::int(3)
    );
    assert_eq!(r.cmd(&["ZSCORE", "z", "b"]), d("2.5"));
    assert_eq!(r.cmd(&["ZSCORE", "z", "c"]), d("inf"));
    assert_eq!(r.cmd(&["ZSCORE", "z", "nope"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZRANK", "z", "nope"]), Reply::Nil);
    assert_eq!(
        r.cmd(&["ZMSCORE", "z", "a", "nope"]),
        Reply::arr(vec![d("1"), Reply::Nil])
    );
    assert_eq!(r.cmd(&["ZINCRBY", "z", "0.5", "a"]), d("1.5"));
    assert_eq!(r.cmd(&["ZADD", "z", "INCR", "1", "a"]), d("2.5"));
    assert_eq!(r.cmd(&["ZADD", "z", "NX", "INCR", "1", "a"]), Reply::Nil);
    assert_eq!(r.cmd(&["ZADD", "z", "INCR", "-1", "a"]), d("1.5"));
    assert_eq!(
        r.cmd(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        Reply::arr(vec![pair("a", "1.5"), pair("b", "2.5"), pair("c", "inf")])
    );
    assert_eq!(r.cmd(&["ZRANGE", "z", "0", "0"]), Reply::bulks(&["a"]));
    assert_eq!(
        r.cmd(&["ZREVRANGE", "z", "0", "0", "WITHSCORES"]),
        Reply::arr(vec![pair("c", "inf")])
    );
    assert_eq!(
        r.cmd(&[
            "ZRANGEBYSCORE",
            "z",
            "-inf",
            "+inf",
            "WITHSCORES",
            "LIMIT",
            "0",
            "1"
        ]),
        Reply::arr(vec![pair("a", "1.5")])
    );
    assert_eq!(
        r.cmd(&["ZREVRANGEBYSCORE", "z", "+inf", "2", "WITHSCORES"]),
        Reply::arr(vec![pair("c", "inf"), pair("b", "2.5")])
    );
    assert_eq!(
        r.cmd(&["ZUNION", "1", "z", "WITHSCORES"]),
        Reply::arr(vec![pair("a", "1.5"), pair("b", "2.5"), pair("c", "inf")])
    );
    assert_eq!(r.cmd(&["ZUNION", "1", "z"]), Reply::bulks(&["a", "b", "c"]));
    assert_eq!(
        r.cmd(&["ZINTER", "1", "z", "WITHSCORES"]).as_array().len(),
        3
    );
    assert_eq!(
        r.cmd(&["ZDIFF", "1", "z", "WITHSCORES"]).as_array()[0],
        pair("a", "1.5")
    );
    // ZRANDMEMBER with scores: pairs.
    for n in ["2", "-2"] {
        let got = r.cmd(&["ZRANDMEMBER", "z", n, "WITHSCORES"]);
        assert_eq!(got.as_array().len(), 2);
        for p in got.as_array() {
            let p = p.as_array();
            assert_eq!(p.len(), 2);
            assert!(matches!(p[1], Reply::Double(_)), "{got:?}");
        }
    }
    assert_eq!(r.cmd(&["ZRANDMEMBER", "nokey"]), Reply::Nil);
    // ZSCAN keeps scores as bulk strings in a flat array.
    let mut cursor = "0".to_string();
    let mut seen = BTreeMap::new();
    for _ in 0..1000 {
        let reply = r.cmd(&["ZSCAN", "z", cursor.as_str()]);
        let parts = reply.as_array();
        assert!(matches!(parts[0], Reply::Bulk(_)), "{reply:?}");
        assert!(matches!(parts[1], Reply::Array(_)), "{reply:?}");
        assert!(
            parts[1]
                .as_array()
                .iter()
                .all(|x| matches!(x, Reply::Bulk(_))),
            "{reply:?}"
        );
        seen.extend(pairs(&parts[1]));
        cursor = parts[0].as_string();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0");
    let want: BTreeMap<String, String> = [("a", "1.5"), ("b", "2.5"), ("c", "inf")]
        .into_iter()
        .map(|(m, s)| (m.to_string(), s.to_string()))
        .collect();
    assert_eq!(seen, want);
    // ZPOPMIN without a count: a flat [member, score]; with a count: pairs, even for 1.
    assert_eq!(
        r.cmd(&["ZPOPMIN", "z"]),
        Reply::arr(vec![Reply::bulk("a"), d("1.5")])
    );
    r.cmd(&["ZADD", "z", "1", "a", "3", "d"]);
    assert_eq!(
        r.cmd(&["ZPOPMIN", "z", "2"]),
        Reply::arr(vec![pair("a", "1"), pair("b", "2.5")])
    );
    assert_eq!(
        r.cmd(&["ZPOPMAX", "z", "1"]),
        Reply::arr(vec![pair("c", "inf")])
    );
    assert_eq!(r.cmd(&["ZPOPMAX", "nokey"]), Reply::Array(vec![]));
    assert_eq!(r.cmd(&["ZPOPMAX", "nokey", "2"]), Reply::Array(vec![]));
    // BZPOPMIN: [key, member, double]; nil on timeout.
    assert_eq!(
        r.cmd(&["BZPOPMIN", "nokey", "z", "1"]),
        Reply::arr(vec![Reply::bulk("z"), Reply::bulk("d"), d("3")])
    );
    assert_eq!(r.cmd(&["BZPOPMIN", "nokey", "0.05"]), Reply::Nil);
    // ZMPOP: [key, [[member, double], ...]].
    r.cmd(&["ZADD", "m", "1", "a", "2", "b"]);
    assert_eq!(
        r.cmd(&["ZMPOP", "1", "m", "MAX", "COUNT", "2"]),
        Reply::arr(vec![
            Reply::bulk("m"),
            Reply::arr(vec![pair("b", "2"), pair("a", "1")])
        ])
    );
    assert_eq!(r.cmd(&["ZMPOP", "1", "m", "MAX"]), Reply::Nil);
    // Doubles use the same digits as RESP2 bulk scores.
    r.cmd(&["ZADD", "t", "0.1", "x"]);
    assert_eq!(r.cmd(&["ZSCORE", "t", "x"]), d("0.10000000000000001"));
}

/// Blocking pops: served at once, timeouts, first blocked first served, served by another
/// client's ZADD, a key created and emptied in one transaction wakes nobody, no blocking
/// inside MULTI.
#[test]
fn blocking_pops() {
    let (s, mut w) = setup();
    // Served at once, from the first non-empty key.
    w.cmd(&["ZADD", "q", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(
        w.cmd(&["BZPOPMIN", "nokey", "q", "1"]),
        Reply::bulks(&["q", "a", "1"])
    );
    assert_eq!(
        w.cmd(&["BZPOPMAX", "q", "1"]),
        Reply::bulks(&["q", "c", "3"])
    );
    // Timeout.
    let started = Instant::now();
    assert_eq!(w.cmd(&["BZPOPMIN", "empty", "0.2"]), Reply::Nil);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(150), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(
        w.cmd(&["BZPOPMIN", "k", "-1"]),
        Reply::err("ERR timeout is negative")
    );
    assert_eq!(
        w.cmd(&["BZPOPMAX", "k", "x"]),
        Reply::err("ERR timeout is not a float or out of range")
    );
    assert_eq!(
        w.cmd(&["BZPOPMIN", "k"]),
        Reply::err("ERR wrong number of arguments for 'bzpopmin' command")
    );
    // Two clients blocked on the same key: served in arrival order.
    let mut a = s.raw();
    let mut b = s.raw();
    a.send_cmd(&["BZPOPMIN", "k1", "k2", "5"]);
    wait_blocked(&mut w, 1);
    b.send_cmd(&["BZPOPMAX", "k2", "5"]);
    wait_blocked(&mut w, 2);
    assert_eq!(
        w.cmd(&["ZADD", "k2", "1", "x", "2", "y", "3", "z"]),
        Reply::int(3)
    );
    assert_eq!(a.read_reply(), Reply::bulks(&["k2", "x", "1"]));
    assert_eq!(b.read_reply(), Reply::bulks(&["k2", "z", "3"]));
    assert_eq!(
        w.cmd(&["ZRANGE", "k2", "0", "-1", "WITHSCORES"]),
        Reply::bulks(&["y", "2"])
    );
    assert_eq!(blocked_count(&mut w), "0");
    // Timeout 0 waits for ever; a fractional score comes through as sent.
    a.send_cmd(&["BZPOPMAX", "k3", "0"]);
    wait_blocked(&mut w, 1);
    // A key created and emptied inside one transaction serves nobody.
    w.cmd(&["MULTI"]);
    w.cmd(&["ZADD", "k3", "1", "gone"]);
    w.cmd(&["ZREM", "k3", "gone"]);
    assert_eq!(
        w.cmd(&["EXEC"]),
        Reply::Array(vec![Reply::int(1), Reply::int(1)])
    );
    assert_eq!(
        a.try_read_reply(Duration::from_millis(200)),
        Err(ReadErr::Timeout)
    );
    assert_eq!(blocked_count(&mut w), "1");
    w.cmd(&["ZADD", "k3", "2.5", "m", "1", "n"]);
    assert_eq!(a.read_reply(), Reply::bulks(&["k3", "m", "2.5"]));
    assert_eq!(w.cmd(&["ZCARD", "k3"]), Reply::int(1));
    // A store command that creates the key serves a blocked client too.
    a.send_cmd(&["BZPOPMIN", "k4", "5"]);
    wait_blocked(&mut w, 1);
    assert_eq!(w.cmd(&["ZUNIONSTORE", "k4", "1", "k3"]), Reply::int(1));
    assert_eq!(a.read_reply(), Reply::bulks(&["k4", "n", "1"]));
    assert_eq!(w.cmd(&["EXISTS", "k4"]), Reply::int(0));
    // Inside MULTI nothing blocks.
    w.cmd(&["MULTI"]);
    w.cmd(&["BZPOPMIN", "empty", "10"]);
    w.cmd(&["BZPOPMAX", "q", "10"]);
    assert_eq!(
        w.cmd(&["EXEC"]),
        Reply::Array(vec![Reply::Nil, Reply::bulks(&["q", "b", "2"])])
    );
    // A client that leaves while blocked takes nothing with it.
    {
        let mut gone = s.raw();
        gone.send_cmd(&["BZPOPMIN", "later", "10"]);
        wait_blocked(&mut w, 1);
    }
    wait_blocked(&mut w, 0);
    w.cmd(&["ZADD", "later", "1", "kept"]);
    assert_eq!(
        w.cmd(&["ZRANGE", "later", "0", "-1"]),
        Reply::bulks(&["kept"])
    );
}

/// A score bound as sent ("3", "(3", "-inf", "+inf") and how it compares.
#[derive(Clone, Copy, Debug)]
enum Bound {
    NegInf,
    PosInf,
    Incl(i64),
    Excl(i64),
}

impl Bound {
    fn random(rng: &mut impl rand::RngExt) -> Bound {
        match rng.random_range(0..10) {
            0 => Bound::NegInf,
            1 => Bound::PosInf,
            2..=5 => Bound::Incl(rng.random_range(-8..8)),
            _ => Bound::Excl(rng.random_range(-8..8)),
        }
    }
    fn text(self) -> String {
        match self {
            Bound::NegInf => "-inf".into(),
            Bound::PosInf => "+inf".into(),
            Bound::Incl(v) => v.to_string(),
            Bound::Excl(v) => format!("({v}"),
        }
    }
    fn above_min(self, s: i64) -> bool {
        match self {
            Bound::NegInf => true,
            Bound::PosInf => false,
            Bound::Incl(v) => s >= v,
            Bound::Excl(v) => s > v,
        }
    }
    fn below_max(self, s: i64) -> bool {
        match self {
            Bound::NegInf => false,
            Bound::PosInf => true,
            Bound::Incl(v) => s <= v,
            Bound::Excl(v) => s < v,
        }
    }
}

/// Members by (score, member), as Redis orders them.
fn ordered(z: &BTreeMap<String, i64>) -> Vec<(i64, String)> {
    let mut v: Vec<(i64, String)> = z.iter().map(|(m, s)| (*s, m.clone())).collect();
    v.sort();
    v
}

fn flat(items: &[(i64, String)]) -> Vec<String> {
    items
        .iter()
        .flat_map(|(s, m)| [m.clone(), s.to_string()])
        .collect()
}

/// Random commands on a few sorted sets, checked after every step against a model.
#[test]
fn randomized_against_a_model() {
    use rand::{RngExt, SeedableRng};
    let (_s, mut r) = setup();
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let pool = [
        "a", "b", "c", "d", "e", "f", "m1", "m10", "m2", "x", "B", "aa",
    ];
    let mut model: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for step in 0..2000 {
        let key = format!("z{}", rng.random_range(0..3));
        let z = model.entry(key.clone()).or_default();
        let member = pool[rng.random_range(0..pool.len())].to_string();
        match rng.random_range(0..9) {
            0..=2 => {
                // ZADD [NX|XX] [GT|LT] [CH] score member ...
                let mut args: Vec<String> = vec!["ZADD".into(), key.clone()];
                let (nx, xx) = match rng.random_range(0..4) {
                    0 => (true, false),
                    1 => (false, true),
                    _ => (false, false),
                };
                let (gt, lt) = if nx {
                    (false, false)
                } else {
                    match rng.random_range(0..4) {
                        0 => (true, false),
                        1 => (false, true),
                        _ => (false, false),
                    }
                };
                let ch = rng.random_range(0..2) == 0;
                for (on, name) in [(nx, "NX"), (xx, "XX"), (gt, "GT"), (lt, "LT"), (ch, "CH")] {
                    if on {
                        args.push(name.into());
                    }
                }
                let (mut added, mut changed) = (0, 0);
                for _ in 0..rng.random_range(1..4) {
                    let m = pool[rng.random_range(0..pool.len())].to_string();
                    let s: i64 = rng.random_range(-5..6);
                    args.push(s.to_string());
                    args.push(m.clone());
                    match z.get(&m).copied() {
                        None => {
                            if !xx {
                                z.insert(m, s);
                                added += 1;
                            }
                        }
                        Some(cur) => {
                            let allowed = !(nx || (gt && s <= cur) || (lt && s >= cur));
                            if allowed && s != cur {
                                z.insert(m, s);
                                changed += 1;
                            }
                        }
                    }
                }
                let want = added + if ch { changed } else { 0 };
                assert_eq!(r.cmd(&args), Reply::int(want), "step {step}: {args:?}");
            }
            3 => {
                // ZADD ... INCR: the new score, or nil.
                let flag = ["", "NX", "XX", "GT", "LT"][rng.random_range(0..5)];
                let d: i64 = rng.random_range(-3..4);
                let want = match z.get(&member).copied() {
                    None if flag == "XX" => None,
                    None => Some(d),
                    Some(_) if flag == "NX" => None,
                    Some(cur) => {
                        let new = cur + d;
                        if (flag == "GT" && new <= cur) || (flag == "LT" && new >= cur) {
                            None
                        } else {
                            Some(new)
                        }
                    }
                };
                if let Some(v) = want {
                    z.insert(member.clone(), v);
                }
                let mut args = vec!["ZADD", key.as_str()];
                if !flag.is_empty() {
                    args.push(flag);
                }
                let ds = d.to_string();
                args.extend(["INCR", &ds, &member]);
                assert_eq!(
                    r.cmd(&args),
                    want.map_or(Reply::Nil, |v| Reply::bulk(v.to_string())),
                    "step {step}: {args:?}"
                );
            }
            4 => {
                let d: i64 = rng.random_range(-4..5);
                let v = z.entry(member.clone()).or_insert(0);
                *v += d;
                assert_eq!(
                    r.cmd(&["ZINCRBY", &key, &d.to_string(), &member]),
                    Reply::bulk(v.to_string()),
                    "step {step}"
                );
            }
            5 => {
                let other = pool[rng.random_range(0..pool.len())].to_string();
                let mut removed = i64::from(z.remove(&member).is_some());
                removed += i64::from(z.remove(&other).is_some());
                assert_eq!(
                    r.cmd(&["ZREM", &key, &member, &other]),
                    Reply::int(removed),
                    "step {step}"
                );
            }
            6 => {
                let max = rng.random_range(0..2) == 0;
                let cmd = if max { "ZPOPMAX" } else { "ZPOPMIN" };
                let count = rng.random_range(0..5usize);
                let mut order = ordered(z);
                if max {
                    order.reverse();
                }
                // No count argument pops one.
                let n = if count == 0 { 1 } else { count - 1 };
                let popped: Vec<(i64, String)> = order.into_iter().take(n).collect();
                for (_, m) in &popped {
                    z.remove(m);
                }
                let got = if count == 0 {
                    r.cmd(&[cmd, &key])
                } else {
                    r.cmd(&[cmd, &key, &n.to_string()])
                };
                assert_eq!(got.strings(), flat(&popped), "step {step}: {cmd} {n}");
            }
            7 => {
                let (start, stop) = (rng.random_range(-6i64..6), rng.random_range(-6i64..6));
                let order = ordered(z);
                let len = order.len() as i64;
                let (mut a, mut b) = (start, stop);
                if a < 0 {
                    a += len;
                }
                if b < 0 {
                    b += len;
                }
                a = a.max(0);
                let doomed: Vec<(i64, String)> = if a > b || a >= len {
                    vec![]
                } else {
                    order[a as usize..=(b.min(len - 1) as usize)].to_vec()
                };
                for (_, m) in &doomed {
                    z.remove(m);
                }
                assert_eq!(
                    r.cmd(&[
                        "ZREMRANGEBYRANK",
                        &key,
                        &start.to_string(),
                        &stop.to_string()
                    ]),
                    Reply::int(doomed.len() as i64),
                    "step {step}: {start} {stop}"
                );
            }
            _ => {
                let (min, max) = (Bound::random(&mut rng), Bound::random(&mut rng));
                let before = z.len();
                z.retain(|_, s| !(min.above_min(*s) && max.below_max(*s)));
                assert_eq!(
                    r.cmd(&["ZREMRANGEBYSCORE", &key, &min.text(), &max.text()]),
                    Reply::int((before - z.len()) as i64),
                    "step {step}: {min:?} {max:?}"
                );
            }
        }
        let z = model.get(&key).cloned().unwrap_or_default();
        if z.is_empty() {
            model.remove(&key);
        }
        // Whole-state and read checks on the key just written.
        let order = ordered(&z);
        assert_eq!(
            r.cmd(&["ZRANGE", &key, "0", "-1", "WITHSCORES"]).strings(),
            flat(&order),
            "step {step}"
        );
        assert_eq!(r.cmd(&["ZCARD", &key]), Reply::int(z.len() as i64));
        assert_eq!(
            r.cmd(&["EXISTS", &key]),
            Reply::int(i64::from(!z.is_empty())),
            "step {step}"
        );
        let probe = pool[rng.random_range(0..pool.len())];
        let rank = order.iter().position(|(_, m)| m == probe);
        assert_eq!(
            r.cmd(&["ZRANK", &key, probe]),
            rank.map_or(Reply::Nil, |i| Reply::int(i as i64)),
            "step {step}"
        );
        assert_eq!(
            r.cmd(&["ZREVRANK", &key, probe]),
            rank.map_or(Reply::Nil, |i| Reply::int((order.len() - 1 - i) as i64)),
            "step {step}"
        );
        let (min, max) = (Bound::random(&mut rng), Bound::random(&mut rng));
        let in_range: Vec<(i64, String)> = order
            .iter()
            .filter(|(s, _)| min.above_min(*s) && max.below_max(*s))
            .cloned()
            .collect();
        assert_eq!(
            r.cmd(&["ZCOUNT", &key, &min.text(), &max.text()]),
            Reply::int(in_range.len() as i64),
            "step {step}: {min:?} {max:?}"
        );
        let (offset, count) = (rng.random_range(0..4usize), rng.random_range(-1i64..4));
        let page: Vec<(i64, String)> = in_range
            .iter()
            .skip(offset)
            .take(if count < 0 {
                usize::MAX
            } else {
                count as usize
            })
            .cloned()
            .collect();
        assert_eq!(
            r.cmd(&[
                "ZRANGEBYSCORE",
                &key,
                &min.text(),
                &max.text(),
                "WITHSCORES",
                "LIMIT",
                &offset.to_string(),
                &count.to_string(),
            ])
            .strings(),
            flat(&page),
            "step {step}: {min:?} {max:?} {offset} {count}"
        );
        let rev: Vec<String> = in_range.iter().rev().map(|(_, m)| m.clone()).collect();
        assert_eq!(
            r.cmd(&["ZREVRANGEBYSCORE", &key, &max.text(), &min.text()])
                .strings(),
            rev,
            "step {step}"
        );
    }
}

fn fill_zsets(r: &mut RawConn) {
    for i in 0..40 {
        r.cmd(&[
            "ZADD",
            &format!("small:{i}"),
            "1",
            "a",
            "2.5",
            "b",
            &i.to_string(),
            &format!("m{i}"),
        ]);
    }
    for i in 0..300 {
        r.cmd(&[
            "ZADD",
            "big",
            &format!("{}.5", i / 2),
            &format!("member-{i}"),
        ]);
    }
    r.cmd(&[
        "ZADD", "odd", "+inf", "top", "-inf", "bottom", "0.1", "x", "1e300", "huge",
    ]);
    r.cmd(&["ZINCRBY", "odd", "0.2", "x"]);
    r.cmd(&["ZADD", "long", "1", &"v".repeat(100), "2", "short"]);
    r.cmd(&["ZADD", "small:1", "NX", "9", "a", "9", "new"]);
    r.cmd(&["ZADD", "small:1", "XX", "CH", "7", "b", "7", "absent"]);
    r.cmd(&["ZADD", "small:1", "GT", "0", "a", "100", "b"]);
    r.cmd(&["ZADD", "small:1", "LT", "INCR", "-1", "a"]);
    r.cmd(&["ZINCRBY", "small:2", "-0.75", "b"]);
    r.cmd(&["ZREM", "small:3", "a", "b", "m3"]);
    r.cmd(&["ZPOPMIN", "small:4"]);
    r.cmd(&["ZPOPMAX", "small:5", "2"]);
    r.cmd(&["BZPOPMIN", "nokey", "small:6", "1"]);
    r.cmd(&["BZPOPMAX", "small:7", "1"]);
    r.cmd(&["ZMPOP", "2", "nokey", "small:8", "MAX", "COUNT", "2"]);
    r.cmd(&["BZMPOP", "1", "1", "small:9", "MIN"]);
    // A pop that blocks first and is served later by another client's ZADD.
    let mut other = RawConn::connect(&r.stream.peer_addr().unwrap().to_string());
    other.send_cmd(&["BZPOPMIN", "waiting", "10"]);
    assert!(poll_until(
        Duration::from_secs(5),
        Duration::from_millis(10),
        || blocked_count(r) == "1"
    ));
    r.cmd(&["ZADD", "waiting", "1", "first", "2", "second"]);
    assert_eq!(other.read_reply(), Reply::bulks(&["waiting", "first", "1"]));
    r.cmd(&["ZREMRANGEBYRANK", "big", "0", "9"]);
    r.cmd(&["ZREMRANGEBYSCORE", "big", "(100", "110"]);
    r.cmd(&["ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d"]);
    r.cmd(&["ZREMRANGEBYLEX", "lex", "[b", "[c"]);
    r.cmd(&[
        "ZUNIONSTORE",
        "u",
        "2",
        "small:10",
        "small:11",
        "WEIGHTS",
        "2",
        "0.5",
        "AGGREGATE",
        "MAX",
    ]);
    r.cmd(&["ZINTERSTORE", "i", "2", "big", "small:12"]);
    r.cmd(&[
        "ZINTERSTORE",
        "i2",
        "2",
        "small:13",
        "small:14",
        "AGGREGATE",
        "MIN",
    ]);
    r.cmd(&["ZDIFFSTORE", "d", "2", "small:15", "small:16"]);
    r.cmd(&[
        "ZRANGESTORE",
        "rs",
        "big",
        "60",
        "(10",
        "BYSCORE",
        "REV",
        "LIMIT",
        "0",
        "5",
    ]);
    r.cmd(&["SADD", "set", "a", "zz"]);
    r.cmd(&["ZUNIONSTORE", "fromset", "2", "set", "small:17"]);
    r.cmd(&["ZUNIONSTORE", "bigcopy", "1", "big"]);
    r.cmd(&["ZADD", "exp", "1", "a"]);
    r.cmd(&["EXPIRE", "exp", "1000"]);
    r.cmd(&["ZADD", "emptied", "1", "a"]);
    r.cmd(&["ZREM", "emptied", "a"]);
}

#[test]
fn zsets_replicate_to_our_follower_and_a_stock_replica() {
    assert_followers_converge(fill_zsets);
}

#[test]
fn rdb_with_zsets_loads_in_stock_redis_and_back() {
    let check = |r: &mut RawConn| {
        assert_eq!(
            r.cmd(&["OBJECT", "ENCODING", "small:20"]),
            Reply::bulk("listpack")
        );
        assert_eq!(
            r.cmd(&["OBJECT", "ENCODING", "big"]),
            Reply::bulk("skiplist")
        );
        assert_eq!(
            r.cmd(&["OBJECT", "ENCODING", "long"]),
            Reply::bulk("skiplist")
        );
        assert_eq!(
            r.cmd(&["ZRANGE", "odd", "0", "-1", "WITHSCORES"]),
            Reply::bulks(&[
                "bottom",
                "-inf",
                "x",
                "0.30000000000000004",
                "huge",
                "1.0000000000000001e+300",
                "top",
                "inf"
            ])
        );
        assert_eq!(r.cmd(&["ZSCORE", "small:2", "b"]), Reply::bulk("1.75"));
        assert_eq!(r.cmd(&["ZCARD", "big"]), Reply::int(270));
        assert_eq!(r.cmd(&["EXISTS", "emptied"]), Reply::int(0));
    };
    assert_rdb_round_trip(fill_zsets, check, check);
}

fn geo_fill(r: &mut common::RawConn) {
    r.cmd(&[
        "GEOADD",
        "Sicily",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
        "12.758489",
        "38.788135",
        "edge1",
        "17.241510",
        "38.788135",
        "edge2",
    ]);
    r.cmd(&[
        "GEOADD",
        "world",
        "-122.27652",
        "37.805186",
        "oakland",
        "-122.2469854",
        "37.8104049",
        "emeryville",
        "-0.1278",
        "51.5074",
        "london",
        "139.6917",
        "35.6895",
        "tokyo",
        "0",
        "0",
        "null",
        "-179.9",
        "-85",
        "corner",
        "179.9",
        "85",
        "other",
    ]);
}

const GEO_CASES: &[&str] = &[
    "GEOADD Sicily NX 13.361389 38.115556 Palermo",
    "GEOADD Sicily XX CH 13.361389 38.2 Palermo",
    "GEOADD Sicily NX XX 1 1 x",
    "GEOADD Sicily 1 1",
    "GEOADD Sicily 181 1 x",
    "GEOADD Sicily 1 86 x",
    "GEOADD Sicily a 1 x",
    "ZRANGE Sicily 0 -1 WITHSCORES",
    "GEOPOS Sicily Palermo Catania nomember",
    "GEOPOS nokey a",
    "GEOHASH Sicily Palermo Catania nomember",
    "GEODIST Sicily Palermo Catania",
    "GEODIST Sicily Palermo Catania km",
    "GEODIST Sicily Palermo Catania mi",
    "GEODIST Sicily Palermo Catania ft",
    "GEODIST Sicily Palermo Catania yards",
    "GEODIST Sicily Palermo nomember",
    "GEODIST Sicily Palermo Catania km x",
    "GEODIST nokey a b",
    "GEORADIUS Sicily 15 37 200 km",
    "GEORADIUS Sicily 15 37 200 km WITHDIST WITHCOORD WITHHASH",
    "GEORADIUS Sicily 15 37 200 km ASC",
    "GEORADIUS Sicily 15 37 200 km DESC COUNT 2",
    "GEORADIUS Sicily 15 37 200 km COUNT 1 ANY",
    "GEORADIUS Sicily 15 37 200 km ANY",
    "GEORADIUS Sicily 15 37 200 km COUNT 0",
    "GEORADIUS Sicily 15 37 -1 km",
    "GEORADIUS Sicily 15 37 x km",
    "GEORADIUS Sicily 15 37 200 parsecs",
    "GEORADIUS Sicily 15 37 200 km WITHDIST STORE dst",
    "GEORADIUS Sicily 15 37 200 km STORE dst",
    "ZRANGE dst 0 -1 WITHSCORES",
    "GEORADIUS Sicily 15 37 200 km STOREDIST dst2",
    "ZRANGE dst2 0 -1 WITHSCORES",
    "GEORADIUS nokey 15 37 200 km STORE dst2",
    "EXISTS dst2",
    "GEORADIUS_RO Sicily 15 37 200 km STORE dst",
    "GEORADIUSBYMEMBER Sicily Palermo 300 km WITHDIST",
    "GEORADIUSBYMEMBER Sicily nomember 300 km",
    "GEORADIUSBYMEMBER nokey nomember 300 km",
    "GEORADIUSBYMEMBER_RO Sicily Catania 100 mi ASC WITHCOORD",
    "GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHDIST",
    "GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km DESC WITHCOORD",
    "GEOSEARCH Sicily FROMMEMBER Palermo BYBOX 400 400 km COUNT 2 WITHHASH",
    "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX -1 5 km",
    "GEOSEARCH Sicily FROMLONLAT 15 37",
    "GEOSEARCH Sicily BYRADIUS 10 km",
    "GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 1 1 BYRADIUS 10 km",
    "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 10 km BYBOX 1 1 km",
    "GEOSEARCH Sicily FROMMEMBER Palermo BYRADIUS 10 km STORE x",
    "GEOSEARCH nokey FROMMEMBER Palermo BYRADIUS 10 km",
    "GEOSEARCHSTORE dst3 Sicily FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST",
    "ZRANGE dst3 0 -1 WITHSCORES",
    "GEOSEARCHSTORE dst3 Sicily FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST",
    "GEOSEARCH world FROMLONLAT -122.26 37.80 BYRADIUS 5 km ASC WITHDIST",
    "GEOSEARCH world FROMLONLAT 0 0 BYRADIUS 20000 km ASC",
    "GEOSEARCH world FROMLONLAT 0 0 BYBOX 40000 20000 km DESC WITHCOORD",
    "GEORADIUS world 179 84 500 km WITHDIST",
    "GEORADIUS world -179 -84.9 500 km WITHDIST",
    "GEOPOS world corner other null",
    "GEOHASH world corner other null tokyo",
    "SET str x",
    "GEOPOS str a",
    "GEOSEARCH str FROMLONLAT 1 1 BYRADIUS 1 km",
];

#[test]
fn geo_replies_match_stock() {
    common::ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    geo_fill(&mut o);
    geo_fill(&mut s);
    let mut diffs = Vec::new();
    for line in GEO_CASES {
        let c: Vec<&str> = line.split(' ').collect();
        let (a, b) = (o.cmd(&c), s.cmd(&c));
        if a != b {
            diffs.push(format!("{line}\n  stock: {b:?}\n   ours: {a:?}"));
        }
    }
    // RESP3 coordinates are doubles.
    o.cmd(&["HELLO", "3"]);
    s.cmd(&["HELLO", "3"]);
    let c = ["GEOPOS", "Sicily", "Palermo"];
    if o.cmd(&c) != s.cmd(&c) {
        diffs.push("RESP3 GEOPOS".into());
    }
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn geo_keys_reach_followers_alike() {
    common::ensure_stock_redis();
    common::assert_followers_converge(|r| {
        geo_fill(r);
        r.cmd(&[
            "GEOSEARCHSTORE",
            "near",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "STOREDIST",
        ]);
        r.cmd(&[
            "GEORADIUS",
            "Sicily",
            "15",
            "37",
            "200",
            "km",
            "COUNT",
            "1",
            "STORE",
            "one",
        ]);
        r.cmd(&["SET", "gone", "x"]);
        r.cmd(&[
            "GEORADIUS",
            "nokey",
            "15",
            "37",
            "200",
            "km",
            "STORE",
            "gone",
        ]);
    });
}
