//! Key expiration: EXPIRE family, TTL family, lazy and active expiry.

mod common;

use common::{Reply, info_field, now_ms, now_secs, poll_until, setup};
use std::time::{Duration, Instant};

const NX_XX: &str = "ERR NX and XX, GT or LT options at the same time are not compatible";
const GT_LT: &str = "ERR GT and LT options at the same time are not compatible";

#[test]
fn ttl_pttl_missing_and_persistent() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["TTL", "nokey"]), Reply::int(-2));
    assert_eq!(r.cmd(&["PTTL", "nokey"]), Reply::int(-2));
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
    assert_eq!(r.cmd(&["PTTL", "k"]), Reply::int(-1));
}

#[test]
fn expire_and_pexpire() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["EXPIRE", "nokey", "10"]), Reply::int(0));
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["EXPIRE", "k", "100"]), Reply::int(1));
    let ttl = r.cmd(&["TTL", "k"]).as_int();
    assert!((99..=100).contains(&ttl), "{ttl}");
    let pttl = r.cmd(&["PTTL", "k"]).as_int();
    assert!((98_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(r.cmd(&["PEXPIRE", "k", "200000"]), Reply::int(1));
    let pttl = r.cmd(&["PTTL", "k"]).as_int();
    assert!((199_000..=200_000).contains(&pttl), "{pttl}");
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(200));
}

#[test]
fn expireat_and_pexpireat() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v"]);
    let at = now_secs() + 1000;
    assert_eq!(r.cmd(&["EXPIREAT", "k", &at.to_string()]), Reply::int(1));
    assert_eq!(r.cmd(&["EXPIRETIME", "k"]), Reply::int(at));
    assert_eq!(r.cmd(&["PEXPIRETIME", "k"]), Reply::int(at * 1000));
    let atms = now_ms() + 2_000_000;
    assert_eq!(r.cmd(&["PEXPIREAT", "k", &atms.to_string()]), Reply::int(1));
    assert_eq!(r.cmd(&["PEXPIRETIME", "k"]), Reply::int(atms));
    // EXPIRETIME rounds the millisecond deadline to the nearest second.
    assert_eq!(r.cmd(&["EXPIRETIME", "k"]), Reply::int((atms + 500) / 1000));
    assert_eq!(
        r.cmd(&["EXPIREAT", "nokey", &at.to_string()]),
        Reply::int(0)
    );
}

#[test]
fn expiretime_missing_and_persistent() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["EXPIRETIME", "nokey"]), Reply::int(-2));
    assert_eq!(r.cmd(&["PEXPIRETIME", "nokey"]), Reply::int(-2));
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["EXPIRETIME", "k"]), Reply::int(-1));
    assert_eq!(r.cmd(&["PEXPIRETIME", "k"]), Reply::int(-1));
}

#[test]
fn expire_in_the_past_deletes() {
    let (_s, mut r) = setup();
    r.cmd(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]);
    assert_eq!(r.cmd(&["EXPIRE", "a", "-1"]), Reply::int(1));
    assert_eq!(r.cmd(&["PEXPIRE", "b", "0"]), Reply::int(1));
    assert_eq!(r.cmd(&["EXPIREAT", "c", "1"]), Reply::int(1));
    assert_eq!(r.cmd(&["PEXPIREAT", "d", "1000"]), Reply::int(1));
    assert_eq!(r.cmd(&["EXISTS", "a", "b", "c", "d"]), Reply::int(0));
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(0));
}

#[test]
fn expire_nx_xx() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["EXPIRE", "k", "100", "XX"]), Reply::int(0));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
    assert_eq!(r.cmd(&["EXPIRE", "k", "100", "NX"]), Reply::int(1));
    assert_eq!(r.cmd(&["EXPIRE", "k", "200", "NX"]), Reply::int(0));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(100));
    assert_eq!(r.cmd(&["EXPIRE", "k", "300", "XX"]), Reply::int(1));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(300));
    assert_eq!(r.cmd(&["PEXPIRE", "k", "400000", "xx"]), Reply::int(1));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(400));
}

#[test]
fn expire_gt_lt() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v"]);
    // No TTL counts as infinite: GT never applies, LT always applies.
    assert_eq!(r.cmd(&["EXPIRE", "k", "100", "GT"]), Reply::int(0));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
    assert_eq!(r.cmd(&["EXPIRE", "k", "100", "LT"]), Reply::int(1));
    assert_eq!(r.cmd(&["EXPIRE", "k", "200", "LT"]), Reply::int(0));
    assert_eq!(r.cmd(&["EXPIRE", "k", "50", "LT"]), Reply::int(1));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(50));
    assert_eq!(r.cmd(&["EXPIRE", "k", "10", "GT"]), Reply::int(0));
    assert_eq!(r.cmd(&["EXPIRE", "k", "500", "GT"]), Reply::int(1));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(500));
    let at = now_secs() + 1000;
    assert_eq!(
        r.cmd(&["EXPIREAT", "k", &at.to_string(), "GT"]),
        Reply::int(1)
    );
    assert_eq!(
        r.cmd(&["PEXPIREAT", "k", &((at - 10) * 1000).to_string(), "GT"]),
        Reply::int(0)
    );
    assert_eq!(r.cmd(&["EXPIRETIME", "k"]), Reply::int(at));
}

#[test]
fn expire_option_errors() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["EXPIRE", "k", "10", "NX", "XX"]), Reply::err(NX_XX));
    assert_eq!(r.cmd(&["EXPIRE", "k", "10", "NX", "GT"]), Reply::err(NX_XX));
    assert_eq!(r.cmd(&["EXPIRE", "k", "10", "GT", "LT"]), Reply::err(GT_LT));
    assert_eq!(
        r.cmd(&["EXPIRE", "k", "10", "foo"]),
        Reply::err("ERR Unsupported option foo")
    );
    assert_eq!(
        r.cmd(&["EXPIRE", "k", "abc"]),
        Reply::err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        r.cmd(&["EXPIRE", "k", "9999999999999999"]),
        Reply::err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(
        r.cmd(&["PEXPIRE", "k", "9223372036854775807"]),
        Reply::err("ERR invalid expire time in 'pexpire' command")
    );
    assert_eq!(
        r.cmd(&["EXPIREAT", "k", "9223372036854775807"]),
        Reply::err("ERR invalid expire time in 'expireat' command")
    );
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
}

#[test]
fn persist() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["PERSIST", "nokey"]), Reply::int(0));
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["PERSIST", "k"]), Reply::int(0));
    r.cmd(&["EXPIRE", "k", "100"]);
    assert_eq!(r.cmd(&["PERSIST", "k"]), Reply::int(1));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
    assert_eq!(r.cmd(&["PERSIST", "k"]), Reply::int(0));
}

#[test]
fn lazy_expiry_on_access() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v"]);
    let start = Instant::now();
    assert_eq!(r.cmd(&["PEXPIRE", "k", "50"]), Reply::int(1));
    // Let the deadline pass (time must elapse; nothing to poll for here).
    let wait = Duration::from_millis(70).saturating_sub(start.elapsed());
    std::thread::sleep(wait);
    assert_eq!(r.cmd(&["GET", "k"]), Reply::Nil);
    assert_eq!(r.cmd(&["EXISTS", "k"]), Reply::int(0));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-2));
}

#[test]
fn expired_key_is_invisible_to_all_reads() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v", "PX", "30"]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(r.cmd(&["STRLEN", "k"]), Reply::int(0));
    assert_eq!(r.cmd(&["TYPE", "k"]), Reply::simple("none"));
    assert_eq!(r.cmd(&["MGET", "k"]), Reply::arr(vec![Reply::Nil]));
    assert_eq!(r.cmd(&["SETNX", "k", "new"]), Reply::int(1));
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("new"));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
}

#[test]
fn incr_on_expired_key_starts_from_zero() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "n", "100", "PX", "30"]);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(r.cmd(&["INCR", "n"]), Reply::int(1));
    assert_eq!(r.cmd(&["TTL", "n"]), Reply::int(-1));
}

#[test]
fn active_expiry_reclaims_unread_keys() {
    let (_s, mut r) = setup();
    let mut buf = Vec::new();
    for i in 0..200 {
        buf.extend(common::encode_cmd(&[
            "SET",
            &format!("k{i}"),
            "v",
            "PX",
            "100",
        ]));
    }
    r.cmd(&["SET", "persistent", "v"]);
    r.send(&buf);
    for _ in 0..200 {
        assert_eq!(r.read_reply(), Reply::ok());
    }
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::int(201));
    let ok = poll_until(Duration::from_secs(5), Duration::from_millis(20), || {
        r.cmd(&["DBSIZE"]) == Reply::int(1)
    });
    assert!(
        ok,
        "active expiry did not reclaim keys: {:?}",
        r.cmd(&["DBSIZE"])
    );
    let stats = r.cmd(&["INFO", "stats"]).as_string();
    let expired: i64 = info_field(&stats, "expired_keys").unwrap().parse().unwrap();
    assert!(expired >= 200, "expired_keys={expired}");
}

#[test]
fn info_keyspace_counts_expires() {
    let (_s, mut r) = setup();
    r.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]);
    r.cmd(&["EXPIRE", "a", "1000"]);
    let ks = r.cmd(&["INFO", "keyspace"]).as_string();
    let db0 = info_field(&ks, "db0").expect("db0 line");
    assert!(db0.starts_with("keys=3,expires=1,avg_ttl="), "{db0}");
}

#[test]
fn set_ex_keeps_ttl_semantics() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v", "EX", "100"]);
    // APPEND / SETRANGE / INCR modify in place and keep the TTL.
    r.cmd(&["APPEND", "k", "x"]);
    assert!(r.cmd(&["TTL", "k"]).as_int() > 0);
    r.cmd(&["SETRANGE", "k", "0", "y"]);
    assert!(r.cmd(&["TTL", "k"]).as_int() > 0);
    // SET without options discards it.
    r.cmd(&["SET", "k", "z"]);
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
    // SET ... EX overrides an existing TTL.
    r.cmd(&["SET", "k", "z", "EX", "10"]);
    r.cmd(&["SET", "k", "z", "EX", "1000"]);
    assert!(r.cmd(&["TTL", "k"]).as_int() > 900);
}

#[test]
fn keepttl_preserves_and_get_returns() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v", "PX", "100000"]);
    assert_eq!(
        r.cmd(&["SET", "k", "v2", "KEEPTTL", "GET"]),
        Reply::bulk("v")
    );
    let pttl = r.cmd(&["PTTL", "k"]).as_int();
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");
    // KEEPTTL on a key without TTL leaves it persistent.
    r.cmd(&["SET", "p", "v"]);
    r.cmd(&["SET", "p", "v2", "KEEPTTL"]);
    assert_eq!(r.cmd(&["TTL", "p"]), Reply::int(-1));
}

#[test]
fn expire_arity() {
    let (_s, mut r) = setup();
    assert_eq!(
        r.cmd(&["EXPIRE", "k"]),
        Reply::err("ERR wrong number of arguments for 'expire' command")
    );
    assert_eq!(
        r.cmd(&["TTL"]),
        Reply::err("ERR wrong number of arguments for 'ttl' command")
    );
}
