//! Randomized robustness: every command in COMMAND LIST is sent with random arguments
//! (numbers, edge values, keywords, binary junk) and the server must answer each one and
//! stay healthy for other clients. A panic in a handler closes the connection, which this
//! test reports with the command that caused it.

mod common;

use common::{RawConn, Reply, TestServer, is_stock_redis};
use rand::{RngExt, SeedableRng};

/// Commands that block (WAIT), end the connection or the server, change the server's role (REPLICAOF), turn the connection into a follower link (PSYNC), or change the connection's
/// mode; they have dedicated tests.
const SKIP: &[&str] = &[
    // Blocking pops wait by design (timeout 0 is forever); tests/lists.rs and
    // tests/zsets.rs cover them.
    "blpop",
    "brpop",
    "blmove",
    "brpoplpush",
    "blmpop",
    "bzpopmin",
    "bzpopmax",
    "bzmpop",
    "shutdown",
    "debug",
    "monitor",
    "quit",
    "reset",
    "subscribe",
    "psubscribe",
    "client",
    "multi",
    "exec",
    "discard",
    "watch",
    "hello",
    "auth",
    "psync",
    "replicaof",
    "slaveof",
    "wait",
];

fn random_arg(rng: &mut impl rand::Rng) -> Vec<u8> {
    let words: &[&[u8]] = &[
        b"k",
        b"k2",
        b"0",
        b"1",
        b"-1",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"99999999999999999999",
        b"1.5",
        b"inf",
        b"-inf",
        b"nan",
        b"",
        b"*",
        b"NX",
        b"XX",
        b"GT",
        b"LT",
        b"EX",
        b"PX",
        b"EXAT",
        b"PXAT",
        b"KEEPTTL",
        b"GET",
        b"PERSIST",
        b"MATCH",
        b"COUNT",
        b"TYPE",
        b"string",
        b"DB",
        b"REPLACE",
        b"ASYNC",
        b"[a-",
        b"\\",
    ];
    if rng.random_range(0..4) == 0 {
        let n = rng.random_range(0..12);
        (0..n).map(|_| rng.random::<u8>()).collect()
    } else {
        words[rng.random_range(0..words.len())].to_vec()
    }
}

#[test]
fn random_arguments_never_break_the_server() {
    if is_stock_redis() {
        return;
    }
    let s = TestServer::start(&[]);
    let mut admin = s.raw();
    let names = admin.cmd(&["COMMAND", "LIST"]).strings();
    assert!(names.len() > 50);
    let mut rng = rand::rngs::StdRng::seed_from_u64(2024);
    let mut r = s.raw();
    for round in 0..20_000 {
        let name = &names[rng.random_range(0..names.len())];
        if SKIP.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        let mut args: Vec<Vec<u8>> = vec![name.as_bytes().to_vec()];
        for _ in 0..rng.random_range(0..6) {
            args.push(random_arg(&mut rng));
        }
        r.send_cmd(&args);
        match r.try_read_reply(std::time::Duration::from_secs(5)) {
            Ok(_) => {}
            Err(e) => panic!(
                "round {round}: no reply to {:?}: {e:?}\nserver log:\n{}",
                args.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>(),
                s.log_tail(20)
            ),
        }
        if round % 500 == 0 {
            assert_eq!(admin.cmd(&["PING"]), Reply::simple("PONG"));
        }
    }
    let mut fresh = RawConn::connect(&s.addr());
    assert_eq!(fresh.cmd(&["PING"]), Reply::simple("PONG"));
    let log = s.log_tail(10_000);
    assert!(!log.contains("panicked"), "a handler panicked:\n{log}");
}
