//! Sets: commands with their errors, encodings, a randomized model test, SPOP replicated
//! as explicit removals (to our follower and a stock replica), RDB both ways.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn sorted(r: Reply) -> Vec<String> {
    let mut v = r.strings();
    v.sort();
    v
}

#[test]
fn set_commands_and_errors() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SADD", "s", "3", "1", "2", "2"]), Reply::int(3));
    assert_eq!(r.cmd(&["SADD", "s", "a"]), Reply::int(1));
    assert_eq!(r.cmd(&["SREM", "s", "1", "nope"]), Reply::int(1));
    assert_eq!(r.cmd(&["SISMEMBER", "s", "2"]), Reply::int(1));
    assert_eq!(
        r.cmd(&["SMISMEMBER", "s", "2", "9", "a"]),
        Reply::Array(vec![Reply::int(1), Reply::int(0), Reply::int(1)])
    );
    assert_eq!(r.cmd(&["SCARD", "s"]), Reply::int(3));
    assert_eq!(sorted(r.cmd(&["SMEMBERS", "s"])), ["2", "3", "a"]);
    assert_eq!(r.cmd(&["SPOP", "nokey"]), Reply::Nil);
    assert_eq!(
        r.cmd(&["SPOP", "s", "-1"]),
        Reply::err("ERR value is out of range, must be positive")
    );
    assert_eq!(r.cmd(&["SRANDMEMBER", "s", "-5"]).as_array().len(), 5);
    assert_eq!(r.cmd(&["SRANDMEMBER", "s", "10"]).as_array().len(), 3);
    r.cmd(&["SADD", "x", "1", "2", "3", "4"]);
    r.cmd(&["SADD", "y", "3", "4", "5"]);
    assert_eq!(sorted(r.cmd(&["SINTER", "x", "y"])), ["3", "4"]);
    assert_eq!(
        sorted(r.cmd(&["SUNION", "x", "y"])),
        ["1", "2", "3", "4", "5"]
    );
    assert_eq!(sorted(r.cmd(&["SDIFF", "x", "y"])), ["1", "2"]);
    assert_eq!(r.cmd(&["SINTER", "x", "nokey"]), Reply::Array(vec![]));
    assert_eq!(r.cmd(&["SINTERSTORE", "d", "x", "y"]), Reply::int(2));
    assert_eq!(r.cmd(&["SDIFFSTORE", "d", "nokey"]), Reply::int(0));
    assert_eq!(r.cmd(&["EXISTS", "d"]), Reply::int(0));
    assert_eq!(r.cmd(&["SUNIONSTORE", "d", "x", "y"]), Reply::int(5));
    assert_eq!(
        r.cmd(&["SINTERCARD", "2", "x", "y", "LIMIT", "1"]),
        Reply::int(1)
    );
    assert_eq!(
        r.cmd(&["SINTERCARD", "0", "x"]),
        Reply::err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        r.cmd(&["SINTERCARD", "a", "x"]),
        Reply::err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        r.cmd(&["SINTERCARD", "3", "x", "y"]),
        Reply::err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(r.cmd(&["SMOVE", "x", "z", "1"]), Reply::int(1));
    assert_eq!(r.cmd(&["SMOVE", "x", "z", "99"]), Reply::int(0));
    assert_eq!(sorted(r.cmd(&["SMEMBERS", "z"])), ["1"]);
    r.cmd(&["SET", "str", "v"]);
    assert_eq!(r.cmd(&["SADD", "str", "a"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["SINTER", "x", "str"]), Reply::err(WRONGTYPE));
    assert_eq!(r.cmd(&["SMOVE", "x", "str", "2"]), Reply::err(WRONGTYPE));
    assert_eq!(
        r.cmd(&["SSCAN", "x", "abc"]),
        Reply::err("ERR invalid cursor")
    );
    assert_eq!(r.cmd(&["SADD", "e", "1"]), Reply::int(1));
    assert_eq!(r.cmd(&["SPOP", "e"]), Reply::bulk("1"));
    assert_eq!(r.cmd(&["EXISTS", "e"]), Reply::int(0));
    assert_eq!(r.cmd(&["TYPE", "x"]), Reply::simple("set"));
    // RESP3: SMEMBERS is a set.
    r.cmd(&["HELLO", "3"]);
    assert!(matches!(r.cmd(&["SMEMBERS", "y"]), Reply::Set(v) if v.len() == 3));
}

#[test]
fn encodings_follow_the_intset_limit() {
    let (_s, mut r) = setup();
    for i in 0..512 {
        r.cmd(&["SADD", "ints", &i.to_string()]);
    }
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "ints"]),
        Reply::bulk("intset")
    );
    r.cmd(&["SADD", "ints", "512"]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "ints"]),
        Reply::bulk("hashtable")
    );
    r.cmd(&["SADD", "mixed", "1", "01"]);
    assert_eq!(
        r.cmd(&["OBJECT", "ENCODING", "mixed"]),
        Reply::bulk("hashtable")
    );
    assert_eq!(r.cmd(&["SCARD", "mixed"]), Reply::int(2));
}

#[test]
fn randomized_against_a_model() {
    use rand::{RngExt, SeedableRng};
    let (_s, mut r) = setup();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut model: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for step in 0..3000 {
        let key = format!("s{}", rng.random_range(0..3));
        let member = if rng.random_range(0..2) == 0 {
            rng.random_range(0..15).to_string()
        } else {
            format!("m{}", rng.random_range(0..15))
        };
        let set = model.entry(key.clone()).or_default();
        match rng.random_range(0..5) {
            0 | 1 => {
                let new = i64::from(set.insert(member.clone()));
                assert_eq!(
                    r.cmd(&["SADD", &key, &member]),
                    Reply::int(new),
                    "step {step}"
                );
            }
            2 => {
                let had = i64::from(set.remove(&member));
                assert_eq!(
                    r.cmd(&["SREM", &key, &member]),
                    Reply::int(had),
                    "step {step}"
                );
            }
            3 => {
                let popped = r.cmd(&["SPOP", &key]);
                if set.is_empty() {
                    assert_eq!(popped, Reply::Nil);
                } else {
                    assert!(set.remove(&popped.as_string()), "popped a non-member");
                }
            }
            _ => {
                let other = format!("s{}", rng.random_range(0..3));
                let mine = set.clone();
                let theirs = model.get(&other).cloned().unwrap_or_default();
                let want: BTreeSet<String> = mine.intersection(&theirs).cloned().collect();
                if mine.is_empty() {
                    model.remove(&key);
                }
                let got: BTreeSet<String> = r
                    .cmd(&["SINTER", &key, &other])
                    .strings()
                    .into_iter()
                    .collect();
                assert_eq!(got, want, "step {step}");
                continue;
            }
        }
        let set = model.get(&key).cloned().unwrap_or_default();
        if set.is_empty() {
            model.remove(&key);
        }
        let got: BTreeSet<String> = r.cmd(&["SMEMBERS", &key]).strings().into_iter().collect();
        assert_eq!(got, set, "step {step}");
        assert_eq!(
            r.cmd(&["EXISTS", &key]),
            Reply::int(i64::from(!set.is_empty()))
        );
    }
}

fn fill_sets(r: &mut RawConn) {
    for i in 0..40 {
        r.cmd(&["SADD", &format!("ints:{i}"), "1", "2", &i.to_string()]);
        r.cmd(&["SADD", &format!("strs:{i}"), "a", "b", &format!("m{i}")]);
    }
    for i in 0..600 {
        r.cmd(&["SADD", "big", &i.to_string()]);
    }
    for _ in 0..10 {
        r.cmd(&["SPOP", "big"]);
    }
    r.cmd(&["SPOP", "strs:1", "2"]);
    r.cmd(&["SPOP", "strs:2", "5"]);
    r.cmd(&["SUNIONSTORE", "u", "ints:1", "strs:3"]);
    r.cmd(&["SMOVE", "ints:4", "ints:5", "4"]);
}

#[test]
fn spop_replicates_what_was_popped_to_our_follower_and_a_stock_replica() {
    assert_followers_converge(fill_sets);
}

#[test]
fn rdb_with_sets_loads_in_stock_redis_and_back() {
    let intset = |r: &mut RawConn| {
        assert_eq!(
            r.cmd(&["OBJECT", "ENCODING", "ints:3"]),
            Reply::bulk("intset")
        )
    };
    assert_rdb_round_trip(fill_sets, intset, intset);
}

/// HSCAN / SSCAN / ZSCAN on collections too big for the compact encodings answer in
/// steps (not the whole collection at once), and a full iteration returns every member
/// present throughout, while members are added and removed between steps.
#[test]
fn collection_scans_step_through_big_collections_while_they_change() {
    let (_s, mut r) = setup();
    let stable = 1000;
    for (add, scan, key) in [
        ("HSET", "HSCAN", "h"),
        ("SADD", "SSCAN", "s"),
        ("ZADD", "ZSCAN", "z"),
    ] {
        // Members m0..m1999; m1000.. are removed during the scan, n0.. added.
        let mut fill = vec![add.to_string(), key.to_string()];
        for i in 0..2 * stable {
            if add != "SADD" {
                fill.push(i.to_string());
            }
            fill.push(format!("m{i}"));
        }
        if add == "HSET" {
            // HSET takes field value: swap to field-first order.
            for pair in fill[2..].chunks_mut(2) {
                pair.swap(0, 1);
            }
        }
        let fill: Vec<&str> = fill.iter().map(String::as_str).collect();
        r.cmd(&fill);
        let del = match add {
            "HSET" => "HDEL",
            "SADD" => "SREM",
            _ => "ZREM",
        };
        let (mut cursor, mut steps, mut seen) = ("0".to_string(), 0, BTreeSet::new());
        loop {
            let reply = r.cmd(&[scan, key, &cursor, "COUNT", "10"]);
            let parts = reply.as_array();
            let items = parts[1].strings();
            // Hashes and sorted sets alternate member and value/score.
            let members: Vec<String> = if add == "SADD" {
                items
            } else {
                items.into_iter().step_by(2).collect()
            };
            assert!(
                members.len() < 500,
                "{scan} step returned {}",
                members.len()
            );
            seen.extend(members);
            cursor = parts[0].as_string();
            steps += 1;
            let m = format!("m{}", stable + steps);
            let n = format!("n{steps}");
            r.cmd(&[del, key, &m]);
            match add {
                "SADD" => r.cmd(&[add, key, &n]),
                "HSET" => r.cmd(&[add, key, &n, "1"]),
                _ => r.cmd(&[add, key, "1", &n]),
            };
            if cursor == "0" || steps > 5000 {
                break;
            }
        }
        assert_eq!(cursor, "0", "{scan} did not finish");
        assert!(steps >= 10, "{scan} answered in {steps} steps");
        for i in 0..stable {
            assert!(seen.contains(&format!("m{i}")), "{scan} missed m{i}");
        }
        assert!(
            seen.iter()
                .all(|m| m.starts_with('m') || m.starts_with('n'))
        );
    }
    // Small collections (listpack / intset) still come back whole, cursor 0.
    r.cmd(&["SADD", "small", "1", "2", "3"]);
    let reply = r.cmd(&["SSCAN", "small", "0", "COUNT", "1"]);
    assert_eq!(reply.as_array()[0].as_string(), "0");
    assert_eq!(reply.as_array()[1].as_array().len(), 3);
}

/// SMOVE to a set that already has the member leaves the destination unchanged: a
/// transaction watching it still runs. SINTERCARD's LIMIT takes stock's error.
#[test]
fn smove_into_a_set_holding_the_member_changes_nothing_there() {
    let s = common::TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.cmd(&["SADD", "src", "a", "b"]);
    r.cmd(&["SADD", "dst", "a"]);
    r.cmd(&["WATCH", "dst"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SADD", "dst", "c"]);
    assert_eq!(other.cmd(&["SMOVE", "src", "dst", "a"]), Reply::int(1));
    assert_eq!(r.cmd(&["EXEC"]), Reply::Array(vec![Reply::int(1)]));
    assert_eq!(r.cmd(&["SCARD", "dst"]), Reply::int(2));
    assert_eq!(r.cmd(&["SCARD", "src"]), Reply::int(1));
    for bad in ["-1", "x"] {
        assert_eq!(
            r.cmd(&["SINTERCARD", "1", "src", "LIMIT", bad]),
            Reply::err("ERR LIMIT can't be negative")
        );
    }
}
