//! String commands.

mod common;

use common::{Reply, TestServer, info_field, now_ms, now_secs, poll_until, setup};
use std::time::Duration;

const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const OVERFLOW: &str = "ERR increment or decrement would overflow";
const NOT_FLOAT: &str = "ERR value is not a valid float";

#[test]
fn get_set_basic() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["GET", "k"]), Reply::Nil);
    assert_eq!(r.cmd(&["SET", "k", "v"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v"));
    assert_eq!(r.cmd(&["SET", "k", "v2"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v2"));
    assert_eq!(r.cmd(&["SET", "empty", ""]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "empty"]), Reply::bulk(""));
}

#[test]
fn get_set_via_client() {
    let s = TestServer::start(&[]);
    let mut c = s.client();
    let _: () = redis::cmd("SET").arg("k").arg(42).query(&mut c).unwrap();
    let v: i64 = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, 42);
    let missing: Option<String> = redis::cmd("GET").arg("nope").query(&mut c).unwrap();
    assert_eq!(missing, None);
}

#[test]
fn set_ex_px_set_ttl() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SET", "k", "v", "EX", "100"]), Reply::ok());
    let ttl = r.cmd(&["TTL", "k"]).as_int();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    assert_eq!(r.cmd(&["SET", "k", "v", "PX", "100000"]), Reply::ok());
    let pttl = r.cmd(&["PTTL", "k"]).as_int();
    assert!((99_000..=100_000).contains(&pttl), "pttl {pttl}");
    // Plain SET clears the TTL.
    assert_eq!(r.cmd(&["SET", "k", "v"]), Reply::ok());
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
}

#[test]
fn set_exat_pxat() {
    let (_s, mut r) = setup();
    let at = now_secs() + 100;
    assert_eq!(
        r.cmd(&["SET", "k", "v", "EXAT", &at.to_string()]),
        Reply::ok()
    );
    let ttl = r.cmd(&["TTL", "k"]).as_int();
    assert!((98..=100).contains(&ttl), "ttl {ttl}");
    assert_eq!(r.cmd(&["EXPIRETIME", "k"]), Reply::int(at));
    let atms = now_ms() + 100_000;
    assert_eq!(
        r.cmd(&["SET", "k2", "v", "PXAT", &atms.to_string()]),
        Reply::ok()
    );
    assert_eq!(r.cmd(&["PEXPIRETIME", "k2"]), Reply::int(atms));
}

#[test]
fn set_exat_in_the_past_deletes() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SET", "k", "v", "EXAT", "1"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "k"]), Reply::Nil);
    assert_eq!(r.cmd(&["EXISTS", "k"]), Reply::int(0));
    assert_eq!(r.cmd(&["SET", "k", "v", "PXAT", "1"]), Reply::ok());
    assert_eq!(r.cmd(&["EXISTS", "k"]), Reply::int(0));
}

#[test]
fn set_px_expires() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SET", "k", "v", "PX", "50"]), Reply::ok());
    assert!(poll_until(
        Duration::from_secs(3),
        Duration::from_millis(10),
        || r.cmd(&["GET", "k"]) == Reply::Nil
    ));
}

#[test]
fn set_nx_xx() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SET", "k", "v", "XX"]), Reply::Nil);
    assert_eq!(r.cmd(&["EXISTS", "k"]), Reply::int(0));
    assert_eq!(r.cmd(&["SET", "k", "v", "NX"]), Reply::ok());
    assert_eq!(r.cmd(&["SET", "k", "v2", "NX"]), Reply::Nil);
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v"));
    assert_eq!(r.cmd(&["SET", "k", "v3", "XX"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v3"));
    // Options are case-insensitive.
    assert_eq!(r.cmd(&["SET", "k", "v4", "xx"]), Reply::ok());
}

#[test]
fn set_keepttl() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v", "EX", "100"]);
    assert_eq!(r.cmd(&["SET", "k", "v2", "KEEPTTL"]), Reply::ok());
    let ttl = r.cmd(&["TTL", "k"]).as_int();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v2"));
}

#[test]
fn set_get_option() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SET", "k", "v1", "GET"]), Reply::Nil);
    assert_eq!(r.cmd(&["SET", "k", "v2", "GET"]), Reply::bulk("v1"));
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v2"));
    // GET together with NX is allowed since 7.0: returns old value, no write.
    assert_eq!(r.cmd(&["SET", "k", "v3", "NX", "GET"]), Reply::bulk("v2"));
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v2"));
    assert_eq!(r.cmd(&["SET", "k", "v4", "XX", "GET"]), Reply::bulk("v2"));
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v4"));
    assert_eq!(
        r.cmd(&["SET", "k", "v5", "GET", "EX", "100"]),
        Reply::bulk("v4")
    );
    assert!(r.cmd(&["TTL", "k"]).as_int() > 0);
}

#[test]
fn set_invalid_option_combinations() {
    let (_s, mut r) = setup();
    for args in [
        vec!["SET", "k", "v", "NX", "XX"],
        vec!["SET", "k", "v", "EX", "10", "PX", "100"],
        vec!["SET", "k", "v", "EX", "10", "EXAT", "100"],
        vec!["SET", "k", "v", "PX", "10", "PXAT", "100"],
        vec!["SET", "k", "v", "KEEPTTL", "EX", "10"],
        vec!["SET", "k", "v", "EX", "10", "KEEPTTL"],
        vec!["SET", "k", "v", "EX"],
        vec!["SET", "k", "v", "FOO"],
        vec!["SET", "k", "v", "GET", "GET", "X"],
    ] {
        assert_eq!(r.cmd(&args), Reply::err(SYNTAX), "{args:?}");
    }
    assert_eq!(r.cmd(&["EXISTS", "k"]), Reply::int(0));
}

#[test]
fn set_invalid_expire_time() {
    let (_s, mut r) = setup();
    let e = "ERR invalid expire time in 'set' command";
    assert_eq!(r.cmd(&["SET", "k", "v", "EX", "0"]), Reply::err(e));
    assert_eq!(r.cmd(&["SET", "k", "v", "EX", "-1"]), Reply::err(e));
    assert_eq!(r.cmd(&["SET", "k", "v", "PX", "0"]), Reply::err(e));
    assert_eq!(r.cmd(&["SET", "k", "v", "EXAT", "0"]), Reply::err(e));
    assert_eq!(r.cmd(&["SET", "k", "v", "PXAT", "-5"]), Reply::err(e));
    assert_eq!(
        r.cmd(&["SET", "k", "v", "EX", "9999999999999999"]),
        Reply::err(e)
    );
    assert_eq!(r.cmd(&["SET", "k", "v", "EX", "abc"]), Reply::err(NOT_INT));
    assert_eq!(r.cmd(&["SET", "k", "v", "PX", "1.5"]), Reply::err(NOT_INT));
    assert_eq!(r.cmd(&["EXISTS", "k"]), Reply::int(0));
}

#[test]
fn setnx() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SETNX", "k", "a"]), Reply::int(1));
    assert_eq!(r.cmd(&["SETNX", "k", "b"]), Reply::int(0));
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("a"));
}

#[test]
fn setex_psetex() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SETEX", "k", "100", "v"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("v"));
    let ttl = r.cmd(&["TTL", "k"]).as_int();
    assert!((99..=100).contains(&ttl));
    assert_eq!(r.cmd(&["PSETEX", "p", "100000", "v"]), Reply::ok());
    let pttl = r.cmd(&["PTTL", "p"]).as_int();
    assert!((99_000..=100_000).contains(&pttl));
    assert_eq!(
        r.cmd(&["SETEX", "k", "0", "v"]),
        Reply::err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        r.cmd(&["PSETEX", "k", "-1", "v"]),
        Reply::err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(r.cmd(&["SETEX", "k", "abc", "v"]), Reply::err(NOT_INT));
}

#[test]
fn getset() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["GETSET", "k", "a"]), Reply::Nil);
    assert_eq!(r.cmd(&["GETSET", "k", "b"]), Reply::bulk("a"));
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("b"));
    // GETSET clears the TTL.
    r.cmd(&["EXPIRE", "k", "100"]);
    r.cmd(&["GETSET", "k", "c"]);
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
}

#[test]
fn getdel() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["GETDEL", "k"]), Reply::bulk("v"));
    assert_eq!(r.cmd(&["GETDEL", "k"]), Reply::Nil);
    assert_eq!(r.cmd(&["EXISTS", "k"]), Reply::int(0));
}

#[test]
fn getex_variants() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["GETEX", "nokey", "EX", "10"]), Reply::Nil);
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["GETEX", "k"]), Reply::bulk("v"));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
    assert_eq!(r.cmd(&["GETEX", "k", "EX", "100"]), Reply::bulk("v"));
    assert!((99..=100).contains(&r.cmd(&["TTL", "k"]).as_int()));
    assert_eq!(r.cmd(&["GETEX", "k", "PX", "200000"]), Reply::bulk("v"));
    assert!(r.cmd(&["PTTL", "k"]).as_int() > 199_000);
    let at = now_secs() + 500;
    assert_eq!(
        r.cmd(&["GETEX", "k", "EXAT", &at.to_string()]),
        Reply::bulk("v")
    );
    assert_eq!(r.cmd(&["EXPIRETIME", "k"]), Reply::int(at));
    let atms = now_ms() + 600_000;
    assert_eq!(
        r.cmd(&["GETEX", "k", "PXAT", &atms.to_string()]),
        Reply::bulk("v")
    );
    assert_eq!(r.cmd(&["PEXPIRETIME", "k"]), Reply::int(atms));
    assert_eq!(r.cmd(&["GETEX", "k", "PERSIST"]), Reply::bulk("v"));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
}

#[test]
fn getex_past_time_deletes() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(r.cmd(&["GETEX", "k", "EXAT", "1"]), Reply::bulk("v"));
    assert_eq!(r.cmd(&["EXISTS", "k"]), Reply::int(0));
}

#[test]
fn getex_errors() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "k", "v"]);
    assert_eq!(
        r.cmd(&["GETEX", "k", "EX", "0"]),
        Reply::err("ERR invalid expire time in 'getex' command")
    );
    assert_eq!(
        r.cmd(&["GETEX", "k", "PERSIST", "EX", "1"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(
        r.cmd(&["GETEX", "k", "EX", "1", "PX", "1"]),
        Reply::err(SYNTAX)
    );
    assert_eq!(r.cmd(&["GETEX", "k", "FOO"]), Reply::err(SYNTAX));
    assert_eq!(r.cmd(&["GETEX", "k", "EX", "x"]), Reply::err(NOT_INT));
    assert_eq!(r.cmd(&["TTL", "k"]), Reply::int(-1));
}

#[test]
fn mget_mset() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]), Reply::ok());
    assert_eq!(
        r.cmd(&["MGET", "a", "b", "nope", "c"]),
        Reply::arr(vec![
            Reply::bulk("1"),
            Reply::bulk("2"),
            Reply::Nil,
            Reply::bulk("3")
        ])
    );
    // Later pairs win for duplicate keys.
    assert_eq!(r.cmd(&["MSET", "a", "x", "a", "y"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "a"]), Reply::bulk("y"));
    assert_eq!(
        r.cmd(&["MSET", "a"]),
        Reply::err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(
        r.cmd(&["MSET", "a", "1", "b"]),
        Reply::err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(
        r.cmd(&["MGET"]),
        Reply::err("ERR wrong number of arguments for 'mget' command")
    );
}

#[test]
fn mset_clears_ttl() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "a", "1", "EX", "100"]);
    r.cmd(&["MSET", "a", "2"]);
    assert_eq!(r.cmd(&["TTL", "a"]), Reply::int(-1));
}

#[test]
fn msetnx() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["MSETNX", "a", "1", "b", "2"]), Reply::int(1));
    assert_eq!(r.cmd(&["MSETNX", "b", "x", "c", "3"]), Reply::int(0));
    assert_eq!(r.cmd(&["EXISTS", "c"]), Reply::int(0));
    assert_eq!(r.cmd(&["GET", "b"]), Reply::bulk("2"));
    assert_eq!(
        r.cmd(&["MSETNX", "a", "1", "b"]),
        Reply::err("ERR wrong number of arguments for 'msetnx' command")
    );
}

#[test]
fn incr_decr_family() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["INCR", "n"]), Reply::int(1));
    assert_eq!(r.cmd(&["INCR", "n"]), Reply::int(2));
    assert_eq!(r.cmd(&["DECR", "n"]), Reply::int(1));
    assert_eq!(r.cmd(&["INCRBY", "n", "10"]), Reply::int(11));
    assert_eq!(r.cmd(&["INCRBY", "n", "-20"]), Reply::int(-9));
    assert_eq!(r.cmd(&["DECRBY", "n", "1"]), Reply::int(-10));
    assert_eq!(r.cmd(&["DECRBY", "n", "-15"]), Reply::int(5));
    assert_eq!(r.cmd(&["DECR", "fresh"]), Reply::int(-1));
    assert_eq!(r.cmd(&["GET", "n"]), Reply::bulk("5"));
}

#[test]
fn incr_preserves_ttl() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "n", "1", "EX", "100"]);
    r.cmd(&["INCR", "n"]);
    assert!(r.cmd(&["TTL", "n"]).as_int() > 0);
}

#[test]
fn incr_overflow() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "n", "9223372036854775807"]);
    assert_eq!(r.cmd(&["INCR", "n"]), Reply::err(OVERFLOW));
    assert_eq!(r.cmd(&["INCRBY", "n", "1"]), Reply::err(OVERFLOW));
    r.cmd(&["SET", "n", "-9223372036854775808"]);
    assert_eq!(r.cmd(&["DECR", "n"]), Reply::err(OVERFLOW));
    assert_eq!(r.cmd(&["DECRBY", "n", "1"]), Reply::err(OVERFLOW));
    assert_eq!(r.cmd(&["GET", "n"]), Reply::bulk("-9223372036854775808"));
    // DECRBY of i64::MIN cannot be negated.
    r.cmd(&["SET", "n", "5"]);
    assert_eq!(
        r.cmd(&["DECRBY", "n", "-9223372036854775808"]),
        Reply::err("ERR decrement would overflow")
    );
}

#[test]
fn incr_not_integer() {
    let (_s, mut r) = setup();
    for v in ["abc", " 1", "1 ", "01", "1.0", "", "99999999999999999999"] {
        r.cmd(&["SET", "s", v]);
        assert_eq!(r.cmd(&["INCR", "s"]), Reply::err(NOT_INT), "value {v:?}");
    }
    r.cmd(&["SET", "n", "1"]);
    assert_eq!(r.cmd(&["INCRBY", "n", "abc"]), Reply::err(NOT_INT));
    assert_eq!(r.cmd(&["INCRBY", "n", "1.5"]), Reply::err(NOT_INT));
    assert_eq!(r.cmd(&["DECRBY", "n", ""]), Reply::err(NOT_INT));
    assert_eq!(r.cmd(&["GET", "n"]), Reply::bulk("1"));
}

#[test]
fn incr_negative_and_zero_strings() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "n", "-5"]);
    assert_eq!(r.cmd(&["INCR", "n"]), Reply::int(-4));
    r.cmd(&["SET", "z", "0"]);
    assert_eq!(r.cmd(&["DECR", "z"]), Reply::int(-1));
}

#[test]
fn incrbyfloat_results() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "f", "10"]);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "0.5"]), Reply::bulk("10.5"));
    assert_eq!(r.cmd(&["GET", "f"]), Reply::bulk("10.5"));
    r.cmd(&["SET", "f", "5.0e3"]);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "0"]), Reply::bulk("5000"));
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "1.5e3"]), Reply::bulk("6500"));
    assert_eq!(r.cmd(&["INCRBYFLOAT", "new", "1.1"]), Reply::bulk("1.1"));
    r.cmd(&["SET", "f", "3"]);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "-3"]), Reply::bulk("0"));
    r.cmd(&["SET", "f", "0.1"]);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "0.2"]), Reply::bulk("0.3"));
    assert_eq!(r.cmd(&["INCRBYFLOAT", "g", "-2.5"]), Reply::bulk("-2.5"));
    assert_eq!(r.cmd(&["INCRBYFLOAT", "i", "3"]), Reply::bulk("3"));
}

#[test]
fn incrbyfloat_errors() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "s", "abc"]);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "s", "1"]), Reply::err(NOT_FLOAT));
    r.cmd(&["SET", "f", "1"]);
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", "abc"]), Reply::err(NOT_FLOAT));
    assert_eq!(r.cmd(&["INCRBYFLOAT", "f", ""]), Reply::err(NOT_FLOAT));
    assert_eq!(
        r.cmd(&["INCRBYFLOAT", "f", "inf"]),
        Reply::err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(r.cmd(&["GET", "f"]), Reply::bulk("1"));
}

#[test]
fn append_strlen() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["APPEND", "k", "abc"]), Reply::int(3));
    assert_eq!(r.cmd(&["APPEND", "k", "def"]), Reply::int(6));
    assert_eq!(r.cmd(&["GET", "k"]), Reply::bulk("abcdef"));
    assert_eq!(r.cmd(&["STRLEN", "k"]), Reply::int(6));
    assert_eq!(r.cmd(&["STRLEN", "nokey"]), Reply::int(0));
    assert_eq!(r.cmd(&["APPEND", "k", ""]), Reply::int(6));
    r.cmd(&["SET", "n", "10"]);
    assert_eq!(r.cmd(&["APPEND", "n", "5"]), Reply::int(3));
    assert_eq!(r.cmd(&["INCR", "n"]), Reply::int(106));
}

#[test]
fn getrange_indexes() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "s", "Hello World"]);
    assert_eq!(r.cmd(&["GETRANGE", "s", "0", "4"]), Reply::bulk("Hello"));
    assert_eq!(r.cmd(&["GETRANGE", "s", "-5", "-1"]), Reply::bulk("World"));
    assert_eq!(
        r.cmd(&["GETRANGE", "s", "0", "-1"]),
        Reply::bulk("Hello World")
    );
    assert_eq!(
        r.cmd(&["GETRANGE", "s", "0", "1000"]),
        Reply::bulk("Hello World")
    );
    assert_eq!(r.cmd(&["GETRANGE", "s", "5", "3"]), Reply::bulk(""));
    assert_eq!(r.cmd(&["GETRANGE", "s", "-1", "-5"]), Reply::bulk(""));
    assert_eq!(r.cmd(&["GETRANGE", "s", "100", "200"]), Reply::bulk(""));
    // Redis 7.0 clamps a too-negative end to 0 (returns the first byte).
    assert_eq!(r.cmd(&["GETRANGE", "s", "0", "-100"]), Reply::bulk("H"));
    assert_eq!(r.cmd(&["GETRANGE", "nokey", "0", "-1"]), Reply::bulk(""));
    assert_eq!(r.cmd(&["GETRANGE", "s", "a", "b"]), Reply::err(NOT_INT));
}

#[test]
fn setrange_overwrite_and_pad() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "s", "Hello World"]);
    assert_eq!(r.cmd(&["SETRANGE", "s", "6", "Redis"]), Reply::int(11));
    assert_eq!(r.cmd(&["GET", "s"]), Reply::bulk("Hello Redis"));
    assert_eq!(r.cmd(&["SETRANGE", "new", "5", "x"]), Reply::int(6));
    assert_eq!(r.cmd(&["GET", "new"]), Reply::bulk(b"\0\0\0\0\0x"));
    assert_eq!(r.cmd(&["SETRANGE", "s", "13", "!"]), Reply::int(14));
    assert_eq!(r.cmd(&["GET", "s"]), Reply::bulk(b"Hello Redis\0\0!"));
    // Empty value on a missing key creates nothing.
    assert_eq!(r.cmd(&["SETRANGE", "nk", "3", ""]), Reply::int(0));
    assert_eq!(r.cmd(&["EXISTS", "nk"]), Reply::int(0));
    // Empty value on an existing key returns its length unchanged.
    assert_eq!(r.cmd(&["SETRANGE", "s", "100", ""]), Reply::int(14));
}

#[test]
fn setrange_errors() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "s", "abc"]);
    assert_eq!(
        r.cmd(&["SETRANGE", "s", "-1", "x"]),
        Reply::err("ERR offset is out of range")
    );
    assert_eq!(
        r.cmd(&["SETRANGE", "s", "536870912", "x"]),
        Reply::err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    );
    assert_eq!(r.cmd(&["SETRANGE", "s", "x", "x"]), Reply::err(NOT_INT));
    assert_eq!(r.cmd(&["GET", "s"]), Reply::bulk("abc"));
}

#[test]
fn string_commands_arity() {
    let (_s, mut r) = setup();
    for (cmd, args) in [
        ("setnx", vec!["SETNX", "k"]),
        ("getrange", vec!["GETRANGE", "k", "0"]),
        ("setrange", vec!["SETRANGE", "k", "0"]),
        ("incrby", vec!["INCRBY", "k"]),
        ("append", vec!["APPEND", "k"]),
        ("strlen", vec!["STRLEN"]),
        ("getdel", vec!["GETDEL"]),
    ] {
        assert_eq!(
            r.cmd(&args),
            Reply::err(&format!(
                "ERR wrong number of arguments for '{cmd}' command"
            ))
        );
    }
}

#[test]
fn minus_zero_is_a_string_not_an_integer() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SET", "z", "-0"]), Reply::ok());
    assert_eq!(
        r.cmd(&["INCR", "z"]),
        Reply::err("ERR value is not an integer or out of range")
    );
    assert_eq!(r.cmd(&["OBJECT", "ENCODING", "z"]), Reply::bulk("embstr"));
}

/// Which writes count keyspace hits/misses, as observed on stock Redis 7.0: plain SET,
/// NX/XX, SETNX, INCR and APPEND count nothing; the ones returning the old value count.
#[test]
fn keyspace_hits_and_misses_follow_redis_for_writes() {
    let (_s, mut r) = setup();
    let counts = |r: &mut common::RawConn| {
        let info = r.cmd(&["INFO", "stats"]).as_string();
        (
            info_field(&info, "keyspace_hits").unwrap(),
            info_field(&info, "keyspace_misses").unwrap(),
        )
    };
    for c in [
        &["SET", "k", "v"][..],
        &["SET", "k", "v", "NX"],
        &["SET", "k", "v", "XX"],
        &["SETNX", "k", "v"],
        &["INCR", "n"],
        &["APPEND", "k", "x"],
    ] {
        r.cmd(c);
    }
    assert_eq!(counts(&mut r), ("0".into(), "0".into()));
    r.cmd(&["SET", "k2", "v", "GET"]);
    assert_eq!(counts(&mut r), ("0".into(), "1".into()));
    r.cmd(&["SET", "k", "v", "GET"]);
    r.cmd(&["GETSET", "k", "v"]);
    r.cmd(&["GETEX", "k"]);
    r.cmd(&["GETDEL", "k"]);
    assert_eq!(counts(&mut r), ("4".into(), "1".into()));
    r.cmd(&["GETDEL", "k"]);
    assert_eq!(counts(&mut r), ("4".into(), "2".into()));
}

#[test]
fn lcs_matches_stock() {
    common::ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    let cases: &[&[&str]] = &[
        &[
            "MSET",
            "a",
            "ohmytext",
            "b",
            "mynewtext",
            "c",
            "abcXdefYghi",
            "d",
            "abcdefghi",
        ],
        &["LCS", "a", "b"],
        &["LCS", "a", "b", "LEN"],
        &["LCS", "a", "b", "IDX"],
        &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4"],
        &["LCS", "a", "b", "IDX", "MINMATCHLEN", "-3", "WITHMATCHLEN"],
        &["LCS", "c", "d", "IDX", "WITHMATCHLEN"],
        &["LCS", "d", "c", "IDX"],
        &["LCS", "a", "nokey"],
        &["LCS", "nokey", "other", "IDX"],
        &["LCS", "a", "b", "LEN", "IDX"],
        &["LCS", "a", "b", "MINMATCHLEN"],
        &["LCS", "a", "b", "MINMATCHLEN", "x"],
        &["LCS", "a", "b", "NOPE"],
        &["RPUSH", "l", "x"],
        &["LCS", "a", "l"],
        &["LCS", "a"],
    ];
    for c in cases {
        assert_eq!(o.cmd(c), s.cmd(c), "{c:?}");
    }
    // IDX replies a map: under RESP3 too.
    o.cmd(&["HELLO", "3"]);
    s.cmd(&["HELLO", "3"]);
    let c = ["LCS", "c", "d", "IDX"];
    assert_eq!(o.cmd(&c), s.cmd(&c));
}
