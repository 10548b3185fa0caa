//! Structures kept in strings: bitmaps (SETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD) and
//! HyperLogLog (PFADD, PFCOUNT, PFMERGE, PFDEBUG). Stock Redis is the oracle: replies
//! and the strings' bytes must be the same, since these strings travel between the two
//! (replication, RDB).

mod common;

use common::{
    RawConn, Reply, TestServer, assert_followers_converge, ensure_stock_redis, expect, setup,
};

/// Runs every command on both servers and lists those whose replies differ.
fn differences(o: &mut RawConn, s: &mut RawConn, cases: &[Vec<String>]) -> Vec<String> {
    let mut diffs = Vec::new();
    for case in cases {
        let (a, b) = (o.cmd(case), s.cmd(case));
        if a != b {
            diffs.push(format!("{case:?}\n  stock: {b:?}\n   ours: {a:?}"));
        }
    }
    diffs
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

/// A small deterministic generator, so a failing sequence can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    fn signed(&mut self, n: u64) -> i64 {
        self.next(2 * n + 1) as i64 - n as i64
    }
}

const BITMAP_CASES: &[&str] = &[
    "SETBIT b 7 1",
    "SETBIT b 7 1",
    "SETBIT b 100 1",
    "GETBIT b 7",
    "GETBIT b 8",
    "GETBIT b 100000",
    "GETBIT nokey 3",
    "SETBIT b -1 1",
    "SETBIT b 4294967296 1",
    "SETBIT b 1 2",
    "SETBIT b 1 x",
    "GETBIT b x",
    "SET s foobar",
    "BITCOUNT s",
    "BITCOUNT s 0 0",
    "BITCOUNT s 1 1",
    "BITCOUNT s 1 1 BYTE",
    "BITCOUNT s 5 30 BIT",
    "BITCOUNT s -2 -1",
    "BITCOUNT s -1 -2",
    "BITCOUNT s -1 -2 xyz",
    "BITCOUNT s 0",
    "BITCOUNT s 0 1 BIT x",
    "BITCOUNT s 0 1 nope",
    "BITCOUNT s a b",
    "BITCOUNT nokey 0 1 nope",
    "SET z \u{0}\u{0}\u{0}",
    "BITPOS z 1",
    "BITPOS z 0",
    "SET f \u{ff}\u{f0}\u{0}",
    "BITPOS f 0",
    "BITPOS f 1 2",
    "BITPOS f 0 0 0",
    "BITPOS f 0 0",
    "BITPOS f 1 7 15 BIT",
    "BITPOS f 0 7 15 BIT",
    "BITPOS f 0 2 9 BIT",
    "BITPOS f 0 12 -1 BIT",
    "BITPOS f 1 -1",
    "BITPOS f 2",
    "BITPOS f x",
    "BITPOS f 1 0 1 BITS",
    "BITPOS nokey 0",
    "BITPOS nokey 1",
    "SET e \"\"",
    "BITPOS e 0",
    "SET ones \u{ff}\u{ff}",
    "BITPOS ones 0",
    "BITPOS ones 0 0",
    "BITPOS ones 0 0 -1",
    "SET a abc",
    "SET c ab",
    "BITOP AND d a c",
    "GET d",
    "BITOP OR d a c nokey",
    "GET d",
    "BITOP XOR d a c",
    "GET d",
    "BITOP NOT d a",
    "GET d",
    "BITOP NOT d a c",
    "BITOP NAND d a c",
    "BITOP AND d nokey other",
    "EXISTS d",
    "BITOP AND d a",
    "GET d",
    "LPUSH l x",
    "BITOP OR d a l",
    "SETBIT l 0 1",
    "GETBIT l 0",
    "BITCOUNT l",
    "BITFIELD bf SET u8 0 255 GET u8 0",
    "BITFIELD bf INCRBY u8 0 10",
    "BITFIELD bf OVERFLOW SAT INCRBY u8 0 300",
    "BITFIELD bf OVERFLOW FAIL INCRBY u8 0 1",
    "BITFIELD bf OVERFLOW FAIL INCRBY i8 0 1 GET i8 0",
    "BITFIELD bf SET i5 #3 -7 GET i5 #3 GET u5 #3",
    "BITFIELD bf SET i64 8 -1 GET i64 8 INCRBY i64 8 1",
    "BITFIELD bf OVERFLOW WRAP INCRBY i64 8 9223372036854775807 INCRBY i64 8 2",
    "BITFIELD bf OVERFLOW SAT INCRBY i64 8 -9223372036854775808 INCRBY i64 8 -9223372036854775808",
    "BITFIELD bf SET u63 3 9223372036854775807 GET u63 3",
    "BITFIELD bf SET u64 0 1",
    "BITFIELD bf SET i65 0 1",
    "BITFIELD bf SET x8 0 1",
    "BITFIELD bf SET i8 -1 1",
    "BITFIELD bf SET i8 0 x",
    "BITFIELD bf OVERFLOW NOPE",
    "BITFIELD bf FOO",
    "BITFIELD bf GET u8",
    "BITFIELD bf",
    "BITFIELD nokey GET u8 0 GET i16 100",
    "EXISTS nokey",
    "BITFIELD_RO bf GET u8 0 GET i4 4",
    "BITFIELD_RO bf SET u8 0 1",
    "BITFIELD_RO bf INCRBY u8 0 1 GET u8 0",
    "BITFIELD l GET u8 0",
    "BITFIELD fails OVERFLOW FAIL SET u2 100 7",
    "STRLEN fails",
    "GET bf",
];

#[test]
fn bitmap_replies_match_stock() {
    ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    let cases: Vec<Vec<String>> = BITMAP_CASES
        .iter()
        .map(|l| {
            words(l)
                .into_iter()
                .map(|w| if w == "\"\"" { String::new() } else { w })
                .collect()
        })
        .collect();
    let diffs = differences(&mut o, &mut s, &cases);
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn random_bit_operations_match_stock() {
    ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    let mut rng = Lcg(7);
    let mut cases = Vec::new();
    let units = ["BIT", "BYTE"];
    for _ in 0..1500 {
        let key = format!("k{}", rng.next(3));
        let case = match rng.next(7) {
            0 => format!("SETBIT {key} {} {}", rng.next(400), rng.next(2)),
            1 => format!(
                "BITCOUNT {key} {} {} {}",
                rng.signed(60),
                rng.signed(60),
                units[rng.next(2) as usize]
            ),
            2 => format!(
                "BITPOS {key} {} {} {} {}",
                rng.next(2),
                rng.signed(60),
                rng.signed(60),
                units[rng.next(2) as usize]
            ),
            3 => format!("BITPOS {key} {} {}", rng.next(2), rng.signed(60)),
            4 => {
                let sign = if rng.next(2) == 0 { "i" } else { "u" };
                let bits = 1 + rng.next(if sign == "i" { 64 } else { 63 });
                let over = ["WRAP", "SAT", "FAIL"][rng.next(3) as usize];
                let shift = rng.next(63);
                let by = rng.signed(1 << shift);
                format!(
                    "BITFIELD {key} OVERFLOW {over} INCRBY {sign}{bits} {} {by} GET {sign}{bits} {}",
                    rng.next(300),
                    rng.next(300)
                )
            }
            5 => {
                let op = ["AND", "OR", "XOR"][rng.next(3) as usize];
                format!("BITOP {op} k{} k0 k1 k2", 3 + rng.next(2))
            }
            _ => format!(
                "BITFIELD {key} SET i{} {} {}",
                1 + rng.next(64),
                rng.next(300),
                rng.signed(1 << 40)
            ),
        };
        cases.push(words(&case));
    }
    for k in 0..5 {
        cases.push(words(&format!("GET k{k}")));
    }
    let diffs = differences(&mut o, &mut s, &cases);
    assert!(
        diffs.is_empty(),
        "{} differ, first:\n{}",
        diffs.len(),
        diffs.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn setbit_past_the_bulk_limit_is_refused() {
    let (_s, mut r) = setup();
    expect(
        &mut r,
        &["CONFIG", "SET", "proto-max-bulk-len", "1mb"],
        Reply::ok(),
    );
    expect(
        &mut r,
        &["SETBIT", "k", "8388608", "1"],
        Reply::err("ERR bit offset is not an integer or out of range"),
    );
    expect(&mut r, &["SETBIT", "k", "8388607", "1"], Reply::int(0));
    expect(&mut r, &["STRLEN", "k"], Reply::int(1 << 20));
    expect(&mut r, &["BITCOUNT", "k"], Reply::int(1));
    expect(&mut r, &["BITPOS", "k", "1"], Reply::int(8388607));
}

/// PFADD sequences that keep a key sparse, promote it by size and by a register
/// value, and make it dense from the start.
fn hll_fill(r: &mut RawConn) {
    for i in 0..40 {
        r.cmd(&["PFADD", "small", &format!("e{i}")]);
    }
    let batch: Vec<String> = (0..2000).map(|i| format!("m{i}")).collect();
    let mut args = vec!["PFADD".to_string(), "mid".into()];
    args.extend(batch.iter().take(600).cloned());
    r.cmd(&args);
    let mut args = vec!["PFADD".to_string(), "big".into()];
    args.extend(batch.iter().cloned());
    r.cmd(&args);
    r.cmd(&["PFADD", "empty"]);
    r.cmd(&["PFMERGE", "merged", "small", "mid"]);
    r.cmd(&["PFMERGE", "mergedbig", "small", "big", "nokey"]);
}

const HLL_CASES: &[&str] = &[
    "GET small",
    "GET mid",
    "GET big",
    "GET empty",
    "GET merged",
    "GET mergedbig",
    "PFCOUNT small",
    "GET small",
    "PFCOUNT mid",
    "PFCOUNT big",
    "PFCOUNT small mid big nokey",
    "PFCOUNT nokey",
    "PFCOUNT merged",
    "PFCOUNT mergedbig",
    "PFDEBUG ENCODING small",
    "PFDEBUG ENCODING big",
    "PFDEBUG DECODE small",
    "PFDEBUG DECODE big",
    "PFDEBUG ENCODING nokey",
    "PFDEBUG NOPE small",
    "PFDEBUG TODENSE small",
    "PFDEBUG TODENSE small",
    "GET small",
    "PFADD small x y z",
    "PFADD small x",
    "PFADD empty",
    "PFADD newkey",
    "SET str hello",
    "PFADD str a",
    "PFCOUNT str",
    "PFCOUNT small str",
    "PFMERGE small str",
    "LPUSH list a",
    "PFADD list a",
    "PFCOUNT list",
    "SET fake HYLL\u{1}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{ff}",
    "PFCOUNT fake",
    "PFADD fake a",
    "SET densebad HYLL\u{0}",
    "PFCOUNT densebad",
    "SETRANGE mid 17 \u{ff}\u{ff}",
    "PFCOUNT mid",
    "PFADD mid a b c",
];

#[test]
fn hyperloglog_bytes_and_replies_match_stock() {
    ensure_stock_redis();
    let ours = TestServer::start(&[]);
    let stock = TestServer::start_stock(&[]);
    let (mut o, mut s) = (ours.raw(), stock.raw());
    hll_fill(&mut o);
    hll_fill(&mut s);
    let cases: Vec<Vec<String>> = HLL_CASES.iter().map(|l| words(l)).collect();
    let mut diffs = differences(&mut o, &mut s, &cases);
    // Every register, after a conversion on both sides.
    for k in ["mid", "big", "mergedbig"] {
        let (a, b) = (
            o.cmd(&["PFDEBUG", "GETREG", k]),
            s.cmd(&["PFDEBUG", "GETREG", k]),
        );
        if a != b {
            diffs.push(format!("PFDEBUG GETREG {k} differs"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn hyperloglog_size_limit_is_a_setting() {
    let (_s, mut r) = setup();
    expect(&mut r, &["PFSELFTEST"], Reply::ok());
    expect(
        &mut r,
        &["CONFIG", "SET", "hll-sparse-max-bytes", "30"],
        Reply::ok(),
    );
    let mut args = vec!["PFADD".to_string(), "h".into()];
    args.extend((0..20).map(|i| format!("e{i}")));
    r.cmd(&args);
    expect(
        &mut r,
        &["PFDEBUG", "ENCODING", "h"],
        Reply::simple("dense"),
    );
    expect(&mut r, &["PFCOUNT", "h"], Reply::int(20));
}

#[test]
fn bitmaps_and_hyperloglogs_reach_followers_alike() {
    ensure_stock_redis();
    assert_followers_converge(|r| {
        hll_fill(r);
        // A count refreshes the cache in the key: followers must get the same bytes.
        r.cmd(&["PFCOUNT", "small"]);
        r.cmd(&["PFDEBUG", "TODENSE", "mid"]);
        r.cmd(&["SETBIT", "bits", "1000", "1"]);
        r.cmd(&[
            "BITFIELD", "bits", "INCRBY", "u8", "#3", "200", "SET", "i16", "40", "-5",
        ]);
        r.cmd(&[
            "BITFIELD", "grown", "OVERFLOW", "FAIL", "SET", "u2", "100", "7",
        ]);
        r.cmd(&["SET", "a", "abc"]);
        r.cmd(&["BITOP", "NOT", "dest", "a"]);
        r.cmd(&["BITOP", "AND", "a", "nokey"]);
    });
}

#[test]
fn a_follower_of_a_stock_primary_holds_its_bitmaps_hyperloglogs_and_geo_sets() {
    ensure_stock_redis();
    let primary = TestServer::start_stock(&[
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
    ]);
    let mut p = primary.raw();
    // Some keys reach the follower by the full sync, the rest by the stream.
    hll_fill(&mut p);
    let port = primary.port.to_string();
    let follower = TestServer::start(&["--replicaof", "127.0.0.1", &port]);
    let mut f = follower.raw();
    p.cmd(&["PFCOUNT", "small"]);
    p.cmd(&["PFADD", "small", "late1", "late2"]);
    p.cmd(&["SETBIT", "bits", "777", "1"]);
    p.cmd(&["BITFIELD", "bits", "INCRBY", "i16", "#4", "-300"]);
    p.cmd(&[
        "GEOADD",
        "geo",
        "13.361389",
        "38.115556",
        "Palermo",
        "15.087269",
        "37.502669",
        "Catania",
    ]);
    p.cmd(&[
        "GEOSEARCHSTORE",
        "near",
        "geo",
        "FROMLONLAT",
        "15",
        "37",
        "BYRADIUS",
        "200",
        "km",
        "STOREDIST",
    ]);
    p.cmd(&["SORT", "geo", "BY", "nosort", "ALPHA", "STORE", "sorted"]);
    let digest = p.cmd(&["DEBUG", "DIGEST"]);
    assert!(
        common::poll_until(
            std::time::Duration::from_secs(20),
            std::time::Duration::from_millis(50),
            || f.cmd(&["DEBUG", "DIGEST"]) == digest
        ),
        "the follower of a stock primary diverged"
    );
    for k in ["small", "mid", "big", "bits", "merged"] {
        assert_eq!(f.cmd(&["GET", k]), p.cmd(&["GET", k]), "{k}");
    }
    assert_eq!(
        f.cmd(&["PFCOUNT", "small", "big"]),
        p.cmd(&["PFCOUNT", "small", "big"])
    );
    assert_eq!(
        f.cmd(&["GEODIST", "geo", "Palermo", "Catania"]),
        p.cmd(&["GEODIST", "geo", "Palermo", "Catania"])
    );
}
