//! Stock oracles: checks that compare our behaviour with stock Redis's (a stock replica
//! converging on our leader, RDB files read by redis-check-rdb).

#![allow(dead_code)]

use super::*;
use std::process::Command;
use std::time::Duration;

/// Runs `fill` on a leader followed by one of our followers and a stock replica, then
/// waits (bounded) until both report the leader's DEBUG DIGEST.
pub fn assert_followers_converge(fill: impl Fn(&mut RawConn)) {
    let leader = TestServer::start(&[]);
    let lp = leader.port.to_string();
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &lp]);
    let stock = TestServer::start_stock(&[
        "--replicaof",
        "127.0.0.1",
        &lp,
        "--enable-debug-command",
        "yes",
    ]);
    let mut l = leader.raw();
    fill(&mut l);
    let digest = l.cmd(&["DEBUG", "DIGEST"]);
    for s in [&follower, &stock] {
        let mut f = s.raw();
        assert!(
            poll_until(Duration::from_secs(20), Duration::from_millis(50), || {
                f.cmd(&["DEBUG", "DIGEST"]) == digest
            }),
            "follower on {} diverged",
            s.port
        );
    }
}

/// Runs `fill`, SAVEs, checks the file with redis-check-rdb, loads it in a stock
/// redis-server (same digest; `check_stock` runs there), has stock Redis save its own
/// encodings, and loads that back into ours (same digest; `check_back` runs there).
pub fn assert_rdb_round_trip(
    fill: impl Fn(&mut RawConn),
    check_stock: impl Fn(&mut RawConn),
    check_back: impl Fn(&mut RawConn),
) {
    let s = TestServer::start(&[]);
    let mut r = s.raw();
    fill(&mut r);
    let digest = r.cmd(&["DEBUG", "DIGEST"]);
    assert_eq!(r.cmd(&["SAVE"]), Reply::ok());
    let check = Command::new(stock_bin("redis-check-rdb"))
        .arg(s.dir().join("dump.rdb"))
        .output()
        .expect("redis-check-rdb");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(out.contains("RDB looks OK"), "{out}");
    let dir = s.dir().display().to_string();
    let stock = TestServer::start_stock(&["--dir", &dir, "--enable-debug-command", "yes"]);
    let mut st = stock.raw();
    assert_eq!(st.cmd(&["DEBUG", "DIGEST"]), digest);
    check_stock(&mut st);
    assert_eq!(st.cmd(&["SAVE"]), Reply::ok());
    drop(st);
    drop(stock);
    let back = TestServer::start(&["--dir", &dir]);
    let mut b = back.raw();
    assert_eq!(b.cmd(&["DEBUG", "DIGEST"]), digest);
    check_back(&mut b);
}
