//! Generic keyspace commands.

mod common;

use common::{RawConn, Reply, TestServer, setup};
use std::collections::HashSet;
use std::time::Duration;

const DB_RANGE: &str = "ERR DB index is out of range";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const SAME: &str = "ERR source and destination objects are the same";

fn sorted(r: &Reply) -> Vec<String> {
    let mut v = r.strings();
    v.sort();
    v
}

#[test]
fn del_and_unlink() {
    let (_s, mut r) = setup();
    r.cmd(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]);
    assert_eq!(r.cmd(&["DEL", "a", "b", "nope"]), Reply::int(2));
    assert_eq!(r.cmd(&["DEL", "a"]), Reply::int(0));
    assert_eq!(r.cmd(&["UNLINK", "c", "d", "d", "nope"]), Reply::int(2));
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["DEL"]),
        Reply::err("ERR wrong number of arguments for 'del' command")
    );
}

#[test]
fn exists_counts_duplicates() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["EXISTS", "a"]), Reply::int(1));
    assert_eq!(r.cmd(&["EXISTS", "a", "a", "a"]), Reply::int(3));
    assert_eq!(r.cmd(&["EXISTS", "a", "b", "a"]), Reply::int(2));
    assert_eq!(r.cmd(&["EXISTS", "nope"]), Reply::int(0));
}

#[test]
fn type_command() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["TYPE", "a"]), Reply::simple("string"));
    assert_eq!(r.cmd(&["TYPE", "nope"]), Reply::simple("none"));
}

#[test]
fn rename_basic_and_errors() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["RENAME", "a", "b"]), Reply::err("ERR no such key"));
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["RENAME", "a", "b"]), Reply::ok());
    assert_eq!(r.cmd(&["EXISTS", "a"]), Reply::int(0));
    assert_eq!(r.cmd(&["GET", "b"]), Reply::bulk("1"));
    // Rename onto itself is OK if it exists.
    assert_eq!(r.cmd(&["RENAME", "b", "b"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "b"]), Reply::bulk("1"));
}

#[test]
fn rename_overwrites_and_moves_ttl() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "src", "s", "EX", "100"]);
    r.cmd(&["SET", "dst", "d"]);
    assert_eq!(r.cmd(&["RENAME", "src", "dst"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "dst"]), Reply::bulk("s"));
    assert!(r.cmd(&["TTL", "dst"]).as_int() > 0);
    // The destination's old TTL does not survive an overwrite.
    r.cmd(&["SET", "x", "x"]);
    r.cmd(&["SET", "y", "y", "EX", "100"]);
    r.cmd(&["RENAME", "x", "y"]);
    assert_eq!(r.cmd(&["TTL", "y"]), Reply::int(-1));
}

#[test]
fn renamenx() {
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["RENAMENX", "a", "b"]),
        Reply::err("ERR no such key")
    );
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["SET", "b", "2"]);
    assert_eq!(r.cmd(&["RENAMENX", "a", "b"]), Reply::int(0));
    assert_eq!(r.cmd(&["GET", "b"]), Reply::bulk("2"));
    assert_eq!(r.cmd(&["RENAMENX", "a", "c"]), Reply::int(1));
    assert_eq!(r.cmd(&["GET", "c"]), Reply::bulk("1"));
    assert_eq!(r.cmd(&["EXISTS", "a"]), Reply::int(0));
    assert_eq!(r.cmd(&["RENAMENX", "c", "c"]), Reply::int(0));
}

#[test]
fn copy_basic_replace_and_ttl() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["COPY", "nokey", "x"]), Reply::int(0));
    r.cmd(&["SET", "a", "1", "EX", "100"]);
    assert_eq!(r.cmd(&["COPY", "a", "b"]), Reply::int(1));
    assert_eq!(r.cmd(&["GET", "b"]), Reply::bulk("1"));
    assert!(r.cmd(&["TTL", "b"]).as_int() > 0);
    r.cmd(&["SET", "a", "2"]);
    assert_eq!(r.cmd(&["COPY", "a", "b"]), Reply::int(0));
    assert_eq!(r.cmd(&["GET", "b"]), Reply::bulk("1"));
    assert_eq!(r.cmd(&["COPY", "a", "b", "REPLACE"]), Reply::int(1));
    assert_eq!(r.cmd(&["GET", "b"]), Reply::bulk("2"));
    assert_eq!(r.cmd(&["TTL", "b"]), Reply::int(-1));
    // Source is untouched.
    assert_eq!(r.cmd(&["GET", "a"]), Reply::bulk("2"));
}

#[test]
fn copy_to_other_db() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "v"]);
    assert_eq!(r.cmd(&["COPY", "a", "a", "DB", "3"]), Reply::int(1));
    assert_eq!(r.cmd(&["COPY", "a", "a", "DB", "3"]), Reply::int(0));
    assert_eq!(
        r.cmd(&["COPY", "a", "a", "DB", "3", "REPLACE"]),
        Reply::int(1)
    );
    assert_eq!(r.cmd(&["SELECT", "3"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "a"]), Reply::bulk("v"));
}

#[test]
fn copy_errors() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "v"]);
    assert_eq!(r.cmd(&["COPY", "a", "a"]), Reply::err(SAME));
    assert_eq!(r.cmd(&["COPY", "a", "b", "DB", "16"]), Reply::err(DB_RANGE));
    assert_eq!(r.cmd(&["COPY", "a", "b", "DB", "abc"]), Reply::err(NOT_INT));
    assert_eq!(
        r.cmd(&["COPY", "a", "b", "FOO"]),
        Reply::err("ERR syntax error")
    );
}

#[test]
fn keys_glob_patterns() {
    let (_s, mut r) = setup();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo", "a*b", "other",
    ] {
        r.cmd(&["SET", k, "1"]);
    }
    assert_eq!(sorted(&r.cmd(&["KEYS", "*"])).len(), 8);
    assert_eq!(
        sorted(&r.cmd(&["KEYS", "h?llo"])),
        vec!["hallo", "hbllo", "hello", "hxllo"]
    );
    assert_eq!(
        sorted(&r.cmd(&["KEYS", "h*llo"])),
        vec!["hallo", "hbllo", "heeeello", "hello", "hllo", "hxllo"]
    );
    assert_eq!(
        sorted(&r.cmd(&["KEYS", "h[ae]llo"])),
        vec!["hallo", "hello"]
    );
    assert_eq!(
        sorted(&r.cmd(&["KEYS", "h[^e]llo"])),
        vec!["hallo", "hbllo", "hxllo"]
    );
    assert_eq!(
        sorted(&r.cmd(&["KEYS", "h[a-b]llo"])),
        vec!["hallo", "hbllo"]
    );
    assert_eq!(sorted(&r.cmd(&["KEYS", "a\\*b"])), vec!["a*b"]);
    assert_eq!(sorted(&r.cmd(&["KEYS", "hello"])), vec!["hello"]);
    assert!(r.cmd(&["KEYS", "zzz*"]).as_array().is_empty());
}

#[test]
fn scan_full_iteration_1000_keys() {
    let (_s, mut r) = setup();
    let mut buf = Vec::new();
    for i in 0..1000 {
        buf.extend(common::encode_cmd(&["SET", &format!("key:{i}"), "v"]));
    }
    r.send(&buf);
    for _ in 0..1000 {
        assert_eq!(r.read_reply(), Reply::ok());
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut iterations = 0;
    loop {
        let reply = r.cmd(&["SCAN", &cursor, "COUNT", "37"]);
        let parts = reply.as_array();
        cursor = parts[0].as_string();
        for k in parts[1].strings() {
            seen.insert(k);
        }
        iterations += 1;
        assert!(iterations < 10_000, "SCAN did not terminate");
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    for i in 0..1000 {
        assert!(seen.contains(&format!("key:{i}")));
    }
}

#[test]
fn scan_match_and_type() {
    let (_s, mut r) = setup();
    for i in 0..300 {
        r.cmd(&["SET", &format!("user:{i}"), "v"]);
        r.cmd(&["SET", &format!("item:{i}"), "v"]);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = r.cmd(&["SCAN", &cursor, "MATCH", "user:*", "COUNT", "50"]);
        let parts = reply.as_array();
        cursor = parts[0].as_string();
        for k in parts[1].strings() {
            assert!(k.starts_with("user:"), "{k}");
            seen.insert(k);
        }
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 300);

    let mut count = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = r.cmd(&["SCAN", &cursor, "TYPE", "string", "COUNT", "100"]);
        let parts = reply.as_array();
        cursor = parts[0].as_string();
        count.extend(parts[1].strings());
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(count.len(), 600);

    // An unknown type simply matches nothing in 7.0.
    let mut cursor = "0".to_string();
    loop {
        let reply = r.cmd(&["SCAN", &cursor, "TYPE", "list", "COUNT", "1000"]);
        let parts = reply.as_array();
        cursor = parts[0].as_string();
        assert!(parts[1].as_array().is_empty());
        if cursor == "0" {
            break;
        }
    }
}

#[test]
fn scan_errors_and_empty() {
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["SCAN", "0"]),
        Reply::arr(vec![Reply::bulk("0"), Reply::arr(vec![])])
    );
    assert_eq!(r.cmd(&["SCAN", "abc"]), Reply::err("ERR invalid cursor"));
    assert_eq!(
        r.cmd(&["SCAN", "0", "COUNT", "0"]),
        Reply::err("ERR syntax error")
    );
    assert_eq!(r.cmd(&["SCAN", "0", "COUNT", "x"]), Reply::err(NOT_INT));
    assert_eq!(r.cmd(&["SCAN", "0", "FOO"]), Reply::err("ERR syntax error"));
}

#[test]
fn randomkey() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["RANDOMKEY"]), Reply::Nil);
    r.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]);
    for _ in 0..20 {
        let k = r.cmd(&["RANDOMKEY"]).as_string();
        assert!(["a", "b", "c"].contains(&k.as_str()), "{k}");
    }
}

#[test]
fn dbsize_flushdb_flushall() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
    r.cmd(&["MSET", "a", "1", "b", "2"]);
    r.cmd(&["SELECT", "1"]);
    r.cmd(&["SET", "c", "3"]);
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(1));
    assert_eq!(r.cmd(&["FLUSHDB"]), Reply::ok());
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
    r.cmd(&["SELECT", "0"]);
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(2));
    r.cmd(&["SELECT", "2"]);
    r.cmd(&["SET", "x", "1"]);
    assert_eq!(r.cmd(&["FLUSHALL"]), Reply::ok());
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
    r.cmd(&["SELECT", "0"]);
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
}

#[test]
fn flush_async_sync_options() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["FLUSHALL", "ASYNC"]), Reply::ok());
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["FLUSHALL", "SYNC"]), Reply::ok());
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["FLUSHDB", "async"]), Reply::ok());
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["FLUSHDB", "SYNC"]), Reply::ok());
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
    assert_eq!(r.cmd(&["FLUSHALL", "FOO"]), Reply::err("ERR syntax error"));
    assert_eq!(r.cmd(&["FLUSHDB", "FOO"]), Reply::err("ERR syntax error"));
}

#[test]
fn select_all_dbs_isolated() {
    let (_s, mut r) = setup();
    for db in 0..16 {
        assert_eq!(r.cmd(&["SELECT", &db.to_string()]), Reply::ok());
        r.cmd(&["SET", "k", &format!("db{db}")]);
    }
    for db in 0..16 {
        r.cmd(&["SELECT", &db.to_string()]);
        assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk(format!("db{db}")));
        assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(1));
    }
}

#[test]
fn select_errors() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SELECT", "16"]), Reply::err(DB_RANGE));
    assert_eq!(r.cmd(&["SELECT", "-1"]), Reply::err(DB_RANGE));
    assert_eq!(r.cmd(&["SELECT", "abc"]), Reply::err(NOT_INT));
}

#[test]
fn select_is_per_connection() {
    let s = TestServer::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    a.cmd(&["SELECT", "5"]);
    a.cmd(&["SET", "k", "five"]);
    assert_eq!(b.cmd(&["GET", "k"]), Reply::Nil);
}

#[test]
fn swapdb() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.cmd(&["SET", "k", "zero"]);
    r.cmd(&["SELECT", "1"]);
    r.cmd(&["SET", "k", "one"]);
    r.cmd(&["SET", "k2", "one"]);
    assert_eq!(r.cmd(&["SWAPDB", "0", "1"]), Reply::ok());
    // Connection on db 1 now sees old db 0.
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("zero"));
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(1));
    // Another connection on db 0 sees old db 1.
    assert_eq!(other.cmd(&["GET", "k"]), Reply::bulk("one"));
    assert_eq!(other.cmd(&["DBSIZE"]), Reply::int(2));
    assert_eq!(r.cmd(&["SWAPDB", "0", "16"]), Reply::err(DB_RANGE));
    assert_eq!(
        r.cmd(&["SWAPDB", "a", "1"]),
        Reply::err("ERR invalid first DB index")
    );
    assert_eq!(
        r.cmd(&["SWAPDB", "1", "b"]),
        Reply::err("ERR invalid second DB index")
    );
    assert_eq!(r.cmd(&["SWAPDB", "3", "3"]), Reply::ok());
}

#[test]
fn move_between_dbs() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "1", "EX", "100"]);
    assert_eq!(r.cmd(&["MOVE", "a", "1"]), Reply::int(1));
    assert_eq!(r.cmd(&["EXISTS", "a"]), Reply::int(0));
    assert_eq!(r.cmd(&["MOVE", "a", "1"]), Reply::int(0));
    r.cmd(&["SELECT", "1"]);
    assert_eq!(r.cmd(&["GET", "a"]), Reply::bulk("1"));
    assert!(r.cmd(&["TTL", "a"]).as_int() > 0);
    // Destination exists: no move.
    r.cmd(&["SELECT", "0"]);
    r.cmd(&["SET", "a", "0"]);
    assert_eq!(r.cmd(&["MOVE", "a", "1"]), Reply::int(0));
    assert_eq!(r.cmd(&["GET", "a"]), Reply::bulk("0"));
}

#[test]
fn move_errors() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["MOVE", "a", "0"]), Reply::err(SAME));
    assert_eq!(r.cmd(&["MOVE", "a", "16"]), Reply::err(DB_RANGE));
    assert_eq!(r.cmd(&["MOVE", "a", "x"]), Reply::err(NOT_INT));
}

#[test]
fn touch() {
    let (_s, mut r) = setup();
    r.cmd(&["MSET", "a", "1", "b", "2"]);
    assert_eq!(r.cmd(&["TOUCH", "a", "b", "c"]), Reply::int(2));
    assert_eq!(r.cmd(&["TOUCH", "nope"]), Reply::int(0));
}

#[test]
fn object_encoding() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "i", "12345"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "i"]), Reply::bulk("int"));
    r.cmd(&["SET", "big", "12345678901234567890"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "big"]), Reply::bulk("embstr"));
    r.cmd(&["SET", "s", &"x".repeat(44)]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "s"]), Reply::bulk("embstr"));
    r.cmd(&["SET", "s", &"x".repeat(45)]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "s"]), Reply::bulk("raw"));
    r.cmd(&["SET", "a", "abc"]);
    r.cmd(&["APPEND", "a", "d"]);
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "a"]), Reply::bulk("raw"));
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "nokey"]), Reply::Nil);
}

#[test]
fn object_idletime() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "1"]);
    let idle = r.cmd(&["OBJECT", "IDLETIME", "a"]).as_int();
    assert!((0..=1).contains(&idle), "{idle}");
    assert_eq!(r.cmd(&["OBJECT", "IDLETIME", "nokey"]), Reply::Nil);
}

#[test]
fn object_freq_requires_lfu() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(
        r.cmd(&["OBJECT", "FREQ", "a"]),
        Reply::err(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
             Please note that when switching between policies at runtime LRU and LFU data \
             will take some time to adjust."
        )
    );
    assert_eq!(
        r.cmd(&["OBJECT", "FOO", "a"]),
        Reply::err("ERR unknown subcommand 'FOO'. Try OBJECT HELP.")
    );
}

#[test]
fn object_freq_with_lfu_policy() {
    let s = TestServer::start(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut r = s.raw();
    r.cmd(&["SET", "a", "1"]);
    assert!(r.cmd(&["OBJECT", "FREQ", "a"]).as_int() >= 0);
    assert_eq!(
        r.cmd(&["OBJECT", "IDLETIME", "a"]),
        Reply::err(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. \
             Please note that when switching between policies at runtime LRU and LFU data \
             will take some time to adjust."
        )
    );
}

#[test]
fn scan_returns_every_stable_key_while_others_churn() {
    // Keys present for the whole scan must all be returned, however the table resizes
    // under concurrent inserts and deletes of other keys.
    let s = common::TestServer::start(&[]);
    let mut r = s.raw();
    let mut pipe = Vec::new();
    for i in 0..20_000 {
        pipe.extend(common::encode_cmd(&["SET", &format!("stable:{i}"), "v"]));
    }
    r.send(&pipe);
    for _ in 0..20_000 {
        assert_eq!(r.read_reply(), Reply::ok());
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        let mut w = s.raw();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                w.cmd(&["SET", &format!("churn:{i}"), "x"]);
                if i.is_multiple_of(3) {
                    w.cmd(&["DEL", &format!("churn:{}", i / 2)]);
                }
                i += 1;
            }
        })
    };
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = r.cmd(&["SCAN", &cursor, "MATCH", "stable:*", "COUNT", "10"]);
        let parts = reply.as_array();
        cursor = parts[0].as_string();
        for k in parts[1].strings() {
            seen.insert(k);
        }
        calls += 1;
        assert!(calls < 100_000, "scan does not terminate");
        if cursor == "0" {
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churn.join().unwrap();
    assert_eq!(seen.len(), 20_000);
}

/// One key of every type, in both the compact and the large encodings.
fn fill_every_type(r: &mut common::RawConn) {
    r.cmd(&["SET", "str", "hello"]);
    r.cmd(&["SET", "int", "12345"]);
    r.cmd(&["SET", "long", &"x".repeat(500)]);
    r.cmd(&["RPUSH", "list", "a", "b", "1", "2"]);
    r.cmd(&["SADD", "ints", "1", "2", "3"]);
    r.cmd(&["SADD", "set", "a", "b", "c"]);
    r.cmd(&["ZADD", "zset", "1", "a", "2.5", "b", "-inf", "c"]);
    r.cmd(&["HSET", "hash", "f", "v", "g", "w"]);
    r.cmd(&["PFADD", "hll", "a", "b", "c"]);
    r.cmd(&["SETBIT", "bits", "100", "1"]);
    let many: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    for (k, cmd) in [("biglist", "RPUSH"), ("bigset", "SADD")] {
        let mut a = vec![cmd.to_string(), k.to_string()];
        a.extend(many.iter().cloned());
        r.cmd(&a);
    }
    for (i, m) in many.iter().enumerate() {
        r.cmd(&["HSET", "bighash", m, &i.to_string()]);
        r.cmd(&["ZADD", "bigzset", &i.to_string(), m]);
    }
}

const EVERY_TYPE: &[&str] = &[
    "str", "int", "long", "list", "ints", "set", "zset", "hash", "hll", "bits", "biglist",
    "bigset", "bighash", "bigzset",
];

#[test]
fn dump_restores_both_ways_with_stock() {
    common::ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&["--enable-debug-command", "yes"]);
    for (from, to) in [(&ours, &stock), (&stock, &ours)] {
        let (mut f, mut t) = (from.raw(), to.raw());
        fill_every_type(&mut f);
        for k in EVERY_TYPE {
            let payload = f.cmd(&["DUMP", k]).as_bytes();
            let copy = format!("copy:{k}");
            t.cmd(&["DEL", &copy]);
            let restored = t.cmd(&[b"RESTORE".as_slice(), copy.as_bytes(), b"0", &payload]);
            assert_eq!(restored, Reply::ok(), "{k} from {}", from.port);
            assert_eq!(
                t.cmd(&["DEBUG", "DIGEST-VALUE", &copy]),
                f.cmd(&["DEBUG", "DIGEST-VALUE", k]),
                "{k} from {}",
                from.port
            );
        }
        f.cmd(&["FLUSHALL"]);
        t.cmd(&["FLUSHALL"]);
    }
}

#[test]
fn restore_errors_match_stock() {
    common::ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    s.cmd(&["SET", "k", "v"]);
    let good = s.cmd(&["DUMP", "k"]).as_bytes();
    let mut bad_crc = good.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let mut bad_version = good.clone();
    let n = bad_version.len();
    bad_version[n - 10] = 99;
    let cases: Vec<Vec<Vec<u8>>> = vec![
        vec![
            b"RESTORE".to_vec(),
            b"k".to_vec(),
            b"0".to_vec(),
            good.clone(),
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"-1".to_vec(),
            good.clone(),
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"x".to_vec(),
            good.clone(),
        ],
        vec![b"RESTORE".to_vec(), b"n".to_vec(), b"0".to_vec(), bad_crc],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"0".to_vec(),
            bad_version,
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"0".to_vec(),
            b"short".to_vec(),
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"0".to_vec(),
            good.clone(),
            b"IDLETIME".to_vec(),
            b"-1".to_vec(),
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"0".to_vec(),
            good.clone(),
            b"FREQ".to_vec(),
            b"256".to_vec(),
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"0".to_vec(),
            good.clone(),
            b"FREQ".to_vec(),
            b"1".to_vec(),
            b"IDLETIME".to_vec(),
            b"1".to_vec(),
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"0".to_vec(),
            good.clone(),
            b"NOPE".to_vec(),
        ],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"1".to_vec(),
            good.clone(),
            b"ABSTTL".to_vec(),
        ],
        vec![b"EXISTS".to_vec(), b"n".to_vec()],
        vec![
            b"RESTORE".to_vec(),
            b"n".to_vec(),
            b"0".to_vec(),
            good.clone(),
            b"REPLACE".to_vec(),
            b"IDLETIME".to_vec(),
            b"100".to_vec(),
        ],
        vec![b"OBJECT".to_vec(), b"IDLETIME".to_vec(), b"n".to_vec()],
        vec![b"GET".to_vec(), b"n".to_vec()],
        vec![b"DUMP".to_vec(), b"nokey".to_vec()],
    ];
    o.cmd(&["SET", "k", "v"]);
    for c in &cases {
        assert_eq!(
            o.cmd(c),
            s.cmd(c),
            "{:?}",
            String::from_utf8_lossy(&c.concat())
        );
    }
}

#[test]
fn restore_ttls_reach_followers_as_absolute_times() {
    common::ensure_stock_redis();
    common::assert_followers_converge(|r| {
        r.cmd(&["SET", "src", "v"]);
        r.cmd(&["RPUSH", "srclist", "a", "b"]);
        let p = r.cmd(&["DUMP", "src"]).as_bytes();
        let pl = r.cmd(&["DUMP", "srclist"]).as_bytes();
        r.cmd(&[b"RESTORE".as_slice(), b"a", b"100000", &p]);
        r.cmd(&[b"RESTORE".as_slice(), b"b", b"0", &pl]);
        r.cmd(&[b"RESTORE".as_slice(), b"b", b"0", &p, b"REPLACE"]);
        r.cmd(&[b"RESTORE".as_slice(), b"gone", b"1", &p, b"ABSTTL"]);
    });
}

fn sort_fill(r: &mut common::RawConn) {
    r.cmd(&["RPUSH", "l", "3", "1", "2", "10", "-5", "2.5"]);
    r.cmd(&["RPUSH", "words", "pear", "apple", "fig", "banana"]);
    r.cmd(&["SADD", "s", "5", "3", "9", "1"]);
    r.cmd(&["SADD", "ws", "b", "a", "c"]);
    r.cmd(&["ZADD", "z", "1", "c", "2", "a", "3", "b"]);
    r.cmd(&[
        "MSET", "w_3", "30", "w_1", "10", "w_2", "20", "w_10", "5", "w_-5", "7", "w_2.5", "1",
    ]);
    r.cmd(&["MSET", "o_1", "one", "o_2", "two", "o_3", "three"]);
    r.cmd(&["HSET", "h_1", "name", "n1", "rank", "3"]);
    r.cmd(&["HSET", "h_2", "name", "n2", "rank", "1"]);
    r.cmd(&["HSET", "h_3", "name", "n3", "rank", "2"]);
    r.cmd(&["RPUSH", "bad", "1", "x"]);
}

const SORT_CASES: &[&str] = &[
    "SORT l",
    "SORT l DESC",
    "SORT l LIMIT 1 3",
    "SORT l LIMIT -5 2",
    "SORT l LIMIT 4 100 DESC",
    "SORT l LIMIT 10 1",
    "SORT l LIMIT 0 0",
    "SORT l BY w_*",
    "SORT l BY w_* DESC GET # GET o_*",
    "SORT l BY nosort",
    "SORT l BY nosort DESC LIMIT 1 2",
    "SORT l BY h_*->rank GET h_*->name GET #",
    "SORT l BY h_*-> ",
    "SORT words",
    "SORT words ALPHA",
    "SORT words ALPHA DESC LIMIT 1 2",
    "SORT words BY o_* ALPHA",
    "SORT s",
    "SORT s DESC",
    "SORT ws ALPHA",
    "SORT z",
    "SORT z ALPHA",
    "SORT z BY nosort",
    "SORT z BY nosort DESC",
    "SORT z BY nosort LIMIT 1 1",
    "SORT z BY nosort DESC LIMIT 1 5",
    "SORT nokey",
    "SORT nokey BY nosort GET #",
    "SORT bad",
    "SORT bad ALPHA",
    "SORT l LIMIT 1",
    "SORT l LIMIT a b",
    "SORT l NOPE",
    "SORT w_1",
    "SORT_RO l BY w_* GET o_*",
    "SORT_RO l STORE dst",
    "SORT l BY w_* STORE dst",
    "LRANGE dst 0 -1",
    "SORT l GET o_* STORE dst2",
    "LRANGE dst2 0 -1",
    "SORT nokey STORE dst",
    "EXISTS dst",
    "SORT s BY nosort STORE dst3",
    "LRANGE dst3 0 -1",
    "TYPE dst3",
];

#[test]
fn sort_matches_stock() {
    common::ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    sort_fill(&mut o);
    sort_fill(&mut s);
    for line in SORT_CASES {
        let c: Vec<&str> = line.split(' ').filter(|w| !w.is_empty()).collect();
        assert_eq!(o.cmd(&c), s.cmd(&c), "{line}");
    }
    // A set under BY nosort comes out sorted when a script asks, as on stock.
    let script = [
        "EVAL",
        "return redis.call('sort', KEYS[1], 'by', 'nosort')",
        "1",
        "ws",
    ];
    assert_eq!(o.cmd(&script), s.cmd(&script));
}

#[test]
fn sort_patterns_need_access_to_every_key() {
    let (_s, mut r) = setup();
    r.cmd(&["ACL", "SETUSER", "limited", "on", "nopass", "+@all", "~l*"]);
    r.cmd(&["RPUSH", "l", "2", "1"]);
    r.cmd(&["AUTH", "limited", "x"]);
    assert_eq!(r.cmd(&["SORT", "l"]), Reply::bulks(&["1", "2"]));
    assert_eq!(
        r.cmd(&["SORT", "l", "BY", "w_*"]),
        Reply::err("ERR BY option of SORT denied due to insufficient ACL permissions.")
    );
    assert_eq!(
        r.cmd(&["SORT", "l", "GET", "#"]),
        Reply::err("ERR GET option of SORT denied due to insufficient ACL permissions.")
    );
    assert_eq!(
        r.cmd(&["SORT", "l", "BY", "nosort"]),
        Reply::bulks(&["2", "1"])
    );
}

#[test]
fn sort_store_reaches_followers_alike() {
    common::ensure_stock_redis();
    common::assert_followers_converge(|r| {
        sort_fill(r);
        r.cmd(&["SADD", "tied", "a", "b", "c", "d", "e"]);
        r.cmd(&["SORT", "tied", "BY", "missing_*", "ALPHA", "STORE", "t1"]);
        r.cmd(&["SORT", "s", "BY", "w_*", "STORE", "t2"]);
        r.cmd(&["SET", "t3", "old"]);
        r.cmd(&["SORT", "nokey", "STORE", "t3"]);
        r.cmd(&["SORT", "l", "GET", "o_*", "STORE", "t4"]);
    });
}

#[test]
fn debug_test_helpers_match_stock() {
    common::ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&["--enable-debug-command", "yes"]);
    let cases: &[&[&str]] = &[
        &["DEBUG", "CHANGE-REPL-ID"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1mb"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb"],
        &["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "abc"],
        &["DEBUG", "STRINGMATCH-TEST"],
        &["DEBUG", "LISTPACK", "list"],
        &["DEBUG", "LISTPACK", "str"],
        &["DEBUG", "LISTPACK", "hash"],
        &["DEBUG", "LISTPACK", "nokey"],
        &["PING"],
    ];
    for server in [&ours, &stock] {
        let mut c = server.raw();
        c.cmd(&["RPUSH", "list", "a", "b"]);
        c.cmd(&["SET", "str", "x"]);
        c.cmd(&["HSET", "hash", "f", "v"]);
    }
    let (mut o, mut s) = (ours.raw(), stock.raw());
    let replid = |c: &mut common::RawConn| {
        let info = c.cmd(&["INFO", "replication"]).as_string();
        info.lines()
            .find(|l| l.starts_with("master_replid:"))
            .map(str::to_string)
    };
    let before = replid(&mut o);
    for case in cases {
        assert_eq!(o.cmd(case), s.cmd(case), "{case:?}");
    }
    assert_ne!(
        replid(&mut o),
        before,
        "DEBUG CHANGE-REPL-ID must change the id"
    );
}

/// One MIGRATE scenario run from `source` to a fresh `target`, returning every reply and
/// what each side holds afterwards, so ours and stock can be compared as sources.
fn migrate_script(source: &TestServer, target: &TestServer) -> Vec<Reply> {
    let (mut s, mut t) = (source.raw(), target.raw());
    let (host, port) = ("127.0.0.1", target.port.to_string());
    let m = |s: &mut RawConn, rest: &[&str]| {
        let mut args = vec!["MIGRATE", host, &port];
        args.extend_from_slice(rest);
        s.cmd(&args)
    };
    let mut out = Vec::new();
    s.cmd(&["SET", "str", "v"]);
    s.cmd(&["PEXPIRE", "str", "100000"]);
    s.cmd(&["RPUSH", "list", "a", "b", "c"]);
    s.cmd(&["HSET", "hash", "f1", "1", "f2", "2"]);
    out.push(m(&mut s, &["str", "3", "5000"]));
    out.push(s.cmd(&["EXISTS", "str"]));
    out.push(t.cmd(&["SELECT", "3"]));
    out.push(t.cmd(&["GET", "str"]));
    let ttl = t.cmd(&["PTTL", "str"]).as_int();
    out.push(Reply::int((90_000..=100_000).contains(&ttl) as i64));
    // COPY keeps the source; without REPLACE an existing key is an error from the target.
    out.push(m(&mut s, &["list", "3", "5000", "COPY"]));
    out.push(s.cmd(&["LRANGE", "list", "0", "-1"]));
    out.push(m(&mut s, &["list", "3", "5000"]));
    out.push(m(&mut s, &["list", "3", "5000", "REPLACE"]));
    out.push(s.cmd(&["EXISTS", "list"]));
    out.push(t.cmd(&["LRANGE", "list", "0", "-1"]));
    // KEYS: missing keys are skipped; a busy key stays here, the others move.
    s.cmd(&["MSET", "k1", "1", "k2", "2", "k3", "3"]);
    t.cmd(&["SET", "k2", "busy"]);
    out.push(m(
        &mut s,
        &["", "3", "5000", "KEYS", "nokey", "k1", "k2", "k3"],
    ));
    out.push(s.cmd(&["EXISTS", "k1", "k2", "k3"]));
    out.push(t.cmd(&["MGET", "k1", "k2", "k3"]));
    out.push(m(&mut s, &["", "3", "5000", "KEYS", "nokey1", "nokey2"]));
    out.push(m(&mut s, &["nokey", "3", "5000"]));
    out.push(m(&mut s, &["hash", "3", "5000", "KEYS", "hash"]));
    out.push(m(&mut s, &["hash", "3", "5000", "BOGUS"]));
    out.push(m(&mut s, &["hash", "3", "5000", "AUTH"]));
    out.push(m(&mut s, &["hash", "x", "5000"]));
    out.push(m(&mut s, &["hash", "3", "y"]));
    // AUTH with a wrong password: the target's error, the key stays.
    t.cmd(&["CONFIG", "SET", "requirepass", "secret"]);
    out.push(m(&mut s, &["hash", "0", "5000", "AUTH", "wrong"]));
    out.push(s.cmd(&["EXISTS", "hash"]));
    out.push(m(
        &mut s,
        &["hash", "0", "5000", "AUTH2", "default", "secret"],
    ));
    out.push(s.cmd(&["EXISTS", "hash"]));
    out.push(t.cmd(&["AUTH", "secret"]));
    out.push(t.cmd(&["SELECT", "0"]));
    out.push(t.cmd(&["HGETALL", "hash"]));
    let info = s.cmd(&["INFO", "stats"]).as_string();
    out.push(Reply::bulk(
        common::info_field(&info, "migrate_cached_sockets").unwrap_or_default(),
    ));
    // Nobody listening: the connect error.
    s.cmd(&["SET", "lonely", "1"]);
    let closed = common::free_port().to_string();
    out.push(s.cmd(&["MIGRATE", host, &closed, "lonely", "0", "300"]));
    out
}

#[test]
fn migrate_matches_stock_both_ways() {
    common::ensure_stock_redis();
    let stock_run = {
        let (source, target) = (TestServer::start_stock(&[]), TestServer::start_stock(&[]));
        migrate_script(&source, &target)
    };
    let ours_to_stock = {
        let (source, target) = (TestServer::start(&[]), TestServer::start_stock(&[]));
        migrate_script(&source, &target)
    };
    let stock_to_ours = {
        let (source, target) = (TestServer::start_stock(&[]), TestServer::start(&[]));
        migrate_script(&source, &target)
    };
    assert_eq!(ours_to_stock, stock_run, "ours -> stock");
    assert_eq!(stock_to_ours, stock_run, "stock -> ours");
}

/// The keys MIGRATE moved leave the source's followers too (replicated as DEL), a slow
/// target is an IOERR within the timeout, and the source keeps serving meanwhile.
#[test]
fn migrate_replicates_deletes_and_times_out() {
    common::ensure_stock_redis();
    let source = TestServer::start(&[]);
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &source.port.to_string()]);
    let target = TestServer::start_stock(&["--enable-debug-command", "yes"]);
    let (mut s, mut f) = (source.raw(), follower.raw());
    s.cmd(&["MSET", "a", "1", "b", "2", "keep", "3"]);
    let port = target.port.to_string();
    let migrate = [
        "MIGRATE",
        "127.0.0.1",
        &port,
        "",
        "0",
        "5000",
        "KEYS",
        "a",
        "b",
    ];
    assert_eq!(s.cmd(&migrate), Reply::ok());
    assert!(
        common::poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
            f.cmd(&["DBSIZE"]) == Reply::int(1) && f.cmd(&["GET", "keep"]) == Reply::bulk("3")
        }),
        "follower still has the migrated keys"
    );
    let mut sleeper = target.raw();
    sleeper.send_cmd(&["DEBUG", "SLEEP", "1.5"]);
    std::thread::sleep(Duration::from_millis(100));
    let started = std::time::Instant::now();
    let reply = s.cmd(&["MIGRATE", "127.0.0.1", &port, "keep", "0", "300"]);
    assert!(reply.err_text().starts_with("IOERR"), "{reply:?}");
    assert!(started.elapsed() < Duration::from_millis(1400));
    assert_eq!(s.cmd(&["GET", "keep"]), Reply::bulk("3"));
}

/// BGREWRITEAOF writes an AOF base and manifest that stock Redis loads with
/// `appendonly yes`, numbering bases on from the existing manifest.
#[test]
fn bgrewriteaof_writes_a_base_stock_loads() {
    common::ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let mut o = ours.raw();
    fill_every_type(&mut o);
    let digest = o.cmd(&["DEBUG", "DIGEST"]);
    let aof_dir = ours.dir.join("appendonlydir");
    let manifest = aof_dir.join("appendonly.aof.manifest");
    for seq in 1..=2 {
        assert_eq!(
            o.cmd(&["BGREWRITEAOF"]),
            Reply::simple("Background append only file rewriting started")
        );
        assert!(
            common::poll_until(Duration::from_secs(20), Duration::from_millis(20), || {
                let info = o.cmd(&["INFO", "persistence"]).as_string();
                common::info_field(&info, "aof_rewrite_in_progress").as_deref() == Some("0")
                    && common::info_field(&info, "aof_rewrites") == Some(seq.to_string())
            }),
            "rewrite {seq} did not finish"
        );
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            format!("file appendonly.aof.{seq}.base.rdb seq {seq} type b\n")
        );
    }
    let info = o.cmd(&["INFO", "persistence"]).as_string();
    assert_eq!(
        common::info_field(&info, "aof_last_bgrewrite_status").as_deref(),
        Some("ok")
    );
    // Only the current base is left.
    let mut files: Vec<_> = std::fs::read_dir(&aof_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["appendonly.aof.2.base.rdb", "appendonly.aof.manifest"]
    );
    let stock = TestServer::start_stock(&[
        "--dir",
        ours.dir.to_str().unwrap(),
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
    ]);
    assert_eq!(stock.raw().cmd(&["DEBUG", "DIGEST"]), digest);
    // Inside MULTI it is scheduled, then runs.
    o.cmd(&["MULTI"]);
    o.cmd(&["BGREWRITEAOF"]);
    assert_eq!(
        o.cmd(&["EXEC"]),
        Reply::arr(vec![Reply::simple(
            "Background append only file rewriting scheduled"
        )])
    );
    assert!(common::poll_until(
        Duration::from_secs(20),
        Duration::from_millis(20),
        || {
            let info = o.cmd(&["INFO", "persistence"]).as_string();
            common::info_field(&info, "aof_rewrites").as_deref() == Some("3")
                && common::info_field(&info, "aof_rewrite_in_progress").as_deref() == Some("0")
        }
    ));
}

/// EXISTS, TYPE and TTL read a key without touching its access time (Redis's
/// LOOKUP_NOTOUCH); TOUCH does touch it.
#[test]
fn metadata_reads_leave_the_access_time() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v"]);
    // Idle time is counted in whole seconds: let more than one go by.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    r.cmd(&["EXISTS", "k"]);
    r.cmd(&["TYPE", "k"]);
    r.cmd(&["TTL", "k"]);
    assert!(
        r.cmd(&["OBJECT", "IDLETIME", "k"]).as_int() >= 1,
        "EXISTS/TYPE/TTL touched the key"
    );
    assert_eq!(r.cmd(&["TOUCH", "k", "missing"]), Reply::int(1));
    assert_eq!(r.cmd(&["OBJECT", "IDLETIME", "k"]), Reply::int(0));
}
