//! Randomized robustness: every command in COMMAND LIST is sent with random arguments
//! (numbers, edge values, keywords, binary junk) and the server must answer each one and
//! stay healthy for other clients. A panic in a handler closes the connection, which this
//! test reports with the command that caused it.

mod common;

use common::{RawConn, Reply, TestServer, is_stock_redis};
use rand::{RngExt, SeedableRng};

/// Commands left out besides the blocking ones (those the table flags `blocking`, read from
/// COMMAND INFO): they end the connection or the server, change the server's role or the
/// connection's mode (subscribed, MULTI, follower link, MONITOR, another user), or wait by
/// design; each has dedicated tests.
const SKIP: &[&str] = &[
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
    "sync",
    "replicaof",
    "slaveof",
    "wait",
];

/// The commands the server's table flags `blocking` (BLPOP, BZPOPMIN, BLMPOP...): with
/// timeout 0 they wait forever by design.
fn blocking_commands(conn: &mut RawConn) -> Vec<String> {
    let Reply::Array(infos) = conn.cmd(&["COMMAND"]) else {
        panic!("COMMAND did not answer with an array");
    };
    infos
        .iter()
        .filter_map(|info| match info {
            Reply::Array(fields) if fields[2].strings().iter().any(|f| f == "blocking") => {
                Some(fields[0].as_string())
            }
            _ => None,
        })
        .collect()
}

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
    let mut names = admin.cmd(&["COMMAND", "LIST"]).strings();
    names.retain(|n| !n.contains('|'));
    assert!(names.len() > 50);
    let blocking = blocking_commands(&mut admin);
    assert!(blocking.len() >= 8, "blocking commands found: {blocking:?}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(2024);
    let mut r = s.raw();
    for round in 0..20_000 {
        let name = &names[rng.random_range(0..names.len())];
        let lower = name.to_ascii_lowercase();
        if SKIP.contains(&lower.as_str()) || blocking.contains(&lower) {
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
