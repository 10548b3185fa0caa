//! Hashes: every command with its errors, encodings, a randomized model test, replication
//! (to our followers and to a stock replica, compared by DEBUG DIGEST) and RDB both ways.

mod common;

use common::*;
use std::collections::BTreeMap;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn hash_commands_and_errors() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["HSET", "h", "f1", "v1", "f2", "v2"]), Reply::int(2));
    assert_eq!(r.cmd(&["HSET", "h", "f1", "v1b"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["HSET", "h", "f1"]),
        Reply::err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(r.cmd(&["HGET", "h", "f1"]), Reply::bulk("v1b"));
    assert_eq!(r.cmd(&["HGET", "h", "nope"]), Reply::Nil);
    assert_eq!(
        r.cmd(&["HMGET", "h", "f1", "nope", "f2"]),
        Reply::Array(vec![Reply::bulk("v1b"), Reply::Nil, Reply::bulk("v2")])
    );
    assert_eq!(r.cmd(&["HMSET", "h", "a", "1", "b", "2"]), Reply::ok());
    assert_eq!(r.cmd(&["HSETNX", "h", "a", "5"]), Reply::int(0));
    assert_eq!(r.cmd(&["HSETNX", "h", "c", "3"]), Reply::int(1));
    assert_eq!(r.cmd(&["HLEN", "h"]), Reply::int(5));
    assert_eq!(r.cmd(&["HSTRLEN", "h", "f1"]), Reply::int(3));
    assert_eq!(r.cmd(&["HEXISTS", "h", "a"]), Reply::int(1));
    assert_eq!(r.cmd(&["HEXISTS", "h", "zz"]), Reply::int(0));
    assert_eq!(r.cmd(&["HINCRBY", "h", "a", "10"]), Reply::int(11));
    assert_eq!(
        r.cmd(&["HINCRBY", "h", "f1", "1"]),
        Reply::err("ERR hash value is not an integer")
    );
    assert_eq!(
        r.cmd(&["HINCRBY", "h", "a", "x"]),
        Reply::err("ERR value is not an integer or out of range")
    );
    r.cmd(&["HINCRBY", "h", "big", "9223372036854775807"]);
    assert_eq!(
        r.cmd(&["HINCRBY", "h", "big", "1"]),
        Reply::err("ERR increment or decrement would overflow")
    );
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "h", "fl", "1.5"]),
        Reply::bulk("1.5")
    );
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "h", "fl", "0.1"]),
        Reply::bulk("1.6")
    );
    assert_eq!(
        r.cmd(&["HINCRBYFLOAT", "h", "f1", "1"]),
        Reply::err("ERR hash value is not a float")
    );
    for bad in ["inf", "-inf"] {
        assert_eq!(
            r.cmd(&["HINCRBYFLOAT", "h", "fl", bad]),
            Reply::err("ERR value is NaN or Infinity")
        );
    }
    assert_eq!(r.cmd(&["HDEL", "h", "a", "b", "nope"]), Reply::int(2));
    let mut keys = r.cmd(&["HKEYS", "h"]).strings();
    keys.sort();
    assert_eq!(keys, ["big", "c", "f1", "f2", "fl"]);
    assert_eq!(r.cmd(&["HVALS", "h"]).as_array().len(), 5);
    assert_eq!(r.cmd(&["HGETALL", "h"]).as_array().len(), 10);
    assert_eq!(r.cmd(&["HGETALL", "nokey"]), Reply::Array(vec![]));
    assert_eq!(r.cmd(&["HRANDFIELD", "nokey"]), Reply::Nil);
    assert_eq!(r.cmd(&["HRANDFIELD", "h", "0"]), Reply::Array(vec![]));
    assert_eq!(r.cmd(&["HRANDFIELD", "h", "3"]).as_array().len(), 3);
    assert_eq!(r.cmd(&["HRANDFIELD", "h", "-7"]).as_array().len(), 7);
    assert_eq!(
        r.cmd(&["HRANDFIELD", "h", "2", "WITHVALUES"])
            .as_array()
            .len(),
        4
    );
    assert_eq!(
        r.cmd(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
        Reply::err("ERR syntax error")
    );
    assert_eq!(
        r.cmd(&["HSCAN", "h", "x"]),
        Reply::err("ERR invalid cursor")
    );
    let scan = r.cmd(&["HSCAN", "h", "0", "MATCH", "f*"]);
    assert_eq!(scan.as_array()[0], Reply::bulk("0"));
    assert_eq!(scan.as_array()[1].as_array().len(), 6);
    // Types: WRONGTYPE both ways; the last field removed deletes the key.
    r.cmd(&["SET", "s", "v"]);
    assert_eq!(r.cmd(&["HGET", "s", "f"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["HSET", "s", "f", "v"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["GET", "h"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["INCR", "h"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["TYPE", "h"]), Reply::simple("hash"));
    r.cmd(&["HSET", "one", "f", "v"]);
    assert_eq!(r.cmd(&["HDEL", "one", "f"]), Reply::int(1));
    assert_eq!(r.cmd(&["EXISTS", "one"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["SCAN", "0", "TYPE", "hash"]).as_array()[1].strings(),
        ["h"]
    );
}

#[test]
fn encodings_follow_the_listpack_limits() {
    let (_s, mut r) = setup();
    for i in 0..512 {
        r.cmd(&["HSET", "small", &format!("f{i}"), "v"]);
    }
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "small"]),
        Reply::bulk("listpack")
    );
    r.cmd(&["HSET", "small", "f512", "v"]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "small"]),
        Reply::bulk("hashtable")
    );
    r.cmd(&["HSET", "long", "f", &"x".repeat(65)]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "long"]),
        Reply::bulk("hashtable")
    );
    assert_eq!(r.cmd(&["HLEN", "small"]), Reply::int(513));
    // The thresholds are configurable, as in Redis.
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "hash-max-listpack-entries", "2"]),
        Reply::ok()
    );
    r.cmd(&["HSET", "tiny", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "tiny"]),
        Reply::bulk("hashtable")
    );
}

/// Random commands on a few hashes, checked after every step against a model.
#[test]
fn randomized_against_a_model() {
    use rand::{RngExt, SeedableRng};
    let (_s, mut r) = setup();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut model: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for step in 0..3000 {
        let key = format!("h{}", rng.random_range(0..3));
        let field = format!("f{}", rng.random_range(0..12));
        let h = model.entry(key.clone()).or_default();
        match rng.random_range(0..6) {
            0 => {
                let v: i64 = rng.random_range(-50..50);
                let new = i64::from(!h.contains_key(&field));
                h.insert(field.clone(), v);
                assert_eq!(
                    r.cmd(&["HSET", &key, &field, &v.to_string()]),
                    Reply::int(new)
                );
            }
            1 => {
                let had = i64::from(h.remove(&field).is_some());
                assert_eq!(
                    r.cmd(&["HDEL", &key, &field]),
                    Reply::int(had),
                    "step {step}"
                );
            }
            2 => {
                let d: i64 = rng.random_range(-10..10);
                let v = h.entry(field.clone()).or_insert(0);
                *v += d;
                assert_eq!(
                    r.cmd(&["HINCRBY", &key, &field, &d.to_string()]),
                    Reply::int(*v)
                );
            }
            3 => {
                let set = !h.contains_key(&field);
                if set {
                    h.insert(field.clone(), 1);
                }
                assert_eq!(
                    r.cmd(&["HSETNX", &key, &field, "1"]),
                    Reply::int(i64::from(set))
                );
            }
            4 => {
                let want = h
                    .get(&field)
                    .map_or(Reply::Nil, |v| Reply::bulk(v.to_string()));
                assert_eq!(r.cmd(&["HGET", &key, &field]), want);
            }
            _ => assert_eq!(r.cmd(&["HLEN", &key]), Reply::int(h.len() as i64)),
        }
        if h.is_empty() {
            model.remove(&key);
        }
        // Whole-state check.
        let k = format!("h{}", step % 3);
        let got = r.cmd(&["HGETALL", &k]).strings();
        let mut got: Vec<(String, String)> = got
            .chunks(2)
            .map(|c| (c[0].clone(), c[1].clone()))
            .collect();
        got.sort();
        let want: Vec<(String, String)> = model
            .get(&k)
            .map(|m| m.iter().map(|(f, v)| (f.clone(), v.to_string())).collect())
            .unwrap_or_default();
        assert_eq!(got, want, "step {step}");
        assert_eq!(
            r.cmd(&["EXISTS", &k]),
            Reply::int(i64::from(model.contains_key(&k)))
        );
    }
}

fn fill_hashes(r: &mut RawConn) {
    for i in 0..50 {
        r.cmd(&["HSET", &format!("small:{i}"), "a", &i.to_string(), "b", "x"]);
    }
    for i in 0..300 {
        r.cmd(&["HSET", "big", &format!("field:{i}"), &"v".repeat(i % 100)]);
    }
    r.cmd(&["HINCRBYFLOAT", "small:1", "fl", "0.1"]);
    r.cmd(&["HINCRBYFLOAT", "small:1", "fl", "0.2"]);
    r.cmd(&["HDEL", "small:2", "a", "b"]);
    r.cmd(&["HSET", "exp", "f", "v"]);
    r.cmd(&["EXPIRE", "exp", "1000"]);
}

#[test]
fn hashes_replicate_to_our_follower_and_a_stock_replica() {
    assert_followers_converge(fill_hashes);
}

#[test]
fn rdb_with_hashes_loads_in_stock_redis_and_back() {
    assert_rdb_round_trip(
        fill_hashes,
        |st| {
            assert_eq!(
                st.cmd(&["OBJECT", "ENCODING", "small:3"]),
                Reply::bulk("listpack")
            )
        },
        |b| assert_eq!(b.cmd(&["HLEN", "big"]), Reply::int(300)),
    );
}
