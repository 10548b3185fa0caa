//! MULTI / EXEC / DISCARD / WATCH and atomicity under concurrency.

mod common;

use common::{Reply, TestServer, encode_cmd, is_stock_redis, setup};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

fn queued() -> Reply {
    Reply::simple("QUEUED")
}

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

#[test]
fn multi_exec_basic() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["MULTI"]), Reply::ok());
    assert_eq!(r.cmd(&["SET", "a", "1"]), queued());
    assert_eq!(r.cmd(&["INCR", "a"]), queued());
    assert_eq!(r.cmd(&["GET", "a"]), queued());
    assert_eq!(r.cmd(&["GET", "nokey"]), queued());
    assert_eq!(
        r.cmd(&["EXEC"]),
        Reply::arr(vec![
            Reply::ok(),
            Reply::int(2),
            Reply::bulk("2"),
            Reply::Nil
        ])
    );
    assert_eq!(r.cmd(&["GET", "a"]), Reply::bulk("2"));
}

#[test]
fn multi_exec_empty() {
    let (_s, mut r) = setup();
    r.cmd(&["MULTI"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::arr(vec![]));
}

#[test]
fn queued_commands_not_visible_before_exec() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(other.cmd(&["GET", "a"]), Reply::Nil);
    r.cmd(&["EXEC"]);
    assert_eq!(other.cmd(&["GET", "a"]), Reply::bulk("1"));
}

#[test]
fn discard() {
    let (_s, mut r) = setup();
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["DISCARD"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "a"]), Reply::Nil);
    assert_eq!(r.cmd(&["EXEC"]), Reply::err("ERR EXEC without MULTI"));
    assert_eq!(r.cmd(&["DISCARD"]), Reply::err("ERR DISCARD without MULTI"));
}

#[test]
fn execabort_on_unknown_command() {
    let (_s, mut r) = setup();
    r.cmd(&["MULTI"]);
    assert_eq!(r.cmd(&["SET", "a", "1"]), queued());
    assert_eq!(
        r.cmd(&["FOO", "x"]),
        Reply::err("ERR unknown command 'FOO', with args beginning with: 'x' ")
    );
    assert_eq!(r.cmd(&["SET", "b", "1"]), queued());
    assert_eq!(r.cmd(&["EXEC"]), Reply::err(EXECABORT));
    assert_eq!(r.cmd(&["EXISTS", "a", "b"]), Reply::int(0));
    // The transaction is over.
    assert_eq!(r.cmd(&["EXEC"]), Reply::err("ERR EXEC without MULTI"));
}

#[test]
fn execabort_on_arity_error() {
    let (_s, mut r) = setup();
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(
        r.cmd(&["GET"]),
        Reply::err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(r.cmd(&["EXEC"]), Reply::err(EXECABORT));
    assert_eq!(r.cmd(&["EXISTS", "a"]), Reply::int(0));
}

#[test]
fn runtime_errors_reported_in_place() {
    let (_s, mut r) = setup();
    r.cmd(&["SET", "s", "abc"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["INCR", "s"]);
    r.cmd(&["SET", "k", "v", "EX", "0"]);
    r.cmd(&["INCR", "a"]);
    assert_eq!(
        r.cmd(&["EXEC"]),
        Reply::arr(vec![
            Reply::ok(),
            Reply::err("ERR value is not an integer or out of range"),
            Reply::err("ERR invalid expire time in 'set' command"),
            Reply::int(2),
        ])
    );
    assert_eq!(r.cmd(&["GET", "a"]), Reply::bulk("2"));
}

#[test]
fn nested_multi_error() {
    let (_s, mut r) = setup();
    r.cmd(&["MULTI"]);
    assert_eq!(
        r.cmd(&["MULTI"]),
        Reply::err("ERR MULTI calls can not be nested")
    );
    // The nested MULTI does not abort the transaction.
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::arr(vec![Reply::ok()]));
}

#[test]
fn exec_without_multi() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["EXEC"]), Reply::err("ERR EXEC without MULTI"));
}

#[test]
fn watch_inside_multi_error() {
    let (_s, mut r) = setup();
    r.cmd(&["MULTI"]);
    assert_eq!(
        r.cmd(&["WATCH", "a"]),
        Reply::err("ERR WATCH inside MULTI is not allowed")
    );
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::arr(vec![Reply::ok()]));
}

#[test]
fn watch_other_connection_modifies_aborts() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.cmd(&["SET", "a", "1"]);
    assert_eq!(r.cmd(&["WATCH", "a"]), Reply::ok());
    other.cmd(&["SET", "a", "2"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "a", "3"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::Nil);
    assert_eq!(r.cmd(&["GET", "a"]), Reply::bulk("2"));
    // WATCH state is cleared after EXEC: next transaction succeeds.
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "a", "3"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::arr(vec![Reply::ok()]));
}

#[test]
fn watch_nil_exec_via_client() {
    let s = TestServer::start(&[]);
    let mut c = s.client();
    let mut other = s.client();
    let _: () = redis::cmd("WATCH").arg("w").query(&mut c).unwrap();
    let _: () = redis::cmd("SET")
        .arg("w")
        .arg("x")
        .query(&mut other)
        .unwrap();
    let _: () = redis::cmd("MULTI").query(&mut c).unwrap();
    let q: String = redis::cmd("SET").arg("w").arg("y").query(&mut c).unwrap();
    assert_eq!(q, "QUEUED");
    let v: redis::Value = redis::cmd("EXEC").query(&mut c).unwrap();
    assert_eq!(v, redis::Value::Nil);
}

#[test]
fn watch_missing_key_then_created_aborts() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.cmd(&["WATCH", "newkey"]);
    other.cmd(&["SET", "newkey", "x"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "newkey", "y"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::Nil);
}

#[test]
fn watch_untouched_key_succeeds() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["WATCH", "a"]);
    other.cmd(&["SET", "b", "2"]);
    other.cmd(&["GET", "a"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["INCR", "a"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::arr(vec![Reply::int(2)]));
}

#[test]
fn watch_flushall_and_delete_abort() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["WATCH", "a"]);
    other.cmd(&["FLUSHALL"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "x", "1"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::Nil);

    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["WATCH", "a"]);
    other.cmd(&["DEL", "a"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "x", "1"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::Nil);
}

#[test]
fn unwatch_clears_watches() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["WATCH", "a"]);
    assert_eq!(r.cmd(&["UNWATCH"]), Reply::ok());
    other.cmd(&["SET", "a", "2"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["GET", "a"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::arr(vec![Reply::bulk("2")]));
}

#[test]
fn discard_clears_watches() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.cmd(&["WATCH", "a"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["DISCARD"]);
    other.cmd(&["SET", "a", "2"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["GET", "a"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::arr(vec![Reply::bulk("2")]));
}

#[test]
fn own_modification_of_watched_key_aborts() {
    let (_s, mut r) = setup();
    r.cmd(&["WATCH", "a"]);
    r.cmd(&["SET", "a", "1"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "a", "2"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::Nil);
    assert_eq!(r.cmd(&["GET", "a"]), Reply::bulk("1"));
}

#[test]
fn watch_is_per_db() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    r.cmd(&["WATCH", "a"]);
    other.cmd(&["SELECT", "1"]);
    other.cmd(&["SET", "a", "x"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["SET", "a", "y"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::arr(vec![Reply::ok()]));
}

#[test]
fn pipelined_transaction() {
    let (_s, mut r) = setup();
    let mut buf = Vec::new();
    buf.extend(encode_cmd(&["MULTI"]));
    for _ in 0..100 {
        buf.extend(encode_cmd(&["INCR", "n"]));
    }
    buf.extend(encode_cmd(&["EXEC"]));
    r.send(&buf);
    assert_eq!(r.read_reply(), Reply::ok());
    for _ in 0..100 {
        assert_eq!(r.read_reply(), queued());
    }
    let exec = r.read_reply();
    let items = exec.as_array();
    assert_eq!(items.len(), 100);
    assert_eq!(items[99], Reply::int(100));
}

#[test]
fn mset_is_atomic_for_concurrent_readers() {
    let s = TestServer::start(&[]);
    let keys: Vec<String> = (1..=10).map(|i| format!("k{i}")).collect();
    {
        let mut r = s.raw();
        let mut args = vec!["MSET".to_string()];
        for k in &keys {
            args.push(k.clone());
            args.push("init".into());
        }
        assert_eq!(r.cmd(&args), Reply::ok());
    }
    let done = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicUsize::new(0));
    let mut observers = Vec::new();
    for _ in 0..2 {
        let mut r = s.raw();
        let done = done.clone();
        let checks = checks.clone();
        let keys = keys.clone();
        observers.push(thread::spawn(move || {
            let mut args = vec!["MGET".to_string()];
            args.extend(keys.iter().cloned());
            while !done.load(Ordering::SeqCst) {
                let reply = r.cmd(&args);
                let vals = reply.strings();
                assert!(
                    vals.iter().all(|v| v == &vals[0]),
                    "torn MSET observed: {vals:?}"
                );
                checks.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut writers = Vec::new();
    for w in 0..4 {
        let mut r = s.raw();
        let keys = keys.clone();
        writers.push(thread::spawn(move || {
            for i in 0..2000 {
                let v = format!("w{w}-{i}");
                let mut args = vec!["MSET".to_string()];
                for k in &keys {
                    args.push(k.clone());
                    args.push(v.clone());
                }
                assert_eq!(r.cmd(&args), Reply::ok());
            }
        }));
    }
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    for o in observers {
        o.join().unwrap();
    }
    assert!(checks.load(Ordering::Relaxed) > 0);
}

#[test]
fn multi_incr_is_atomic_for_concurrent_readers() {
    let s = TestServer::start(&[]);
    let done = Arc::new(AtomicBool::new(false));
    let observer = {
        let mut r = s.raw();
        let done = done.clone();
        thread::spawn(move || {
            let mut n = 0u64;
            while !done.load(Ordering::SeqCst) {
                let reply = r.cmd(&["MGET", "x", "y"]);
                let items = reply.as_array();
                assert_eq!(items[0], items[1], "torn transaction observed");
                n += 1;
            }
            n
        })
    };
    let mut writers = Vec::new();
    for _ in 0..4 {
        let mut r = s.raw();
        writers.push(thread::spawn(move || {
            for _ in 0..500 {
                let mut buf = Vec::new();
                buf.extend(encode_cmd(&["MULTI"]));
                buf.extend(encode_cmd(&["INCR", "x"]));
                buf.extend(encode_cmd(&["INCR", "y"]));
                buf.extend(encode_cmd(&["EXEC"]));
                r.send(&buf);
                assert_eq!(r.read_reply(), Reply::ok());
                assert_eq!(r.read_reply(), queued());
                assert_eq!(r.read_reply(), queued());
                let exec = r.read_reply();
                let items = exec.as_array();
                assert_eq!(items[0], items[1]);
            }
        }));
    }
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    assert!(observer.join().unwrap() > 0);
    let mut r = s.raw();
    assert_eq!(
        r.cmd(&["MGET", "x", "y"]),
        Reply::arr(vec![Reply::bulk("2000"), Reply::bulk("2000")])
    );
}

#[test]
fn introspection_inside_exec_does_not_block() {
    // INFO, ROLE, DBSIZE, KEYS and DEBUG DIGEST read the whole keyspace; inside EXEC they
    // must run under the transaction's own lock rather than wait for it.
    let s = TestServer::start(if is_stock_redis() {
        &["--enable-debug-command", "yes"][..]
    } else {
        &[][..]
    });
    let mut r = s.raw();
    assert_eq!(r.cmd(&["SET", "k", "v"]), Reply::ok());
    assert_eq!(r.cmd(&["MULTI"]), Reply::ok());
    for c in [
        &["INFO", "keyspace"][..],
        &["ROLE"][..],
        &["DBSIZE"][..],
        &["KEYS", "*"][..],
        &["DEBUG", "DIGEST"][..],
        &["PUBLISH", "ch", "m"][..],
    ] {
        assert_eq!(r.cmd(c), Reply::simple("QUEUED"));
    }
    let res = r.cmd(&["EXEC"]);
    let items = res.as_array();
    assert_eq!(items.len(), 6);
    assert!(items[0].as_string().contains("db0:keys=1"));
    assert_eq!(items[2], Reply::int(1));
    assert_eq!(items[3], Reply::bulks(&["k"]));
    assert_eq!(items[4].as_string().len(), 40);
    assert_eq!(items[5], Reply::int(0));
}

/// Optimistic increments, the textbook way: WATCH k, GET k, MULTI, SET k n+1, INCR
/// commits, EXEC, retrying when EXEC answers nil. Many clients at once: every committed
/// EXEC must have read the latest value, so k ends equal to commits. (A transaction that
/// checked its WATCH flag before taking the write section could commit on a value another
/// EXEC changed in between: lost updates.)
#[test]
fn concurrent_watch_increments_lose_no_update() {
    const CLIENTS: usize = 24;
    const ROUNDS: usize = 150;
    let s = TestServer::start(&[]);
    let addr = s.addr();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let addr = addr.clone();
            thread::spawn(move || {
                let mut c = common::RawConn::connect(&addr);
                let mut committed = 0;
                let mut tries = 0;
                while committed < ROUNDS {
                    tries += 1;
                    assert!(tries < 100_000, "no progress");
                    let mut batch = encode_cmd(&["WATCH", "k"]);
                    batch.extend(encode_cmd(&["GET", "k"]));
                    c.send(&batch);
                    assert_eq!(c.read_reply(), Reply::ok());
                    let n: i64 = match c.read_reply() {
                        Reply::Nil => 0,
                        r => r.as_string().parse().unwrap(),
                    };
                    let next = (n + 1).to_string();
                    let mut batch = encode_cmd(&["MULTI"]);
                    batch.extend(encode_cmd(&["SET", "k", next.as_str()]));
                    batch.extend(encode_cmd(&["INCR", "commits"]));
                    batch.extend(encode_cmd(&["EXEC"]));
                    c.send(&batch);
                    assert_eq!(c.read_reply(), Reply::ok());
                    assert_eq!(c.read_reply(), queued());
                    assert_eq!(c.read_reply(), queued());
                    match c.read_reply() {
                        Reply::Nil => {}
                        Reply::Array(items) => {
                            assert_eq!(items.len(), 2);
                            committed += 1;
                        }
                        other => panic!("EXEC answered {other:?}"),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut r = s.raw();
    let total = (CLIENTS * ROUNDS).to_string();
    assert_eq!(r.cmd(&["GET", "commits"]), Reply::bulk(&total));
    assert_eq!(
        r.cmd(&["GET", "k"]),
        Reply::bulk(&total),
        "k must equal the number of committed increments"
    );
}

/// A WATCHed key that expires after WATCH makes EXEC abort, whether or not anything has
/// deleted it yet (Redis 7.0); one already expired when watched does not.
#[test]
fn watched_key_expiring_after_watch_aborts_exec() {
    let (_s, mut r) = setup();
    assert_eq!(r.cmd(&["SET", "x", "1", "PX", "50"]), Reply::ok());
    assert_eq!(r.cmd(&["WATCH", "x"]), Reply::ok());
    // Waiting for the expiry itself (any read would delete the key and signal anyway).
    thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(r.cmd(&["MULTI"]), Reply::ok());
    assert_eq!(r.cmd(&["SET", "x", "2"]), queued());
    assert_eq!(r.cmd(&["EXEC"]), Reply::Nil);
}

/// FLUSHDB, FLUSHALL and SWAPDB touch only the watched keys that exist (as Redis 7.0's
/// touchAllWatchedKeysInDb): watching a missing key survives them.
#[test]
fn flush_and_swapdb_touch_only_existing_watched_keys() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    for (flush, exists) in [
        (&["FLUSHDB"][..], false),
        (&["FLUSHALL"][..], false),
        (&["SWAPDB", "0", "1"][..], false),
        (&["FLUSHDB"][..], true),
        (&["FLUSHALL"][..], true),
        (&["SWAPDB", "0", "1"][..], true),
    ] {
        if exists {
            assert_eq!(other.cmd(&["SET", "w", "v"]), Reply::ok());
        }
        assert_eq!(r.cmd(&["WATCH", "w"]), Reply::ok());
        other.cmd(flush);
        assert_eq!(r.cmd(&["MULTI"]), Reply::ok());
        assert_eq!(r.cmd(&["PING"]), queued());
        let expected = if exists {
            Reply::Nil
        } else {
            Reply::arr(vec![Reply::simple("PONG")])
        };
        assert_eq!(
            r.cmd(&["EXEC"]),
            expected,
            "{flush:?} with the key existing: {exists}"
        );
        other.cmd(&["FLUSHALL"]);
    }
}

/// The state is checked again at EXEC, as Redis does: a transaction holding a write is
/// refused as a whole when, since it was queued, the leader lost the followers
/// `min-replicas-to-write` asks for; nothing of it runs.
#[test]
fn exec_rechecks_write_conditions_changed_since_queueing() {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    let mut admin = s.raw();
    assert_eq!(r.cmd(&["SET", "xx", "1"]), Reply::ok());
    assert_eq!(r.cmd(&["MULTI"]), Reply::ok());
    assert_eq!(r.cmd(&["INCR", "xx"]), queued());
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "min-replicas-to-write", "2"]),
        Reply::ok()
    );
    assert_eq!(
        r.cmd(&["EXEC"]),
        Reply::err(
            "EXECABORT Transaction discarded because of: NOREPLICAS Not enough good replicas to write."
        )
    );
    assert_eq!(r.cmd(&["GET", "xx"]), Reply::bulk("1"));
    // The transaction is gone; a read-only one still runs.
    assert_eq!(r.cmd(&["EXEC"]), Reply::err("ERR EXEC without MULTI"));
    assert_eq!(r.cmd(&["MULTI"]), Reply::ok());
    assert_eq!(r.cmd(&["GET", "xx"]), queued());
    assert_eq!(r.cmd(&["EXEC"]), Reply::arr(vec![Reply::bulk("1")]));
}

/// A state change between queueing and EXEC aborts the whole transaction with EXECABORT
/// naming why (OOM for queued writes over maxmemory, NOREPLICAS under
/// min-replicas-to-write, BUSY while a script runs) and leaves MULTI, as stock does; a
/// WATCHed key that was already expired does not fail EXEC when it is deleted. Run
/// against stock too (FC_SERVER_BIN=redis-server).
#[test]
fn exec_aborts_on_state_change_and_stale_watches_do_not_fail() {
    let (s, mut r) = setup();
    let mut admin = s.raw();
    let abort = |why: &str| {
        Reply::err(&format!(
            "EXECABORT Transaction discarded because of: {why}"
        ))
    };
    for (set, reset, why) in [
        (
            ["CONFIG", "SET", "maxmemory", "1"],
            ["CONFIG", "SET", "maxmemory", "0"],
            "OOM command not allowed when used memory > 'maxmemory'.",
        ),
        (
            ["CONFIG", "SET", "min-replicas-to-write", "2"],
            ["CONFIG", "SET", "min-replicas-to-write", "0"],
            "NOREPLICAS Not enough good replicas to write.",
        ),
    ] {
        r.cmd(&["SET", "x", "1"]);
        r.cmd(&["MULTI"]);
        assert_eq!(r.cmd(&["INCR", "x"]), queued());
        admin.cmd(&set);
        assert_eq!(r.cmd(&["EXEC"]), abort(why));
        admin.cmd(&reset);
        assert_eq!(r.cmd(&["GET", "x"]), Reply::bulk("1"), "{why}");
    }
    // EXEC arriving while a script keeps the server busy.
    admin.cmd(&["CONFIG", "SET", "busy-reply-threshold", "10"]);
    r.cmd(&["MULTI"]);
    assert_eq!(r.cmd(&["INCR", "x"]), queued());
    let mut looping = s.raw();
    looping.send_cmd(&["EVAL", "while true do end", "0"]);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let reply = r.cmd(&["EXEC"]);
    assert!(
        reply
            .err_text()
            .starts_with("EXECABORT Transaction discarded because of: BUSY"),
        "{reply:?}"
    );
    assert_eq!(admin.cmd(&["SCRIPT", "KILL"]), Reply::ok());
    assert!(looping.read_reply().is_error());
    assert_eq!(
        r.cmd(&["PING"]),
        Reply::simple("PONG"),
        "MULTI must have ended"
    );
    assert_eq!(r.cmd(&["GET", "x"]), Reply::bulk("1"));
    // Stale watches: deleting a key that had already expired when watched is no change.
    admin.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for delete in [&["EXISTS", "stale"][..], &["FLUSHDB"][..]] {
        r.cmd(&["SET", "stale", "v", "PX", "1"]);
        std::thread::sleep(std::time::Duration::from_millis(5));
        r.cmd(&["WATCH", "stale"]);
        admin.cmd(delete);
        r.cmd(&["MULTI"]);
        r.cmd(&["PING"]);
        assert_eq!(
            r.cmd(&["EXEC"]),
            Reply::arr(vec![Reply::simple("PONG")]),
            "{delete:?}"
        );
    }
    // ...but recreating it is.
    r.cmd(&["SET", "stale", "v", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    r.cmd(&["WATCH", "stale"]);
    admin.cmd(&["SET", "stale", "new"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["PING"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::Nil);
    admin.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
}

/// SWAPDB bringing an already expired key where the watched key did not exist changes
/// nothing (Redis marks the watch stale): EXEC runs. A live key brought in aborts it.
#[test]
fn swapdb_replacing_a_missing_watched_key_with_a_stale_one_is_no_change() {
    let s = TestServer::start(&["--enable-debug-command", "yes"]);
    let mut r = s.raw();
    r.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    r.cmd(&["SET", "x", "foo", "PX", "1"]);
    std::thread::sleep(std::time::Duration::from_millis(5));
    r.cmd(&["SELECT", "1"]);
    r.cmd(&["WATCH", "x"]);
    r.cmd(&["SWAPDB", "0", "1"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["PING"]);
    assert_eq!(r.cmd(&["EXEC"]), Reply::Array(vec![Reply::simple("PONG")]));
    r.cmd(&["SELECT", "2"]);
    r.cmd(&["SET", "y", "live"]);
    r.cmd(&["SELECT", "3"]);
    r.cmd(&["WATCH", "y"]);
    r.cmd(&["SWAPDB", "2", "3"]);
    r.cmd(&["MULTI"]);
    r.cmd(&["PING"]);
    assert_eq!(
        r.cmd(&["EXEC"]),
        Reply::Nil,
        "a live key brought in is a change"
    );
}
