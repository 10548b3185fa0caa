//! RDB v10 compatibility: our writer and loader against each other and against stock
//! Redis 7.0 (`redis-server`, `redis-check-rdb` from PATH).

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrocache::rdb::{Aux, RdbError, RdbValue, RdbValueRef, RdbWriter, load};

// ---------------------------------------------------------------------------------------
// Helpers

/// A stock Redis tool from PATH, installed first when missing (see `common::stock_bin`).
fn tool(name: &str) -> PathBuf {
    common::stock_bin(name)
}

/// A scratch directory removed when the test ends (also on panic).
struct TmpDir(PathBuf);

impl TmpDir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p = std::env::temp_dir().join(format!(
            "ferrocache-rdb-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TmpDir(p)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A stock redis-server on a free port, killed when dropped (also on panic).
struct StockRedis {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl StockRedis {
    fn start(dir: &Path, extra: &[&str]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("redis.log");
        let mut cmd = Command::new(tool("redis-server"));
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", dir.to_str().unwrap(), "--dbfilename", "dump.rdb"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--logfile", log.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("spawn redis-server");
        let mut me = StockRedis { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = me.child.try_wait() {
                panic!("redis-server exited ({status}); log:\n{}", me.log_text());
            }
            if let Ok(mut c) = me.try_conn()
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING; log:\n{}",
                me.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        me
    }

    fn try_conn(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))?.get_connection()
    }

    fn conn(&self, db: i64) -> redis::Connection {
        let mut c = self.try_conn().unwrap();
        let _: () = redis::cmd("SELECT").arg(db).query(&mut c).unwrap();
        c
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for StockRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

type Db = BTreeMap<(usize, Vec<u8>), (RdbValue, u64)>;

fn load_all(bytes: &[u8]) -> Result<(Aux, Db), RdbError> {
    let mut out = Db::new();
    let aux = load(bytes, |db, k, v, exp| match out.insert((db, k), (v, exp)) {
        None => Ok(()),
        Some(_) => Err(RdbError::Corrupt("duplicate key".into())),
    })?;
    Ok((aux, out))
}

fn write_all(aux: &Aux, data: &Db) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), aux).unwrap();
    type Keys<'a> = Vec<(&'a Vec<u8>, &'a (RdbValue, u64))>;
    let mut dbs: BTreeMap<usize, Keys> = BTreeMap::new();
    for ((db, k), v) in data {
        dbs.entry(*db).or_default().push((k, v));
    }
    for (db, keys) in dbs {
        let expires = keys.iter().filter(|(_, (_, e))| *e != 0).count() as u64;
        w.select_db(db, keys.len() as u64, expires).unwrap();
        for (k, (v, e)) in keys {
            w.write_value(k, v, *e).unwrap();
        }
    }
    w.finish().unwrap()
}

/// Collections compared as Redis would report them: sets and hashes unordered, zsets by
/// (score, member).
fn normalize(v: &RdbValue) -> RdbValue {
    match v.clone() {
        RdbValue::Set(mut m) => {
            m.sort();
            RdbValue::Set(m)
        }
        RdbValue::Hash(mut h) => {
            h.sort();
            RdbValue::Hash(h)
        }
        RdbValue::ZSet(mut z) => {
            z.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            RdbValue::ZSet(z)
        }
        other => other,
    }
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn test_aux() -> Aux {
    Aux {
        redis_ver: "7.0.15".into(),
        redis_bits: 64,
        ctime: 1_700_000_000,
        used_mem: 1_234_567,
        repl_id: Some("0123456789abcdef0123456789abcdef01234567".into()),
        repl_offset: Some(98765),
        repl_stream_db: Some(0),
        aof_base: false,
        extra: vec![("ferrocache-note".into(), "hello".into())],
        functions: vec![b(
            "#!lua name=lib\nredis.register_function('f', function() return 1 end)",
        )],
    }
}

/// A dataset exercising every string encoding and every collection form we write.
fn sample_data() -> Db {
    let mut seed = 0xfeed_beef_u64;
    let mut d = Db::new();
    let mut put = |db: usize, k: &[u8], v: RdbValue, e: u64| {
        d.insert((db, k.to_vec()), (v, e));
    };
    let strings: Vec<(&str, Vec<u8>)> = vec![
        ("small-int", b("7")),
        ("zero", b("0")),
        ("neg-int", b("-128")),
        ("int16", b("-32768")),
        ("int16b", b("30000")),
        ("int32", b("2147483647")),
        ("int32-neg", b("-2147483648")),
        ("beyond-int32", b("2147483648")),
        ("int64", b("-9223372036854775808")),
        ("leading-zero", b("007")),
        ("minus-zero", b("-0")),
        ("plus", b("+5")),
        ("spaces", b(" 12")),
        ("float", b("1.5")),
        ("empty", Vec::new()),
        ("short", b("hello world")),
        ("twenty", b("abcdefghijklmnopqrst")),
        ("twenty-one-rep", b("aaaaaaaaaaaaaaaaaaaaa")),
        ("compressible", b("ferrocache ").repeat(1000)),
        ("binary", (0..=255u8).cycle().take(3000).collect()),
        (
            "random",
            (0..10_000).map(|_| xorshift(&mut seed) as u8).collect(),
        ),
    ];
    for (k, v) in strings {
        put(0, k.as_bytes(), RdbValue::Str(v), 0);
    }
    put(0, b"\x00bin\xffkey", RdbValue::Str(b("v")), 0);
    put(0, b"12345", RdbValue::Str(b("int-like key")), 0);
    put(0, &b("k").repeat(300), RdbValue::Str(b("long key")), 0);
    let far = now_ms() + 3_600_000;
    put(0, b"with-ttl", RdbValue::Str(b("v")), far);
    put(0, b"with-ttl-2", RdbValue::Str(b("42")), far + 12_345);

    put(
        0,
        b"list-small",
        RdbValue::List(vec![b("a"), b("1"), b("-5"), b("b"), b("")]),
        0,
    );
    let mut big_list: Vec<Vec<u8>> = (0..5000)
        .map(|i| match i % 4 {
            0 => b(&i.to_string()),
            1 => b(&format!("element-{i}")),
            2 => b(&(-(i as i64) * 100_003).to_string()),
            _ => (0..(i % 300)).map(|_| xorshift(&mut seed) as u8).collect(),
        })
        .collect();
    big_list.insert(2500, vec![b'x'; 20_000]);
    big_list.push(vec![b'y'; 9000]);
    put(1, b"list-big", RdbValue::List(big_list), far);
    put(
        0,
        b"set-ints",
        RdbValue::Set(vec![b("1"), b("-2"), b("300"), b("4000000000")]),
        0,
    );
    put(
        0,
        b"set-strs",
        RdbValue::Set((0..300).map(|i| b(&format!("member:{i}"))).collect()),
        0,
    );
    put(
        0,
        b"zset-small",
        RdbValue::ZSet(vec![
            (b("a"), 1.5),
            (b("b"), -2.0),
            (b("c"), f64::INFINITY),
            (b("d"), f64::NEG_INFINITY),
            (b("e"), 0.1),
            (b("f"), 1e300),
        ]),
        0,
    );
    put(
        5,
        b"zset-big",
        RdbValue::ZSet(
            (0..500)
                .map(|i| (b(&format!("m{i}")), i as f64 / 7.0))
                .collect(),
        ),
        0,
    );
    put(
        0,
        b"hash-small",
        RdbValue::Hash(vec![
            (b("f1"), b("v1")),
            (b("n"), b("12")),
            (b("e"), Vec::new()),
        ]),
        0,
    );
    put(
        5,
        b"hash-big",
        RdbValue::Hash(
            (0..300)
                .map(|i| (b(&format!("field{i}")), b(&"v".repeat(i % 70))))
                .collect(),
        ),
        far,
    );
    put(15, b"last-db", RdbValue::Str(b("15")), 0);
    d
}

// ---------------------------------------------------------------------------------------
// 1. Our writer -> our loader

#[test]
fn round_trip_exact() {
    let data = sample_data();
    let aux = test_aux();
    let bytes = write_all(&aux, &data);
    let (got_aux, got) = load_all(&bytes).unwrap();
    assert_eq!(got_aux, aux);
    assert_eq!(got.len(), data.len());
    for (k, v) in &data {
        assert_eq!(got.get(k), Some(v), "key {:?}", k);
    }
    // Without compression the same data loads the same, in a bigger file.
    let mut w = RdbWriter::new(Vec::new(), &aux).unwrap();
    w.set_compression(false);
    w.select_db(0, 1, 0).unwrap();
    let v = RdbValue::Str(b("ferrocache ").repeat(1000));
    w.write_value(b"c", &v, 0).unwrap();
    let raw = w.finish().unwrap();
    assert!(raw.len() > 11_000);
    let (_, got) = load_all(&raw).unwrap();
    assert_eq!(got[&(0, b("c"))].0, v);
}

fn single_string_file(v: &[u8]) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), &Aux::default()).unwrap();
    w.select_db(0, 1, 0).unwrap();
    w.write_entry(b"k", &RdbValueRef::Str(v), 0).unwrap();
    w.finish().unwrap()
}

#[test]
fn string_encodings_match_redis() {
    // The value follows `k` (type 0, key length 1, 'k') and precedes EOF + 8 byte CRC.
    let value_bytes = |v: &[u8]| {
        let f = single_string_file(v);
        let at = f.windows(3).rposition(|w| w == [0, 1, b'k']).unwrap() + 3;
        f[at..f.len() - 9].to_vec()
    };
    assert_eq!(value_bytes(b"7"), [0xC0, 7]);
    assert_eq!(value_bytes(b"-128"), [0xC0, 0x80]);
    assert_eq!(value_bytes(b"300"), [0xC1, 0x2C, 0x01]);
    assert_eq!(value_bytes(b"-2147483648"), [0xC2, 0, 0, 0, 0x80]);
    assert_eq!(value_bytes(b"2147483648"), b"\x0a2147483648");
    assert_eq!(value_bytes(b"007"), b"\x03007");
    assert_eq!(value_bytes(b""), [0]);
    let z = value_bytes(&[b'a'; 100]);
    assert_eq!(z[0], 0xC3, "long repetitive string is LZF compressed");
    assert!(z.len() < 20);
    // 20 bytes is never compressed, as in Redis.
    assert_eq!(value_bytes(&[b'a'; 20])[0], 20);
    // 64 and 16384 byte strings use the 14-bit and 32-bit length forms.
    let mut seed = 3u64;
    let noise: Vec<u8> = (0..16384).map(|_| xorshift(&mut seed) as u8).collect();
    assert_eq!(value_bytes(&noise[..64])[..2], [0x40, 64]);
    assert_eq!(value_bytes(&noise)[..5], [0x80, 0, 0, 0x40, 0]);
}

#[test]
fn empty_collections_are_skipped_and_header_checked() {
    let mut w = RdbWriter::new(Vec::new(), &Aux::default()).unwrap();
    w.select_db(0, 2, 0).unwrap();
    w.write_entry(b"empty-list", &RdbValueRef::List(&[]), 0)
        .unwrap();
    w.write_entry(b"s", &RdbValueRef::Str(b"x"), 0).unwrap();
    let f = w.finish().unwrap();
    let (_, got) = load_all(&f).unwrap();
    assert_eq!(got.len(), 1);

    let mut v11 = f.clone();
    v11[..9].copy_from_slice(b"REDIS0011");
    assert!(matches!(
        load_all(&v11),
        Err(RdbError::UnsupportedVersion(11))
    ));
    let mut bad = f.clone();
    bad[0] = b'X';
    assert!(matches!(load_all(&bad), Err(RdbError::BadMagic)));
    assert!(matches!(load_all(b"RED"), Err(RdbError::BadMagic)));
    // Older versions with the same layout load (the CRC covers the header, so disable it).
    let mut v9 = f.clone();
    v9[..9].copy_from_slice(b"REDIS0009");
    let n = v9.len();
    v9[n - 8..].fill(0);
    assert_eq!(load_all(&v9).unwrap().1.len(), 1);
    // A callback error stops loading and comes back as is.
    let e = load(&f[..], |_, _, _, _| Err(RdbError::Corrupt("stop".into())));
    assert!(matches!(e, Err(RdbError::Corrupt(m)) if m == "stop"));
}

// ---------------------------------------------------------------------------------------
// 2. Our writer -> stock Redis

fn fetch_value(c: &mut redis::Connection, key: &[u8], like: &RdbValue) -> RdbValue {
    match like {
        RdbValue::Str(_) => RdbValue::Str(redis::cmd("GET").arg(key).query(c).unwrap()),
        RdbValue::List(_) => RdbValue::List(
            redis::cmd("LRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query(c)
                .unwrap(),
        ),
        RdbValue::Set(_) => RdbValue::Set(redis::cmd("SMEMBERS").arg(key).query(c).unwrap()),
        RdbValue::ZSet(_) => {
            let flat: Vec<Vec<u8>> = redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .query(c)
                .unwrap();
            RdbValue::ZSet(
                flat.chunks(2)
                    .map(|p| {
                        let s = std::str::from_utf8(&p[1]).unwrap().parse::<f64>().unwrap();
                        (p[0].clone(), s)
                    })
                    .collect(),
            )
        }
        RdbValue::Hash(_) => {
            let flat: Vec<Vec<u8>> = redis::cmd("HGETALL").arg(key).query(c).unwrap();
            RdbValue::Hash(
                flat.chunks(2)
                    .map(|p| (p[0].clone(), p[1].clone()))
                    .collect(),
            )
        }
        // Streams are compared with stock in tests/streams.rs.
        RdbValue::Stream(_) => panic!("the sample data holds no streams"),
    }
}

#[test]
fn stock_redis_loads_our_file() {
    let check = tool("redis-check-rdb");
    let dir = TmpDir::new();
    let data = sample_data();
    let bytes = write_all(&test_aux(), &data);
    let file = dir.0.join("dump.rdb");
    std::fs::write(&file, &bytes).unwrap();

    let out = Command::new(check).arg(&file).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "redis-check-rdb failed:\n{text}");
    assert!(
        text.contains("RDB looks OK"),
        "redis-check-rdb said:\n{text}"
    );

    // Deep payload sanitization makes stock Redis validate every listpack we wrote.
    let server = StockRedis::start(&dir.0, &["--sanitize-dump-payload", "yes"]);
    let log = server.log_text();
    assert!(log.contains("DB loaded from disk"), "redis log:\n{log}");
    let mut per_db: BTreeMap<usize, usize> = BTreeMap::new();
    for (db, _) in data.keys() {
        *per_db.entry(*db).or_default() += 1;
    }
    for db in 0..16usize {
        let mut c = server.conn(db as i64);
        let n: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(
            n,
            per_db.get(&db).copied().unwrap_or(0),
            "DBSIZE of db {db}"
        );
    }
    for ((db, key), (value, expire)) in &data {
        let mut c = server.conn(*db as i64);
        let got = fetch_value(&mut c, key, value);
        assert_eq!(
            normalize(&got),
            normalize(value),
            "db {db} key {:?}",
            String::from_utf8_lossy(key)
        );
        let pexp: i64 = redis::cmd("PEXPIRETIME").arg(key).query(&mut c).unwrap();
        let ttl: i64 = redis::cmd("TTL").arg(key).query(&mut c).unwrap();
        if *expire == 0 {
            assert_eq!((pexp, ttl), (-1, -1), "key {:?}", key);
        } else {
            assert_eq!(pexp, *expire as i64);
            assert!(ttl > 3000 && ttl <= 3613, "ttl {ttl}");
        }
    }
    // And what stock Redis saves back loads here to the same data.
    let mut c = server.conn(0);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let (aux, again) = load_all(&std::fs::read(&file).unwrap()).unwrap();
    assert!(aux.redis_ver.starts_with("7."));
    assert_eq!(again.len(), data.len());
    for (k, (v, e)) in &data {
        let (gv, ge) = &again[k];
        assert_eq!((normalize(gv), *ge), (normalize(v), *e), "key {:?}", k);
    }
}

// ---------------------------------------------------------------------------------------
// 3. Stock Redis -> our loader

fn cmd(c: &mut redis::Connection, args: &[&[u8]]) {
    let mut q = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        q.arg(*a);
    }
    let _: redis::Value = q.query(c).unwrap();
}

/// Fills a stock server with every encoding Redis 7.0 saves; returns what was inserted.
fn fill_stock(server: &StockRedis) -> Db {
    let mut seed = 0x5eed_u64;
    let mut d = Db::new();
    let mut c = server.conn(0);
    let set_str = |c: &mut redis::Connection, db, k: &str, v: Vec<u8>, d: &mut Db| {
        cmd(c, &[b"SET", k.as_bytes(), &v]);
        d.insert((db, b(k)), (RdbValue::Str(v), 0));
    };
    set_str(&mut c, 0, "int", b("12345"), &mut d);
    set_str(&mut c, 0, "neg", b("-7"), &mut d);
    set_str(&mut c, 0, "int64", b("123456789012345"), &mut d);
    set_str(&mut c, 0, "leading-zero", b("007"), &mut d);
    set_str(&mut c, 0, "short", b("hello"), &mut d);
    set_str(&mut c, 0, "empty", Vec::new(), &mut d);
    set_str(&mut c, 0, "long", b("abcdefgh").repeat(1000), &mut d);
    let noise: Vec<u8> = (0..300).map(|_| xorshift(&mut seed) as u8).collect();
    set_str(&mut c, 0, "noise", noise, &mut d);

    // Lists: small listpack node; many nodes; a big element in a packed node.
    let small: Vec<Vec<u8>> = vec![b("a"), b("1"), b("-100000"), b("x".repeat(70).as_str())];
    let mut big: Vec<Vec<u8>> = (0..3000)
        .map(|i| {
            if i % 2 == 0 {
                b(&i.to_string())
            } else {
                b(&format!("item-{i}"))
            }
        })
        .collect();
    big.push(vec![b'z'; 10_000]);
    for (k, l) in [("list-small", &small), ("list-big", &big)] {
        for e in l {
            cmd(&mut c, &[b"RPUSH", k.as_bytes(), e]);
        }
        d.insert((0, b(k)), (RdbValue::List(l.clone()), 0));
    }
    // Plain quicklist nodes: elements at or above the packed threshold.
    cmd(&mut c, &[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"1000"]);
    let plain: Vec<Vec<u8>> = vec![b("small"), vec![b'p'; 5000], b("42"), vec![b'q'; 2000]];
    for e in &plain {
        cmd(&mut c, &[b"RPUSH", b"list-plain", e]);
    }
    d.insert((0, b("list-plain")), (RdbValue::List(plain), 0));

    // Sets: intset; hashtable.
    let ints: Vec<Vec<u8>> = ["5", "-3", "1000000", "1099511627776", "0"].map(b).to_vec();
    let strs: Vec<Vec<u8>> = (0..200).map(|i| b(&format!("s{i}"))).collect();
    for (k, s) in [("set-ints", &ints), ("set-strs", &strs)] {
        for m in s {
            cmd(&mut c, &[b"SADD", k.as_bytes(), m]);
        }
        d.insert((0, b(k)), (RdbValue::Set(s.clone()), 0));
    }
    // Zsets: listpack; skiplist (> 128 members).
    let zsmall: Vec<(Vec<u8>, f64)> = vec![
        (b("a"), 1.5),
        (b("b"), -2.0),
        (b("c"), 3.0),
        (b("inf"), f64::INFINITY),
        (b("tiny"), 0.000123),
    ];
    let zbig: Vec<(Vec<u8>, f64)> = (0..300)
        .map(|i| (b(&format!("m{i}")), i as f64 * 0.25))
        .collect();
    for (k, z) in [("zset-small", &zsmall), ("zset-big", &zbig)] {
        for (m, s) in z {
            let score = if s.is_infinite() {
                "+inf".to_string()
            } else {
                format!("{s}")
            };
            cmd(&mut c, &[b"ZADD", k.as_bytes(), score.as_bytes(), m]);
        }
        d.insert((0, b(k)), (RdbValue::ZSet(z.clone()), 0));
    }
    // Hashes: listpack; hashtable (> 512 fields); hashtable by a long value.
    let hsmall: Vec<(Vec<u8>, Vec<u8>)> =
        vec![(b("f"), b("v")), (b("n"), b("-12")), (b("e"), Vec::new())];
    let hbig: Vec<(Vec<u8>, Vec<u8>)> = (0..600)
        .map(|i| (b(&format!("f{i}")), b(&i.to_string())))
        .collect();
    let hlong: Vec<(Vec<u8>, Vec<u8>)> = vec![(b("k"), vec![b'l'; 100])];
    for (k, h) in [
        ("hash-small", &hsmall),
        ("hash-big", &hbig),
        ("hash-long", &hlong),
    ] {
        for (f, v) in h {
            cmd(&mut c, &[b"HSET", k.as_bytes(), f, v]);
        }
        d.insert((0, b(k)), (RdbValue::Hash(h.clone()), 0));
    }
    // Expiries, read back exactly with PEXPIRETIME.
    for (k, v) in [("ttl-str", "v"), ("ttl-int", "99")] {
        cmd(
            &mut c,
            &[b"SET", k.as_bytes(), v.as_bytes(), b"PX", b"3600000"],
        );
        let at: i64 = redis::cmd("PEXPIRETIME").arg(k).query(&mut c).unwrap();
        d.insert((0, b(k)), (RdbValue::Str(b(v)), at as u64));
    }
    cmd(&mut c, &[b"RPUSH", b"ttl-list", b"x", b"y"]);
    cmd(&mut c, &[b"PEXPIREAT", b"ttl-list", b"4102444800000"]);
    d.insert(
        (0, b("ttl-list")),
        (RdbValue::List(vec![b("x"), b("y")]), 4_102_444_800_000),
    );
    // Another database.
    let mut c3 = server.conn(3);
    set_str(&mut c3, 3, "in-db3", b("three"), &mut d);
    cmd(&mut c3, &[b"HSET", b"h3", b"a", b"1"]);
    d.insert((3, b("h3")), (RdbValue::Hash(vec![(b("a"), b("1"))]), 0));

    // Sanity: the encodings we meant to produce are the ones Redis chose.
    for (k, enc) in [
        ("list-small", "quicklist"),
        ("set-ints", "intset"),
        ("set-strs", "hashtable"),
        ("zset-small", "listpack"),
        ("zset-big", "skiplist"),
        ("hash-small", "listpack"),
        ("hash-big", "hashtable"),
        ("hash-long", "hashtable"),
        ("long", "raw"),
        ("int", "int"),
    ] {
        let e: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(k)
            .query(&mut c)
            .unwrap();
        assert_eq!(e, enc, "encoding of {k}");
    }
    d
}

#[test]
fn we_load_stock_redis_file() {
    let dir = TmpDir::new();
    let server = StockRedis::start(
        &dir.0,
        &["--enable-debug-command", "yes", "--rdbcompression", "yes"],
    );
    let expected = fill_stock(&server);
    let mut c = server.conn(0);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let file = std::fs::read(dir.0.join("dump.rdb")).unwrap();

    let (aux, got) = load_all(&file).unwrap();
    assert!(aux.redis_ver.starts_with("7.0"), "{aux:?}");
    assert_eq!(aux.redis_bits, 64);
    assert!(aux.ctime > 1_600_000_000 && aux.used_mem > 0, "{aux:?}");
    assert_eq!(got.len(), expected.len());
    for (k, (v, e)) in &expected {
        let (gv, ge) = got.get(k).unwrap_or_else(|| panic!("missing {k:?}"));
        assert_eq!(
            normalize(gv),
            normalize(v),
            "key {:?}",
            String::from_utf8_lossy(&k.1)
        );
        assert_eq!(ge, e, "expiry of {:?}", k);
    }

    // What we decoded, written by us, loads back here to the same data.
    let re = write_all(&aux, &got);
    assert_eq!(load_all(&re).unwrap().1, got);

    // A zero checksum means "disabled" and is accepted.
    let mut nock = file.clone();
    let n = nock.len();
    nock[n - 8..].fill(0);
    assert_eq!(load_all(&nock).unwrap().1.len(), expected.len());

    // A byte flipped inside raw string data: parses, but the checksum catches it.
    let noise = match &expected[&(0, b("noise"))].0 {
        RdbValue::Str(s) => s.clone(),
        _ => unreachable!(),
    };
    let at = file
        .windows(noise.len())
        .position(|w| w == &noise[..])
        .unwrap()
        + 100;
    let mut flipped = file.clone();
    flipped[at] ^= 0x55;
    assert!(
        matches!(load_all(&flipped), Err(RdbError::ChecksumMismatch { .. })),
        "{:?}",
        load_all(&flipped).err()
    );
    // A byte flipped anywhere in the middle: an error, never a panic.
    let mut mid = file.clone();
    mid[file.len() / 2] ^= 0xFF;
    assert!(matches!(
        load_all(&mid),
        Err(RdbError::ChecksumMismatch { .. }
            | RdbError::Corrupt(_)
            | RdbError::UnsupportedType(_))
    ));
    // Every truncation is an error.
    for cut in (0..file.len())
        .step_by(97)
        .chain([file.len() - 1, file.len() - 8])
    {
        assert!(load_all(&file[..cut]).is_err(), "truncated at {cut} loaded");
    }

    // Seeded random mutations: any outcome but a panic (or a hang) is fine.
    let mut seed = 0x0dd_ba11_u64;
    let started = Instant::now();
    for round in 0..3000 {
        let mut m = file.clone();
        let edits = 1 + xorshift(&mut seed) % 4;
        for _ in 0..edits {
            let i = (xorshift(&mut seed) as usize) % m.len();
            match xorshift(&mut seed) % 4 {
                0 => m[i] = xorshift(&mut seed) as u8,
                1 => m[i] ^= 1 << (xorshift(&mut seed) % 8),
                2 => {
                    m[i] = [0x00, 0x3F, 0x40, 0x80, 0x81, 0xC3, 0xFE, 0xFF]
                        [(xorshift(&mut seed) % 8) as usize]
                }
                _ => m.truncate(i.max(1)),
            }
        }
        if round % 2 == 0 && m.len() >= 8 {
            // Disable the checksum so a lucky mutation is fully decoded.
            let n = m.len();
            m[n - 8..].fill(0);
        }
        let _ = load_all(&m);
    }
    assert!(started.elapsed() < Duration::from_secs(120));

    // Function libraries (7.0 FUNCTION2 opcode) are read back whole.
    let lib = "#!lua name=mylib\nredis.register_function('f', function() return 1 end)";
    let _: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(lib)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let with_fn = std::fs::read(dir.0.join("dump.rdb")).unwrap();
    let (aux, _) = load_all(&with_fn).unwrap();
    assert_eq!(aux.functions, vec![lib.as_bytes().to_vec()]);
}

#[test]
fn stock_redis_loads_our_rewrite_of_its_file() {
    let dir = TmpDir::new();
    let expected;
    let rewritten;
    {
        let server = StockRedis::start(&dir.0, &["--enable-debug-command", "yes"]);
        expected = fill_stock(&server);
        let mut c = server.conn(0);
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
        let file = std::fs::read(dir.0.join("dump.rdb")).unwrap();
        let (aux, got) = load_all(&file).unwrap();
        rewritten = write_all(&aux, &got);
    }
    let dir2 = TmpDir::new();
    std::fs::write(dir2.0.join("dump.rdb"), &rewritten).unwrap();
    let server = StockRedis::start(&dir2.0, &["--sanitize-dump-payload", "yes"]);
    for ((db, key), (value, expire)) in &expected {
        let mut c = server.conn(*db as i64);
        let got = fetch_value(&mut c, key, value);
        assert_eq!(
            normalize(&got),
            normalize(value),
            "key {:?}",
            String::from_utf8_lossy(key)
        );
        let pexp: i64 = redis::cmd("PEXPIRETIME").arg(key).query(&mut c).unwrap();
        assert_eq!(pexp, if *expire == 0 { -1 } else { *expire as i64 });
    }
}
