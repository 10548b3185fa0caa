//! Shared integration-test harness: spawns a server binary on a free port,
//! waits for readiness, and offers both a `redis::Connection` client and a
//! tiny raw-socket RESP client (`RawConn`) for exact-reply / bad-input tests.
//!
//! The binary is taken from `FC_SERVER_BIN` if set, otherwise from cargo's
//! `CARGO_BIN_EXE_ferrocache-server`. Validate against stock Redis with
//! `FC_SERVER_BIN=$(which redis-server) cargo test`.

#![allow(dead_code)]

mod oracles;
mod process;
mod proxy;
mod resp;

// Each test crate uses a different part of the harness.
#[allow(unused_imports)]
pub use oracles::*;
#[allow(unused_imports)]
pub use process::*;
#[allow(unused_imports)]
pub use proxy::*;
#[allow(unused_imports)]
pub use resp::*;

/// Sends one command and asserts its reply: the one-line form of a command-family test,
/// `expect(&mut r, &["GET", "k"], Reply::bulk("v"))`.
pub fn expect<A: AsRef<[u8]> + std::fmt::Debug>(conn: &mut RawConn, args: &[A], reply: Reply) {
    assert_eq!(conn.cmd(args), reply, "{args:?}");
}
